// FaultInjectionEnv: an Env that wraps the real one and breaks it on purpose,
// in the manner of LevelDB's fault_injection_test: fail the Nth write, sync,
// directory sync or removal with a chosen errno; complete writes short; crash
// at the Nth operation (a hook that may _exit or raise SIGKILL); or lose power,
// dropping every byte that was not synced and every file whose directory
// entry was not synced, after which every operation fails with EIO.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "ckpt/env.h"
#include "util/file_util.h"

namespace ckpt::testing {

class FaultInjectionEnv final : public Env {
 public:
  enum class Op { kCreate, kWrite, kSync, kDirSync, kRemove };

  explicit FaultInjectionEnv(Env* base = Env::Default()) : base_(base) {}

  // The nth (1-based, counted from now) operation of kind `op` fails with `err`.
  void FailNth(Op op, uint64_t n, int err) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_op_ = op;
    fail_at_ = counts_[op] + n;
    fail_errno_ = err;
  }

  // Writes complete with about half their bytes; the caller must submit the rest.
  void SetShortWrites(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    short_writes_ = on;
  }

  // Runs `hook` right before the nth operation of any kind (1-based, total count).
  void SetCrashPoint(uint64_t n, std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    crash_at_ = n;
    crash_hook_ = std::move(hook);
  }

  // Runs `hook` right before the nth (1-based, counted from now) operation
  // of kind `op`.
  void SetCrashBefore(Op op, uint64_t n, std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    crash_op_ = op;
    crash_op_at_ = counts_[op] + n;
    crash_op_hook_ = std::move(hook);
  }

  // Drops unsynced data now; every later operation fails with EIO.
  void PowerLoss() {
    std::lock_guard<std::mutex> lock(mu_);
    PowerLossLocked();
  }

  uint64_t total_ops() const {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }
  bool dead() const {
    std::lock_guard<std::mutex> lock(mu_);
    return dead_;
  }

  Result<std::unique_ptr<WritableSegmentFile>> NewSegmentFile(const std::string& path, bool try_direct_io,
                                                              unsigned queue_depth) override;
  Status SyncDir(const std::string& dir) override {
    if (int err = Begin(Op::kDirSync)) return ErrnoStatus("(injected) sync directory " + dir, err);
    CKPT_RETURN_IF_ERROR(base_->SyncDir(dir));
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [path, f] : files_)
      if (std::filesystem::path(path).parent_path() == std::filesystem::path(dir)) f.entry_synced = true;
    return Status::OK();
  }
  Status RemoveFile(const std::string& path) override {
    if (int err = Begin(Op::kRemove)) return ErrnoStatus("(injected) remove " + path, err);
    std::lock_guard<std::mutex> lock(mu_);
    files_.erase(path);
    return base_->RemoveFile(path);
  }

 private:
  friend class FaultySegmentFile;
  struct Tracked {
    uint64_t written_end = 0;  // end of the furthest completed write
    uint64_t synced_end = 0;   // covered by the last DataSync
    bool entry_synced = false; // a SyncDir of its directory came after creation
  };

  // Counts an operation; returns the errno to fail it with, or 0.
  int Begin(Op op) {
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (dead_) return EIO;
      ++total_;
      const uint64_t n = ++counts_[op];
      if (crash_at_ != 0 && total_ == crash_at_) hook = crash_hook_;
      if (crash_op_at_ != 0 && op == crash_op_ && n == crash_op_at_) hook = crash_op_hook_;
      if (fail_at_ != 0 && op == fail_op_ && n == fail_at_) {
        fail_at_ = 0;
        return fail_errno_;
      }
    }
    if (hook) hook();
    std::lock_guard<std::mutex> lock(mu_);
    return dead_ ? EIO : 0;
  }

  void PowerLossLocked() {
    for (auto& [path, f] : files_) {
      if (!f.entry_synced) {
        ::unlink(path.c_str());
      } else if (::truncate(path.c_str(), static_cast<off_t>(f.synced_end)) != 0) {
        std::fprintf(stderr, "FaultInjectionEnv: truncate %s: %s\n", path.c_str(), std::strerror(errno));
      }
    }
    files_.clear();
    dead_ = true;
  }

  Env* base_;
  mutable std::mutex mu_;
  std::map<Op, uint64_t> counts_;
  uint64_t total_ = 0;
  Op fail_op_ = Op::kWrite;
  uint64_t fail_at_ = 0;
  int fail_errno_ = 0;
  bool short_writes_ = false;
  uint64_t crash_at_ = 0;
  std::function<void()> crash_hook_;
  Op crash_op_ = Op::kSync;
  uint64_t crash_op_at_ = 0;
  std::function<void()> crash_op_hook_;
  bool dead_ = false;
  std::map<std::string, Tracked> files_;
};

class FaultySegmentFile final : public WritableSegmentFile {
 public:
  FaultySegmentFile(FaultInjectionEnv* env, std::unique_ptr<WritableSegmentFile> base, std::string path)
      : env_(env), base_(std::move(base)), path_(std::move(path)) {}

  Status SubmitWrite(std::span<const Slice> slices, uint64_t offset, uint64_t tag) override {
    if (int err = env_->Begin(FaultInjectionEnv::Op::kWrite)) {
      injected_.push_back({tag, -static_cast<int64_t>(err)});  // completes with the error
      return Status::OK();
    }
    size_t size = 0;
    for (const Slice& s : slices) size += s.size;
    size_t n = size;
    {
      std::lock_guard<std::mutex> lock(env_->mu_);
      if (env_->short_writes_ && size > 4096) n = std::max<size_t>(4096, size / 2 / 4096 * 4096);
    }
    // A short write: only the first n bytes of the slices reach the file.
    Slice shortened[kMaxSlices];
    size_t count = 0;
    for (const Slice& s : slices) {
      if (n == 0) break;
      shortened[count++] = {s.data, std::min(s.size, n)};
      n -= shortened[count - 1].size;
    }
    starts_[tag] = offset;
    return base_->SubmitWrite(std::span<const Slice>(shortened, count), offset, tag);
  }

  Result<Completion> WaitCompletion() override {
    if (!injected_.empty()) {
      Completion c = injected_.front();
      injected_.pop_front();
      return c;
    }
    auto c = base_->WaitCompletion();
    if (c.ok()) Completed(*c);
    return c;
  }

  Result<std::optional<Completion>> PollCompletion() override {
    if (!injected_.empty()) {
      Completion c = injected_.front();
      injected_.pop_front();
      return std::optional<Completion>(c);
    }
    auto c = base_->PollCompletion();
    if (c.ok() && c->has_value()) Completed(**c);
    return c;
  }

  Status DataSync() override {
    if (int err = env_->Begin(FaultInjectionEnv::Op::kSync)) return ErrnoStatus("(injected) fdatasync " + path_, err);
    CKPT_RETURN_IF_ERROR(base_->DataSync());
    std::lock_guard<std::mutex> lock(env_->mu_);
    auto it = env_->files_.find(path_);
    if (it != env_->files_.end()) it->second.synced_end = it->second.written_end;
    return Status::OK();
  }

  Status Close() override { return base_->Close(); }
  bool direct_io() const override { return base_->direct_io(); }

 private:
  void Completed(const Completion& c) {
    if (c.result <= 0) return;
    std::lock_guard<std::mutex> lock(env_->mu_);
    auto it = env_->files_.find(path_);
    // Writes are appended in order: the furthest completed end is what a
    // sync would make durable.
    if (it != env_->files_.end())
      it->second.written_end = std::max(it->second.written_end, starts_[c.tag] + static_cast<uint64_t>(c.result));
  }

  FaultInjectionEnv* env_;
  std::unique_ptr<WritableSegmentFile> base_;
  std::string path_;
  std::deque<Completion> injected_;
  std::map<uint64_t, uint64_t> starts_;  // tag -> offset of its latest write
};

inline Result<std::unique_ptr<WritableSegmentFile>> FaultInjectionEnv::NewSegmentFile(const std::string& path,
                                                                                      bool try_direct_io,
                                                                                      unsigned queue_depth) {
  if (int err = Begin(Op::kCreate)) return ErrnoStatus("(injected) create segment " + path, err);
  auto base = base_->NewSegmentFile(path, try_direct_io, queue_depth);
  if (!base.ok()) return base.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    files_[path] = Tracked{};
  }
  return std::unique_ptr<WritableSegmentFile>(
      std::make_unique<FaultySegmentFile>(this, std::move(base).value(), path));
}

}  // namespace ckpt::testing
