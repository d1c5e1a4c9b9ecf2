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

TEST(CompressionPacer, ChunksComingMoreSlowlyThanTheyCompressAreCompressedOnAnIdleDisk) {
  CompressionPacer p = Learned(0.003);
  EXPECT_EQ(CompressedOf(p, 20, 0.005, 0.003), 20);
}

TEST(CompressionPacer, ChunksComingFasterThanTheyCompressGoRawOnAnIdleDisk) {
  CompressionPacer p = Learned(0.003);
  EXPECT_EQ(CompressedOf(p, 20, 0.001, 0.003), 0);
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

TEST(CompressionPacer, OneLongWaitIsNotAPace) {
  CompressionPacer p = Learned(0.003);
  p.Begin(0);
  p.Arrived(0.0005);  // fast chunks...
  p.Returned(0.0005);
  p.Arrived(0.001);
  p.Returned(0.001);
  p.Arrived(0.0060);  // ...then one 5 ms wait: smoothed to below 3 ms
  EXPECT_LT(p.chunk_gap_s(), 0.003);
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
  EXPECT_EQ(p.chunk_gap_s(), 0);
  EXPECT_FALSE(p.ShouldCompress(kChunk, 0));
}

TEST(CompressionPacer, EachCheckpointMeasuresItsOwnPace) {
  CompressionPacer p = Learned(0.003);
  ASSERT_EQ(CompressedOf(p, 5, 0.010, 0.003), 5);
  // The next checkpoint's chunks come fast: its first chunk already says so.
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
