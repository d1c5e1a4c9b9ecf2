// Hostile input on ckptd's socket: random bytes of any length and malformed
// messages close only the connection that sent them; the daemon and the jobs
// attached to it go on serving.
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include "daemon_test_util.h"
#include "util/coding.h"

namespace ckpt::testing {
namespace {

class DaemonMalformedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<DaemonProcess>(store_, socket_);
    live_ = OpenClient(DaemonOptions(socket_, "live"));
    ASSERT_NE(live_, nullptr);
    ASSERT_TRUE(live_->protect("w", data_.data(), data_.size(), ElementType::kBytes).ok());
    CheckpointLive();
  }

  // The attached job still checkpoints (its session was not disturbed).
  void CheckpointLive() {
    auto t = live_->checkpoint(++step_);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_TRUE(t->wait_durable().ok()) << t->status().ToString() << "\n" << daemon_->Log();
  }

  // Sends `bytes` on a fresh connection, then waits for the daemon to close
  // it (reads until EOF or error; the daemon must not leave it hanging).
  void SendAndExpectClose(const std::string& bytes) {
    auto ch = ipc::Channel::Connect(socket_);
    ASSERT_TRUE(ch.ok()) << ch.status().ToString();
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send((*ch)->fd(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) break;  // the daemon may close before it read everything
      done += static_cast<size_t>(n);
    }
    ::shutdown((*ch)->fd(), SHUT_WR);
    char buf[4096];
    while (::recv((*ch)->fd(), buf, sizeof(buf), 0) > 0) {
    }
  }

  static std::string Frame(const ipc::Message& m) { return ipc::Encode(m).value(); }

  ScratchDir dir_;
  std::string store_ = dir_.Sub("store");
  std::string socket_ = dir_.Sub("sock");
  std::unique_ptr<DaemonProcess> daemon_;
  std::vector<uint8_t> data_ = RandomBytes(300'000, 21);
  std::unique_ptr<Client> live_;
  uint64_t step_ = 0;
};

TEST_F(DaemonMalformedTest, RandomBytesOfAnyLengthLeaveItServing) {
  std::mt19937_64 rng(5);
  for (size_t len : {size_t{1}, size_t{11}, size_t{12}, size_t{13}, size_t{100}, size_t{4096},
                     size_t{65536}, size_t{1} << 20, size_t{3} << 20}) {
    std::string junk(len, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    SendAndExpectClose(junk);
    // The same behind a valid header announcing the junk as a payload.
    std::string framed;
    coding::PutU32(&framed, ipc::kMagic);
    coding::PutFixed<uint16_t>(&framed, ipc::kVersion);
    const auto type = static_cast<ipc::Type>(1 + rng() % std::variant_size_v<ipc::Message>);
    coding::PutFixed<uint16_t>(&framed, static_cast<uint16_t>(type));
    coding::PutU32(&framed, static_cast<uint32_t>(std::min<size_t>(len, ipc::MaxPayload(type))));
    SendAndExpectClose(framed + junk);
  }
  ASSERT_TRUE(daemon_->Running());
  CheckpointLive();
  EXPECT_NE(QueryStatus(socket_).find("\"live\""), std::string::npos);
}

TEST_F(DaemonMalformedTest, MessagesOutOfOrderOrOutOfBoundsCloseOnlyThatConnection) {
  const std::string hello = Frame(ipc::Hello{"bad", 64 << 10, 4 << 16, 1, 1});
  const std::string begin = Frame(ipc::Begin{1, {{"w", ElementType::kBytes, 200'000}}});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"chunk before Hello", Frame(ipc::ChunkStaged{0, 0, 0, 64 << 10})},
      {"chunk before Begin", hello + Frame(ipc::ChunkStaged{0, 0, 0, 64 << 10})},
      {"slot out of range", hello + begin + Frame(ipc::ChunkStaged{0, 0, 4, 64 << 10})},
      {"region out of range", hello + begin + Frame(ipc::ChunkStaged{1, 0, 0, 64 << 10})},
      {"chunk index out of range", hello + begin + Frame(ipc::ChunkStaged{0, 4, 0, 64 << 10})},
      {"wrong chunk size", hello + begin + Frame(ipc::ChunkStaged{0, 3, 0, 64 << 10})},
      {"slot staged twice", hello + begin + Frame(ipc::ChunkStaged{0, 0, 0, 64 << 10}) +
                                Frame(ipc::ChunkStaged{0, 1, 0, 64 << 10})},
      {"CopyDone before every chunk", hello + begin + Frame(ipc::CopyDone{})},
      {"daemon-only message", hello + Frame(ipc::SlotFree{0})},
      {"Hello twice", hello + hello},
      {"oversized header", std::string("CKPT\x02\x00\x01\x00\xff\xff\xff\x7f", 12)},
      {"1 MiB + 1 announced for a Hello", std::string("CKPT\x02\x00\x01\x00\x01\x00\x10\x00", 12)},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    SendAndExpectClose(bytes);
    ASSERT_TRUE(daemon_->Running());
  }
  CheckpointLive();
  const std::string log = daemon_->Log();
  EXPECT_NE(log.find("protocol violation"), std::string::npos) << log;
  EXPECT_NE(log.find("malformed input"), std::string::npos) << log;
  // None of the bad sessions committed anything.
  auto bad = OpenClient(DaemonOptions(socket_, "bad"));
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->latest_step(), std::nullopt);
}

TEST_F(DaemonMalformedTest, AClientOfAnotherProtocolVersionGetsUnsupportedNamingBothVersions) {
  // A version-1 client's Hello: the v1 layout is the v2 one without the new
  // fields, and the header names version 1.
  std::string frame = Frame(ipc::Hello{"old", 64 << 10, 4 << 16, 1, 1});
  frame[4] = 1;
  auto ch = ipc::Channel::Connect(socket_);
  ASSERT_TRUE(ch.ok());
  ASSERT_EQ(::send((*ch)->fd(), frame.data(), frame.size(), MSG_NOSIGNAL), static_cast<ssize_t>(frame.size()));
  // The daemon answers in its own version (whose header any version can
  // read) before it closes the connection.
  auto reply = (*ch)->Receive();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  ASSERT_TRUE(reply->has_value());
  const auto* error = std::get_if<ipc::Error>(&**reply);
  ASSERT_NE(error, nullptr);
  const Status s = ipc::FromWire(error->status);
  EXPECT_EQ(s.code(), Status::Code::kUnsupported) << s.ToString();
  EXPECT_NE(s.message().find("version 1"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("version 2"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("upgrade the older side (the peer)"), std::string::npos) << s.ToString();
  CheckpointLive();
}

TEST_F(DaemonMalformedTest, ABeginWhoseShapeDoesNotFitItsRegionClosesOnlyThatConnection) {
  // Encode refuses such a Begin, so build it by hand: one region "w" of
  // 200000 bytes of f32 with shape [3, 3].
  std::string payload;
  coding::PutU64(&payload, 1);
  coding::PutU32(&payload, 1);
  coding::PutBytes(&payload, "w");
  coding::PutU8(&payload, static_cast<uint8_t>(ElementType::kFloat32));
  coding::PutU64(&payload, 200'000);
  coding::PutU8(&payload, 1);
  coding::PutU8(&payload, 2);
  coding::PutU64(&payload, 3);
  coding::PutU64(&payload, 3);
  coding::PutBytes(&payload, "");
  std::string begin;
  coding::PutU32(&begin, ipc::kMagic);
  coding::PutFixed<uint16_t>(&begin, ipc::kVersion);
  coding::PutFixed<uint16_t>(&begin, static_cast<uint16_t>(ipc::Type::kBegin));
  coding::PutU32(&begin, static_cast<uint32_t>(payload.size()));
  SendAndExpectClose(Frame(ipc::Hello{"bad", 64 << 10, 4 << 16, 1, 1}) + begin + payload);
  ASSERT_TRUE(daemon_->Running());
  CheckpointLive();
  EXPECT_NE(daemon_->Log().find("has shape [3, 3], which does not fit"), std::string::npos) << daemon_->Log();
  auto bad = OpenClient(DaemonOptions(socket_, "bad"));
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->latest_step(), std::nullopt);
}

TEST_F(DaemonMalformedTest, AnInvalidAttachIsRefusedWithAReason) {
  auto ch = ipc::Channel::Connect(socket_);
  ASSERT_TRUE(ch.ok());
  ASSERT_TRUE((*ch)->Send(ipc::Hello{"no spaces allowed", 64 << 10, 1 << 20, 1, 1}).ok());
  auto reply = (*ch)->Receive();
  ASSERT_TRUE(reply.ok() && reply->has_value());
  const auto* error = std::get_if<ipc::Error>(&**reply);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(ipc::FromWire(error->status).code(), Status::Code::kInvalidArgument);
  CheckpointLive();
}

}  // namespace
}  // namespace ckpt::testing
