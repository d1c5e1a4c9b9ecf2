// The one-sweep XXH3-128 + XXH3-64 loop shared by chunk_hash.cc (baseline
// x86-64) and chunk_hash_avx2.cc (-mavx2). Include it after <xxhash.h> with
// XXH_INLINE_ALL. It lives in an unnamed namespace on purpose: each file gets
// its own copy compiled for its own instruction set, and the linker can never
// substitute the AVX2 copy on a CPU without AVX2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ckpt {
namespace {

// Both hashes of `size` bytes at src, block by block so that the second hash
// (and the first, when copying) reads each block from cache. With copy_to
// non-null the bytes are first copied there, block by block, and the hashes
// are taken of the copy.
inline void SweepXxh3_128And64(const void* src, void* copy_to, size_t size, size_t block, uint8_t out128[16],
                               uint64_t* out64) {
  XXH3_state_t h128, h64;
  XXH3_128bits_reset(&h128);
  XXH3_64bits_reset(&h64);
  const auto* in = static_cast<const uint8_t*>(src);
  auto* out = static_cast<uint8_t*>(copy_to);
  for (size_t off = 0; off < size; off += block) {
    const size_t n = size - off < block ? size - off : block;
    const uint8_t* b = in + off;
    if (out != nullptr) {
      std::memcpy(out + off, b, n);
      b = out + off;
    }
    XXH3_128bits_update(&h128, b, n);
    XXH3_64bits_update(&h64, b, n);
  }
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(&h128));
  std::memcpy(out128, canonical.digest, 16);
  *out64 = XXH3_64bits_digest(&h64);
}

}  // namespace
}  // namespace ckpt
