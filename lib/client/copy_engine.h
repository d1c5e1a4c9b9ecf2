// The seam between the client and the memory its regions live in.
//
// A copy engine moves bytes between region memory and the staging pool. Two
// implementations plug in unchanged:
//   - host (host_copy_engine.cc): memcpy. A testing mode completes copies late
//     and out of order on a worker thread, so that every ordering rule the
//     client relies on (below) is exercised on machines without a GPU
//     (client/testing_hooks.h).
//   - CUDA (cuda_copy_engine.cc, builds with CKPT_HAVE_CUDA): a non-blocking
//     copy stream per device, one event per chunk, a completion thread.
//
// The contract the client relies on, per checkpoint:
//   1. Mark(stream) on the caller's thread, inside checkpoint(): records the
//      snapshot point on the caller's stream. Must not block.
//   2. On the copier thread: BeginSnapshot(point); then CopyToStaging for every
//      chunk, in region order; then EndSnapshot(), which returns a fence.
//      The next checkpoint's BeginSnapshot comes only after every `done` of
//      this one has run.
//   3. `done` of each copy is called exactly once, from any thread (possibly
//      before CopyToStaging returns), in any order. A staging slot is owned
//      by the copy until its `done` runs.
//   4. The fence completes once every copy issued before EndSnapshot has
//      completed; it can complete before their `done` callbacks have run.
//      CopyFence::OrderAfter(stream) orders `stream` after the fence (CUDA:
//      cudaStreamWaitEvent, no host wait); on a host engine the stream must
//      be null and the call blocks until the fence completes.
//
// Thread safety: Locate, PinStaging, Mark and CopyFromStaging are called from
// client threads holding the client's lock; BeginSnapshot, CopyToStaging and
// EndSnapshot from the copier thread. Engines must tolerate Mark running
// concurrently with the copier's calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "ckpt/client.h"
#include "ckpt/status.h"
#include "ckpt/types.h"
#include "engine/chunk_hash.h"

namespace ckpt {

// Where a region's bytes live.
struct MemoryLocation {
  MemoryKind kind = MemoryKind::kHost;
  int device = -1;  // CUDA device ordinal for kDevice/kManaged, -1 otherwise
};

// The point in the caller's work a snapshot is taken at (engine-defined;
// null when the snapshot is simply "now" on the host).
class SnapshotPoint {
 public:
  virtual ~SnapshotPoint() = default;
};

// Completes once every copy issued before it has completed.
class CopyFence {
 public:
  virtual ~CopyFence() = default;
  // Orders `stream` after the fence. CUDA: cudaStreamWaitEvent, no host wait
  // (a null stream is the legacy default stream). Host engines: the stream
  // must be null; blocks until the fence completes.
  virtual Status OrderAfter(CUstream_st* stream) = 0;
};

class CopyEngine {
 public:
  using Done = std::function<void(Status)>;
  virtual ~CopyEngine() = default;

  // What kind of memory [p, p + bytes) is. Errors when the range is not one
  // kind of memory.
  virtual Result<MemoryLocation> Locate(const void* p, size_t bytes) = 0;

  // Pins the staging pool [base, base + bytes) for fast device copies; called
  // once, when the first device or managed region is protected. The engine
  // unpins it when it is destroyed (before the pool is unmapped).
  virtual Status PinStaging(void* base, size_t bytes) = 0;

  // The caller's thread, inside checkpoint(step, stream): marks the snapshot
  // point. `device_regions`: some region is device or managed memory.
  // Returns null when there is nothing to wait for on the copier side.
  virtual Result<std::shared_ptr<SnapshotPoint>> Mark(CUstream_st* stream, bool device_regions) = 0;

  // Copier thread, before the first copy of a checkpoint.
  virtual Status BeginSnapshot(std::shared_ptr<SnapshotPoint> point) = 0;

  // Starts copying `size` bytes of region memory at `src` (of kind `where`)
  // into staging memory at `dst`. `done` is called exactly once, from any
  // thread, when the bytes are in `dst` (or the copy failed).
  // `digest`: null, or where the engine may put the ChunkDigest of the bytes
  // now in `dst` before it calls `done`. Engines that copy with the CPU do
  // (CopyAndDigest: the hashes read each block from cache right after
  // copying it, which saves the writer a pass over memory); device copies
  // leave it empty. The caller owns it until `done` has run.
  virtual void CopyToStaging(const void* src, MemoryLocation where, void* dst, size_t size,
                             std::optional<ChunkDigest>* digest, Done done) = 0;

  // Copier thread, after the last copy of a checkpoint: the fence over every
  // copy issued so far.
  virtual Result<std::shared_ptr<CopyFence>> EndSnapshot() = 0;

  // Restore: starts copying `size` bytes of staging memory at `src` into
  // region memory at `dst` (of kind `where`); `done` as for CopyToStaging.
  virtual void CopyFromStaging(const void* src, void* dst, MemoryLocation where, size_t size,
                               Done done) = 0;

  // True when the host can write memory of this kind directly (restore then
  // decodes straight into the region instead of going through staging).
  virtual bool host_addressable(MemoryLocation where) const = 0;

  // Whether checkpoint(step, stream) and guard(stream) accept non-null streams.
  virtual bool accepts_streams() const = 0;

  virtual std::string_view name() const = 0;
};

// memcpy on the calling thread; `done` runs before the call returns.
std::unique_ptr<CopyEngine> NewHostCopyEngine();

#ifdef CKPT_HAVE_CUDA
// The CUDA engine. Without a usable GPU (cudaGetDeviceCount fails or finds
// none) every region is host memory and it behaves like the host engine.
std::unique_ptr<CopyEngine> NewCudaCopyEngine();
#endif

// The engine Client::Open uses: the testing override if one is installed
// (client/testing_hooks.h), else CUDA where built, else host.
std::unique_ptr<CopyEngine> NewDefaultCopyEngine();

}  // namespace ckpt
