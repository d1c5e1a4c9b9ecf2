// Turns a chunk's raw bytes into the payload stored on disk and back.
//
// Encoding: for 2- and 4-byte (and 8-byte) element types the chunk is first
// split into byte planes (byte k of every element, then byte k+1, ...), which
// puts the compressible exponent bytes of floats side by side; then zstd. When
// compression saves less than 1/64 of the bytes, the chunk is stored raw
// (codec kRaw, no filter), so compression never makes a chunk bigger.
//
// Thread safety: an encoder or decoder is used by one thread at a time; each
// owns its zstd context and scratch buffers, allocated once and reused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "ckpt/options.h"
#include "ckpt/status.h"

namespace ckpt {

enum class Codec : uint8_t { kRaw = 0, kZstd = 1 };

struct EncodedChunk {
  Codec codec = Codec::kRaw;
  uint8_t plane_width = 0;  // 0: no byte-plane filter; else element width split
  std::string_view payload; // valid until the next Encode on the same encoder
};

class ChunkEncoder {
 public:
  ChunkEncoder(Compression compression, int zstd_level);
  ~ChunkEncoder();
  ChunkEncoder(const ChunkEncoder&) = delete;
  ChunkEncoder& operator=(const ChunkEncoder&) = delete;

  // element_size: bytes per element of the region (1 = no filter).
  Result<EncodedChunk> Encode(const uint8_t* data, size_t size, size_t element_size);

 private:
  Compression compression_;
  int level_;
  void* cctx_ = nullptr;  // ZSTD_CCtx
  std::vector<uint8_t> planes_;
  std::vector<uint8_t> compressed_;
};

class ChunkDecoder {
 public:
  ChunkDecoder();
  ~ChunkDecoder();
  ChunkDecoder(const ChunkDecoder&) = delete;
  ChunkDecoder& operator=(const ChunkDecoder&) = delete;

  // Writes exactly raw_size bytes to out; kCorruption when the payload does
  // not decode to that many bytes.
  Status Decode(Codec codec, uint8_t plane_width, std::string_view payload, uint8_t* out,
                size_t raw_size);

 private:
  void* dctx_ = nullptr;  // ZSTD_DCtx
  std::vector<uint8_t> planes_;
};

// The byte-plane transform on its own (exposed for tests and benches).
void SplitBytePlanes(const uint8_t* in, size_t size, size_t width, uint8_t* out);
void JoinBytePlanes(const uint8_t* in, size_t size, size_t width, uint8_t* out);

}  // namespace ckpt
