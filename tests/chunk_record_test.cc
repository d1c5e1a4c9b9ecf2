// The 48-byte header in front of every stored chunk.
#include "store/chunk_record.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "test_util.h"

namespace ckpt {
namespace {

RecordHeader SampleHeader() {
  const auto raw = ckpt::testing::RandomBytes(1000, 1);
  RecordHeader h;
  h.codec = Codec::kZstd;
  h.plane_width = 4;
  h.raw_len = 4u << 20;
  h.stored_len = 1234567;
  h.hash = HashChunk(raw.data(), raw.size());
  h.payload_checksum = 0x0123456789abcdefULL;
  return h;
}

TEST(ChunkRecord, HeaderRoundTrips) {
  const RecordHeader h = SampleHeader();
  uint8_t buf[kRecordHeaderSize];
  EncodeRecordHeader(h, buf);
  RecordHeader back;
  ASSERT_TRUE(DecodeRecordHeader(buf, &back).ok());
  EXPECT_EQ(back.codec, h.codec);
  EXPECT_EQ(back.plane_width, h.plane_width);
  EXPECT_EQ(back.raw_len, h.raw_len);
  EXPECT_EQ(back.stored_len, h.stored_len);
  EXPECT_EQ(back.hash, h.hash);
  EXPECT_EQ(back.payload_checksum, h.payload_checksum);
}

TEST(ChunkRecord, HeaderLayoutMatchesTheDocumentedFormat) {
  const RecordHeader h = SampleHeader();
  uint8_t buf[kRecordHeaderSize];
  EncodeRecordHeader(h, buf);
  EXPECT_EQ(0, std::memcmp(buf, "CKC1", 4));
  EXPECT_EQ(buf[4], kRecordVersion);
  EXPECT_EQ(buf[5], 1);  // zstd
  EXPECT_EQ(buf[6], 4);
  EXPECT_EQ(buf[7], 0);
  uint32_t raw_len, stored_len;
  std::memcpy(&raw_len, buf + 8, 4);
  std::memcpy(&stored_len, buf + 12, 4);
  EXPECT_EQ(raw_len, h.raw_len);
  EXPECT_EQ(stored_len, h.stored_len);
  EXPECT_EQ(0, std::memcmp(buf + 16, h.hash.bytes.data(), 16));
  uint64_t sum, header_sum;
  std::memcpy(&sum, buf + 32, 8);
  std::memcpy(&header_sum, buf + 40, 8);
  EXPECT_EQ(sum, h.payload_checksum);
  EXPECT_EQ(header_sum, Checksum64(buf, 40));
}

TEST(ChunkRecord, EverySingleBitFlipInTheHeaderIsDetected) {
  const RecordHeader h = SampleHeader();
  uint8_t good[kRecordHeaderSize];
  EncodeRecordHeader(h, good);
  for (size_t bit = 0; bit < kRecordHeaderSize * 8; ++bit) {
    uint8_t bad[kRecordHeaderSize];
    std::memcpy(bad, good, sizeof bad);
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    RecordHeader out;
    Status s = DecodeRecordHeader(bad, &out);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << "bit " << bit << ": " << s.ToString();
  }
}

TEST(ChunkRecord, BadMagicIsNamed) {
  uint8_t buf[kRecordHeaderSize];
  EncodeRecordHeader(SampleHeader(), buf);
  buf[0] = 'X';
  RecordHeader out;
  Status s = DecodeRecordHeader(buf, &out);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("magic"), std::string::npos) << s.ToString();
}

TEST(ChunkRecord, ZeroedHeaderIsCorruption) {
  // What a reader finds in a segment's zero padding.
  const uint8_t zeros[kRecordHeaderSize] = {};
  RecordHeader out;
  EXPECT_EQ(DecodeRecordHeader(zeros, &out).code(), Status::Code::kCorruption);
}

TEST(ChunkRecord, WrongChecksumIsNamed) {
  uint8_t buf[kRecordHeaderSize];
  EncodeRecordHeader(SampleHeader(), buf);
  buf[12] ^= 0x01;  // stored length
  RecordHeader out;
  Status s = DecodeRecordHeader(buf, &out);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("checksum"), std::string::npos) << s.ToString();
}

TEST(ChunkRecord, PerPlaneCodecIsAcceptedAndUnknownCodecsAreNot) {
  RecordHeader h = SampleHeader();
  h.codec = Codec::kPlanes;
  uint8_t buf[kRecordHeaderSize];
  EncodeRecordHeader(h, buf);
  EXPECT_EQ(buf[4], 2);  // codec 2 records are version 2
  EXPECT_EQ(buf[5], 2);
  RecordHeader out;
  ASSERT_TRUE(DecodeRecordHeader(buf, &out).ok());
  EXPECT_EQ(out.codec, Codec::kPlanes);

  buf[5] = 3;  // re-checksummed, so only the codec check can refuse it
  const uint64_t sum = Checksum64(buf, 40);
  std::memcpy(buf + 40, &sum, 8);
  Status s = DecodeRecordHeader(buf, &out);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("codec"), std::string::npos) << s.ToString();
}

// Rewrites version and codec of a valid header and re-checksums it, so only
// the version and codec checks can refuse it.
Status DecodeWith(uint8_t version, uint8_t codec) {
  uint8_t buf[kRecordHeaderSize];
  EncodeRecordHeader(SampleHeader(), buf);
  buf[4] = version;
  buf[5] = codec;
  const uint64_t sum = Checksum64(buf, 40);
  std::memcpy(buf + 40, &sum, 8);
  RecordHeader out;
  return DecodeRecordHeader(buf, &out);
}

TEST(ChunkRecord, CodecAndVersionMustAgree) {
  EXPECT_TRUE(DecodeWith(1, 0).ok());
  EXPECT_TRUE(DecodeWith(1, 1).ok());
  EXPECT_TRUE(DecodeWith(2, 2).ok());
  EXPECT_EQ(DecodeWith(1, 2).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeWith(2, 1).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeWith(3, 2).code(), Status::Code::kUnsupported);
}

}  // namespace
}  // namespace ckpt
