// The public Store API (what ls, verify, restore and gc use) and the files a
// store keeps on disk.
#include "ckpt/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "store/chunk_record.h"
#include "store/store_rep.h"
#include "test_util.h"

namespace ckpt {
namespace {

namespace fs = std::filesystem;
using ckpt::testing::FlipByte;
using ckpt::testing::OpenClient;
using ckpt::testing::RandomBytes;
using ckpt::testing::ScratchDir;

constexpr size_t kChunk = 64 << 10;

Options TestOptions(const std::string& store_dir, const std::string& job = "job") {
  Options o;
  o.store_dir = store_dir;
  o.job = job;
  o.chunk_bytes = kChunk;
  o.staging_bytes = 8 * kChunk;
  return o;
}

void Durable(Client* c, uint64_t step) {
  auto t = c->checkpoint(step);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_TRUE(t->wait_durable().ok()) << t->status().ToString();
}

void Refill(std::vector<uint8_t>* v, size_t offset, size_t size, uint64_t seed) {
  const auto fresh = RandomBytes(size, seed);
  std::memcpy(v->data() + offset, fresh.data(), size);
}

std::shared_ptr<Store> OpenStore(const std::string& dir, bool read_only = true) {
  StoreOptions so;
  so.create_if_missing = false;
  so.read_only = read_only;
  auto s = Store::Open(dir, so);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return nullptr;
  return *s;
}

std::set<std::string> SegmentFiles(const std::string& store_dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(store_dir + "/segments", ec))
    out.insert("segments/" + e.path().filename().string());
  return out;
}

// Where chunk `index` of `region` of a checkpoint is stored.
struct Where {
  std::string path;       // absolute path of the segment file
  std::string name;       // segments/<id>.seg
  uint64_t offset = 0;    // of the record header
  uint32_t stored_len = 0;
};

Where Locate(const std::string& store_dir, const std::string& job, uint64_t step,
             const std::string& region, size_t index) {
  Where w;
  auto store = OpenStore(store_dir);
  if (!store) return w;
  Store::Rep* rep = store->rep();
  auto m = rep->catalog().GetManifest(job, step);
  EXPECT_TRUE(m.ok() && m->has_value());
  if (!m.ok() || !m->has_value()) return w;
  for (const auto& r : (*m)->regions) {
    if (r.name != region) continue;
    EXPECT_LT(index, r.chunks.size());
    auto loc = rep->catalog().GetChunk(r.chunks.at(index));
    EXPECT_TRUE(loc.ok() && loc->has_value());
    if (!loc.ok() || !loc->has_value()) return w;
    w.path = rep->SegmentPath((*loc)->segment_id);
    w.name = rep->SegmentName((*loc)->segment_id);
    w.offset = (*loc)->offset;
    w.stored_len = (*loc)->stored_len;
    return w;
  }
  ADD_FAILURE() << "no region " << region;
  return w;
}

std::vector<uint64_t> Steps(const Store& store, const std::string& job) {
  std::vector<uint64_t> out;
  auto list = store.List(job);
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  if (list.ok())
    for (const auto& info : *list) out.push_back(info.step);
  return out;
}

void ExpectSound(const Store& store, const std::string& job, uint64_t step) {
  auto faults = store.Verify(job, step);
  ASSERT_TRUE(faults.ok()) << faults.status().ToString();
  for (const auto& f : *faults) ADD_FAILURE() << f.ToString();
}

// A job with two regions, "meta" (4 KiB) and "w" (8 chunks, random, so each
// chunk is stored raw), and steps 1..n; step k rewrites chunk k % 8 of "w".
// Returns the bytes of "w" at each step.
std::vector<std::vector<uint8_t>> MakeSteps(const std::string& store_dir, uint64_t n) {
  std::vector<std::vector<uint8_t>> saved;
  auto c = OpenClient(TestOptions(store_dir));
  if (!c) return saved;
  std::vector<uint8_t> meta = RandomBytes(4096, 1);
  std::vector<uint8_t> w = RandomBytes(8 * kChunk, 2);
  EXPECT_TRUE(c->protect("meta", meta.data(), meta.size(), ElementType::kBytes).ok());
  EXPECT_TRUE(c->protect("w", w.data(), w.size(), ElementType::kFloat32).ok());
  for (uint64_t step = 1; step <= n; ++step) {
    if (step > 1) Refill(&w, (step % 8) * kChunk, kChunk, 100 + step);
    saved.push_back(w);
    Durable(c.get(), step);
  }
  return saved;
}

// Restores "meta" and "w" of `step` through a client; the status and the bytes of "w".
Result<uint64_t> ClientRestore(const std::string& store_dir, std::optional<uint64_t> step,
                               std::vector<uint8_t>* w) {
  auto c = OpenClient(TestOptions(store_dir));
  if (!c) return Status::Aborted("no client");
  std::vector<uint8_t> meta(4096);
  w->assign(8 * kChunk, 0);
  CKPT_RETURN_IF_ERROR(c->protect("meta", meta.data(), meta.size(), ElementType::kBytes));
  CKPT_RETURN_IF_ERROR(c->protect("w", w->data(), w->size(), ElementType::kFloat32));
  return c->restore(step);
}

TEST(Store, VerifyOfSoundCheckpointsFindsNoFaults) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 3);
  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  EXPECT_EQ(Steps(*store, "job"), (std::vector<uint64_t>{1, 2, 3}));
  for (uint64_t step = 1; step <= 3; ++step) ExpectSound(*store, "job", step);
}

TEST(Store, ListReportsWhatEachCheckpointStored) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 2);
  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  auto list = store->List("job");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  const CheckpointInfo& first = (*list)[0];
  const CheckpointInfo& second = (*list)[1];
  EXPECT_EQ(first.job, "job");
  EXPECT_EQ(first.chunk_bytes, kChunk);
  EXPECT_EQ(first.logical_bytes, 4096 + 8 * kChunk);
  EXPECT_EQ(first.chunks, 9u);
  EXPECT_EQ(first.new_chunks, 9u);
  EXPECT_FALSE(first.parent_step.has_value());
  EXPECT_EQ(second.new_chunks, 1u);
  EXPECT_EQ(second.parent_step, std::optional<uint64_t>(1));
  EXPECT_LT(second.written_bytes, first.written_bytes / 4);
  EXPECT_GT(second.created_unix_ms, 1600000000000);
  ASSERT_EQ(second.regions.size(), 2u);
  EXPECT_EQ(second.regions[1].name, "w");
  EXPECT_EQ(second.regions[1].type, ElementType::kFloat32);
  EXPECT_EQ(second.regions[1].chunks, 8u);
}

TEST(Store, FlippedPayloadByteIsAFaultNamingJobStepRegionAndChunk) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 1);
  const Where w = Locate(sd, "job", 1, "w", 5);
  ASSERT_FALSE(w.path.empty());
  FlipByte(w.path, w.offset + kRecordHeaderSize + 1000);

  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  auto faults = store->Verify("job", 1);
  ASSERT_TRUE(faults.ok()) << faults.status().ToString();
  ASSERT_EQ(faults->size(), 1u);
  const ChunkFault& f = (*faults)[0];
  EXPECT_EQ(f.job, "job");
  EXPECT_EQ(f.step, 1u);
  EXPECT_EQ(f.region, "w");
  EXPECT_EQ(f.chunk_index, 5u);
  EXPECT_EQ(f.region_offset, 5 * kChunk);
  EXPECT_EQ(f.segment_file, w.name);
  EXPECT_EQ(f.file_offset, w.offset);
  EXPECT_NE(f.what.find("checksum"), std::string::npos) << f.what;
  const std::string text = f.ToString();
  EXPECT_NE(text.find("job job step 1 region 'w' chunk 5"), std::string::npos) << text;
}

TEST(Store, FlippedRecordHeaderByteIsAFault) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 1);
  const Where w = Locate(sd, "job", 1, "w", 2);
  ASSERT_FALSE(w.path.empty());
  FlipByte(w.path, w.offset + 20);  // inside the content hash

  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  auto faults = store->Verify("job", 1);
  ASSERT_TRUE(faults.ok());
  ASSERT_EQ(faults->size(), 1u);
  EXPECT_EQ((*faults)[0].region, "w");
  EXPECT_EQ((*faults)[0].chunk_index, 2u);
  EXPECT_NE((*faults)[0].what.find("header"), std::string::npos) << (*faults)[0].what;
}

TEST(Store, DeletedSegmentFileIsAFaultForEveryChunkInIt) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 2);
  const Where w = Locate(sd, "job", 1, "w", 0);
  ASSERT_FALSE(w.path.empty());
  ASSERT_TRUE(fs::remove(w.path));

  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  auto faults = store->Verify("job", 1);
  ASSERT_TRUE(faults.ok()) << faults.status().ToString();
  EXPECT_EQ(faults->size(), 9u);  // every chunk of step 1 lived in that file
  // Step 2 rewrote chunk 2 of "w" into its own segment: that one is fine.
  auto faults2 = store->Verify("job", 2);
  ASSERT_TRUE(faults2.ok());
  EXPECT_EQ(faults2->size(), 8u);
  for (const auto& f : *faults2) EXPECT_FALSE(f.region == "w" && f.chunk_index == 2) << f.ToString();
}

TEST(Store, DamageToAChunkSharedByTwoCheckpointsIsReportedForBoth) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 2);
  const Where w = Locate(sd, "job", 1, "w", 6);  // unchanged at step 2
  ASSERT_FALSE(w.path.empty());
  FlipByte(w.path, w.offset + kRecordHeaderSize + kChunk - 1);
  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  for (uint64_t step : {1u, 2u}) {
    auto faults = store->Verify("job", step);
    ASSERT_TRUE(faults.ok());
    ASSERT_EQ(faults->size(), 1u) << "step " << step;
    EXPECT_EQ((*faults)[0].step, step);
    EXPECT_EQ((*faults)[0].chunk_index, 6u);
  }
}

TEST(Store, NewestIntactStepSkipsADamagedNewestCheckpoint) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 3);
  const Where w = Locate(sd, "job", 3, "w", 3);  // written by step 3 only
  ASSERT_FALSE(w.path.empty());
  FlipByte(w.path, w.offset + kRecordHeaderSize + 7);
  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  auto newest = store->NewestIntactStep("job");
  ASSERT_TRUE(newest.ok()) << newest.status().ToString();
  EXPECT_EQ(*newest, 2u);
  auto latest = store->LatestStep("job");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, 3u);
}

TEST(Store, NewestIntactStepIsNotFoundWhenEveryCheckpointIsDamaged) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 2);
  const Where w = Locate(sd, "job", 1, "meta", 0);  // shared by both steps
  ASSERT_FALSE(w.path.empty());
  FlipByte(w.path, w.offset + kRecordHeaderSize);
  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->NewestIntactStep("job").status().code(), Status::Code::kNotFound);
}

TEST(Store, ClientRestoreFallsBackToTheNewestIntactCheckpoint) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  const auto saved = MakeSteps(sd, 3);
  const Where w = Locate(sd, "job", 3, "w", 3);
  ASSERT_FALSE(w.path.empty());
  FlipByte(w.path, w.offset + kRecordHeaderSize + 7);

  std::vector<uint8_t> bytes;
  auto r = ClientRestore(sd, std::nullopt, &bytes);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(bytes, saved[1]);
}

// A lost segment file is damage like a flipped byte: restore() without a
// step must fall back past it, as NewestIntactStep does.
TEST(Store, ClientRestoreFallsBackWhenTheNewestCheckpointsSegmentFileIsMissing) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  const auto saved = MakeSteps(sd, 3);
  const Where w = Locate(sd, "job", 3, "w", 3);  // step 3's own segment
  ASSERT_FALSE(w.path.empty());
  ASSERT_TRUE(fs::remove(w.path));
  {
    auto store = OpenStore(sd);
    ASSERT_TRUE(store);
    auto newest = store->NewestIntactStep("job");
    ASSERT_TRUE(newest.ok()) << newest.status().ToString();
    EXPECT_EQ(*newest, 2u);
  }
  std::vector<uint8_t> bytes;
  auto r = ClientRestore(sd, std::nullopt, &bytes);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(bytes, saved[1]);
}

TEST(Store, TruncatedSegmentFileIsDamageThatRestoreFallsBackPast) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  const auto saved = MakeSteps(sd, 3);
  const Where w = Locate(sd, "job", 3, "w", 3);
  ASSERT_FALSE(w.path.empty());
  fs::resize_file(w.path, 4096);  // the record is longer than that
  {
    auto store = OpenStore(sd);
    ASSERT_TRUE(store);
    auto faults = store->Verify("job", 3);
    ASSERT_TRUE(faults.ok()) << faults.status().ToString();
    ASSERT_EQ(faults->size(), 1u);
    EXPECT_EQ((*faults)[0].chunk_index, 3u);
    EXPECT_EQ(*store->NewestIntactStep("job"), 2u);
  }
  std::vector<uint8_t> bytes;
  auto r = ClientRestore(sd, std::nullopt, &bytes);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(bytes, saved[1]);
}

TEST(Store, ClientRestoreOfANamedDamagedStepIsCorruption) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 3);
  const Where w = Locate(sd, "job", 3, "w", 3);
  ASSERT_FALSE(w.path.empty());
  FlipByte(w.path, w.offset + kRecordHeaderSize + 7);

  std::vector<uint8_t> bytes;
  auto r = ClientRestore(sd, 3, &bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("region 'w' chunk 3"), std::string::npos)
      << r.status().ToString();
}

TEST(Store, ReadRegionYieldsTheSavedBytesInOrder) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  const auto saved = MakeSteps(sd, 2);
  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  for (uint64_t step : {1u, 2u}) {
    std::vector<uint8_t> out;
    Status s = store->ReadRegion("job", step, "w", [&](uint64_t offset, const uint8_t* data, size_t size) {
      EXPECT_EQ(offset, out.size());
      out.insert(out.end(), data, data + size);
      return Status::OK();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(out, saved[step - 1]) << "step " << step;
  }
  std::vector<uint8_t> meta;
  ASSERT_TRUE(store->ReadRegion("job", 1, "meta", [&](uint64_t, const uint8_t* data, size_t size) {
    meta.insert(meta.end(), data, data + size);
    return Status::OK();
  }).ok());
  EXPECT_EQ(meta, RandomBytes(4096, 1));
}

TEST(Store, ReadRegionReportsMissingRegionStepAndSinkErrors) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 1);
  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  auto ignore = [](uint64_t, const uint8_t*, size_t) { return Status::OK(); };
  EXPECT_EQ(store->ReadRegion("job", 1, "nope", ignore).code(), Status::Code::kNotFound);
  EXPECT_EQ(store->ReadRegion("job", 9, "w", ignore).code(), Status::Code::kNotFound);
  int calls = 0;
  Status s = store->ReadRegion("job", 1, "w", [&](uint64_t, const uint8_t*, size_t) {
    ++calls;
    return Status::NoSpace("disk full");
  });
  EXPECT_EQ(s.code(), Status::Code::kNoSpace);
  EXPECT_EQ(calls, 1);
}

TEST(Store, ReadRegionOfADamagedChunkIsCorruptionNamingIt) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 1);
  const Where w = Locate(sd, "job", 1, "w", 4);
  ASSERT_FALSE(w.path.empty());
  FlipByte(w.path, w.offset + kRecordHeaderSize + 3);
  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  uint64_t delivered = 0;
  Status s = store->ReadRegion("job", 1, "w", [&](uint64_t, const uint8_t*, size_t size) {
    delivered += size;
    return Status::OK();
  });
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("chunk 4"), std::string::npos) << s.ToString();
  EXPECT_EQ(delivered, 4 * kChunk);  // the good chunks before it, nothing after
}

// Regions "meta" and "w" as in MakeSteps, both rewritten completely at every
// step, so each step's segment holds only its own chunks.
std::vector<std::vector<uint8_t>> MakeDisjointSteps(const std::string& sd,
                                                    const std::vector<uint64_t>& steps) {
  std::vector<std::vector<uint8_t>> saved;
  auto c = OpenClient(TestOptions(sd));
  if (!c) return saved;
  std::vector<uint8_t> meta(4096), w(8 * kChunk);
  EXPECT_TRUE(c->protect("meta", meta.data(), meta.size(), ElementType::kBytes).ok());
  EXPECT_TRUE(c->protect("w", w.data(), w.size(), ElementType::kFloat32).ok());
  for (uint64_t step : steps) {
    Refill(&meta, 0, meta.size(), step);
    Refill(&w, 0, w.size(), 1000 + step);
    saved.push_back(w);
    Durable(c.get(), step);
  }
  return saved;
}

TEST(Store, GcKeepLastRemovesOlderCheckpointsAndTheirSegmentFiles) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  const auto saved = MakeDisjointSteps(sd, {1, 2, 3, 4, 5});
  EXPECT_EQ(SegmentFiles(sd).size(), 5u);
  const std::string seg4 = Locate(sd, "job", 4, "w", 0).name;
  const std::string seg5 = Locate(sd, "job", 5, "w", 0).name;

  auto store = OpenStore(sd, /*read_only=*/false);
  ASSERT_TRUE(store);
  GcOptions g;
  g.keep_last = 2;
  auto gc = store->Gc("job", g);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->removed_steps, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(gc->kept_steps, (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(gc->freed_chunks, 3u * 9u);
  EXPECT_GE(gc->freed_bytes, 3 * 8 * kChunk);
  EXPECT_EQ(Steps(*store, "job"), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(SegmentFiles(sd), (std::set<std::string>{seg4, seg5}));
  ExpectSound(*store, "job", 4);
  ExpectSound(*store, "job", 5);
  store.reset();

  std::vector<uint8_t> w;
  auto r = ClientRestore(sd, 4, &w);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(w, saved[3]);
  r = ClientRestore(sd, std::nullopt, &w);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 5u);
  EXPECT_EQ(w, saved[4]);
}

TEST(Store, GcKeepEveryAlsoKeepsMilestones) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeDisjointSteps(sd, {10, 20, 30, 40, 50});
  auto store = OpenStore(sd, false);
  ASSERT_TRUE(store);
  GcOptions g;
  g.keep_last = 1;
  g.keep_every = 20;
  auto gc = store->Gc("job", g);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->removed_steps, (std::vector<uint64_t>{10, 30}));
  EXPECT_EQ(gc->kept_steps, (std::vector<uint64_t>{20, 40, 50}));
  EXPECT_EQ(Steps(*store, "job"), (std::vector<uint64_t>{20, 40, 50}));
  EXPECT_EQ(SegmentFiles(sd).size(), 3u);
  for (uint64_t step : {20u, 40u, 50u}) ExpectSound(*store, "job", step);
}

TEST(Store, GcDryRunRemovesNothingAndReportsWhatWouldBeFreed) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeDisjointSteps(sd, {1, 2, 3});
  const auto files = SegmentFiles(sd);
  auto store = OpenStore(sd, false);
  ASSERT_TRUE(store);
  GcOptions g;
  g.keep_last = 1;
  g.dry_run = true;
  auto gc = store->Gc("job", g);
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->removed_steps, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Steps(*store, "job"), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(SegmentFiles(sd), files);
  // It reports what the real run then frees.
  g.dry_run = false;
  auto real = store->Gc("job", g);
  ASSERT_TRUE(real.ok());
  EXPECT_EQ(real->removed_steps, gc->removed_steps);
  EXPECT_EQ(real->freed_chunks, 2u * 9u);
  EXPECT_EQ(gc->freed_chunks, real->freed_chunks);
  EXPECT_EQ(gc->freed_bytes, real->freed_bytes);
  EXPECT_EQ(SegmentFiles(sd).size(), 1u);
}

TEST(Store, GcNeverFreesAChunkStillReferenced) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  std::vector<uint8_t> frozen = RandomBytes(6 * kChunk, 7);
  std::vector<uint8_t> live(2 * kChunk);
  std::vector<std::vector<uint8_t>> saved_live;
  {
    auto c = OpenClient(TestOptions(sd));
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->protect("frozen", frozen.data(), frozen.size(), ElementType::kBytes).ok());
    ASSERT_TRUE(c->protect("live", live.data(), live.size(), ElementType::kBytes).ok());
    for (uint64_t step = 1; step <= 4; ++step) {
      Refill(&live, 0, live.size(), 50 + step);
      saved_live.push_back(live);
      Durable(c.get(), step);
    }
  }
  const std::string seg1 = Locate(sd, "job", 1, "frozen", 0).name;
  EXPECT_EQ(SegmentFiles(sd).size(), 4u);
  {
    auto store = OpenStore(sd, false);
    ASSERT_TRUE(store);
    GcOptions g;
    g.keep_last = 2;
    auto gc = store->Gc("job", g);
    ASSERT_TRUE(gc.ok()) << gc.status().ToString();
    EXPECT_EQ(gc->removed_steps, (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(gc->freed_chunks, 4u);  // the "live" chunks of steps 1 and 2
    // Step 1's segment still holds the frozen chunks that steps 3 and 4 use.
    const auto files = SegmentFiles(sd);
    EXPECT_EQ(files.size(), 3u);
    EXPECT_EQ(files.count(seg1), 1u);
    ExpectSound(*store, "job", 3);
    ExpectSound(*store, "job", 4);
  }
  for (uint64_t step : {3u, 4u}) {
    auto c = OpenClient(TestOptions(sd));
    ASSERT_TRUE(c);
    std::vector<uint8_t> f(frozen.size()), l(live.size());
    ASSERT_TRUE(c->protect("frozen", f.data(), f.size(), ElementType::kBytes).ok());
    ASSERT_TRUE(c->protect("live", l.data(), l.size(), ElementType::kBytes).ok());
    auto r = c->restore(step);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(f, frozen) << "step " << step;
    EXPECT_EQ(l, saved_live[step - 1]) << "step " << step;
  }
}

TEST(Store, GcOfOneJobKeepsChunksAnotherJobUses) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  std::vector<uint8_t> shared = RandomBytes(3 * kChunk, 8);
  {
    auto a = OpenClient(TestOptions(sd, "a"));
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->protect("x", shared.data(), shared.size(), ElementType::kBytes).ok());
    Durable(a.get(), 1);
    Refill(&shared, 0, kChunk, 9);
    Durable(a.get(), 2);
  }
  {
    auto b = OpenClient(TestOptions(sd, "b"));
    ASSERT_TRUE(b);
    std::vector<uint8_t> original = RandomBytes(3 * kChunk, 8);  // as job a's step 1
    ASSERT_TRUE(b->protect("x", original.data(), original.size(), ElementType::kBytes).ok());
    Durable(b.get(), 1);
  }
  auto store = OpenStore(sd, false);
  ASSERT_TRUE(store);
  GcOptions g;
  g.keep_last = 1;
  auto gc = store->Gc("a", g);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->removed_steps, (std::vector<uint64_t>{1}));
  EXPECT_EQ(gc->freed_chunks, 0u);  // job b still holds step 1's first chunk
  ExpectSound(*store, "a", 2);
  ExpectSound(*store, "b", 1);
}

TEST(Store, GcKeepLastZeroIsInvalidArgument) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 2);
  auto store = OpenStore(sd, false);
  ASSERT_TRUE(store);
  GcOptions g;
  g.keep_last = 0;
  EXPECT_EQ(store->Gc("job", g).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Steps(*store, "job"), (std::vector<uint64_t>{1, 2}));
}

TEST(Store, OpenOfAMissingDirectoryWithoutCreateIsNotFoundAndCreatesNothing) {
  ScratchDir dir;
  const std::string sd = dir.Sub("absent");
  StoreOptions so;
  so.create_if_missing = false;
  EXPECT_EQ(Store::Open(sd, so).status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(fs::exists(sd));
  so.read_only = true;
  EXPECT_EQ(Store::Open(sd, so).status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(fs::exists(sd));
}

TEST(Store, OpenCreatesAnEmptyStore) {
  ScratchDir dir;
  const std::string sd = dir.Sub("new");
  auto store = Store::Open(sd, {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(fs::exists(sd + "/CKPT_STORE"));
  auto jobs = (*store)->ListJobs();
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->empty());
  EXPECT_EQ((*store)->LatestStep("job").status().code(), Status::Code::kNotFound);
  EXPECT_EQ((*store)->Get("job", 1).status().code(), Status::Code::kNotFound);
  EXPECT_EQ((*store)->Verify("job", 1).status().code(), Status::Code::kNotFound);
}

TEST(Store, OpenOfANonEmptyDirectoryWithoutMarkerIsInvalidArgument) {
  ScratchDir dir;
  const std::string sd = dir.Sub("home");
  fs::create_directories(sd);
  std::ofstream(sd + "/thesis.tex") << "precious";
  EXPECT_EQ(Store::Open(sd, {}).status().code(), Status::Code::kInvalidArgument);
  // Nothing was added to it.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(sd)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"thesis.tex"}));
}

TEST(Store, OpenOfAnotherFormatVersionIsUnsupported) {
  ScratchDir dir;
  const std::string sd = dir.Sub("future");
  fs::create_directories(sd + "/segments");
  fs::create_directories(sd + "/catalog");
  std::ofstream(sd + "/CKPT_STORE") << "ckpt-store-format 2\n";
  auto s = Store::Open(sd, {});
  EXPECT_EQ(s.status().code(), Status::Code::kUnsupported) << s.status().ToString();
  StoreOptions ro;
  ro.read_only = true;
  EXPECT_EQ(Store::Open(sd, ro).status().code(), Status::Code::kUnsupported);
}

TEST(Store, OpenOfAStoreWithoutItsCatalogIsCorruption) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 1);
  fs::remove_all(sd + "/catalog");
  EXPECT_EQ(Store::Open(sd, {}).status().code(), Status::Code::kCorruption);
  EXPECT_FALSE(fs::exists(sd + "/catalog"));  // not silently recreated empty
}

TEST(Store, ReadOnlyOpenWorksWhileAClientWrites) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  auto c = OpenClient(TestOptions(sd));
  ASSERT_TRUE(c);
  std::vector<uint8_t> d = RandomBytes(3 * kChunk, 10);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  Durable(c.get(), 1);

  StoreOptions writable;
  EXPECT_EQ(Store::Open(sd, writable).status().code(), Status::Code::kBusy);

  auto store = OpenStore(sd, /*read_only=*/true);
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->read_only());
  EXPECT_EQ(Steps(*store, "job"), (std::vector<uint64_t>{1}));
  ExpectSound(*store, "job", 1);
  GcOptions g;
  EXPECT_EQ(store->Gc("job", g).status().code(), Status::Code::kFailedPrecondition);
  // The writer goes on undisturbed.
  Durable(c.get(), 2);
  EXPECT_EQ(c->latest_step(), std::optional<uint64_t>(2));
}

TEST(Store, OrphanSegmentIsKeptByReadOnlyOpenAndDeletedByWritableOpen) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  MakeSteps(sd, 2);
  const auto committed = SegmentFiles(sd);
  ASSERT_EQ(committed.size(), 2u);
  const std::string orphan = sd + "/segments/00000000000000ff.seg";
  std::ofstream(orphan) << std::string(8192, 'x');
  const std::string stranger = sd + "/segments/notes.txt";  // not a segment name: left alone
  std::ofstream(stranger) << "hi";

  { auto ro = OpenStore(sd, /*read_only=*/true); ASSERT_TRUE(ro); }
  EXPECT_TRUE(fs::exists(orphan));

  {
    auto rw = OpenStore(sd, /*read_only=*/false);
    ASSERT_TRUE(rw);
    EXPECT_FALSE(fs::exists(orphan));
    EXPECT_TRUE(fs::exists(stranger));
    ExpectSound(*rw, "job", 1);
    ExpectSound(*rw, "job", 2);
  }
  fs::remove(stranger);
  EXPECT_EQ(SegmentFiles(sd), committed);

  // New segments get ids past the orphan's, so nothing collides with it.
  auto c = OpenClient(TestOptions(sd, "other"));
  ASSERT_TRUE(c);
  std::vector<uint8_t> d = RandomBytes(kChunk, 11);
  ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
  Durable(c.get(), 1);
  EXPECT_EQ(SegmentFiles(sd).size(), 3u);
}

TEST(Store, ListJobsWithTwoJobsInOneStore) {
  ScratchDir dir;
  const std::string sd = dir.Sub("store");
  for (const char* job : {"beta", "alpha"}) {
    auto c = OpenClient(TestOptions(sd, job));
    ASSERT_TRUE(c);
    std::vector<uint8_t> d = RandomBytes(kChunk + 5, job[0]);
    ASSERT_TRUE(c->protect("d", d.data(), d.size(), ElementType::kBytes).ok());
    Durable(c.get(), 1);
    Durable(c.get(), job[0] == 'a' ? 7 : 3);
  }
  auto store = OpenStore(sd);
  ASSERT_TRUE(store);
  auto jobs = store->ListJobs();
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(*jobs, (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(Steps(*store, "alpha"), (std::vector<uint64_t>{1, 7}));
  EXPECT_EQ(Steps(*store, "beta"), (std::vector<uint64_t>{1, 3}));
  auto all = store->List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u);
  EXPECT_EQ(*store->LatestStep("alpha"), 7u);
  EXPECT_EQ(*store->LatestStep("beta"), 3u);
  EXPECT_EQ(store->LatestStep("gamma").status().code(), Status::Code::kNotFound);
  // A job whose name is a prefix of another's sees only its own checkpoints.
  EXPECT_TRUE(Steps(*store, "alph").empty());
}

}  // namespace
}  // namespace ckpt
