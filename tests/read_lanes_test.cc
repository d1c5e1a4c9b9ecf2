// Store::Rep::ReadChunks with its chunks dealt to several lanes (threads,
// each with its own io_uring): every lane count gives back the saved bytes,
// each in its place, and a damaged chunk is named by its own index whichever
// lane read it.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "store/chunk_record.h"
#include "store/store_rep.h"
#include "submit_failure.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::kChunk;
using ckpt::testing::ScratchDir;

constexpr size_t kChunks = 10;
constexpr size_t kBuffers = 4;

// Even chunks repeat one byte of their own (compressed; no two alike, so
// none is deduplicated), odd ones are noise (stored raw); the last is short,
// so records sit at unaligned offsets.
std::vector<uint8_t> SavedBytes() {
  std::vector<uint8_t> w((kChunks - 1) * kChunk + 5000);
  const auto noise = ckpt::testing::RandomBytes(w.size(), 7);
  for (size_t c = 0; c < kChunks; ++c) {
    const size_t n = std::min(kChunk, w.size() - c * kChunk);
    if (c % 2 == 0)
      std::memset(w.data() + c * kChunk, static_cast<int>(c + 1), n);
    else
      std::memcpy(w.data() + c * kChunk, noise.data() + c * kChunk, n);
  }
  return w;
}

class ReadLanesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = SavedBytes();
    {
      Options o = ckpt::testing::SmallClientOptions(dir_);
      o.compression = Compression::kZstd;
      auto client = ckpt::testing::OpenClient(o);
      ASSERT_NE(client, nullptr);
      std::vector<uint8_t> w = saved_;
      ASSERT_TRUE(client->protect("w", w.data(), w.size(), ElementType::kBytes).ok());
      auto t = client->checkpoint(1);
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      ASSERT_TRUE(t->wait_durable().ok()) << t->status().ToString();
    }
    StoreOptions so;
    so.create_if_missing = false;
    so.read_only = true;
    auto store = Store::Open(dir_.Sub("store"), so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = *store;
    auto m = store_->rep()->catalog().GetManifest("job", 1);
    ASSERT_TRUE(m.ok() && m->has_value());
    const ManifestRegion& r = (*m)->regions.at(0);
    ASSERT_EQ(r.chunks.size(), kChunks);
    restored_.assign(saved_.size(), 0x55);
    for (size_t i = 0; i < kChunks; ++i) {
      auto loc = store_->rep()->catalog().GetChunk(r.chunks[i]);
      ASSERT_TRUE(loc.ok() && loc->has_value());
      reads_.push_back({r.chunks[i], **loc, restored_.data() + i * kChunk});
    }
    ASSERT_EQ(reads_[0].loc.codec, Codec::kZstd);
    ASSERT_EQ(reads_[1].loc.codec, Codec::kRaw);
    void* mem = ::mmap(nullptr, kBuffers * kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    buffer_memory_ = static_cast<uint8_t*>(mem);
    for (size_t b = 0; b < kBuffers; ++b) buffers_.push_back(buffer_memory_ + b * kChunk);
  }

  void TearDown() override {
    if (buffer_memory_ != nullptr) ::munmap(buffer_memory_, kBuffers * kChunk);
  }

  Status Read(unsigned lanes, size_t* failed) {
    return store_->rep()->ReadChunks(reads_, buffers_, kChunk, 16, lanes, failed);
  }

  void Damage(size_t chunk) {
    const ChunkLocation& loc = reads_[chunk].loc;
    ckpt::testing::FlipByte(store_->rep()->SegmentPath(loc.segment_id),
                            loc.offset + kRecordHeaderSize + loc.stored_len / 2);
  }

  ScratchDir dir_;
  std::vector<uint8_t> saved_, restored_;
  std::shared_ptr<Store> store_;
  std::vector<Store::Rep::ChunkRead> reads_;
  uint8_t* buffer_memory_ = nullptr;
  std::vector<uint8_t*> buffers_;
};

// 5 lanes ask for more than the 4 buffers allow: 4 are used.
TEST_F(ReadLanesTest, EveryLaneCountRestoresEachChunkInItsPlace) {
  for (unsigned lanes = 1; lanes <= 5; ++lanes) {
    std::memset(restored_.data(), 0x55, restored_.size());
    size_t failed = 99;
    Status s = Read(lanes, &failed);
    ASSERT_TRUE(s.ok()) << lanes << " lanes: " << s.ToString();
    EXPECT_EQ(restored_, saved_) << lanes << " lanes";
  }
}

TEST_F(ReadLanesTest, ADamagedChunkIsNamedWhicheverLaneReadsIt) {
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, kChunks - 1}) {
    ASSERT_NO_FATAL_FAILURE(Damage(chunk));
    for (unsigned lanes = 1; lanes <= 4; ++lanes) {
      size_t failed = 99;
      Status s = Read(lanes, &failed);
      EXPECT_EQ(s.code(), Status::Code::kCorruption) << "chunk " << chunk << ", " << lanes << " lanes: " << s.ToString();
      EXPECT_EQ(failed, chunk) << lanes << " lanes: " << s.ToString();
    }
    ASSERT_NO_FATAL_FAILURE(Damage(chunk));  // the same flip again undoes it
    size_t failed = 99;
    ASSERT_TRUE(Read(4, &failed).ok()) << "chunk " << chunk << " repaired";
  }
}

// io_uring_submit failing (the kernel out of memory for requests) ends the
// read with that error, on every lane count; it used to wait forever for
// reads the kernel never took.
TEST_F(ReadLanesTest, SubmitsThatFailEndTheReadWithTheError) {
  for (unsigned lanes = 1; lanes <= 4; ++lanes) {
    Status s;
    std::string why;
    // The lanes are started by this thread, so its filter applies to them.
    std::thread reader([&] {
      why = ckpt::testing::FailIoUringSubmitsOnThisThread();
      size_t failed = 99;
      if (why.empty()) s = Read(lanes, &failed);
    });
    reader.join();
    if (!why.empty()) GTEST_SKIP() << "cannot make io_uring submits fail here: " << why;
    EXPECT_EQ(s.code(), Status::Code::kIOError) << lanes << " lanes: " << s.ToString();
    EXPECT_NE(s.message().find("io_uring_submit"), std::string::npos) << s.ToString();
  }
  size_t failed = 99;
  ASSERT_TRUE(Read(4, &failed).ok()) << "the same reads work where submits do";
  EXPECT_EQ(restored_, saved_);
}

// One lane per CPU the caller may run on, at most 4: a job pinned to one
// core decodes on one.
TEST(DefaultReadLanes, FollowTheCpusTheCallerMayRunOn) {
  cpu_set_t all;
  CPU_ZERO(&all);
  ASSERT_EQ(::sched_getaffinity(0, sizeof(all), &all), 0);
  EXPECT_EQ(DefaultReadLanes(), static_cast<unsigned>(std::min(CPU_COUNT(&all), 4)));
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(::sched_setaffinity(0, sizeof(one), &one), 0);
  const unsigned pinned = DefaultReadLanes();
  ASSERT_EQ(::sched_setaffinity(0, sizeof(all), &all), 0);
  EXPECT_EQ(pinned, 1u);
}

}  // namespace
}  // namespace ckpt
