// ckpt/client.h: the API a training loop links.
//
//   ckpt::Options opt;  opt.store_dir = "/ckpt";  opt.job = "run7";
//   auto client = ckpt::Client::Open(opt).value();
//   client->protect("weights", w.data(), w.size() * 4, ckpt::ElementType::kFloat32);
//   if (auto s = client->restore(); s.ok()) step = *s + 1;      // resume if possible
//   for (; step < steps; ++step) {
//     ... forward, backward ...
//     if (ticket) ticket->wait_copied();          // the guard: snapshot is in staging
//     optimizer_update();
//     if (client->should_checkpoint(step)) ticket = client->checkpoint(step).value();
//   }
//   client->flush();                               // everything durable
//
// Consistency: a checkpoint holds the bytes of every protected region as of
// the call to checkpoint(). The copy runs on engine threads after the call
// returns; the caller must not modify a protected region until the ticket's
// wait_copied() has returned. Reading the regions meanwhile is fine.
//
// Incremental checkpoints: host-memory chunks are hashed in place (XXH3-128)
// and compared with the newest checkpoint this client committed or
// restored; a chunk that matches is referenced, neither copied to staging
// nor written. That hash is the region's bytes as the checkpoint records
// them, which is why the caller must leave the regions alone until
// wait_copied() (or guard()) returns. Likewise, with compression on, a host
// chunk whose bytes are all the same (zeros, mostly) is recognized in place
// and stored from its byte value, not copied. Device regions are always
// copied.
//
// CUDA (builds with the CUDA backend, GetBuildInfo().cuda_backend): regions
// may also live in device, pinned host or managed memory; protect() detects
// the kind. A training loop on a stream uses the stream-ordered form:
//
//   client->protect("weights", d_weights, bytes, ckpt::ElementType::kFloat32);
//   for (; step < steps; ++step) {
//     forward_backward<<<..., stream>>>(...);
//     if (ticket) ticket->guard(stream);          // stream waits, host does not
//     adam_update<<<..., stream>>>(...);
//     if (client->should_checkpoint(step))
//       ticket = client->checkpoint(step, stream).value();
//   }
//
//   - checkpoint(step, stream) records an event on `stream` and returns: the
//     snapshot is the bytes of every region as of the point `stream` reaches
//     then (all work enqueued on `stream` before the call is included). A
//     dedicated non-blocking copy stream per device waits on that event and
//     copies device and managed regions chunk by chunk into pinned staging
//     memory; the engine hashes, compresses and writes each chunk as soon as
//     its copy completes, while later chunks are still in flight. The call
//     never synchronizes the host with the GPU.
//   - ticket.guard(stream) makes `stream` wait (cudaStreamWaitEvent) until the
//     copy of every device/managed region has completed, so work enqueued on
//     `stream` after guard() (the optimizer update) never overwrites bytes not
//     yet copied. It does not wait for the copy on the host.
//   - guard() returns at once when the copier has issued every chunk of the
//     checkpoint, which is the case whenever the staging pool can hold the
//     whole checkpoint (staging_bytes >= protected bytes) and the previous
//     checkpoint's copy has finished. With a smaller pool the chunks flow
//     through it in order, and guard() waits on the host until the copier has
//     issued the last chunk, i.e. until all but the last pool-full of bytes
//     have been copied and consumed by the engine.
//   - Host-resident regions (pageable or pinned host memory) are copied by
//     the copier thread with memcpy once `stream` has reached the checkpoint's
//     event; they are already copied when guard() returns, so host code may
//     write them from then on. With such regions and a stream, guard() may
//     therefore wait on the host for `stream` to reach that event. Training
//     state belongs in device memory; host regions are for small extras.
//   - Without guard(), work on other streams, or host code, that writes a
//     region must be ordered after the copy by other means (wait_copied()).
//   - checkpoint(step) is checkpoint(step, nullptr): for device and managed
//     regions, nullptr means the legacy default stream. With only host
//     regions and a null stream, no CUDA call is made and the host contract
//     above applies.
//   On host-only builds checkpoint(step, stream) and guard(stream) exist too:
//   `stream` must be null (kInvalidArgument otherwise); guard(nullptr) then
//   waits on the host like wait_copied().
//
// Thread safety: a Client may be used from several threads; calls are
// serialized internally. Tickets are cheap shared handles, usable from any
// thread.
//
// Ownership: the client never owns region memory; a region must stay valid
// until the client is destroyed or no checkpoint in flight refers to it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/options.h"
#include "ckpt/status.h"
#include "ckpt/store.h"
#include "ckpt/types.h"

// A CUDA stream (cudaStream_t is CUstream_st*). Declared here so that this
// header compiles without the CUDA headers.
struct CUstream_st;

namespace ckpt {

class Store;
class DaemonSession;

// A protected region as the client sees it.
struct ProtectedRegion {
  std::string name;
  size_t bytes = 0;
  ElementType type = ElementType::kBytes;
  MemoryKind memory = MemoryKind::kHost;  // detected by protect()
  int device = -1;  // CUDA device ordinal of device/managed memory; -1 otherwise
  std::optional<Shape> shape;  // as given to protect(); none when not given
};

// Largest user-state blob one checkpoint may carry (see Client::checkpoint).
inline constexpr size_t kMaxUserStateBytes = size_t{16} << 20;

// What one committed checkpoint cost, filled in once it is durable.
struct CheckpointStats {
  uint64_t logical_bytes = 0;  // bytes of all regions
  uint64_t written_bytes = 0;  // bytes newly stored (after dedup and compression)
  uint64_t chunks = 0;         // chunks referenced
  uint64_t new_chunks = 0;     // chunks stored by this checkpoint
  double copy_seconds = 0;     // checkpoint() call until the snapshot was staged
  double durable_seconds = 0;  // checkpoint() call until committed
};

// Handle on one requested checkpoint. Copyable; all copies see the same state.
class Ticket {
 public:
  struct State;
  explicit Ticket(std::shared_ptr<State> state);

  uint64_t step() const;

  // Blocks until every protected region has been copied into staging memory
  // (or the checkpoint failed before that). After it returns, the caller may
  // modify the regions again. Returns the checkpoint's error, if any.
  Status wait_copied() const;

  // The stream-ordered guard (see "CUDA" at the top of this file): makes
  // `stream` wait for the copy of every device/managed region of this
  // checkpoint without blocking the host; host-resident regions are copied
  // when it returns. Returns the checkpoint's error if it failed before its
  // copy was issued (later copy failures are reported by wait_copied(),
  // wait_durable() and status()), kInvalidArgument for a non-null stream on a
  // build without the CUDA backend, or the CUDA error of cudaStreamWaitEvent.
  // guard(nullptr) blocks the host like wait_copied(): copied() is true after it.
  Status guard(CUstream_st* stream = nullptr) const;

  // Blocks until the checkpoint is committed (visible to restore and tools)
  // or has failed. A failed checkpoint leaves earlier checkpoints intact.
  Status wait_durable() const;

  bool copied() const;
  bool durable() const;
  bool finished() const;  // durable or failed

  // OK while in flight or once durable; the error once failed.
  Status status() const;

  // Meaningful once durable().
  CheckpointStats stats() const;

 private:
  std::shared_ptr<State> state_;
};

class Client {
 public:
  // Opens (and creates, unless options.store.create_if_missing is false) the
  // store and starts the engine threads. Errors: kInvalidArgument for bad
  // options, kBusy when another process writes the store, kIOError/kNoSpace
  // for the filesystem, kCorruption/kUnsupported for a damaged or foreign store.
  static Result<std::unique_ptr<Client>> Open(const Options& options);

  // Waits for checkpoints in flight (see flush()) and stops the engine.
  ~Client();

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Registers a region under a unique name. bytes must be a multiple of the
  // element size. May be called any time no checkpoint is in flight; regions
  // are matched by name on restore. With the CUDA backend the region may be
  // device, pinned host, pageable host or managed memory (detected here; the
  // whole region must be one kind); the first device or managed region pins
  // the staging pool (cudaHostRegister, once for the client's life).
  Status protect(const std::string& name, void* data, size_t bytes, ElementType type);

  // The same, recording the region's tensor shape in every checkpoint
  // (RegionInfo::shape; `ckpt export --format safetensors` writes it). The
  // shape's elements times the element size must equal `bytes`
  // (kInvalidArgument otherwise, also for a rank above kMaxShapeRank). On
  // restore, a region whose checkpoint recorded a different shape is refused
  // (kFailedPrecondition); one saved without a shape restores by size and type.
  Status protect(const std::string& name, void* data, size_t bytes, ElementType type,
                 const Shape& shape);

  // The protected regions, in the order they were protected.
  std::vector<ProtectedRegion> regions() const;

  // Asks for a checkpoint of every protected region and returns at once.
  // Steps need not be consecutive; a checkpoint with a step that already
  // exists replaces it once committed. Errors: kFailedPrecondition when no
  // region is protected; later failures (disk full, ...) are reported
  // through the ticket and leave earlier checkpoints intact.
  Result<Ticket> checkpoint(uint64_t step);

  // The stream-ordered checkpoint (see "CUDA" at the top of this file): the
  // snapshot is taken where `stream` stands when the call is made; the call
  // records an event on `stream`, enqueues nothing else on it and returns
  // without synchronizing. Errors at the call as above, plus
  // kInvalidArgument for a non-null stream on a build without the CUDA
  // backend and kFailedPrecondition when CUDA is needed but no device is
  // usable ("no CUDA device: ...").
  Result<Ticket> checkpoint(uint64_t step, CUstream_st* stream);

  // The same, with a user-state blob stored in this checkpoint's manifest:
  // the small non-tensor state that must resume with the tensors (step, RNG
  // states, LR-scheduler state, data-loader position; the Python package
  // stores JSON). The bytes are copied during the call; they are committed
  // atomically with the checkpoint and read back by restored_user_state()
  // after restore() and by Store::Get / List (CheckpointInfo::user_state).
  // A checkpoint taken without it carries an empty blob. Errors as above,
  // plus kInvalidArgument when user_state exceeds kMaxUserStateBytes.
  Result<Ticket> checkpoint(uint64_t step, CUstream_st* stream, std::string user_state);

  // Fills every protected region from checkpoint `step` (default: the newest
  // committed one) and returns the step restored. Host regions are decoded in
  // place; device and managed regions are decoded into pinned staging slots
  // and copied to the device chunk by chunk, the copy of one chunk
  // overlapping the read and decompression of the next. The copies have
  // completed when restore() returns. When the newest checkpoint
  // is damaged and no step was named, falls back to the newest intact one
  // (reported on stderr). The set of regions, their sizes and element types
  // must match the checkpoint's. kNotFound when there is no checkpoint.
  // Waits for checkpoints in flight first.
  Result<uint64_t> restore(std::optional<uint64_t> step = std::nullopt);

  // The user-state blob of the checkpoint the last successful restore() read
  // (empty when it carried none); empty before any restore.
  std::string restored_user_state() const;

  // Newest committed step of this job, if any.
  std::optional<uint64_t> latest_step() const;

  // What the store holds for this job's checkpoint `step` (Store::Get: sizes,
  // regions with their shapes, user state); kNotFound when it has none. In
  // daemon mode, where store() is null, the daemon answers.
  Result<CheckpointInfo> info(uint64_t step) const;

  // True when it is time to checkpoint at `step`. Call it once per step, at
  // the same point of every step: its calls are the step boundaries from
  // which the client measures the step time and the checkpoint cost C (how
  // much longer the steps overlapping a checkpoint took than clean steps),
  // and, after a restore, the restart cost R; it saves them in the job's
  // profile in the store (Store::GetJobProfile). With
  // Options::checkpoint_every_steps: every that many steps. With
  // Options::interval_policy: once the policy's interval (seconds, from the
  // job's failure history and measured C and R) has passed since the last
  // checkpoint, converted to steps with the measured step time; false until
  // the step time is known (two calls). Neither: false.
  bool should_checkpoint(uint64_t step) const;

  // Waits until every requested checkpoint is durable or failed; returns the
  // first failure among them since the last flush().
  Status flush();

  const Options& options() const;

  // The store this client writes, shared: list, verify, read or gc it while
  // checkpoints are written (gc waits for a checkpoint in flight to commit).
  // Null in daemon mode (Options::daemon_socket): the daemon writes the store.
  std::shared_ptr<Store> store() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  explicit Client(std::unique_ptr<DaemonSession> daemon);
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<DaemonSession> daemon_;  // daemon mode (client/daemon_session.h); impl_ is null then
};

}  // namespace ckpt
