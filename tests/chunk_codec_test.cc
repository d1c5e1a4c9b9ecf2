// Chunk encoding: byte-plane filter + zstd, raw fallback, and decoding of
// damaged payloads.
#include "engine/chunk_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ckpt/types.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::FloatWeights;
using ckpt::testing::RandomBytes;

constexpr ElementType kAllTypes[] = {
    ElementType::kBytes,   ElementType::kInt8,    ElementType::kUInt8,   ElementType::kInt16,
    ElementType::kUInt16,  ElementType::kInt32,   ElementType::kUInt32,  ElementType::kInt64,
    ElementType::kUInt64,  ElementType::kFloat16, ElementType::kBFloat16, ElementType::kFloat32,
    ElementType::kFloat64,
};

// Values as a trained model holds them, in the byte layout of `type`:
// small-magnitude normals for the float types, small integers otherwise.
std::vector<uint8_t> FloatLike(ElementType type, size_t bytes, uint64_t seed) {
  const size_t width = ElementSize(type);
  const size_t count = bytes / width;
  const std::vector<float> w = FloatWeights(count, seed);
  std::vector<uint8_t> out(count * width);
  for (size_t i = 0; i < count; ++i) {
    uint8_t* p = out.data() + i * width;
    switch (type) {
      case ElementType::kFloat32:
        std::memcpy(p, &w[i], 4);
        break;
      case ElementType::kFloat64: {
        const double d = w[i];
        std::memcpy(p, &d, 8);
        break;
      }
      case ElementType::kBFloat16: {
        uint32_t bits;
        std::memcpy(&bits, &w[i], 4);
        const uint16_t h = static_cast<uint16_t>(bits >> 16);
        std::memcpy(p, &h, 2);
        break;
      }
      case ElementType::kFloat16: {
        // Sign, a small exponent near 1e-2 and a random mantissa.
        uint32_t bits;
        std::memcpy(&bits, &w[i], 4);
        const uint16_t h = static_cast<uint16_t>(((bits >> 16) & 0x8000) | (0x2000 + ((bits >> 13) & 0x03ff)));
        std::memcpy(p, &h, 2);
        break;
      }
      default: {
        const int64_t v = static_cast<int64_t>(std::lround(w[i] * 1000.0f));
        std::memcpy(p, &v, width);  // little-endian low bytes
        break;
      }
    }
  }
  return out;
}

std::vector<uint8_t> Decode(const EncodedChunk& e, size_t raw_size, Status* status) {
  ChunkDecoder decoder;
  std::vector<uint8_t> out(raw_size);
  *status = decoder.Decode(e.codec, e.plane_width, e.payload, out.data(), raw_size);
  return out;
}

TEST(ChunkCodec, RoundTripsFloatLikeDataOfEveryElementType) {
  for (ElementType type : kAllTypes) {
    SCOPED_TRACE(std::string(ElementTypeName(type)));
    const auto data = FloatLike(type, 64 << 10, 11);
    ChunkEncoder encoder(Compression::kZstd, 1);
    auto e = encoder.Encode(data.data(), data.size(), ElementSize(type));
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    Status s;
    const auto back = Decode(*e, data.size(), &s);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(back, data);
  }
}

TEST(ChunkCodec, RoundTripsRandomDataOfEveryElementType) {
  for (ElementType type : kAllTypes) {
    SCOPED_TRACE(std::string(ElementTypeName(type)));
    const auto data = RandomBytes(64 << 10, 12);
    ChunkEncoder encoder(Compression::kZstd, 3);
    auto e = encoder.Encode(data.data(), data.size(), ElementSize(type));
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    Status s;
    const auto back = Decode(*e, data.size(), &s);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(back, data);
  }
}

TEST(ChunkCodec, FloatDataIsByteplaneFilteredAndCompressed) {
  const struct {
    ElementType type;
    uint8_t width;
  } cases[] = {{ElementType::kBFloat16, 2}, {ElementType::kFloat16, 2},
               {ElementType::kFloat32, 4},  {ElementType::kFloat64, 8},
               {ElementType::kInt16, 2},    {ElementType::kInt32, 4}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(ElementTypeName(c.type)));
    const auto data = FloatLike(c.type, 64 << 10, 13);
    ChunkEncoder encoder(Compression::kZstd, 1);
    auto e = encoder.Encode(data.data(), data.size(), ElementSize(c.type));
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->codec, Codec::kZstd);
    EXPECT_EQ(e->plane_width, c.width);
    EXPECT_LT(e->payload.size(), data.size());
  }
}

TEST(ChunkCodec, OneByteTypesAreNotPlaneFiltered) {
  for (ElementType type : {ElementType::kBytes, ElementType::kInt8, ElementType::kUInt8}) {
    SCOPED_TRACE(std::string(ElementTypeName(type)));
    std::vector<uint8_t> data(64 << 10);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i % 7);
    ChunkEncoder encoder(Compression::kZstd, 1);
    auto e = encoder.Encode(data.data(), data.size(), ElementSize(type));
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->codec, Codec::kZstd);
    EXPECT_EQ(e->plane_width, 0);
  }
}

TEST(ChunkCodec, SplitAndJoinBytePlanesAreInverses) {
  for (size_t width : {size_t{2}, size_t{4}, size_t{8}}) {
    SCOPED_TRACE(width);
    const size_t size = width * 1001;
    const auto data = RandomBytes(size, 14 + width);
    std::vector<uint8_t> planes(size), back(size);
    SplitBytePlanes(data.data(), size, width, planes.data());
    // Plane k holds byte k of every element, in element order.
    const size_t n = size / width;
    for (size_t k = 0; k < width; ++k)
      for (size_t i = 0; i < n; i += 97) ASSERT_EQ(planes[k * n + i], data[i * width + k]);
    JoinBytePlanes(planes.data(), size, width, back.data());
    EXPECT_EQ(back, data);
  }
}

TEST(ChunkCodec, RandomBytesAreStoredRawAndNeverGrow) {
  for (ElementType type : {ElementType::kBytes, ElementType::kFloat32, ElementType::kBFloat16,
                           ElementType::kFloat64}) {
    SCOPED_TRACE(std::string(ElementTypeName(type)));
    const auto data = RandomBytes(64 << 10, 15);
    ChunkEncoder encoder(Compression::kZstd, 1);
    auto e = encoder.Encode(data.data(), data.size(), ElementSize(type));
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->codec, Codec::kRaw);
    EXPECT_EQ(e->plane_width, 0);
    ASSERT_EQ(e->payload.size(), data.size());
    EXPECT_EQ(0, std::memcmp(e->payload.data(), data.data(), data.size()));
  }
}

TEST(ChunkCodec, ZerosCompressToATinyPayload) {
  const std::vector<uint8_t> zeros(256 << 10, 0);
  ChunkEncoder encoder(Compression::kZstd, 1);
  auto e = encoder.Encode(zeros.data(), zeros.size(), 4);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->codec, Codec::kZstd);
  EXPECT_LT(e->payload.size(), 256u);
  Status s;
  EXPECT_EQ(Decode(*e, zeros.size(), &s), zeros);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(ChunkCodec, CompressionOffAlwaysStoresRaw) {
  const std::vector<uint8_t> zeros(64 << 10, 0);
  ChunkEncoder encoder(Compression::kOff, 1);
  auto e = encoder.Encode(zeros.data(), zeros.size(), 4);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->codec, Codec::kRaw);
  EXPECT_EQ(e->plane_width, 0);
  EXPECT_EQ(e->payload.size(), zeros.size());
  Status s;
  EXPECT_EQ(Decode(*e, zeros.size(), &s), zeros);
  EXPECT_TRUE(s.ok());
}

TEST(ChunkCodec, SizeNotAMultipleOfThePlaneWidthRoundTripsUnfiltered) {
  for (size_t size : {size_t{1}, size_t{3}, size_t{4097}, size_t{65537}}) {
    SCOPED_TRACE(size);
    std::vector<uint8_t> data(size);
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>((i * i) >> 5);
    for (size_t width : {size_t{2}, size_t{4}, size_t{8}}) {
      ChunkEncoder encoder(Compression::kZstd, 1);
      auto e = encoder.Encode(data.data(), size, width);
      ASSERT_TRUE(e.ok());
      EXPECT_EQ(e->plane_width, 0);
      Status s;
      EXPECT_EQ(Decode(*e, size, &s), data);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
  }
}

TEST(ChunkCodec, EncoderIsReusableAcrossChunks) {
  ChunkEncoder encoder(Compression::kZstd, 1);
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const auto data = seed % 2 ? RandomBytes(64 << 10, seed)
                               : FloatLike(ElementType::kFloat32, 64 << 10, seed);
    auto e = encoder.Encode(data.data(), data.size(), 4);
    ASSERT_TRUE(e.ok());
    Status s;
    EXPECT_EQ(Decode(*e, data.size(), &s), data);
    EXPECT_TRUE(s.ok());
  }
}

TEST(ChunkCodec, TruncatedZstdPayloadIsCorruption) {
  const auto data = FloatLike(ElementType::kFloat32, 64 << 10, 16);
  ChunkEncoder encoder(Compression::kZstd, 1);
  auto e = encoder.Encode(data.data(), data.size(), 4);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->codec, Codec::kZstd);
  const std::string payload(e->payload);
  ChunkDecoder decoder;
  std::vector<uint8_t> out(data.size());
  for (size_t keep : {size_t{0}, size_t{3}, size_t{10}, payload.size() / 2, payload.size() - 1}) {
    SCOPED_TRACE(keep);
    Status s = decoder.Decode(Codec::kZstd, e->plane_width, std::string_view(payload).substr(0, keep),
                              out.data(), out.size());
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  }
}

TEST(ChunkCodec, BitFlippedZstdFrameMagicIsCorruption) {
  const auto data = FloatLike(ElementType::kFloat32, 64 << 10, 17);
  ChunkEncoder encoder(Compression::kZstd, 1);
  auto e = encoder.Encode(data.data(), data.size(), 4);
  ASSERT_TRUE(e.ok());
  std::string payload(e->payload);
  payload[1] ^= 0x10;
  ChunkDecoder decoder;
  std::vector<uint8_t> out(data.size());
  Status s = decoder.Decode(Codec::kZstd, e->plane_width, payload, out.data(), out.size());
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

// zstd frames carry no checksum here (the record's payload checksum guards
// them), so a flip may decode to other bytes; it must never crash, overrun
// the output, or report success with the wrong length.
TEST(ChunkCodec, AnyBitFlippedZstdPayloadDecodesSafely) {
  const auto data = FloatLike(ElementType::kFloat32, 8 << 10, 18);
  ChunkEncoder encoder(Compression::kZstd, 1);
  auto e = encoder.Encode(data.data(), data.size(), 4);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->codec, Codec::kZstd);
  const std::string payload(e->payload);
  ChunkDecoder decoder;
  std::vector<uint8_t> out(data.size() + 64, 0xAB);
  size_t corrupt = 0;
  for (size_t i = 0; i < payload.size(); ++i) {
    std::string flipped = payload;
    flipped[i] = static_cast<char>(flipped[i] ^ (1 << (i % 8)));
    Status s = decoder.Decode(Codec::kZstd, e->plane_width, flipped, out.data(), data.size());
    ASSERT_TRUE(s.ok() || s.code() == Status::Code::kCorruption) << i << ": " << s.ToString();
    if (!s.ok()) ++corrupt;
    for (size_t k = data.size(); k < out.size(); ++k) ASSERT_EQ(out[k], 0xAB) << "overrun at flip " << i;
  }
  EXPECT_GT(corrupt, 0u);
  // The decoder is still usable after all those errors.
  Status s = decoder.Decode(Codec::kZstd, e->plane_width, payload, out.data(), data.size());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(0, std::memcmp(out.data(), data.data(), data.size()));
}

TEST(ChunkCodec, RawPayloadOfTheWrongLengthIsCorruption) {
  const auto data = RandomBytes(4096, 19);
  ChunkDecoder decoder;
  std::vector<uint8_t> out(4096);
  std::string_view payload(reinterpret_cast<const char*>(data.data()), data.size());
  EXPECT_TRUE(decoder.Decode(Codec::kRaw, 0, payload, out.data(), 4096).ok());
  EXPECT_EQ(decoder.Decode(Codec::kRaw, 0, payload.substr(0, 4095), out.data(), 4095).code(),
            Status::Code::kOk);
  EXPECT_EQ(decoder.Decode(Codec::kRaw, 0, payload.substr(0, 4095), out.data(), 4096).code(),
            Status::Code::kCorruption);
}

TEST(ChunkCodec, DecodeRejectsUnknownCodecAndPlaneWidth) {
  const auto data = FloatLike(ElementType::kFloat32, 4096, 20);
  ChunkEncoder encoder(Compression::kZstd, 1);
  auto e = encoder.Encode(data.data(), data.size(), 4);
  ASSERT_TRUE(e.ok());
  const std::string payload(e->payload);
  ChunkDecoder decoder;
  std::vector<uint8_t> out(data.size());
  EXPECT_EQ(decoder.Decode(static_cast<Codec>(7), 0, payload, out.data(), out.size()).code(),
            Status::Code::kCorruption);
  EXPECT_EQ(decoder.Decode(Codec::kZstd, 3, payload, out.data(), out.size()).code(),
            Status::Code::kCorruption);
  EXPECT_EQ(decoder.Decode(Codec::kRaw, 4, payload, out.data(), payload.size()).code(),
            Status::Code::kCorruption);
}

}  // namespace
}  // namespace ckpt

// Found by tests/fuzz/fuzz_chunk_record.cc: an empty chunk must not reach
// memcpy or the plane join with a null output pointer.
TEST(ChunkCodecRegression, EmptyChunkDecodesOnlyFromAnEmptyRawPayload) {
  ckpt::ChunkDecoder decoder;
  EXPECT_TRUE(decoder.Decode(ckpt::Codec::kRaw, 0, {}, nullptr, 0).ok());
  EXPECT_TRUE(decoder.Decode(ckpt::Codec::kZstd, 4, {}, nullptr, 0).IsCorruption());
  EXPECT_TRUE(decoder.Decode(ckpt::Codec::kRaw, 0, "x", nullptr, 0).IsCorruption());
}
