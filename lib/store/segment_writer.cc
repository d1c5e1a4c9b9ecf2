#include "store/segment_writer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "util/file_util.h"
#include "util/io_memory.h"

namespace ckpt {
namespace {

constexpr size_t kAlign = 4096;

size_t RoundUp(size_t n, size_t align) { return (n + align - 1) / align * align; }

}  // namespace

SegmentWriter::SegmentWriter(const SegmentWriterOptions& options)
    : options_(options), env_(options.env != nullptr ? options.env : Env::Default()) {}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(const SegmentWriterOptions& options) {
  if (options.buffer_bytes == 0 || options.buffer_bytes % kAlign != 0)
    return Status::InvalidArgument("segment buffer size must be a positive multiple of 4096");
  if (options.queue_depth == 0) return Status::InvalidArgument("queue depth must be positive");
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(options));
  // One buffer is always being filled; the others may be in flight.
  const size_t count = options.queue_depth + 1;
  for (size_t i = 0; i < count; ++i) {
    auto p = MapIoMemory(options.buffer_bytes, "segment write buffer");
    if (!p.ok()) return p.status();
    w->buffers_.push_back(*p);
    w->free_.push_back(i);
  }
  w->inflight_.resize(count);
  w->current_ = w->free_.back();
  w->free_.pop_back();
  return w;
}

SegmentWriter::~SegmentWriter() {
  if (file_ != nullptr) Abort();
  for (uint8_t* b : buffers_) ::munmap(b, options_.buffer_bytes);
}

Status SegmentWriter::Start(const std::string& path) {
  if (file_ != nullptr) return Status::FailedPrecondition("segment writer already has an open file");
  auto file = env_->NewSegmentFile(path, options_.use_direct_io, options_.queue_depth + 1);
  if (!file.ok()) return file.status();
  file_ = std::move(file).value();
  path_ = path;
  file_pos_ = 0;
  fill_ = 0;
  pending_ = 0;
  in_flight_bytes_ = 0;
  error_ = Status::OK();
  return Status::OK();
}

Result<uint64_t> SegmentWriter::Append(const RecordHeader& header, const uint8_t* payload,
                                       size_t size) {
  if (file_ == nullptr) return Status::FailedPrecondition("segment writer has no open file");
  CKPT_RETURN_IF_ERROR(error_);
  const uint64_t offset = file_pos_ + fill_;
  uint8_t encoded[kRecordHeaderSize];
  EncodeRecordHeader(header, encoded);
  CKPT_RETURN_IF_ERROR(CopyIn(encoded, sizeof encoded));
  CKPT_RETURN_IF_ERROR(CopyIn(payload, size));
  return offset;
}

Result<uint64_t> SegmentWriter::AppendBorrowed(const RecordHeader& header, const uint8_t* payload,
                                               size_t size, std::function<void()> release) {
  const bool borrow = options_.max_borrowed > 0 && size >= kMinBorrowedBytes &&
                      reinterpret_cast<uintptr_t>(payload) % kAlign == 0;
  if (!borrow || file_ == nullptr || !error_.ok()) {
    auto offset = Append(header, payload, size);
    release();
    return offset;
  }
  // At most max_borrowed payloads in flight: their owner may need the memory.
  while (borrowed_in_flight_ >= options_.max_borrowed && pending_ > 0 && error_.ok()) (void)WaitOne();
  // Padding, then the header ending on a 4 KiB boundary; one write takes the
  // buffer up to there and the payload's whole blocks from the caller.
  const uint64_t pos = file_pos_ + fill_;
  const uint64_t offset = RoundUp(pos + kRecordHeaderSize, kAlign) - kRecordHeaderSize;
  uint8_t encoded[kRecordHeaderSize];
  EncodeRecordHeader(header, encoded);
  Status s = error_;
  if (s.ok()) s = CopyIn(nullptr, offset - pos);  // zeros
  if (s.ok()) s = CopyIn(encoded, sizeof encoded);
  const size_t whole = size / kAlign * kAlign;
  if (!s.ok()) {
    release();
    return s;
  }
  CKPT_RETURN_IF_ERROR(SubmitCurrent(fill_, {payload, whole}, std::move(release)));
  CKPT_RETURN_IF_ERROR(CopyIn(payload + whole, size - whole));
  return offset;
}

Status SegmentWriter::Flush() {
  if (file_ == nullptr) return Status::FailedPrecondition("segment writer has no open file");
  CKPT_RETURN_IF_ERROR(error_);
  const size_t whole = fill_ / kAlign * kAlign;
  if (whole == 0) return Status::OK();
  const size_t tail = fill_ - whole;
  const uint8_t* written = buffers_[current_];
  CKPT_RETURN_IF_ERROR(SubmitCurrent(whole));
  // The partial block starts the next buffer (the write above does not read it).
  std::memcpy(buffers_[current_], written + whole, tail);
  fill_ = tail;
  return Status::OK();
}

Status SegmentWriter::CopyIn(const uint8_t* data, size_t size) {
  while (size > 0) {
    const size_t take = std::min(size, options_.buffer_bytes - fill_);
    if (data != nullptr) {
      std::memcpy(buffers_[current_] + fill_, data, take);
      data += take;
    } else {
      std::memset(buffers_[current_] + fill_, 0, take);
    }
    fill_ += take;
    size -= take;
    if (fill_ == options_.buffer_bytes) CKPT_RETURN_IF_ERROR(SubmitCurrent(fill_));
  }
  return Status::OK();
}

Status SegmentWriter::SubmitSlices(size_t tag) {
  // What is left of the write: the slices past its first `done` bytes.
  InFlight& w = inflight_[tag];
  WritableSegmentFile::Slice left[WritableSegmentFile::kMaxSlices];
  size_t count = 0;
  size_t skip = w.done;
  for (const auto& slice : w.slices) {
    if (skip >= slice.size) {
      skip -= slice.size;
      continue;
    }
    left[count++] = {slice.data + skip, slice.size - skip};
    skip = 0;
  }
  return file_->SubmitWrite(std::span<const WritableSegmentFile::Slice>(left, count), w.offset + w.done, tag);
}

Status SegmentWriter::SubmitCurrent(size_t bytes, WritableSegmentFile::Slice borrowed,
                                    std::function<void()> release) {
  InFlight& w = inflight_[current_];
  w.slices[0] = {buffers_[current_], bytes};
  w.slices[1] = borrowed;
  w.offset = file_pos_;
  w.bytes = bytes + borrowed.size;
  w.done = 0;
  w.release = std::move(release);
  Status s = SubmitSlices(current_);
  if (!s.ok()) {
    std::function<void()> r = std::move(w.release);
    w.release = nullptr;
    if (r) r();
    if (error_.ok()) error_ = s;
    return s;
  }
  w.active = true;
  if (w.release) ++borrowed_in_flight_;
  ++pending_;
  in_flight_bytes_ += w.bytes;
  file_pos_ += w.bytes;
  fill_ = 0;
  // The buffer just submitted is the disk's until its write is over: move to
  // a free one even when a write fails meanwhile (a failed write frees its
  // buffer too), or a later Start would fill and submit a buffer in flight.
  while (free_.empty() && pending_ > 0) (void)WaitOne();  // an error sticks in error_
  if (!free_.empty()) {  // with nothing in flight every buffer is free
    current_ = free_.back();
    free_.pop_back();
  }
  return error_;
}

void SegmentWriter::Retire(size_t buffer) {
  InFlight& w = inflight_[buffer];
  w.active = false;
  free_.push_back(buffer);
  std::function<void()> release = std::move(w.release);
  w.release = nullptr;
  if (release) {
    --borrowed_in_flight_;
    release();
  }
}

Status SegmentWriter::HandleCompletion(const WritableSegmentFile::Completion& c) {
  const size_t tag = static_cast<size_t>(c.tag);
  // Every completion answers one submission, known or not: counting it keeps
  // WaitAll from waiting for one that will never come.
  if (pending_ > 0) --pending_;
  if (tag >= inflight_.size() || !inflight_[tag].active)
    return error_ = Status::IOError("write segment " + path_ + ": completion for an unknown write");
  InFlight& w = inflight_[tag];
  if (c.result <= 0) {
    in_flight_bytes_ -= w.bytes - w.done;
    if (error_.ok())
      error_ = c.result < 0 ? ErrnoStatus("write segment " + path_, static_cast<int>(-c.result))
                            : Status::IOError("write segment " + path_ + ": no progress");
    Retire(tag);
    return error_;
  }
  const size_t done = std::min(static_cast<size_t>(c.result), w.bytes - w.done);
  w.done += done;
  in_flight_bytes_ -= done;
  if (w.done < w.bytes) {  // short write: submit the rest
    Status s = SubmitSlices(tag);
    if (!s.ok()) {
      in_flight_bytes_ -= w.bytes - w.done;
      if (error_.ok()) error_ = s;
      Retire(tag);
      return error_;
    }
    ++pending_;
    return Status::OK();
  }
  Retire(tag);
  return Status::OK();
}

Status SegmentWriter::WaitOne() {
  auto c = file_->WaitCompletion();
  if (!c.ok()) {
    // The ring itself failed: nothing more will complete. Borrowed memory
    // goes back to its owners; the file is garbage either way.
    pending_ = 0;
    in_flight_bytes_ = 0;
    if (error_.ok()) error_ = c.status();
    for (size_t tag = 0; tag < inflight_.size(); ++tag)
      if (inflight_[tag].active) Retire(tag);
    return error_;
  }
  return HandleCompletion(*c);
}

uint64_t SegmentWriter::BytesInFlight() {
  while (pending_ > 0 && file_ != nullptr) {
    auto c = file_->PollCompletion();
    if (!c.ok()) {
      if (error_.ok()) error_ = c.status();
      break;
    }
    if (!c->has_value()) break;
    (void)HandleCompletion(**c);  // an error sticks in error_
  }
  return in_flight_bytes_;
}

Status SegmentWriter::WaitAll() {
  Status first;
  while (pending_ > 0) {
    Status s = WaitOne();
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

Result<uint64_t> SegmentWriter::Finish() {
  if (file_ == nullptr) return Status::FailedPrecondition("segment writer has no open file");
  Status s = error_;
  if (s.ok() && fill_ > 0) {
    const size_t padded = RoundUp(fill_, kAlign);
    std::memset(buffers_[current_] + fill_, 0, padded - fill_);
    s = SubmitCurrent(padded);
  }
  Status waited = WaitAll();
  if (s.ok()) s = waited;
  if (s.ok()) s = error_;
  if (s.ok()) s = file_->DataSync();
  if (s.ok()) s = file_->Close();
  if (!s.ok()) {
    Abort();
    return s;
  }
  file_.reset();
  // The new file's directory entry must be durable before the catalog points at it.
  CKPT_RETURN_IF_ERROR(env_->SyncDir(std::filesystem::path(path_).parent_path().string()));
  return file_pos_;
}

void SegmentWriter::Abort() {
  if (file_ != nullptr) {
    (void)WaitAll();
    (void)file_->Close();
    file_.reset();
    (void)env_->RemoveFile(path_);
  }
  fill_ = 0;
  file_pos_ = 0;
  pending_ = 0;
}

}  // namespace ckpt
