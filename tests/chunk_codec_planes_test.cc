// The per-plane codec (codec 2) and Compression::kAuto's per-plane decisions:
// round trips at every width and size, decisions on random and float data,
// damaged plane tables, and that records written by older codecs still decode.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/chunk_codec.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::FloatWeights;
using ckpt::testing::RandomBytes;

// Trained-weight-like values in `width`-byte floats: bf16 (2), fp32 (4), fp64 (8).
std::vector<uint8_t> Floats(size_t width, size_t bytes, uint64_t seed) {
  const size_t count = bytes / width + 1;
  const std::vector<float> w = FloatWeights(count, seed);
  std::vector<uint8_t> out(count * width);
  for (size_t i = 0; i < count; ++i) {
    uint8_t* p = out.data() + i * width;
    if (width == 8) {
      const double d = w[i];
      std::memcpy(p, &d, 8);
    } else if (width == 4) {
      std::memcpy(p, &w[i], 4);
    } else {
      std::memcpy(p, reinterpret_cast<const uint8_t*>(&w[i]) + 2, 2);  // bf16: the high half
    }
  }
  out.resize(bytes);  // odd sizes end inside an element
  return out;
}

std::vector<uint8_t> RoundTrip(const EncodedChunk& e, size_t size) {
  ChunkDecoder decoder;
  std::vector<uint8_t> out(size);
  Status s = decoder.Decode(e.codec, e.plane_width, e.payload, out.data(), size);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<PlaneEntry> Table(const EncodedChunk& e, size_t size) {
  auto t = ParsePlaneTable(e.payload, e.plane_width, size);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : std::vector<PlaneEntry>{};
}

TEST(ChunkCodecPlanes, EveryModeRoundTripsEveryWidthAndSize) {
  for (Compression c : {Compression::kOff, Compression::kZstd, Compression::kAuto}) {
    for (size_t width : {size_t{1}, size_t{2}, size_t{4}, size_t{8}}) {
      for (size_t size : {size_t{0}, size_t{1}, size_t{7}, size_t{4095}, size_t{4096}, size_t{65537},
                          size_t{1} << 20}) {
        SCOPED_TRACE(std::to_string(static_cast<int>(c)) + " width " + std::to_string(width) + " size " +
                     std::to_string(size));
        ChunkEncoder encoder(c, 1);
        for (const auto& data : {Floats(width == 1 ? 4 : width, size, size + width), RandomBytes(size, 3)}) {
          auto e = encoder.Encode(data.data(), data.size(), width);
          ASSERT_TRUE(e.ok()) << e.status().ToString();
          EXPECT_LE(e->payload.size(), data.size());
          EXPECT_EQ(RoundTrip(*e, data.size()), data);
        }
      }
    }
  }
}

TEST(ChunkCodecPlanes, AutoStoresRandomBytesRaw) {
  for (size_t width : {size_t{1}, size_t{2}, size_t{4}, size_t{8}}) {
    SCOPED_TRACE(width);
    const auto data = RandomBytes(1 << 20, 4);
    ChunkEncoder encoder(Compression::kAuto, 1);
    auto e = encoder.Encode(data.data(), data.size(), width);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->codec, Codec::kRaw);
    EXPECT_EQ(e->plane_width, 0);
    EXPECT_EQ(e->payload.data(), reinterpret_cast<const char*>(data.data()));  // not even copied
  }
}

TEST(ChunkCodecPlanes, AutoCompressesTheExponentPlaneOfFloat32AndLeavesLowMantissaRaw) {
  const auto data = Floats(4, 4 << 20, 5);
  ChunkEncoder encoder(Compression::kAuto, 1);
  auto e = encoder.Encode(data.data(), data.size(), 4);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->codec, Codec::kPlanes);
  ASSERT_EQ(e->plane_width, 4);
  const auto t = Table(*e, data.size());
  ASSERT_EQ(t.size(), 4u);
  EXPECT_FALSE(t[0].zstd);  // low mantissa bytes: noise
  EXPECT_FALSE(t[1].zstd);
  EXPECT_TRUE(t[3].zstd);   // sign and exponent
  EXPECT_LT(t[3].stored, data.size() / 4 * 3 / 4);
  EXPECT_LT(e->payload.size(), data.size());
  EXPECT_EQ(RoundTrip(*e, data.size()), data);
}

TEST(ChunkCodecPlanes, AutoCompressesTheExponentPlaneOfBfloat16) {
  const auto data = Floats(2, 1 << 20, 6);
  ChunkEncoder encoder(Compression::kAuto, 1);
  auto e = encoder.Encode(data.data(), data.size(), 2);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->codec, Codec::kPlanes);
  const auto t = Table(*e, data.size());
  ASSERT_EQ(t.size(), 2u);
  EXPECT_FALSE(t[0].zstd);
  EXPECT_TRUE(t[1].zstd);
  EXPECT_EQ(RoundTrip(*e, data.size()), data);
}

TEST(ChunkCodecPlanes, AutoStoresAnOddSizedTailRaw) {
  const auto data = Floats(4, (1 << 20) + 3, 7);
  ChunkEncoder encoder(Compression::kAuto, 1);
  auto e = encoder.Encode(data.data(), data.size(), 4);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->codec, Codec::kPlanes);
  EXPECT_EQ(0, std::memcmp(e->payload.data() + e->payload.size() - 3, data.data() + data.size() - 3, 3));
  EXPECT_EQ(RoundTrip(*e, data.size()), data);
}

TEST(ChunkCodecPlanes, AutoSeesCompressibleDataAnywhereInTheChunk) {
  // Zeros in the first half, noise in the second: the sample spans both.
  auto data = RandomBytes(1 << 20, 8);
  std::memset(data.data(), 0, data.size() / 2);
  ChunkEncoder encoder(Compression::kAuto, 1);
  auto e = encoder.Encode(data.data(), data.size(), 4);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->codec, Codec::kPlanes);
  EXPECT_LT(e->payload.size(), data.size() * 3 / 4);
  EXPECT_EQ(RoundTrip(*e, data.size()), data);
}

TEST(ChunkCodecPlanes, PacedAutoStoresChunksRawWhileBehindItsTarget) {
  const auto data = Floats(4, 1 << 20, 11);
  // No encoder reaches 4e15 bytes/s: after the first chunk it stays behind.
  ChunkEncoder fast_target(Compression::kAuto, 1, 0xffffffffu);
  auto first = fast_target.Encode(data.data(), data.size(), 4);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->codec, Codec::kPlanes);
  for (int i = 0; i < 3; ++i) {
    auto next = fast_target.Encode(data.data(), data.size(), 4);
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(next->codec, Codec::kRaw);
    EXPECT_EQ(RoundTrip(*next, data.size()), data);
  }
  // Every encoder keeps up with 1 MB/s: nothing is skipped.
  ChunkEncoder slow_target(Compression::kAuto, 1, 1);
  for (int i = 0; i < 4; ++i) {
    auto e = slow_target.Encode(data.data(), data.size() / 4, 4);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->codec, Codec::kPlanes);
  }
}

// A valid per-plane payload to damage: fp32 weights, exponent plane compressed.
struct Sample {
  std::vector<uint8_t> data = Floats(4, 64 << 10, 9);
  std::string payload;
  Sample() {
    ChunkEncoder encoder(Compression::kAuto, 1);
    auto e = encoder.Encode(data.data(), data.size(), 4);
    EXPECT_TRUE(e.ok() && e->codec == Codec::kPlanes);
    if (e.ok()) payload = std::string(e->payload);
  }
  Status Decode(std::string_view p, uint8_t width = 4) const {
    ChunkDecoder decoder;
    std::vector<uint8_t> out(data.size() + 16, 0xAB);
    Status s = decoder.Decode(Codec::kPlanes, width, p, out.data(), data.size());
    for (size_t k = data.size(); k < out.size(); ++k)
      if (out[k] != 0xAB) return Status::FailedPrecondition("decoder wrote past the chunk");
    return s;
  }
};

TEST(ChunkCodecPlanes, BadPlaneWidthIsCorruption) {
  const Sample s;
  for (uint8_t width : {0, 1, 3, 16})
    EXPECT_EQ(s.Decode(s.payload, width).code(), Status::Code::kCorruption) << int{width};
}

TEST(ChunkCodecPlanes, UnknownPlaneModeIsCorruption) {
  const Sample s;
  std::string bad = s.payload;
  bad[0] = 2;
  const Status st = s.Decode(bad);
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("mode"), std::string::npos) << st.ToString();
}

TEST(ChunkCodecPlanes, PlaneLengthsOutOfRangeAreCorruption) {
  const Sample s;
  for (uint32_t len : {0u, 1u, 16383u, 16385u, 0xffffffffu}) {
    for (size_t plane : {size_t{0}, size_t{3}}) {
      SCOPED_TRACE(std::to_string(plane) + ": " + std::to_string(len));
      std::string bad = s.payload;
      for (int i = 0; i < 4; ++i) bad[plane * kPlaneEntryBytes + 1 + i] = static_cast<char>(len >> (8 * i));
      EXPECT_EQ(s.Decode(bad).code(), Status::Code::kCorruption);
    }
  }
}

TEST(ChunkCodecPlanes, RawPlaneMarkedCompressedIsCorruption) {
  const Sample s;
  std::string bad = s.payload;
  bad[0] = 1;  // plane 0 holds raw bytes, not a zstd frame
  EXPECT_EQ(s.Decode(bad).code(), Status::Code::kCorruption);
}

TEST(ChunkCodecPlanes, TruncatedOrExtendedPayloadIsCorruption) {
  const Sample s;
  for (size_t keep : {size_t{0}, size_t{4}, size_t{19}, size_t{20}, s.payload.size() / 2, s.payload.size() - 1})
    EXPECT_EQ(s.Decode(std::string_view(s.payload).substr(0, keep)).code(), Status::Code::kCorruption) << keep;
  EXPECT_EQ(s.Decode(s.payload + "x").code(), Status::Code::kCorruption);
}

TEST(ChunkCodecPlanes, AnyBitFlipDecodesSafely) {
  const Sample s;
  size_t corrupt = 0;
  for (size_t i = 0; i < s.payload.size(); i += 7) {
    std::string bad = s.payload;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    const Status st = s.Decode(bad);
    ASSERT_TRUE(st.ok() || st.code() == Status::Code::kCorruption) << i << ": " << st.ToString();
    if (!st.ok()) ++corrupt;
  }
  EXPECT_GT(corrupt, 0u);
  EXPECT_TRUE(s.Decode(s.payload).ok());
}

// Stores written before codec 2 existed hold codec 0 and 1 records; the bytes
// below are what the codec-1 encoder wrote for this input (plane-split fp32,
// one zstd frame), so they must keep decoding.
TEST(ChunkCodecPlanes, ZstdRecordsOfEarlierStoresStillDecode) {
  const auto data = Floats(4, 64 << 10, 10);
  ChunkEncoder encoder(Compression::kZstd, 1);
  auto e = encoder.Encode(data.data(), data.size(), 4);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->codec, Codec::kZstd);
  ASSERT_EQ(e->plane_width, 4);
  const std::string frame(e->payload);
  ASSERT_EQ(frame.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));  // one zstd frame, no table
  std::vector<uint8_t> out(data.size());
  ChunkDecoder decoder;
  ASSERT_TRUE(decoder.Decode(Codec::kZstd, 4, frame, out.data(), out.size()).ok());
  EXPECT_EQ(out, data);
}

}  // namespace
}  // namespace ckpt
