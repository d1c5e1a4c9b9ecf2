// CostMeter: step time and checkpoint cost from step boundaries alone.
#include <gtest/gtest.h>

#include "client/cost_meter.h"

namespace ckpt {
namespace {

// Feeds boundaries `step_s` apart; returns the time of the last one.
double CleanSteps(CostMeter* m, double t, int n, double step_s) {
  for (int i = 0; i < n; ++i) {
    EXPECT_FALSE(m->OnStep(t, false).has_value());
    t += step_s;
  }
  return t - step_s;
}

TEST(CostMeter, StepTimeIsTheMeanOfCleanSteps) {
  CostMeter m;
  EXPECT_EQ(m.step_s(), 0.0);
  m.OnStep(100, false);
  m.OnStep(102, false);
  m.OnStep(106, false);
  EXPECT_DOUBLE_EQ(m.step_s(), 3.0);
}

TEST(CostMeter, CostIsTheExtraTimeOfTheStepsACheckpointOverlaps) {
  CostMeter m;
  double t = CleanSteps(&m, 0, 5, 1.0);  // step time 1 s
  m.OnCheckpoint();
  // Three steps overlap the checkpoint: 1.5 + 1.2 + 1.1 s, durable by the third.
  EXPECT_FALSE(m.OnStep(t += 1.5, true).has_value());
  EXPECT_FALSE(m.OnStep(t += 1.2, true).has_value());
  auto cost = m.OnStep(t += 1.1, false);
  ASSERT_TRUE(cost.has_value());
  EXPECT_NEAR(*cost, 0.8, 1e-9);
  // The window is closed: the next steps are clean again.
  EXPECT_FALSE(m.OnStep(t += 1.0, false).has_value());
  EXPECT_NEAR(m.step_s(), 1.0, 1e-9);
}

TEST(CostMeter, CheckpointsInOneWindowShareItsCost) {
  CostMeter m;
  double t = CleanSteps(&m, 0, 3, 2.0);
  m.OnCheckpoint();
  EXPECT_FALSE(m.OnStep(t += 3.0, true).has_value());
  m.OnCheckpoint();  // requested while the first is still in flight
  auto cost = m.OnStep(t += 3.0, false);
  ASSERT_TRUE(cost.has_value());
  EXPECT_NEAR(*cost, 1.0, 1e-9);  // (6 - 2 * 2) / 2
}

TEST(CostMeter, FasterThanCleanStepsCostsZeroNotNegative) {
  CostMeter m;
  double t = CleanSteps(&m, 0, 3, 1.0);
  m.OnCheckpoint();
  auto cost = m.OnStep(t += 0.9, false);
  ASSERT_TRUE(cost.has_value());
  EXPECT_EQ(*cost, 0.0);
}

TEST(CostMeter, NoCostBeforeAnyCleanStep) {
  CostMeter m;
  m.OnStep(0, false);
  m.OnCheckpoint();
  EXPECT_FALSE(m.OnStep(5, false).has_value());
  EXPECT_EQ(m.step_s(), 0.0);
}

TEST(CostMeter, RestartForgetsTheBoundaryAndTheOpenWindow) {
  CostMeter m;
  double t = CleanSteps(&m, 0, 3, 1.0);
  m.OnCheckpoint();
  m.Restart();  // e.g. a restore: its time belongs to no step
  EXPECT_FALSE(m.OnStep(t + 500, false).has_value());
  EXPECT_FALSE(m.OnStep(t + 501, false).has_value());
  EXPECT_NEAR(m.step_s(), 1.0, 1e-9);
}

}  // namespace
}  // namespace ckpt
