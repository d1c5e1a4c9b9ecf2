#include "client/staging_pool.h"

#include <sys/mman.h>

#include <cerrno>

#include "util/file_util.h"
#include "util/io_memory.h"

namespace ckpt {

Result<std::unique_ptr<StagingPool>> StagingPool::Create(size_t slot_bytes, size_t slots) {
  if (slot_bytes == 0 || slots == 0) return Status::InvalidArgument("empty staging pool");
  auto p = MapIoMemory(slot_bytes * slots, "staging memory");
  if (!p.ok()) return p.status();
  return std::unique_ptr<StagingPool>(new StagingPool(*p, slot_bytes, slots));
}

Result<std::unique_ptr<StagingPool>> StagingPool::MapShared(int fd, size_t slot_bytes, size_t slots) {
  if (slot_bytes == 0 || slots == 0) return Status::InvalidArgument("empty staging pool");
  void* p = ::mmap(nullptr, slot_bytes * slots, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED)
    return ErrnoStatus("map " + std::to_string(slot_bytes * slots) + " bytes of shared staging memory",
                       errno);
  return std::unique_ptr<StagingPool>(new StagingPool(static_cast<uint8_t*>(p), slot_bytes, slots));
}

StagingPool::StagingPool(uint8_t* base, size_t slot_bytes, size_t slots)
    : base_(base), slot_bytes_(slot_bytes), slots_(slots) {
  for (size_t i = slots; i-- > 0;) free_.push_back(static_cast<int>(i));
}

StagingPool::~StagingPool() { ::munmap(base_, slot_bytes_ * slots_); }

int StagingPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return closed_ || !free_.empty(); });
  if (closed_) return -1;
  int slot = free_.back();
  free_.pop_back();
  return slot;
}

void StagingPool::Release(int slot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(slot);
  }
  cv_.notify_one();
}

void StagingPool::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

size_t StagingPool::free_slots() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_.size();
}

}  // namespace ckpt
