// Seeded synthetic failure traces: renewal processes with exponential or
// Weibull gaps, for checks against the analytical expectations.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "policy/trace.h"

namespace ckpt::policy {

Result<Trace> SyntheticTrace(const SyntheticSpec& spec) {
  if (!(spec.mean_s > 0) || !std::isfinite(spec.mean_s)) {
    return Status::InvalidArgument("synthetic trace needs a positive MTBF");
  }
  if (spec.kind == SyntheticSpec::Kind::kWeibull && (!(spec.shape > 0) || spec.shape > 100)) {
    return Status::InvalidArgument("synthetic Weibull trace needs a shape in (0, 100]");
  }
  if (spec.failures == 0 && !(spec.duration_s > 0)) {
    return Status::InvalidArgument("synthetic trace needs a number of failures or a duration");
  }
  if (spec.failures > 100'000'000) return Status::InvalidArgument("too many failures");
  const double scale = spec.kind == SyntheticSpec::Kind::kWeibull
                           ? spec.mean_s / std::tgamma(1.0 + 1.0 / spec.shape)
                           : spec.mean_s;
  std::mt19937_64 rng(spec.seed);
  std::exponential_distribution<double> exponential(1.0 / spec.mean_s);
  std::weibull_distribution<double> weibull(spec.shape, scale);
  std::vector<double> times{0.0};
  double t = 0;
  while (spec.failures > 0 ? times.size() < spec.failures : t < spec.duration_s) {
    t += spec.kind == SyntheticSpec::Kind::kWeibull ? weibull(rng) : exponential(rng);
    times.push_back(t);
  }
  Trace trace;
  char buf[160];
  if (spec.kind == SyntheticSpec::Kind::kWeibull) {
    std::snprintf(buf, sizeof(buf), "synthetic Weibull (shape %g, MTBF %g s, seed %llu)",
                  spec.shape, spec.mean_s, static_cast<unsigned long long>(spec.seed));
  } else {
    std::snprintf(buf, sizeof(buf), "synthetic exponential (MTBF %g s, seed %llu)", spec.mean_s,
                  static_cast<unsigned long long>(spec.seed));
  }
  trace.description = buf;
  FinalizeTrace(std::move(times), &trace);
  return trace;
}

}  // namespace ckpt::policy
