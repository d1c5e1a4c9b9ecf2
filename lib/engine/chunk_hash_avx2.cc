// The XXH3 hashes of chunk_hash.cc built for AVX2 (this file is compiled
// with -mavx2; xxhash picks its vector code at compile time). chunk_hash.cc
// calls these only where the CPU has AVX2: ~1.3-1.5x the SSE2 build's speed
// on 4 MiB chunks here, and hashing is a full pass over every checkpoint.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstddef>
#include <cstdint>

#include "engine/chunk_hash_sweep.h"

namespace ckpt::internal {

void Xxh3_128Avx2(const void* data, size_t size, uint8_t out[16]) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(data, size));
  __builtin_memcpy(out, canonical.digest, 16);
}

uint64_t Xxh3_64Avx2(const void* data, size_t size) { return XXH3_64bits(data, size); }

void Xxh3_128And64Avx2(const void* src, void* copy_to, size_t size, size_t block, uint8_t out128[16],
                       uint64_t* out64) {
  SweepXxh3_128And64(src, copy_to, size, block, out128, out64);
}

}  // namespace ckpt::internal
