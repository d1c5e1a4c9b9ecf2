// Uniform host chunks (every byte the same: the zeros of frozen parameters'
// optimizer state) are found in place with compression on or auto: never
// copied to staging, stored as one small frame, restored bit for bit. With
// compression off, and for device memory, every chunk is copied as before.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "ckpt/client.h"
#include "counting_client.h"
#include "engine/chunk_codec.h"
#include "engine/chunk_hash.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::CheckpointDurably;
using ckpt::testing::CountingClient;
using ckpt::testing::kChunk;
using ckpt::testing::ScratchDir;

constexpr size_t kChunks = 8;

Options TestOptions(const ScratchDir& dir, Compression compression) {
  Options o = ckpt::testing::SmallClientOptions(dir);
  o.staging_bytes = 4 * kChunk;  // smaller than the region: chunks flow through
  o.compression = compression;
  return o;
}

// Eight chunks: zeros (0, 2), all 0xFF (5), zeros but the very last byte (7),
// and random bytes (1, 3, 4, 6).
std::vector<uint8_t> MixedRegion() {
  std::vector<uint8_t> data = ckpt::testing::RandomBytes(kChunks * kChunk, 11);
  std::memset(data.data() + 0 * kChunk, 0, kChunk);
  std::memset(data.data() + 2 * kChunk, 0, kChunk);
  std::memset(data.data() + 5 * kChunk, 0xFF, kChunk);
  std::memset(data.data() + 7 * kChunk, 0, kChunk);
  data[8 * kChunk - 1] = 1;
  return data;
}

// Restores the latest checkpoint into `data` (scribbled over first) and
// expects it to equal `saved`.
void ExpectRestores(Client& c, std::vector<uint8_t>& data, const std::vector<uint8_t>& saved) {
  std::memset(data.data(), 0x5A, data.size());
  auto step = c.restore();
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_TRUE(data == saved);
}

TEST(UniformChunkInPlace, IsNotCopiedWithCompressionAutoOrOn) {
  for (Compression compression : {Compression::kAuto, Compression::kZstd}) {
    SCOPED_TRACE(compression == Compression::kAuto ? "auto" : "on");
    ScratchDir dir;
    auto data = MixedRegion();
    const auto saved = data;
    CountingClient cc(TestOptions(dir, compression));
    ASSERT_NE(cc.client, nullptr);
    ASSERT_TRUE(cc.client->protect("adam", data.data(), data.size(), ElementType::kFloat32).ok());
    const CheckpointStats s = CheckpointDurably(*cc.client, 1);
    EXPECT_EQ(cc.copies(), kChunks - 3);  // chunks 0, 2 and 5 found in place
    EXPECT_EQ(s.chunks, kChunks);
    EXPECT_EQ(s.new_chunks, kChunks - 1);  // the two zero chunks are one
    // Four random chunks raw; the uniform ones and chunk 7 a few bytes each.
    EXPECT_LT(s.written_bytes, 4 * kChunk + 64 * 1024);
    ExpectRestores(*cc.client, data, saved);
  }
}

TEST(UniformChunkInPlace, CompressionOffCopiesAndStoresEveryChunkAsItIs) {
  ScratchDir dir;
  auto data = MixedRegion();
  const auto saved = data;
  CountingClient cc(TestOptions(dir, Compression::kOff));
  ASSERT_NE(cc.client, nullptr);
  ASSERT_TRUE(cc.client->protect("adam", data.data(), data.size(), ElementType::kFloat32).ok());
  const CheckpointStats s = CheckpointDurably(*cc.client, 1);
  EXPECT_EQ(cc.copies(), kChunks);
  EXPECT_GE(s.written_bytes, (kChunks - 1) * kChunk);  // raw: one copy of zeros, deduplicated
  ExpectRestores(*cc.client, data, saved);
}

TEST(UniformChunkInPlace, DeviceMemoryIsCopiedAndTheWriterStillShrinksIt) {
  ScratchDir dir;
  auto data = MixedRegion();
  const auto saved = data;
  CountingClient cc(TestOptions(dir, Compression::kAuto), /*simulate_device=*/true);
  ASSERT_NE(cc.client, nullptr);
  ASSERT_TRUE(cc.client->protect("adam", data.data(), data.size(), ElementType::kFloat32).ok());
  const CheckpointStats s = CheckpointDurably(*cc.client, 1);
  EXPECT_EQ(cc.copies(), kChunks);
  EXPECT_LT(s.written_bytes, 4 * kChunk + 64 * 1024);
  ExpectRestores(*cc.client, data, saved);
}

TEST(UniformChunkInPlace, AChunkThatBecomesUniformIsNotCopiedInTheIncrement) {
  ScratchDir dir;
  auto data = ckpt::testing::RandomBytes(kChunks * kChunk, 12);
  CountingClient cc(TestOptions(dir, Compression::kAuto));
  ASSERT_NE(cc.client, nullptr);
  ASSERT_TRUE(cc.client->protect("adam", data.data(), data.size(), ElementType::kFloat32).ok());
  CheckpointDurably(*cc.client, 1);
  ASSERT_EQ(cc.copies(), kChunks);
  std::memset(data.data() + 4 * kChunk, 0, kChunk);  // chunk 4 zeroed (say, a layer frozen)
  data[6 * kChunk] ^= 1;                              // chunk 6 changed
  const auto saved = data;
  const CheckpointStats s = CheckpointDurably(*cc.client, 2);
  EXPECT_EQ(cc.copies(), kChunks + 1);  // only chunk 6
  EXPECT_EQ(s.new_chunks, 2u);
  ExpectRestores(*cc.client, data, saved);
}

TEST(UniformChunkInPlace, TheCheckpointHoldsTheBytesAsTheyWereWhenTheCopyWasDone) {
  ScratchDir dir;
  std::vector<uint8_t> data(kChunks * kChunk, 0);
  CountingClient cc(TestOptions(dir, Compression::kAuto));
  ASSERT_NE(cc.client, nullptr);
  ASSERT_TRUE(cc.client->protect("adam", data.data(), data.size(), ElementType::kFloat32).ok());
  auto t = cc.client->checkpoint(1);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_TRUE(t->wait_copied().ok()) << t->status().ToString();
  std::memset(data.data(), 7, data.size());  // training goes on
  ASSERT_TRUE(t->wait_durable().ok()) << t->status().ToString();
  EXPECT_EQ(cc.copies(), 0u);
  ExpectRestores(*cc.client, data, std::vector<uint8_t>(kChunks * kChunk, 0));
}

TEST(UniformChunkInPlace, ItsHashIsTheHashOfItsBytes) {
  // What lets a uniform chunk found in place be deduplicated against the
  // same bytes copied from a device, and verified on restore.
  for (size_t size : {size_t{1}, size_t{100}, size_t{64} << 10, (size_t{64} << 10) + 1, size_t{4} << 20,
                      (size_t{4} << 20) - 3}) {
    for (uint8_t byte : {uint8_t{0}, uint8_t{0xAB}}) {
      const std::vector<uint8_t> bytes(size, byte);
      EXPECT_EQ(HashUniformChunk(byte, size), HashChunk(bytes.data(), size)) << size << " " << int{byte};
    }
  }
}

TEST(UniformChunkInPlace, ItsEncodingDecodesToItsBytes) {
  for (Compression compression : {Compression::kAuto, Compression::kZstd}) {
    ChunkEncoder encoder(compression, 1);
    std::vector<uint8_t> out(ChunkEncoder::MaxPayloadBytes(size_t{4} << 20));
    for (size_t size : {size_t{4} << 20, size_t{5000}, size_t{10}}) {
      for (uint8_t* into : {static_cast<uint8_t*>(nullptr), out.data()}) {
        SCOPED_TRACE(std::to_string(size) + (into ? " into a buffer" : ""));
        auto e = encoder.EncodeUniform(0xC3, size, into);
        ASSERT_TRUE(e.ok()) << e.status().ToString();
        // Ten bytes cannot shrink by 1/64: stored as they are.
        EXPECT_EQ(e->codec, size == 10 ? Codec::kRaw : Codec::kZstd);
        EXPECT_LT(e->payload.size(), size == 10 ? 11u : 1024u);
        std::vector<uint8_t> decoded(size, 0);
        ChunkDecoder decoder;
        ASSERT_TRUE(decoder.Decode(e->codec, e->plane_width, e->payload, decoded.data(), size).ok());
        EXPECT_TRUE(decoded == std::vector<uint8_t>(size, 0xC3));
      }
    }
  }
  ChunkEncoder off(Compression::kOff, 1);
  EXPECT_EQ(off.EncodeUniform(0, 4096, nullptr).status().code(), Status::Code::kFailedPrecondition);
}

}  // namespace
}  // namespace ckpt
