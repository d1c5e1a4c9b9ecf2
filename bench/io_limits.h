// The references `ckpt-bench io` measures the engine against, in the same
// run and on the same filesystem: what this disk can do at best (io_uring,
// O_DIRECT, 4 MiB blocks, queue depth 16) and what a naive synchronous save
// (write() + fsync from the calling thread) costs a training loop.
//
// Errors are thrown as std::runtime_error naming the file and errno text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::bench {

// A piece of memory to write (page-aligned base; any size).
struct Span {
  const uint8_t* data = nullptr;
  size_t bytes = 0;
};

struct LimitResult {
  double seconds = 0;
  bool direct_io = false;  // false: the filesystem refused O_DIRECT (tmpfs), buffered instead
};

// Writes `spans` back to back to `path` (created, truncated) with io_uring:
// 4 MiB blocks, `queue_depth` in flight, O_DIRECT where allowed, then
// fdatasync. Times open to fdatasync.
LimitResult UringWriteLimit(const std::string& path, const std::vector<Span>& spans,
                            unsigned queue_depth = 16);

// Reads `path` back likewise (4 MiB blocks, queue depth 16, O_DIRECT) into
// a ring of aligned buffers; the bytes are not used: this is the disk's speed.
LimitResult UringReadLimit(const std::string& path, unsigned queue_depth = 16);

// write() of `spans` in 4 MiB calls and fsync, on the calling thread.
double NaiveWriteFsync(const std::string& path, const std::vector<Span>& spans);

// Drops `path` from the page cache (fdatasync + posix_fadvise DONTNEED).
// Returns false when the kernel refused.
bool DropFileCache(const std::string& path);

// echo 1 > /proc/sys/vm/drop_caches after sync(); false when not permitted.
bool DropAllCaches();

}  // namespace ckpt::bench
