// Incremental without copying: host chunks unchanged since the parent
// checkpoint are recognized by hashing them in place and are neither copied
// to staging nor written; changed chunks are; restore stays bit-exact.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "ckpt/client.h"
#include "counting_client.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::CheckpointDurably;
using ckpt::testing::CountingClient;
using ckpt::testing::ScratchDir;

constexpr size_t kChunk = 64 << 10;
constexpr size_t kChunks = 8;

Options TestOptions(const ScratchDir& dir) {
  Options o;
  o.store_dir = dir.Sub("store");
  o.job = "inc";
  o.chunk_bytes = kChunk;
  o.staging_bytes = 4 * kChunk;  // smaller than the region: chunks flow through
  o.compression = Compression::kOff;
  return o;
}

TEST(IncrementalInPlace, UnchangedChunksAreNeitherCopiedNorWritten) {
  ScratchDir dir;
  auto data = ckpt::testing::RandomBytes(kChunks * kChunk, 1);
  CountingClient cc(TestOptions(dir));
  ASSERT_NE(cc.client, nullptr);
  ASSERT_TRUE(cc.client->protect("w", data.data(), data.size(), ElementType::kFloat32).ok());
  CheckpointDurably(*cc.client, 1);
  EXPECT_EQ(cc.stats->to_staging.load(), kChunks);

  data[3 * kChunk + 17] ^= 0x40;  // one byte of chunk 3
  const CheckpointStats s = CheckpointDurably(*cc.client, 2);
  EXPECT_EQ(cc.stats->to_staging.load(), kChunks + 1);  // only chunk 3 copied
  EXPECT_EQ(s.new_chunks, 1u);
  EXPECT_GE(s.written_bytes, kChunk);
  EXPECT_LT(s.written_bytes, 2 * kChunk);

  const auto saved = data;
  std::memset(data.data(), 0, data.size());
  auto step = cc.client->restore(2);
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(data, saved);
}

TEST(IncrementalInPlace, NothingChangedCopiesNothing) {
  ScratchDir dir;
  auto data = ckpt::testing::RandomBytes(kChunks * kChunk + 4096, 2);  // a short last chunk too
  CountingClient cc(TestOptions(dir));
  ASSERT_NE(cc.client, nullptr);
  ASSERT_TRUE(cc.client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  CheckpointDurably(*cc.client, 1);
  const uint64_t first = cc.stats->to_staging.load();
  const CheckpointStats s = CheckpointDurably(*cc.client, 2);
  EXPECT_EQ(cc.stats->to_staging.load(), first);
  EXPECT_EQ(s.new_chunks, 0u);
  EXPECT_EQ(s.written_bytes, 0u);
  EXPECT_EQ(s.chunks, kChunks + 1);
}

TEST(IncrementalInPlace, AfterRestoreTheRestoredCheckpointIsTheParent) {
  ScratchDir dir;
  const auto saved = ckpt::testing::RandomBytes(kChunks * kChunk, 3);
  {
    auto data = saved;
    auto c = ckpt::testing::OpenClient(TestOptions(dir));
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
    CheckpointDurably(*c, 1);
  }
  std::vector<uint8_t> data(saved.size(), 0);
  CountingClient cc(TestOptions(dir));
  ASSERT_NE(cc.client, nullptr);
  ASSERT_TRUE(cc.client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  ASSERT_TRUE(cc.client->restore().ok());
  EXPECT_EQ(data, saved);
  data[0] ^= 1;  // chunk 0 changes
  const CheckpointStats s = CheckpointDurably(*cc.client, 2);
  EXPECT_EQ(cc.stats->to_staging.load(), 1u);
  EXPECT_EQ(s.new_chunks, 1u);
  std::vector<uint8_t> expect = data;
  std::memset(data.data(), 0xEE, data.size());
  ASSERT_TRUE(cc.client->restore(2).ok());
  EXPECT_EQ(data, expect);
}

TEST(IncrementalInPlace, DeviceRegionsAreAlwaysCopied) {
  // Device memory cannot be hashed in place by the host: every chunk goes
  // through staging (the writer still deduplicates it).
  ScratchDir dir;
  auto data = ckpt::testing::RandomBytes(kChunks * kChunk, 4);
  CountingClient cc(TestOptions(dir), /*simulate_device=*/true);
  ASSERT_NE(cc.client, nullptr);
  ASSERT_TRUE(cc.client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  CheckpointDurably(*cc.client, 1);
  const CheckpointStats s = CheckpointDurably(*cc.client, 2);
  EXPECT_EQ(cc.stats->to_staging.load(), 2 * kChunks);
  EXPECT_EQ(s.new_chunks, 0u);
}

TEST(IncrementalInPlace, ARegionOfAnotherSizeIsCopiedInFull) {
  ScratchDir dir;
  auto big = ckpt::testing::RandomBytes(kChunks * kChunk, 5);
  {
    auto c = ckpt::testing::OpenClient(TestOptions(dir));
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->protect("w", big.data(), big.size(), ElementType::kBytes).ok());
    CheckpointDurably(*c, 1);
    ASSERT_TRUE(c->restore(1).ok());  // parent: step 1
  }
  // Same name, half the size: no parent hashes apply, every chunk is copied.
  std::vector<uint8_t> half(big.begin(), big.begin() + kChunks / 2 * kChunk);
  CountingClient cc(TestOptions(dir));
  ASSERT_NE(cc.client, nullptr);
  ASSERT_TRUE(cc.client->protect("w", half.data(), half.size(), ElementType::kBytes).ok());
  CheckpointDurably(*cc.client, 2);
  EXPECT_EQ(cc.stats->to_staging.load(), kChunks / 2);
  const auto expect = half;
  std::memset(half.data(), 0, half.size());
  ASSERT_TRUE(cc.client->restore(2).ok());
  EXPECT_EQ(half, expect);
}

TEST(IncrementalInPlace, RegionsWithAndWithoutAParentKeepTheirChunksApart) {
  // Two threads hash the regions that have a parent (in_place_hasher.h) and
  // the copier takes their hashes in order, skipping the region added since
  // the parent (copied whole): each chunk must get its own hash.
  ScratchDir dir;
  auto a = ckpt::testing::RandomBytes(kChunks * kChunk + 4096, 6);  // short last chunk
  auto b = ckpt::testing::RandomBytes(3 * kChunk, 7);
  auto c = ckpt::testing::RandomBytes(kChunks * kChunk, 8);
  CountingClient cc(TestOptions(dir));
  ASSERT_NE(cc.client, nullptr);
  ASSERT_TRUE(cc.client->protect("a", a.data(), a.size(), ElementType::kBytes).ok());
  ASSERT_TRUE(cc.client->protect("b", b.data(), b.size(), ElementType::kBytes).ok());
  CheckpointDurably(*cc.client, 1);
  ASSERT_TRUE(cc.client->protect("c", c.data(), c.size(), ElementType::kBytes).ok());
  const uint64_t first = cc.stats->to_staging.load();
  a[kChunks * kChunk + 100] ^= 1;  // a's short last chunk
  a[2 * kChunk] ^= 1;              // a's chunk 2
  b[0] ^= 1;                       // b's chunk 0
  const CheckpointStats s = CheckpointDurably(*cc.client, 2);
  // Three changed chunks, and the new region's eight.
  EXPECT_EQ(cc.stats->to_staging.load() - first, 3 + kChunks);
  EXPECT_EQ(s.new_chunks, 3 + kChunks);
  const auto sa = a, sb = b, sc = c;
  for (auto* v : {&a, &b, &c}) std::memset(v->data(), 0, v->size());
  ASSERT_TRUE(cc.client->restore(2).ok());
  EXPECT_EQ(a, sa);
  EXPECT_EQ(b, sb);
  EXPECT_EQ(c, sc);
}

}  // namespace
}  // namespace ckpt
