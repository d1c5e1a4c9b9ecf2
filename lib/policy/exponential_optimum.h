// The optimal fixed interval for exponential failures, shared by
// OptimalInterval and the hazard schedule.
#pragma once

#include <boost/math/constants/constants.hpp>
#include <boost/math/special_functions/lambert_w.hpp>

#include <algorithm>
#include <cmath>

namespace ckpt::policy {

// Setting d/dτ [τ / (e^{rate·(τ+C)} − 1)] to zero gives
// e^{rate·(τ+C)}·(1 − rate·τ) = 1, solved by τ = (1 + W₀(−e^{−1−rate·C})) / rate.
// The argument is clamped to the branch point −1/e: exp() may round a hair
// below it for a tiny rate·C, where Boost would throw a domain error.
inline double ExponentialOptimumInterval(double rate, double cost_s) {
  const double z = std::max(-std::exp(-1.0 - rate * cost_s),
                            -boost::math::constants::exp_minus_one<double>());
  return (1.0 + boost::math::lambert_w0(z)) / rate;
}

}  // namespace ckpt::policy
