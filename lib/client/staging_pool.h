// A fixed pool of equal-sized staging slots in host memory: the place a
// snapshot is copied to before the engine hashes, compresses and writes it.
//
// Allocated and pre-faulted once (MapIoMemory: huge pages where the kernel
// allows) and kept for the life of the
// pool: touching fresh memory costs 0.4-1.2 GB/s here against 7.5 GB/s for
// warm memory (../shared/PLATFORM.md), so a checkpoint must never allocate.
//
// Thread safety: Acquire/Release may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "ckpt/status.h"

namespace ckpt {

class StagingPool {
 public:
  static Result<std::unique_ptr<StagingPool>> Create(size_t slot_bytes, size_t slots);
  // The same over shared memory: maps `fd` (a memfd of at least
  // slot_bytes * slots bytes) MAP_SHARED and pre-faulted. Daemon mode: ckptd
  // and the client each map the pool the daemon created. Does not take `fd`.
  static Result<std::unique_ptr<StagingPool>> MapShared(int fd, size_t slot_bytes, size_t slots);
  ~StagingPool();
  StagingPool(const StagingPool&) = delete;
  StagingPool& operator=(const StagingPool&) = delete;

  // Blocks until a slot is free; returns its index. Returns -1 once Close()d.
  int Acquire();
  void Release(int slot);
  // Wakes every waiter; Acquire returns -1 from then on.
  void Close();

  uint8_t* data(int slot) const { return base_ + static_cast<size_t>(slot) * slot_bytes_; }
  // The whole pool, e.g. to pin it for device copies (cudaHostRegister).
  uint8_t* base() const { return base_; }
  size_t total_bytes() const { return slot_bytes_ * slots_; }
  size_t slot_bytes() const { return slot_bytes_; }
  size_t slots() const { return slots_; }
  size_t free_slots() const;

 private:
  StagingPool(uint8_t* base, size_t slot_bytes, size_t slots);
  uint8_t* base_;
  size_t slot_bytes_;
  size_t slots_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> free_;
  bool closed_ = false;
};

}  // namespace ckpt
