// An Env whose disk looks as busy as the test says: writes go to the real
// file at once (through Env::Default()), but whether a poll sees them
// complete is the test's choice.
//   kBusy: PollCompletion never reports a write complete, as with a disk
//          that always has work queued; only WaitCompletion returns them.
//   kIdle: every submitted write is reported complete by the next poll, as
//          with a disk that keeps up with anything.
// Used to test what paces itself by the disk's backlog
// (SegmentWriter::BytesInFlight, kAuto's compression decisions).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "ckpt/env.h"

namespace ckpt::testing {

class PacedDiskEnv final : public Env {
 public:
  enum class Disk { kBusy, kIdle };

  explicit PacedDiskEnv(Disk disk) : disk_(disk) {}
  void set_disk(Disk disk) { disk_ = disk; }
  Disk disk() const { return disk_; }

  Result<std::unique_ptr<WritableSegmentFile>> NewSegmentFile(const std::string& path, bool try_direct_io,
                                                              unsigned queue_depth) override;
  Status SyncDir(const std::string& dir) override { return Env::Default()->SyncDir(dir); }
  Status RemoveFile(const std::string& path) override { return Env::Default()->RemoveFile(path); }

 private:
  std::atomic<Disk> disk_;
};

namespace internal {

class PacedDiskFile final : public WritableSegmentFile {
 public:
  PacedDiskFile(const PacedDiskEnv* env, std::unique_ptr<WritableSegmentFile> base)
      : env_(env), base_(std::move(base)) {}

  Status SubmitWrite(std::span<const Slice> slices, uint64_t offset, uint64_t tag) override {
    Status s = base_->SubmitWrite(slices, offset, tag);
    if (s.ok()) ++queued_;
    return s;
  }
  Result<Completion> WaitCompletion() override {
    auto c = base_->WaitCompletion();
    if (c.ok()) --queued_;
    return c;
  }
  Result<std::optional<Completion>> PollCompletion() override {
    if (env_->disk() == PacedDiskEnv::Disk::kBusy || queued_ == 0) return std::optional<Completion>();
    auto c = WaitCompletion();  // the real write may take a moment; it counts as done
    if (!c.ok()) return c.status();
    return std::optional<Completion>(*c);
  }
  Status DataSync() override { return base_->DataSync(); }
  Status Close() override { return base_->Close(); }
  bool direct_io() const override { return base_->direct_io(); }

 private:
  const PacedDiskEnv* env_;
  std::unique_ptr<WritableSegmentFile> base_;
  unsigned queued_ = 0;
};

}  // namespace internal

inline Result<std::unique_ptr<WritableSegmentFile>> PacedDiskEnv::NewSegmentFile(const std::string& path,
                                                                                 bool try_direct_io,
                                                                                 unsigned queue_depth) {
  auto base = Env::Default()->NewSegmentFile(path, try_direct_io, queue_depth);
  if (!base.ok()) return base.status();
  return std::unique_ptr<WritableSegmentFile>(new internal::PacedDiskFile(this, std::move(base).value()));
}

}  // namespace ckpt::testing
