// ckptd serving jobs: checkpoints and restores through the daemon, two jobs
// at once, ownership by uid, one daemon per store, the tools beside it, and
// `ckpt status`.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "ckpt/policy.h"
#include "ckpt/store.h"
#include "cli_runner.h"
#include "daemon_test_util.h"

namespace ckpt::testing {
namespace {

class DaemonSessionTest : public ::testing::Test {
 protected:
  ScratchDir dir_;
  std::string store_ = dir_.Sub("store");
  std::string socket_ = dir_.Sub("sock");
};

// Protects `data`, checkpoints `step`, waits until durable.
void SaveThrough(Client& client, std::vector<uint8_t>& data, uint64_t step) {
  auto ticket = client.checkpoint(step);
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  ASSERT_TRUE(ticket->wait_durable().ok()) << ticket->status().ToString();
  EXPECT_EQ(ticket->stats().logical_bytes, data.size());
}

TEST_F(DaemonSessionTest, RestoreThroughTheDaemonGivesBackTheSavedBytes) {
  DaemonProcess daemon(store_, socket_);
  const std::vector<uint8_t> saved = RandomBytes(1'000'000, 1);  // 16 chunks, pool of 8
  std::vector<uint8_t> data = saved;
  {
    auto client = OpenClient(DaemonOptions(socket_, "job"));
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
    SaveThrough(*client, data, 7);
    EXPECT_EQ(client->latest_step(), std::optional<uint64_t>(7));
  }
  std::vector<uint8_t> back(saved.size(), 0);
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->protect("w", back.data(), back.size(), ElementType::kBytes).ok());
  auto step = client->restore();
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(*step, 7u);
  EXPECT_EQ(back, saved);
}

TEST_F(DaemonSessionTest, LatestStepWhileACheckpointIsInFlightDoesNotDisturbIt) {
  DaemonProcess daemon(store_, socket_);
  std::vector<uint8_t> data = RandomBytes(2'000'000, 13);
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  auto ticket = client->checkpoint(4);
  ASSERT_TRUE(ticket.ok());
  // Asked while the copier sends the checkpoint: the newest committed step
  // (none yet, or 4 if it was quick), and the checkpoint goes on.
  const auto during = client->latest_step();
  EXPECT_TRUE(!during.has_value() || *during == 4u);
  ASSERT_TRUE(ticket->wait_durable().ok()) << ticket->status().ToString();
  EXPECT_EQ(client->latest_step(), std::optional<uint64_t>(4));
}

TEST_F(DaemonSessionTest, RestoreOfAMismatchedRegionIsRefusedWithTheReason) {
  DaemonProcess daemon(store_, socket_);
  std::vector<uint8_t> data = RandomBytes(100'000, 2);
  {
    auto client = OpenClient(DaemonOptions(socket_, "job"));
    ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
    SaveThrough(*client, data, 1);
  }
  std::vector<uint8_t> other(50'000);
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_TRUE(client->protect("w", other.data(), other.size(), ElementType::kBytes).ok());
  auto step = client->restore();
  EXPECT_EQ(step.status().code(), Status::Code::kFailedPrecondition) << step.status().ToString();
  EXPECT_NE(step.status().message().find("region 'w'"), std::string::npos);
}

TEST_F(DaemonSessionTest, TwoJobsAtOnceEachGetTheirOwnBytesBack) {
  DaemonProcess daemon(store_, socket_);
  const auto saved_a = RandomBytes(700'000, 3), saved_b = RandomBytes(900'000, 4);
  std::vector<uint8_t> a = saved_a, b = saved_b;
  auto run = [&](const std::string& job, std::vector<uint8_t>& data) {
    auto client = OpenClient(DaemonOptions(socket_, job));
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
    for (uint64_t step = 1; step <= 5; ++step) SaveThrough(*client, data, step);
  };
  std::thread ta([&] { run("a", a); });
  std::thread tb([&] { run("b", b); });
  ta.join();
  tb.join();
  for (auto [job, saved] : {std::pair{"a", &saved_a}, std::pair{"b", &saved_b}}) {
    std::vector<uint8_t> back(saved->size(), 0);
    auto client = OpenClient(DaemonOptions(socket_, job));
    ASSERT_TRUE(client->protect("w", back.data(), back.size(), ElementType::kBytes).ok());
    auto step = client->restore();
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    EXPECT_EQ(*step, 5u);
    EXPECT_EQ(back, *saved) << job;
  }
}

TEST_F(DaemonSessionTest, AJobAttachedTwiceAtOnceIsRefused) {
  DaemonProcess daemon(store_, socket_);
  auto first = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_NE(first, nullptr);
  auto second = Client::Open(DaemonOptions(socket_, "job"));
  EXPECT_EQ(second.status().code(), Status::Code::kBusy) << second.status().ToString();
}

TEST_F(DaemonSessionTest, TheIntervalPolicyIsRefusedInDaemonMode) {
  DaemonProcess daemon(store_, socket_);
  Options o = DaemonOptions(socket_, "other");
  o.interval_policy = std::make_shared<policy::PolicyConfig>();
  EXPECT_EQ(Client::Open(o).status().code(), Status::Code::kUnsupported);
}

TEST_F(DaemonSessionTest, NoDaemonOnTheSocketIsNotFound) {
  auto client = Client::Open(DaemonOptions(dir_.Sub("nothing"), "job"));
  EXPECT_TRUE(client.status().IsNotFound()) << client.status().ToString();
}

TEST_F(DaemonSessionTest, ASecondDaemonOnTheSameStoreRefusesToStart) {
  DaemonProcess daemon(store_, socket_);
  const std::string bin = std::string(CKPT_BIN_DIR) + "/ckptd";
  const std::string cmd = bin + " --store " + store_ + " --socket " + dir_.Sub("sock2") + " 2>" +
                          dir_.Sub("err2");
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  const std::string err = ReadFile(dir_.Sub("err2"));
  EXPECT_CONTAINS(err, "is written by another process");
  EXPECT_TRUE(daemon.Running());
}

TEST_F(DaemonSessionTest, ASecondDaemonOnALiveSocketRefusesToStart) {
  DaemonProcess daemon(store_, socket_);
  const std::string cmd = std::string(CKPT_BIN_DIR) + "/ckptd --store " + dir_.Sub("store2") +
                          " --socket " + socket_ + " 2>" + dir_.Sub("err2");
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 1);
  EXPECT_CONTAINS(ReadFile(dir_.Sub("err2")), "another ckptd already serves");
}

TEST_F(DaemonSessionTest, ToolsReadTheStoreWhileTheDaemonServesIt) {
  DaemonProcess daemon(store_, socket_);
  std::vector<uint8_t> data = RandomBytes(300'000, 5);
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  SaveThrough(*client, data, 3);
  RunResult ls = RunCkpt({"ls", "--store", store_, "--job", "job", "--json"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  auto j = nlohmann::json::parse(ls.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["step"], 3);
  RunResult verify = RunCkpt({"verify", "--store", store_, "--job", "job", "--all"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  RunResult restore = RunCkpt({"restore", "--store", store_, "--job", "job", "--out", dir_.Sub("out")});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  const std::string restored = ReadFile(dir_.Sub("out") + "/w.bin");
  EXPECT_EQ(std::vector<uint8_t>(restored.begin(), restored.end()), data);
  // The daemon keeps serving after the tools.
  SaveThrough(*client, data, 4);
}

TEST_F(DaemonSessionTest, StatusListsAttachedJobsAndTheirFigures) {
  DaemonProcess daemon(store_, socket_);
  std::vector<uint8_t> data = RandomBytes(200'000, 6);
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  SaveThrough(*client, data, 1);
  RunResult r = RunCkpt({"status", "--socket", socket_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["jobs"].size(), 1u);
  EXPECT_EQ(j["jobs"][0]["job"], "job");
  EXPECT_EQ(j["jobs"][0]["checkpoints_committed"], 1);
  EXPECT_EQ(j["jobs"][0]["bytes_logical_committed"], data.size());
  EXPECT_EQ(j["jobs"][0]["pid"], ::getpid());
  RunResult text = RunCkpt({"status", "--socket", socket_});
  EXPECT_CONTAINS(text.out, "1 job(s) attached");
}

TEST_F(DaemonSessionTest, SigtermStopsTheDaemonCleanly) {
  DaemonProcess daemon(store_, socket_);
  std::vector<uint8_t> data = RandomBytes(300'000, 7);
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  auto ticket = client->checkpoint(1);
  ASSERT_TRUE(ticket.ok());
  ASSERT_TRUE(ticket->wait_copied().ok());
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  // The copied checkpoint was finished before the daemon exited.
  EXPECT_TRUE(ticket->wait_durable().ok()) << ticket->status().ToString();
  StoreOptions so;
  so.read_only = true;
  auto store = Store::Open(store_, so);
  ASSERT_TRUE(store.ok());
  auto latest = (*store)->LatestStep("job");
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(*latest, 1u);
}

TEST_F(DaemonSessionTest, DaemonRestartWhileAClientWaitsGivesAClearError) {
  auto daemon = std::make_unique<DaemonProcess>(store_, socket_);
  std::vector<uint8_t> data = RandomBytes(300'000, 8);
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  SaveThrough(*client, data, 1);
  daemon->Stop(SIGKILL);
  daemon = std::make_unique<DaemonProcess>(store_, socket_);  // restarted
  // The old session is gone: a clear error, never a hang.
  Status s;
  Eventually([&] {
    auto t = client->checkpoint(2);
    s = t.ok() ? t->wait_durable() : t.status();
    return !s.ok();
  }, 10);
  EXPECT_EQ(s.code(), Status::Code::kAborted) << s.ToString();
  EXPECT_NE(s.message().find("closed the connection"), std::string::npos) << s.ToString();
  // Reopening the client reaches the new daemon; the old checkpoint is there.
  client.reset();
  auto again = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->latest_step(), std::optional<uint64_t>(1));
}

TEST_F(DaemonSessionTest, AnotherUidCanNeitherAttachNorReadTheJob) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another uid";
  // Another uid must reach the socket at all: open the scratch directory
  // (mkdtemp makes it 0700) and the socket.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
  DaemonProcess daemon(store_, socket_, {"--socket-mode", "0666"});
  std::vector<uint8_t> data = RandomBytes(100'000, 9);
  {
    auto client = OpenClient(DaemonOptions(socket_, "job"));
    ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
    SaveThrough(*client, data, 1);
  }
  // A child as uid 65534 (nobody): attach (and so any restore) is refused.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    auto c = Client::Open(DaemonOptions(socket_, "job"));
    if (c.ok()) ::_exit(11);
    if (c.status().code() != Status::Code::kFailedPrecondition) ::_exit(12);
    if (c.status().message().find("belongs to uid 0") == std::string::npos) ::_exit(13);
    // Its own job is fine.
    auto own = Client::Open(DaemonOptions(socket_, "nobodys-job"));
    ::_exit(own.ok() ? 0 : 14);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << daemon.Log();
  // Ownership survives a restart of the daemon.
  EXPECT_CONTAINS(ReadFile(store_ + "/ckptd-owners.json"), "\"nobodys-job\": 65534");
}

}  // namespace
}  // namespace ckpt::testing
