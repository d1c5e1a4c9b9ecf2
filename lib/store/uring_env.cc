// The default Env: segment files written through io_uring.
#include <fcntl.h>
#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "ckpt/env.h"
#include "util/file_util.h"

namespace ckpt {
namespace {

class UringSegmentFile final : public WritableSegmentFile {
 public:
  UringSegmentFile(int fd, bool direct, std::string path) : fd_(fd), direct_(direct), path_(std::move(path)) {}

  ~UringSegmentFile() override {
    if (ring_ok_) io_uring_queue_exit(&ring_);
    if (fd_ >= 0) ::close(fd_);
  }

  Status Init(unsigned queue_depth) {
    int rc = io_uring_queue_init(queue_depth, &ring_, 0);
    if (rc < 0) return ErrnoStatus("io_uring_queue_init", -rc);
    ring_ok_ = true;
    return Status::OK();
  }

  Status SubmitWrite(std::span<const Slice> slices, uint64_t offset, uint64_t tag) override {
    if (slices.empty() || slices.size() > kMaxSlices)
      return Status::InvalidArgument("a segment write takes 1 to " + std::to_string(kMaxSlices) + " slices");
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return Status::IOError("io_uring submission queue of " + path_ + " is full");
    if (slices.size() == 1) {
      io_uring_prep_write(sqe, fd_, slices[0].data, static_cast<unsigned>(slices[0].size), offset);
    } else {
      // The kernel reads the iovecs when the request is issued, which may be
      // after io_uring_submit returns on kernels without
      // IORING_FEAT_SUBMIT_STABLE: keep them until the completion.
      auto& iov = iovecs_[tag];
      for (size_t i = 0; i < slices.size(); ++i)
        iov[i] = {const_cast<uint8_t*>(slices[i].data), slices[i].size};
      io_uring_prep_writev(sqe, fd_, iov.data(), static_cast<unsigned>(slices.size()), offset);
    }
    io_uring_sqe_set_data64(sqe, tag);
    const int rc = io_uring_submit(&ring_);
    if (rc < 0) {
      // The kernel did not take the request, but it stays in the submission
      // queue and the next submit would send it: a write reported as failed
      // would then run, from memory its owner has taken back. Make it a
      // no-op whose completion nobody sees.
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data64(sqe, kDroppedTag);
      iovecs_.erase(tag);
      return ErrnoStatus("io_uring_submit " + path_, -rc);
    }
    return Status::OK();
  }

  Result<Completion> WaitCompletion() override {
    for (;;) {
      struct io_uring_cqe* cqe = nullptr;
      int rc;
      do {
        rc = io_uring_wait_cqe(&ring_, &cqe);
      } while (rc == -EINTR);
      if (rc < 0) return ErrnoStatus("io_uring_wait_cqe " + path_, -rc);
      if (std::optional<Completion> c = Take(cqe)) return *c;
    }
  }

  Result<std::optional<Completion>> PollCompletion() override {
    for (;;) {
      struct io_uring_cqe* cqe = nullptr;
      const int rc = io_uring_peek_cqe(&ring_, &cqe);
      if (rc == -EAGAIN) return std::optional<Completion>();
      if (rc < 0) return ErrnoStatus("io_uring_peek_cqe " + path_, -rc);
      if (std::optional<Completion> c = Take(cqe)) return c;
    }
  }

  Status DataSync() override {
    if (::fdatasync(fd_) != 0) return ErrnoStatus("fdatasync " + path_, errno);
    return Status::OK();
  }

  Status Close() override {
    if (fd_ >= 0 && ::close(fd_) != 0) {
      fd_ = -1;
      return ErrnoStatus("close " + path_, errno);
    }
    fd_ = -1;
    return Status::OK();
  }

  bool direct_io() const override { return direct_; }

 private:
  // The tag of a request turned into a no-op after its submit failed.
  static constexpr uint64_t kDroppedTag = ~uint64_t{0};

  // Consumes `cqe`: its completion, or nothing for a dropped request.
  std::optional<Completion> Take(io_uring_cqe* cqe) {
    const Completion c{io_uring_cqe_get_data64(cqe), cqe->res};
    io_uring_cqe_seen(&ring_, cqe);
    if (c.tag == kDroppedTag) return std::nullopt;
    iovecs_.erase(c.tag);
    return c;
  }

  int fd_;
  bool direct_;
  std::string path_;
  struct io_uring ring_;
  bool ring_ok_ = false;
  std::unordered_map<uint64_t, std::array<struct iovec, kMaxSlices>> iovecs_;  // gathered writes in flight
};

class UringEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableSegmentFile>> NewSegmentFile(const std::string& path,
                                                              bool try_direct_io,
                                                              unsigned queue_depth) override {
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    bool direct = false;
    int fd = -1;
    if (try_direct_io) {
      fd = ::open(path.c_str(), flags | O_DIRECT, 0644);
      if (fd >= 0) {
        direct = true;
      } else if (errno != EINVAL) {
        return ErrnoStatus("create segment " + path, errno);
      }
    }
    if (fd < 0) {
      // Some filesystems (tmpfs before Linux 6.6, some network filesystems)
      // refuse O_DIRECT: write buffered.
      fd = ::open(path.c_str(), flags, 0644);
      if (fd < 0) return ErrnoStatus("create segment " + path, errno);
    }
    auto file = std::make_unique<UringSegmentFile>(fd, direct, path);
    Status s = file->Init(queue_depth);
    if (!s.ok()) {
      file.reset();
      ::unlink(path.c_str());
      return s;
    }
    return std::unique_ptr<WritableSegmentFile>(std::move(file));
  }

  Status SyncDir(const std::string& dir) override { return ckpt::SyncDir(dir); }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("remove " + path, errno);
    return Status::OK();
  }
};

}  // namespace

int64_t Env::NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Env* Env::Default() {
  static Env* env = new UringEnv();  // intentionally leaked: used until exit
  return env;
}

}  // namespace ckpt
