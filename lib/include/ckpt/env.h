// ckpt/env.h: the filesystem seam of a store.
//
// Every write a store makes to its segment files, and every directory sync
// and file removal, goes through an Env. The default Env uses io_uring on the
// real filesystem. Tests wrap it to inject faults: failing the Nth write or
// sync with ENOSPC or EIO, short writes, a crash at a chosen operation, or a
// "power loss" that drops everything not yet synced (see
// tests/fault_injection_env.h). The catalog (RocksDB) does its own I/O and
// makes every commit durable with a synced write-ahead log.
//
// Thread safety: an Env may be used from several threads at once. A
// WritableSegmentFile is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "ckpt/status.h"

namespace ckpt {

// A new file written with positional, asynchronous writes.
class WritableSegmentFile {
 public:
  virtual ~WritableSegmentFile() = default;

  // One piece of a write: `size` bytes at `data`.
  struct Slice {
    const uint8_t* data = nullptr;
    size_t size = 0;
  };
  static constexpr size_t kMaxSlices = 2;

  // Queues one write of the bytes of `slices` (1 to kMaxSlices of them, one
  // after the other in the file) at file offset `offset`: a gathered write,
  // one I/O. The slices' bytes must stay valid and unchanged until the
  // write's completion has been returned by WaitCompletion or
  // PollCompletion; the span itself only for the call. At most the queue
  // depth given at creation may be in flight.
  virtual Status SubmitWrite(std::span<const Slice> slices, uint64_t offset, uint64_t tag) = 0;

  struct Completion {
    uint64_t tag = 0;
    int64_t result = 0;  // bytes written (possibly fewer than asked), or -errno
  };
  // Blocks until one queued write completes.
  virtual Result<Completion> WaitCompletion() = 0;

  // A completed write if one is ready, without blocking; nullopt otherwise.
  // Used to see how much work the disk still has queued (compression paces
  // itself by it). The default reports none ready, so an Env that does not
  // override it makes every queued write look in flight until it is waited
  // for.
  virtual Result<std::optional<Completion>> PollCompletion() {
    return std::optional<Completion>();
  }

  // fdatasync: every completed write is on stable storage afterwards.
  virtual Status DataSync() = 0;

  virtual Status Close() = 0;

  // True when the file was opened with O_DIRECT (offsets, sizes and buffers
  // must then be 4 KiB aligned).
  virtual bool direct_io() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The real filesystem with io_uring. Never deleted.
  static Env* Default();

  // Creates `path`, which must not exist. With try_direct_io, opens it with
  // O_DIRECT where the filesystem allows it and buffered otherwise.
  virtual Result<std::unique_ptr<WritableSegmentFile>> NewSegmentFile(const std::string& path,
                                                                      bool try_direct_io,
                                                                      unsigned queue_depth) = 0;

  // fsync of a directory, so that entries created or removed in it survive a crash.
  virtual Status SyncDir(const std::string& dir) = 0;

  virtual Status RemoveFile(const std::string& path) = 0;

  // Wall-clock time in microseconds since the Unix epoch: failure times and
  // the client's cost measurements. Tests override it to control time.
  virtual int64_t NowUnixMicros();
};

}  // namespace ckpt
