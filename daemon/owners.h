// Which uid owns which job: the first uid that attaches a job owns it, for
// good. Persisted in a small JSON file next to the store's data
// (<store>/ckptd-owners.json) so that a restarted daemon keeps refusing
// other uids.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "ckpt/status.h"

namespace ckpt::daemon {

class Owners {
 public:
  // Loads `path` when it exists. kCorruption when it cannot be parsed.
  static Result<std::unique_ptr<Owners>> Load(const std::string& path);

  // OK when `uid` owns `job` (claiming it, durably, when nobody does);
  // kFailedPrecondition naming the owner when another uid owns it.
  Status Claim(const std::string& job, uid_t uid);

 private:
  explicit Owners(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::mutex mu_;
  std::map<std::string, uid_t> owner_;
};

}  // namespace ckpt::daemon
