// Faults injected through the store's Env, one behaviour per test: the
// checkpoint that meets the fault fails loudly on its ticket, nothing torn
// becomes visible, earlier checkpoints stay intact, and the next checkpoint
// works. Each runs with 64 KiB chunks (copied into the segment writer's
// buffers) and 256 KiB chunks (written straight from staging slots, lent to
// the writer until their write is over: a slot lost on a fault would hang
// the next checkpoint).
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "fault_injection_env.h"
#include "store/segment_writer.h"
#include "test_util.h"

namespace ckpt {
namespace {

using testing::FaultInjectionEnv;

class FaultInjectionTest : public ::testing::TestWithParam<size_t> {
 protected:
  void SetUp() override {
    data_ = testing::RandomBytes(1 << 20, 5);
    Options o;
    o.store_dir = dir_.Sub("store");
    o.job = "faults";
    o.chunk_bytes = GetParam();
    o.staging_bytes = 4 * GetParam();
    o.store.env = &env_;
    auto c = Client::Open(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
    ASSERT_TRUE(client_->protect("state", data_.data(), data_.size(), ElementType::kBytes).ok());
  }

  // Changes every chunk in place (the protected address must not move).
  void Mutate(uint64_t seed) {
    const auto fresh = testing::RandomBytes(data_.size(), seed);
    std::copy(fresh.begin(), fresh.end(), data_.begin());
  }

  Status Checkpoint(uint64_t step) {
    auto t = client_->checkpoint(step);
    if (!t.ok()) return t.status();
    return t->wait_durable();
  }

  void ExpectRestores(uint64_t step, const std::vector<uint8_t>& expected) {
    std::fill(data_.begin(), data_.end(), 0);
    auto r = client_->restore();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, step);
    EXPECT_EQ(data_, expected);
  }

  size_t SegmentFiles() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("store") + "/segments")) n += e.is_regular_file();
    return n;
  }

  testing::ScratchDir dir_;
  FaultInjectionEnv env_;
  std::vector<uint8_t> data_;
  std::unique_ptr<Client> client_;
};

TEST_P(FaultInjectionTest, FailedWriteWithNoSpaceFailsOnlyThatCheckpoint) {
  ASSERT_TRUE(Checkpoint(1).ok());
  const auto step1 = data_;
  Mutate(2);
  env_.FailNth(FaultInjectionEnv::Op::kWrite, 1, ENOSPC);
  Status s = Checkpoint(2);
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_EQ(client_->latest_step(), 1u);
  EXPECT_EQ(SegmentFiles(), 1u) << "the failed checkpoint's segment file was left behind";
  Mutate(3);
  const auto step3 = data_;
  ASSERT_TRUE(Checkpoint(3).ok());
  ExpectRestores(3, step3);
  auto older = client_->restore(1);
  ASSERT_TRUE(older.ok());
  EXPECT_EQ(data_, step1);
}

TEST_P(FaultInjectionTest, FailedDataSyncCommitsNothing) {
  ASSERT_TRUE(Checkpoint(1).ok());
  const auto step1 = data_;
  Mutate(2);
  env_.FailNth(FaultInjectionEnv::Op::kSync, 1, EIO);
  Status s = Checkpoint(2);
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("fdatasync"), std::string::npos) << s.message();
  EXPECT_EQ(client_->latest_step(), 1u);
  ExpectRestores(1, step1);
}

TEST_P(FaultInjectionTest, FailedDirectorySyncCommitsNothing) {
  ASSERT_TRUE(Checkpoint(1).ok());
  Mutate(2);
  env_.FailNth(FaultInjectionEnv::Op::kDirSync, 1, EIO);
  EXPECT_FALSE(Checkpoint(2).ok());
  EXPECT_EQ(client_->latest_step(), 1u);
}

TEST_P(FaultInjectionTest, FailedCreateOfSegmentFileFailsTheCheckpoint) {
  env_.FailNth(FaultInjectionEnv::Op::kCreate, 1, EACCES);
  Status s = Checkpoint(1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("create segment"), std::string::npos) << s.message();
  EXPECT_FALSE(client_->latest_step().has_value());
  ASSERT_TRUE(Checkpoint(2).ok()) << "checkpoints must work again after a failed one";
}

TEST_P(FaultInjectionTest, ShortWritesAreCompletedAndRestoreExactly) {
  env_.SetShortWrites(true);
  Mutate(9);
  const auto expected = data_;
  ASSERT_TRUE(Checkpoint(1).ok());
  ExpectRestores(1, expected);
}

TEST_P(FaultInjectionTest, PowerLossAfterCommitKeepsTheCheckpoint) {
  ASSERT_TRUE(Checkpoint(1).ok());
  const auto step1 = data_;
  env_.PowerLoss();
  client_.reset();
  Options o;
  o.store_dir = dir_.Sub("store");
  o.job = "faults";
  o.chunk_bytes = GetParam();
  auto c = Client::Open(o);
  ASSERT_TRUE(c.ok());
  client_ = std::move(c).value();
  ASSERT_TRUE(client_->protect("state", data_.data(), data_.size(), ElementType::kBytes).ok());
  ExpectRestores(1, step1);
}

TEST_P(FaultInjectionTest, PowerLossBeforeSyncHidesTheCheckpointAndReclaimsItsBytes) {
  ASSERT_TRUE(Checkpoint(1).ok());
  const auto step1 = data_;
  Mutate(2);
  // Lose power right before the segment of step 2 is synced.
  env_.SetCrashBefore(FaultInjectionEnv::Op::kSync, 1, [this] { env_.PowerLoss(); });
  EXPECT_FALSE(Checkpoint(2).ok());
  client_.reset();
  Options o;
  o.store_dir = dir_.Sub("store");
  o.job = "faults";
  o.chunk_bytes = GetParam();
  auto c = Client::Open(o);
  ASSERT_TRUE(c.ok());
  client_ = std::move(c).value();
  ASSERT_TRUE(client_->protect("state", data_.data(), data_.size(), ElementType::kBytes).ok());
  EXPECT_EQ(client_->latest_step(), 1u);
  ExpectRestores(1, step1);
  EXPECT_EQ(SegmentFiles(), 1u);
}

INSTANTIATE_TEST_SUITE_P(CopiedAndFromStaging, FaultInjectionTest,
                         ::testing::Values(size_t{64} << 10, size_t{256} << 10),
                         [](const ::testing::TestParamInfo<size_t>& param) {
                           return param.param < SegmentWriter::kMinBorrowedBytes ? "Copied" : "FromStaging";
                         });

}  // namespace
}  // namespace ckpt
