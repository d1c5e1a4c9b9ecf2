// libFuzzer target: a chunk record (48-byte header + payload) as read back
// from a segment file. Header decoding and payload decoding must turn any
// damage into a Status, never a crash or an out-of-bounds access.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/chunk_codec.h"
#include "store/chunk_record.h"

namespace {

// Payload decoding on its own: the header's checksum would stop almost every
// mutated input before the decoder, so feed it codec, width and length directly.
void DecodePayload(const uint8_t* data, size_t size) {
  if (size < 4) return;
  const auto codec = static_cast<ckpt::Codec>(data[0] % (ckpt::kMaxCodec + 1));
  const uint8_t width = data[1] % 9;
  const size_t raw_len = (static_cast<size_t>(data[2]) << 8 | data[3]) * 4;
  std::vector<uint8_t> out(raw_len);
  static ckpt::ChunkDecoder decoder;
  (void)decoder.Decode(codec, width, {reinterpret_cast<const char*>(data + 4), size - 4}, out.data(), out.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 0 && data[0] == 'P') {
    DecodePayload(data + 1, size - 1);
    return 0;
  }
  if (size < ckpt::kRecordHeaderSize) return 0;
  ckpt::RecordHeader header;
  if (!ckpt::DecodeRecordHeader(data, &header).ok()) return 0;
  const uint8_t* payload = data + ckpt::kRecordHeaderSize;
  const size_t available = size - ckpt::kRecordHeaderSize;
  if (header.stored_len > available || header.raw_len > (1u << 20)) return 0;
  std::vector<uint8_t> out(header.raw_len);
  static ckpt::ChunkDecoder decoder;
  (void)decoder.Decode(header.codec, header.plane_width,
                       {reinterpret_cast<const char*>(payload), header.stored_len}, out.data(), out.size());
  return 0;
}
