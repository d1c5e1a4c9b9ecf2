// The client <-> ckptd protocol (lib/ipc/protocol.h): every message survives
// encode/decode unchanged, and malformed frames are refused with a Status.
#include <gtest/gtest.h>

#include <random>

#include "ipc/protocol.h"
#include "util/coding.h"

namespace ckpt::ipc {
namespace {

// Regions with a shape, a scalar shape and none.
std::vector<RegionEntry> ShapedRegions() {
  return {{"weights", ElementType::kFloat32, 1 << 20, Shape{512, 512}},
          {"step", ElementType::kUInt64, 8, Shape{}},
          {"blob", ElementType::kBytes, 100, std::nullopt}};
}

// A user state with every byte value, NULs included.
std::string BinaryUserState() {
  std::string s;
  for (int i = 0; i < 512; ++i) s.push_back(static_cast<char>(i));
  return s;
}

InfoReply AnInfoReply() {
  InfoReply m;
  m.step = 150;
  m.created_unix_ms = 1700000000123;
  m.has_parent = true;
  m.parent_step = 100;
  m.chunk_bytes = 4 << 20;
  m.logical_bytes = (1 << 20) + 108;
  m.written_bytes = 4096;
  m.chunks = 3;
  m.new_chunks = 1;
  m.regions = ShapedRegions();
  m.user_state = BinaryUserState();
  return m;
}

// A Begin payload (step 1) whose one region "w" of `bytes` bytes of f32
// announces a shape of `rank` dimensions, each `dim`.
std::string BeginWithShape(uint8_t rank, uint64_t dim, uint64_t bytes) {
  std::string p;
  coding::PutU64(&p, 1);
  coding::PutU32(&p, 1);
  coding::PutBytes(&p, "w");
  coding::PutU8(&p, static_cast<uint8_t>(ElementType::kFloat32));
  coding::PutU64(&p, bytes);
  coding::PutU8(&p, 1);  // has_shape
  coding::PutU8(&p, rank);
  for (int i = 0; i < rank; ++i) coding::PutU64(&p, dim);
  coding::PutBytes(&p, "");  // user state
  return p;
}

std::vector<Message> OneOfEach() {
  std::vector<RegionEntry> regions = ShapedRegions();
  return {Hello{"job-1", 4 << 20, 256 << 20, 1, 3},
          PoolOffer{4 << 20, 64},
          Error{{static_cast<uint8_t>(Status::Code::kBusy), "taken"}},
          Begin{150, regions, BinaryUserState()},
          ChunkStaged{1, 7, 3, 4096},
          CopyDone{{0, ""}},
          SlotFree{63},
          Durable{150, 1000, 500, 4, 2},
          Failed{150, {static_cast<uint8_t>(Status::Code::kNoSpace), "disk full"}},
          Restore{true, 100, regions},
          RestoreChunk{0, 8192, 5, 4096},
          RestoreAck{5},
          RestoreDone{100, WireStatus{}, BinaryUserState()},
          LatestQuery{},
          LatestReply{true, 300},
          Close{},
          Closed{},
          StatusQuery{},
          StatusReply{"{\"jobs\":[]}"},
          InfoQuery{150},
          AnInfoReply()};
}

TEST(IpcProtocol, OneOfEachCoversEveryType) {
  const auto all = OneOfEach();
  ASSERT_EQ(all.size(), std::variant_size_v<Message>);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].index(), i);
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

TEST(IpcProtocol, ThisBuildSpeaksVersion2) {
  EXPECT_EQ(kVersion, 2);
  const std::string frame = Encode(Close{}).value();
  EXPECT_EQ(frame[4], 2);
  EXPECT_EQ(frame[5], 0);
}

TEST(IpcProtocol, OtherVersionIsUnsupportedNamingBothAndTheSideToUpgrade) {
  std::string frame = Encode(Close{}).value();
  frame[4] = 1;  // an older peer
  Status older = DecodeHeader(std::string_view(frame).substr(0, kHeaderBytes)).status();
  EXPECT_EQ(older.code(), Status::Code::kUnsupported);
  EXPECT_NE(older.message().find("version 1"), std::string::npos) << older.ToString();
  EXPECT_NE(older.message().find("version 2"), std::string::npos) << older.ToString();
  EXPECT_NE(older.message().find("upgrade the older side (the peer)"), std::string::npos) << older.ToString();
  frame[4] = 3;  // a newer peer
  Status newer = DecodeHeader(std::string_view(frame).substr(0, kHeaderBytes)).status();
  EXPECT_EQ(newer.code(), Status::Code::kUnsupported);
  EXPECT_NE(newer.message().find("version 3"), std::string::npos) << newer.ToString();
  EXPECT_NE(newer.message().find("upgrade the older side (this one)"), std::string::npos) << newer.ToString();
}

TEST(IpcProtocol, ShapesAndUserStateRoundTripInBeginRestoreAndRestoreDone) {
  const Begin begin{7, ShapedRegions(), BinaryUserState()};
  auto back = DecodeFrame(Encode(begin).value());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  const auto& b = std::get<Begin>(*back);
  EXPECT_EQ(b.regions[0].shape, std::optional<Shape>(Shape{512, 512}));
  EXPECT_EQ(b.regions[1].shape, std::optional<Shape>(Shape{}));  // a scalar is not "no shape"
  EXPECT_EQ(b.regions[2].shape, std::nullopt);
  EXPECT_EQ(b.user_state, BinaryUserState());
  const Restore restore{false, 0, ShapedRegions()};
  EXPECT_EQ(std::get<Restore>(DecodeFrame(Encode(restore).value()).value()), restore);
  const RestoreDone done{7, WireStatus{}, BinaryUserState()};
  EXPECT_EQ(std::get<RestoreDone>(DecodeFrame(Encode(done).value()).value()).user_state, BinaryUserState());
}

TEST(IpcProtocol, TheLargestUserStateRoundTripsInOneFrame) {
  std::string state(kMaxUserStateBytes, '\0');
  for (size_t i = 0; i < state.size(); i += 4093) state[i] = static_cast<char>(i);
  const Begin begin{3, {{"w", ElementType::kBytes, 1, std::nullopt}}, state};
  auto frame = Encode(begin);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_GT(frame->size(), kMaxSmallPayload);
  auto back = DecodeFrame(*frame);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(std::get<Begin>(*back), begin);
}

TEST(IpcProtocol, AUserStateOverTheLimitIsRefused) {
  // Encoding refuses it.
  const Begin begin{3, {{"w", ElementType::kBytes, 1, std::nullopt}}, std::string(kMaxUserStateBytes + 1, 'x')};
  EXPECT_EQ(Encode(begin).status().code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(Encode(RestoreDone{1, WireStatus{}, begin.user_state}).ok());
  // Decoding refuses it by its length, also with every byte present.
  std::string p;
  coding::PutU64(&p, 3);
  coding::PutU32(&p, 0);  // no region (the session refuses that; the decoder does not)
  coding::PutU32(&p, static_cast<uint32_t>(kMaxUserStateBytes + 1));
  p.append(kMaxUserStateBytes + 1, 'x');
  Status s = DecodePayload(Type::kBegin, p).status();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("user state longer than"), std::string::npos) << s.ToString();
}

TEST(IpcProtocol, AShapeOfRankAboveTheLimitIsRefused) {
  // rank 65 of dims 1: the elements would fit (1 float = 4 bytes).
  Status s = DecodePayload(Type::kBegin, BeginWithShape(kMaxShapeRank + 1, 1, 4)).status();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("rank 65"), std::string::npos) << s.ToString();
  // rank 64 is fine.
  EXPECT_TRUE(DecodePayload(Type::kBegin, BeginWithShape(kMaxShapeRank, 1, 4)).ok());
  const RegionEntry high{"w", ElementType::kFloat32, 4, Shape(kMaxShapeRank + 1, 1)};
  EXPECT_FALSE(Encode(Begin{1, {high}, ""}).ok());
}

TEST(IpcProtocol, AShapeThatDoesNotFitTheRegionSizeIsRefused) {
  // [3, 3] floats are 36 bytes, not 40.
  Status s = DecodePayload(Type::kBegin, BeginWithShape(2, 3, 40)).status();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("region 'w' has shape [3, 3], which does not fit its 40 bytes of f32"),
            std::string::npos)
      << s.ToString();
  EXPECT_TRUE(DecodePayload(Type::kBegin, BeginWithShape(2, 3, 36)).ok());
  // Dimensions whose product overflows 64 bits.
  EXPECT_TRUE(DecodePayload(Type::kBegin, BeginWithShape(2, uint64_t{1} << 40, 0)).status().IsCorruption());
  const RegionEntry wrong{"w", ElementType::kFloat32, 40, Shape{3, 3}};
  EXPECT_FALSE(Encode(Begin{1, {wrong}, ""}).ok());
  EXPECT_FALSE(Encode(Restore{false, 0, {wrong}}).ok());
}

TEST(IpcProtocol, ATruncatedShapeIsCorruption) {
  const std::string whole = BeginWithShape(2, 3, 36);
  // Cut inside the second dimension (before the 4-byte user-state length and its last 4 bytes).
  const std::string cut = whole.substr(0, whole.size() - 4 - 4);
  Status s = DecodePayload(Type::kBegin, cut).status();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.ToString();
}

TEST(IpcProtocol, TrailingBytesAfterTheUserStateAreRefused) {
  const std::string frame = Encode(Begin{1, ShapedRegions(), "state"}).value();
  Status s = DecodePayload(Type::kBegin, frame.substr(kHeaderBytes) + "x").status();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("1 trailing bytes"), std::string::npos) << s.ToString();
}

TEST(IpcProtocol, OnlyMessagesWithATableOrUserStateMayAnnounceMoreThan1MiB) {
  auto header = [](Type type, uint32_t length) {
    std::string h;
    coding::PutU32(&h, kMagic);
    coding::PutFixed<uint16_t>(&h, kVersion);
    coding::PutFixed<uint16_t>(&h, static_cast<uint16_t>(type));
    coding::PutU32(&h, length);
    return DecodeHeader(h);
  };
  for (Type t : {Type::kBegin, Type::kRestore, Type::kRestoreDone, Type::kInfoReply}) {
    EXPECT_TRUE(header(t, kMaxPayload).ok()) << TypeName(t);
    EXPECT_TRUE(header(t, kMaxPayload + 1).status().IsCorruption()) << TypeName(t);
  }
  EXPECT_TRUE(header(Type::kHello, kMaxSmallPayload).ok());
  EXPECT_TRUE(header(Type::kHello, kMaxSmallPayload + 1).status().IsCorruption());
  EXPECT_TRUE(header(Type::kChunkStaged, uint32_t{20} << 20).status().IsCorruption());
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
  InfoReply info = AnInfoReply();
  info.regions[0].bytes += 4;  // no longer fits its shape
  EXPECT_FALSE(Encode(info).ok());
}

TEST(IpcProtocol, RandomBytesNeverDecodeOutOfBounds) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    // Half the time with a valid header in front, so payload parsing runs.
    if (i % 2 == 0 && junk.size() >= 1) {
      const auto type = static_cast<Type>(1 + rng() % std::variant_size_v<Message>);
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
