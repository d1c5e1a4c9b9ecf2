// A framed message connection over a connected Unix stream socket, with file
// descriptor passing (SCM_RIGHTS) for the staging pool's memfd.
//
// Ownership: the channel owns its socket and closes it when destroyed.
// Thread safety: Send may be called from several threads (serialized by an
// internal mutex); Receive from one thread at a time. Shutdown may be called
// from any thread to wake a blocked Receive.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ckpt/status.h"
#include "ipc/protocol.h"

namespace ckpt::ipc {

class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Connects to the Unix socket at `path`. kNotFound when nothing listens
  // there (no socket file or connection refused).
  static Result<std::unique_ptr<Channel>> Connect(const std::string& path);

  // Sends one frame; `pass_fd` (when >= 0) travels with it as SCM_RIGHTS.
  Status Send(const Message& m, int pass_fd = -1);

  // Receives one frame. nullopt when the peer closed the connection cleanly
  // between frames. kCorruption/kUnsupported for a malformed frame, kIOError
  // when the connection broke inside one. A descriptor that arrives is
  // stored in *received_fd (the caller owns it) or closed when that is null.
  Result<std::optional<Message>> Receive(int* received_fd = nullptr);

  // Ends both directions: a Receive blocked in another thread returns.
  void Shutdown();

  int fd() const { return fd_; }

 private:
  // Reads exactly n bytes; false on clean EOF before the first byte.
  Result<bool> ReadFull(char* buf, size_t n, int* received_fd);

  int fd_;
  std::mutex send_mu_;
};

}  // namespace ckpt::ipc
