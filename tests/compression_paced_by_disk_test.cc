// kAuto's default pacing: a chunk is compressed only while the disk has
// enough writes queued to stay busy meanwhile, so compression never leaves
// the disk waiting (Options::auto_compression_mbps = 0). The disk's backlog
// comes from SegmentWriter::BytesInFlight; PacedDiskEnv sets how busy the
// disk looks.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ckpt/client.h"
#include "paced_disk_env.h"
#include "store/segment_writer.h"
#include "segment_test_util.h"
#include "test_util.h"

namespace ckpt {
namespace {

using testing::FloatWeights;
using testing::OpenClient;
using testing::PacedDiskEnv;
using testing::RandomBytes;
using testing::RawHeaderFor;
using testing::ScratchDir;

TEST(SegmentWriterBacklog, CountsSubmittedWritesUntilTheyComplete) {
  ScratchDir dir;
  PacedDiskEnv env(PacedDiskEnv::Disk::kBusy);
  SegmentWriterOptions o;
  o.buffer_bytes = 64 << 10;
  o.queue_depth = 4;
  o.env = &env;
  auto w = SegmentWriter::Create(o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Start(dir.Sub("a.seg")).ok());
  EXPECT_EQ((*w)->in_flight_capacity(), 4u * (64 << 10));

  // Less than a buffer: nothing handed to the disk yet.
  const auto small = RandomBytes(1000, 1);
  ASSERT_TRUE((*w)->Append(RawHeaderFor(small), small.data(), small.size()).ok());
  EXPECT_EQ((*w)->bytes_submitted(), 0u);
  EXPECT_EQ((*w)->BytesInFlight(), 0u);

  // Two and a half buffers more: two whole buffers go to the (busy) disk.
  const auto big = RandomBytes(size_t{160} << 10, 2);
  ASSERT_TRUE((*w)->Append(RawHeaderFor(big), big.data(), big.size()).ok());
  EXPECT_EQ((*w)->bytes_submitted(), 2u * (64 << 10));
  EXPECT_EQ((*w)->BytesInFlight(), 2u * (64 << 10));

  // The disk catches up: the next poll sees both complete.
  env.set_disk(PacedDiskEnv::Disk::kIdle);
  EXPECT_EQ((*w)->BytesInFlight(), 0u);
  auto size = (*w)->Finish();
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ((*w)->BytesInFlight(), 0u);
}

// 16 chunks of 1 MiB of float weights (kAuto compresses them about 1.19x).
struct PacedRun {
  CheckpointStats stats;
  bool restored_exactly = false;
};

// Checkpoints `w` as one float32 region of 1 MiB chunks through a disk that
// looks `disk`, then restores it over a scribbled copy.
PacedRun CheckpointFloats(PacedDiskEnv::Disk disk, Compression compression, std::vector<float> w,
                          uint32_t mbps = 0) {
  ScratchDir dir;
  PacedDiskEnv env(disk);
  Options o;
  o.store_dir = dir.Sub("store");
  o.job = "job";
  o.chunk_bytes = size_t{1} << 20;
  o.staging_bytes = size_t{4} << 20;
  o.compression = compression;
  o.auto_compression_mbps = mbps;
  o.store.env = &env;
  PacedRun run;
  auto c = OpenClient(o);
  if (!c) return run;
  const std::vector<float> saved = w;
  EXPECT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32).ok());
  auto t = c->checkpoint(1);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return run;
  Status s = t->wait_durable();
  EXPECT_TRUE(s.ok()) << s.ToString();
  run.stats = t->stats();
  std::memset(w.data(), 0x5A, w.size() * 4);
  auto restored = c->restore();
  EXPECT_TRUE(restored.ok()) << restored.status().ToString();
  run.restored_exactly = w == saved;
  return run;
}

PacedRun CheckpointWeights(PacedDiskEnv::Disk disk, Compression compression, uint32_t mbps = 0) {
  return CheckpointFloats(disk, compression, FloatWeights(size_t{4} << 20, 9), mbps);  // 16 MiB
}

TEST(CompressionPacedByDisk, ABusyDiskGetsChunksCompressedOnceWritesAreQueued) {
  // The first chunks go raw to give the disk work; once two chunks' worth
  // are queued and never complete, every later chunk is compressed.
  const PacedRun run = CheckpointWeights(PacedDiskEnv::Disk::kBusy, Compression::kAuto);
  EXPECT_TRUE(run.restored_exactly);
  EXPECT_EQ(run.stats.logical_bytes, size_t{16} << 20);
  EXPECT_LT(run.stats.written_bytes, run.stats.logical_bytes * 88 / 100);
}

TEST(CompressionPacedByDisk, AnIdleDiskGetsRawChunks) {
  const PacedRun busy = CheckpointWeights(PacedDiskEnv::Disk::kBusy, Compression::kAuto);
  const PacedRun idle = CheckpointWeights(PacedDiskEnv::Disk::kIdle, Compression::kAuto);
  EXPECT_TRUE(idle.restored_exactly);
  // Every write completes at once, so no chunk finds a backlog to hide its
  // compression behind: all go raw (plus the padding that puts each payload
  // on a 4 KiB boundary, for writing it from its staging slot).
  EXPECT_GE(idle.stats.written_bytes, idle.stats.logical_bytes);
  EXPECT_LE(idle.stats.written_bytes, idle.stats.logical_bytes + 16 * 4096);
  EXPECT_GT(idle.stats.written_bytes, busy.stats.written_bytes);
}

TEST(CompressionPacedByDisk, AnIdleDiskStillGetsUniformChunksCompressed) {
  // Half of the chunks are each one byte repeated (the optimizer state of
  // frozen parameters is all zeros), a different byte each so that none is a
  // duplicate of another; the first of them opens the checkpoint, before
  // anything is queued. They cost less to compress than to write, so even
  // an idle disk gets them compressed; the weights between them go raw.
  constexpr size_t kChunkFloats = size_t{1} << 18;  // 1 MiB
  std::vector<float> w = FloatWeights(16 * kChunkFloats, 9);
  for (size_t c = 0; c < 16; c += 2)
    std::memset(w.data() + c * kChunkFloats, static_cast<int>(c * 7), kChunkFloats * sizeof(float));
  const PacedRun run = CheckpointFloats(PacedDiskEnv::Disk::kIdle, Compression::kAuto, w);
  EXPECT_TRUE(run.restored_exactly);
  EXPECT_EQ(run.stats.logical_bytes, size_t{16} << 20);
  // The 8 raw chunks and their padding; the 8 uniform ones take a few
  // hundred bytes each.
  EXPECT_GE(run.stats.written_bytes, size_t{8} << 20);
  EXPECT_LE(run.stats.written_bytes, (size_t{8} << 20) + 16 * 4096);
}

TEST(CompressionPacedByDisk, AFixedTargetSpeedIgnoresTheDisk) {
  // auto_compression_mbps = 1: the encoder's own budget allows every chunk,
  // however idle the disk.
  const PacedRun run = CheckpointWeights(PacedDiskEnv::Disk::kIdle, Compression::kAuto, 1);
  EXPECT_TRUE(run.restored_exactly);
  EXPECT_LT(run.stats.written_bytes, run.stats.logical_bytes * 88 / 100);
}

TEST(CompressionPacedByDisk, OnCompressesWhateverTheDisk) {
  const PacedRun run = CheckpointWeights(PacedDiskEnv::Disk::kIdle, Compression::kZstd);
  EXPECT_TRUE(run.restored_exactly);
  EXPECT_LT(run.stats.written_bytes, run.stats.logical_bytes * 88 / 100);
}

}  // namespace
}  // namespace ckpt
