// Content hash of a chunk: XXH3-128 of its raw (unfiltered, uncompressed)
// bytes. Two chunks with equal hash and length are treated as equal, which is
// what lets an unchanged chunk be referenced instead of written again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ckpt {

struct ChunkHash {
  std::array<uint8_t, 16> bytes{};

  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  std::string Hex() const;
  bool operator==(const ChunkHash&) const = default;
};

ChunkHash HashChunk(const void* data, size_t size);

// HashChunk of `size` bytes that all equal `byte`, without such a buffer:
// the bytes are fed to the hash from one 64 KiB block, over and over. What
// the client uses for a uniform chunk it found in place and did not copy.
ChunkHash HashUniformChunk(uint8_t byte, size_t size);

// XXH3-64 checksum of stored bytes (record payloads and headers).
uint64_t Checksum64(const void* data, size_t size);

// HashChunk and Checksum64 of the same bytes (a raw chunk is its own
// payload) in one pass over memory: xxhash's 128-bit and 64-bit streaming
// states are one and the same (only the digests differ), so one state is
// fed the bytes once and gives both. Equal to calling the two.
void HashAndChecksum(const void* data, size_t size, ChunkHash* hash, uint64_t* checksum);

// A chunk's content hash and the checksum of its raw bytes, taken as it was
// staged (CopyAndDigest), so that the writer need not read the bytes again
// for them when it stores the chunk.
struct ChunkDigest {
  ChunkHash hash;
  uint64_t checksum = 0;  // Checksum64 of the raw bytes (a raw payload's checksum)
};

// memcpy(dst, src, size) and the ChunkDigest of the copy, in one sweep:
// 64 KiB blocks, each hashed right after it was copied, from cache. The
// digest is of the bytes at dst, whatever src holds afterwards.
void CopyAndDigest(void* dst, const void* src, size_t size, ChunkDigest* digest);

struct ChunkHashHasher {
  size_t operator()(const ChunkHash& h) const {
    size_t v;
    static_assert(sizeof(v) <= sizeof(h.bytes));
    __builtin_memcpy(&v, h.bytes.data(), sizeof(v));
    return v;
  }
};

}  // namespace ckpt
