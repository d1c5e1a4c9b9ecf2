#include "client/daemon_session.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <future>

#include "client/ticket_state.h"
#include "util/file_util.h"

namespace ckpt {
namespace {

bool IsDeviceSide(const MemoryLocation& l) {
  return l.kind == MemoryKind::kDevice || l.kind == MemoryKind::kManaged;
}

}  // namespace

Result<std::unique_ptr<DaemonSession>> DaemonSession::Open(const Options& options) {
  const std::string where = "ckptd at " + options.daemon_socket;
  auto channel = ipc::Channel::Connect(options.daemon_socket);
  if (!channel.ok()) return channel.status();
  ipc::Hello hello{options.job, options.chunk_bytes, options.staging_bytes,
                   static_cast<uint8_t>(options.compression), options.zstd_level};
  CKPT_RETURN_IF_ERROR((*channel)->Send(hello).WithContext(where));
  int fd = -1;
  auto reply = (*channel)->Receive(&fd);
  struct FdCloser {
    int* fd;
    ~FdCloser() {
      if (*fd >= 0) ::close(*fd);
    }
  } closer{&fd};
  if (!reply.ok()) return reply.status().WithContext(where);
  if (!reply->has_value())
    return Status::Aborted(where + " closed the connection on attach (a ckptd of an older protocol version "
                           "closes a newer client's connection unanswered: this client speaks ipc protocol "
                           "version " + std::to_string(ipc::kVersion) + "; if ckptd is older, upgrade it)");
  if (const auto* error = std::get_if<ipc::Error>(&**reply))
    return ipc::FromWire(error->status).WithContext(where + " refused job " + options.job);
  const auto* offer = std::get_if<ipc::PoolOffer>(&**reply);
  if (offer == nullptr || fd < 0)
    return Status::Corruption(where + ": expected the staging pool, got " +
                              ipc::TypeName(ipc::TypeOf(**reply)));
  if (offer->slot_bytes != options.chunk_bytes)
    return Status::Corruption(where + ": staging slots of " + std::to_string(offer->slot_bytes) +
                              " bytes, not the chunk size");
  // Never map past the end of the memfd (that would be SIGBUS on access).
  struct stat st{};
  if (::fstat(fd, &st) != 0) return ErrnoStatus(where + ": fstat of the staging pool", errno);
  if (static_cast<uint64_t>(st.st_size) < offer->slot_bytes * offer->slots)
    return Status::Corruption(where + ": the staging pool is smaller than offered");
  auto pool = StagingPool::MapShared(fd, offer->slot_bytes, offer->slots);
  if (!pool.ok()) return pool.status().WithContext(where);
  return std::unique_ptr<DaemonSession>(new DaemonSession(options, std::move(channel).value(),
                                                          std::move(pool).value(), NewDefaultCopyEngine()));
}

DaemonSession::DaemonSession(const Options& options, std::unique_ptr<ipc::Channel> channel,
                             std::unique_ptr<StagingPool> pool, std::unique_ptr<CopyEngine> engine)
    : options_(options), channel_(std::move(channel)), pool_(std::move(pool)), copy_engine_(std::move(engine)) {
  receiver_ = std::thread([this] { ReceiveLoop(); });
  copier_ = std::thread([this] { CopyLoop(); });
}

DaemonSession::~DaemonSession() {
  (void)Flush();
  requests_.Close();
  copier_.join();
  if (Broken().ok() && channel_->Send(ipc::Close{}).ok()) {
    while (true) {  // the daemon answers Closed once everything is finished
      auto m = NextReply();
      if (!m.ok() || std::holds_alternative<ipc::Closed>(*m)) break;
    }
  }
  channel_->Shutdown();
  receiver_.join();
  pool_->Close();
}

Status DaemonSession::Broken() const {
  std::lock_guard<std::mutex> lock(mu_);
  return broken_;
}

Status DaemonSession::Protect(const std::string& name, void* data, size_t bytes, ElementType type,
                              std::optional<Shape> shape) {
  if (name.empty() || name.size() > ipc::kMaxRegionName)
    return Status::InvalidArgument("region name must have 1 to 1024 bytes");
  if (data == nullptr && bytes > 0) return Status::InvalidArgument("region '" + name + "' has a null pointer");
  if (bytes % ElementSize(type) != 0)
    return Status::InvalidArgument("region '" + name + "' has " + std::to_string(bytes) +
                                   " bytes, not a multiple of its element size");
  std::lock_guard<std::mutex> lock(mu_);
  if (regions_.size() >= ipc::kMaxRegions) return Status::InvalidArgument("more than 4096 regions");
  for (const auto& r : regions_)
    if (r.name == name) return Status::AlreadyExists("region '" + name + "' is already protected");
  auto location = copy_engine_->Locate(data, bytes);
  if (!location.ok()) return location.status().WithContext("protect region '" + name + "'");
  if (IsDeviceSide(*location) && !staging_pinned_) {
    // Device copies need pinned staging: pin the daemon's shared pool here
    // (cudaHostRegister in the CUDA engine), once.
    CKPT_RETURN_IF_ERROR(copy_engine_->PinStaging(pool_->base(), pool_->total_bytes())
                             .WithContext("protect region '" + name + "'"));
    staging_pinned_ = true;
  }
  regions_.push_back({name, static_cast<uint8_t*>(data), bytes, type, *location, std::move(shape)});
  return Status::OK();
}

std::vector<ProtectedRegion> DaemonSession::Regions() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ProtectedRegion> out;
  for (const auto& r : regions_)
    out.push_back({r.name, r.bytes, r.type, r.location.kind, r.location.device, r.shape});
  return out;
}

std::vector<ipc::RegionEntry> DaemonSession::Table(const std::vector<Region>& regions) const {
  std::vector<ipc::RegionEntry> table;
  for (const auto& r : regions) table.push_back({r.name, r.type, r.bytes, r.shape});
  return table;
}

Result<Ticket> DaemonSession::Checkpoint(uint64_t step, CUstream_st* stream, std::string user_state) {
  if (user_state.size() > kMaxUserStateBytes)
    return Status::InvalidArgument("checkpoint(" + std::to_string(step) + "): user state of " +
                                   std::to_string(user_state.size()) + " bytes exceeds the limit of " +
                                   std::to_string(kMaxUserStateBytes) + " bytes (kMaxUserStateBytes)");
  std::lock_guard<std::mutex> lock(mu_);
  if (!broken_.ok()) return broken_;
  if (regions_.empty())
    return Status::FailedPrecondition("checkpoint(" + std::to_string(step) + "): no region is protected");
  bool device_regions = false;
  for (const auto& r : regions_) device_regions |= IsDeviceSide(r.location);
  auto point = copy_engine_->Mark(stream, device_regions);
  if (!point.ok()) return point.status().WithContext("checkpoint(" + std::to_string(step) + ")");
  auto state = std::make_shared<Ticket::State>(step, copy_engine_->accepts_streams());
  tickets_.Add(state);
  requests_.Push(Request{state, regions_, std::move(point).value(), std::move(user_state)});
  return Ticket(state);
}

void DaemonSession::CopyLoop() {
  pthread_setname_np(pthread_self(), "ckpt-copy");
  while (auto request = requests_.Pop()) CopyRequest(*request);
}

// Copies one checkpoint into the shared pool chunk by chunk, announcing each
// staged chunk; CopyDone (and "copied") only after the last one.
void DaemonSession::CopyRequest(Request& request) {
  auto state = request.state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!broken_.ok()) {
      state->Fail(broken_);
      return;
    }
    awaiting_daemon_.push_back(state);
  }
  if (Status s = channel_->Send(ipc::Begin{state->step, Table(request.regions), std::move(request.user_state)});
      !s.ok()) {
    state->Fail(s.WithContext("ckptd at " + options_.daemon_socket));
    return;  // the receiver fails what awaits the daemon when it sees the break
  }
  auto pending = std::make_shared<std::atomic<int>>(1);
  auto error = std::make_shared<Status>();
  auto error_mu = std::make_shared<std::mutex>();
  auto all_copied = std::make_shared<std::promise<void>>();
  auto set_error = [error, error_mu](const Status& s) {
    std::lock_guard<std::mutex> lock(*error_mu);
    if (error->ok()) *error = s;
  };
  auto finish = [this, state, error, error_mu, all_copied] {
    Status e;
    {
      std::lock_guard<std::mutex> lock(*error_mu);
      e = *error;
    }
    Status sent = channel_->Send(ipc::CopyDone{ipc::ToWire(e)});
    // Copied only once the daemon knows the snapshot is complete: from here
    // the checkpoint commits even if this process dies.
    if (e.ok() && sent.ok()) state->SetCopied();
    if (!sent.ok()) state->Fail(sent.WithContext("ckptd at " + options_.daemon_socket));
    all_copied->set_value();
  };
  auto failed = [error, error_mu] {
    std::lock_guard<std::mutex> lock(*error_mu);
    return !error->ok();
  };
  bool stop = false;
  if (Status begun = copy_engine_->BeginSnapshot(request.point); !begun.ok()) {
    set_error(begun.WithContext("start the snapshot copy"));
    stop = true;
  }
  for (size_t r = 0; r < request.regions.size() && !stop; ++r) {
    const Region& region = request.regions[r];
    for (size_t offset = 0; offset < region.bytes; offset += options_.chunk_bytes) {
      const int slot = pool_->Acquire();
      if (slot < 0) {
        set_error(Status::Aborted("ckptd at " + options_.daemon_socket + " closed the connection"));
        stop = true;
        break;
      }
      if (failed()) {
        pool_->Release(slot);
        stop = true;
        break;
      }
      const size_t size = std::min(options_.chunk_bytes, region.bytes - offset);
      const size_t index = offset / options_.chunk_bytes;
      pending->fetch_add(1);
      copy_engine_->CopyToStaging(
          // No digest: ckptd hashes what it stores itself, never trusting a
          // client's word for the content of a chunk other jobs may share.
          region.data + offset, region.location, pool_->data(slot), size, nullptr,
          [this, r, index, slot, size, pending, set_error, finish, name = region.name](Status s) {
            if (s.ok()) {
              s = channel_->Send(ipc::ChunkStaged{static_cast<uint32_t>(r), index, static_cast<uint32_t>(slot), size});
              // The slot comes back with the daemon's SlotFree.
              if (!s.ok()) set_error(s.WithContext("ckptd at " + options_.daemon_socket));
            } else {
              pool_->Release(slot);
              set_error(s.WithContext("copy region '" + name + "' chunk " + std::to_string(index) + " to staging"));
            }
            if (pending->fetch_sub(1) == 1) finish();
          });
    }
  }
  std::shared_ptr<CopyFence> fence;
  if (!stop) {
    auto ended = copy_engine_->EndSnapshot();
    if (ended.ok()) fence = std::move(ended).value();
    else set_error(ended.status().WithContext("end the snapshot copy"));
  }
  state->SetIssued(std::move(fence));
  if (pending->fetch_sub(1) == 1) finish();
  all_copied->get_future().wait();
}

void DaemonSession::ReceiveLoop() {
  pthread_setname_np(pthread_self(), "ckpt-daemon-rx");
  const std::string where = "ckptd at " + options_.daemon_socket;
  Status why;
  while (true) {
    auto m = channel_->Receive();
    if (!m.ok()) {
      why = m.status().WithContext(where);
      break;
    }
    if (!m->has_value()) {
      why = Status::Aborted(where + " closed the connection (daemon stopped or restarted?)");
      break;
    }
    const ipc::Message& msg = **m;
    if (const auto* free = std::get_if<ipc::SlotFree>(&msg)) {
      if (free->slot >= pool_->slots()) {
        why = Status::Corruption(where + ": SlotFree of a slot that does not exist");
        break;
      }
      pool_->Release(static_cast<int>(free->slot));
    } else if (std::holds_alternative<ipc::Durable>(msg) || std::holds_alternative<ipc::Failed>(msg)) {
      std::shared_ptr<Ticket::State> state;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!awaiting_daemon_.empty()) {
          state = awaiting_daemon_.front();
          awaiting_daemon_.pop_front();
        }
      }
      if (state == nullptr) {
        why = Status::Corruption(where + ": a checkpoint result nobody waits for");
        break;
      }
      if (const auto* d = std::get_if<ipc::Durable>(&msg)) {
        state->SetDurable({d->logical_bytes, d->written_bytes, d->chunks, d->new_chunks, 0, 0});
      } else {
        const Status error = ipc::FromWire(std::get<ipc::Failed>(msg).status).WithContext(where);
        std::fprintf(stderr, "ckpt: checkpoint of job %s step %llu FAILED: %s (training goes on; "
                     "earlier checkpoints are intact)\n",
                     options_.job.c_str(), static_cast<unsigned long long>(state->step), error.ToString().c_str());
        state->Fail(error);
      }
    } else {
      replies_.Push(msg);
    }
  }
  std::deque<std::shared_ptr<Ticket::State>> orphans;
  {
    std::lock_guard<std::mutex> lock(mu_);
    broken_ = why;
    orphans.swap(awaiting_daemon_);
  }
  for (auto& s : orphans) s->Fail(why);
  pool_->Close();  // the copier stops waiting for slots
  replies_.Close();
}

Result<ipc::Message> DaemonSession::NextReply() {
  auto m = replies_.Pop();
  if (!m) {
    Status b = Broken();
    return b.ok() ? Status::Aborted("ckptd at " + options_.daemon_socket + " closed the connection") : b;
  }
  if (const auto* error = std::get_if<ipc::Error>(&*m)) return ipc::FromWire(error->status);
  return std::move(*m);
}

Status DaemonSession::Flush() { return tickets_.Flush(); }

std::optional<uint64_t> DaemonSession::LatestStep() {
  // Not under mu_: the daemon answers after the checkpoints in flight, whose
  // results the receiver thread records under mu_.
  std::lock_guard<std::mutex> rpc(rpc_mu_);
  if (!Broken().ok() || !channel_->Send(ipc::LatestQuery{}).ok()) return std::nullopt;
  auto m = NextReply();
  if (!m.ok()) return std::nullopt;
  const auto* reply = std::get_if<ipc::LatestReply>(&*m);
  if (reply == nullptr || !reply->has_step) return std::nullopt;
  return reply->step;
}

Result<uint64_t> DaemonSession::Restore(std::optional<uint64_t> step) {
  tickets_.WaitIdle();  // a restore must not race a commit of the same job
  std::lock_guard<std::mutex> rpc(rpc_mu_);
  std::vector<Region> regions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!broken_.ok()) return broken_;
    regions = regions_;
  }
  if (regions.empty()) return Status::FailedPrecondition("restore: no region is protected");
  const std::string where = "restore job " + options_.job + " through ckptd at " + options_.daemon_socket;
  CKPT_RETURN_IF_ERROR(
      channel_->Send(ipc::Restore{step.has_value(), step.value_or(0), Table(regions)}).WithContext(where));
  Status copy_error;
  while (true) {
    auto m = NextReply();
    if (!m.ok()) return m.status().WithContext(where);
    if (const auto* done = std::get_if<ipc::RestoreDone>(&*m)) {
      Status s = ipc::FromWire(done->status);
      if (!s.ok()) return s;
      CKPT_RETURN_IF_ERROR(copy_error.WithContext(where));
      std::lock_guard<std::mutex> lock(mu_);
      restored_user_state_ = done->user_state;
      return done->step;
    }
    const auto* chunk = std::get_if<ipc::RestoreChunk>(&*m);
    if (chunk == nullptr)
      return Status::Corruption(where + ": unexpected " + ipc::TypeName(ipc::TypeOf(*m)));
    if (chunk->region >= regions.size() || chunk->slot >= pool_->slots() || chunk->size > pool_->slot_bytes() ||
        chunk->offset > regions[chunk->region].bytes ||
        chunk->size > regions[chunk->region].bytes - chunk->offset)
      return Status::Corruption(where + ": RestoreChunk out of bounds");
    const Region& region = regions[chunk->region];
    std::promise<Status> copied;
    copy_engine_->CopyFromStaging(pool_->data(static_cast<int>(chunk->slot)), region.data + chunk->offset,
                                  region.location, chunk->size, [&copied](Status s) { copied.set_value(s); });
    Status s = copied.get_future().get();
    if (copy_error.ok() && !s.ok()) copy_error = s.WithContext("copy region '" + region.name + "'");
    CKPT_RETURN_IF_ERROR(channel_->Send(ipc::RestoreAck{chunk->slot}).WithContext(where));
  }
}

}  // namespace ckpt

namespace ckpt {

std::string DaemonSession::RestoredUserState() const {
  std::lock_guard<std::mutex> lock(mu_);
  return restored_user_state_;
}

Result<CheckpointInfo> DaemonSession::Info(uint64_t step) {
  std::lock_guard<std::mutex> rpc(rpc_mu_);
  const std::string where = "info of job " + options_.job + " step " + std::to_string(step) +
                            " from ckptd at " + options_.daemon_socket;
  CKPT_RETURN_IF_ERROR(Broken());
  CKPT_RETURN_IF_ERROR(channel_->Send(ipc::InfoQuery{step}).WithContext(where));
  auto m = NextReply();
  if (!m.ok()) return m.status().WithContext(where);
  const auto* reply = std::get_if<ipc::InfoReply>(&*m);
  if (reply == nullptr) return Status::Corruption(where + ": unexpected " + ipc::TypeName(ipc::TypeOf(*m)));
  CKPT_RETURN_IF_ERROR(ipc::FromWire(reply->status));
  CheckpointInfo info;
  info.job = options_.job;
  info.step = reply->step;
  info.created_unix_ms = reply->created_unix_ms;
  if (reply->has_parent) info.parent_step = reply->parent_step;
  info.chunk_bytes = reply->chunk_bytes;
  info.logical_bytes = reply->logical_bytes;
  info.written_bytes = reply->written_bytes;
  info.chunks = reply->chunks;
  info.new_chunks = reply->new_chunks;
  for (const auto& r : reply->regions) {
    const uint64_t chunks = reply->chunk_bytes == 0 ? 0 : (r.bytes + reply->chunk_bytes - 1) / reply->chunk_bytes;
    info.regions.push_back({r.name, r.type, r.bytes, chunks, r.shape});
  }
  info.user_state = reply->user_state;
  return info;
}

}  // namespace ckpt
