// A full disk fails the checkpoint that hits it, loudly, and nothing else:
// training goes on, earlier checkpoints stay intact, and checkpoints succeed
// again once space is freed. The store lives on a small tmpfs mounted for the
// test (root only; skipped with a reason elsewhere). tmpfs also refuses
// O_DIRECT, so this exercises the buffered fallback.
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <ranges>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "small_disk.h"
#include "test_util.h"

namespace ckpt {
namespace {

using testing::Refill;

class DiskFullTest : public testing::SmallDiskTest {
 protected:
  DiskFullTest() : SmallDiskTest("12m") {}

  Options MakeOptions() const {
    Options o;
    o.store_dir = mount_point_ + "/store";
    o.job = "full";
    o.chunk_bytes = 256 << 10;
    o.staging_bytes = 1 << 20;
    return o;
  }
};

TEST_F(DiskFullTest, FailedCheckpointReportsNoSpaceAndKeepsEarlierOnes) {
  std::vector<uint8_t> data = testing::RandomBytes(3 << 20, 1);  // incompressible
  std::vector<std::vector<uint8_t>> saved;
  auto client = Client::Open(MakeOptions());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_TRUE((*client)->protect("state", data.data(), data.size(), ElementType::kBytes).ok());

  // Each checkpoint changes every chunk, so each needs 3 MiB: the fourth or
  // fifth cannot fit in 12 MiB.
  uint64_t failed_step = 0;
  for (uint64_t step = 1; step <= 8 && failed_step == 0; ++step) {
    Refill(&data, step + 100);
    auto ticket = (*client)->checkpoint(step);
    ASSERT_TRUE(ticket.ok());
    Status s = ticket->wait_durable();
    if (s.ok()) {
      saved.push_back(data);
    } else {
      EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
      EXPECT_NE(s.message().find("No space"), std::string::npos) << s.message();
      failed_step = step;
    }
  }
  ASSERT_NE(failed_step, 0u) << "the disk never filled up";
  ASSERT_GE(saved.size(), 2u);
  EXPECT_EQ((*client)->latest_step(), failed_step - 1);

  // Earlier checkpoints are intact.
  auto restored = (*client)->restore();
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, failed_step - 1);
  EXPECT_EQ(data, saved.back());

  // Free space by retention; then checkpoints work again.
  client->reset();
  {
    StoreOptions so;
    so.create_if_missing = false;
    auto store = Store::Open(MakeOptions().store_dir, so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto gc = (*store)->Gc("full", GcOptions{1, 0, false});
    ASSERT_TRUE(gc.ok()) << gc.status().ToString();
    EXPECT_GT(gc->freed_bytes, 0u);
    for (uint64_t step : (*store)->List("full").value() | std::views::transform(&CheckpointInfo::step)) {
      auto faults = (*store)->Verify("full", step);
      ASSERT_TRUE(faults.ok());
      EXPECT_TRUE(faults->empty());
    }
  }
  client = Client::Open(MakeOptions());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_TRUE((*client)->protect("state", data.data(), data.size(), ElementType::kBytes).ok());
  Refill(&data, 999);
  auto ticket = (*client)->checkpoint(failed_step);
  ASSERT_TRUE(ticket.ok());
  ASSERT_TRUE(ticket->wait_durable().ok()) << ticket->status().ToString();
  const std::vector<uint8_t> expected = data;
  std::fill(data.begin(), data.end(), 0);
  auto again = (*client)->restore();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, failed_step);
  EXPECT_EQ(data, expected);
}

TEST_F(DiskFullTest, TrainingContinuesWithoutWaitingOnAFailedCheckpoint) {
  // checkpoint() returns at once even when the store is full; the failure
  // arrives on the ticket and in flush(), never as a crash or a hang.
  std::vector<uint8_t> data = testing::RandomBytes(4 << 20, 7);
  auto client = Client::Open(MakeOptions());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->protect("state", data.data(), data.size(), ElementType::kBytes).ok());
  std::vector<Ticket> tickets;
  for (uint64_t step = 1; step <= 5; ++step) {
    Refill(&data, step);
    auto t = (*client)->checkpoint(step);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->wait_copied().ok() || t->finished());
    tickets.push_back(*t);
  }
  Status flushed = (*client)->flush();
  EXPECT_TRUE(flushed.IsNoSpace()) << flushed.ToString();
  size_t durable = 0;
  for (const auto& t : tickets) durable += t.durable() ? 1 : 0;
  EXPECT_GE(durable, 1u);
  EXPECT_LT(durable, tickets.size());
}

TEST_F(DiskFullTest, SameClientCheckpointsAgainOnceSpaceIsFreedEvenAfterTheCatalogFilledUp) {
  // Unchanged checkpoints write no chunks, only their manifest: on a disk
  // filled by another file, the catalog's own write is what fails. Once the
  // file is removed, the same client (no reopen) commits again.
  std::vector<uint8_t> data = testing::RandomBytes(1 << 20, 5);
  auto client = Client::Open(MakeOptions());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_TRUE((*client)->protect("state", data.data(), data.size(), ElementType::kBytes).ok());
  auto first = (*client)->checkpoint(1);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->wait_durable().ok()) << first->status().ToString();

  const std::string filler = mount_point_ + "/filler";
  FillWithFile(filler);
  uint64_t step = 1;
  Status failed = CheckpointUntilRefused(**client, &step);
  ASSERT_TRUE(failed.IsNoSpace()) << failed.ToString();
  EXPECT_EQ((*client)->latest_step(), step - 1);

  ASSERT_EQ(::unlink(filler.c_str()), 0);
  Refill(&data, 6);
  const std::vector<uint8_t> expected = data;
  auto again = (*client)->checkpoint(++step);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->wait_durable().ok()) << again->status().ToString();
  std::fill(data.begin(), data.end(), 0);
  auto restored = (*client)->restore();
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, step);
  EXPECT_EQ(data, expected);
}

}  // namespace
}  // namespace ckpt
