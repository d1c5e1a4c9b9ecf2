// InPlaceHasher: the copier and a helper thread hash a checkpoint's chunks
// in place; the copier gets every chunk's HashChunk, in order, whichever
// thread hashed it, and after Finish() the helper reads nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "client/in_place_hasher.h"
#include "engine/chunk_hash.h"
#include "test_util.h"

namespace ckpt {
namespace {

using testing::RandomBytes;

std::vector<InPlaceHasher::Chunk> ChunksOf(const std::vector<uint8_t>& bytes, size_t chunk) {
  std::vector<InPlaceHasher::Chunk> chunks;
  for (size_t off = 0; off < bytes.size(); off += chunk)
    chunks.push_back({bytes.data() + off, std::min(chunk, bytes.size() - off)});
  return chunks;
}

void ExpectEveryHash(InPlaceHasher& h, const std::vector<InPlaceHasher::Chunk>& chunks) {
  for (size_t i = 0; i < chunks.size(); ++i)
    ASSERT_EQ(h.Get(i), HashChunk(chunks[i].data, chunks[i].size)) << "chunk " << i;
}

TEST(InPlaceHasher, GivesEveryChunksHashInOrderIncludingAShortLastChunk) {
  const auto bytes = RandomBytes((64 << 20) + 12345, 1);
  const auto chunks = ChunksOf(bytes, 1 << 20);
  InPlaceHasher h;
  h.Start(chunks);
  ExpectEveryHash(h, chunks);
  h.Finish();
  EXPECT_LE(h.hashed_by_helper(), chunks.size());
}

TEST(InPlaceHasher, TheHelperHashesAheadOfTheCopier) {
  const auto bytes = RandomBytes(32 << 20, 2);
  const auto chunks = ChunksOf(bytes, 1 << 20);
  InPlaceHasher h;
  h.Start(chunks);
  // The copier asks for nothing: the helper alone hashes every chunk.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (h.hashed_by_helper() < chunks.size() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(h.hashed_by_helper(), chunks.size());
  ExpectEveryHash(h, chunks);  // and the copier gets its hashes
  h.Finish();
}

TEST(InPlaceHasher, AfterFinishTheHelperReadsNothing) {
  // Freed right after Finish(): a helper still hashing would read freed
  // memory (caught by the ASan build) and go on counting.
  auto bytes = std::make_unique<std::vector<uint8_t>>(size_t{256} << 20, uint8_t{3});
  const auto chunks = ChunksOf(*bytes, 64 << 10);
  InPlaceHasher h;
  h.Start(chunks);
  ASSERT_EQ(h.Get(0), HashChunk(chunks[0].data, chunks[0].size));
  h.Finish();
  const size_t hashed = h.hashed_by_helper();
  EXPECT_LT(hashed, chunks.size());  // stopped well before the end
  bytes.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(h.hashed_by_helper(), hashed);
}

TEST(InPlaceHasher, BatchesOfAnySizeReuseOneHelper) {
  InPlaceHasher h;
  for (size_t n : {0, 1, 2, 7, 1, 33}) {
    const auto bytes = RandomBytes(n * (256 << 10), static_cast<uint32_t>(n));
    const auto chunks = ChunksOf(bytes, 256 << 10);
    h.Start(chunks);
    ExpectEveryHash(h, chunks);
    h.Finish();
  }
}

TEST(InPlaceHasher, APartlyReadBatchCanBeFollowedByAnother) {
  // A checkpoint that stops early (a copy failed) Finish()es after a prefix.
  const auto a = RandomBytes(16 << 20, 4);
  const auto b = RandomBytes(8 << 20, 5);
  InPlaceHasher h;
  h.Start(ChunksOf(a, 1 << 20));
  ASSERT_EQ(h.Get(0), HashChunk(a.data(), 1 << 20));
  h.Finish();
  const auto chunks = ChunksOf(b, 1 << 20);
  h.Start(chunks);
  ExpectEveryHash(h, chunks);
  h.Finish();
}

}  // namespace
}  // namespace ckpt
