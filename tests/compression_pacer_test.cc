// CompressionPacer's two reasons to compress a chunk (a busy disk, chunks
// coming more slowly than they compress) and its reasons not to, on made-up
// times and backlogs: every decision here is exact.
#include <gtest/gtest.h>

#include "engine/compression_pacer.h"

namespace ckpt {
namespace {

constexpr uint64_t kChunk = 4 << 20;

// A pacer that has learned that a chunk compresses in `compress_s`, its
// backlog rule satisfied with one chunk queued.
CompressionPacer Learned(double compress_s) {
  CompressionPacer p(kChunk);
  p.Begin(0);
  for (int i = 0; i < 40; ++i) {  // converge the smoothed figures
    p.Arrived(0);
    EXPECT_TRUE(p.ShouldCompress(kChunk, 100 * uint64_t{kChunk}));
    p.Compressed(kChunk, compress_s, 100 * uint64_t{kChunk});  // the disk never ran low
    p.Returned(0);
  }
  return p;
}

// Feeds chunks `gap_s` apart (the writer idle in between) to an idle disk;
// how many of `n` it compresses.
int CompressedOf(CompressionPacer& p, int n, double gap_s, double compress_s) {
  double now = 1000;
  p.Begin(now);
  int compressed = 0;
  for (int i = 0; i < n; ++i) {
    now += gap_s;
    p.Arrived(now);
    if (p.ShouldCompress(kChunk, 0)) {
      ++compressed;
      now += compress_s;
      p.Compressed(kChunk, compress_s, 0);
    }
    p.Returned(now);
  }
  return compressed;
}

TEST(CompressionPacer, ABusyDiskHidesTheCompression) {
  CompressionPacer p(kChunk);
  p.Begin(0);
  p.Arrived(0);
  EXPECT_FALSE(p.ShouldCompress(kChunk, kChunk));     // below the first guess (two chunks)
  EXPECT_TRUE(p.ShouldCompress(kChunk, 2 * kChunk));  // at it
}

TEST(CompressionPacer, TheBacklogNeededIsWhatTheDiskDrainedDuringACompressionAndAHalf) {
  CompressionPacer p(kChunk);
  p.Begin(0);
  for (int i = 0; i < 30; ++i) {
    p.Arrived(0);
    ASSERT_TRUE(p.ShouldCompress(kChunk, 8 * kChunk));
    p.Compressed(kChunk, 0.003, 6 * kChunk);  // two chunks drained
  }
  EXPECT_NEAR(static_cast<double>(p.backlog_needed()), 3.0 * kChunk, 0.01 * kChunk);
}

TEST(CompressionPacer, ADiskThatRanDryDoublesTheBacklogNeeded) {
  CompressionPacer p(kChunk);
  p.Begin(0);
  p.Arrived(0);
  ASSERT_TRUE(p.ShouldCompress(kChunk, 4 * kChunk));
  p.Compressed(kChunk, 0.003, 0);
  // Sample 2 x 4 chunks, smoothed with the first guess of 2: 5.
  EXPECT_EQ(p.backlog_needed(), 5 * uint64_t{kChunk});
}

TEST(CompressionPacer, TheBacklogNeededNeverFallsBelowOneChunk) {
  CompressionPacer p(kChunk);
  p.Begin(0);
  for (int i = 0; i < 30; ++i) {
    p.Arrived(0);
    p.ShouldCompress(kChunk, 100 * uint64_t{kChunk});
    p.Compressed(kChunk, 0.003, 100 * uint64_t{kChunk});  // nothing drained
  }
  EXPECT_EQ(p.backlog_needed(), kChunk);
}

TEST(CompressionPacer, ChunksComingMoreSlowlyThanTheyCompressAreAllCompressed) {
  CompressionPacer p = Learned(0.003);
  EXPECT_EQ(CompressedOf(p, 20, 0.005, 0.003), 20);
}

TEST(CompressionPacer, ChunksComingFasterGetWhatTheirWaitsPayFor) {
  // Three waits of 1.1 ms pay for one 3 ms compression: every third chunk.
  CompressionPacer p = Learned(0.003);
  EXPECT_EQ(CompressedOf(p, 21, 0.0011, 0.003), 7);
}

TEST(CompressionPacer, ChunksComingAtOnceGoRaw) {
  CompressionPacer p = Learned(0.003);
  EXPECT_EQ(CompressedOf(p, 20, 0.00001, 0.003), 0);
}

TEST(CompressionPacer, SlowChunksGoRawUntilACompressionHasBeenMeasured) {
  // However slowly chunks come, the cost they are measured against is
  // unknown until the backlog rule (or a small checkpoint) has compressed one.
  CompressionPacer p(kChunk);
  EXPECT_LT(p.compress_s_per_byte(), 0);
  EXPECT_EQ(CompressedOf(p, 20, 0.050, 0.003), 0);
  p.Arrived(0);
  ASSERT_TRUE(p.ShouldCompress(kChunk, 10 * uint64_t{kChunk}));
  p.Compressed(kChunk, 0.003, 10 * uint64_t{kChunk});
  EXPECT_EQ(CompressedOf(p, 20, 0.050, 0.003), 20);
}

TEST(CompressionPacer, OneLongWaitPaysForOneCompressionAtMost) {
  CompressionPacer p = Learned(0.003);
  p.Begin(0);
  p.Arrived(0.050);  // a 50 ms wait banks one compression, not sixteen
  EXPECT_NEAR(p.idle_credit_s(), 0.003, 1e-9);
  ASSERT_TRUE(p.ShouldCompress(kChunk, 0));
  p.Compressed(kChunk, 0.003, 0);
  p.Returned(0.053);
  p.Arrived(0.0531);  // then a fast chunk
  EXPECT_FALSE(p.ShouldCompress(kChunk, 0));
}

TEST(CompressionPacer, TheTimeSpentOnAChunkIsNotWaiting) {
  // Chunks that take the writer 4 ms each and follow one another at once:
  // the writer never waits, whatever the wall clock between arrivals.
  CompressionPacer p = Learned(0.003);
  p.Begin(0);
  double now = 0;
  for (int i = 0; i < 10; ++i) {
    p.Arrived(now);
    now += 0.004;
    p.Returned(now);
  }
  EXPECT_EQ(p.idle_credit_s(), 0);
  EXPECT_FALSE(p.ShouldCompress(kChunk, 0));
}

TEST(CompressionPacer, EveryCompressionSpendsTheBank) {
  // A compression the busy disk asked for takes the writer's time too.
  CompressionPacer p = Learned(0.003);
  p.Begin(0);
  p.Arrived(0.002);
  ASSERT_TRUE(p.ShouldCompress(kChunk, 100 * uint64_t{kChunk}));  // the backlog rule
  p.Compressed(kChunk, 0.003, 100 * uint64_t{kChunk});
  p.Returned(0.005);
  p.Arrived(0.008);  // 3 ms more banked: 2 ms in all
  EXPECT_NEAR(p.idle_credit_s(), 0.002, 1e-9);
  EXPECT_FALSE(p.ShouldCompress(kChunk, 0));
}

TEST(CompressionPacer, EachCheckpointStartsWithNothingBanked) {
  CompressionPacer p = Learned(0.003);
  p.Begin(0);
  p.Arrived(0.010);
  ASSERT_GT(p.idle_credit_s(), 0.002);
  p.Begin(2000);
  p.Arrived(2000.0001);
  EXPECT_FALSE(p.ShouldCompress(kChunk, 0));
}

TEST(CompressionPacer, AChunkCompressedWithoutAskingTeachesNothingOfTheDisk) {
  // The writer compresses a small checkpoint whole without asking; that
  // compression's backlog says nothing of the disk's pace.
  CompressionPacer p(kChunk);
  p.Begin(0);
  p.Arrived(0);
  ASSERT_TRUE(p.ShouldCompress(kChunk, 8 * kChunk));
  p.Compressed(kChunk, 0.003, 6 * kChunk);
  const uint64_t learned = p.backlog_needed();
  p.Arrived(0);
  p.Compressed(kChunk, 0.003, 0);  // a disk "run dry" would double it
  EXPECT_EQ(p.backlog_needed(), learned);
}

}  // namespace
}  // namespace ckpt
