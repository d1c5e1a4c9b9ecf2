// Internal hooks for tests (not part of the public API; lib/include/ckpt is).
//
// The host copy engine can complete copies LATE and OUT OF ORDER: a worker
// thread takes the pending copies in a random (seeded) order after random
// delays, so that every ordering rule of the client's pipeline -- the guard,
// per-chunk completion, staging-slot reuse, the copier serializing
// checkpoints, the end marker after the last chunk, the restore pipeline --
// is exercised on machines without a GPU.
//
//   ckpt::testing::HostCopyEngineOptions eo;
//   eo.late = true;  eo.seed = 7;  eo.simulate_device = true;
//   ckpt::testing::ScopedCopyEngineFactory use([eo] { return ckpt::testing::NewHostCopyEngine(eo); });
//   auto client = ckpt::Client::Open(options);   // uses the late engine
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "client/copy_engine.h"

namespace ckpt::testing {

// Counters a late host engine keeps (shared with the test).
struct HostCopyEngineStats {
  std::atomic<uint64_t> to_staging{0};       // CopyToStaging calls
  std::atomic<uint64_t> from_staging{0};     // CopyFromStaging calls
  std::atomic<uint64_t> out_of_order{0};     // copies completed before an earlier-issued one
  std::atomic<uint64_t> max_pending{0};      // most copies queued at once
  std::atomic<uint64_t> failed{0};           // injected failures
  std::atomic<uint64_t> pinned_bytes{0};     // bytes passed to PinStaging
  std::atomic<uint64_t> fences_waited{0};    // CopyFence::OrderAfter calls
};

struct HostCopyEngineOptions {
  // Complete copies on a worker thread, in random order, after random delays
  // of up to max_delay_us each. false: memcpy on the calling thread.
  bool late = false;
  uint64_t seed = 1;
  uint32_t max_delay_us = 200;
  // Report every region as device memory of device 0: checkpoints then mark
  // snapshot points, pin the staging pool, and restore goes through staging
  // (the device path of the client), all with host memory.
  bool simulate_device = false;
  // When set and it returns true for n (0-based count of CopyToStaging calls),
  // that copy fails with kIOError without copying.
  std::function<bool(uint64_t n)> fail_copy_to_staging;
  // Optional counters.
  std::shared_ptr<HostCopyEngineStats> stats;
};

std::unique_ptr<CopyEngine> NewHostCopyEngine(const HostCopyEngineOptions& options);

// While alive, Client::Open in this process builds its copy engine with
// `factory` instead of the default one. Not nestable; not thread-safe against
// concurrent Client::Open calls.
class ScopedCopyEngineFactory {
 public:
  explicit ScopedCopyEngineFactory(std::function<std::unique_ptr<CopyEngine>()> factory);
  ~ScopedCopyEngineFactory();
  ScopedCopyEngineFactory(const ScopedCopyEngineFactory&) = delete;
  ScopedCopyEngineFactory& operator=(const ScopedCopyEngineFactory&) = delete;
};

}  // namespace ckpt::testing
