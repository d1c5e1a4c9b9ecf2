// Ticket::State: the shared progress record of one requested checkpoint.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "ckpt/client.h"
#include "client/copy_engine.h"

namespace ckpt {

struct Ticket::State {
  State(uint64_t s, bool streams)
      : step(s), accepts_streams(streams), requested(std::chrono::steady_clock::now()) {}

  // The copier issued every copy of the checkpoint; `fence` completes with
  // the last of them (null when the copy failed before it was all issued).
  void SetIssued(std::shared_ptr<CopyFence> fence);
  void SetCopied();
  void SetDurable(const CheckpointStats& stats);
  void Fail(const Status& error);  // also ends the wait for copied

  const uint64_t step;
  const bool accepts_streams;  // the copy engine takes CUDA streams
  const std::chrono::steady_clock::time_point requested;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  bool issued = false;
  std::shared_ptr<CopyFence> fence;
  bool copied = false;
  bool durable = false;
  bool failed = false;
  Status error;
  CheckpointStats stats;
  double copy_seconds = 0;
};

}  // namespace ckpt
