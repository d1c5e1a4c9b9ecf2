// A raw chunk goes to disk straight from its staging slot, which the writer
// gives back to the pool when the write is over (client.cc, ProcessLoop).
// However small the pool, checkpoints keep going and restore the bytes
// saved. (Slots are 4 KiB-aligned: chunk_bytes must be a multiple of 4096.)
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "store/segment_writer.h"
#include "test_util.h"

namespace ckpt {
namespace {

using testing::FlipByte;
using testing::FloatWeights;
using testing::OpenClient;
using testing::RandomBytes;
using testing::ScratchDir;

constexpr size_t kLendable = SegmentWriter::kMinBorrowedBytes;

Options StagingOptions(const ScratchDir& dir, size_t chunk, size_t slots, Compression compression) {
  Options o;
  o.store_dir = dir.Sub("store");
  o.job = "job";
  o.chunk_bytes = chunk;
  o.staging_bytes = slots * chunk;
  o.compression = compression;
  return o;
}

// Checkpoints `steps` versions of `bytes` of data and restores each.
void CheckpointAndRestoreEach(const Options& o, size_t bytes, int steps) {
  auto c = OpenClient(o);
  ASSERT_NE(c, nullptr);
  std::vector<uint8_t> data = RandomBytes(bytes, 1);
  // Half of it compresses (float weights), so kAuto mixes both kinds of chunk.
  const std::vector<float> weights = FloatWeights(bytes / 8, 2);
  std::memcpy(data.data(), weights.data(), bytes / 2);
  ASSERT_TRUE(c->protect("data", data.data(), data.size(), ElementType::kFloat32).ok());
  std::vector<std::vector<uint8_t>> saved;
  for (int step = 1; step <= steps; ++step) {
    for (size_t i = static_cast<size_t>(step) * 4096; i < data.size(); i += 3 * o.chunk_bytes) data[i] ^= 0x5A;
    auto t = c->checkpoint(static_cast<uint64_t>(step));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_TRUE(t->wait_durable().ok()) << "step " << step;
    saved.push_back(data);
  }
  for (int step = 1; step <= steps; ++step) {
    std::memset(data.data(), 0, data.size());
    auto r = c->restore(static_cast<uint64_t>(step));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(data == saved[static_cast<size_t>(step) - 1]) << "step " << step << " restored other bytes";
  }
}

TEST(WritesFromStaging, ATwoSlotPoolKeepsCheckpointing) {
  // One slot may be lent to the writer, the other stays with the copier.
  ScratchDir dir;
  CheckpointAndRestoreEach(StagingOptions(dir, kLendable, 2, Compression::kOff), 32 * kLendable, 3);
}

TEST(WritesFromStaging, AutoCompressionMixesLentRawAndCopiedCompressedChunks) {
  ScratchDir dir;
  CheckpointAndRestoreEach(StagingOptions(dir, 2 * kLendable, 6, Compression::kAuto), 32 * kLendable, 3);
}

TEST(WritesFromStaging, ADamagedPayloadReadWithoutItsHeaderIsStillCaught) {
  // A payload on a 4 KiB boundary is read alone (chunk_reader.cc): the
  // checksum and content hash from the index must still catch damage.
  ScratchDir dir;
  const Options o = StagingOptions(dir, kLendable, 4, Compression::kOff);
  std::vector<uint8_t> data = RandomBytes(8 * kLendable, 3);
  {
    auto c = OpenClient(o);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->protect("data", data.data(), data.size(), ElementType::kBytes).ok());
    auto t = c->checkpoint(1);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->wait_durable().ok());
  }
  std::string segment;
  for (const auto& e : std::filesystem::directory_iterator(o.store_dir + "/segments")) segment = e.path();
  ASSERT_FALSE(segment.empty());
  // Each record: a 4 KiB block ending with its header, then its payload.
  ASSERT_NO_FATAL_FAILURE(FlipByte(segment, 3 * (4096 + kLendable) + 4096 + 12345, 0x01));  // inside a payload
  auto c = OpenClient(o);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->protect("data", data.data(), data.size(), ElementType::kBytes).ok());
  auto r = c->restore(1);
  ASSERT_FALSE(r.ok()) << "a flipped payload bit was restored";
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << r.status().ToString();
}

}  // namespace
}  // namespace ckpt
