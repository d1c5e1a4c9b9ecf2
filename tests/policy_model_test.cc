// Failure models and their estimators: maximum likelihood (with censoring)
// recovers known parameters, and the prior dominates while failures are few.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ckpt/policy.h"

namespace ckpt::policy {
namespace {

std::vector<double> WeibullSample(double shape, double scale, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::weibull_distribution<double> dist(shape, scale);
  std::vector<double> out(n);
  for (double& x : out) x = dist(rng);
  return out;
}

// Type I censoring at c: gaps longer than c are seen only as "survived c".
FailureObservations CensorAt(const std::vector<double>& gaps, double c) {
  FailureObservations obs;
  for (double g : gaps) {
    if (g <= c) {
      obs.gaps_s.push_back(g);
    } else {
      obs.censored_s.push_back(c);
    }
  }
  return obs;
}

TEST(FailureModelTest, WeibullBasics) {
  const FailureModel exp = FailureModel::Exponential(3600);
  EXPECT_DOUBLE_EQ(exp.mean_s(), 3600);
  EXPECT_NEAR(exp.Survival(3600), std::exp(-1.0), 1e-15);
  EXPECT_DOUBLE_EQ(exp.Hazard(10), 1.0 / 3600);
  EXPECT_NEAR(exp.SurvivalIntegral(0), 3600, 1e-9);

  const FailureModel w = FailureModel::WeibullWithMean(0.7, 3600);
  EXPECT_NEAR(w.mean_s(), 3600, 1e-9);
  EXPECT_NEAR(w.SurvivalIntegral(0), 3600, 1e-6);  // ∫S = mean
  EXPECT_GT(w.Hazard(60), w.Hazard(6000));         // k < 1: decreasing hazard
  EXPECT_NEAR(w.LogDensity(1000), std::log(w.Hazard(1000) * w.Survival(1000)), 1e-12);
  // Weibull with k = 1 is the exponential.
  const FailureModel one = FailureModel::Weibull(1.0, 3600);
  EXPECT_NEAR(one.Survival(5000), exp.Survival(5000), 1e-15);
  EXPECT_NEAR(one.SurvivalIntegral(5000), exp.SurvivalIntegral(5000), 1e-9);
}

TEST(EstimatorTest, ExponentialMleRecoversMtbf) {
  const std::vector<double> gaps = WeibullSample(1.0, 3600, 20000, 1);
  FailureObservations obs;
  obs.gaps_s = gaps;
  Result<FailureModel> fit = FitExponentialMle(obs);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_NEAR(fit->mean_s(), 3600, 3600 * 0.02);
}

TEST(EstimatorTest, ExponentialMleWithCensoring) {
  // Censoring at the mean hides the long gaps; ignoring them (dropping the
  // censored part) underestimates the MTBF badly, counting them does not.
  const std::vector<double> gaps = WeibullSample(1.0, 3600, 20000, 2);
  const FailureObservations censored = CensorAt(gaps, 3600);
  ASSERT_GT(censored.censored_s.size(), 5000u);
  Result<FailureModel> fit = FitExponentialMle(censored);
  ASSERT_TRUE(fit.ok());
  EXPECT_NEAR(fit->mean_s(), 3600, 3600 * 0.03);

  FailureObservations naive;
  naive.gaps_s = censored.gaps_s;
  EXPECT_LT(FitExponentialMle(naive)->mean_s(), 3600 * 0.5);
}

TEST(EstimatorTest, WeibullMleRecoversShapeAndScale) {
  for (double shape : {0.5, 0.7, 1.0, 2.0}) {
    FailureObservations obs;
    obs.gaps_s = WeibullSample(shape, 10000, 5000, 3);
    Result<FailureModel> fit = FitWeibullMle(obs);
    ASSERT_TRUE(fit.ok()) << fit.status().ToString();
    EXPECT_NEAR(fit->shape, shape, shape * 0.04) << "shape " << shape;
    EXPECT_NEAR(fit->scale_s, 10000, 10000 * 0.05) << "shape " << shape;
  }
}

TEST(EstimatorTest, WeibullMleWithCensoring) {
  // Random censoring (each gap observed only up to an independent time), as
  // when observation windows end: the censored MLE still recovers k and λ.
  const std::vector<double> gaps = WeibullSample(0.7, 10000, 8000, 4);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> until(0, 40000);
  FailureObservations obs;
  for (double g : gaps) {
    const double c = until(rng);
    if (g <= c) {
      obs.gaps_s.push_back(g);
    } else {
      obs.censored_s.push_back(c);
    }
  }
  ASSERT_GT(obs.censored_s.size(), 1000u);
  Result<FailureModel> fit = FitWeibullMle(obs);
  ASSERT_TRUE(fit.ok());
  EXPECT_NEAR(fit->shape, 0.7, 0.7 * 0.05);
  EXPECT_NEAR(fit->scale_s, 10000, 10000 * 0.07);

  // Type I censoring too.
  Result<FailureModel> fit2 = FitWeibullMle(CensorAt(gaps, 15000));
  ASSERT_TRUE(fit2.ok());
  EXPECT_NEAR(fit2->shape, 0.7, 0.7 * 0.06);
  EXPECT_NEAR(fit2->scale_s, 10000, 10000 * 0.08);
}

TEST(EstimatorTest, MleNeedsData) {
  FailureObservations none;
  EXPECT_EQ(FitExponentialMle(none).status().code(), Status::Code::kFailedPrecondition);
  FailureObservations one;
  one.gaps_s = {100};
  EXPECT_EQ(FitWeibullMle(one).status().code(), Status::Code::kFailedPrecondition);
  FailureObservations equal;
  equal.gaps_s = {100, 100, 100};
  Result<FailureModel> r = FitWeibullMle(equal);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("equal"), std::string::npos) << r.status().message();
  FailureObservations bad;
  bad.gaps_s = {100, -1};
  EXPECT_EQ(FitWeibullMle(bad).status().code(), Status::Code::kInvalidArgument);
}

TEST(PriorTest, DominatesWithFewFailures) {
  Prior prior;
  prior.mtbf_s = 86400;  // believed: one failure a day
  prior.weight = 2;
  FailureObservations obs;
  obs.gaps_s = {3600};  // one failure after an hour
  const double m = FitExponential(obs, prior).mean_s();
  EXPECT_NEAR(m, (2 * 86400 + 3600) / 3.0, 1e-9);
  EXPECT_LT(std::abs(m - 86400), std::abs(m - 3600));  // closer to the prior

  // No data: the prior itself. Surviving without failure raises the MTBF.
  EXPECT_DOUBLE_EQ(FitExponential(FailureObservations{}, prior).mean_s(), 86400);
  FailureObservations survived;
  survived.censored_s = {10 * 86400.0};
  EXPECT_NEAR(FitExponential(survived, prior).mean_s(), 6 * 86400, 1e-6);
}

TEST(PriorTest, DataWinsWithManyFailures) {
  Prior prior;
  prior.mtbf_s = 86400;
  FailureObservations obs;
  obs.gaps_s = WeibullSample(0.7, 3600, 2000, 6);
  const FailureModel w = FitWeibull(obs, prior);
  const double mean = FailureModel::Weibull(0.7, 3600).mean_s();
  EXPECT_NEAR(w.mean_s(), mean, mean * 0.08);
  EXPECT_NEAR(w.shape, 0.7, 0.05);
}

TEST(PriorTest, WeibullShapeShrinksTowardPrior) {
  Prior prior;
  prior.mtbf_s = 3600;
  prior.shape = 1.0;
  prior.shape_weight = 10;
  FailureObservations few;
  few.gaps_s = {10, 50, 8000, 20, 30000};  // wildly clustered
  Result<FailureModel> mle = FitWeibullMle(few);
  ASSERT_TRUE(mle.ok());
  const FailureModel shrunk = FitWeibull(few, prior);
  EXPECT_LT(mle->shape, 0.5);
  EXPECT_NEAR(shrunk.shape, (10 * 1.0 + 5 * mle->shape) / 15, 1e-12);
  // With one gap there is no MLE: the prior shape.
  FailureObservations one;
  one.gaps_s = {100};
  EXPECT_DOUBLE_EQ(FitWeibull(one, prior).shape, 1.0);
}

TEST(ObservationsTest, FromHistory) {
  const std::vector<double> times = {100, 200, 400, 700};
  FailureObservations all = ObservationsFromHistory(times, 0, 1000, 0);
  // Gaps 100, 200, 300, the stretch before the first failure (100), and the
  // censored 300 s since the last one.
  EXPECT_EQ(all.gaps_s, (std::vector<double>{100, 200, 300, 100}));
  EXPECT_EQ(all.censored_s, (std::vector<double>{300}));

  FailureObservations window = ObservationsFromHistory(times, 0, 1000, 2);
  EXPECT_EQ(window.gaps_s, (std::vector<double>{200, 300}));
  EXPECT_EQ(window.censored_s, (std::vector<double>{300}));

  FailureObservations none = ObservationsFromHistory({}, 0, 500, 0);
  EXPECT_TRUE(none.gaps_s.empty());
  EXPECT_EQ(none.censored_s, (std::vector<double>{500}));

  // Same-second failures count as a 1 s gap (timestamp resolution).
  const std::vector<double> dup = {100, 100};
  EXPECT_EQ(ObservationsFromHistory(dup, 100, 100, 0).gaps_s, (std::vector<double>{1}));
}

}  // namespace
}  // namespace ckpt::policy
