// A write that fails while the segment writer waits for a free buffer (the
// disk fills up while every buffer is in flight): the writer reports the
// error, and the next file it writes never fills or submits a buffer whose
// write is still in flight.
//
// The bug this guards against: after such a failure the writer kept the
// buffer it had just submitted as its current one, which the failure had
// also put on the free list. The next checkpoint's segment then submitted
// that buffer twice at once; the second completion matched no write, its
// write never counted as done, and the checkpoint hung in Abort/Finish
// waiting for it (example-train on a full tmpfs, seen under CI load).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "fault_injection_env.h"
#include "segment_test_util.h"
#include "store/segment_writer.h"
#include "test_util.h"

namespace ckpt {
namespace {

using testing::ExpectRecordAt;
using testing::FaultInjectionEnv;
using testing::RandomBytes;
using testing::RawHeaderFor;
using testing::ReadWholeFile;
using testing::ScratchDir;

constexpr size_t kBuffer = 64 << 10;

// Two buffers: one being filled, one in flight. The second write of a file
// is submitted while the first is in flight, so the writer must wait for a
// buffer right after submitting it, and the injected failure is what the
// wait finds.
SegmentWriterOptions TwoBuffers(Env* env) {
  SegmentWriterOptions o;
  o.buffer_bytes = kBuffer;
  o.queue_depth = 1;
  o.max_borrowed = 1;
  o.env = env;
  return o;
}

// Appends records totalling several buffers to a fresh file, finishes it,
// and checks that every record reads back.
void WriteFileAndCheck(SegmentWriter* w, const std::string& path, uint64_t seed) {
  ASSERT_TRUE(w->Start(path).ok());
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<uint64_t> offsets;
  for (size_t i = 0; i < 6; ++i) {
    payloads.push_back(RandomBytes(kBuffer - 1000 + i * 777, seed + i));
    auto off = w->Append(RawHeaderFor(payloads.back()), payloads.back().data(), payloads.back().size());
    ASSERT_TRUE(off.ok()) << "record " << i << ": " << off.status().ToString();
    offsets.push_back(*off);
  }
  auto size = w->Finish();
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  const auto file = ReadWholeFile(path);
  ASSERT_EQ(file.size(), *size);
  for (size_t i = 0; i < payloads.size(); ++i) ExpectRecordAt(file, offsets[i], payloads[i]);
}

TEST(SegmentWriterFailedWrite, FailureFoundWaitingForABufferLeavesTheNextFileIntact) {
  ScratchDir dir;
  FaultInjectionEnv env;
  auto w = SegmentWriter::Create(TwoBuffers(&env));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Start(dir.Sub("full.seg")).ok());
  env.FailNth(FaultInjectionEnv::Op::kWrite, 2, ENOSPC);
  const auto big = RandomBytes(3 * kBuffer, 1);  // fills and submits both buffers
  auto off = (*w)->Append(RawHeaderFor(big), big.data(), big.size());
  EXPECT_TRUE(off.status().IsNoSpace()) << off.status().ToString();
  (*w)->Abort();
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("full.seg")));

  // Room again: the next files are written whole, each buffer once at a time.
  WriteFileAndCheck(w->get(), dir.Sub("next.seg"), 100);
  WriteFileAndCheck(w->get(), dir.Sub("after.seg"), 200);
}

TEST(SegmentWriterFailedWrite, BorrowedPayloadOfTheFailedWriteComesBackOnce) {
  ScratchDir dir;
  FaultInjectionEnv env;
  auto w = SegmentWriter::Create(TwoBuffers(&env));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Start(dir.Sub("full.seg")).ok());
  const auto first = RandomBytes(kBuffer, 1);  // fills the first buffer: write 1
  ASSERT_TRUE((*w)->Append(RawHeaderFor(first), first.data(), first.size()).ok());
  env.FailNth(FaultInjectionEnv::Op::kWrite, 1, ENOSPC);
  // Write 2 carries a borrowed payload and fails, found by the wait for a buffer.
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  const auto lent = RandomBytes(SegmentWriter::kMinBorrowedBytes, 2);
  std::unique_ptr<uint8_t, Free> memory(static_cast<uint8_t*>(std::aligned_alloc(4096, lent.size())));
  std::copy(lent.begin(), lent.end(), memory.get());
  int releases = 0;
  auto off = (*w)->AppendBorrowed(RawHeaderFor(lent), memory.get(), lent.size(), [&] { ++releases; });
  EXPECT_TRUE(off.status().IsNoSpace()) << off.status().ToString();
  EXPECT_EQ(releases, 1) << "the failed write's loan is given back at once";
  (*w)->Abort();
  EXPECT_EQ(releases, 1);

  WriteFileAndCheck(w->get(), dir.Sub("next.seg"), 300);
}

}  // namespace
}  // namespace ckpt
