#include "engine/chunk_hash.h"

#define XXH_INLINE_ALL  // 2.4x faster than calling the shared library (PLATFORM.md)
#include <xxhash.h>

namespace ckpt {

ChunkHash HashChunk(const void* data, size_t size) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(data, size));
  ChunkHash h;
  static_assert(sizeof(canonical.digest) == sizeof(h.bytes));
  __builtin_memcpy(h.bytes.data(), canonical.digest, h.bytes.size());
  return h;
}

uint64_t Checksum64(const void* data, size_t size) { return XXH3_64bits(data, size); }

std::string ChunkHash::Hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace ckpt
