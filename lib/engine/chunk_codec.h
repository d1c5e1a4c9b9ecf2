// Turns a chunk's raw bytes into the payload stored on disk and back.
//
// Codecs (docs/format.md, "Chunk record"):
//   kRaw    the bytes as they are.
//   kZstd   optional byte-plane split (byte k of every element, then byte k+1,
//           ...), then one zstd frame over the whole chunk.
//   kPlanes a plane table (mode and length of each byte plane), the raw planes,
//           the zstd-compressed planes (one frame each), then the chunk's
//           last size % width bytes raw.
//
// What the encoder writes depends on Options::compression:
//   kOff   always kRaw.
//   kZstd  byte planes for 2-, 4- and 8-byte types, then zstd over the chunk.
//   kAuto  per plane, from a sample: a few KiB of each plane are compressed
//          and only planes whose sample shrinks below kAutoPlaneRatio are
//          compressed; the rest (mantissa bytes of floats) are copied raw, so
//          no CPU time goes into bytes that do not compress. No plane pays:
//          kRaw without splitting at all. With zstd_level 1 planes are
//          entropy-coded only (kAutoPlaneLevel); with a higher level, at it.
//          1-byte types: the whole chunk at zstd_level if its sample pays.
//          A uniform chunk (IsUniformChunk) skips all of that: one zstd
//          frame of the whole chunk at zstd_level, always, whatever the
//          pacing below.
// Pacing (kAuto with a target speed, Options::auto_compression_mbps): the
// encoder keeps the wall time it spent compressing within bytes seen /
// target; a chunk whose expected cost (at the last compressed chunk's speed)
// does not fit is stored raw without even sampling it, so the encoder never
// runs slower than the target (the disk it feeds) on average, and compresses
// as many chunks as that allows.
// Either way, a chunk whose payload would not save 1/64 of its bytes is stored
// kRaw, so a payload is never larger than its chunk.
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

enum class Codec : uint8_t { kRaw = 0, kZstd = 1, kPlanes = 2 };
inline constexpr uint8_t kMaxCodec = static_cast<uint8_t>(Codec::kPlanes);

// kAuto compresses a plane when its sample compresses to at most this
// fraction of its size: below ~10% savings the CPU time (zstd level 1 runs
// about 480 MB/s on one core against a 2-3.5 GB/s disk) buys too little.
inline constexpr double kAutoPlaneRatio = 0.90;

// zstd level of kAuto's planes when zstd_level is 1: so negative that LZ
// matching is all but skipped, with Huffman-coded literals forced on. On
// exponent planes this is about twice level 1's speed at a slightly better
// ratio (docs/compression.md).
inline constexpr int kAutoPlaneLevel = -1000;

struct EncodedChunk {
  Codec codec = Codec::kRaw;
  uint8_t plane_width = 0;  // 0: no byte-plane filter; else element width split
  std::string_view payload; // valid until the next Encode on the same encoder
};

// One entry of a kPlanes payload's plane table (5 bytes on disk: mode u8,
// stored length u32 little-endian).
struct PlaneEntry {
  bool zstd = false;    // false: stored raw
  uint32_t stored = 0;  // bytes of this plane in the payload
};
inline constexpr size_t kPlaneEntryBytes = 5;

// Reads and checks the plane table of a kPlanes payload for a chunk of
// raw_size bytes: width 2, 4 or 8, modes known, raw planes exactly
// raw_size / width bytes, lengths adding up to the payload. kCorruption
// naming the first problem otherwise.
Result<std::vector<PlaneEntry>> ParsePlaneTable(std::string_view payload, uint8_t width,
                                                size_t raw_size);

class ChunkEncoder {
 public:
  // target_mbps: kAuto's pacing target in MB/s of raw bytes; 0 = unpaced.
  ChunkEncoder(Compression compression, int zstd_level, uint32_t target_mbps = 0);
  ~ChunkEncoder();
  ChunkEncoder(const ChunkEncoder&) = delete;
  ChunkEncoder& operator=(const ChunkEncoder&) = delete;

  // element_size: bytes per element of the region (1 = no filter).
  Result<EncodedChunk> Encode(const uint8_t* data, size_t size, size_t element_size);

  // The same, but an encoded payload is written to `out` (from its first
  // byte; at least MaxPayloadBytes(size) bytes) instead of the encoder's own
  // buffer, so it stays valid while the encoder goes on: the checkpoint
  // writer lets the disk write it from there.
  Result<EncodedChunk> Encode(const uint8_t* data, size_t size, size_t element_size, uint8_t* out);

  // The payload of `size` bytes that all equal `byte` (a uniform chunk the
  // client found in place and did not copy): one zstd frame of the whole
  // chunk, as Encode makes of such bytes under kAuto, whatever the
  // compression (kOn too); kRaw only for a chunk too small to shrink by
  // 1/64. `out` as above, or null. FailedPrecondition under kOff, which
  // stores chunks as they are given.
  Result<EncodedChunk> EncodeUniform(uint8_t byte, size_t size, uint8_t* out);

  // The most bytes an encoded payload of a `size`-byte chunk may take.
  static size_t MaxPayloadBytes(size_t size);

  // Allocates and touches, now, the scratch buffers and zstd workspaces that
  // chunks of up to chunk_bytes need, so that the first checkpoint does not
  // pay for faulting them in (fresh memory is slow to touch on these
  // machines: docs/performance.md). Optional; Encode grows them otherwise.
  void Prepare(size_t chunk_bytes);

 private:
  // `out`: where the payload goes (MaxPayloadBytes), or null for compressed_.
  Result<EncodedChunk> EncodeWhole(const uint8_t* data, size_t size, size_t element_size, uint8_t* out);
  Result<EncodedChunk> EncodeAuto(const uint8_t* data, size_t size, size_t element_size, uint8_t* out);
  uint8_t* Output(uint8_t* out, size_t capacity);
  // Compressed size of `size` bytes at level_ into compressed_; error status
  // when zstd fails.
  Result<size_t> Compress(const uint8_t* src, size_t size, uint8_t* dst, size_t capacity);
  // The same with kAuto's plane settings (plane_cctx_).
  Result<size_t> CompressPlane(const uint8_t* src, size_t size, uint8_t* dst, size_t capacity);
  // Whether a sample of `size` bytes compresses below kAutoPlaneRatio, with
  // the plane settings or the whole-chunk ones.
  Result<bool> SamplePays(const uint8_t* sample, size_t size, bool plane);

  Compression compression_;
  int level_;
  double target_bytes_per_s_ = 0;  // 0: unpaced
  double seen_bytes_ = 0;          // pacing: raw bytes given to Encode
  double busy_s_ = 0;              // pacing: wall seconds spent compressing
  double last_s_per_byte_ = 0;     // pacing: cost of the last compressed chunk
  void* cctx_ = nullptr;        // ZSTD_CCtx at level_: whole chunks
  void* plane_cctx_ = nullptr;  // ZSTD_CCtx for kAuto's planes
  std::vector<uint8_t> planes_;
  std::vector<uint8_t> compressed_;
  std::vector<uint8_t> sample_;
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
  Status DecodePlanes(uint8_t width, std::string_view payload, uint8_t* out, size_t raw_size);
  // Decompresses exactly `size` bytes into dst, kCorruption otherwise.
  Status Decompress(std::string_view frame, uint8_t* dst, size_t size);

  void* dctx_ = nullptr;  // ZSTD_DCtx
  std::vector<uint8_t> planes_;
};

// Whether every byte of the chunk is the same (size > 0): zeros, mostly (the
// optimizer state of frozen parameters, padding, buffers not yet written).
// Such a chunk compresses to a few bytes faster than the disk writes it, so
// kAuto compresses it whatever the pacing. Reads only as far as the first
// byte that differs: most chunks cost a few bytes.
bool IsUniformChunk(const uint8_t* data, size_t size);

// The byte-plane transform on its own (exposed for tests and benches): the
// first size / width * width bytes are split or joined; a tail is untouched.
void SplitBytePlanes(const uint8_t* in, size_t size, size_t width, uint8_t* out);
void JoinBytePlanes(const uint8_t* in, size_t size, size_t width, uint8_t* out);

}  // namespace ckpt
