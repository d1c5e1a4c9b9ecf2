#include "engine/chunk_hash.h"

#define XXH_INLINE_ALL  // 2.4x faster than calling the shared library (PLATFORM.md)
#include <xxhash.h>

namespace ckpt {

#ifdef CKPT_HASH_AVX2
namespace internal {  // chunk_hash_avx2.cc
void Xxh3_128Avx2(const void* data, size_t size, uint8_t out[16]);
uint64_t Xxh3_64Avx2(const void* data, size_t size);
void Xxh3_128And64Avx2(const void* data, size_t size, size_t block, uint8_t out128[16], uint64_t* out64);
}  // namespace internal

namespace {
const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
}  // namespace
#endif

namespace {
constexpr size_t kSweepBlock = size_t{64} << 10;  // fits L2 with room to spare
}  // namespace

ChunkHash HashChunk(const void* data, size_t size) {
#ifdef CKPT_HASH_AVX2
  if (kHaveAvx2) {
    ChunkHash h;
    internal::Xxh3_128Avx2(data, size, h.bytes.data());
    return h;
  }
#endif
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(data, size));
  ChunkHash h;
  static_assert(sizeof(canonical.digest) == sizeof(h.bytes));
  __builtin_memcpy(h.bytes.data(), canonical.digest, h.bytes.size());
  return h;
}

uint64_t Checksum64(const void* data, size_t size) {
#ifdef CKPT_HASH_AVX2
  if (kHaveAvx2) return internal::Xxh3_64Avx2(data, size);
#endif
  return XXH3_64bits(data, size);
}

void HashAndChecksum(const void* data, size_t size, ChunkHash* hash, uint64_t* checksum) {
#ifdef CKPT_HASH_AVX2
  if (kHaveAvx2) return internal::Xxh3_128And64Avx2(data, size, kSweepBlock, hash->bytes.data(), checksum);
#endif
  constexpr size_t kBlock = kSweepBlock;
  XXH3_state_t h128, h64;
  XXH3_128bits_reset(&h128);
  XXH3_64bits_reset(&h64);
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t off = 0; off < size; off += kBlock) {
    const size_t n = size - off < kBlock ? size - off : kBlock;
    XXH3_128bits_update(&h128, p + off, n);
    XXH3_64bits_update(&h64, p + off, n);
  }
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(&h128));
  __builtin_memcpy(hash->bytes.data(), canonical.digest, hash->bytes.size());
  *checksum = XXH3_64bits_digest(&h64);
}

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
