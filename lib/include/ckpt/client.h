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
#include "ckpt/types.h"

namespace ckpt {

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

  // Registers a region of host memory under a unique name. bytes must be a
  // multiple of the element size. May be called any time no checkpoint is in
  // flight; regions are matched by name on restore.
  Status protect(const std::string& name, void* data, size_t bytes, ElementType type);

  // Asks for a checkpoint of every protected region and returns at once.
  // Steps need not be consecutive; a checkpoint with a step that already
  // exists replaces it once committed. Errors: kFailedPrecondition when no
  // region is protected; later failures (disk full, ...) are reported
  // through the ticket and leave earlier checkpoints intact.
  Result<Ticket> checkpoint(uint64_t step);

  // Fills every protected region from checkpoint `step` (default: the newest
  // committed one) and returns the step restored. When the newest checkpoint
  // is damaged and no step was named, falls back to the newest intact one
  // (reported on stderr). The set of regions, their sizes and element types
  // must match the checkpoint's. kNotFound when there is no checkpoint.
  // Waits for checkpoints in flight first.
  Result<uint64_t> restore(std::optional<uint64_t> step = std::nullopt);

  // Newest committed step of this job, if any.
  std::optional<uint64_t> latest_step() const;

  // True when the configured policy says to checkpoint after `step`
  // (here: every Options::checkpoint_every_steps steps).
  bool should_checkpoint(uint64_t step) const;

  // Waits until every requested checkpoint is durable or failed; returns the
  // first failure among them since the last flush().
  Status flush();

  const Options& options() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ckpt
