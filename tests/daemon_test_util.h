// Helpers of the ckptd tests: a ckptd subprocess (CKPT_BIN_DIR/ckptd) on a
// scratch store and socket, and daemon-mode client options.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fcntl.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "ckpt/client.h"
#include "ipc/channel.h"
#include "test_util.h"

extern char** environ;

namespace ckpt::testing {

// A running ckptd; SIGKILLed by the destructor if still running.
class DaemonProcess {
 public:
  DaemonProcess(const std::string& store, const std::string& socket, std::vector<std::string> extra = {})
      : store_(store), socket_(socket), log_(socket + ".log") {
    // `socket` must be where the daemon listens, also when set by a config file.
    Start(extra);
  }
  ~DaemonProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }

  void Start(std::vector<std::string> extra = {}) {
    const std::string bin = std::string(CKPT_BIN_DIR) + "/ckptd";
    // An empty store: everything comes from `extra` (e.g. --config FILE).
    std::vector<std::string> words = {bin};
    if (!store_.empty()) words.insert(words.end(), {"--store", store_, "--socket", socket_, "--log-level", "debug"});
    words.insert(words.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ASSERT_EQ(posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    // Serving once a connection succeeds (30 s: sanitizer builds on a loaded
    // machine create the store slowly).
    for (int i = 0; i < 3000; ++i) {
      if (ipc::Channel::Connect(socket_).ok()) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "ckptd exited at start; log:\n" << Log();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "ckptd did not serve " << socket_ << " within 30 s; log:\n" << Log();
  }

  // Sends `sig` and waits; returns the exit status (128 + signal if killed).
  int Stop(int sig = SIGTERM) {
    ::kill(pid_, sig);
    return Wait();
  }
  bool Running() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }
  std::string Log() const;
  const std::string& socket() const { return socket_; }

 private:
  int Wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string store_, socket_, log_;
  pid_t pid_ = -1;
};

inline std::string DaemonProcess::Log() const {
  std::ifstream in(log_);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Daemon-mode options: small chunks, a small pool.
inline Options DaemonOptions(const std::string& socket, const std::string& job) {
  Options o;
  o.daemon_socket = socket;
  o.job = job;
  o.chunk_bytes = size_t{64} << 10;
  o.staging_bytes = size_t{8} << 16;
  return o;
}

// The status JSON of the daemon at `socket`.
inline std::string QueryStatus(const std::string& socket) {
  auto ch = ipc::Channel::Connect(socket);
  if (!ch.ok() || !(*ch)->Send(ipc::StatusQuery{}).ok()) return "";
  auto reply = (*ch)->Receive();
  if (!reply.ok() || !reply->has_value()) return "";
  const auto* s = std::get_if<ipc::StatusReply>(&**reply);
  return s ? s->json : "";
}

// Polls `pred` every 20 ms for up to `seconds`.
template <typename Pred>
bool Eventually(Pred pred, double seconds = 30) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace ckpt::testing
