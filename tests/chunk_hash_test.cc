// HashAndChecksum and CopyAndDigest (one sweep) give exactly HashChunk and
// Checksum64.
#include <gtest/gtest.h>

#include <xxhash.h>  // the shared library, built for any x86-64

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/chunk_hash.h"
#include "test_util.h"

namespace ckpt {
namespace {

TEST(ChunkHash, OneSweepEqualsTheTwoHashes) {
  const auto data = ckpt::testing::RandomBytes((size_t{1} << 20) + 12345, 9);
  // Empty, each of xxhash's short digests (up to 240 bytes, from the
  // state's buffer), sizes around the block size, odd tails. One state
  // gives both hashes: each must still equal its own one-shot hash.
  for (size_t size : {size_t{0}, size_t{1}, size_t{17}, size_t{129}, size_t{240}, size_t{241}, size_t{4095},
                      size_t{65536}, size_t{65537}, size_t{300000}, data.size()}) {
    ChunkHash h;
    uint64_t c = 0;
    HashAndChecksum(data.data(), size, &h, &c);
    EXPECT_EQ(h, HashChunk(data.data(), size)) << size;
    EXPECT_EQ(c, Checksum64(data.data(), size)) << size;
  }
}

TEST(ChunkHash, CopyAndDigestCopiesAndDigestsTheCopy) {
  const auto data = ckpt::testing::RandomBytes((size_t{1} << 20) + 12345, 11);
  for (size_t size : {size_t{0}, size_t{1}, size_t{65535}, size_t{65536}, size_t{65537}, size_t{300000},
                      data.size()}) {
    std::vector<uint8_t> src(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(size));
    std::vector<uint8_t> dst(size + 1, 0xAB);  // one guard byte past the end
    ChunkDigest d;
    CopyAndDigest(dst.data(), src.data(), size, &d);
    EXPECT_TRUE(std::equal(src.begin(), src.end(), dst.begin())) << size;  // src.data() is null at 0
    EXPECT_EQ(dst[size], 0xAB) << size;
    EXPECT_EQ(d.hash, HashChunk(src.data(), size)) << size;
    EXPECT_EQ(d.checksum, Checksum64(src.data(), size)) << size;
  }
}

// The stored hashes are a format: whichever code path (AVX2 or not) this
// build dispatches to must give what libxxhash gives.
TEST(ChunkHash, MatchesLibxxhash) {
  const auto data = ckpt::testing::RandomBytes((size_t{4} << 20) + 77, 10);
  for (size_t size : {size_t{0}, size_t{17}, size_t{240}, size_t{1000}, size_t{65536}, data.size()}) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data.data(), size));
    ChunkHash want;
    std::memcpy(want.bytes.data(), c.digest, 16);
    EXPECT_EQ(HashChunk(data.data(), size), want) << size;
    EXPECT_EQ(Checksum64(data.data(), size), XXH3_64bits(data.data(), size)) << size;
  }
}

}  // namespace
}  // namespace ckpt
