// The trace simulator's semantics on tiny hand-made traces (every number
// below is computed by hand), its agreement with the closed-form fixed
// interval path, and Young's interval against the analytical expectation.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "ckpt/policy.h"
#include "policy/simulator.h"
#include "policy/trace.h"

namespace ckpt::policy {
namespace {

std::unique_ptr<IntervalPolicy> Fixed(double interval) {
  PolicyConfig config;
  config.kind = PolicyKind::kFixed;
  config.fixed_interval_s = interval;
  return std::move(IntervalPolicy::Create(config).value());
}

SimResult RunFixed(const std::vector<double>& failures, double interval, double c, double r) {
  auto policy = Fixed(interval);
  Result<SimResult> sim = Simulate(failures, *policy, c, r);
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  // Both paths must agree exactly on hand-made traces.
  const SimResult fast = SimulateFixed(failures, interval, c, r);
  EXPECT_DOUBLE_EQ(fast.useful_s, sim->useful_s);
  EXPECT_DOUBLE_EQ(fast.lost_s, sim->lost_s);
  EXPECT_EQ(fast.checkpoints, sim->checkpoints);
  return *sim;
}

void ExpectAccounted(const SimResult& r) {
  EXPECT_NEAR(r.useful_s + r.lost_s + r.restart_s + r.checkpoint_s, r.span_s, 1e-9);
}

// τ = 200, C = 10, R = 100 throughout: a segment is 210 s.
TEST(SimulatorTest, OneGap) {
  // Restart 0..100, commits at 310, 520, 730, 940; 60 s of training lost at 1000.
  const SimResult r = RunFixed({0, 1000}, 200, 10, 100);
  EXPECT_DOUBLE_EQ(r.useful_s, 800);
  EXPECT_EQ(r.checkpoints, 4u);
  EXPECT_DOUBLE_EQ(r.checkpoint_s, 40);
  EXPECT_DOUBLE_EQ(r.restart_s, 100);
  EXPECT_DOUBLE_EQ(r.lost_s, 60);
  EXPECT_DOUBLE_EQ(r.waste(), 1.0 - 800.0 / 1000.0);  // waste = 1 − useful / span
  ExpectAccounted(r);
}

TEST(SimulatorTest, FailureDuringRestartRestartsIt) {
  // Restart 0..100 is cut at 50; a new restart 50..150; commits at 360, 570,
  // 780, 990; 10 s lost at 1000.
  const SimResult r = RunFixed({0, 50, 1000}, 200, 10, 100);
  EXPECT_EQ(r.interrupted_restarts, 1u);
  EXPECT_DOUBLE_EQ(r.restart_s, 150);
  EXPECT_DOUBLE_EQ(r.useful_s, 800);
  EXPECT_EQ(r.checkpoints, 4u);
  EXPECT_DOUBLE_EQ(r.lost_s, 10);
  EXPECT_EQ(r.failures, 2u);
  ExpectAccounted(r);
}

TEST(SimulatorTest, CheckpointInterruptedBeforeItCommits) {
  // Commit at 310; the next checkpoint runs 510..520 and the failure at 515
  // comes first: its 200 s of training are lost, 5 s of checkpoint spent.
  const SimResult r = RunFixed({0, 515}, 200, 10, 100);
  EXPECT_DOUBLE_EQ(r.useful_s, 200);
  EXPECT_EQ(r.checkpoints, 1u);
  EXPECT_EQ(r.interrupted_checkpoints, 1u);
  EXPECT_DOUBLE_EQ(r.lost_s, 200);
  EXPECT_DOUBLE_EQ(r.checkpoint_s, 15);
  EXPECT_DOUBLE_EQ(r.waste(), 1.0 - 200.0 / 515.0);
  ExpectAccounted(r);
}

TEST(SimulatorTest, CheckpointCompletingAtTheFailureCommits) {
  const SimResult r = RunFixed({0, 520}, 200, 10, 100);
  EXPECT_DOUBLE_EQ(r.useful_s, 400);
  EXPECT_EQ(r.checkpoints, 2u);
  EXPECT_DOUBLE_EQ(r.lost_s, 0);
}

TEST(SimulatorTest, SeveralGapsAddUp) {
  // Gap 1 (0..400): commit at 310, 90 s lost. Gap 2 (400..450): restart cut.
  // Gap 3 (450..1000): restart to 550, commits at 760, 970; 30 s lost.
  const SimResult r = RunFixed({0, 400, 450, 1000}, 200, 10, 100);
  EXPECT_DOUBLE_EQ(r.useful_s, 600);
  EXPECT_EQ(r.checkpoints, 3u);
  EXPECT_DOUBLE_EQ(r.lost_s, 90 + 30);
  EXPECT_DOUBLE_EQ(r.restart_s, 100 + 50 + 100);
  EXPECT_DOUBLE_EQ(r.waste(), 0.4);
  ExpectAccounted(r);
}

// Records what it is shown, to prove the simulator never shows the future.
class SpyPolicy final : public IntervalPolicy {
 public:
  Result<double> NextInterval(const PolicyInput& in) override {
    ++calls;
    for (double t : in.failure_times_s) {
      if (t > in.now_s) future_seen = true;
    }
    max_seen = std::max(max_seen, in.failure_times_s.size());
    return 100.0;
  }
  PolicyKind kind() const override { return PolicyKind::kFixed; }
  FailureModel model() const override { return FailureModel{}; }
  int calls = 0;
  bool future_seen = false;
  size_t max_seen = 0;
};

TEST(SimulatorTest, OnlinePoliciesSeeOnlyThePast) {
  const std::vector<double> failures = {0, 1000, 5000, 5100, 9000};
  SpyPolicy spy;
  ASSERT_TRUE(Simulate(failures, spy, 10, 50).ok());
  EXPECT_GT(spy.calls, 10);
  EXPECT_FALSE(spy.future_seen);
  EXPECT_EQ(spy.max_seen, failures.size() - 1);  // the last failure ends the run
}

TEST(SimulatorTest, FixedPathsAgreeOnARandomTrace) {
  Result<Trace> trace = SyntheticTrace({SyntheticSpec::Kind::kWeibull, 3600, 0.7, 9, 3000, 0});
  ASSERT_TRUE(trace.ok());
  for (double tau : {300.0, 1000.0, 4000.0}) {
    auto policy = Fixed(tau);
    const SimResult slow = Simulate(trace->times_s, *policy, 60, 300).value();
    const SimResult fast = SimulateFixed(trace->times_s, tau, 60, 300);
    EXPECT_NEAR(slow.waste(), fast.waste(), 1e-9);
    EXPECT_EQ(slow.checkpoints, fast.checkpoints);
    ExpectAccounted(slow);
  }
}

TEST(SimulatorTest, YoungMatchesTheAnalyticalWaste) {
  // MTBF 3 h, C = 60 s, R = 300 s, 100000 failures (about 34 years): the
  // renewal-reward expectation 1 − τ·e^{−R/M} / (M·(e^{(τ+C)/M} − 1)).
  const double m = 3 * 3600.0, c = 60, r = 300;
  for (uint64_t seed : {1, 2}) {
    Result<Trace> trace =
        SyntheticTrace({SyntheticSpec::Kind::kExponential, m, 1.0, seed, 100000, 0});
    ASSERT_TRUE(trace.ok());
    PolicyConfig config;
    config.kind = PolicyKind::kYoung;
    config.model = FailureModel::Exponential(m);  // Young's interval for the known MTBF
    auto young = IntervalPolicy::Create(config).value();
    const SimResult sim = Simulate(trace->times_s, *young, c, r).value();
    const double analytical = ExpectedWaste(FailureModel::Exponential(m), YoungInterval(c, m), c, r);
    EXPECT_NEAR(sim.waste() / analytical, 1.0, 0.02)
        << "simulated " << sim.waste() << " analytical " << analytical;
  }
}

TEST(SimulatorTest, OracleIsTheBestFixedInterval) {
  Result<Trace> trace = SyntheticTrace({SyntheticSpec::Kind::kWeibull, 3600, 0.7, 3, 2000, 0});
  ASSERT_TRUE(trace.ok());
  const Oracle oracle = FindOracle(trace->times_s, 60, 300, 30, 30000);
  // No interval does better: its 1% grid, a much finer grid near it, and
  // the formulas' intervals.
  for (double tau = 30; tau <= 30000; tau *= 1.01) {
    EXPECT_LE(oracle.result.waste(), SimulateFixed(trace->times_s, tau, 60, 300).waste()) << tau;
  }
  for (double tau = oracle.interval_s / 2; tau <= oracle.interval_s * 2; tau *= 1.0002) {
    ASSERT_LE(oracle.result.waste(), SimulateFixed(trace->times_s, tau, 60, 300).waste()) << tau;
  }
  EXPECT_EQ(WasteCurve(trace->times_s, 60, 300, 30, 30000, 200).size(), 200u);
  EXPECT_FALSE(Simulate(std::vector<double>{5}, *Fixed(10), 1, 1).ok());  // needs 2 failures
}

}  // namespace
}  // namespace ckpt::policy
