// HashAndChecksum (one sweep) gives exactly HashChunk and Checksum64.
#include <gtest/gtest.h>

#include "engine/chunk_hash.h"
#include "test_util.h"

namespace ckpt {
namespace {

TEST(ChunkHash, OneSweepEqualsTheTwoHashes) {
  const auto data = ckpt::testing::RandomBytes((size_t{1} << 20) + 12345, 9);
  // Sizes around the block size, odd tails, and empty.
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{65536}, size_t{65537}, size_t{300000},
                      data.size()}) {
    ChunkHash h;
    uint64_t c = 0;
    HashAndChecksum(data.data(), size, &h, &c);
    EXPECT_EQ(h, HashChunk(data.data(), size)) << size;
    EXPECT_EQ(c, Checksum64(data.data(), size)) << size;
  }
}

}  // namespace
}  // namespace ckpt
