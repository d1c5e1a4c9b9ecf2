#include "engine/chunk_hash.h"

#include <algorithm>
#include <vector>

#define XXH_INLINE_ALL  // 2.4x faster than calling the shared library (PLATFORM.md)
#include <xxhash.h>

#include "engine/chunk_hash_sweep.h"

namespace ckpt {

#ifdef CKPT_HASH_AVX2
namespace internal {  // chunk_hash_avx2.cc
void Xxh3_128Avx2(const void* data, size_t size, uint8_t out[16]);
uint64_t Xxh3_64Avx2(const void* data, size_t size);
void Xxh3_128And64Avx2(const void* src, void* copy_to, size_t size, size_t block, uint8_t out128[16],
                       uint64_t* out64);
}  // namespace internal

namespace {
const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
}  // namespace
#endif

namespace {
constexpr size_t kSweepBlock = size_t{64} << 10;  // fits L2 with room to spare

// The canonical (big-endian) bytes of an XXH3-128 digest.
ChunkHash FromXxh128(XXH128_hash_t digest) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, digest);
  ChunkHash h;
  static_assert(sizeof(canonical.digest) == sizeof(h.bytes));
  __builtin_memcpy(h.bytes.data(), canonical.digest, h.bytes.size());
  return h;
}
}  // namespace

ChunkHash HashChunk(const void* data, size_t size) {
#ifdef CKPT_HASH_AVX2
  if (kHaveAvx2) {
    ChunkHash h;
    internal::Xxh3_128Avx2(data, size, h.bytes.data());
    return h;
  }
#endif
  return FromXxh128(XXH3_128bits(data, size));
}

ChunkHash HashUniformChunk(uint8_t byte, size_t size) {
  // Streaming XXH3-128 equals the one-shot digest of the same bytes.
  const std::vector<uint8_t> block(std::min(size, kSweepBlock), byte);
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  for (size_t off = 0; off < size; off += block.size())
    XXH3_128bits_update(&state, block.data(), std::min(block.size(), size - off));
  return FromXxh128(XXH3_128bits_digest(&state));
}

uint64_t Checksum64(const void* data, size_t size) {
#ifdef CKPT_HASH_AVX2
  if (kHaveAvx2) return internal::Xxh3_64Avx2(data, size);
#endif
  return XXH3_64bits(data, size);
}

namespace {
void Sweep(const void* src, void* copy_to, size_t size, ChunkHash* hash, uint64_t* checksum) {
#ifdef CKPT_HASH_AVX2
  if (kHaveAvx2)
    return internal::Xxh3_128And64Avx2(src, copy_to, size, kSweepBlock, hash->bytes.data(), checksum);
#endif
  SweepXxh3_128And64(src, copy_to, size, kSweepBlock, hash->bytes.data(), checksum);
}
}  // namespace

void HashAndChecksum(const void* data, size_t size, ChunkHash* hash, uint64_t* checksum) {
  Sweep(data, nullptr, size, hash, checksum);
}

void CopyAndDigest(void* dst, const void* src, size_t size, ChunkDigest* digest) {
  Sweep(src, dst, size, &digest->hash, &digest->checksum);
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
