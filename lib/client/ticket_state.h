// Ticket::State: the shared progress record of one requested checkpoint.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "ckpt/client.h"

namespace ckpt {

struct Ticket::State {
  explicit State(uint64_t s) : step(s), requested(std::chrono::steady_clock::now()) {}

  void SetCopied();
  void SetDurable(const CheckpointStats& stats);
  void Fail(const Status& error);  // also ends the wait for copied

  const uint64_t step;
  const std::chrono::steady_clock::time_point requested;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  bool copied = false;
  bool durable = false;
  bool failed = false;
  Status error;
  CheckpointStats stats;
  double copy_seconds = 0;
};

}  // namespace ckpt
