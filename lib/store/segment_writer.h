// Appends chunk records to one new segment file (through the store's Env:
// io_uring by default).
//
// Records are packed into large aligned buffers; each full buffer is written
// with one io_uring write at an aligned offset (O_DIRECT where the filesystem
// allows it, buffered otherwise), with up to `queue_depth` writes in flight.
// A large payload may instead be written straight from the caller's memory
// (AppendBorrowed): no copy into the buffers, which on one core is CPU time
// the compressor can use.
// Finish() pads the tail to 4 KiB, waits for every write, fdatasyncs the file
// and fsyncs its directory: after it returns OK the bytes are on stable
// storage. Nothing is visible to readers until the catalog commits it.
//
// The writer is reusable: Start() a new file after Finish() or Abort().
// Buffers are allocated and pre-faulted once, in the constructor.
//
// Thread safety: one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/env.h"
#include "ckpt/status.h"
#include "store/chunk_record.h"

namespace ckpt {

struct SegmentWriterOptions {
  size_t buffer_bytes = size_t{4} << 20;  // one io_uring write; multiple of 4 KiB
  unsigned queue_depth = 4;               // buffers (writes in flight at most)
  bool use_direct_io = true;
  Env* env = nullptr;  // nullptr: Env::Default()
  // Payloads AppendBorrowed may have in flight from the caller's memory at
  // once; 0: AppendBorrowed copies like Append.
  unsigned max_borrowed = 0;
};

class SegmentWriter {
 public:
  static Result<std::unique_ptr<SegmentWriter>> Create(const SegmentWriterOptions& options);
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Creates `path` (must not exist).
  Status Start(const std::string& path);

  // Appends one record; returns the offset of its header in the file.
  Result<uint64_t> Append(const RecordHeader& header, const uint8_t* payload, size_t size);

  // Payloads at least this large, 4 KiB-aligned in memory, are borrowed.
  static constexpr size_t kMinBorrowedBytes = size_t{256} << 10;

  // Appends one record whose payload is written from `payload` itself
  // rather than copied: zero padding goes before the record's header so that
  // the payload starts at a 4 KiB boundary of the file (at most 4 KiB per
  // record, nothing reads it), the payload's whole 4 KiB blocks are written
  // from `payload`, and its last partial block is copied. `release` is
  // called exactly once, on this writer's thread, when the writer no longer
  // reads `payload`: when its write has completed or failed, or, when the
  // payload was copied (borrowing off, a payload under kMinBorrowedBytes or
  // not 4 KiB-aligned), before this returns. Until then the caller must
  // leave those bytes alone. A borrowed write's completion is collected by
  // the next Append*, BytesInFlight, Finish or Abort.
  Result<uint64_t> AppendBorrowed(const RecordHeader& header, const uint8_t* payload, size_t size,
                                  std::function<void()> release);

  // Hands what is buffered to the disk now rather than when the buffer is
  // full: the current buffer's whole 4 KiB blocks are written; a last partial
  // block stays buffered. For a caller about to be busy a while (compressing
  // a chunk): the disk works meanwhile.
  Status Flush();

  // Bytes appended so far (unpadded).
  uint64_t size() const { return file_pos_ + fill_; }

  // Bytes handed to the disk whose writes have not completed: the work the
  // disk still has queued. Collects the completions that are ready first,
  // without blocking (a write error found there is returned by the next
  // Append or Finish).
  uint64_t BytesInFlight();
  // Bytes handed to the disk so far (whole buffers), the size of one write,
  // and the most that can be in flight at once.
  uint64_t bytes_submitted() const { return file_pos_; }
  size_t buffer_bytes() const { return options_.buffer_bytes; }
  uint64_t in_flight_capacity() const {
    return uint64_t{options_.queue_depth} * options_.buffer_bytes;
  }
  bool direct_io() const { return file_ != nullptr && file_->direct_io(); }

  // Pads, writes, syncs. Returns the file's final size.
  Result<uint64_t> Finish();

  // Abandons the file: closes and deletes it.
  void Abort();

 private:
  explicit SegmentWriter(const SegmentWriterOptions& options);
  // Appends `size` bytes from `data`, or zeros when `data` is null,
  // submitting each buffer it fills.
  Status CopyIn(const uint8_t* data, size_t size);
  // Writes the current buffer's first `bytes` bytes, followed in the same
  // write by `borrowed` (may be empty) whose `release` is then called when
  // the write is over, and moves on to a free buffer.
  Status SubmitCurrent(size_t bytes, WritableSegmentFile::Slice borrowed = {},
                       std::function<void()> release = nullptr);
  Status SubmitSlices(size_t tag);
  Status WaitOne();
  Status WaitAll();
  Status HandleCompletion(const WritableSegmentFile::Completion& c);
  // A buffer's write is over (done or failed): the buffer is free again and
  // the memory it borrowed goes back to its owner.
  void Retire(size_t buffer);

  SegmentWriterOptions options_;
  Env* env_;
  std::unique_ptr<WritableSegmentFile> file_;
  std::vector<uint8_t*> buffers_;
  std::vector<size_t> free_;       // indices of buffers not in flight
  struct InFlight {
    WritableSegmentFile::Slice slices[WritableSegmentFile::kMaxSlices];  // the buffer, then borrowed bytes
    uint64_t offset = 0;
    size_t bytes = 0;
    size_t done = 0;
    bool active = false;
    std::function<void()> release;  // of the borrowed bytes
  };
  std::vector<InFlight> inflight_;  // indexed by buffer
  unsigned borrowed_in_flight_ = 0;
  unsigned pending_ = 0;
  uint64_t in_flight_bytes_ = 0;  // submitted, not yet completed
  size_t current_ = 0;   // buffer being filled
  size_t fill_ = 0;      // bytes in the current buffer
  uint64_t file_pos_ = 0;  // file offset of the current buffer
  std::string path_;
  Status error_;         // first write error; sticky until Start()
};

}  // namespace ckpt
