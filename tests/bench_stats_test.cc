// The statistics ckpt-bench reports its figures with: medians of repeated
// samples, and nearest-rank quantiles for tails (checkpoint() call p99).
#include <gtest/gtest.h>

#include <vector>

#include "../bench/bench_stats.h"

namespace ckpt::bench {
namespace {

TEST(BenchStats, MedianOfOddAndEvenCountsAndNone) {
  EXPECT_DOUBLE_EQ(Median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(Median({}), 0);
}

TEST(BenchStats, QuantileIsTheNearestRankSample) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // 1..100, unsorted
  EXPECT_DOUBLE_EQ(Quantile(v, 0.99), 99);
  EXPECT_DOUBLE_EQ(Quantile(v, 0.5), 50);
  EXPECT_DOUBLE_EQ(Quantile(v, 1.0), 100);
  EXPECT_DOUBLE_EQ(Quantile(v, 0.0), 1);
  // 300 samples, four above the rest: 297 of them (99%) are at or below the
  // fourth largest, which is p99; the maximum is the slowest.
  std::vector<double> calls(300, 10.0);
  calls[7] = 5000;
  calls[8] = 30;
  calls[9] = 20;
  calls[10] = 15;
  EXPECT_DOUBLE_EQ(Quantile(calls, 0.99), 15);
  EXPECT_DOUBLE_EQ(Quantile(calls, 1.0), 5000);
  EXPECT_DOUBLE_EQ(Quantile({7}, 0.99), 7);
  EXPECT_DOUBLE_EQ(Quantile({}, 0.99), 0);
}

}  // namespace
}  // namespace ckpt::bench
