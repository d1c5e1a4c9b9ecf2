// Fitting failure models: maximum likelihood with right-censoring, and the
// prior that keeps the fit sane while few failures have been seen.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ckpt/policy.h"

namespace ckpt::policy {
namespace {

// Gaps below this are timestamp resolution, not physics (see the header).
constexpr double kMinGap = 1.0;
// Shapes outside this range are not failure processes of real machines; the
// clamp keeps a fit on a handful of gaps from producing absurd schedules.
constexpr double kMinShape = 0.1;
constexpr double kMaxShape = 10.0;
// Root bracket of the profile equation.
constexpr double kShapeLo = 0.02;
constexpr double kShapeHi = 50.0;

double Total(const FailureObservations& obs) {
  double total = 0;
  for (double x : obs.gaps_s) total += x;
  for (double x : obs.censored_s) total += x;
  return total;
}

Status CheckObservations(const FailureObservations& obs) {
  for (double x : obs.gaps_s) {
    if (!(x > 0) || !std::isfinite(x)) {
      return Status::InvalidArgument("gap " + std::to_string(x) + " s is not a positive time");
    }
  }
  for (double x : obs.censored_s) {
    if (!(x >= 0) || !std::isfinite(x)) {
      return Status::InvalidArgument("censored time " + std::to_string(x) +
                                     " s is not a non-negative time");
    }
  }
  return Status::OK();
}

// The Weibull profile log-likelihood equation in k, with every time divided
// by the largest (the equation is invariant under scaling, and y^k then
// cannot overflow):
//   g(k) = Σ_all y^k ln y / Σ_all y^k − 1/k − mean_{gaps} ln y = 0.
// g is increasing in k, so the root is unique when it exists.
struct ProfileEquation {
  std::vector<double> log_y;  // all observations (gaps and censored > 0)
  double mean_log_gap = 0;

  void Eval(double k, double* g, double* dg) const {
    double s0 = 0, s1 = 0, s2 = 0;
    for (double l : log_y) {
      const double w = std::exp(k * l);
      s0 += w;
      s1 += w * l;
      s2 += w * l * l;
    }
    const double ratio = s1 / s0;
    *g = ratio - 1.0 / k - mean_log_gap;
    *dg = s2 / s0 - ratio * ratio + 1.0 / (k * k);
  }
};

// Safeguarded Newton (Newton inside a shrinking bracket, bisection when a
// step leaves it): quadratic near the root, never diverges.
double SolveIncreasing(const ProfileEquation& eq, double lo, double hi) {
  double k = 1.0;
  for (int iter = 0; iter < 100; ++iter) {
    double g = 0, dg = 0;
    eq.Eval(k, &g, &dg);
    if (g < 0) {
      lo = k;
    } else {
      hi = k;
    }
    double next = k - g / dg;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (std::abs(next - k) <= 1e-12 * k) return next;
    k = next;
  }
  return k;
}

}  // namespace

FailureObservations ObservationsFromHistory(std::span<const double> times,
                                            double observed_since_s, double now_s,
                                            size_t window) {
  FailureObservations obs;
  const size_t n = times.size();
  size_t first = 1;
  if (window != 0 && n > window + 1) first = n - window;
  for (size_t i = first; i < n; ++i) obs.gaps_s.push_back(std::max(kMinGap, times[i] - times[i - 1]));
  if (n > 0 && first == 1 && times[0] > observed_since_s) {
    obs.gaps_s.push_back(std::max(kMinGap, times[0] - observed_since_s));
  }
  const double since = n > 0 ? times[n - 1] : observed_since_s;
  if (now_s > since) obs.censored_s.push_back(now_s - since);
  return obs;
}

Result<FailureModel> FitExponentialMle(const FailureObservations& obs) {
  CKPT_RETURN_IF_ERROR(CheckObservations(obs));
  if (obs.gaps_s.empty()) {
    return Status::FailedPrecondition("no failure observed: the exponential MLE needs one");
  }
  return FailureModel::Exponential(Total(obs) / static_cast<double>(obs.gaps_s.size()));
}

Result<FailureModel> FitWeibullMle(const FailureObservations& obs) {
  CKPT_RETURN_IF_ERROR(CheckObservations(obs));
  if (obs.gaps_s.size() < 2) {
    return Status::FailedPrecondition("the Weibull MLE needs at least 2 observed gaps, got " +
                                      std::to_string(obs.gaps_s.size()));
  }
  double max_x = 0;
  for (double x : obs.gaps_s) max_x = std::max(max_x, x);
  for (double x : obs.censored_s) max_x = std::max(max_x, x);

  ProfileEquation eq;
  double sum_log_gap = 0;
  for (double x : obs.gaps_s) {
    eq.log_y.push_back(std::log(x / max_x));
    sum_log_gap += eq.log_y.back();
  }
  for (double x : obs.censored_s) {
    if (x > 0) eq.log_y.push_back(std::log(x / max_x));
  }
  const double r = static_cast<double>(obs.gaps_s.size());
  eq.mean_log_gap = sum_log_gap / r;

  double g_lo = 0, g_hi = 0, unused = 0;
  eq.Eval(kShapeLo, &g_lo, &unused);
  eq.Eval(kShapeHi, &g_hi, &unused);
  if (g_hi < 0) {
    return Status::FailedPrecondition(
        "the Weibull shape estimate diverges: the observed gaps are (nearly) all equal");
  }
  if (g_lo > 0) {
    return Status::FailedPrecondition("the Weibull shape estimate is below " +
                                      std::to_string(kShapeLo) + ": no usable fit");
  }
  const double k = SolveIncreasing(eq, kShapeLo, kShapeHi);
  double s0 = 0;
  for (double l : eq.log_y) s0 += std::exp(k * l);
  const double scale = max_x * std::pow(s0 / r, 1.0 / k);
  return FailureModel::Weibull(k, scale);
}

FailureModel FitExponential(const FailureObservations& obs, const Prior& prior) {
  // Gamma(weight, weight·mtbf) prior on the rate; the posterior after r
  // failures in total time T is Gamma(weight + r, weight·mtbf + T), whose mean
  // rate is inverted here.
  const double r = static_cast<double>(obs.gaps_s.size());
  return FailureModel::Exponential((prior.weight * prior.mtbf_s + Total(obs)) /
                                   (prior.weight + r));
}

FailureModel FitWeibull(const FailureObservations& obs, const Prior& prior) {
  const double mean = FitExponential(obs, prior).mean_s();
  double shape = prior.shape;
  if (Result<FailureModel> mle = FitWeibullMle(obs); mle.ok()) {
    const double n = static_cast<double>(obs.gaps_s.size());
    shape = (prior.shape_weight * prior.shape + n * mle->shape) / (prior.shape_weight + n);
  }
  shape = std::clamp(shape, kMinShape, kMaxShape);
  // The mean comes from the exposure estimate, not from the Weibull MLE's
  // scale: it is the part the prior is about, and total time over failures is
  // a consistent mean for any renewal process.
  return FailureModel::WeibullWithMean(shape, mean);
}

Prior Prior::FromNodes(double node_mtbf_s, uint64_t nodes) {
  Prior prior;
  prior.mtbf_s = node_mtbf_s / static_cast<double>(nodes == 0 ? 1 : nodes);
  return prior;
}

}  // namespace ckpt::policy
