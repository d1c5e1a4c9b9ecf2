#include "ipc/channel.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/file_util.h"

namespace ckpt::ipc {

Channel::~Channel() { ::close(fd_); }

Result<std::unique_ptr<Channel>> Channel::Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return Status::InvalidArgument("socket path '" + path + "' is empty or longer than " +
                                   std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED)
      return Status::NotFound("no ckptd listens on " + path + " (" + std::strerror(err) + ")");
    return ErrnoStatus("connect to ckptd at " + path, err);
  }
  return std::make_unique<Channel>(fd);
}

Status Channel::Send(const Message& m, int pass_fd) {
  auto frame = Encode(m);
  if (!frame.ok()) return frame.status();
  std::lock_guard<std::mutex> lock(send_mu_);
  size_t done = 0;
  bool fd_sent = pass_fd < 0;
  while (done < frame->size()) {
    iovec iov{frame->data() + done, frame->size() - done};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    if (!fd_sent) {
      std::memset(control, 0, sizeof(control));
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      // The same error whichever side notices first, a send or the receiver.
      if (errno == EPIPE || errno == ECONNRESET)
        return Status::Aborted(std::string("send ipc ") + TypeName(TypeOf(m)) +
                               ": the peer closed the connection");
      return ErrnoStatus(std::string("send ipc ") + TypeName(TypeOf(m)), errno);
    }
    fd_sent = true;
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

Result<bool> Channel::ReadFull(char* buf, size_t n, int* received_fd) {
  size_t done = 0;
  while (done < n) {
    iovec iov{buf + done, n - done};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t got = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("receive from the ckpt peer", errno);
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (received_fd != nullptr && *received_fd < 0) {
          *received_fd = fd;
        } else {
          ::close(fd);  // unexpected descriptors are dropped, never leaked
        }
      }
    }
    if (got == 0) {
      if (done == 0) return false;
      return Status::IOError("the ckpt peer closed the connection inside a message");
    }
    done += static_cast<size_t>(got);
  }
  return true;
}

Result<std::optional<Message>> Channel::Receive(int* received_fd) {
  if (received_fd != nullptr) *received_fd = -1;
  char header[kHeaderBytes];
  auto got = ReadFull(header, sizeof(header), received_fd);
  if (!got.ok()) return got.status();
  if (!*got) return std::optional<Message>();
  auto h = DecodeHeader(std::string_view(header, sizeof(header)));
  if (!h.ok()) return h.status();
  // Grown as the bytes arrive (at most 1 MiB ahead of them): a peer that
  // announces a large payload and sends nothing costs no memory.
  std::string payload;
  while (payload.size() < h->payload_bytes) {
    const size_t have = payload.size();
    const size_t piece = std::min<size_t>(h->payload_bytes - have, kMaxSmallPayload);
    payload.resize(have + piece);
    auto more = ReadFull(payload.data() + have, piece, received_fd);
    if (!more.ok()) return more.status();
    if (!*more) return Status::IOError("the ckpt peer closed the connection inside a message");
  }
  auto m = DecodePayload(h->type, payload);
  if (!m.ok()) return m.status();
  return std::optional<Message>(std::move(m).value());
}

void Channel::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

}  // namespace ckpt::ipc
