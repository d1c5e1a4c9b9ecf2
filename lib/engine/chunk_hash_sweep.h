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

// Both hashes of `size` bytes at src, block by block so that each block is
// hashed from cache right after it is copied. One XXH3 state serves both:
// xxhash's 128-bit streaming reset and update are the 64-bit ones (only the
// digest differs, and digesting leaves the state as it is), so the bytes
// are hashed once, not twice. With copy_to non-null the bytes are first
// copied there, block by block, and the hashes are taken of the copy.
inline void SweepXxh3_128And64(const void* src, void* copy_to, size_t size, size_t block, uint8_t out128[16],
                               uint64_t* out64) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  const auto* in = static_cast<const uint8_t*>(src);
  auto* out = static_cast<uint8_t*>(copy_to);
  for (size_t off = 0; off < size; off += block) {
    const size_t n = size - off < block ? size - off : block;
    const uint8_t* b = in + off;
    if (out != nullptr) {
      std::memcpy(out + off, b, n);
      b = out + off;
    }
    XXH3_64bits_update(&state, b, n);
  }
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(&state));
  std::memcpy(out128, canonical.digest, 16);
  *out64 = XXH3_64bits_digest(&state);
}

}  // namespace
}  // namespace ckpt
