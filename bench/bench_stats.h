// Small statistics shared by the ckpt-bench subcommands.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace ckpt::bench {

// The median of the samples (the mean of the middle two for an even count);
// 0 for none. Benches report medians: this machine's noise is one-sided and
// large (±20-30%), and a median of repeated samples is robust to it.
inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The q-quantile (0..1) of the samples by nearest rank: the smallest sample
// with at least q of them at or below it; 0 for none. For tails (p99, max).
inline double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size()));
  const size_t i = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return v[std::min(i, v.size() - 1)];
}

}  // namespace ckpt::bench
