// Writes valid inputs for the fuzzers' seed corpora: make_seeds DIR.
#include <fstream>
#include <string>
#include <vector>

#include "engine/chunk_codec.h"
#include "engine/manifest.h"
#include "ipc/protocol.h"
#include "store/chunk_record.h"

namespace {

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// One valid frame of every client <-> ckptd message type (protocol version
// 2: region tables with a shape, a scalar shape and none; user states).
void WriteIpcSeeds(const std::string& dir) {
  namespace ipc = ckpt::ipc;
  const std::vector<ipc::RegionEntry> regions = {
      {"weights", ckpt::ElementType::kFloat32, 1 << 20, ckpt::Shape{512, 512}},
      {"step", ckpt::ElementType::kUInt64, 8, ckpt::Shape{}},
      {"blob", ckpt::ElementType::kBytes, 100, std::nullopt}};
  const std::string user_state = std::string(R"({"step": 42, "loader": [0, 96]})") + '\0' + "\xff tail";
  ipc::InfoReply info;
  info.step = 42;
  info.created_unix_ms = 1700000000000;
  info.has_parent = true;
  info.parent_step = 41;
  info.chunk_bytes = 1 << 20;
  info.logical_bytes = (1 << 20) + 108;
  info.written_bytes = 4096;
  info.chunks = 3;
  info.new_chunks = 1;
  info.regions = regions;
  info.user_state = user_state;
  const std::vector<ipc::Message> messages = {
      ipc::Hello{"seed", 1 << 20, 8 << 20, 1, 1}, ipc::PoolOffer{1 << 20, 8},
      ipc::Error{{7, "busy"}}, ipc::Begin{42, regions, user_state}, ipc::ChunkStaged{0, 1, 2, 4096},
      ipc::CopyDone{{0, ""}}, ipc::SlotFree{2}, ipc::Durable{42, 100, 50, 2, 1},
      ipc::Failed{42, {6, "disk full"}}, ipc::Restore{true, 42, regions},
      ipc::RestoreChunk{0, 4096, 1, 4096}, ipc::RestoreAck{1}, ipc::RestoreDone{42, {0, ""}, user_state},
      ipc::LatestQuery{}, ipc::LatestReply{true, 42}, ipc::Close{}, ipc::Closed{},
      ipc::StatusQuery{}, ipc::StatusReply{"{}"}, ipc::InfoQuery{42}, info};
  for (const auto& m : messages) {
    auto frame = ipc::Encode(m);
    if (frame.ok()) Write(dir + "/ipc/" + ipc::TypeName(ipc::TypeOf(m)), *frame);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  WriteIpcSeeds(dir);
  ckpt::Manifest m;
  m.job = "seed";
  m.step = 42;
  m.created_unix_ms = 1700000000000;
  m.parent_step = 41;
  m.chunk_bytes = 65536;
  m.logical_bytes = 70000;
  m.regions.push_back({"weights", ckpt::ElementType::kFloat32, 70000, {}, std::nullopt});
  m.regions[0].chunks.resize(2);
  m.regions[0].chunks[1].bytes[3] = 7;
  Write(dir + "/manifest/valid", ckpt::EncodeManifest(m));
  // Version 2 fields: a recorded shape (and a scalar one) and a user state.
  m.regions[0].shape = ckpt::Shape{35, 500};
  m.regions.push_back({"step", ckpt::ElementType::kInt64, 8, {}, ckpt::Shape{}});
  m.regions[1].chunks.resize(1);
  m.logical_bytes += 8;
  m.user_state = R"({"step": 42, "loader": [0, 96]})";
  Write(dir + "/manifest/shaped", ckpt::EncodeManifest(m));

  std::vector<float> floats(1024);
  for (size_t i = 0; i < floats.size(); ++i) floats[i] = static_cast<float>(i) * 0.01f;
  const auto* raw = reinterpret_cast<const uint8_t*>(floats.data());
  const size_t raw_len = floats.size() * sizeof(float);
  // kAuto writes codec 2 (per-plane): plane table, raw mantissa planes, the
  // compressed exponent plane.
  for (auto compression : {ckpt::Compression::kZstd, ckpt::Compression::kOff, ckpt::Compression::kAuto}) {
    ckpt::ChunkEncoder encoder(compression, 1);
    auto encoded = encoder.Encode(raw, raw_len, 4);
    ckpt::RecordHeader h;
    h.codec = encoded->codec;
    h.plane_width = encoded->plane_width;
    h.raw_len = static_cast<uint32_t>(raw_len);
    h.stored_len = static_cast<uint32_t>(encoded->payload.size());
    h.hash = ckpt::HashChunk(raw, raw_len);
    h.payload_checksum = ckpt::Checksum64(encoded->payload.data(), encoded->payload.size());
    uint8_t header[ckpt::kRecordHeaderSize];
    ckpt::EncodeRecordHeader(h, header);
    const std::string name = compression == ckpt::Compression::kZstd   ? "zstd"
                             : compression == ckpt::Compression::kAuto ? "planes"
                                                                       : "raw";
    Write(dir + "/chunk_record/" + name,
          std::string(reinterpret_cast<const char*>(header), sizeof header) + std::string(encoded->payload));
    // The payload-only mode: 'P', codec, width, raw length / 4 (big-endian u16), payload.
    const size_t quads = raw_len / 4;
    Write(dir + "/chunk_record/payload-" + name,
          std::string{'P', static_cast<char>(h.codec), static_cast<char>(h.plane_width),
                      static_cast<char>(quads >> 8), static_cast<char>(quads & 0xff)} +
              std::string(encoded->payload));
  }
  return 0;
}
