// A training process that dies at each phase of a daemon-mode session: the
// daemon records a failure event, commits what was completely copied,
// abandons what was not, and keeps serving.
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "ckpt/store.h"
#include "daemon_test_util.h"

namespace ckpt::testing {
namespace {

class DaemonCrashTest : public ::testing::Test {
 protected:
  std::optional<uint64_t> LatestCommitted(const std::string& job) {
    StoreOptions so;
    so.read_only = true;
    so.create_if_missing = false;
    auto store = Store::Open(store_, so);
    if (!store.ok()) return std::nullopt;
    auto latest = (*store)->LatestStep(job);
    if (!latest.ok()) return std::nullopt;
    return *latest;
  }
  nlohmann::json Failures() {
    const std::string text = QueryStatus(socket_);
    if (text.empty()) return nlohmann::json::array();
    return nlohmann::json::parse(text)["failures"];
  }
  // Runs `body` in a child process; the body dies abruptly (_exit: no
  // destructor, no Close), like a SIGKILLed trainer. Returns its exit code.
  // A client of `job` once the daemon has detached the job from a dead
  // session: it records the failure and commits the session's copied
  // checkpoint before it detaches, and refuses an attach (kBusy) until then.
  // Null after 30 s.
  std::unique_ptr<Client> AttachOnceDetached(const std::string& job) {
    std::unique_ptr<Client> client;
    Eventually([&] {
      auto c = Client::Open(DaemonOptions(socket_, job));
      if (c.ok()) client = std::move(c).value();
      return c.ok();
    });
    return client;
  }
  template <typename Body>
  int InChildThatDies(Body body) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(body());
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  ScratchDir dir_;
  std::string store_ = dir_.Sub("store");
  std::string socket_ = dir_.Sub("sock");
};

TEST_F(DaemonCrashTest, DeathAfterAttachIsRecordedAndTheJobCanBeReattached) {
  DaemonProcess daemon(store_, socket_);
  EXPECT_EQ(InChildThatDies([&] {
              auto c = Client::Open(DaemonOptions(socket_, "job"));
              ::_exit(c.ok() ? 0 : 1);  // dies with the session open
              return 1;
            }),
            0);
  ASSERT_TRUE(Eventually([&] { return Failures().size() == 1; })) << daemon.Log();
  EXPECT_EQ(Failures()[0]["job"], "job");
  EXPECT_NE(Failures()[0]["cause"].get<std::string>().find("without Close"), std::string::npos);
  // Also in the store's failure history, for the interval policy.
  StoreOptions so;
  so.read_only = true;
  auto store = Store::Open(store_, so);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto history = (*store)->ListFailures("job");
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].source, FailureSource::kDaemon);
  EXPECT_NE((*history)[0].cause.find("without Close"), std::string::npos);
  EXPECT_NE(AttachOnceDetached("job"), nullptr) << daemon.Log();
}

TEST_F(DaemonCrashTest, DeathRightAfterTheStagingCopyStillCommitsTheCheckpoint) {
  DaemonProcess daemon(store_, socket_);
  const std::vector<uint8_t> saved = RandomBytes(2'000'000, 11);  // 31 chunks, pool of 8
  EXPECT_EQ(InChildThatDies([&] {
              std::vector<uint8_t> data = saved;
              auto c = Client::Open(DaemonOptions(socket_, "job"));
              if (!c.ok() || !(*c)->protect("w", data.data(), data.size(), ElementType::kBytes).ok()) return 1;
              auto t = (*c)->checkpoint(150);
              if (!t.ok() || !t->wait_copied().ok()) return 2;
              ::_exit(0);  // dies now, the checkpoint maybe still being written
              return 3;
            }),
            0);
  ASSERT_TRUE(Eventually([&] { return LatestCommitted("job") == std::optional<uint64_t>(150); }))
      << daemon.Log();
  auto client = AttachOnceDetached("job");
  ASSERT_NE(client, nullptr) << daemon.Log();
  std::vector<uint8_t> back(saved.size(), 0);
  ASSERT_TRUE(client->protect("w", back.data(), back.size(), ElementType::kBytes).ok());
  auto step = client->restore();
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(*step, 150u);
  EXPECT_EQ(back, saved);
  EXPECT_EQ(Failures().size(), 1u);
}

TEST_F(DaemonCrashTest, DeathMidCopyAbandonsThatCheckpointAndKeepsTheOlderOne) {
  DaemonProcess daemon(store_, socket_);
  const std::vector<uint8_t> saved = RandomBytes(1'000'000, 12);
  {
    std::vector<uint8_t> data = saved;
    auto client = OpenClient(DaemonOptions(socket_, "job"));
    ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
    auto t = client->checkpoint(1);
    ASSERT_TRUE(t.ok() && t->wait_durable().ok());
  }
  {
    // A session that stages 2 of the 16 chunks of step 2 and then vanishes.
    auto ch = ipc::Channel::Connect(socket_);
    ASSERT_TRUE(ch.ok());
    ASSERT_TRUE((*ch)->Send(ipc::Hello{"job", 64 << 10, 8 << 16, 1, 1}).ok());
    int fd = -1;
    auto offer = (*ch)->Receive(&fd);
    ASSERT_TRUE(offer.ok() && offer->has_value() && std::holds_alternative<ipc::PoolOffer>(**offer));
    ASSERT_GE(fd, 0);
    ::close(fd);
    ASSERT_TRUE((*ch)->Send(ipc::Begin{2, {{"w", ElementType::kBytes, saved.size()}}}).ok());
    ASSERT_TRUE((*ch)->Send(ipc::ChunkStaged{0, 0, 0, 64 << 10}).ok());
    ASSERT_TRUE((*ch)->Send(ipc::ChunkStaged{0, 1, 1, 64 << 10}).ok());
  }  // the connection ends here, mid-copy
  ASSERT_TRUE(Eventually([&] { return Failures().size() == 1; })) << daemon.Log();
  EXPECT_EQ(LatestCommitted("job"), std::optional<uint64_t>(1));
  EXPECT_NE(daemon.Log().find("during the copy of step 2"), std::string::npos) << daemon.Log();
  std::vector<uint8_t> back(saved.size(), 0);
  auto client = AttachOnceDetached("job");
  ASSERT_NE(client, nullptr) << daemon.Log();
  ASSERT_TRUE(client->protect("w", back.data(), back.size(), ElementType::kBytes).ok());
  auto step = client->restore();
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(*step, 1u);
  EXPECT_EQ(back, saved);
}

}  // namespace
}  // namespace ckpt::testing
