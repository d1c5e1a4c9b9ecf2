// Every Options::compression mode end to end through the client: what is
// restored is what was saved, and stores written with one mode (codec 1 of
// kZstd) are read by clients that write another (codec 2 of kAuto).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::FloatWeights;
using ckpt::testing::OpenClient;
using ckpt::testing::RandomBytes;
using ckpt::testing::ScratchDir;

constexpr size_t kChunk = 64 << 10;

Options TestOptions(const ScratchDir& dir, Compression compression) {
  Options o;
  o.store_dir = dir.Sub("store");
  o.job = "job";
  o.chunk_bytes = kChunk;
  o.staging_bytes = 8 * kChunk;
  o.compression = compression;
  return o;
}

CheckpointStats Durable(Client* c, uint64_t step) {
  auto t = c->checkpoint(step);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return {};
  Status s = t->wait_durable();
  EXPECT_TRUE(s.ok()) << s.ToString();
  return t->stats();
}

// A training job's regions: fp32 weights (not a whole number of chunks),
// bf16 weights, random optimizer bytes, and a region of odd size.
struct Regions {
  std::vector<float> fp32 = FloatWeights(5 * kChunk / 4 + 3, 1);
  std::vector<uint16_t> bf16;
  std::vector<uint8_t> random = RandomBytes(3 * kChunk, 2);
  std::vector<uint8_t> odd = RandomBytes(1001, 3);
  Regions() {
    const auto f = FloatWeights(2 * kChunk / 2, 4);
    for (float v : f) {
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      bf16.push_back(static_cast<uint16_t>(bits >> 16));
    }
  }
  void Protect(Client* c) {
    ASSERT_TRUE(c->protect("fp32", fp32.data(), fp32.size() * 4, ElementType::kFloat32).ok());
    ASSERT_TRUE(c->protect("bf16", bf16.data(), bf16.size() * 2, ElementType::kBFloat16).ok());
    ASSERT_TRUE(c->protect("random", random.data(), random.size(), ElementType::kFloat32).ok());
    ASSERT_TRUE(c->protect("odd", odd.data(), odd.size(), ElementType::kBytes).ok());
  }
  void Scribble() {
    std::memset(fp32.data(), 0x5A, fp32.size() * 4);
    std::memset(bf16.data(), 0x5A, bf16.size() * 2);
    std::memset(random.data(), 0x5A, random.size());
    std::memset(odd.data(), 0x5A, odd.size());
  }
  bool operator==(const Regions& o) const {
    return fp32 == o.fp32 && bf16 == o.bf16 && random == o.random && odd == o.odd;
  }
};

TEST(CompressionModes, EveryModeRestoresExactlyTheBytesSaved) {
  for (Compression mode : {Compression::kOff, Compression::kZstd, Compression::kAuto}) {
    SCOPED_TRACE(static_cast<int>(mode));
    ScratchDir dir;
    auto c = OpenClient(TestOptions(dir, mode));
    ASSERT_TRUE(c);
    Regions r;
    r.Protect(c.get());
    const Regions saved = r;
    Durable(c.get(), 1);
    r.Scribble();
    ASSERT_TRUE(c->restore().ok());
    EXPECT_TRUE(r == saved);
  }
}

TEST(CompressionModes, PacedAutoRestoresExactlyTheBytesSaved) {
  ScratchDir dir;
  Options o = TestOptions(dir, Compression::kAuto);
  o.auto_compression_mbps = 1;  // every chunk fits the budget
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  Regions r;
  r.Protect(c.get());
  const Regions saved = r;
  const CheckpointStats stats = Durable(c.get(), 1);
  EXPECT_LT(stats.written_bytes, stats.logical_bytes);
  r.Scribble();
  ASSERT_TRUE(c->restore().ok());
  EXPECT_TRUE(r == saved);
}

TEST(CompressionModes, AutoWritesFewerBytesThanOffOnFloatWeights) {
  uint64_t written[2] = {};
  for (int i = 0; i < 2; ++i) {
    ScratchDir dir;
    auto c = OpenClient(TestOptions(dir, i == 0 ? Compression::kOff : Compression::kAuto));
    ASSERT_TRUE(c);
    std::vector<float> w = FloatWeights(8 * kChunk / 4, 5);
    ASSERT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32).ok());
    written[i] = Durable(c.get(), 1).written_bytes;
  }
  EXPECT_GE(written[0], 8 * kChunk);  // raw chunks plus record headers
  EXPECT_LT(written[1], written[0] * 9 / 10);
}

// A store written before kAuto existed holds codec 1 records; a client that
// now writes kAuto restores them, and its own checkpoints on top of them.
TEST(CompressionModes, AutoClientRestoresAStoreWrittenWithZstd) {
  ScratchDir dir;
  Regions r;
  const Regions saved = r;
  {
    auto old = OpenClient(TestOptions(dir, Compression::kZstd));
    ASSERT_TRUE(old);
    r.Protect(old.get());
    Durable(old.get(), 1);
  }
  auto c = OpenClient(TestOptions(dir, Compression::kAuto));
  ASSERT_TRUE(c);
  r.Protect(c.get());
  r.Scribble();
  ASSERT_TRUE(c->restore().ok());
  EXPECT_TRUE(r == saved);

  // Change one chunk: step 2 mixes codec 1 (unchanged) and kAuto's records.
  r.fp32[10] = 1.5f;
  const Regions step2 = r;
  Durable(c.get(), 2);
  r.Scribble();
  ASSERT_TRUE(c->restore().ok());
  EXPECT_TRUE(r == step2);
}

}  // namespace
}  // namespace ckpt
