#include "store/segment_writer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "util/file_util.h"

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
    void* p = ::mmap(nullptr, options.buffer_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return ErrnoStatus("allocate segment write buffer", errno);
    w->buffers_.push_back(static_cast<uint8_t*>(p));
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

Status SegmentWriter::CopyIn(const uint8_t* data, size_t size) {
  while (size > 0) {
    const size_t take = std::min(size, options_.buffer_bytes - fill_);
    std::memcpy(buffers_[current_] + fill_, data, take);
    fill_ += take;
    data += take;
    size -= take;
    if (fill_ == options_.buffer_bytes) CKPT_RETURN_IF_ERROR(SubmitCurrent(fill_));
  }
  return Status::OK();
}

Status SegmentWriter::SubmitCurrent(size_t bytes) {
  CKPT_RETURN_IF_ERROR(file_->SubmitWrite(buffers_[current_], bytes, file_pos_, current_));
  inflight_[current_] = {current_, file_pos_, bytes, 0};
  ++pending_;
  in_flight_bytes_ += bytes;
  file_pos_ += bytes;
  fill_ = 0;
  while (free_.empty()) CKPT_RETURN_IF_ERROR(WaitOne());
  current_ = free_.back();
  free_.pop_back();
  return error_;
}

Status SegmentWriter::HandleCompletion(const WritableSegmentFile::Completion& c) {
  const size_t idx = static_cast<size_t>(c.tag);
  --pending_;
  InFlight& w = inflight_[idx];
  if (c.result <= 0) {
    in_flight_bytes_ -= w.bytes - w.done;
    if (error_.ok())
      error_ = c.result < 0 ? ErrnoStatus("write segment " + path_, static_cast<int>(-c.result))
                            : Status::IOError("write segment " + path_ + ": no progress");
    free_.push_back(idx);
    return error_;
  }
  const size_t done = std::min(static_cast<size_t>(c.result), w.bytes - w.done);
  w.done += done;
  in_flight_bytes_ -= done;
  if (w.done < w.bytes) {  // short write: submit the rest
    Status s = file_->SubmitWrite(buffers_[idx] + w.done, w.bytes - w.done, w.offset + w.done, idx);
    if (!s.ok()) {
      in_flight_bytes_ -= w.bytes - w.done;
      if (error_.ok()) error_ = s;
      free_.push_back(idx);
      return error_;
    }
    ++pending_;
    return Status::OK();
  }
  free_.push_back(idx);
  return Status::OK();
}

Status SegmentWriter::WaitOne() {
  auto c = file_->WaitCompletion();
  if (!c.ok()) {
    // The ring itself failed: nothing more will complete.
    pending_ = 0;
    in_flight_bytes_ = 0;
    if (error_.ok()) error_ = c.status();
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
