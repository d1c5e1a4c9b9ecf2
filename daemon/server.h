// ckptd's server: the store it serves, the Unix socket it listens on, the
// sessions of the jobs attached to it, job ownership and failure events.
//
// Thread safety: Run() on one thread; Stop() from any thread (the signal
// thread); the methods sessions call (Attach, Detach, RecordFailure,
// StatusJson) from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ckpt/status.h"
#include "ckpt/store.h"
#include "owners.h"

namespace ckpt::daemon {

class Session;

// How long an attach waits for the ending session of the same job.
inline constexpr double kAttachWaitSeconds = 300;

// Every setting of ckptd (command line or config file; see main.cc).
struct DaemonConfig {
  std::string store_dir;       // required
  std::string socket_path;     // required
  mode_t socket_mode = 0660;   // owner and group may connect
  // Largest staging pool one job may ask for; larger requests are clamped.
  uint64_t max_staging_bytes = uint64_t{4} << 30;
  size_t max_sessions = 256;   // connections beyond it are refused
  double shutdown_grace_seconds = 60;  // SIGTERM waits this long for checkpoints in flight
  bool direct_io = true;       // O_DIRECT segment writes where the filesystem allows
};

// One failure event as `ckpt status` shows it: a session that ended without
// a clean close (also recorded in the store's failure history).
struct SessionFailure {
  int64_t unix_ms = 0;
  std::string job;
  uid_t uid = 0;
  std::string cause;
};

class Server {
 public:
  // Opens the store for writing (kBusy when another process -- another
  // ckptd -- writes it), loads job ownership and binds the socket
  // (kBusy when a live daemon answers on it; a stale socket file is replaced).
  static Result<std::unique_ptr<Server>> Open(const DaemonConfig& config);
  ~Server();

  // Accepts connections until Stop(); then drains every session (waiting up
  // to shutdown_grace_seconds for checkpoints in flight) and returns.
  void Run();
  void Stop();

  // Session side.
  const DaemonConfig& config() const { return config_; }
  std::shared_ptr<Store> store() const { return store_; }
  bool stopping() const { return stopping_.load(); }
  // Claims `job` for `uid` and marks it attached. kFailedPrecondition when
  // another uid owns it, kBusy when a live session has it attached. When the
  // session that has it is ending (its client died or closed), waits for it
  // to finish the checkpoints whose copy completed, up to
  // kAttachWaitSeconds: a trainer restarted at once then resumes from them.
  Status Attach(const std::string& job, uid_t uid, Session* session);
  void Detach(const std::string& job, Session* session);
  // Records a failure event in the store (FailureSource::kDaemon) and in
  // memory for `ckpt status`.
  void RecordFailure(const std::string& job, uid_t uid, const std::string& cause);
  // `viewer` sees its own jobs; root sees all.
  std::string StatusJson(uid_t viewer) const;

 private:
  Server(DaemonConfig config, std::shared_ptr<Store> store, std::unique_ptr<Owners> owners, int listen_fd,
         int wake_fd);
  void ReapFinished();

  const DaemonConfig config_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<Owners> owners_;
  const int listen_fd_;
  const int wake_fd_;  // eventfd: Stop() wakes the accept loop
  const std::chrono::steady_clock::time_point started_;
  std::atomic<bool> stopping_{false};
  uint64_t next_session_id_ = 1;

  mutable std::mutex mu_;
  std::condition_variable detached_;  // a job was detached, or the server stops
  std::vector<std::shared_ptr<Session>> sessions_;
  std::map<std::string, Session*> attached_;
  std::vector<SessionFailure> failures_;
};

}  // namespace ckpt::daemon
