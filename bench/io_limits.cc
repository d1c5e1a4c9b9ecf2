#include "io_limits.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "util/io_memory.h"

namespace ckpt::bench {
namespace {

constexpr size_t kBlock = size_t{4} << 20;
constexpr size_t kAlign = 4096;

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void Fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err));
}

// Aligned, pre-faulted buffers for O_DIRECT: the engine's kind of memory
// (huge pages where the kernel allows), so the reference is the best this
// disk can do, not a handicapped one.
class AlignedBuffers {
 public:
  AlignedBuffers(size_t count, size_t bytes) : bytes_(count * bytes), each_(bytes) {
    auto p = MapIoMemory(bytes_, "reference I/O buffers");
    if (!p.ok()) throw std::runtime_error(p.status().ToString());
    base_ = *p;
  }
  ~AlignedBuffers() { ::munmap(base_, bytes_); }
  uint8_t* at(size_t i) const { return base_ + i * each_; }

 private:
  uint8_t* base_ = nullptr;
  size_t bytes_, each_;
};

class Ring {
 public:
  explicit Ring(unsigned depth) {
    const int rc = io_uring_queue_init(depth, &ring_, 0);
    if (rc < 0) Fail("io_uring_queue_init", -rc);
  }
  ~Ring() { io_uring_queue_exit(&ring_); }
  io_uring* get() { return &ring_; }

  // Waits for one completion; returns (tag, result).
  std::pair<uint64_t, int> Wait(const std::string& path) {
    io_uring_cqe* cqe = nullptr;
    int rc;
    do rc = io_uring_wait_cqe(&ring_, &cqe);
    while (rc == -EINTR);
    if (rc < 0) Fail("io_uring_wait_cqe " + path, -rc);
    std::pair<uint64_t, int> out{io_uring_cqe_get_data64(cqe), cqe->res};
    io_uring_cqe_seen(&ring_, cqe);
    return out;
  }

 private:
  io_uring ring_{};
};

int OpenMaybeDirect(const std::string& path, int flags, bool* direct) {
  int fd = ::open(path.c_str(), flags | O_DIRECT | O_CLOEXEC, 0644);
  *direct = fd >= 0;
  if (fd < 0 && errno == EINVAL) fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) Fail("open " + path, errno);
  return fd;
}

}  // namespace

LimitResult UringWriteLimit(const std::string& path, const std::vector<Span>& spans, unsigned queue_depth) {
  // Blocks: 4 MiB pieces of the spans, written straight from their memory. A
  // piece not aligned for O_DIRECT (a span's tail) goes through an aligned
  // bounce buffer, zero-padded to 4 KiB.
  struct Block {
    const uint8_t* src;
    size_t bytes;  // to write (padded when bounced)
    uint64_t offset;
    size_t done = 0;
    int bounce = -1;
  };
  std::vector<Block> blocks;
  uint64_t offset = 0;
  for (const Span& s : spans) {
    for (size_t off = 0; off < s.bytes; off += kBlock) {
      const size_t n = std::min(kBlock, s.bytes - off);
      blocks.push_back({s.data + off, n, offset});
      offset += n;
    }
    offset = (offset + kAlign - 1) / kAlign * kAlign;  // each span starts aligned
  }
  AlignedBuffers bounce(queue_depth, kBlock);
  std::vector<int> bounce_free;
  for (unsigned i = 0; i < queue_depth; ++i) bounce_free.push_back(static_cast<int>(i));

  LimitResult r;
  const auto t0 = Clock::now();
  const int fd = OpenMaybeDirect(path, O_WRONLY | O_CREAT | O_TRUNC, &r.direct_io);
  Ring ring(queue_depth);
  auto submit = [&](size_t i) {
    Block& b = blocks[i];
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    io_uring_prep_write(sqe, fd, b.src + b.done, static_cast<unsigned>(b.bytes - b.done), b.offset + b.done);
    io_uring_sqe_set_data64(sqe, i);
    const int rc = io_uring_submit(ring.get());
    if (rc < 0) Fail("io_uring_submit " + path, -rc);
  };
  size_t next = 0, in_flight = 0;
  while (next < blocks.size() || in_flight > 0) {
    while (next < blocks.size() && in_flight < queue_depth) {
      Block& b = blocks[next];
      const bool aligned = reinterpret_cast<uintptr_t>(b.src) % kAlign == 0 && b.bytes % kAlign == 0;
      if (r.direct_io && !aligned) {
        b.bounce = bounce_free.back();
        bounce_free.pop_back();
        uint8_t* buf = bounce.at(static_cast<size_t>(b.bounce));
        std::memcpy(buf, b.src, b.bytes);
        const size_t len = (b.bytes + kAlign - 1) / kAlign * kAlign;
        std::memset(buf + b.bytes, 0, len - b.bytes);
        b.src = buf;
        b.bytes = len;
      }
      submit(next++);
      ++in_flight;
    }
    auto [i, res] = ring.Wait(path);
    Block& b = blocks[i];
    if (res < 0) Fail("write " + path, -res);
    if (res == 0) throw std::runtime_error("write " + path + ": no progress");
    b.done += static_cast<size_t>(res);
    if (b.done < b.bytes) {  // short write: the rest
      submit(i);
      continue;
    }
    --in_flight;
    if (b.bounce >= 0) bounce_free.push_back(b.bounce);
  }
  // The file: the spans, each at a 4 KiB-aligned offset, tails zero-padded.
  if (::fdatasync(fd) != 0) Fail("fdatasync " + path, errno);
  r.seconds = Since(t0);
  ::close(fd);
  return r;
}

LimitResult UringReadLimit(const std::string& path, unsigned queue_depth) {
  LimitResult r;
  AlignedBuffers buffers(queue_depth, kBlock);
  const auto t0 = Clock::now();
  const int fd = OpenMaybeDirect(path, O_RDONLY, &r.direct_io);
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) Fail("lseek " + path, errno);
  Ring ring(queue_depth);
  std::vector<size_t> free_slots;
  for (unsigned i = 0; i < queue_depth; ++i) free_slots.push_back(i);
  uint64_t offset = 0;
  size_t in_flight = 0;
  std::vector<uint64_t> slot_offset(queue_depth), slot_done(queue_depth), slot_len(queue_depth);
  auto submit = [&](size_t slot) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    io_uring_prep_read(sqe, fd, buffers.at(slot) + slot_done[slot],
                       static_cast<unsigned>(slot_len[slot] - slot_done[slot]), slot_offset[slot] + slot_done[slot]);
    io_uring_sqe_set_data64(sqe, slot);
    const int rc = io_uring_submit(ring.get());
    if (rc < 0) Fail("io_uring_submit " + path, -rc);
    ++in_flight;
  };
  uint64_t total = 0;
  while (offset < static_cast<uint64_t>(size) || in_flight > 0) {
    while (offset < static_cast<uint64_t>(size) && !free_slots.empty()) {
      const size_t slot = free_slots.back();
      free_slots.pop_back();
      slot_offset[slot] = offset;
      slot_done[slot] = 0;
      slot_len[slot] = std::min<uint64_t>(kBlock, static_cast<uint64_t>(size) - offset);
      offset += kBlock;
      submit(slot);
    }
    auto [slot, res] = ring.Wait(path);
    --in_flight;
    if (res < 0) Fail("read " + path, -res);
    if (res == 0) throw std::runtime_error("read " + path + ": unexpected end of file");
    slot_done[slot] += static_cast<uint64_t>(res);
    total += static_cast<uint64_t>(res);
    if (slot_done[slot] < slot_len[slot]) {  // short read: the rest
      submit(slot);
      continue;
    }
    free_slots.push_back(slot);
  }
  if (total != static_cast<uint64_t>(size)) throw std::runtime_error("read " + path + ": wrong byte count");
  r.seconds = Since(t0);
  ::close(fd);
  return r;
}

double NaiveWriteFsync(const std::string& path, const std::vector<Span>& spans) {
  const auto t0 = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Fail("open " + path, errno);
  for (const Span& s : spans)
    for (size_t off = 0; off < s.bytes;) {
      const ssize_t n = ::write(fd, s.data + off, std::min(kBlock, s.bytes - off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) Fail("write " + path, n < 0 ? errno : EIO);
      off += static_cast<size_t>(n);
    }
  if (::fsync(fd) != 0) Fail("fsync " + path, errno);
  const double s = Since(t0);
  ::close(fd);
  return s;
}

bool DropFileCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  (void)::fdatasync(fd);
  const bool ok = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return ok;
}

bool DropAllCaches() {
  ::sync();
  const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "1", 1) == 1;
  ::close(fd);
  return ok;
}

}  // namespace ckpt::bench
