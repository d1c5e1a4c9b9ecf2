// The on-disk form of one stored chunk inside a segment file:
//
//   offset size  field
//   0      4     magic "CKC1" (0x31434b43 little-endian)
//   4      1     record format version (1; 2 for codec 2)
//   5      1     codec (0 raw, 1 zstd, 2 per-plane)
//   6      1     byte-plane width (0 none, else 2, 4 or 8)
//   7      1     reserved (0)
//   8      4     raw length (bytes of the chunk before encoding)
//   12     4     stored length (bytes of payload that follow the header)
//   16     16    content hash: XXH3-128 of the raw bytes
//   32     8     payload checksum: XXH3-64 of the stored payload
//   40     8     header checksum: XXH3-64 of bytes 0..39
//   48     ...   payload
//
// Records follow one another; a record may be preceded by zero padding that
// puts its payload on a 4 KiB boundary (docs/format.md), and a segment's end
// is padded with zeros to a 4 KiB boundary. All integers are little-endian.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ckpt/status.h"
#include "engine/chunk_codec.h"
#include "engine/chunk_hash.h"

namespace ckpt {

inline constexpr uint32_t kRecordMagic = 0x31434b43;  // "CKC1"
// Records of codecs 0 and 1 are version 1, as ever; codec 2 (per-plane)
// records are version 2, so a build that predates codec 2 reports them as an
// unsupported version rather than as damage.
inline constexpr uint8_t kRecordVersion = 1;
inline constexpr uint8_t kRecordVersionPlanes = 2;
inline constexpr size_t kRecordHeaderSize = 48;

struct RecordHeader {
  Codec codec = Codec::kRaw;
  uint8_t plane_width = 0;
  uint32_t raw_len = 0;
  uint32_t stored_len = 0;
  ChunkHash hash;
  uint64_t payload_checksum = 0;
};

void EncodeRecordHeader(const RecordHeader& header, uint8_t out[kRecordHeaderSize]);

// kCorruption naming the first field that is wrong (magic, header checksum,
// codec, codec 2 in a version 1 record); kUnsupported for a record version
// this build does not know.
Status DecodeRecordHeader(const uint8_t in[kRecordHeaderSize], RecordHeader* header);

}  // namespace ckpt
