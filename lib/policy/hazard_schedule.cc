// HazardSchedule: the next interval as a function of the time since the last
// failure, for failure processes whose hazard changes with that age.
//
// Rule: over the next segment [a, a + τ + C] treat the hazard as constant at
// its average there, h̄ = (H(a+τ+C) − H(a)) / (τ + C) with H = −log S, and take
// the exponential's exact optimum for that rate,
//   τ = (1 + W₀(−e^{−1−h̄·C})) / h̄,
// solved as a fixed point (h̄ depends on τ). This is the variational result of
// Ling, Mi and Lin (IEEE Trans. Computers 50(7), 2001) — checkpoint density
// sqrt(h(a) / 2C), i.e. Young with the local hazard — with two corrections:
// the hazard is averaged over the segment rather than taken at its start
// (for k < 1 the start is the worst point), and the exponential's exact
// optimum replaces Young's first-order one, so that for the exponential the
// schedule is OptimalInterval at every age.
//
// An exact dynamic program over age is possible, but it takes the model
// literally far into the tail, where fitted Weibulls are least trustworthy;
// this local rule depends only on the hazard over the next segment.
// docs/policy.md compares the two.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ckpt/policy.h"
#include "policy/exponential_optimum.h"

namespace ckpt::policy {
namespace {

// The fixed point τ = ExponentialOptimumInterval(h̄(a, τ)). The map is a contraction
// in practice (h̄ varies slowly with τ); 50 rounds or 1e-7 relative.
double LocalInterval(const FailureModel& model, double cost_s, double age_s) {
  const double log_s_a = model.LogSurvival(age_s);
  double tau = ExponentialOptimumInterval(1.0 / model.mean_s(), cost_s);
  for (int i = 0; i < 50; ++i) {
    const double s = tau + cost_s;
    const double mean_hazard = (log_s_a - model.LogSurvival(age_s + s)) / s;
    if (!(mean_hazard > 0)) break;
    const double next = ExponentialOptimumInterval(mean_hazard, cost_s);
    const bool done = std::abs(next - tau) <= 1e-7 * tau;
    tau = next;
    if (done) break;
  }
  return tau;
}

}  // namespace

HazardSchedule HazardSchedule::Compute(const FailureModel& model, double cost_s,
                                       double restart_s) {
  HazardSchedule out;
  if (!(model.scale_s > 0) || !(model.shape > 0) || !(cost_s > 0) || !(restart_s >= 0) ||
      !std::isfinite(model.scale_s) || !std::isfinite(model.shape) || !std::isfinite(cost_s) ||
      !std::isfinite(restart_s)) {
    return out;
  }
  out.model_ = model;
  out.cost_s_ = cost_s;
  out.restart_s_ = restart_s;
  out.valid_ = true;
  return out;
}

double HazardSchedule::expected_waste() const {
  if (!valid_) return std::numeric_limits<double>::quiet_NaN();
  // Renewal-reward: per cycle the job commits Σ_j τ_j·S(t_j) where t_j are
  // the commit ages when following the schedule from the restart at age R.
  double age = restart_s_, committed = 0;
  const double log_s_r = model_.LogSurvival(restart_s_);
  for (int j = 0; j < 10'000'000; ++j) {
    const double tau = LocalInterval(model_, cost_s_, age);
    age += tau + cost_s_;
    const double log_s = model_.LogSurvival(age);
    committed += tau * std::exp(log_s);
    if (log_s - log_s_r < std::log(1e-12)) break;
  }
  return 1.0 - committed / model_.mean_s();
}

double HazardSchedule::IntervalAt(double age_s) const {
  if (!valid_ || std::isnan(age_s)) return std::numeric_limits<double>::quiet_NaN();
  return LocalInterval(model_, cost_s_, std::max(0.0, age_s));
}

}  // namespace ckpt::policy
