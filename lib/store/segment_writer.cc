#include "store/segment_writer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

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

SegmentWriter::SegmentWriter(const SegmentWriterOptions& options) : options_(options) {}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(const SegmentWriterOptions& options) {
  if (options.buffer_bytes == 0 || options.buffer_bytes % kAlign != 0)
    return Status::InvalidArgument("segment buffer size must be a positive multiple of 4096");
  if (options.queue_depth == 0) return Status::InvalidArgument("queue depth must be positive");
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(options));
  int rc = io_uring_queue_init(options.queue_depth + 1, &w->ring_, 0);
  if (rc < 0) return ErrnoStatus("io_uring_queue_init", -rc);
  w->ring_ok_ = true;
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
  if (fd_ >= 0) Abort();
  if (ring_ok_) io_uring_queue_exit(&ring_);
  for (uint8_t* b : buffers_) ::munmap(b, options_.buffer_bytes);
}

Status SegmentWriter::Start(const std::string& path) {
  if (fd_ >= 0) return Status::FailedPrecondition("segment writer already has an open file");
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  direct_ = false;
  int fd = -1;
  if (options_.use_direct_io) {
    fd = ::open(path.c_str(), flags | O_DIRECT, 0644);
    if (fd >= 0) {
      direct_ = true;
    } else if (errno != EINVAL) {
      return ErrnoStatus("create segment " + path, errno);
    }
  }
  if (fd < 0) {
    // tmpfs and some network filesystems refuse O_DIRECT: write buffered.
    fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return ErrnoStatus("create segment " + path, errno);
  }
  fd_ = fd;
  path_ = path;
  file_pos_ = 0;
  fill_ = 0;
  error_ = Status::OK();
  return Status::OK();
}

Result<uint64_t> SegmentWriter::Append(const RecordHeader& header, const uint8_t* payload,
                                       size_t size) {
  if (fd_ < 0) return Status::FailedPrecondition("segment writer has no open file");
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
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) return Status::IOError("io_uring submission queue full");
  io_uring_prep_write(sqe, fd_, buffers_[current_], static_cast<unsigned>(bytes), file_pos_);
  io_uring_sqe_set_data64(sqe, current_);
  inflight_[current_] = {current_, file_pos_, bytes, 0};
  int rc = io_uring_submit(&ring_);
  if (rc < 0) return ErrnoStatus("io_uring_submit", -rc);
  ++pending_;
  file_pos_ += bytes;
  fill_ = 0;
  while (free_.empty()) CKPT_RETURN_IF_ERROR(WaitOne());
  current_ = free_.back();
  free_.pop_back();
  return error_;
}

Status SegmentWriter::CheckCompletion(struct io_uring_cqe* cqe) {
  const size_t idx = static_cast<size_t>(io_uring_cqe_get_data64(cqe));
  const int res = cqe->res;
  io_uring_cqe_seen(&ring_, cqe);
  --pending_;
  InFlight& w = inflight_[idx];
  if (res < 0) {
    if (error_.ok()) error_ = ErrnoStatus("write segment " + path_, -res);
    free_.push_back(idx);
    return error_;
  }
  if (res == 0) {
    if (error_.ok()) error_ = Status::IOError("write segment " + path_ + ": no progress");
    free_.push_back(idx);
    return error_;
  }
  w.done += static_cast<size_t>(res);
  if (w.done < w.bytes) {  // short write: submit the rest
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      error_ = Status::IOError("io_uring submission queue full");
      free_.push_back(idx);
      return error_;
    }
    io_uring_prep_write(sqe, fd_, buffers_[idx] + w.done, static_cast<unsigned>(w.bytes - w.done),
                        w.offset + w.done);
    io_uring_sqe_set_data64(sqe, idx);
    int rc = io_uring_submit(&ring_);
    if (rc < 0) {
      error_ = ErrnoStatus("io_uring_submit", -rc);
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
  struct io_uring_cqe* cqe = nullptr;
  int rc;
  do {
    rc = io_uring_wait_cqe(&ring_, &cqe);
  } while (rc == -EINTR);
  if (rc < 0) return ErrnoStatus("io_uring_wait_cqe", -rc);
  return CheckCompletion(cqe);
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
  if (fd_ < 0) return Status::FailedPrecondition("segment writer has no open file");
  Status s = error_;
  if (s.ok() && fill_ > 0) {
    const size_t padded = RoundUp(fill_, kAlign);
    std::memset(buffers_[current_] + fill_, 0, padded - fill_);
    s = SubmitCurrent(padded);
  }
  Status waited = WaitAll();
  if (s.ok()) s = waited;
  if (s.ok()) s = error_;
  if (s.ok() && ::fdatasync(fd_) != 0) s = ErrnoStatus("fdatasync segment " + path_, errno);
  if (!s.ok()) {
    Abort();
    return s;
  }
  ::close(fd_);
  fd_ = -1;
  // The new file's directory entry must be durable before the catalog points at it.
  CKPT_RETURN_IF_ERROR(SyncDir(std::filesystem::path(path_).parent_path().string()));
  return file_pos_;
}

void SegmentWriter::Abort() {
  (void)WaitAll();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(path_.c_str());
  }
  fill_ = 0;
  file_pos_ = 0;
}

}  // namespace ckpt
