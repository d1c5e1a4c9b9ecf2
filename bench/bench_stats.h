// Small statistics shared by the ckpt-bench subcommands.
#pragma once

#include <algorithm>
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

}  // namespace ckpt::bench
