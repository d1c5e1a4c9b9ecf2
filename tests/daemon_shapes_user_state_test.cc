// Region shapes and the per-checkpoint user-state blob in daemon mode
// (protocol version 2): saved through ckptd into the manifest exactly as an
// embedded client saves them, visible to `ckpt ls` and to an embedded client
// on the same store, and handed back by a restore through the daemon.
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "ckpt/store.h"
#include "cli_runner.h"
#include "daemon_test_util.h"

namespace ckpt::testing {
namespace {

constexpr uint64_t kStep = 5;

// Regions of three kinds: a 2-D float tensor (several chunks), a scalar and
// an opaque buffer protected without a shape.
struct Regions {
  std::vector<float> w;
  int64_t step = 0;
  std::vector<uint8_t> blob;

  static Regions Saved() { return {FloatWeights(64 * 1000, 1), 42, RandomBytes(10'000, 2)}; }
  static Regions Zeroed() { return {std::vector<float>(64 * 1000, 0.0f), 0, std::vector<uint8_t>(10'000, 0)}; }

  Status Protect(Client& c, const Shape& w_shape = {64, 1000}) {
    CKPT_RETURN_IF_ERROR(c.protect("w", w.data(), w.size() * sizeof(float), ElementType::kFloat32, w_shape));
    CKPT_RETURN_IF_ERROR(c.protect("step", &step, sizeof(step), ElementType::kInt64, Shape{}));
    return c.protect("blob", blob.data(), blob.size(), ElementType::kBytes);
  }
  bool operator==(const Regions&) const = default;
};

// Larger than the 1 MiB a v1 frame could carry, with NULs and every byte value.
std::string UserState() {
  std::string s = "{\"step\": 42, \"loader\": [3, 96]}";
  s.push_back('\0');
  const auto random = RandomBytes(3 << 20, 3);
  s.append(random.begin(), random.end());
  return s;
}

class DaemonShapesUserStateTest : public ::testing::Test {
 protected:
  // Checkpoints Regions::Saved() at kStep with `state` through a daemon
  // client and waits until it is durable.
  void SaveThroughTheDaemon(const std::string& state) {
    Regions regions = Regions::Saved();
    auto client = OpenClient(DaemonOptions(socket_, "job"));
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(regions.Protect(*client).ok());
    auto ticket = client->checkpoint(kStep, nullptr, state);
    ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
    ASSERT_TRUE(ticket->wait_durable().ok()) << ticket->status().ToString() << "\n" << daemon_->Log();
  }

  ScratchDir dir_;
  std::string store_ = dir_.Sub("store");
  std::string socket_ = dir_.Sub("sock");
  std::unique_ptr<DaemonProcess> daemon_ = std::make_unique<DaemonProcess>(store_, socket_);
};

TEST_F(DaemonShapesUserStateTest, CkptLsSeesTheShapesAndTheUserStateSavedThroughTheDaemon) {
  const std::string state = UserState();
  SaveThroughTheDaemon(state);
  ASSERT_EQ(daemon_->Stop(SIGTERM), 0);
  RunResult ls = RunCkpt({"ls", "--store", store_, "--job", "job", "--json"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  auto j = nlohmann::json::parse(ls.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["step"], kStep);
  EXPECT_EQ(j[0]["user_state_bytes"], state.size());
  ASSERT_EQ(j[0]["regions"].size(), 3u);
  EXPECT_EQ(j[0]["regions"][0]["name"], "w");
  EXPECT_EQ(j[0]["regions"][0]["shape"], nlohmann::json::array({64, 1000}));
  EXPECT_EQ(j[0]["regions"][1]["name"], "step");
  EXPECT_EQ(j[0]["regions"][1]["shape"], nlohmann::json::array());
  EXPECT_EQ(j[0]["regions"][2]["name"], "blob");
  EXPECT_FALSE(j[0]["regions"][2].contains("shape"));
}

TEST_F(DaemonShapesUserStateTest, AnEmbeddedClientOnTheSameStoreRestoresWhatTheDaemonSaved) {
  const std::string state = UserState();
  SaveThroughTheDaemon(state);
  ASSERT_EQ(daemon_->Stop(SIGTERM), 0);  // the store has one writer
  Options o;
  o.store_dir = store_;
  o.job = "job";
  o.chunk_bytes = size_t{64} << 10;
  o.staging_bytes = size_t{8} << 16;
  auto client = OpenClient(o);
  ASSERT_NE(client, nullptr);
  auto info = client->store()->Get("job", kStep);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->user_state, state);
  ASSERT_EQ(info->regions.size(), 3u);
  EXPECT_EQ(info->regions[0].shape, std::optional<Shape>(Shape{64, 1000}));
  EXPECT_EQ(info->regions[1].shape, std::optional<Shape>(Shape{}));
  EXPECT_EQ(info->regions[2].shape, std::nullopt);
  Regions back = Regions::Zeroed();
  ASSERT_TRUE(back.Protect(*client).ok());
  auto step = client->restore();
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(*step, kStep);
  EXPECT_EQ(client->restored_user_state(), state);
  EXPECT_TRUE(back == Regions::Saved());
}

TEST_F(DaemonShapesUserStateTest, ARestoreThroughTheDaemonReturnsTheUserStateAndTheSavedBytes) {
  const std::string state = UserState();
  SaveThroughTheDaemon(state);
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_NE(client, nullptr);
  Regions back = Regions::Zeroed();
  ASSERT_TRUE(back.Protect(*client).ok());
  EXPECT_EQ(client->restored_user_state(), "");  // before any restore
  auto step = client->restore();
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(*step, kStep);
  EXPECT_EQ(client->restored_user_state(), state);
  EXPECT_TRUE(back == Regions::Saved());
  const auto regions = client->regions();
  ASSERT_EQ(regions.size(), 3u);
  EXPECT_EQ(regions[0].shape, std::optional<Shape>(Shape{64, 1000}));
}

TEST_F(DaemonShapesUserStateTest, ACheckpointWithoutUserStateRestoresAnEmptyOne) {
  SaveThroughTheDaemon(UserState());
  {
    Regions regions = Regions::Saved();
    auto client = OpenClient(DaemonOptions(socket_, "job"));
    ASSERT_TRUE(regions.Protect(*client).ok());
    auto ticket = client->checkpoint(kStep + 1);
    ASSERT_TRUE(ticket.ok() && ticket->wait_durable().ok());
  }
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  Regions back = Regions::Zeroed();
  ASSERT_TRUE(back.Protect(*client).ok());
  auto older = client->restore(kStep);
  ASSERT_TRUE(older.ok()) << older.status().ToString();
  EXPECT_FALSE(client->restored_user_state().empty());
  auto newest = client->restore();
  ASSERT_TRUE(newest.ok()) << newest.status().ToString();
  EXPECT_EQ(*newest, kStep + 1);
  EXPECT_EQ(client->restored_user_state(), "");
}

TEST_F(DaemonShapesUserStateTest, InfoThroughTheDaemonShowsTheShapesAndTheUserState) {
  const std::string state = UserState();
  SaveThroughTheDaemon(state);
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_NE(client, nullptr);
  ASSERT_EQ(client->store(), nullptr);
  auto info = client->info(kStep);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->job, "job");
  EXPECT_EQ(info->step, kStep);
  EXPECT_EQ(info->user_state, state);
  EXPECT_EQ(info->logical_bytes, 64 * 1000 * 4 + 8 + 10'000u);
  ASSERT_EQ(info->regions.size(), 3u);
  EXPECT_EQ(info->regions[0].name, "w");
  EXPECT_EQ(info->regions[0].type, ElementType::kFloat32);
  EXPECT_EQ(info->regions[0].chunks, 4u);  // 256000 bytes in 64 KiB chunks
  EXPECT_EQ(info->regions[0].shape, std::optional<Shape>(Shape{64, 1000}));
  EXPECT_EQ(info->regions[1].shape, std::optional<Shape>(Shape{}));
  EXPECT_EQ(info->regions[2].shape, std::nullopt);
  EXPECT_EQ(client->info(kStep + 100).status().code(), Status::Code::kNotFound);
}

TEST_F(DaemonShapesUserStateTest, ARestoreIntoAnotherShapeIsRefusedByTheDaemon) {
  SaveThroughTheDaemon("s");
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  Regions back = Regions::Zeroed();
  ASSERT_TRUE(back.Protect(*client, Shape{1000, 64}).ok());  // same size, other shape
  auto step = client->restore();
  EXPECT_EQ(step.status().code(), Status::Code::kFailedPrecondition) << step.status().ToString();
  EXPECT_NE(step.status().message().find("region 'w' was saved with shape [64, 1000], protected now with "
                                         "shape [1000, 64]"),
            std::string::npos)
      << step.status().ToString();
  EXPECT_TRUE(back == Regions::Zeroed());  // nothing was written
}

TEST_F(DaemonShapesUserStateTest, TheLargestUserStateGoesThroughAndOneByteMoreIsRefusedAtTheCall) {
  std::string largest(kMaxUserStateBytes, '\0');
  for (size_t i = 0; i < largest.size(); i += 4093) largest[i] = static_cast<char>(i);
  Regions regions = Regions::Saved();
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  ASSERT_TRUE(regions.Protect(*client).ok());
  auto over = client->checkpoint(1, nullptr, std::string(kMaxUserStateBytes + 1, 'x'));
  EXPECT_EQ(over.status().code(), Status::Code::kInvalidArgument) << over.status().ToString();
  auto ticket = client->checkpoint(2, nullptr, largest);
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  ASSERT_TRUE(ticket->wait_durable().ok()) << ticket->status().ToString();
  auto step = client->restore();
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(*step, 2u);
  EXPECT_EQ(client->restored_user_state(), largest);
}

TEST_F(DaemonShapesUserStateTest, AShapeThatDoesNotFitIsRefusedByProtect) {
  auto client = OpenClient(DaemonOptions(socket_, "job"));
  std::vector<float> w(1000);
  EXPECT_EQ(client->protect("w", w.data(), w.size() * 4, ElementType::kFloat32, Shape{10, 10}).code(),
            Status::Code::kInvalidArgument);
  Shape rank65(kMaxShapeRank + 1, 1);  // 1000 elements, but one dimension too many
  rank65[0] = 1000;
  EXPECT_EQ(client->protect("w", w.data(), w.size() * 4, ElementType::kFloat32, rank65).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(client->protect("w", w.data(), w.size() * 4, ElementType::kFloat32, Shape{10, 100}).ok());
}

}  // namespace
}  // namespace ckpt::testing
