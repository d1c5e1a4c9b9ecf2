// GC, verification and reads of a store while its client writes checkpoints,
// from other threads. Also run under ThreadSanitizer (scripts/test.sh).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "test_util.h"

namespace ckpt {
namespace {

constexpr size_t kChunk = 64 << 10;
constexpr size_t kChunks = 24;
constexpr uint64_t kSteps = 30;

// The state at `step` is a closed-form function of the step: chunk c changes
// every c+1 steps, so consecutive checkpoints share most chunks.
void FillState(uint64_t step, std::vector<uint8_t>* data) {
  for (size_t c = 0; c < kChunks; ++c) {
    const uint8_t v = static_cast<uint8_t>((step / (c + 1)) * 13 + c);
    std::fill(data->begin() + c * kChunk, data->begin() + (c + 1) * kChunk, v);
  }
}

class ConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options o;
    o.store_dir = dir_.Sub("store");
    o.job = "busy";
    o.chunk_bytes = kChunk;
    o.staging_bytes = 4 * kChunk;
    auto c = Client::Open(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
    data_.resize(kChunks * kChunk);
    FillState(0, &data_);
    ASSERT_TRUE(client_->protect("state", data_.data(), data_.size(), ElementType::kBytes).ok());
  }

  // Writes steps 1..kSteps, changing the state after each snapshot is copied.
  void WriteCheckpoints(std::vector<Status>* results) {
    for (uint64_t step = 1; step <= kSteps; ++step) {
      FillState(step, &data_);
      auto t = client_->checkpoint(step);
      if (!t.ok()) {
        results->push_back(t.status());
        continue;
      }
      Status copied = t->wait_copied();
      results->push_back(copied.ok() ? t->wait_durable() : copied);
    }
  }

  testing::ScratchDir dir_;
  std::vector<uint8_t> data_;
  std::unique_ptr<Client> client_;
};

TEST_F(ConcurrencyTest, GcWhileCheckpointsAreWrittenNeverBreaksOne) {
  std::vector<Status> results;
  std::atomic<bool> finished{false};
  std::thread writer([&] {
    WriteCheckpoints(&results);
    finished = true;
  });
  auto store = client_->store();
  uint64_t rounds = 0;
  for (bool done = false; !done; ++rounds) {
    done = finished;  // one more round after the writer finished
    auto gc = store->Gc("busy", GcOptions{2, 0, false});
    ASSERT_TRUE(gc.ok()) << gc.status().ToString();
    auto list = store->List("busy");
    ASSERT_TRUE(list.ok());
    for (const auto& info : *list) {
      auto faults = store->Verify("busy", info.step);
      ASSERT_TRUE(faults.ok()) << faults.status().ToString();
      EXPECT_TRUE(faults->empty()) << "step " << info.step << ": " << (*faults)[0].ToString();
    }
    std::this_thread::yield();
  }
  writer.join();
  ASSERT_EQ(results.size(), kSteps);
  for (size_t i = 0; i < results.size(); ++i) EXPECT_TRUE(results[i].ok()) << "step " << i + 1 << ": " << results[i].ToString();
  EXPECT_GT(rounds, 1u);

  std::vector<uint8_t> expected(data_.size());
  FillState(kSteps, &expected);
  std::fill(data_.begin(), data_.end(), 0);
  auto r = client_->restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, kSteps);
  EXPECT_EQ(data_, expected);
}

TEST_F(ConcurrencyTest, ReadsWhileCheckpointsAreWrittenSeeWholeCheckpoints) {
  std::vector<Status> results;
  std::atomic<bool> finished{false};
  std::thread writer([&] {
    WriteCheckpoints(&results);
    finished = true;
  });
  auto store = client_->store();
  uint64_t reads = 0;
  std::vector<uint8_t> got(data_.size()), expected(data_.size());
  while (!finished) {
    auto latest = store->LatestStep("busy");
    if (!latest.ok()) continue;  // nothing committed yet
    Status s = store->ReadRegion("busy", *latest, "state", [&](uint64_t offset, const uint8_t* p, size_t n) {
      std::copy(p, p + n, got.begin() + static_cast<std::ptrdiff_t>(offset));
      return Status::OK();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    FillState(*latest, &expected);
    ASSERT_EQ(got, expected) << "step " << *latest << " read back torn";
    ++reads;
  }
  writer.join();
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.ToString();
  EXPECT_GT(reads, 0u);
}

}  // namespace
}  // namespace ckpt

namespace ckpt {
namespace {

// Two jobs write one store at the same time through one shared Store, and GC
// of one job never touches the other's checkpoints.
TEST(TwoJobsOneStore, CheckpointConcurrentlyAndRestoreTheirOwnBytes) {
  testing::ScratchDir dir;
  auto store = Store::Open(dir.Sub("store"), StoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  struct Job {
    std::string name;
    std::vector<uint8_t> data = std::vector<uint8_t>(kChunks * kChunk);
    std::unique_ptr<Client> client;
    std::vector<Status> results;
  };
  Job jobs[2] = {{"alpha"}, {"beta"}};
  for (auto& job : jobs) {
    Options o;
    o.job = job.name;
    o.chunk_bytes = kChunk;
    o.staging_bytes = 4 * kChunk;
    o.shared_store = *store;
    auto c = Client::Open(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    job.client = std::move(c).value();
    ASSERT_TRUE(job.client->protect("state", job.data.data(), job.data.size(), ElementType::kBytes).ok());
  }
  auto run = [](Job* job, uint64_t offset) {
    for (uint64_t step = 1; step <= kSteps; ++step) {
      FillState(step + offset, &job->data);
      auto t = job->client->checkpoint(step);
      job->results.push_back(t.ok() ? t->wait_durable() : t.status());
    }
  };
  std::thread a(run, &jobs[0], 0), b(run, &jobs[1], 1000);
  a.join();
  b.join();
  for (auto& job : jobs)
    for (const auto& r : job.results) EXPECT_TRUE(r.ok()) << job.name << ": " << r.ToString();

  auto gc = (*store)->Gc("alpha", GcOptions{1, 0, false});
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->removed_steps.size(), kSteps - 1);
  auto beta = (*store)->List("beta");
  ASSERT_TRUE(beta.ok());
  EXPECT_EQ(beta->size(), kSteps);
  for (const auto& info : *beta) EXPECT_TRUE((*store)->Verify("beta", info.step)->empty()) << info.step;

  uint64_t offset = 0;
  for (auto& job : jobs) {
    std::vector<uint8_t> expected(job.data.size());
    FillState(kSteps + offset, &expected);
    std::fill(job.data.begin(), job.data.end(), 0);
    auto r = job.client->restore();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(job.data, expected) << job.name;
    offset += 1000;
  }
}

TEST(TwoJobsOneStore, ReadOnlySharedStoreIsRefused) {
  testing::ScratchDir dir;
  ASSERT_TRUE(Store::Open(dir.Sub("store"), StoreOptions{}).ok());
  StoreOptions ro;
  ro.read_only = true;
  auto store = Store::Open(dir.Sub("store"), ro);
  ASSERT_TRUE(store.ok());
  Options o;
  o.job = "j";
  o.shared_store = *store;
  auto c = Client::Open(o);
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace ckpt
