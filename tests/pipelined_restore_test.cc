// The pipelined restore of host regions (Store::Rep::ReadChunks through the
// client): many reads in flight, records at unaligned offsets, raw and
// compressed chunks mixed, chunks spread over many segment files.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "ckpt/client.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::ScratchDir;

constexpr size_t kChunk = 64 << 10;

Options TestOptions(const ScratchDir& dir, Compression c) {
  Options o;
  o.store_dir = dir.Sub("store");
  o.job = "restore";
  o.chunk_bytes = kChunk;
  o.staging_bytes = 4 * kChunk;  // fewer slots than reads in flight would like
  o.compression = c;
  return o;
}

void Checkpoint(Client& c, uint64_t step) {
  auto t = c.checkpoint(step);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_TRUE(t->wait_durable().ok()) << t->status().ToString();
}

TEST(PipelinedRestore, RawAndCompressedChunksAtUnalignedOffsets) {
  ScratchDir dir;
  // Zero chunks compress, random ones are stored raw; a short tail chunk and
  // a tiny second region put the records at odd offsets.
  std::vector<uint8_t> a(9 * kChunk + 1000, 0);
  const auto noise = ckpt::testing::RandomBytes(a.size(), 1);
  for (size_t c = 0; c < 10; c += 2) {
    const size_t n = std::min(kChunk, a.size() - c * kChunk);
    std::memcpy(a.data() + c * kChunk, noise.data() + c * kChunk, n);
  }
  auto b = ckpt::testing::RandomBytes(333, 2);
  auto client = ckpt::testing::OpenClient(TestOptions(dir, Compression::kZstd));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->protect("b", b.data(), b.size(), ElementType::kBytes).ok());
  ASSERT_TRUE(client->protect("a", a.data(), a.size(), ElementType::kBytes).ok());
  Checkpoint(*client, 1);
  const auto want_a = a, want_b = b;
  std::memset(a.data(), 0x77, a.size());
  std::memset(b.data(), 0x77, b.size());
  auto step = client->restore();
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(a, want_a);
  EXPECT_EQ(b, want_b);
}

TEST(PipelinedRestore, ChunksSpreadOverManySegments) {
  // One chunk changes per checkpoint: the newest references chunks in 80
  // segment files, more than the reader keeps open at once.
  ScratchDir dir;
  constexpr size_t kChunks = 80;
  auto data = ckpt::testing::RandomBytes(kChunks * kChunk, 3);
  auto client = ckpt::testing::OpenClient(TestOptions(dir, Compression::kOff));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  for (size_t i = 0; i < kChunks; ++i) {
    data[i * kChunk + i] ^= 0x5A;
    Checkpoint(*client, i + 1);
  }
  const auto want = data;
  std::memset(data.data(), 0, data.size());
  auto step = client->restore();
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(*step, kChunks);
  EXPECT_EQ(data, want);
}

}  // namespace
}  // namespace ckpt
