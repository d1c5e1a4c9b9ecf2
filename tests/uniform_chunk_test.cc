// Uniform chunks (every byte the same: zeros, mostly) under kAuto: found
// exactly, stored as one small zstd frame whatever the pacing, and restored
// bit for bit. A chunk that differs in one byte is no uniform chunk.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine/chunk_codec.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::FloatWeights;

std::vector<uint8_t> Filled(size_t size, uint8_t byte) { return std::vector<uint8_t>(size, byte); }

std::vector<uint8_t> Decoded(const EncodedChunk& e, size_t size) {
  ChunkDecoder decoder;
  std::vector<uint8_t> out(size, 0xEE);
  Status s = decoder.Decode(e.codec, e.plane_width, e.payload, out.data(), size);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(UniformChunk, IsEveryByteTheSame) {
  EXPECT_TRUE(IsUniformChunk(Filled(1, 0).data(), 1));
  EXPECT_TRUE(IsUniformChunk(Filled(4 << 20, 0).data(), 4 << 20));
  EXPECT_TRUE(IsUniformChunk(Filled(4099, 0x7F).data(), 4099));
  EXPECT_FALSE(IsUniformChunk(Filled(1, 0).data(), 0));  // nothing to store
  for (size_t at : {size_t{0}, size_t{1}, size_t{2048}, size_t{4097}, size_t{4098}}) {
    auto data = Filled(4099, 0);
    data[at] = 1;
    EXPECT_FALSE(IsUniformChunk(data.data(), data.size())) << at;
  }
}

TEST(UniformChunk, AutoStoresItAsOneSmallZstdFrameAtEveryWidth) {
  for (size_t width : {size_t{1}, size_t{2}, size_t{4}, size_t{8}}) {
    for (uint8_t byte : {uint8_t{0}, uint8_t{0x3F}}) {
      SCOPED_TRACE("width " + std::to_string(width) + " byte " + std::to_string(byte));
      const auto data = Filled(4 << 20, byte);
      ChunkEncoder encoder(Compression::kAuto, 1);
      auto e = encoder.Encode(data.data(), data.size(), width);
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      EXPECT_EQ(e->codec, Codec::kZstd);
      EXPECT_EQ(e->plane_width, 0);  // no byte planes: one run of one byte
      EXPECT_LT(e->payload.size(), 1024u);
      EXPECT_EQ(Decoded(*e, data.size()), data);
    }
  }
}

TEST(UniformChunk, PacedAutoCompressesItEvenWhenBehindItsTarget) {
  // No encoder reaches 4e15 bytes/s: after the first float chunk, every
  // other float chunk goes raw, but a uniform one is still compressed.
  ChunkEncoder encoder(Compression::kAuto, 1, 0xffffffffu);
  const std::vector<float> w = FloatWeights(size_t{1} << 18, 3);
  const auto* floats = reinterpret_cast<const uint8_t*>(w.data());
  const size_t bytes = w.size() * sizeof(float);
  ASSERT_EQ(encoder.Encode(floats, bytes, 4)->codec, Codec::kPlanes);
  ASSERT_EQ(encoder.Encode(floats, bytes, 4)->codec, Codec::kRaw);
  const auto zeros = Filled(bytes, 0);
  auto e = encoder.Encode(zeros.data(), zeros.size(), 4);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->codec, Codec::kZstd);
  EXPECT_EQ(Decoded(*e, zeros.size()), zeros);
}

TEST(UniformChunk, OneDifferentByteAnywhereSurvivesTheRoundTrip) {
  // Nearly uniform chunks take the ordinary path; the odd byte must come back.
  for (size_t at : {size_t{0}, size_t{12345}, (size_t{1} << 20) - 1}) {
    SCOPED_TRACE(at);
    auto data = Filled(1 << 20, 0);
    data[at] = 0x80;
    ChunkEncoder encoder(Compression::kAuto, 1);
    auto e = encoder.Encode(data.data(), data.size(), 4);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_LT(e->payload.size(), data.size());
    EXPECT_EQ(Decoded(*e, data.size()), data);
  }
}

}  // namespace
}  // namespace ckpt
