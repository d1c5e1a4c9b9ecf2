// Commit atomicity: a process SIGKILLed while a checkpoint is in flight leaves
// the previous checkpoint (or the new one, whole) and no stray segment file.
//
// Every child process is forked in SetUpTestSuite, before this process opens
// any store: RocksDB starts background threads on first use, and a child
// forked after that would inherit a thread pool without its threads. The
// tests then check what each child left behind.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "store/store_rep.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::FloatWeights;
using ckpt::testing::RandomBytes;
using ckpt::testing::ScratchDir;

constexpr size_t kChunk = 64 << 10;
constexpr size_t kLiveChunks = 48;
constexpr size_t kFrozenChunks = 16;
constexpr size_t kSmallBytes = 1000;

enum class KillPoint {
  kAfterCheckpointReturns,  // step 2 requested, nothing waited for
  kAfterCopied,             // step 2's snapshot staged, writes in progress
  kAfterCopiedPlusDelay,    // somewhere in writing, syncing or committing step 2
  kAfterDurable,            // step 2 committed
  kManyInFlight,            // steps 2..6 queued, killed after the last is staged
};

struct Case {
  KillPoint point;
  uint64_t seed;
  unsigned delay_us;
  std::string store_dir;
  int wait_status = -1;
};

// The protected state of one job, a deterministic function of (seed, step).
struct Model {
  std::vector<float> live;       // rewritten in part at every step
  std::vector<uint8_t> frozen;   // never changes
  std::vector<int32_t> small;    // changes at every step

  explicit Model(uint64_t seed)
      : live(FloatWeights(kLiveChunks * kChunk / 4, seed)),
        frozen(RandomBytes(kFrozenChunks * kChunk, seed + 1)),
        small(kSmallBytes / 4, 0) {}

  // The update between step-1 and step: a third of the live chunks get new
  // (incompressible) bytes.
  void Advance(uint64_t seed, uint64_t step) {
    for (size_t k = 0; k < kLiveChunks; ++k) {
      if ((k + step) % 3 != 0) continue;
      const auto fresh = RandomBytes(kChunk, seed * 1000 + step * 100 + k);
      std::memcpy(reinterpret_cast<uint8_t*>(live.data()) + k * kChunk, fresh.data(), kChunk);
    }
    for (size_t i = 0; i < small.size(); ++i) small[i] = static_cast<int32_t>(step * 7 + i);
  }

  Status Protect(Client* c) {
    CKPT_RETURN_IF_ERROR(c->protect("live", live.data(), live.size() * 4, ElementType::kFloat32));
    CKPT_RETURN_IF_ERROR(c->protect("frozen", frozen.data(), frozen.size(), ElementType::kBytes));
    return c->protect("small", small.data(), small.size() * 4, ElementType::kInt32);
  }

  // In place: protected memory must not move.
  void CopyFrom(const Model& o) {
    std::memcpy(live.data(), o.live.data(), live.size() * 4);
    std::memcpy(frozen.data(), o.frozen.data(), frozen.size());
    std::memcpy(small.data(), o.small.data(), small.size() * 4);
  }

  // Bytewise: the random chunks of "live" hold NaN patterns, so no float ==.
  bool operator==(const Model& o) const {
    return std::memcmp(live.data(), o.live.data(), live.size() * 4) == 0 && frozen == o.frozen &&
           small == o.small;
  }
};

Model ModelAt(uint64_t seed, uint64_t step) {
  Model m(seed);
  for (uint64_t s = 2; s <= step; ++s) m.Advance(seed, s);
  return m;
}

Options CrashOptions(const std::string& store_dir) {
  Options o;
  o.store_dir = store_dir;
  o.job = "crashy";
  o.chunk_bytes = kChunk;
  o.staging_bytes = 2 * kChunk;  // chunks flow through a tiny pool
  return o;
}

uint64_t LastStep(KillPoint p) { return p == KillPoint::kManyInFlight ? 6 : 2; }

// Runs in the forked child; never returns. Exit codes 10+ say where it failed
// before reaching its kill point.
[[noreturn]] void ChildMain(const Case& c) {
  auto opened = Client::Open(CrashOptions(c.store_dir));
  if (!opened.ok()) _exit(10);
  std::unique_ptr<Client> client = std::move(opened).value();
  Model m(c.seed);
  if (!m.Protect(client.get()).ok()) _exit(11);
  auto first = client->checkpoint(1);
  if (!first.ok() || !first->wait_durable().ok()) _exit(12);

  for (uint64_t step = 2; step <= LastStep(c.point); ++step) {
    m.Advance(c.seed, step);
    auto t = client->checkpoint(step);
    if (!t.ok()) _exit(13);
    switch (c.point) {
      case KillPoint::kAfterCheckpointReturns:
        break;
      case KillPoint::kAfterCopied:
      case KillPoint::kManyInFlight:
        if (!t->wait_copied().ok()) _exit(14);
        break;
      case KillPoint::kAfterCopiedPlusDelay:
        if (!t->wait_copied().ok()) _exit(14);
        ::usleep(c.delay_us);
        break;
      case KillPoint::kAfterDurable:
        if (!t->wait_durable().ok()) _exit(15);
        break;
    }
  }
  if (c.point == KillPoint::kManyInFlight && c.delay_us > 0) ::usleep(c.delay_us);
  ::raise(SIGKILL);
  _exit(16);
}

class CrashRecovery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    cases_ = new std::vector<Case>();
    auto add = [](KillPoint p, uint64_t seed, unsigned delay_us) {
      cases_->push_back({p, seed, delay_us, dir_->Sub("store-" + std::to_string(seed))});
    };
    add(KillPoint::kAfterCheckpointReturns, 1, 0);
    add(KillPoint::kAfterCheckpointReturns, 2, 0);
    add(KillPoint::kAfterCopied, 3, 0);
    add(KillPoint::kAfterCopied, 4, 0);
    const unsigned delays[] = {200, 600, 1000, 1400, 1800, 2500, 5000};
    for (size_t i = 0; i < std::size(delays); ++i) add(KillPoint::kAfterCopiedPlusDelay, 5 + i, delays[i]);
    add(KillPoint::kAfterDurable, 20, 0);
    add(KillPoint::kManyInFlight, 21, 0);
    add(KillPoint::kManyInFlight, 22, 15000);

    for (Case& c : *cases_) {
      const pid_t pid = ::fork();
      if (pid == 0) ChildMain(c);
      if (pid < 0) continue;  // wait_status stays -1: reported by the test
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      c.wait_status = status;
    }
  }

  static void TearDownTestSuite() {
    delete cases_;
    cases_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  // What a restarted job and an operator find after the crash.
  static void CheckRecovered(const Case& c) {
    SCOPED_TRACE("seed " + std::to_string(c.seed) + ", delay " + std::to_string(c.delay_us) + " us");
    ASSERT_TRUE(WIFSIGNALED(c.wait_status) && WTERMSIG(c.wait_status) == SIGKILL)
        << "the child did not reach its kill point (wait status " << c.wait_status
        << ", exit code " << (WIFEXITED(c.wait_status) ? WEXITSTATUS(c.wait_status) : -1) << ")";

    // Reopening for writing reclaims what the dead process left unfinished.
    auto opened = Client::Open(CrashOptions(c.store_dir));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<Client> client = std::move(opened).value();
    Model m(0);  // overwritten by every restore
    ASSERT_TRUE(m.Protect(client.get()).ok());

    const auto latest = client->latest_step();
    ASSERT_TRUE(latest.has_value());
    EXPECT_GE(*latest, 1u);
    EXPECT_LE(*latest, LastStep(c.point));
    if (c.point == KillPoint::kAfterDurable) {
      EXPECT_EQ(*latest, 2u);
    }

    auto restored = client->restore();
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    EXPECT_EQ(*restored, *latest);
    EXPECT_TRUE(m == ModelAt(c.seed, *latest)) << "restored bytes differ from step " << *latest;

    auto store_or = Store::Open(c.store_dir, {.create_if_missing = false, .read_only = true});
    ASSERT_TRUE(store_or.ok()) << store_or.status().ToString();
    const std::shared_ptr<Store> store = *store_or;
    auto list = store->List("crashy");
    ASSERT_TRUE(list.ok()) << list.status().ToString();

    // Checkpoints commit in order: what survives is steps 1..latest, each whole.
    std::vector<uint64_t> steps, expected_steps;
    uint64_t with_new_chunks = 0;
    for (const auto& info : *list) {
      steps.push_back(info.step);
      if (info.new_chunks > 0) ++with_new_chunks;
    }
    for (uint64_t s = 1; s <= *latest; ++s) expected_steps.push_back(s);
    EXPECT_EQ(steps, expected_steps);
    for (uint64_t s : steps) {
      auto faults = store->Verify("crashy", s);
      ASSERT_TRUE(faults.ok()) << faults.status().ToString();
      for (const auto& f : *faults) ADD_FAILURE() << f.ToString();
      ASSERT_TRUE(client->restore(s).ok()) << "step " << s;
      EXPECT_TRUE(m == ModelAt(c.seed, s)) << "restored bytes differ from step " << s;
    }

    // Every segment file is one the catalog knows; one per committed
    // checkpoint that stored new chunks (each step here does).
    std::set<std::string> on_disk, in_catalog;
    for (const auto& e : std::filesystem::directory_iterator(c.store_dir + "/segments"))
      on_disk.insert("segments/" + e.path().filename().string());
    auto segments = store->rep()->catalog().ListSegments();
    ASSERT_TRUE(segments.ok());
    for (const auto& s : *segments) in_catalog.insert(store->rep()->SegmentName(s.id));
    EXPECT_EQ(on_disk, in_catalog);
    EXPECT_EQ(on_disk.size(), with_new_chunks);
    EXPECT_EQ(with_new_chunks, steps.size());

    // And the job goes on: the next checkpoint commits on top.
    m.CopyFrom(ModelAt(c.seed, *latest));
    auto next = client->checkpoint(*latest + 1);
    ASSERT_TRUE(next.ok());
    ASSERT_TRUE(next->wait_durable().ok()) << next->status().ToString();
    EXPECT_EQ(client->latest_step(), std::optional<uint64_t>(*latest + 1));
  }

  static void CheckAll(KillPoint p) {
    ASSERT_NE(cases_, nullptr);
    int checked = 0;
    for (const Case& c : *cases_) {
      if (c.point != p) continue;
      CheckRecovered(c);
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }

  static ScratchDir* dir_;
  static std::vector<Case>* cases_;
};

ScratchDir* CrashRecovery::dir_ = nullptr;
std::vector<Case>* CrashRecovery::cases_ = nullptr;

TEST_F(CrashRecovery, KilledRightAfterCheckpointReturns) { CheckAll(KillPoint::kAfterCheckpointReturns); }

TEST_F(CrashRecovery, KilledRightAfterTheSnapshotIsCopied) { CheckAll(KillPoint::kAfterCopied); }

TEST_F(CrashRecovery, KilledWhileWritingSyncingOrCommitting) {
  CheckAll(KillPoint::kAfterCopiedPlusDelay);
}

TEST_F(CrashRecovery, KilledAfterDurableKeepsTheNewCheckpoint) { CheckAll(KillPoint::kAfterDurable); }

TEST_F(CrashRecovery, KilledWithManyCheckpointsInFlightKeepsACommittedPrefix) {
  CheckAll(KillPoint::kManyInFlight);
}

}  // namespace
}  // namespace ckpt
