// The host copy engine: memcpy, either on the calling thread or (testing mode)
// late and out of order on a worker thread. See client/copy_engine.h for the
// contract and client/testing_hooks.h for the testing mode.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/copy_engine.h"
#include "client/testing_hooks.h"

namespace ckpt {
namespace {

Status NoStreamsHere(const char* what) {
  return Status::InvalidArgument(std::string(what) +
                                 ": a CUDA stream was given, but this client has no CUDA backend "
                                 "(host copy engine); pass a null stream");
}

// A fence that is complete from the start: every copy before it already ran.
class CompletedFence final : public CopyFence {
 public:
  explicit CompletedFence(std::shared_ptr<testing::HostCopyEngineStats> stats)
      : stats_(std::move(stats)) {}
  Status OrderAfter(CUstream_st* stream) override {
    if (stream != nullptr) return NoStreamsHere("guard");
    if (stats_) stats_->fences_waited.fetch_add(1);
    return Status::OK();
  }

 private:
  std::shared_ptr<testing::HostCopyEngineStats> stats_;
};

// State shared by the late engine's worker and the fences it hands out (a
// fence may outlive the engine: tickets outlive clients).
struct LateState {
  struct Job {
    uint64_t seq = 0;
    const void* src = nullptr;
    void* dst = nullptr;
    std::optional<ChunkDigest>* digest = nullptr;
    size_t size = 0;
    bool fail = false;
    CopyEngine::Done done;
  };

  std::mutex mu;
  std::condition_variable work_cv;  // a job arrived, or stop
  std::condition_variable done_cv;  // a job completed
  std::vector<Job> pending;         // issued, not started
  std::set<uint64_t> incomplete;    // issued, not completed
  uint64_t next_seq = 0;
  bool stop = false;

  // Every job with a sequence number <= seq has completed. Needs mu.
  bool CompleteThrough(uint64_t seq) const { return incomplete.empty() || *incomplete.begin() > seq; }
};

class LateFence final : public CopyFence {
 public:
  LateFence(std::shared_ptr<LateState> state, std::optional<uint64_t> seq,
            std::shared_ptr<testing::HostCopyEngineStats> stats)
      : state_(std::move(state)), seq_(seq), stats_(std::move(stats)) {}

  Status OrderAfter(CUstream_st* stream) override {
    if (stream != nullptr) return NoStreamsHere("guard");
    if (stats_) stats_->fences_waited.fetch_add(1);
    if (!seq_) return Status::OK();
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->done_cv.wait(lock, [&] { return state_->CompleteThrough(*seq_); });
    return Status::OK();
  }

 private:
  std::shared_ptr<LateState> state_;
  std::optional<uint64_t> seq_;  // the last copy issued before the fence; none: no copy yet
  std::shared_ptr<testing::HostCopyEngineStats> stats_;
};

class HostCopyEngine final : public CopyEngine {
 public:
  explicit HostCopyEngine(testing::HostCopyEngineOptions options)
      : options_(std::move(options)), rng_(options_.seed) {
    if (options_.late) {
      late_ = std::make_shared<LateState>();
      worker_ = std::thread([this] { WorkLoop(); });
    }
  }

  ~HostCopyEngine() override {
    if (!late_) return;
    {
      std::lock_guard<std::mutex> lock(late_->mu);
      late_->stop = true;
    }
    late_->work_cv.notify_all();
    worker_.join();  // runs every job still pending first
  }

  Result<MemoryLocation> Locate(const void*, size_t) override {
    if (options_.simulate_device) return MemoryLocation{MemoryKind::kDevice, 0};
    return MemoryLocation{};
  }

  Status PinStaging(void*, size_t bytes) override {
    if (options_.stats) options_.stats->pinned_bytes.fetch_add(bytes);
    return Status::OK();
  }

  Result<std::shared_ptr<SnapshotPoint>> Mark(CUstream_st* stream, bool) override {
    if (stream != nullptr) return NoStreamsHere("checkpoint");
    return std::shared_ptr<SnapshotPoint>();
  }

  Status BeginSnapshot(std::shared_ptr<SnapshotPoint>) override { return Status::OK(); }

  void CopyToStaging(const void* src, MemoryLocation, void* dst, size_t size, std::optional<ChunkDigest>* digest,
                     Done done) override {
    const uint64_t n = copies_to_staging_++;
    if (options_.stats) options_.stats->to_staging.fetch_add(1);
    const bool fail = options_.fail_copy_to_staging && options_.fail_copy_to_staging(n);
    Submit(src, dst, size, fail, digest, std::move(done));
  }

  Result<std::shared_ptr<CopyFence>> EndSnapshot() override {
    if (!late_) return std::shared_ptr<CopyFence>(std::make_shared<CompletedFence>(options_.stats));
    std::optional<uint64_t> last;
    {
      std::lock_guard<std::mutex> lock(late_->mu);
      if (late_->next_seq > 0) last = late_->next_seq - 1;
    }
    return std::shared_ptr<CopyFence>(std::make_shared<LateFence>(late_, last, options_.stats));
  }

  void CopyFromStaging(const void* src, void* dst, MemoryLocation, size_t size, Done done) override {
    if (options_.stats) options_.stats->from_staging.fetch_add(1);
    Submit(src, dst, size, false, nullptr, std::move(done));
  }

  bool host_addressable(MemoryLocation where) const override {
    return where.kind == MemoryKind::kHost || where.kind == MemoryKind::kPinnedHost;
  }
  bool accepts_streams() const override { return false; }
  std::string_view name() const override { return options_.late ? "host (late, out of order)" : "host"; }

 private:
  static Status Run(const void* src, void* dst, size_t size, bool fail, uint64_t seq,
                    std::optional<ChunkDigest>* digest) {
    if (fail) return Status::IOError("injected failure of copy #" + std::to_string(seq));
    if (digest != nullptr) CopyAndDigest(dst, src, size, &digest->emplace());
    else std::memcpy(dst, src, size);
    return Status::OK();
  }

  void Submit(const void* src, void* dst, size_t size, bool fail, std::optional<ChunkDigest>* digest, Done done) {
    if (fail && options_.stats) options_.stats->failed.fetch_add(1);
    if (!late_) {
      done(Run(src, dst, size, fail, sync_seq_++, digest));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(late_->mu);
      LateState::Job job;
      job.seq = late_->next_seq++;
      job.src = src;
      job.dst = dst;
      job.digest = digest;
      job.size = size;
      job.fail = fail;
      job.done = std::move(done);
      late_->incomplete.insert(job.seq);
      late_->pending.push_back(std::move(job));
      if (options_.stats) {
        uint64_t seen = options_.stats->max_pending.load();
        while (seen < late_->pending.size() &&
               !options_.stats->max_pending.compare_exchange_weak(seen, late_->pending.size())) {
        }
      }
    }
    late_->work_cv.notify_one();
  }

  void WorkLoop() {
    LateState& st = *late_;
    for (;;) {
      std::unique_lock<std::mutex> lock(st.mu);
      st.work_cv.wait(lock, [&] { return st.stop || !st.pending.empty(); });
      if (st.pending.empty()) return;  // stopping and drained
      // Complete late: let more copies queue up meanwhile.
      const uint32_t delay =
          st.stop || options_.max_delay_us == 0 ? 0 : static_cast<uint32_t>(rng_() % (options_.max_delay_us + 1));
      if (delay > 0) {
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::microseconds(delay));
        lock.lock();
      }
      // ... and out of order: any pending copy may go next.
      const size_t i = static_cast<size_t>(rng_() % st.pending.size());
      LateState::Job job = std::move(st.pending[i]);
      st.pending[i] = std::move(st.pending.back());
      st.pending.pop_back();
      lock.unlock();

      Status s = Run(job.src, job.dst, job.size, job.fail, job.seq, job.digest);

      lock.lock();
      if (options_.stats && *st.incomplete.begin() < job.seq) options_.stats->out_of_order.fetch_add(1);
      st.incomplete.erase(job.seq);
      lock.unlock();
      // As with CUDA events, the fence may be seen complete before `done` ran.
      st.done_cv.notify_all();
      job.done(std::move(s));
    }
  }

  const testing::HostCopyEngineOptions options_;
  uint64_t copies_to_staging_ = 0;  // copier thread only
  std::atomic<uint64_t> sync_seq_{0};
  std::mt19937_64 rng_;             // worker thread only
  std::shared_ptr<LateState> late_;
  std::thread worker_;
};

std::mutex g_factory_mu;
std::function<std::unique_ptr<CopyEngine>()>* g_factory = nullptr;

}  // namespace

std::unique_ptr<CopyEngine> NewHostCopyEngine() {
  return std::make_unique<HostCopyEngine>(testing::HostCopyEngineOptions{});
}

std::unique_ptr<CopyEngine> NewDefaultCopyEngine() {
  {
    std::lock_guard<std::mutex> lock(g_factory_mu);
    if (g_factory != nullptr) return (*g_factory)();
  }
#ifdef CKPT_HAVE_CUDA
  return NewCudaCopyEngine();
#else
  return NewHostCopyEngine();
#endif
}

namespace testing {

std::unique_ptr<CopyEngine> NewHostCopyEngine(const HostCopyEngineOptions& options) {
  return std::make_unique<HostCopyEngine>(options);
}

ScopedCopyEngineFactory::ScopedCopyEngineFactory(std::function<std::unique_ptr<CopyEngine>()> factory) {
  std::lock_guard<std::mutex> lock(g_factory_mu);
  g_factory = new std::function<std::unique_ptr<CopyEngine>()>(std::move(factory));
}

ScopedCopyEngineFactory::~ScopedCopyEngineFactory() {
  std::lock_guard<std::mutex> lock(g_factory_mu);
  delete g_factory;
  g_factory = nullptr;
}

}  // namespace testing
}  // namespace ckpt
