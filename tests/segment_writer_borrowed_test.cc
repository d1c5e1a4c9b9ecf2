// Records whose payload the segment writer writes straight from the
// caller's memory (AppendBorrowed): where they land, when the memory is
// given back, and what happens to it on short writes, failures and Abort.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "fault_injection_env.h"
#include "paced_disk_env.h"
#include "segment_test_util.h"
#include "store/segment_writer.h"
#include "test_util.h"

namespace ckpt {
namespace {

using testing::ExpectRecordAt;
using testing::FaultInjectionEnv;
using testing::PacedDiskEnv;
using testing::RandomBytes;
using testing::RawHeaderFor;
using testing::ReadWholeFile;
using testing::ScratchDir;

constexpr size_t kBorrowable = SegmentWriter::kMinBorrowedBytes;

// A payload to lend: `bytes` of random data in 4 KiB-aligned memory (plus
// `misalign` bytes in front), and how often the writer gave it back.
class Lent {
 public:
  Lent(size_t bytes, uint64_t seed, size_t misalign = 0)
      : expected_(RandomBytes(bytes, seed)),
        memory_(static_cast<uint8_t*>(std::aligned_alloc(4096, (bytes + misalign + 4095) / 4096 * 4096))),
        data_(memory_.get() + misalign) {
    std::memcpy(data_, expected_.data(), bytes);
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return expected_.size(); }
  const std::vector<uint8_t>& expected() const { return expected_; }
  int releases() const { return releases_; }
  std::function<void()> release() {
    return [this] { ++releases_; };
  }
  // The lender reuses its memory.
  void Scribble() { std::memset(data_, 0xEE, size()); }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::vector<uint8_t> expected_;
  std::unique_ptr<uint8_t, Free> memory_;
  uint8_t* data_;
  int releases_ = 0;
};

SegmentWriterOptions SmallBuffers(Env* env = nullptr, unsigned max_borrowed = 2) {
  SegmentWriterOptions o;
  o.buffer_bytes = 64 << 10;
  o.queue_depth = 2;
  o.max_borrowed = max_borrowed;
  o.env = env;
  return o;
}

Result<uint64_t> Lend(SegmentWriter* w, Lent* payload) {
  return w->AppendBorrowed(RawHeaderFor(payload->expected()), payload->data(), payload->size(),
                           payload->release());
}

TEST(SegmentWriterBorrowed, PayloadsStartOn4KiBBoundariesBetweenCopiedRecords) {
  ScratchDir dir;
  auto w = SegmentWriter::Create(SmallBuffers());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const std::string path = dir.Sub("a.seg");
  ASSERT_TRUE((*w)->Start(path).ok());

  const auto small = RandomBytes(1000, 1);
  Lent exact(kBorrowable, 2);
  Lent with_tail(kBorrowable + 100, 3);  // its last partial block is copied
  const auto between = RandomBytes(5000, 4);
  Lent larger_than_a_buffer(size_t{1} << 20, 5);

  std::vector<uint64_t> ends;  // where each record ends: padding runs from there
  auto first = (*w)->Append(RawHeaderFor(small), small.data(), small.size());
  ASSERT_TRUE(first.ok());
  ends.push_back((*w)->size());
  std::vector<std::pair<uint64_t, Lent*>> lent;
  for (Lent* p : {&exact, &with_tail}) {
    auto off = Lend(w->get(), p);
    ASSERT_TRUE(off.ok()) << off.status().ToString();
    EXPECT_EQ((*off + kRecordHeaderSize) % 4096, 0u) << "payload not 4 KiB-aligned in the file";
    EXPECT_GE(*off, ends.back());
    EXPECT_LT(*off, ends.back() + 4096) << "more padding than needed";
    lent.emplace_back(*off, p);
    ends.push_back((*w)->size());
  }
  auto copied = (*w)->Append(RawHeaderFor(between), between.data(), between.size());
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(*copied, ends.back()) << "a copied record follows the last one directly";
  ends.push_back((*w)->size());
  auto big = Lend(w->get(), &larger_than_a_buffer);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  lent.emplace_back(*big, &larger_than_a_buffer);

  auto size = (*w)->Finish();
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  for (auto& [offset, p] : lent) EXPECT_EQ(p->releases(), 1) << "payload at " << offset;
  const auto file = ReadWholeFile(path);
  ASSERT_EQ(file.size(), *size);
  ExpectRecordAt(file, *first, small);
  ExpectRecordAt(file, *copied, between);
  for (auto& [offset, p] : lent) ExpectRecordAt(file, offset, p->expected());
  // Padding before each lent record is zeros.
  for (size_t i = 0; i < 2; ++i)
    for (uint64_t b = ends[i]; b < lent[i].first; ++b) ASSERT_EQ(file[b], 0) << "padding byte " << b;
}

TEST(SegmentWriterBorrowed, SmallOrUnalignedPayloadsAreCopiedAndGivenBackAtOnce) {
  ScratchDir dir;
  auto w = SegmentWriter::Create(SmallBuffers());
  ASSERT_TRUE(w.ok());
  const std::string path = dir.Sub("a.seg");
  ASSERT_TRUE((*w)->Start(path).ok());
  Lent small(kBorrowable - 4096, 1);
  Lent unaligned(kBorrowable, 2, /*misalign=*/8);
  std::vector<uint64_t> offsets;
  for (Lent* p : {&small, &unaligned}) {
    const uint64_t end = (*w)->size();
    auto off = Lend(w->get(), p);
    ASSERT_TRUE(off.ok()) << off.status().ToString();
    EXPECT_EQ(*off, end) << "a copied record is packed, without padding";
    EXPECT_EQ(p->releases(), 1) << "copied, so given back before AppendBorrowed returned";
    p->Scribble();
    offsets.push_back(*off);
  }
  ASSERT_TRUE((*w)->Finish().ok());
  const auto file = ReadWholeFile(path);
  ExpectRecordAt(file, offsets[0], small.expected());
  ExpectRecordAt(file, offsets[1], unaligned.expected());
}

TEST(SegmentWriterBorrowed, BorrowingOffCopiesEverything) {
  ScratchDir dir;
  auto w = SegmentWriter::Create(SmallBuffers(nullptr, /*max_borrowed=*/0));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Start(dir.Sub("a.seg")).ok());
  Lent payload(kBorrowable, 1);
  auto off = Lend(w->get(), &payload);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, 0u);
  EXPECT_EQ(payload.releases(), 1);
  payload.Scribble();
  ASSERT_TRUE((*w)->Finish().ok());
  ExpectRecordAt(ReadWholeFile(dir.Sub("a.seg")), 0, payload.expected());
}

TEST(SegmentWriterBorrowed, MemoryComesBackOnlyWhenItsWriteIsOver) {
  ScratchDir dir;
  PacedDiskEnv env(PacedDiskEnv::Disk::kBusy);  // polls see no write complete
  auto w = SegmentWriter::Create(SmallBuffers(&env));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Start(dir.Sub("a.seg")).ok());
  Lent payload(kBorrowable, 1);
  ASSERT_TRUE(Lend(w->get(), &payload).ok());
  EXPECT_EQ(payload.releases(), 0);
  EXPECT_GE((*w)->BytesInFlight(), kBorrowable) << "the lent payload is queued for the disk";
  EXPECT_EQ(payload.releases(), 0);
  env.set_disk(PacedDiskEnv::Disk::kIdle);  // the next poll sees the write done
  EXPECT_EQ((*w)->BytesInFlight(), 0u);
  EXPECT_EQ(payload.releases(), 1);
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_EQ(payload.releases(), 1);
}

TEST(SegmentWriterBorrowed, AtMostMaxBorrowedPayloadsInFlight) {
  ScratchDir dir;
  PacedDiskEnv env(PacedDiskEnv::Disk::kBusy);
  auto w = SegmentWriter::Create(SmallBuffers(&env, /*max_borrowed=*/1));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Start(dir.Sub("a.seg")).ok());
  Lent a(kBorrowable, 1), b(kBorrowable, 2);
  ASSERT_TRUE(Lend(w->get(), &a).ok());
  EXPECT_EQ(a.releases(), 0);
  ASSERT_TRUE(Lend(w->get(), &b).ok());
  EXPECT_EQ(a.releases(), 1) << "the second loan had to wait for the first write";
  EXPECT_EQ(b.releases(), 0);
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_EQ(b.releases(), 1);
}

TEST(SegmentWriterBorrowed, ShortGatheredWritesAreCompleted) {
  ScratchDir dir;
  FaultInjectionEnv env;
  env.SetShortWrites(true);
  auto w = SegmentWriter::Create(SmallBuffers(&env));
  ASSERT_TRUE(w.ok());
  const std::string path = dir.Sub("a.seg");
  ASSERT_TRUE((*w)->Start(path).ok());
  const auto small = RandomBytes(3000, 1);
  ASSERT_TRUE((*w)->Append(RawHeaderFor(small), small.data(), small.size()).ok());
  std::vector<std::unique_ptr<Lent>> lent;
  std::vector<uint64_t> offsets;
  for (size_t i = 0; i < 4; ++i) {
    lent.push_back(std::make_unique<Lent>(kBorrowable + i * 5000, 10 + i));
    auto off = Lend(w->get(), lent.back().get());
    ASSERT_TRUE(off.ok()) << off.status().ToString();
    offsets.push_back(*off);
  }
  ASSERT_TRUE((*w)->Finish().ok());
  const auto file = ReadWholeFile(path);
  ExpectRecordAt(file, 0, small);
  for (size_t i = 0; i < lent.size(); ++i) {
    EXPECT_EQ(lent[i]->releases(), 1);
    ExpectRecordAt(file, offsets[i], lent[i]->expected());
  }
}

TEST(SegmentWriterBorrowed, AFailedWriteGivesTheMemoryBackAndFinishFails) {
  ScratchDir dir;
  FaultInjectionEnv env;
  auto w = SegmentWriter::Create(SmallBuffers(&env));
  ASSERT_TRUE(w.ok());
  const std::string path = dir.Sub("a.seg");
  ASSERT_TRUE((*w)->Start(path).ok());
  env.FailNth(FaultInjectionEnv::Op::kWrite, 1, ENOSPC);
  Lent payload(kBorrowable, 1);
  (void)Lend(w->get(), &payload);  // the failure may surface here or at Finish
  auto size = (*w)->Finish();
  EXPECT_TRUE(size.status().IsNoSpace()) << size.status().ToString();
  EXPECT_EQ(payload.releases(), 1);
  EXPECT_FALSE(std::filesystem::exists(path)) << "a failed segment file is removed";
}

TEST(SegmentWriterBorrowed, AbortGivesBackEveryLoan) {
  ScratchDir dir;
  PacedDiskEnv env(PacedDiskEnv::Disk::kBusy);
  auto w = SegmentWriter::Create(SmallBuffers(&env));
  ASSERT_TRUE(w.ok());
  const std::string path = dir.Sub("a.seg");
  ASSERT_TRUE((*w)->Start(path).ok());
  Lent a(kBorrowable, 1), b(kBorrowable * 2, 2);
  ASSERT_TRUE(Lend(w->get(), &a).ok());
  ASSERT_TRUE(Lend(w->get(), &b).ok());
  (*w)->Abort();
  EXPECT_EQ(a.releases(), 1);
  EXPECT_EQ(b.releases(), 1);
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace ckpt
