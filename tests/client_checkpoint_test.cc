// The public Client API: protect, checkpoint, restore, and what they store.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::OpenClient;
using ckpt::testing::FloatWeights;
using ckpt::testing::RandomBytes;
using ckpt::testing::Refill;
using ckpt::testing::ScratchDir;
using ckpt::testing::SmallClientOptions;
using ckpt::testing::kChunk;


// Checkpoints `step` and waits until it is durable; returns its stats.
CheckpointStats Durable(Client* c, uint64_t step) {
  auto t = c->checkpoint(step);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return {};
  Status s = t->wait_durable();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(t->durable());
  EXPECT_EQ(t->step(), step);
  return t->stats();
}

size_t SegmentFileCount(const std::string& store_dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(store_dir + "/segments"))
    n += e.path().extension() == ".seg" ? 1 : 0;
  return n;
}

template <typename T>
void Scribble(std::vector<T>* v) {
  std::memset(v->data(), 0x5A, v->size() * sizeof(T));
}

TEST(ClientCheckpoint, RestoreReturnsExactlyTheBytesSaved) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<float> weights = FloatWeights(300001, 1);        // not a whole number of chunks
  std::vector<uint8_t> adam = RandomBytes(200 << 10, 2);       // bf16, random
  std::vector<uint8_t> blob = RandomBytes(777, 3);             // smaller than one chunk
  std::vector<int64_t> counters(5000);
  for (size_t i = 0; i < counters.size(); ++i) counters[i] = static_cast<int64_t>(i * i);
  ASSERT_TRUE(c->protect("weights", weights.data(), weights.size() * 4, ElementType::kFloat32).ok());
  ASSERT_TRUE(c->protect("adam", adam.data(), adam.size(), ElementType::kBFloat16).ok());
  ASSERT_TRUE(c->protect("blob", blob.data(), blob.size(), ElementType::kBytes).ok());
  ASSERT_TRUE(c->protect("counters", counters.data(), counters.size() * 8, ElementType::kInt64).ok());
  const auto w0 = weights;
  const auto a0 = adam;
  const auto b0 = blob;
  const auto c0 = counters;

  const CheckpointStats stats = Durable(c.get(), 42);
  EXPECT_EQ(stats.logical_bytes, weights.size() * 4 + adam.size() + blob.size() + counters.size() * 8);
  EXPECT_EQ(stats.chunks, 19u + 4u + 1u + 1u);  // ceil(1200004/64Ki) = 19

  Scribble(&weights);
  Scribble(&adam);
  Scribble(&blob);
  Scribble(&counters);
  auto r = c->restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 42u);
  EXPECT_EQ(weights, w0);
  EXPECT_EQ(adam, a0);
  EXPECT_EQ(blob, b0);
  EXPECT_EQ(counters, c0);
}

TEST(ClientCheckpoint, ZeroByteRegionsCheckpointAndRestore) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<uint8_t> data = RandomBytes(100000, 4);
  const auto d0 = data;
  ASSERT_TRUE(c->protect("empty-null", nullptr, 0, ElementType::kFloat32).ok());
  ASSERT_TRUE(c->protect("data", data.data(), data.size(), ElementType::kBytes).ok());
  ASSERT_TRUE(c->protect("empty", data.data(), 0, ElementType::kBytes).ok());
  const CheckpointStats stats = Durable(c.get(), 1);
  EXPECT_EQ(stats.chunks, 2u);
  Scribble(&data);
  auto r = c->restore(1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(data, d0);

  auto store = Store::Open(SmallClientOptions(dir).store_dir, {.create_if_missing = false, .read_only = true});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto info = (*store)->Get("job", 1);
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->regions.size(), 3u);
  for (const auto& region : info->regions) {
    if (region.name != "data") {
      EXPECT_EQ(region.bytes, 0u) << region.name;
    }
  }
}

TEST(ClientCheckpoint, OnlyZeroByteRegionsMakeAnEmptyCheckpoint) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->protect("nothing", nullptr, 0, ElementType::kBytes).ok());
  const CheckpointStats stats = Durable(c.get(), 3);
  EXPECT_EQ(stats.chunks, 0u);
  EXPECT_EQ(stats.written_bytes, 0u);
  auto r = c->restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 3u);
}

TEST(ClientCheckpoint, RestoreOfAnOlderStepGivesThatStepsBytes) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<float> w = FloatWeights(100000, 5);
  ASSERT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32).ok());
  std::vector<std::vector<float>> saved;
  for (uint64_t step = 10; step <= 40; step += 10) {
    for (size_t i = step; i < w.size(); i += 1000) w[i] += 1.0f;  // touch several chunks
    saved.push_back(w);
    Durable(c.get(), step);
  }
  for (uint64_t step : {20u, 10u, 40u, 30u}) {
    Scribble(&w);
    auto r = c->restore(step);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, step);
    EXPECT_EQ(w, saved[step / 10 - 1]) << "step " << step;
  }
}

TEST(ClientCheckpoint, RestoreOfAMissingStepIsNotFound) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<uint8_t> d = RandomBytes(1000, 6);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  Durable(c.get(), 5);
  EXPECT_EQ(c->restore(6).status().code(), Status::Code::kNotFound);
}

TEST(ClientCheckpoint, LatestStepTracksCommittedCheckpoints) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->latest_step().has_value());
  std::vector<uint8_t> d = RandomBytes(5000, 7);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  Durable(c.get(), 100);
  EXPECT_EQ(c->latest_step(), std::optional<uint64_t>(100));
  Durable(c.get(), 250);
  EXPECT_EQ(c->latest_step(), std::optional<uint64_t>(250));
}

TEST(ClientCheckpoint, OneChangedChunkStoresExactlyOneNewChunk) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<uint8_t> d = RandomBytes(32 * kChunk, 8);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  const CheckpointStats first = Durable(c.get(), 1);
  EXPECT_EQ(first.new_chunks, 32u);
  EXPECT_GE(first.written_bytes, d.size());  // random bytes are stored raw
  const auto before = d;
  d[7 * kChunk + 123] ^= 0xFF;
  const auto after = d;
  const CheckpointStats second = Durable(c.get(), 2);
  EXPECT_EQ(second.chunks, 32u);
  EXPECT_EQ(second.new_chunks, 1u);
  EXPECT_EQ(second.logical_bytes, d.size());
  EXPECT_LE(second.written_bytes, kChunk + 4096 + 48);
  EXPECT_LT(second.written_bytes * 16, second.logical_bytes);

  Scribble(&d);
  ASSERT_TRUE(c->restore(1).ok());
  EXPECT_EQ(d, before);
  ASSERT_TRUE(c->restore(2).ok());
  EXPECT_EQ(d, after);
}

TEST(ClientCheckpoint, UnchangedRegionIsNotRewritten) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<uint8_t> live = RandomBytes(16 * kChunk, 9);
  std::vector<uint8_t> frozen = RandomBytes(48 * kChunk, 10);
  ASSERT_TRUE(c->protect("live", live.data(), live.size(), ElementType::kBytes).ok());
  ASSERT_TRUE(c->protect("frozen", frozen.data(), frozen.size(), ElementType::kBytes).ok());
  Durable(c.get(), 1);
  Refill(&live, 11);
  const CheckpointStats second = Durable(c.get(), 2);
  EXPECT_EQ(second.chunks, 64u);
  EXPECT_EQ(second.new_chunks, 16u);
  EXPECT_LT(second.written_bytes, live.size() + frozen.size() / 100);
}

TEST(ClientCheckpoint, EqualChunksWithinACheckpointAreStoredOnce) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<uint8_t> a = RandomBytes(10 * kChunk, 12);
  std::vector<uint8_t> b = a;  // e.g. tied embeddings
  ASSERT_TRUE(c->protect("a", a.data(), a.size(), ElementType::kBytes).ok());
  ASSERT_TRUE(c->protect("b", b.data(), b.size(), ElementType::kBytes).ok());
  const CheckpointStats stats = Durable(c.get(), 1);
  EXPECT_EQ(stats.chunks, 20u);
  EXPECT_EQ(stats.new_chunks, 10u);
  Scribble(&a);
  Scribble(&b);
  ASSERT_TRUE(c->restore().ok());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, RandomBytes(10 * kChunk, 12));
}

// bf16 weights: the sign/exponent plane compresses, the mantissa plane does not.
TEST(ClientCheckpoint, Bf16WeightsAreStoredCompressed) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  const std::vector<float> f = FloatWeights(16 * kChunk / 2, 13);
  std::vector<uint16_t> w(f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &f[i], 4);
    w[i] = static_cast<uint16_t>(bits >> 16);
  }
  const auto w0 = w;
  ASSERT_TRUE(c->protect("w", w.data(), w.size() * 2, ElementType::kBFloat16).ok());
  const CheckpointStats stats = Durable(c.get(), 1);
  EXPECT_EQ(stats.new_chunks, 16u);
  EXPECT_LT(stats.written_bytes, stats.logical_bytes * 9 / 10);
  Scribble(&w);
  ASSERT_TRUE(c->restore().ok());
  EXPECT_EQ(w, w0);
}

TEST(ClientCheckpoint, CompressionOffRoundTrips) {
  ScratchDir dir;
  Options o = SmallClientOptions(dir);
  o.compression = Compression::kOff;
  o.zstd_level = 0;  // ignored when compression is off
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  std::vector<float> w = FloatWeights(8 * kChunk / 4 + 3, 14);
  const auto w0 = w;
  ASSERT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32).ok());
  const CheckpointStats stats = Durable(c.get(), 1);
  EXPECT_GE(stats.written_bytes, stats.logical_bytes);
  Scribble(&w);
  ASSERT_TRUE(c->restore().ok());
  EXPECT_EQ(w, w0);
}

TEST(ClientCheckpoint, TinyStagingPoolStillRestoresExactly) {
  ScratchDir dir;
  Options o = SmallClientOptions(dir);
  o.staging_bytes = 2 * kChunk;
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  std::vector<float> w = FloatWeights(40 * kChunk / 4, 15);
  std::vector<uint8_t> r = RandomBytes(5 * kChunk + 1, 16);
  ASSERT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32).ok());
  ASSERT_TRUE(c->protect("r", r.data(), r.size(), ElementType::kBytes).ok());
  const auto w0 = w;
  const auto r0 = r;
  const CheckpointStats stats = Durable(c.get(), 1);
  EXPECT_EQ(stats.chunks, 40u + 6u);
  Scribble(&w);
  Scribble(&r);
  ASSERT_TRUE(c->restore().ok());
  EXPECT_EQ(w, w0);
  EXPECT_EQ(r, r0);
}

TEST(ClientCheckpoint, SnapshotHoldsTheBytesAsOfTheCheckpointCall) {
  ScratchDir dir;
  Options o = SmallClientOptions(dir);
  o.staging_bytes = 2 * kChunk;  // most chunks are still being written after wait_copied
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  std::vector<float> w = FloatWeights(48 * kChunk / 4, 17);
  ASSERT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32).ok());
  const auto at_checkpoint = w;
  auto t = c->checkpoint(7);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->wait_copied().ok());
  EXPECT_TRUE(t->copied());
  for (auto& v : w) v = -v + 1.0f;  // the next optimizer update
  ASSERT_TRUE(t->wait_durable().ok()) << t->status().ToString();
  ASSERT_TRUE(c->restore(7).ok());
  EXPECT_EQ(w, at_checkpoint);
}

TEST(ClientCheckpoint, CheckpointWithNoProtectedRegionIsFailedPrecondition) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->checkpoint(1).status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(c->restore().status().code(), Status::Code::kFailedPrecondition);
}

TEST(ClientCheckpoint, ProtectRejectsADuplicateName) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<uint8_t> a(4096), b(4096);
  ASSERT_TRUE(c->protect("w", a.data(), a.size(), ElementType::kBytes).ok());
  Status s = c->protect("w", b.data(), b.size(), ElementType::kBytes);
  EXPECT_EQ(s.code(), Status::Code::kAlreadyExists);
  EXPECT_NE(s.message().find("'w'"), std::string::npos) << s.ToString();
}

TEST(ClientCheckpoint, ProtectRejectsSizeNotAMultipleOfTheElementSize) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<uint8_t> a(4096);
  EXPECT_EQ(c->protect("f32", a.data(), 4094, ElementType::kFloat32).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(c->protect("f64", a.data(), 4092, ElementType::kFloat64).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(c->protect("bf16", a.data(), 4095, ElementType::kBFloat16).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(c->protect("i8", a.data(), 4095, ElementType::kInt8).ok());
}

TEST(ClientCheckpoint, ProtectRejectsANullPointer) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->protect("w", nullptr, 4096, ElementType::kBytes).code(),
            Status::Code::kInvalidArgument);
  std::vector<uint8_t> a(16);
  EXPECT_EQ(c->protect("", a.data(), a.size(), ElementType::kBytes).code(),
            Status::Code::kInvalidArgument);
}

// Saves regions "a" (f32, 4 KiB) and "b" (bytes, 100 KiB) at step 1 and
// returns the store's options.
Options SaveAB(const ScratchDir& dir) {
  Options o = SmallClientOptions(dir);
  auto c = OpenClient(o);
  if (!c) return o;
  std::vector<uint8_t> a = RandomBytes(4096, 20), b = RandomBytes(100 << 10, 21);
  EXPECT_TRUE(c->protect("a", a.data(), a.size(), ElementType::kFloat32).ok());
  EXPECT_TRUE(c->protect("b", b.data(), b.size(), ElementType::kBytes).ok());
  Durable(c.get(), 1);
  return o;
}

struct Protected {
  std::string name;
  size_t bytes;
  ElementType type;
};

// Opens the store with the given regions protected and restores.
Status RestoreWith(const Options& o, const std::vector<Protected>& regions) {
  auto c = OpenClient(o);
  if (!c) return Status::Aborted("no client");
  std::vector<std::vector<uint8_t>> memory;
  memory.reserve(regions.size());
  for (const auto& r : regions) {
    memory.emplace_back(r.bytes);
    CKPT_RETURN_IF_ERROR(c->protect(r.name, memory.back().data(), r.bytes, r.type));
  }
  return c->restore().status();
}

TEST(ClientCheckpoint, RestoreWithMatchingRegionsInAnotherOrderSucceeds) {
  ScratchDir dir;
  const Options o = SaveAB(dir);
  EXPECT_TRUE(RestoreWith(o, {{"b", 100 << 10, ElementType::kBytes},
                              {"a", 4096, ElementType::kFloat32}}).ok());
}

TEST(ClientCheckpoint, RestoreRefusesARegionOfAnotherSize) {
  ScratchDir dir;
  const Options o = SaveAB(dir);
  Status s = RestoreWith(o, {{"a", 4096, ElementType::kFloat32}, {"b", 100 << 9, ElementType::kBytes}});
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("'b'"), std::string::npos) << s.ToString();
}

TEST(ClientCheckpoint, RestoreRefusesARegionOfAnotherType) {
  ScratchDir dir;
  const Options o = SaveAB(dir);
  Status s = RestoreWith(o, {{"a", 4096, ElementType::kInt32}, {"b", 100 << 10, ElementType::kBytes}});
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("'a'"), std::string::npos) << s.ToString();
}

TEST(ClientCheckpoint, RestoreRefusesWhenTheCheckpointLacksAProtectedRegion) {
  ScratchDir dir;
  const Options o = SaveAB(dir);
  Status s = RestoreWith(o, {{"a", 4096, ElementType::kFloat32}, {"b", 100 << 10, ElementType::kBytes},
                             {"c", 64, ElementType::kBytes}});
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("'c'"), std::string::npos) << s.ToString();
}

TEST(ClientCheckpoint, RestoreRefusesWhenACheckpointRegionIsNotProtected) {
  ScratchDir dir;
  const Options o = SaveAB(dir);
  Status s = RestoreWith(o, {{"a", 4096, ElementType::kFloat32}});
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("'b'"), std::string::npos) << s.ToString();
}

TEST(ClientCheckpoint, RestoreWithNoCheckpointIsNotFound) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<uint8_t> d(100);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  EXPECT_EQ(c->restore().status().code(), Status::Code::kNotFound);
}

TEST(ClientCheckpoint, ShouldCheckpointEveryNSteps) {
  ScratchDir dir;
  Options o = SmallClientOptions(dir);
  o.checkpoint_every_steps = 10;
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  std::vector<uint64_t> yes;
  for (uint64_t step = 0; step <= 35; ++step)
    if (c->should_checkpoint(step)) yes.push_back(step);
  EXPECT_EQ(yes, (std::vector<uint64_t>{10, 20, 30}));
}

TEST(ClientCheckpoint, ShouldCheckpointNeverWhenTheIntervalIsZero) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  for (uint64_t step = 0; step < 1000; ++step) ASSERT_FALSE(c->should_checkpoint(step)) << step;
}

TEST(ClientCheckpoint, OpenRejectsInvalidOptions) {
  ScratchDir dir;
  const Options good = SmallClientOptions(dir);
  auto expect_invalid = [](const Options& o, const char* what) {
    auto c = Client::Open(o);
    EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument) << what << ": " << c.status().ToString();
  };
  Options o = good;
  o.store_dir = "";
  expect_invalid(o, "empty store_dir");
  o = good;
  o.job = "";
  expect_invalid(o, "empty job");
  o.job = "bad/job";
  expect_invalid(o, "job with a slash");
  o = good;
  o.chunk_bytes = kChunk + 100;
  expect_invalid(o, "chunk_bytes not a multiple of 4096");
  o.chunk_bytes = 32 << 10;
  expect_invalid(o, "chunk_bytes below 64 KiB");
  o = good;
  o.zstd_level = 0;
  expect_invalid(o, "zstd_level 0");
  o.zstd_level = 23;
  expect_invalid(o, "zstd_level 23");
  // None of these created the store.
  EXPECT_FALSE(std::filesystem::exists(good.store_dir));
}

TEST(ClientCheckpoint, SecondOpenOfTheSameStoreIsBusy) {
  ScratchDir dir;
  const Options o = SmallClientOptions(dir);
  auto first = OpenClient(o);
  ASSERT_TRUE(first);
  Options other = o;
  other.job = "another-job";  // the store is locked, whatever the job
  auto second = Client::Open(other);
  EXPECT_EQ(second.status().code(), Status::Code::kBusy) << second.status().ToString();
  first.reset();
  auto third = Client::Open(o);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST(ClientCheckpoint, CheckpointOfAnExistingStepReplacesIt) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<uint8_t> d = RandomBytes(4 * kChunk, 22);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  Durable(c.get(), 5);
  Refill(&d, 23);
  const auto second = d;
  Durable(c.get(), 5);
  Scribble(&d);
  auto r = c->restore(5);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(d, second);

  auto store = Store::Open(SmallClientOptions(dir).store_dir, {.create_if_missing = false, .read_only = true});
  ASSERT_TRUE(store.ok());
  auto list = (*store)->List("job");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].step, 5u);
  auto faults = (*store)->Verify("job", 5);
  ASSERT_TRUE(faults.ok());
  EXPECT_TRUE(faults->empty());
  // The replaced checkpoint's chunks are referenced by nothing: its segment is gone.
  EXPECT_EQ(SegmentFileCount(SmallClientOptions(dir).store_dir), 1u);
}

TEST(ClientCheckpoint, FailedCheckpointIsReportedOnItsTicketAndLeavesEarlierOnesIntact) {
  ScratchDir dir;
  const Options o = SmallClientOptions(dir);
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  std::vector<uint8_t> d = RandomBytes(4 * kChunk, 28);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  Durable(c.get(), 1);
  const auto at1 = d;
  ASSERT_TRUE(std::filesystem::exists(o.store_dir + "/segments/0000000000000001.seg"));
  // Segment files are created with O_EXCL: a file in the way of the next
  // one makes the next checkpoint fail at its first new chunk.
  std::ofstream(o.store_dir + "/segments/0000000000000002.seg") << "in the way";

  Refill(&d, 29);
  auto t = c->checkpoint(2);
  ASSERT_TRUE(t.ok());
  Status s = t->wait_durable();
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(t->finished());
  EXPECT_FALSE(t->durable());
  EXPECT_EQ(t->status().code(), s.code());
  EXPECT_EQ(c->latest_step(), std::optional<uint64_t>(1));
  EXPECT_FALSE(c->flush().ok());  // the failure since the last flush
  EXPECT_TRUE(c->flush().ok());   // reported once

  // The job goes on: the next checkpoint commits, and both restore exactly.
  const auto at3 = d;
  Durable(c.get(), 3);
  ASSERT_TRUE(c->restore(1).ok());
  EXPECT_EQ(d, at1);
  ASSERT_TRUE(c->restore(3).ok());
  EXPECT_EQ(d, at3);
  EXPECT_EQ(c->restore(2).status().code(), Status::Code::kNotFound);
}

TEST(ClientCheckpoint, ReopenedStoreSeesCommittedCheckpoints) {
  ScratchDir dir;
  const Options o = SmallClientOptions(dir);
  std::vector<float> w = FloatWeights(3 * kChunk / 4 + 10, 24);
  std::vector<std::vector<float>> saved;
  {
    auto c = OpenClient(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32).ok());
    for (uint64_t step = 1; step <= 3; ++step) {
      w[step * 1000] = static_cast<float>(step);
      saved.push_back(w);
      Durable(c.get(), step);
    }
  }
  Scribble(&w);
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->latest_step(), std::optional<uint64_t>(3));
  ASSERT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32).ok());
  auto r = c->restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 3u);
  EXPECT_EQ(w, saved[2]);
  ASSERT_TRUE(c->restore(1).ok());
  EXPECT_EQ(w, saved[0]);
}

// flush() reports the first failure since the last flush(); a restore() in
// between waits for the failed checkpoint but must not swallow its error.
TEST(ClientCheckpoint, FlushStillReportsAFailureAfterAnInterveningRestore) {
  ScratchDir dir;
  const Options o = SmallClientOptions(dir);
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  std::vector<uint8_t> d = RandomBytes(2 * kChunk, 31);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  Durable(c.get(), 1);
  ASSERT_TRUE(c->flush().ok());
  std::ofstream(o.store_dir + "/segments/0000000000000002.seg") << "in the way";
  Refill(&d, 32);
  auto t = c->checkpoint(2);
  ASSERT_TRUE(t.ok());
  auto r = c->restore();  // waits for step 2, which fails
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 1u);
  EXPECT_FALSE(t->status().ok());
  EXPECT_FALSE(c->flush().ok()) << "the failed checkpoint of step 2 was never reported by flush()";
}

TEST(ClientCheckpoint, RestoreWorksAfterTheChunkSizeChanged) {
  ScratchDir dir;
  Options o = SmallClientOptions(dir);
  std::vector<uint8_t> d = RandomBytes(10 * kChunk + 4096, 30);
  const auto d0 = d;
  {
    auto c = OpenClient(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
    Durable(c.get(), 1);
  }
  o.chunk_bytes = 4 * kChunk;
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  Scribble(&d);
  ASSERT_TRUE(c->restore(1).ok());
  EXPECT_EQ(d, d0);
  d[5] ^= 1;
  const auto d2 = d;
  const CheckpointStats stats = Durable(c.get(), 2);
  EXPECT_EQ(stats.chunks, 3u);
  Scribble(&d);
  ASSERT_TRUE(c->restore(2).ok());
  EXPECT_EQ(d, d2);
  ASSERT_TRUE(c->restore(1).ok());
  EXPECT_EQ(d, d0);
}

TEST(ClientCheckpoint, OpenWithoutCreateOfAMissingStoreIsNotFound) {
  ScratchDir dir;
  Options o = SmallClientOptions(dir);
  o.store.create_if_missing = false;
  EXPECT_EQ(Client::Open(o).status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(o.store_dir));
}

TEST(ClientCheckpoint, QueuedCheckpointsAreAllDurableAfterFlush) {
  ScratchDir dir;
  Options o = SmallClientOptions(dir);
  o.staging_bytes = 4 * kChunk;
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  std::vector<uint8_t> d = RandomBytes(12 * kChunk, 25);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  std::vector<Ticket> tickets;
  std::vector<std::vector<uint8_t>> saved;
  for (uint64_t step = 1; step <= 8; ++step) {
    auto t = c->checkpoint(step);
    ASSERT_TRUE(t.ok());
    tickets.push_back(*t);
    saved.push_back(d);
    ASSERT_TRUE(t->wait_copied().ok());  // the guard, not durability
    d[(step % 12) * kChunk + step] ^= 0x77;
  }
  ASSERT_TRUE(c->flush().ok());
  for (const auto& t : tickets) {
    EXPECT_TRUE(t.durable()) << "step " << t.step();
    EXPECT_TRUE(t.status().ok());
  }
  EXPECT_EQ(c->latest_step(), std::optional<uint64_t>(8));
  for (uint64_t step = 1; step <= 8; ++step) {
    ASSERT_TRUE(c->restore(step).ok());
    EXPECT_EQ(d, saved[step - 1]) << "step " << step;
  }
}

TEST(ClientCheckpoint, BackToBackCheckpointsWithoutWaitingAreAllCommitted) {
  ScratchDir dir;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_TRUE(c);
  std::vector<uint8_t> d = RandomBytes(6 * kChunk, 26);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  std::vector<Ticket> tickets;
  for (uint64_t step = 1; step <= 20; ++step) {
    auto t = c->checkpoint(step);
    ASSERT_TRUE(t.ok());
    tickets.push_back(*t);
  }
  ASSERT_TRUE(c->flush().ok());
  uint64_t new_chunks = 0;
  for (const auto& t : tickets) {
    ASSERT_TRUE(t.durable()) << "step " << t.step();
    new_chunks += t.stats().new_chunks;
  }
  EXPECT_EQ(new_chunks, 6u);  // only the first stored anything
  auto store = Store::Open(SmallClientOptions(dir).store_dir, {.create_if_missing = false, .read_only = true});
  ASSERT_TRUE(store.ok());
  auto list = (*store)->List("job");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 20u);
}

TEST(ClientCheckpoint, ClientDestructorMakesCheckpointsInFlightDurable) {
  ScratchDir dir;
  const Options o = SmallClientOptions(dir);
  std::vector<uint8_t> d = RandomBytes(20 * kChunk, 27);
  const auto d0 = d;
  Ticket ticket(nullptr);
  {
    auto c = OpenClient(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
    auto t = c->checkpoint(9);
    ASSERT_TRUE(t.ok());
    ticket = *t;
  }
  EXPECT_TRUE(ticket.durable());
  Scribble(&d);
  auto c = OpenClient(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  auto r = c->restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 9u);
  EXPECT_EQ(d, d0);
}

}  // namespace
}  // namespace ckpt
