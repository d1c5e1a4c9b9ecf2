// Ordering rules of the client's copy pipeline, checked with a host copy
// engine that completes copies LATE and OUT OF ORDER (client/testing_hooks.h):
// the guard, per-chunk completion, staging-slot reuse, the copier serializing
// checkpoints, the end marker after the last chunk, copy failures, and the
// restore pipeline through staging. These are the rules the CUDA engine
// relies on too (events complete late and, across devices, in any order), so
// they are tested here on machines without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "ckpt/build_info.h"
#include "ckpt/client.h"
#include "client/testing_hooks.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::HostCopyEngineOptions;
using ckpt::testing::HostCopyEngineStats;
using ckpt::testing::RandomBytes;
using ckpt::testing::Refill;
using ckpt::testing::ScopedCopyEngineFactory;
using ckpt::testing::ScratchDir;

constexpr size_t kChunk = 64 << 10;

Options TestOptions(const ScratchDir& dir, size_t staging_chunks) {
  Options o;
  o.store_dir = dir.Sub("store");
  o.job = "job";
  o.chunk_bytes = kChunk;
  o.staging_bytes = staging_chunks * kChunk;
  o.compression = Compression::kOff;  // random bytes: keep the tests fast
  return o;
}

// A client whose copy engine is the late, out-of-order host engine.
struct LateClient {
  std::shared_ptr<HostCopyEngineStats> stats = std::make_shared<HostCopyEngineStats>();
  std::unique_ptr<Client> client;

  LateClient(const Options& o, HostCopyEngineOptions eo) {
    eo.late = true;
    eo.stats = stats;
    ScopedCopyEngineFactory use([eo] { return ckpt::testing::NewHostCopyEngine(eo); });
    auto c = Client::Open(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (c.ok()) client = std::move(c).value();
  }
};

struct Params {
  bool simulate_device;  // device path: snapshot points, pinned pool, restore through staging
  size_t staging_chunks;
  uint64_t seed;
};

void PrintTo(const Params& p, std::ostream* os) {
  *os << (p.simulate_device ? "simulated device" : "host") << " memory, " << p.staging_chunks
      << " staging chunks, seed " << p.seed;
}

class CopyOrdering : public ::testing::TestWithParam<Params> {};

std::string Name(const ::testing::TestParamInfo<Params>& info) {
  return std::string(info.param.simulate_device ? "Device" : "Host") + "Staging" +
         std::to_string(info.param.staging_chunks) + "Seed" + std::to_string(info.param.seed);
}

// Bytes restored equal the bytes at checkpoint() time, over many checkpoints,
// while the loop rewrites the regions as soon as the guard returns.
TEST_P(CopyOrdering, RestoredBytesEqualTheBytesAtCheckpointTime) {
  const Params p = GetParam();
  ScratchDir dir;
  HostCopyEngineOptions eo;
  eo.seed = p.seed;
  eo.simulate_device = p.simulate_device;
  // Small pools hold few copies in flight: long delays make completions
  // overtake each other even when the copier runs slowly (ThreadSanitizer).
  if (p.staging_chunks <= 3) eo.max_delay_us = 3000;
  LateClient lc(TestOptions(dir, p.staging_chunks), eo);
  ASSERT_TRUE(lc.client);
  Client& c = *lc.client;

  std::vector<uint8_t> a = RandomBytes(13 * kChunk + 4321, 1);  // not whole chunks
  std::vector<uint8_t> b = RandomBytes(3 * kChunk, 2);
  std::vector<uint8_t> tiny = RandomBytes(100, 3);
  ASSERT_TRUE(c.protect("a", a.data(), a.size(), ElementType::kBytes).ok());
  ASSERT_TRUE(c.protect("b", b.data(), b.size(), ElementType::kBytes).ok());
  ASSERT_TRUE(c.protect("tiny", tiny.data(), tiny.size(), ElementType::kBytes).ok());
  for (const auto& r : c.regions())
    EXPECT_EQ(r.memory, p.simulate_device ? MemoryKind::kDevice : MemoryKind::kHost) << r.name;

  constexpr int kCheckpoints = 12;
  std::vector<std::vector<uint8_t>> want_a, want_b, want_tiny;
  std::vector<Ticket> tickets;
  for (int i = 0; i < kCheckpoints; ++i) {
    want_a.push_back(a);
    want_b.push_back(b);
    want_tiny.push_back(tiny);
    auto t = c.checkpoint(static_cast<uint64_t>(i + 1), nullptr);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tickets.push_back(*t);
    // The guard (wait_copied on every other step): then change everything at once.
    Status g = i % 2 == 0 ? t->guard(nullptr) : t->wait_copied();
    ASSERT_TRUE(g.ok()) << g.ToString();
    Refill(&a, 100 + i);
    Refill(&b, 200 + i);
    if (i % 3 == 0) Refill(&tiny, 300 + i);
  }
  ASSERT_TRUE(c.flush().ok());
  for (const auto& t : tickets) EXPECT_TRUE(t.durable()) << "step " << t.step();

  for (int i = kCheckpoints - 1; i >= 0; i -= 3) {
    auto r = c.restore(static_cast<uint64_t>(i + 1));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(a == want_a[i]) << "region a of step " << i + 1;
    EXPECT_TRUE(b == want_b[i]) << "region b of step " << i + 1;
    EXPECT_TRUE(tiny == want_tiny[i]) << "region tiny of step " << i + 1;
  }

  // The engine really did complete copies late and out of order.
  EXPECT_GT(lc.stats->out_of_order.load(), 0u);
  EXPECT_GT(lc.stats->max_pending.load(), 1u);
  if (p.simulate_device) {
    EXPECT_EQ(lc.stats->to_staging.load(), kCheckpoints * (14u + 3u + 1u));
  } else {
    // a and b change every step; tiny is not copied when its in-place hash
    // matches the parent's (incremental without copying, client.h).
    EXPECT_GE(lc.stats->to_staging.load(), kCheckpoints * (14u + 3u));
    EXPECT_LE(lc.stats->to_staging.load(), kCheckpoints * (14u + 3u + 1u));
  }
  if (p.simulate_device) {
    EXPECT_GT(lc.stats->from_staging.load(), 0u);  // restore went through staging
    EXPECT_GE(lc.stats->pinned_bytes.load(), p.staging_chunks * kChunk);  // pool pinned once
    EXPECT_LT(lc.stats->pinned_bytes.load(), 2 * std::max<size_t>(p.staging_chunks, 2) * kChunk);
  } else {
    EXPECT_EQ(lc.stats->from_staging.load(), 0u);  // host regions decode in place
    EXPECT_EQ(lc.stats->pinned_bytes.load(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(LateEngine, CopyOrdering,
                         ::testing::Values(Params{false, 64, 1}, Params{true, 64, 2},
                                           Params{false, 2, 3}, Params{true, 2, 4},
                                           Params{true, 3, 5}),
                         Name);

// A region overwritten right after guard() returns is never seen overwritten
// in the checkpoint: the guard covers every copy, also those that complete
// last and out of order.
TEST(CopyOrderingGuard, RegionModifiedRightAfterTheGuardIsNeverSeenModified) {
  ScratchDir dir;
  HostCopyEngineOptions eo;
  eo.seed = 11;
  eo.simulate_device = true;
  // Long enough that the last copies are still pending when guard() runs,
  // even when this thread is scheduled late (fences_waited below).
  eo.max_delay_us = 5000;
  LateClient lc(TestOptions(dir, 4), eo);
  ASSERT_TRUE(lc.client);
  Client& c = *lc.client;
  std::vector<uint32_t> region(6 * kChunk / 4);
  ASSERT_TRUE(c.protect("r", region.data(), region.size() * 4, ElementType::kUInt32).ok());

  constexpr uint32_t kPoison = 0xDEADBEEF;
  constexpr int kCheckpoints = 16;
  for (int i = 1; i <= kCheckpoints; ++i) {
    std::fill(region.begin(), region.end(), static_cast<uint32_t>(i));
    auto t = c.checkpoint(static_cast<uint64_t>(i), nullptr);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_TRUE(t->guard(nullptr).ok());
    // Immediately: the "optimizer update" scribbles over every byte.
    std::fill(region.begin(), region.end(), kPoison);
  }
  ASSERT_TRUE(c.flush().ok());
  for (int i = 1; i <= kCheckpoints; ++i) {
    auto r = c.restore(static_cast<uint64_t>(i));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    size_t poisoned = 0, wrong = 0;
    for (uint32_t v : region) {
      poisoned += v == kPoison;
      wrong += v != static_cast<uint32_t>(i);
    }
    EXPECT_EQ(poisoned, 0u) << "step " << i << ": words overwritten after the guard leaked into the checkpoint";
    EXPECT_EQ(wrong, 0u) << "step " << i;
  }
  EXPECT_GT(lc.stats->out_of_order.load(), 0u);
  EXPECT_GE(lc.stats->fences_waited.load(), static_cast<uint64_t>(kCheckpoints) / 2);
}

// Staging pool of two slots for 40 chunks, copies completing out of order:
// slots are reused only after the engine consumed them, and checkpoints
// issued back to back (the copier serializes them) all commit intact.
TEST(CopyOrderingPool, SmallPoolOutOfOrderCompletionsAndBackToBackCheckpoints) {
  ScratchDir dir;
  HostCopyEngineOptions eo;
  eo.seed = 21;
  eo.simulate_device = true;
  // With two slots at most two copies are in flight: delays far longer than
  // the copier needs to issue the next copy (also under ThreadSanitizer)
  // make completions overtake each other.
  eo.max_delay_us = 5000;
  LateClient lc(TestOptions(dir, 2), eo);
  ASSERT_TRUE(lc.client);
  Client& c = *lc.client;
  std::vector<uint8_t> d = RandomBytes(40 * kChunk, 22);
  ASSERT_TRUE(c.protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  const auto want = d;

  // No wait in between: the next checkpoint's chunks must not reach the
  // writer before the previous one's end marker.
  std::vector<Ticket> tickets;
  for (uint64_t step = 1; step <= 5; ++step) {
    auto t = c.checkpoint(step);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tickets.push_back(*t);
  }
  for (const auto& t : tickets) {
    Status s = t.wait_durable();
    EXPECT_TRUE(s.ok()) << "step " << t.step() << ": " << s.ToString();
    EXPECT_EQ(t.stats().chunks, 40u);
  }
  EXPECT_EQ(tickets[0].stats().new_chunks, 40u);
  for (size_t i = 1; i < tickets.size(); ++i) EXPECT_EQ(tickets[i].stats().new_chunks, 0u);

  for (uint64_t step : {3u, 1u, 5u}) {
    std::memset(d.data(), 0, d.size());
    auto r = c.restore(step);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(d == want) << "step " << step;
  }
  EXPECT_GT(lc.stats->out_of_order.load(), 0u);
}

// A failed copy fails its checkpoint through the ticket; earlier checkpoints
// stay intact, slots of the failed copy come back, and later checkpoints work.
TEST(CopyOrderingFailure, FailedCopyIsReportedOnTheTicket) {
  ScratchDir dir;
  HostCopyEngineOptions eo;
  eo.seed = 31;
  eo.simulate_device = true;
  // Checkpoint 1 issues copies 0..9, checkpoint 2 copies 10..19: fail one of those.
  eo.fail_copy_to_staging = [](uint64_t n) { return n == 14; };
  LateClient lc(TestOptions(dir, 3), eo);
  ASSERT_TRUE(lc.client);
  Client& c = *lc.client;
  std::vector<uint8_t> d = RandomBytes(10 * kChunk, 32);
  ASSERT_TRUE(c.protect("d", d.data(), d.size(), ElementType::kBytes).ok());

  const auto first = d;
  auto t1 = c.checkpoint(1);
  ASSERT_TRUE(t1.ok());
  ASSERT_TRUE(t1->wait_durable().ok());

  Refill(&d, 33);
  auto t2 = c.checkpoint(2);
  ASSERT_TRUE(t2.ok());
  Status copied = t2->wait_copied();
  EXPECT_EQ(copied.code(), Status::Code::kIOError) << copied.ToString();
  EXPECT_NE(copied.message().find("injected failure"), std::string::npos) << copied.ToString();
  EXPECT_NE(copied.message().find("region 'd'"), std::string::npos) << copied.ToString();
  Status guarded = t2->guard(nullptr);  // after the failure: reports it, does not hang
  EXPECT_FALSE(guarded.ok());
  EXPECT_EQ(t2->wait_durable().code(), Status::Code::kIOError);
  EXPECT_FALSE(t2->durable());
  EXPECT_TRUE(t2->finished());
  EXPECT_EQ(t2->status().code(), Status::Code::kIOError);
  EXPECT_EQ(lc.stats->failed.load(), 1u);

  // Later checkpoints go on (no staging slot was lost).
  Refill(&d, 34);
  const auto third = d;
  auto t3 = c.checkpoint(3);
  ASSERT_TRUE(t3.ok());
  ASSERT_TRUE(t3->wait_durable().ok()) << t3->status().ToString();
  EXPECT_EQ(c.flush().code(), Status::Code::kIOError);  // the failure, once

  EXPECT_EQ(c.restore(2).status().code(), Status::Code::kNotFound);
  ASSERT_TRUE(c.restore(1).ok());
  EXPECT_TRUE(d == first);
  auto r = c.restore();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3u);
  EXPECT_TRUE(d == third);
}

// Restore through staging when the checkpoint's chunks are larger than the
// slots of the restoring client (it was written with a larger chunk size).
TEST(CopyOrderingRestore, ChunksLargerThanStagingSlotsAreStagedInPieces) {
  ScratchDir dir;
  std::vector<uint8_t> d = RandomBytes(5 * kChunk + 777, 41);
  const auto want = d;
  {
    Options o = TestOptions(dir, 8);
    o.chunk_bytes = 4 * kChunk;
    HostCopyEngineOptions eo;
    eo.seed = 42;
    eo.simulate_device = true;
    LateClient lc(o, eo);
    ASSERT_TRUE(lc.client);
    ASSERT_TRUE(lc.client->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
    auto t = lc.client->checkpoint(7);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->wait_durable().ok());
  }
  HostCopyEngineOptions eo;
  eo.seed = 43;
  eo.simulate_device = true;
  LateClient lc(TestOptions(dir, 2), eo);
  ASSERT_TRUE(lc.client);
  std::memset(d.data(), 0, d.size());
  ASSERT_TRUE(lc.client->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  auto r = lc.client->restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 7u);
  EXPECT_TRUE(d == want);
  EXPECT_EQ(lc.stats->from_staging.load(), 6u);  // 5 whole 64 KiB pieces and a tail
}

// Streams exist in the API of every build; without a CUDA backend (here: the
// host engine) a non-null stream is refused, and the null stream works.
TEST(CopyOrderingApi, HostEngineRefusesStreamsAndTakesNull) {
  ScratchDir dir;
  HostCopyEngineOptions eo;
  LateClient lc(TestOptions(dir, 4), eo);
  ASSERT_TRUE(lc.client);
  std::vector<uint8_t> d = RandomBytes(3 * kChunk, 51);
  ASSERT_TRUE(lc.client->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  auto* not_a_stream = reinterpret_cast<CUstream_st*>(uintptr_t{0x1000});  // never dereferenced
  auto bad = lc.client->checkpoint(1, not_a_stream);
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument) << bad.status().ToString();
  auto t = lc.client->checkpoint(2, nullptr);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->guard(not_a_stream).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(t->guard(nullptr).ok());
  EXPECT_TRUE(t->wait_durable().ok());
}

// The default engine of this build (CUDA where built) with ordinary host
// memory: detected as pageable host memory, checkpoints as before.
TEST(CopyOrderingApi, DefaultEngineSeesPageableHostMemory) {
  ScratchDir dir;
  auto opened = Client::Open(TestOptions(dir, 4));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& c = *opened;
  std::vector<uint8_t> d = RandomBytes(2 * kChunk + 5, 61);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  const auto regions = c->regions();
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].name, "d");
  EXPECT_EQ(regions[0].bytes, d.size());
  EXPECT_EQ(regions[0].memory, MemoryKind::kHost);
  EXPECT_EQ(regions[0].device, -1);
  EXPECT_EQ(MemoryKindName(regions[0].memory), "host");
  auto t = c->checkpoint(1, nullptr);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(t->guard(nullptr).ok());
  EXPECT_TRUE(t->wait_durable().ok());
  if (!GetBuildInfo().cuda_backend) {
    auto* not_a_stream = reinterpret_cast<CUstream_st*>(uintptr_t{0x1000});
    EXPECT_EQ(c->checkpoint(2, not_a_stream).status().code(), Status::Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace ckpt
