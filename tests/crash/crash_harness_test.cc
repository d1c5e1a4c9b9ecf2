// The crash harness: kill the writer at every I/O operation of a workload,
// or cut its power there, then reopen the store and check what a user relies
// on:
//   - every step that was reported durable before the crash is still there;
//   - the newest committed checkpoint restores bit-exactly to that step's state;
//   - every committed checkpoint verifies (no torn checkpoint is visible);
//   - the bytes of uncommitted checkpoints are reclaimed: after a writable
//     reopen, segments/ holds exactly one file per committed checkpoint.
// CKPT_CRASH_SEEDS sets how many workload seeds run (default 5: about 100
// kill points and 100 power-loss points in CI; raise it for a long run).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "crash/workload.h"
#include "fault_injection_env.h"
#include "test_util.h"

namespace ckpt::crash {
namespace {

uint64_t SeedCount() {
  const char* v = std::getenv("CKPT_CRASH_SEEDS");
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : 5;
}

struct ChildRun {
  uint64_t last_durable = 0;
  uint64_t ops = 0;  // reported only by a run that finished
  int exit_status = -1;
  bool killed = false;
};

ChildRun RunWorkload(const std::string& store, uint64_t seed, uint64_t crash_at) {
  const std::string cmd = std::string(CKPT_CRASH_WORKLOAD) + " " + store + " " + std::to_string(seed) +
                          " " + std::to_string(crash_at) + " 2>/dev/null";
  ChildRun run;
  FILE* out = ::popen(cmd.c_str(), "r");
  if (out == nullptr) return run;
  char line[128];
  while (std::fgets(line, sizeof line, out) != nullptr) {
    unsigned long long v = 0;
    if (std::sscanf(line, "durable %llu", &v) == 1) run.last_durable = v;
    if (std::sscanf(line, "ops %llu", &v) == 1) run.ops = v;
  }
  const int status = ::pclose(out);
  // popen runs the command through sh, which reports a child killed by
  // signal N as exit status 128 + N.
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.killed = run.exit_status == 128 + SIGKILL;
  return run;
}

size_t SegmentFiles(const std::string& store) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(store + "/segments"))
    n += e.path().extension() == ".seg" ? 1 : 0;
  return n;
}

// Reopens the store after a crash and checks every invariant.
void CheckRecovered(const std::string& store, uint64_t seed, uint64_t last_durable, const std::string& where) {
  SCOPED_TRACE(where);
  auto client = Client::Open(WorkloadOptions(store));  // writable: reclaims orphans
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  WorkloadState state;
  ASSERT_TRUE(state.Protect(client->get()).ok());
  auto restored = (*client)->restore();
  if (!restored.ok()) {
    ASSERT_TRUE(restored.status().IsNotFound()) << restored.status().ToString();
    ASSERT_EQ(last_durable, 0u) << "step " << last_durable << " was durable but nothing is left";
  } else {
    ASSERT_GE(*restored, last_durable) << "a durable checkpoint was lost";
    WorkloadState expected;
    expected.SetToStep(seed, *restored);
    ASSERT_TRUE(state.Equals(expected)) << "step " << *restored << " did not restore bit-exactly";
  }
  client->reset();

  StoreOptions ro;
  ro.read_only = true;
  ro.create_if_missing = false;
  auto opened = Store::Open(store, ro);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto list = (*opened)->List("crash");
  ASSERT_TRUE(list.ok());
  for (const auto& info : *list) {
    auto faults = (*opened)->Verify("crash", info.step);
    ASSERT_TRUE(faults.ok()) << faults.status().ToString();
    ASSERT_TRUE(faults->empty()) << "committed step " << info.step << " is damaged: " << (*faults)[0].ToString();
  }
  // Every step stores new chunks, so each committed checkpoint owns one file.
  EXPECT_EQ(SegmentFiles(store), list->size()) << "uncommitted bytes were not reclaimed";
}

TEST(CrashHarness, KillAtEveryIoOperationLosesNothingDurable) {
  uint64_t points = 0;
  for (uint64_t seed = 1; seed <= SeedCount(); ++seed) {
    testing::ScratchDir dir;
    const ChildRun full = RunWorkload(dir.Sub("count"), seed, 0);
    ASSERT_EQ(full.exit_status, 0) << "the workload fails without any crash";
    ASSERT_EQ(full.last_durable, kSteps);
    ASSERT_GT(full.ops, kSteps);
    for (uint64_t at = 1; at <= full.ops; ++at) {
      const std::string store = dir.Sub("kill-" + std::to_string(at));
      const ChildRun run = RunWorkload(store, seed, at);
      ASSERT_TRUE(run.killed) << "seed " << seed << " op " << at << ": exit status " << run.exit_status;
      CheckRecovered(store, seed, run.last_durable, "seed " + std::to_string(seed) + " killed before op " + std::to_string(at));
      if (::testing::Test::HasFatalFailure()) return;
      std::filesystem::remove_all(store);
      ++points;
    }
  }
  RecordProperty("kill_points", static_cast<int>(points));
  std::printf("kill points checked: %llu\n", static_cast<unsigned long long>(points));
  EXPECT_GE(points, SeedCount() * (kSteps * 3));
}

TEST(CrashHarness, PowerLossAtEveryIoOperationLosesNothingDurable) {
  uint64_t points = 0;
  for (uint64_t seed = 1; seed <= SeedCount(); ++seed) {
    for (uint64_t at = 1;; ++at) {
      testing::ScratchDir dir;
      const std::string store = dir.Sub("store");
      testing::FaultInjectionEnv env;
      env.SetCrashPoint(at, [&env] { env.PowerLoss(); });
      uint64_t last_durable = 0;
      {
        Options options = WorkloadOptions(store);
        options.store.env = &env;
        auto client = Client::Open(options);
        ASSERT_TRUE(client.ok()) << client.status().ToString();
        WorkloadState state;
        state.SetToStep(seed, 0);
        ASSERT_TRUE(state.Protect(client->get()).ok());
        for (uint64_t step = 1; step <= kSteps && !env.dead(); ++step) {
          state.SetToStep(seed, step);
          auto ticket = (*client)->checkpoint(step);
          ASSERT_TRUE(ticket.ok());
          if (ticket->wait_durable().ok()) last_durable = step;
        }
      }
      const bool crashed = env.dead();
      CheckRecovered(store, seed, last_durable,
                     "seed " + std::to_string(seed) + " power lost before op " + std::to_string(at));
      if (::testing::Test::HasFatalFailure()) return;
      if (!crashed) break;  // the crash point lies past the workload's end
      ++points;
    }
  }
  std::printf("power-loss points checked: %llu\n", static_cast<unsigned long long>(points));
  EXPECT_GE(points, SeedCount() * (kSteps * 3));
}

}  // namespace
}  // namespace ckpt::crash
