#include "server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "ipc/channel.h"
#include "log.h"
#include "session.h"
#include "util/file_util.h"

namespace ckpt::daemon {
namespace {

// Binds and listens on `path`. A socket file nobody answers on is stale (a
// daemon that died) and is replaced; one a live daemon answers on is kBusy.
Result<int> Listen(const std::string& path, mode_t mode) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return Status::InvalidArgument("--socket '" + path + "' is empty or longer than " +
                                   std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  std::memcpy(addr.sun_path, path.data(), path.size());
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::InvalidArgument(path + " exists and is not a socket");
    auto probe = ipc::Channel::Connect(path);
    if (probe.ok()) return Status::Busy("another ckptd already serves " + path);
    ::unlink(path.c_str());
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  // The socket file gets `mode` from the start: no window in which a wider
  // umask lets others connect.
  const mode_t old_mask = ::umask(static_cast<mode_t>(~mode & 0777));
  const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) {
    ::close(fd);
    return ErrnoStatus("bind " + path, bind_errno);
  }
  if (::chmod(path.c_str(), mode) != 0 || ::listen(fd, 64) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus("listen on " + path, err);
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Open(const DaemonConfig& config) {
  if (config.store_dir.empty()) return Status::InvalidArgument("--store is required");
  if (config.socket_path.empty()) return Status::InvalidArgument("--socket is required");
  StoreOptions so;
  so.use_direct_io = config.direct_io;
  auto store = Store::Open(config.store_dir, so);
  if (!store.ok()) {
    if (store.status().code() == Status::Code::kBusy)
      return Status::Busy("store " + config.store_dir +
                          " is written by another process (another ckptd, or a job in embedded mode): " +
                          store.status().message());
    return store.status();
  }
  auto owners = Owners::Load(config.store_dir + "/ckptd-owners.json");
  if (!owners.ok()) return owners.status();
  auto fd = Listen(config.socket_path, config.socket_mode);
  if (!fd.ok()) return fd.status();
  const int wake = ::eventfd(0, EFD_CLOEXEC);
  if (wake < 0) {
    ::close(*fd);
    return ErrnoStatus("eventfd", errno);
  }
  return std::unique_ptr<Server>(
      new Server(config, std::move(store).value(), std::move(owners).value(), *fd, wake));
}

Server::Server(DaemonConfig config, std::shared_ptr<Store> store, std::unique_ptr<Owners> owners,
               int listen_fd, int wake_fd)
    : config_(std::move(config)),
      store_(std::move(store)),
      owners_(std::move(owners)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      started_(std::chrono::steady_clock::now()) {}

Server::~Server() {
  ::close(listen_fd_);
  ::close(wake_fd_);
  ::unlink(config_.socket_path.c_str());
}

void Server::Stop() {
  stopping_ = true;
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  { std::lock_guard<std::mutex> lock(mu_); }  // an Attach waiting now sees stopping_
  detached_.notify_all();
}

void Server::ReapFinished() {
  std::vector<std::shared_ptr<Session>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if ((*it)->finished()) {
        done.push_back(*it);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : done) s->Join();
}

void Server::Run() {
  Log(LogLevel::kInfo, "serving store " + store_->dir() + " on " + config_.socket_path);
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, 1000);
    ReapFinished();
    if (n < 0 && errno != EINTR) {
      Log(LogLevel::kError, "poll: " + std::string(std::strerror(errno)));
      break;
    }
    if (n <= 0 || !(fds[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
        Log(LogLevel::kWarn, "accept: " + std::string(std::strerror(errno)));
      continue;
    }
    auto channel = std::make_unique<ipc::Channel>(fd);
    ucred peer{};
    socklen_t len = sizeof(peer);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
      Log(LogLevel::kWarn, "SO_PEERCRED: " + std::string(std::strerror(errno)) + "; connection dropped");
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (sessions_.size() >= config_.max_sessions) {
      Log(LogLevel::kWarn, "connection of uid " + std::to_string(peer.uid) + " refused: max-sessions reached");
      (void)channel->Send(ipc::Error{ipc::ToWire(Status::Busy("ckptd serves its maximum number of sessions"))});
      continue;
    }
    auto session = std::make_shared<Session>(this, std::move(channel), peer, next_session_id_++);
    sessions_.push_back(session);
    session->Start();
  }
  Log(LogLevel::kInfo, "shutting down: finishing checkpoints in flight");
  std::vector<std::shared_ptr<Session>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all = sessions_;
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(config_.shutdown_grace_seconds));
  for (auto& s : all) s->Drain(deadline);
  for (auto& s : all) s->Join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.clear();
  }
  Log(LogLevel::kInfo, "stopped");
}

Status Server::Attach(const std::string& job, uid_t uid, Session* session) {
  CKPT_RETURN_IF_ERROR(owners_->Claim(job, uid));
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(kAttachWaitSeconds));
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (stopping_) return Status::Aborted("ckptd is shutting down");
    auto [it, inserted] = attached_.emplace(job, session);
    if (inserted) return Status::OK();
    if (!it->second->ending()) return Status::Busy("job " + job + " is attached by another live session");
    if (detached_.wait_until(lock, deadline) == std::cv_status::timeout && attached_.count(job))
      return Status::Busy("job " + job + " is still finishing the checkpoints of its previous session after " +
                          std::to_string(static_cast<int>(kAttachWaitSeconds)) + " s; try again later");
  }
}

void Server::Detach(const std::string& job, Session* session) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attached_.find(job);
  if (it != attached_.end() && it->second == session) attached_.erase(it);
  detached_.notify_all();
}

void Server::RecordFailure(const std::string& job, uid_t uid, const std::string& cause) {
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // Into the store's failure history, the interval policy's input.
  ckpt::FailureEvent event{job, now_us, FailureSource::kDaemon,
                           cause.substr(0, std::min(cause.size(), kMaxFailureCauseBytes))};
  Status recorded = store_->RecordFailure(event);
  if (!recorded.ok() && recorded.code() != Status::Code::kAlreadyExists)
    Log(LogLevel::kError, "cannot record the failure of job " + job + " in the store: " + recorded.ToString());
  std::lock_guard<std::mutex> lock(mu_);
  failures_.push_back({now_us / 1000, job, uid, cause});
  if (failures_.size() > 1000) failures_.erase(failures_.begin());  // bounded memory
}

std::string Server::StatusJson(uid_t viewer) const {
  nlohmann::json j;
  j["store"] = store_->dir();
  j["socket"] = config_.socket_path;
  j["pid"] = ::getpid();
  j["uptime_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  j["jobs"] = nlohmann::json::array();
  j["failures"] = nlohmann::json::array();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : sessions_) {
    if (viewer != 0 && s->uid() != viewer) continue;
    nlohmann::json job = s->StatusJson();
    if (!job.is_null()) j["jobs"].push_back(std::move(job));
  }
  // The newest failures first, as many as fit in one reply.
  size_t budget = ipc::kMaxStatusText / 2 - j.dump().size();
  for (auto it = failures_.rbegin(); it != failures_.rend(); ++it) {
    if (viewer != 0 && it->uid != viewer) continue;
    nlohmann::json f = {{"unix_ms", it->unix_ms}, {"job", it->job}, {"uid", it->uid}, {"cause", it->cause}};
    const size_t size = f.dump().size() + 1;
    if (size > budget) break;
    budget -= size;
    j["failures"].push_back(std::move(f));
  }
  return j.dump();
}

}  // namespace ckpt::daemon
