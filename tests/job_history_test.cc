// The failure history and job profiles kept in the store (Store::RecordFailure,
// ListFailures, GetJobProfile, UpdateJobProfile).
#include <gtest/gtest.h>

#include <string>

#include "ckpt/store.h"
#include "store/job_history.h"
#include "store/store_rep.h"
#include "test_util.h"

namespace ckpt {
namespace {

using testing::ScratchDir;

std::shared_ptr<Store> OpenStore(const std::string& dir, bool read_only = false) {
  StoreOptions o;
  o.read_only = read_only;
  auto s = Store::Open(dir, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : nullptr;
}

FailureEvent Failure(const std::string& job, int64_t t_us, std::string cause = "node lost") {
  return FailureEvent{job, t_us, FailureSource::kReported, std::move(cause)};
}

TEST(JobHistory, FailuresComeBackInTimeOrderPerJobAfterReopen) {
  ScratchDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->RecordFailure(Failure("b", 30)).ok());
    ASSERT_TRUE(store->RecordFailure(Failure("a", 20, "GPU fell off the bus")).ok());
    ASSERT_TRUE(store->RecordFailure(Failure("a", 10)).ok());
    FailureEvent daemon{"a", 1'700'000'000'000'000, FailureSource::kDaemon, ""};
    ASSERT_TRUE(store->RecordFailure(daemon).ok());
  }
  auto store = OpenStore(dir.path(), /*read_only=*/true);
  auto a = store->ListFailures("a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->size(), 3u);
  EXPECT_EQ((*a)[0].time_unix_us, 10);
  EXPECT_EQ((*a)[1].time_unix_us, 20);
  EXPECT_EQ((*a)[1].cause, "GPU fell off the bus");
  EXPECT_EQ((*a)[2].source, FailureSource::kDaemon);
  EXPECT_EQ((*a)[2].time_unix_us, 1'700'000'000'000'000);
  auto all = store->ListFailures();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ(all->back().job, "b");
}

TEST(JobHistory, SameJobAndMicrosecondIsRecordedOnce) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->RecordFailure(Failure("a", 5)).ok());
  Status again = store->RecordFailure(Failure("a", 5, "other text"));
  EXPECT_EQ(again.code(), Status::Code::kAlreadyExists) << again.ToString();
  EXPECT_TRUE(store->RecordFailure(Failure("b", 5)).ok());  // another job
  EXPECT_EQ(store->ListFailures("a")->size(), 1u);
}

TEST(JobHistory, BadFailuresAreRefusedWithTheReason) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->RecordFailure(Failure("bad/job", 5)).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store->RecordFailure(Failure("a", 0)).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store->RecordFailure(Failure("a", -3)).code(), Status::Code::kInvalidArgument);
  Status long_cause = store->RecordFailure(Failure("a", 5, std::string(kMaxFailureCauseBytes + 1, 'x')));
  EXPECT_EQ(long_cause.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(long_cause.message().find("4096"), std::string::npos) << long_cause.message();
  EXPECT_TRUE(store->ListFailures("a")->empty());
}

TEST(JobHistory, ReadOnlyStoreRefusesWrites) {
  ScratchDir dir;
  OpenStore(dir.path()).reset();  // create
  auto store = OpenStore(dir.path(), /*read_only=*/true);
  EXPECT_EQ(store->RecordFailure(Failure("a", 5)).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store->UpdateJobProfile("a", [](JobProfile*) {}).code(),
            Status::Code::kInvalidArgument);
}

TEST(JobHistory, ProfileKeepsCostsAcrossReopen) {
  ScratchDir dir;
  {
    auto store = OpenStore(dir.path());
    EXPECT_TRUE(store->GetJobProfile("j").status().IsNotFound());
    for (double c : {2.0, 4.0}) {
      ASSERT_TRUE(store->UpdateJobProfile("j", [&](JobProfile* p) {
                         AddCostSample(&p->checkpoint_cost, c);
                         p->nodes = 64;
                       }).ok());
    }
    ASSERT_TRUE(store->UpdateJobProfile("j", [](JobProfile* p) {
                       AddCostSample(&p->restart_cost, 300);
                       p->step_s = 0.25;
                     }).ok());
  }
  auto store = OpenStore(dir.path(), /*read_only=*/true);
  auto p = store->GetJobProfile("j");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->nodes, 64u);
  EXPECT_EQ(p->checkpoint_cost.samples, 2u);
  EXPECT_DOUBLE_EQ(p->checkpoint_cost.mean_s, 3.0);
  EXPECT_DOUBLE_EQ(p->checkpoint_cost.last_s, 4.0);
  EXPECT_EQ(p->restart_cost.samples, 1u);
  EXPECT_DOUBLE_EQ(p->restart_cost.mean_s, 300.0);
  EXPECT_DOUBLE_EQ(p->step_s, 0.25);
  EXPECT_GT(p->first_seen_unix_us, 1'600'000'000'000'000);  // set from the clock
}

TEST(JobHistory, CostMeanFollowsRecentSamplesAfterSixteen) {
  CostSummary c;
  for (int i = 0; i < 16; ++i) AddCostSample(&c, 1.0);
  EXPECT_DOUBLE_EQ(c.mean_s, 1.0);
  AddCostSample(&c, 17.0);
  EXPECT_DOUBLE_EQ(c.mean_s, 2.0);  // weight 1/16
  EXPECT_EQ(c.samples, 17u);
}

TEST(JobHistory, DamagedProfileOrFailureRecordIsCorruption) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  Catalog& catalog = store->rep()->catalog();
  ASSERT_TRUE(catalog.PutRecord(JobProfileKey("j"), "\x01garbage", true).ok());
  EXPECT_TRUE(store->GetJobProfile("j").status().IsCorruption());
  EXPECT_TRUE(store->UpdateJobProfile("j", [](JobProfile*) {}).IsCorruption());
  ASSERT_TRUE(catalog.PutRecord(FailureKey("k", 9), std::string("\x01\x63", 2), true).ok());
  EXPECT_TRUE(store->ListFailures("k").status().IsCorruption());
}

TEST(JobHistory, SessionLeftOpenIsDetectedOnceAsAFailure) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  Store::Rep* rep = store->rep();
  auto first = rep->BeginSession("j", 8);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());  // a new job: nothing died
  // Nested session in the same process (two clients of one job): no failure.
  auto nested = rep->BeginSession("j", 0);
  ASSERT_TRUE(nested.ok());
  EXPECT_FALSE(nested->has_value());
  ASSERT_TRUE(rep->EndSession("j").ok());
  EXPECT_TRUE(store->GetJobProfile("j")->session_open);  // one client still open
  store.reset();  // the process "dies" with the session open

  store = OpenStore(dir.path());
  auto detected = store->rep()->BeginSession("j", 0);
  ASSERT_TRUE(detected.ok());
  ASSERT_TRUE(detected->has_value());
  EXPECT_EQ((*detected)->source, FailureSource::kClient);
  auto failures = store->ListFailures("j");
  ASSERT_EQ(failures->size(), 1u);
  EXPECT_EQ(store->GetJobProfile("j")->nodes, 8u);  // 0 left it as it was
  ASSERT_TRUE(store->rep()->EndSession("j").ok());
  EXPECT_FALSE(store->GetJobProfile("j")->session_open);

  // A clean close: the next session finds nothing.
  auto clean = store->rep()->BeginSession("j", 0);
  ASSERT_TRUE(clean.ok());
  EXPECT_FALSE(clean->has_value());
  EXPECT_EQ(store->ListFailures("j")->size(), 1u);
}

}  // namespace
}  // namespace ckpt
