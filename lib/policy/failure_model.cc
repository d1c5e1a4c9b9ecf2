// FailureModel: survival, hazard and tail integrals of the exponential and
// Weibull gap distributions.
#include <boost/math/special_functions/gamma.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "ckpt/policy.h"

namespace ckpt::policy {

FailureModel FailureModel::Exponential(double mtbf_s) {
  return FailureModel{Kind::kExponential, 1.0, mtbf_s};
}

FailureModel FailureModel::Weibull(double shape, double scale_s) {
  return FailureModel{Kind::kWeibull, shape, scale_s};
}

FailureModel FailureModel::WeibullWithMean(double shape, double mean_s) {
  return Weibull(shape, mean_s / std::tgamma(1.0 + 1.0 / shape));
}

double FailureModel::mean_s() const {
  if (kind == Kind::kExponential) return scale_s;
  return scale_s * std::tgamma(1.0 + 1.0 / shape);
}

double FailureModel::LogSurvival(double t) const {
  if (t <= 0) return 0.0;
  if (kind == Kind::kExponential) return -t / scale_s;
  return -std::pow(t / scale_s, shape);
}

double FailureModel::Survival(double t) const { return std::exp(LogSurvival(t)); }

double FailureModel::Hazard(double t) const {
  if (kind == Kind::kExponential || shape == 1.0) return 1.0 / scale_s;
  if (t <= 0) return shape < 1.0 ? std::numeric_limits<double>::infinity() : 0.0;
  return shape / scale_s * std::pow(t / scale_s, shape - 1.0);
}

double FailureModel::LogDensity(double t) const {
  if (!(t > 0)) return -std::numeric_limits<double>::infinity();
  return std::log(Hazard(t)) + LogSurvival(t);  // f = h·S
}

double FailureModel::SurvivalIntegral(double t) const {
  if (t < 0) return (t * -1.0) + SurvivalIntegral(0.0);  // S = 1 before age 0
  if (kind == Kind::kExponential) return scale_s * std::exp(-t / scale_s);
  // ∫_t^∞ exp(−(u/λ)^k) du = (λ/k)·Γ(1/k, (t/λ)^k), the upper incomplete gamma.
  const double z = std::pow(t / scale_s, shape);
  if (z > 700) return 0.0;  // below any double that matters here
  return scale_s / shape * boost::math::tgamma(1.0 / shape, z);
}

std::string FailureModel::ToString() const {
  char buf[160];
  if (kind == Kind::kExponential) {
    std::snprintf(buf, sizeof(buf), "exponential(MTBF %s)", FormatDuration(scale_s).c_str());
  } else {
    std::snprintf(buf, sizeof(buf), "Weibull(k=%.3f, scale %s, mean %s)", shape,
                  FormatDuration(scale_s).c_str(), FormatDuration(mean_s()).c_str());
  }
  return buf;
}

}  // namespace ckpt::policy
