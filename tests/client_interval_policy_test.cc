// Client::should_checkpoint() driven by an interval policy, and the costs and
// failures the client keeps in the store for it, on a clock the test moves.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/env.h"
#include "ckpt/policy.h"
#include "ckpt/store.h"
#include "test_util.h"

namespace ckpt {
namespace {

using testing::OpenClient;
using testing::ScratchDir;

// The real filesystem, with a clock that moves only when told to.
class ManualClockEnv final : public Env {
 public:
  ManualClockEnv()
      : now_us_(std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count()) {}
  Result<std::unique_ptr<WritableSegmentFile>> NewSegmentFile(const std::string& path,
                                                              bool try_direct_io,
                                                              unsigned queue_depth) override {
    return Env::Default()->NewSegmentFile(path, try_direct_io, queue_depth);
  }
  Status SyncDir(const std::string& dir) override { return Env::Default()->SyncDir(dir); }
  Status RemoveFile(const std::string& path) override { return Env::Default()->RemoveFile(path); }
  int64_t NowUnixMicros() override { return now_us_.load(); }

  void Advance(double seconds) { now_us_ += static_cast<int64_t>(seconds * 1e6); }
  double now_s() const { return static_cast<double>(now_us_.load()) / 1e6; }

 private:
  std::atomic<int64_t> now_us_;
};

class ClientIntervalPolicy : public ::testing::Test {
 protected:
  Options MakeOptions(std::optional<policy::PolicyConfig> config) {
    Options o;
    o.store_dir = dir_.path();
    o.job = "train";
    o.chunk_bytes = size_t{64} << 10;
    o.staging_bytes = size_t{256} << 10;
    o.store.env = &clock_;
    if (config) o.interval_policy = std::make_shared<policy::PolicyConfig>(*config);
    return o;
  }

  static policy::PolicyConfig Fixed(double seconds) {
    policy::PolicyConfig c;
    c.kind = policy::PolicyKind::kFixed;
    c.fixed_interval_s = seconds;
    return c;
  }

  // One training step of `step_s` seconds: should_checkpoint at its start,
  // then a checkpoint (made durable before time moves on) when it says so.
  bool Step(Client* client, uint64_t step, double step_s) {
    const bool take = client->should_checkpoint(step);
    if (take) {
      auto ticket = client->checkpoint(step);
      EXPECT_TRUE(ticket.ok()) << ticket.status().ToString();
      if (ticket.ok()) {
        EXPECT_TRUE(ticket->wait_durable().ok());
      }
    }
    clock_.Advance(step_s);
    return take;
  }

  ScratchDir dir_;
  ManualClockEnv clock_;
  std::vector<float> weights_ = testing::FloatWeights(4096, 1);
};

TEST_F(ClientIntervalPolicy, SecondsBecomeStepsWithTheMeasuredStepTime) {
  auto client = OpenClient(MakeOptions(Fixed(100)));  // 100 s at 10 s per step
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->protect("w", weights_.data(), weights_.size() * 4, ElementType::kFloat32).ok());
  std::vector<uint64_t> taken;
  for (uint64_t step = 1; step <= 45; ++step)
    if (Step(client.get(), step, 10.0)) taken.push_back(step);
  EXPECT_EQ(taken, (std::vector<uint64_t>{11, 21, 31, 41}));
}

TEST_F(ClientIntervalPolicy, YoungIntervalUsesTheMeasuredCheckpointCost) {
  policy::PolicyConfig config;
  config.kind = policy::PolicyKind::kYoung;
  config.model = policy::FailureModel::Exponential(7200);  // known machine: no fit
  {
    auto store = Store::Open(dir_.path(), StoreOptions{}).value();
    ASSERT_TRUE(store->UpdateJobProfile("train", [](JobProfile* p) {
                       AddCostSample(&p->checkpoint_cost, 9.0);
                     }).ok());
  }
  auto client = OpenClient(MakeOptions(config));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->protect("w", weights_.data(), weights_.size() * 4, ElementType::kFloat32).ok());
  // Young: sqrt(2 * 9 * 7200) = 360 s = 36 steps of 10 s.
  std::vector<uint64_t> taken;
  for (uint64_t step = 0; step < 40; ++step)
    if (Step(client.get(), step, 10.0)) taken.push_back(step);
  ASSERT_FALSE(taken.empty());
  EXPECT_EQ(taken.front(), 36u);
}

TEST_F(ClientIntervalPolicy, CheckpointCostIsMeasuredFromSlowerSteps) {
  auto client = OpenClient(MakeOptions(std::nullopt));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->protect("w", weights_.data(), weights_.size() * 4, ElementType::kFloat32).ok());
  for (uint64_t step = 0; step < 5; ++step) Step(client.get(), step, 2.0);
  EXPECT_FALSE(client->should_checkpoint(5));  // no policy, no fixed steps
  auto ticket = client->checkpoint(5);
  ASSERT_TRUE(ticket.ok());
  ASSERT_TRUE(ticket->wait_durable().ok());
  clock_.Advance(2.0 + 0.75);  // the step with the checkpoint took 0.75 s longer
  EXPECT_FALSE(client->should_checkpoint(6));
  auto profile = client->store()->GetJobProfile("train");
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  EXPECT_EQ(profile->checkpoint_cost.samples, 1u);
  EXPECT_NEAR(profile->checkpoint_cost.mean_s, 0.75, 1e-6);
  EXPECT_NEAR(profile->step_s, 2.0, 1e-6);
}

TEST_F(ClientIntervalPolicy, RestartCostRunsFromTheRecordedFailureToTheFirstStep) {
  {
    auto client = OpenClient(MakeOptions(std::nullopt));
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->protect("w", weights_.data(), weights_.size() * 4, ElementType::kFloat32).ok());
    ASSERT_TRUE(client->checkpoint(1).value().wait_durable().ok());
  }
  clock_.Advance(5);
  const double failed_at = clock_.now_s();
  {
    auto store = Store::Open(dir_.path(), StoreOptions{}).value();
    FailureEvent e{"train", static_cast<int64_t>(failed_at * 1e6), FailureSource::kReported, "test"};
    ASSERT_TRUE(store->RecordFailure(e).ok());
  }
  clock_.Advance(40);  // the scheduler takes 40 s to start the job again
  auto client = OpenClient(MakeOptions(std::nullopt));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->protect("w", weights_.data(), weights_.size() * 4, ElementType::kFloat32).ok());
  ASSERT_EQ(client->restore().value(), 1u);
  clock_.Advance(15);  // restore and setup
  EXPECT_FALSE(client->should_checkpoint(2));
  auto profile = client->store()->GetJobProfile("train").value();
  EXPECT_EQ(profile.restart_cost.samples, 1u);
  EXPECT_NEAR(profile.restart_cost.mean_s, 55.0, 1e-3);
}

TEST_F(ClientIntervalPolicy, ClientThatWasNeverClosedCountsAsAFailure) {
  {
    auto client = OpenClient(MakeOptions(std::nullopt));
    ASSERT_NE(client, nullptr);
  }  // closed cleanly
  {
    auto store = Store::Open(dir_.path(), StoreOptions{}).value();
    EXPECT_TRUE(store->ListFailures("train")->empty());
    // What a killed process leaves behind: the session still marked open.
    ASSERT_TRUE(store->UpdateJobProfile("train", [](JobProfile* p) { p->session_open = true; }).ok());
  }
  auto client = OpenClient(MakeOptions(std::nullopt));
  ASSERT_NE(client, nullptr);
  auto failures = client->store()->ListFailures("train");
  ASSERT_TRUE(failures.ok());
  ASSERT_EQ(failures->size(), 1u);
  EXPECT_EQ((*failures)[0].source, FailureSource::kClient);
}

TEST_F(ClientIntervalPolicy, FailuresShortenTheOptimalInterval) {
  // The same job with and without a burst of recent failures: the fitted
  // MTBF drops, and so does the interval.
  auto interval_steps = [&](int failures) -> uint64_t {
    ScratchDir dir;
    Options o = MakeOptions([] {
      policy::PolicyConfig c;
      c.kind = policy::PolicyKind::kYoung;
      c.prior.mtbf_s = 86400;
      return c;
    }());
    o.store_dir = dir.path();
    {
      auto store = Store::Open(dir.path(), StoreOptions{}).value();
      EXPECT_TRUE(store->UpdateJobProfile("train", [&](JobProfile* p) {
                         AddCostSample(&p->checkpoint_cost, 30);
                         p->first_seen_unix_us = clock_.NowUnixMicros() - int64_t{86400} * 1000000;
                       }).ok());
      for (int i = 1; i <= failures; ++i) {
        FailureEvent e{"train", clock_.NowUnixMicros() - int64_t{i} * 3600 * 1000000,
                       FailureSource::kReported, ""};
        EXPECT_TRUE(store->RecordFailure(e).ok());
      }
    }
    auto client = OpenClient(o);
    EXPECT_NE(client, nullptr);
    if (client == nullptr) return 0;
    EXPECT_TRUE(client->protect("w", weights_.data(), weights_.size() * 4, ElementType::kFloat32).ok());
    for (uint64_t step = 0; step < 400; ++step)
      if (Step(client.get(), step, 10.0)) return step;
    return 400;
  };
  const uint64_t calm = interval_steps(0);
  const uint64_t stormy = interval_steps(12);
  EXPECT_LT(stormy, calm);
  EXPECT_GT(stormy, 0u);
}

TEST_F(ClientIntervalPolicy, PolicyAndFixedStepsTogetherAreRefused) {
  Options o = MakeOptions(Fixed(60));
  o.checkpoint_every_steps = 10;
  auto c = Client::Open(o);
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument) << c.status().ToString();
  o.checkpoint_every_steps = 0;
  o.interval_policy = std::make_shared<policy::PolicyConfig>(Fixed(-1));
  EXPECT_EQ(Client::Open(o).status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace ckpt
