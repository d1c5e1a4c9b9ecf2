// Interval formulas and policies: Young, Daly (incl. the 116.7 min case of
// Daly's paper and the C >= 2M branch), the expected-waste formula, the
// numerical optimum, the hazard schedule, and the online policy objects.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "ckpt/policy.h"

namespace ckpt::policy {
namespace {

// Σ_{n≥1} S(R + n(τ+C)) by brute force, no tail approximation.
double BruteForceWaste(const FailureModel& m, double tau, double c, double r) {
  double sum = 0;
  for (long n = 1; n < 10'000'000; ++n) {
    const double term = m.Survival(r + n * (tau + c));
    sum += term;
    if (term < 1e-16) break;
  }
  return 1.0 - tau * sum / m.mean_s();
}

TEST(FormulaTest, Young) {
  EXPECT_DOUBLE_EQ(YoungInterval(300, 86400), std::sqrt(2.0 * 300 * 86400));
  EXPECT_DOUBLE_EQ(YoungInterval(300, 86400), 7200);
  EXPECT_TRUE(std::isnan(YoungInterval(0, 86400)));
  EXPECT_TRUE(std::isnan(YoungInterval(300, -1)));
}

TEST(FormulaTest, DalyPaperCase) {
  // Daly (2006): M = 24 h, C = 5 min gives 116.7 min.
  const double c = 300, m = 86400;
  const double expected =
      std::sqrt(2 * c * m) * (1 + std::sqrt(c / (2 * m)) / 3 + (c / (2 * m)) / 9) - c;
  EXPECT_DOUBLE_EQ(DalyInterval(c, m), expected);
  EXPECT_NEAR(DalyInterval(c, m) / 60, 116.7, 0.05);
}

TEST(FormulaTest, DalyLargeCostBranch) {
  EXPECT_DOUBLE_EQ(DalyInterval(2000, 1000), 1000);  // C = 2M: M
  EXPECT_DOUBLE_EQ(DalyInterval(5000, 1000), 1000);  // C > 2M: M
  // Just below 2M the series applies: sqrt(2CM)·(1 + sqrt(x)/3 + x/9) − C.
  const double x = 1999.0 / 2000.0;
  EXPECT_DOUBLE_EQ(DalyInterval(1999, 1000),
                   std::sqrt(2.0 * 1999 * 1000) * (1 + std::sqrt(x) / 3 + x / 9) - 1999);
}

TEST(ExpectedWasteTest, ExponentialClosedFormMatchesRenewalSum) {
  const FailureModel exp = FailureModel::Exponential(10800);
  const FailureModel weibull1 = FailureModel::Weibull(1.0, 10800);
  for (double tau : {300.0, 1138.0, 5000.0}) {
    EXPECT_NEAR(ExpectedWaste(exp, tau, 60, 300), ExpectedWaste(weibull1, tau, 60, 300), 1e-7);
    EXPECT_NEAR(ExpectedWaste(exp, tau, 60, 300), BruteForceWaste(exp, tau, 60, 300), 1e-9);
  }
}

TEST(ExpectedWasteTest, WeibullMatchesBruteForce) {
  for (double k : {0.5, 0.7, 1.5}) {
    const FailureModel m = FailureModel::WeibullWithMean(k, 8 * 3600.0);
    for (double tau : {600.0, 2000.0, 8000.0}) {
      EXPECT_NEAR(ExpectedWaste(m, tau, 60, 300), BruteForceWaste(m, tau, 60, 300), 2e-6)
          << "k " << k << " tau " << tau;
    }
  }
}

TEST(OptimalIntervalTest, ExponentialSolvesTheStationaryCondition) {
  const double m = 86400, c = 300;
  const double tau = OptimalInterval(FailureModel::Exponential(m), c, 600);
  EXPECT_NEAR(std::exp((tau + c) / m) * (1 - tau / m), 1.0, 1e-12);
  // Daly's higher-order formula is close to the exact optimum.
  EXPECT_NEAR(tau, DalyInterval(c, m), 1.0);
}

TEST(OptimalIntervalTest, NoWorseThanNeighboursOrFormulas) {
  const double c = 60, r = 300;
  for (const FailureModel& m :
       {FailureModel::Exponential(10800), FailureModel::WeibullWithMean(0.6, 10800),
        FailureModel::WeibullWithMean(0.8, 28800), FailureModel::WeibullWithMean(1.5, 28800)}) {
    const double tau = OptimalInterval(m, c, r);
    const double w = ExpectedWaste(m, tau, c, r);
    for (double f : {0.9, 0.99, 1.01, 1.1}) {
      EXPECT_LE(w, ExpectedWaste(m, tau * f, c, r) + 1e-12) << m.ToString() << " x" << f;
    }
    EXPECT_LE(w, ExpectedWaste(m, YoungInterval(c, m.mean_s()), c, r) + 1e-12);
    EXPECT_LE(w, ExpectedWaste(m, DalyInterval(c, m.mean_s()), c, r) + 1e-12);
  }
}

TEST(HazardScheduleTest, ExponentialIsTheOptimumAtEveryAge) {
  const FailureModel m = FailureModel::Exponential(10800);
  const HazardSchedule s = HazardSchedule::Compute(m, 60, 300);
  ASSERT_TRUE(s.valid());
  const double opt = OptimalInterval(m, 60, 300);
  for (double age : {0.0, 300.0, 5000.0, 1e6}) EXPECT_NEAR(s.IntervalAt(age), opt, 1e-6 * opt);
  EXPECT_NEAR(s.expected_waste(), ExpectedWaste(m, opt, 60, 300), 1e-9);
}

TEST(HazardScheduleTest, ClusteredFailuresCheckpointMoreOftenRightAfterOne) {
  const FailureModel m = FailureModel::WeibullWithMean(0.6, 8 * 3600.0);
  const HazardSchedule s = HazardSchedule::Compute(m, 60, 300);
  double previous = 0;
  for (double age : {300.0, 3600.0, 36000.0, 360000.0}) {
    EXPECT_GT(s.IntervalAt(age), previous);
    previous = s.IntervalAt(age);
  }
  // Age-awareness pays under the model: less waste than the best fixed interval.
  const double fixed = ExpectedWaste(m, OptimalInterval(m, 60, 300), 60, 300);
  EXPECT_LT(s.expected_waste(), fixed - 0.001);
  EXPECT_FALSE(HazardSchedule::Compute(m, 0, 300).valid());
  EXPECT_TRUE(std::isnan(HazardSchedule::Compute(m, 0, 300).IntervalAt(100)));
}

TEST(DurationTest, Parses) {
  EXPECT_DOUBLE_EQ(*ParseDuration("90s"), 90);
  EXPECT_DOUBLE_EQ(*ParseDuration("5m"), 300);
  EXPECT_DOUBLE_EQ(*ParseDuration("3h"), 10800);
  EXPECT_DOUBLE_EQ(*ParseDuration("2d"), 172800);
  EXPECT_DOUBLE_EQ(*ParseDuration("120"), 120);
  EXPECT_DOUBLE_EQ(*ParseDuration("1.5h"), 5400);
  EXPECT_DOUBLE_EQ(*ParseDuration("0"), 0);
  for (const char* bad : {"", "-5s", "+5s", "5x", "h", "inf", "nan", "5 m", "5mm", "1e999"}) {
    Result<double> r = ParseDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("invalid duration"), std::string::npos);
    }
  }
}

const std::vector<double> kNoFailures;

// The input's span points into `times`, which must outlive the call.
PolicyInput Input(const std::vector<double>& times, double now) {
  PolicyInput in;
  in.checkpoint_cost_s = 60;
  in.restart_cost_s = 300;
  in.failure_times_s = times;
  in.observed_since_s = 0;
  in.now_s = now;
  return in;
}

TEST(PolicyTest, FixedAndYoungFromPrior) {
  PolicyConfig fixed;
  fixed.kind = PolicyKind::kFixed;
  fixed.fixed_interval_s = 1234;
  auto p = IntervalPolicy::Create(fixed);
  ASSERT_TRUE(p.ok());
  EXPECT_DOUBLE_EQ(*(*p)->NextInterval(Input(kNoFailures, 10)), 1234);

  PolicyConfig young;
  young.kind = PolicyKind::kYoung;
  young.prior.mtbf_s = 86400;
  auto y = IntervalPolicy::Create(young);
  ASSERT_TRUE(y.ok());
  // No failures and hardly any exposure: the prior's MTBF.
  EXPECT_NEAR(*(*y)->NextInterval(Input(kNoFailures, 1)), YoungInterval(60, 86400), 1);
}

TEST(PolicyTest, OnlineYoungFollowsTheHistory) {
  PolicyConfig config;
  config.kind = PolicyKind::kYoung;
  config.prior.mtbf_s = 86400;
  auto p = IntervalPolicy::Create(config);
  ASSERT_TRUE(p.ok());
  std::vector<double> times;
  for (int i = 0; i < 1000; ++i) times.push_back(3600.0 * i);  // hourly failures
  const double tau = *(*p)->NextInterval(Input(times, times.back() + 300));
  // The last 200 gaps (the default window) and the 300 s survived since the
  // last failure, with the prior's 2 pseudo-failures over 2 days.
  const double mtbf = (2 * 86400 + 200 * 3600 + 300) / 202.0;
  EXPECT_NEAR((*p)->model().mean_s(), mtbf, 1e-6);
  EXPECT_NEAR(tau, YoungInterval(60, mtbf), 1e-6);
}

TEST(PolicyTest, HazardPolicyUsesTheTimeSinceTheLastFailure) {
  // A clustered history: pairs of failures 5 min apart, 20 h between pairs.
  std::vector<double> times;
  for (int i = 0; i < 300; ++i) {
    times.push_back(72000.0 * i);
    times.push_back(72000.0 * i + 300);
  }
  PolicyConfig config;
  config.kind = PolicyKind::kHazard;
  auto p = IntervalPolicy::Create(config);
  ASSERT_TRUE(p.ok());
  const double early = *(*p)->NextInterval(Input(times, times.back() + 300));
  const double late = *(*p)->NextInterval(Input(times, times.back() + 36000));
  EXPECT_LT((*p)->model().shape, 0.8);
  EXPECT_LT(early, late * 0.8);
}

TEST(PolicyTest, RejectsBadConfigAndInput) {
  PolicyConfig fixed;
  fixed.kind = PolicyKind::kFixed;
  EXPECT_FALSE(IntervalPolicy::Create(fixed).ok());  // no interval
  PolicyConfig bad_prior;
  bad_prior.prior.mtbf_s = 0;
  EXPECT_FALSE(IntervalPolicy::Create(bad_prior).ok());

  auto p = IntervalPolicy::Create(PolicyConfig{});
  ASSERT_TRUE(p.ok());
  // The spans point into these, which must outlive the calls.
  const std::vector<double> unsorted = {100, 50}, future = {100, 300}, one = {100};
  EXPECT_EQ((*p)->NextInterval(Input(unsorted, 200)).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ((*p)->NextInterval(Input(future, 200)).status().code(),  // a failure after now
            Status::Code::kInvalidArgument);
  PolicyInput in = Input(one, 200);
  in.checkpoint_cost_s = 0;
  EXPECT_EQ((*p)->NextInterval(in).status().code(), Status::Code::kInvalidArgument);
  in.checkpoint_cost_s = 60;
  EXPECT_TRUE((*p)->NextInterval(in).ok());

  EXPECT_EQ(*ParsePolicyKind("hazard"), PolicyKind::kHazard);
  EXPECT_STREQ(PolicyKindName(PolicyKind::kDaly), "daly");
  EXPECT_FALSE(ParsePolicyKind("sometimes").ok());
}

}  // namespace
}  // namespace ckpt::policy
