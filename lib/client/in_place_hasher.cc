#include "client/in_place_hasher.h"

#include <pthread.h>

#include <utility>

namespace ckpt {

InPlaceHasher::InPlaceHasher() {
  helper_ = std::thread([this] { HelperLoop(); });
}

InPlaceHasher::~InPlaceHasher() {
  Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  helper_.join();
}

void InPlaceHasher::Start(std::vector<Chunk> chunks) {
  chunks_ = std::move(chunks);
  hashes_.assign(chunks_.size(), ChunkHash{});
  if (ready_capacity_ < chunks_.size()) {
    ready_capacity_ = chunks_.size();
    ready_ = std::make_unique<std::atomic<uint32_t>[]>(ready_capacity_);
  }
  for (size_t i = 0; i < chunks_.size(); ++i) ready_[i].store(0, std::memory_order_relaxed);
  next_.store(0, std::memory_order_relaxed);
  stop_.store(false, std::memory_order_relaxed);
  by_helper_.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);  // publishes the batch to the helper
    ++batch_;
    helper_busy_ = chunks_.size() > 1;      // one chunk: nothing to share
  }
  cv_.notify_all();
}

void InPlaceHasher::Hash(size_t i) {
  hashes_[i] = HashChunk(chunks_[i].data, chunks_[i].size);
  ready_[i].store(1, std::memory_order_release);
  ready_[i].notify_all();
}

ChunkHash InPlaceHasher::Get(size_t i) {
  size_t expected = i;
  if (next_.compare_exchange_strong(expected, i + 1, std::memory_order_acq_rel)) {
    Hash(i);  // nobody had claimed it
  } else {
    ready_[i].wait(0, std::memory_order_acquire);  // the helper has it
  }
  return hashes_[i];
}

void InPlaceHasher::Finish() {
  stop_.store(true, std::memory_order_relaxed);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !helper_busy_; });
}

void InPlaceHasher::HelperLoop() {
  pthread_setname_np(pthread_self(), "ckpt-hash");
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return quit_ || (batch_ != seen && helper_busy_); });
    if (quit_) return;
    seen = batch_;
    lock.unlock();
    const size_t n = chunks_.size();
    // Every chunk below next_ has been claimed by exactly one of the two
    // threads: the copier claims only the chunk it needs next (Get), the
    // helper whatever comes after.
    while (!stop_.load(std::memory_order_relaxed)) {
      const size_t i = next_.fetch_add(1, std::memory_order_acq_rel);
      if (i >= n) break;
      Hash(i);
      by_helper_.fetch_add(1, std::memory_order_relaxed);
    }
    lock.lock();
    helper_busy_ = false;
    cv_.notify_all();
  }
}

}  // namespace ckpt
