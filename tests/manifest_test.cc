// Manifest encoding: which chunks make up each region of a checkpoint.
#include "engine/manifest.h"

#include <gtest/gtest.h>

#include <string>

#include "ckpt/client.h"
#include "test_util.h"
#include "util/coding.h"

namespace ckpt {
namespace {

ChunkHash HashOf(uint64_t seed) {
  const auto b = ckpt::testing::RandomBytes(64, seed);
  return HashChunk(b.data(), b.size());
}

Manifest Sample() {
  Manifest m;
  m.job = "run-7.b_x";
  m.step = 150;
  m.created_unix_ms = 1700000000123;
  m.parent_step = 100;
  m.chunk_bytes = 64 << 10;
  const struct {
    const char* name;
    ElementType type;
    uint64_t bytes;
  } regions[] = {{"weights", ElementType::kFloat32, (3u << 16) + 100},
                 {"adam.m", ElementType::kBFloat16, 64 << 10},
                 {"empty", ElementType::kInt64, 0},
                 {"step", ElementType::kBytes, 8}};
  uint64_t seed = 1;
  for (const auto& r : regions) {
    ManifestRegion mr;
    mr.name = r.name;
    mr.type = r.type;
    mr.bytes = r.bytes;
    for (uint64_t i = 0; i < (r.bytes + m.chunk_bytes - 1) / m.chunk_bytes; ++i)
      mr.chunks.push_back(HashOf(seed++));
    m.logical_bytes += r.bytes;
    m.regions.push_back(mr);
  }
  m.written_bytes = 12345;
  m.new_chunks = 3;
  return m;
}

void ExpectEqual(const Manifest& a, const Manifest& b) {
  EXPECT_EQ(a.job, b.job);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.created_unix_ms, b.created_unix_ms);
  EXPECT_EQ(a.parent_step, b.parent_step);
  EXPECT_EQ(a.chunk_bytes, b.chunk_bytes);
  EXPECT_EQ(a.logical_bytes, b.logical_bytes);
  EXPECT_EQ(a.written_bytes, b.written_bytes);
  EXPECT_EQ(a.new_chunks, b.new_chunks);
  ASSERT_EQ(a.regions.size(), b.regions.size());
  for (size_t i = 0; i < a.regions.size(); ++i) {
    EXPECT_EQ(a.regions[i].name, b.regions[i].name);
    EXPECT_EQ(a.regions[i].type, b.regions[i].type);
    EXPECT_EQ(a.regions[i].bytes, b.regions[i].bytes);
    EXPECT_EQ(a.regions[i].chunks, b.regions[i].chunks);
    EXPECT_EQ(a.regions[i].shape, b.regions[i].shape);
  }
  EXPECT_EQ(a.user_state, b.user_state);
}

// Sample() with shapes on two regions (one a scalar) and a user state with
// bytes JSON would not allow.
Manifest ShapedSample() {
  Manifest m = Sample();
  m.regions[1].shape = Shape{128, 256};  // 64 KiB of bf16
  m.regions[3].shape = Shape{};          // a scalar of 8 bytes
  m.regions[3].type = ElementType::kInt64;
  static constexpr char kState[] = "{\"step\": 150}\0\xff";
  m.user_state = std::string(kState, sizeof(kState) - 1);
  return m;
}

// The version 1 layout (no shapes, no user state), as ckpt 0.1 wrote it.
std::string EncodeVersion1(const Manifest& m) {
  using namespace coding;
  std::string out;
  PutU8(&out, 1);
  PutBytes(&out, m.job);
  PutU64(&out, m.step);
  PutU64(&out, static_cast<uint64_t>(m.created_unix_ms));
  PutU8(&out, m.parent_step.has_value() ? 1 : 0);
  PutU64(&out, m.parent_step.value_or(0));
  PutU64(&out, m.chunk_bytes);
  PutU64(&out, m.logical_bytes);
  PutU64(&out, m.written_bytes);
  PutU64(&out, m.new_chunks);
  PutU32(&out, static_cast<uint32_t>(m.regions.size()));
  for (const auto& r : m.regions) {
    PutBytes(&out, r.name);
    PutU8(&out, static_cast<uint8_t>(r.type));
    PutU64(&out, r.bytes);
    PutU32(&out, static_cast<uint32_t>(r.chunks.size()));
    for (const auto& h : r.chunks) out.append(h.view());
  }
  PutU64(&out, Checksum64(out.data(), out.size()));
  return out;
}

TEST(Manifest, RoundTripsSeveralRegions) {
  const Manifest m = Sample();
  auto back = DecodeManifest(EncodeManifest(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectEqual(m, *back);
  EXPECT_EQ(back->chunk_count(), 4u + 1u + 0u + 1u);
}

TEST(Manifest, RoundTripsWithoutParent) {
  Manifest m = Sample();
  m.parent_step.reset();
  auto back = DecodeManifest(EncodeManifest(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->parent_step.has_value());
  ExpectEqual(m, *back);
}

TEST(Manifest, InfoSummarizesRegions) {
  const CheckpointInfo info = Sample().Info();
  EXPECT_EQ(info.job, "run-7.b_x");
  EXPECT_EQ(info.step, 150u);
  EXPECT_EQ(info.chunks, 6u);
  ASSERT_EQ(info.regions.size(), 4u);
  EXPECT_EQ(info.regions[0].name, "weights");
  EXPECT_EQ(info.regions[0].chunks, 4u);
  EXPECT_EQ(info.regions[2].chunks, 0u);
}

TEST(Manifest, EveryTruncationIsCorruption) {
  const std::string bytes = EncodeManifest(Sample());
  for (size_t keep = 0; keep < bytes.size(); ++keep) {
    auto back = DecodeManifest(std::string_view(bytes).substr(0, keep));
    ASSERT_FALSE(back.ok()) << "kept " << keep;
    EXPECT_EQ(back.status().code(), Status::Code::kCorruption) << "kept " << keep;
  }
}

TEST(Manifest, EveryFlippedByteFailsTheChecksum) {
  const std::string bytes = EncodeManifest(Sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    auto back = DecodeManifest(bad);
    ASSERT_FALSE(back.ok()) << "byte " << i;
    EXPECT_EQ(back.status().code(), Status::Code::kCorruption) << "byte " << i;
  }
}

TEST(Manifest, InconsistentChunkCountIsCorruption) {
  Manifest m = Sample();
  m.regions[0].chunks.pop_back();  // 3 chunks for 4 chunks' worth of bytes
  auto back = DecodeManifest(EncodeManifest(m));  // checksum is right
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), Status::Code::kCorruption);
  EXPECT_NE(back.status().message().find("weights"), std::string::npos)
      << back.status().ToString();

  Manifest extra = Sample();
  extra.regions[2].chunks.push_back(HashOf(99));  // a chunk for a zero-byte region
  EXPECT_EQ(DecodeManifest(EncodeManifest(extra)).status().code(), Status::Code::kCorruption);
}

// The body with `extra` appended and a checksum that matches it.
std::string Resealed(const std::string& encoded, const std::string& extra, char first_byte) {
  std::string body = encoded.substr(0, encoded.size() - 8);
  body.append(extra);
  body[0] = first_byte;
  const uint64_t sum = Checksum64(body.data(), body.size());
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>(sum >> (8 * i)));
  return body;
}

TEST(Manifest, ResealedUnchangedBytesDecode) {
  const std::string bytes = EncodeManifest(Sample());
  EXPECT_EQ(Resealed(bytes, "", static_cast<char>(kManifestVersion)), bytes);
}

TEST(Manifest, TrailingBytesAreCorruption) {
  const std::string bytes = Resealed(EncodeManifest(Sample()), "x", static_cast<char>(kManifestVersion));
  EXPECT_EQ(DecodeManifest(bytes).status().code(), Status::Code::kCorruption);
}

TEST(Manifest, NewerVersionIsUnsupported) {
  const std::string bytes =
      Resealed(EncodeManifest(Sample()), "", static_cast<char>(kManifestVersion + 1));
  EXPECT_EQ(DecodeManifest(bytes).status().code(), Status::Code::kUnsupported);
}

TEST(Manifest, RoundTripsShapesAndUserState) {
  const Manifest m = ShapedSample();
  auto back = DecodeManifest(EncodeManifest(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectEqual(m, *back);
  EXPECT_FALSE(back->regions[0].shape.has_value());
  ASSERT_TRUE(back->regions[3].shape.has_value());
  EXPECT_TRUE(back->regions[3].shape->empty());  // scalar, not "no shape"
  const CheckpointInfo info = back->Info();
  EXPECT_EQ(info.user_state, m.user_state);
  EXPECT_EQ(info.regions[1].shape, (Shape{128, 256}));
}

TEST(Manifest, Version1StillDecodes) {
  Manifest m = Sample();
  auto back = DecodeManifest(EncodeVersion1(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectEqual(m, *back);  // no shapes, empty user state
}

TEST(Manifest, EveryTruncationOfAShapedManifestIsCorruption) {
  const std::string bytes = EncodeManifest(ShapedSample());
  for (size_t keep = 0; keep < bytes.size(); ++keep) {
    auto back = DecodeManifest(std::string_view(bytes).substr(0, keep));
    ASSERT_FALSE(back.ok()) << "kept " << keep;
    EXPECT_EQ(back.status().code(), Status::Code::kCorruption) << "kept " << keep;
  }
}

TEST(Manifest, ShapeNotFittingTheRegionIsCorruption) {
  Manifest m = ShapedSample();
  m.regions[1].shape = Shape{128, 255};
  auto back = DecodeManifest(EncodeManifest(m));
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), Status::Code::kCorruption);
  EXPECT_NE(back.status().message().find("adam.m"), std::string::npos) << back.status().ToString();

  m.regions[1].shape = Shape{uint64_t{1} << 40, uint64_t{1} << 40, 4};  // overflows 64 bits
  EXPECT_EQ(DecodeManifest(EncodeManifest(m)).status().code(), Status::Code::kCorruption);
}

TEST(Manifest, UserStateOverTheLimitIsCorruption) {
  Manifest m = Sample();
  m.user_state = std::string(kMaxUserStateBytes + 1, 'x');
  auto back = DecodeManifest(EncodeManifest(m));
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), Status::Code::kCorruption);
  EXPECT_NE(back.status().message().find("user state"), std::string::npos) << back.status().ToString();

  m.user_state.pop_back();  // exactly the limit
  auto at_limit = DecodeManifest(EncodeManifest(m));
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_EQ(at_limit->user_state.size(), kMaxUserStateBytes);
}

TEST(Manifest, VersionZeroIsUnsupported) {
  const std::string bytes = Resealed(EncodeManifest(Sample()), "", 0);
  EXPECT_EQ(DecodeManifest(bytes).status().code(), Status::Code::kUnsupported);
}

TEST(Manifest, ValidateJobNameAcceptsLettersDigitsDotUnderscoreDash) {
  for (const std::string& job : {std::string("j"), std::string("run7"), std::string("llama-70b.ft_v2"),
                                std::string("A.B-C_9"), std::string(128, 'x')})
    EXPECT_TRUE(ValidateJobName(job).ok()) << job;
}

TEST(Manifest, ValidateJobNameRejectsEmptyLongAndOtherCharacters) {
  for (const std::string& job : {std::string(), std::string(129, 'x'), std::string("a/b"),
                                std::string("a b"), std::string("../x"), std::string("j\n"),
                                std::string("caf\xc3\xa9"), std::string("a\0b", 3)}) {
    Status s = ValidateJobName(job);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << "'" << job << "'";
  }
}

}  // namespace
}  // namespace ckpt
