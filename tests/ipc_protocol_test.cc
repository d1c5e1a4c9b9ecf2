// The client <-> ckptd protocol (lib/ipc/protocol.h): every message survives
// encode/decode unchanged, and malformed frames are refused with a Status.
#include <gtest/gtest.h>

#include <random>

#include "ipc/protocol.h"
#include "util/coding.h"

namespace ckpt::ipc {
namespace {

std::vector<Message> OneOfEach() {
  std::vector<RegionEntry> regions = {{"weights", ElementType::kFloat32, 1 << 20},
                                      {"step", ElementType::kUInt64, 8}};
  return {Hello{"job-1", 4 << 20, 256 << 20, 1, 3},
          PoolOffer{4 << 20, 64},
          Error{{static_cast<uint8_t>(Status::Code::kBusy), "taken"}},
          Begin{150, regions},
          ChunkStaged{1, 7, 3, 4096},
          CopyDone{{0, ""}},
          SlotFree{63},
          Durable{150, 1000, 500, 4, 2},
          Failed{150, {static_cast<uint8_t>(Status::Code::kNoSpace), "disk full"}},
          Restore{true, 100, regions},
          RestoreChunk{0, 8192, 5, 4096},
          RestoreAck{5},
          RestoreDone{100, {0, ""}},
          LatestQuery{},
          LatestReply{true, 300},
          Close{},
          Closed{},
          StatusQuery{},
          StatusReply{"{\"jobs\":[]}"}};
}

TEST(IpcProtocol, EveryMessageRoundTrips) {
  for (const Message& m : OneOfEach()) {
    auto frame = Encode(m);
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    auto back = DecodeFrame(*frame);
    ASSERT_TRUE(back.ok()) << TypeName(TypeOf(m)) << ": " << back.status().ToString();
    EXPECT_EQ(*back, m) << TypeName(TypeOf(m));
  }
}

TEST(IpcProtocol, EveryTruncationIsCorruption) {
  for (const Message& m : OneOfEach()) {
    const std::string frame = Encode(m).value();
    for (size_t n = 0; n < frame.size(); ++n) {
      auto back = DecodeFrame(std::string_view(frame).substr(0, n));
      EXPECT_TRUE(back.status().IsCorruption()) << TypeName(TypeOf(m)) << " cut at " << n;
    }
  }
}

TEST(IpcProtocol, TrailingBytesAreRefused) {
  const std::string frame = Encode(SlotFree{1}).value();
  std::string payload = frame.substr(kHeaderBytes) + "x";
  EXPECT_TRUE(DecodePayload(Type::kSlotFree, payload).status().IsCorruption());
}

TEST(IpcProtocol, BadMagicUnknownTypeAndHugeLengthAreCorruption) {
  std::string frame = Encode(Close{}).value();
  std::string bad = frame;
  bad[0] = 'X';
  EXPECT_TRUE(DecodeHeader(std::string_view(bad).substr(0, kHeaderBytes)).status().IsCorruption());
  bad = frame;
  bad[6] = 99;  // type
  EXPECT_TRUE(DecodeHeader(std::string_view(bad).substr(0, kHeaderBytes)).status().IsCorruption());
  bad = frame;
  bad[11] = 0x7f;  // payload length ~2 GiB
  EXPECT_TRUE(DecodeHeader(std::string_view(bad).substr(0, kHeaderBytes)).status().IsCorruption());
}

TEST(IpcProtocol, OtherVersionIsUnsupported) {
  std::string frame = Encode(Close{}).value();
  frame[4] = 2;
  EXPECT_EQ(DecodeHeader(std::string_view(frame).substr(0, kHeaderBytes)).status().code(),
            Status::Code::kUnsupported);
}

TEST(IpcProtocol, OutOfBoundsFieldsAreRefused) {
  // Slot id past the protocol's bound.
  std::string p;
  coding::PutU32(&p, kMaxSlots);
  EXPECT_TRUE(DecodePayload(Type::kSlotFree, p).status().IsCorruption());
  // A region count past the bound, with no entries behind it.
  p.clear();
  coding::PutU64(&p, 1);
  coding::PutU32(&p, 0xffffffffu);
  EXPECT_TRUE(DecodePayload(Type::kBegin, p).status().IsCorruption());
  // A string length far past the payload.
  p.clear();
  coding::PutU32(&p, 100);
  EXPECT_TRUE(DecodePayload(Type::kHello, p).status().IsCorruption());
  // An unknown element type in a region entry.
  p.clear();
  coding::PutU64(&p, 1);
  coding::PutU32(&p, 1);
  coding::PutBytes(&p, "w");
  coding::PutU8(&p, 200);
  coding::PutU64(&p, 4);
  EXPECT_TRUE(DecodePayload(Type::kBegin, p).status().IsCorruption());
  // A chunk larger than the largest chunk size.
  p = Encode(ChunkStaged{0, 0, 0, kMaxChunkBytes + 1}).value();
  EXPECT_TRUE(DecodeFrame(p).status().IsCorruption());
  // A boolean that is neither 0 nor 1.
  p.clear();
  coding::PutU8(&p, 2);
  coding::PutU64(&p, 0);
  EXPECT_TRUE(DecodePayload(Type::kLatestReply, p).status().IsCorruption());
}

TEST(IpcProtocol, EncodeRefusesWhatTheDecoderWouldRefuse) {
  EXPECT_FALSE(Encode(Hello{std::string(200, 'j'), 0, 0, 0, 0}).ok());
  EXPECT_FALSE(Encode(Error{{1, std::string(kMaxText + 1, 'x')}}).ok());
  EXPECT_FALSE(Encode(Begin{1, {{"", ElementType::kBytes, 1}}}).ok());
}

TEST(IpcProtocol, RandomBytesNeverDecodeOutOfBounds) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    // Half the time with a valid header in front, so payload parsing runs.
    if (i % 2 == 0 && junk.size() >= 1) {
      const auto type = static_cast<Type>(1 + rng() % 19);
      std::string frame;
      coding::PutU32(&frame, kMagic);
      coding::PutFixed<uint16_t>(&frame, kVersion);
      coding::PutFixed<uint16_t>(&frame, static_cast<uint16_t>(type));
      coding::PutU32(&frame, static_cast<uint32_t>(junk.size()));
      junk = frame + junk;
    }
    auto m = DecodeFrame(junk);
    if (m.ok()) {  // whatever decodes must re-encode to the same bytes
      auto again = Encode(*m);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(*again, junk);
    }
  }
}

TEST(IpcProtocol, WireStatusKeepsCodeAndMessage) {
  Status s = Status::NoSpace("disk full");
  EXPECT_EQ(FromWire(ToWire(s)).code(), Status::Code::kNoSpace);
  EXPECT_EQ(FromWire(ToWire(s)).message(), "disk full");
  EXPECT_TRUE(FromWire(ToWire(Status::OK())).ok());
}

}  // namespace
}  // namespace ckpt::ipc
