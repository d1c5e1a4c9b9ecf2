#include "session.h"

#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "engine/chunk_codec.h"
#include "engine/manifest.h"
#include "log.h"
#include "server.h"
#include "store/catalog.h"
#include "store/store_rep.h"
#include "util/file_util.h"

namespace ckpt::daemon {
namespace {

// A checkpoint's chunk table is allocated from the region table a client
// sends: bound it (4 Mi chunks is 16 TiB at the default 4 MiB chunk).
constexpr uint64_t kMaxChunksPerCheckpoint = uint64_t{1} << 22;

uint64_t ChunkCount(uint64_t bytes, uint64_t chunk) { return (bytes + chunk - 1) / chunk; }

}  // namespace

Session::Session(Server* server, std::unique_ptr<ipc::Channel> channel, ucred peer, uint64_t id)
    : server_(server),
      channel_(std::move(channel)),
      peer_(peer),
      id_(id),
      connected_(std::chrono::system_clock::now()) {}

Session::~Session() { Join(); }

void Session::Start() {
  reader_ = std::thread([this] { ReaderLoop(); });
}

void Session::Join() {
  if (reader_.joinable()) reader_.join();
}

bool Session::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_;
}

void Session::Drain(std::chrono::steady_clock::time_point deadline) {
  // Quiet: nothing in flight, no message being handled and none waiting in
  // the socket (a CopyDone already sent must still be read and committed).
  auto quiet = [&] {
    if (finished_) return true;
    if (copy_in_progress_ || in_flight_ != 0 || handling_) return false;
    int pending = 0;
    return ::ioctl(channel_->fd(), FIONREAD, &pending) != 0 || pending == 0;
  };
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (!quiet() && std::chrono::steady_clock::now() < deadline)
      cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
  channel_->Shutdown();
}

nlohmann::json Session::StatusJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!attached_) return nullptr;
  nlohmann::json j;
  j["job"] = job_;
  j["uid"] = peer_.uid;
  j["pid"] = peer_.pid;
  j["connected_unix_ms"] =
      std::chrono::duration_cast<std::chrono::milliseconds>(connected_.time_since_epoch()).count();
  j["staging_bytes"] = pool_ ? pool_->total_bytes() : 0;
  j["copy_in_progress"] = copy_in_progress_;
  j["checkpoints_in_flight"] = in_flight_;
  j["checkpoints_committed"] = committed_;
  j["checkpoints_failed"] = failed_;
  j["bytes_staged"] = staged_bytes_;
  j["bytes_logical_committed"] = logical_bytes_;
  j["bytes_written"] = written_bytes_;
  j["throughput_mb_per_s"] = busy_seconds_ > 0 ? logical_bytes_ / busy_seconds_ / 1e6 : 0.0;
  if (has_last_step_) j["last_committed_step"] = last_step_;
  return j;
}

void Session::ReaderLoop() {
  pthread_setname_np(pthread_self(), "ckptd-session");
  std::string cause;
  bool clean = false;
  while (true) {
    auto m = channel_->Receive();
    if (!m.ok()) {
      // A peer of another protocol version gets the reason in a frame of this
      // version, whose header it can read: it reports kUnsupported with both
      // versions rather than a closed connection.
      if (m.status().code() == Status::Code::kUnsupported) (void)channel_->Send(ipc::Error{ipc::ToWire(m.status())});
      cause = "malformed input: " + m.status().ToString();
      break;
    }
    if (!m->has_value()) {
      cause = "connection closed without Close";
      break;
    }
    bool done = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      handling_ = true;
    }
    Status handled = Handle(**m, &done);
    {
      std::lock_guard<std::mutex> lock(mu_);
      handling_ = false;
    }
    if (!handled.ok()) {
      cause = "protocol violation: " + handled.ToString();
      break;
    }
    if (done) {
      clean = true;
      break;
    }
  }
  EndSession(cause, clean);
}

bool Session::ending() const {
  if (ending_.load()) return true;
  struct pollfd p{channel_->fd(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}

void Session::EndSession(const std::string& cause, bool clean) {
  ending_ = true;
  if (copy_open_) {
    work_.Push(WorkItem{WorkItem::kEnd, copy_step_, {}, 0, 0, 0, 0,
                        Status::Aborted("the client's session ended during the copy of step " +
                                        std::to_string(copy_step_))});
    copy_open_ = false;
  }
  // Checkpoints whose copy completed are committed before the session ends:
  // the staged bytes live in this process's mapping of the pool.
  work_.Close();
  if (processor_.joinable()) processor_.join();
  const std::string who = "session " + std::to_string(id_) + " (uid " + std::to_string(peer_.uid) +
                          ", pid " + std::to_string(peer_.pid) +
                          (attached_ ? ", job " + job_ : std::string()) + ")";
  if (clean) {
    Log(LogLevel::kInfo, who + " closed");
  } else if (server_->stopping()) {
    Log(LogLevel::kInfo, who + " ended by the daemon's shutdown");
  } else if (attached_) {
    server_->RecordFailure(job_, peer_.uid, cause);
    Log(LogLevel::kWarn, who + " ended without a clean close: " + cause);
  } else {
    Log(cause.rfind("connection closed", 0) == 0 ? LogLevel::kDebug : LogLevel::kWarn,
        who + " ended: " + cause);
  }
  if (attached_) server_->Detach(job_, this);
  {
    std::lock_guard<std::mutex> lock(mu_);
    copy_in_progress_ = false;
    finished_ = true;
  }
  cv_.notify_all();
  channel_->Shutdown();
}

Status Session::Handle(const ipc::Message& m, bool* done) {
  if (std::holds_alternative<ipc::StatusQuery>(m))
    return channel_->Send(ipc::StatusReply{server_->StatusJson(peer_.uid)});
  if (const auto* hello = std::get_if<ipc::Hello>(&m)) {
    if (attached_) return Status::InvalidArgument("Hello on an attached session");
    Status s = OnHello(*hello);
    if (!s.ok()) {
      (void)channel_->Send(ipc::Error{ipc::ToWire(s)});
      *done = true;  // a refused attach is not a failure of the job
      Log(LogLevel::kWarn, "session " + std::to_string(id_) + " (uid " + std::to_string(peer_.uid) +
                               "): attach refused: " + s.ToString());
    }
    return Status::OK();
  }
  if (!attached_)
    return Status::InvalidArgument(std::string(ipc::TypeName(ipc::TypeOf(m))) + " before Hello");
  if (const auto* begin = std::get_if<ipc::Begin>(&m)) return OnBegin(*begin);
  if (const auto* chunk = std::get_if<ipc::ChunkStaged>(&m)) return OnChunkStaged(*chunk);
  if (const auto* copied = std::get_if<ipc::CopyDone>(&m)) return OnCopyDone(*copied);
  if (const auto* restore = std::get_if<ipc::Restore>(&m)) return OnRestore(*restore);
  if (const auto* info = std::get_if<ipc::InfoQuery>(&m)) return OnInfoQuery(*info);
  if (std::holds_alternative<ipc::LatestQuery>(m)) {
    // The newest committed step now; the client's copier may be sending a
    // checkpoint at the same time, so this never waits for it.
    auto latest = server_->store()->rep()->catalog().LatestStep(job_);
    ipc::LatestReply reply;
    if (latest.ok() && latest->has_value()) reply = {true, **latest};
    return channel_->Send(reply);
  }
  if (std::holds_alternative<ipc::Close>(m)) {
    if (copy_open_) return Status::InvalidArgument("Close during a copy");
    WaitIdle();
    // Detached before Closed: the client may reattach the job at once.
    server_->Detach(job_, this);
    (void)channel_->Send(ipc::Closed{});
    *done = true;
    return Status::OK();
  }
  return Status::InvalidArgument(std::string("unexpected ") + ipc::TypeName(ipc::TypeOf(m)) +
                                 " from a client");
}

Status Session::OnHello(const ipc::Hello& m) {
  CKPT_RETURN_IF_ERROR(ValidateJobName(m.job));
  const uint64_t chunk = m.chunk_bytes;
  if (chunk < (uint64_t{64} << 10) || chunk > (uint64_t{256} << 20) || chunk % 4096 != 0)
    return Status::InvalidArgument("chunk_bytes must be a multiple of 4096 between 64 KiB and 256 MiB, not " +
                                   std::to_string(chunk));
  if (m.compression != 0 && (m.zstd_level < 1 || m.zstd_level > 19))
    return Status::InvalidArgument("zstd_level must be between 1 and 19, not " + std::to_string(m.zstd_level));
  const uint64_t max_staging = std::max<uint64_t>(server_->config().max_staging_bytes, 2 * chunk);
  const uint64_t staging = std::min<uint64_t>(std::max<uint64_t>(m.staging_bytes, 2 * chunk), max_staging);
  const uint64_t slots = std::min<uint64_t>(std::max<uint64_t>(2, staging / chunk), ipc::kMaxSlots - 1);
  if (staging < m.staging_bytes)
    Log(LogLevel::kInfo, "job " + m.job + ": staging of " + std::to_string(m.staging_bytes) +
                             " bytes requested, " + std::to_string(slots * chunk) + " granted (max-staging-bytes)");

  CKPT_RETURN_IF_ERROR(server_->Attach(m.job, peer_.uid, this));
  Options options;
  options.job = m.job;
  options.chunk_bytes = chunk;
  options.compression = static_cast<Compression>(m.compression);
  options.zstd_level = m.zstd_level;
  options.shared_store = server_->store();
  auto fail = [&](Status s) {
    server_->Detach(m.job, this);
    return s;
  };
  const int fd = ::memfd_create("ckpt-staging", MFD_CLOEXEC);
  if (fd < 0) return fail(ErrnoStatus("memfd_create for the staging pool", errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  if (::ftruncate(fd, static_cast<off_t>(slots * chunk)) != 0)
    return fail(ErrnoStatus("size the staging pool to " + std::to_string(slots * chunk) + " bytes", errno));
  auto pool = StagingPool::MapShared(fd, chunk, slots);
  if (!pool.ok()) return fail(pool.status());
  auto writer = CheckpointWriter::Create(server_->store(), options);
  if (!writer.ok()) return fail(writer.status());
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = m.job;
    chunk_bytes_ = chunk;
    pool_ = std::move(pool).value();
    slot_held_.assign(slots, false);
    attached_ = true;
  }
  writer_ = std::move(writer).value();
  processor_ = std::thread([this] { ProcessLoop(); });
  Log(LogLevel::kInfo, "session " + std::to_string(id_) + ": job " + job_ + " attached by uid " +
                           std::to_string(peer_.uid) + " pid " + std::to_string(peer_.pid) + ", " +
                           std::to_string(slots) + " staging slots of " + std::to_string(chunk) + " bytes");
  return channel_->Send(ipc::PoolOffer{chunk, static_cast<uint32_t>(slots)}, fd);
}

Status Session::OnBegin(const ipc::Begin& m) {
  if (copy_open_) return Status::InvalidArgument("Begin before the previous checkpoint's CopyDone");
  if (m.regions.empty()) return Status::InvalidArgument("Begin with no region");
  std::set<std::string> names;
  uint64_t chunks = 0;
  std::vector<RegionLayout> layout;
  for (const auto& r : m.regions) {
    if (!names.insert(r.name).second) return Status::InvalidArgument("region '" + r.name + "' listed twice");
    if (r.bytes % ElementSize(r.type) != 0)
      return Status::InvalidArgument("region '" + r.name + "' is not a whole number of elements");
    chunks += ChunkCount(r.bytes, chunk_bytes_);
    // The decoder checked that a shape fits the region's size and rank bound.
    layout.push_back({r.name, r.type, r.bytes, r.shape});
  }
  if (chunks > kMaxChunksPerCheckpoint)
    return Status::InvalidArgument("checkpoint of " + std::to_string(chunks) + " chunks exceeds the bound");
  copy_open_ = true;
  copy_step_ = m.step;
  copy_regions_ = m.regions;
  staged_.clear();
  staged_count_.assign(m.regions.size(), 0);
  for (const auto& r : m.regions) staged_.emplace_back(ChunkCount(r.bytes, chunk_bytes_), false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    copy_in_progress_ = true;
    ++in_flight_;
  }
  WorkItem begin{WorkItem::kBegin, m.step, std::move(layout)};
  begin.user_state = m.user_state;  // at most kMaxUserStateBytes (decoder)
  work_.Push(std::move(begin));
  return Status::OK();
}

Status Session::OnChunkStaged(const ipc::ChunkStaged& m) {
  if (!copy_open_) return Status::InvalidArgument("ChunkStaged outside a checkpoint");
  if (m.slot >= pool_->slots()) return Status::InvalidArgument("slot " + std::to_string(m.slot) + " does not exist");
  if (m.region >= copy_regions_.size())
    return Status::InvalidArgument("region index " + std::to_string(m.region) + " out of range");
  const uint64_t bytes = copy_regions_[m.region].bytes;
  if (m.index >= staged_[m.region].size())
    return Status::InvalidArgument("chunk index " + std::to_string(m.index) + " out of range");
  const uint64_t expected = std::min<uint64_t>(chunk_bytes_, bytes - m.index * chunk_bytes_);
  if (m.size != expected)
    return Status::InvalidArgument("chunk " + std::to_string(m.index) + " has " + std::to_string(m.size) +
                                   " bytes, expected " + std::to_string(expected));
  if (staged_[m.region][m.index]) return Status::InvalidArgument("chunk staged twice");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (slot_held_[m.slot]) return Status::InvalidArgument("slot " + std::to_string(m.slot) + " is in use");
    slot_held_[m.slot] = true;
    staged_bytes_ += m.size;
  }
  staged_[m.region][m.index] = true;
  ++staged_count_[m.region];
  work_.Push(WorkItem{WorkItem::kChunk, copy_step_, {}, m.region, m.index, m.slot, m.size});
  return Status::OK();
}

Status Session::OnCopyDone(const ipc::CopyDone& m) {
  if (!copy_open_) return Status::InvalidArgument("CopyDone outside a checkpoint");
  Status copy = ipc::FromWire(m.status);
  if (copy.ok()) {
    for (size_t r = 0; r < staged_.size(); ++r)
      if (staged_count_[r] != staged_[r].size())
        return Status::InvalidArgument("CopyDone before every chunk of region '" + copy_regions_[r].name +
                                       "' was staged");
  }
  copy_open_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    copy_in_progress_ = false;
  }
  cv_.notify_all();
  work_.Push(WorkItem{WorkItem::kEnd, copy_step_, {}, 0, 0, 0, 0, copy.WithContext("the client's copy")});
  return Status::OK();
}

void Session::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return in_flight_ == 0; });
}

void Session::ProcessLoop() {
  pthread_setname_np(pthread_self(), "ckptd-write");
  Status status;
  uint64_t step = 0;
  auto began = std::chrono::steady_clock::now();
  while (auto item = work_.Pop()) {
    switch (item->kind) {
      case WorkItem::kBegin:
        step = item->step;
        began = std::chrono::steady_clock::now();
        // The same Begin as embedded mode: shapes and user state go to the manifest.
        status = writer_->Begin(job_, step, std::move(item->layout), std::move(item->user_state));
        break;
      case WorkItem::kChunk:
        if (status.ok()) {
          status = writer_->AddChunk(item->region, item->index, pool_->data(static_cast<int>(item->slot)),
                                     item->size);
          if (!status.ok()) writer_->Abort();
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          slot_held_[item->slot] = false;
        }
        (void)channel_->Send(ipc::SlotFree{item->slot});  // the client may be gone
        break;
      case WorkItem::kEnd: {
        if (status.ok() && !item->copy_status.ok()) status = item->copy_status;
        Result<CheckpointStats> stats = status;
        if (status.ok()) {
          stats = writer_->Commit();
        } else {
          writer_->Abort();
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
        {
          // Counted before the client hears of it: `ckpt status` never lags
          // a ticket that is already durable.
          std::lock_guard<std::mutex> lock(mu_);
          if (stats.ok()) {
            ++committed_;
            logical_bytes_ += stats->logical_bytes;
            written_bytes_ += stats->written_bytes;
            busy_seconds_ += seconds;
            has_last_step_ = true;
            last_step_ = step;
          } else {
            ++failed_;
          }
        }
        if (stats.ok()) {
          Log(LogLevel::kInfo, "job " + job_ + " step " + std::to_string(step) + " durable: " +
                                   std::to_string(stats->logical_bytes) + " bytes, " +
                                   std::to_string(stats->written_bytes) + " written");
          (void)channel_->Send(ipc::Durable{step, stats->logical_bytes, stats->written_bytes, stats->chunks,
                                            stats->new_chunks});
        } else {
          Log(LogLevel::kWarn, "job " + job_ + " step " + std::to_string(step) +
                                   " FAILED: " + stats.status().ToString());
          (void)channel_->Send(ipc::Failed{step, ipc::ToWire(stats.status())});
        }
        {
          // After the reply: Drain() ends the connection once nothing is in flight.
          std::lock_guard<std::mutex> lock(mu_);
          --in_flight_;
        }
        cv_.notify_all();
        status = Status::OK();
        break;
      }
    }
  }
}

Status Session::OnRestore(const ipc::Restore& m) {
  if (copy_open_) return Status::InvalidArgument("Restore during a copy");
  WaitIdle();  // a restore must not race a commit of the same job
  std::vector<uint64_t> steps;
  Status result;
  if (m.has_step) {
    steps.push_back(m.step);
  } else {
    auto all = server_->store()->rep()->catalog().ListManifests(job_);
    if (!all.ok()) {
      result = all.status();
    } else if (all->empty()) {
      result = Status::NotFound("job " + job_ + " has no checkpoint in " + server_->store()->dir());
    }
    if (all.ok())
      for (auto it = all->rbegin(); it != all->rend(); ++it) steps.push_back(it->step);
  }
  uint64_t restored = 0;
  std::string user_state;
  for (uint64_t step : steps) {
    bool fatal = false;
    result = RestoreStep(step, m.regions, &user_state, &fatal);
    if (fatal) return result;
    if (result.ok()) {
      restored = step;
      break;
    }
    if (m.has_step || !result.IsCorruption()) break;
    Log(LogLevel::kWarn, "job " + job_ + " step " + std::to_string(step) + " is damaged (" + result.message() +
                             "); trying an older one");
  }
  if (!result.ok() && !m.has_step && result.IsCorruption())
    result = Status::Corruption("job " + job_ + " has no intact checkpoint; newest error: " + result.message());
  if (!result.ok()) user_state.clear();
  return channel_->Send(ipc::RestoreDone{restored, ipc::ToWire(result), std::move(user_state)});
}

Status Session::OnInfoQuery(const ipc::InfoQuery& m) {
  // What is committed now; like LatestQuery it does not wait for checkpoints
  // in flight.
  ipc::InfoReply reply;
  auto info = server_->store()->Get(job_, m.step);
  if (!info.ok()) {
    reply.status = ipc::ToWire(info.status());
    return channel_->Send(reply);
  }
  reply.step = info->step;
  reply.created_unix_ms = info->created_unix_ms;
  reply.has_parent = info->parent_step.has_value();
  reply.parent_step = info->parent_step.value_or(0);
  reply.chunk_bytes = info->chunk_bytes;
  reply.logical_bytes = info->logical_bytes;
  reply.written_bytes = info->written_bytes;
  reply.chunks = info->chunks;
  reply.new_chunks = info->new_chunks;
  for (auto& r : info->regions) reply.regions.push_back({std::move(r.name), r.type, r.bytes, std::move(r.shape)});
  reply.user_state = std::move(info->user_state);
  return channel_->Send(reply);
}

Status Session::AwaitAck(std::vector<bool>* busy, size_t* outstanding) {
  auto m = channel_->Receive();
  if (!m.ok()) return m.status();
  if (!m->has_value()) return Status::Aborted("connection closed during a restore");
  const auto* ack = std::get_if<ipc::RestoreAck>(&**m);
  if (ack == nullptr)
    return Status::InvalidArgument(std::string(ipc::TypeName(ipc::TypeOf(**m))) + " during a restore");
  if (ack->slot >= busy->size() || !(*busy)[ack->slot])
    return Status::InvalidArgument("RestoreAck of slot " + std::to_string(ack->slot) + ", which is not in use");
  (*busy)[ack->slot] = false;
  --*outstanding;
  return Status::OK();
}

Status Session::RestoreStep(uint64_t step, const std::vector<ipc::RegionEntry>& regions, std::string* user_state,
                            bool* fatal) {
  const std::string where = "restore job " + job_ + " step " + std::to_string(step);
  Catalog& catalog = server_->store()->rep()->catalog();
  auto manifest = catalog.GetManifest(job_, step);
  if (!manifest.ok()) return manifest.status().WithContext(where);
  if (!manifest->has_value()) return Status::NotFound(where + ": no such checkpoint");
  const Manifest& mf = **manifest;
  std::vector<RegionLayout> wanted;
  // Matched like embedded mode: a shape, where both sides have one, must agree.
  for (const auto& r : regions) wanted.push_back({r.name, r.type, r.bytes, r.shape});
  auto matched = MatchRegions(mf, wanted, where);
  if (!matched.ok()) return matched.status();
  const std::vector<const ManifestRegion*>& plan = *matched;

  // Slots cycle between the daemon (decoding into one) and the client
  // (copying one out, then RestoreAck).
  std::vector<bool> busy(pool_->slots(), false);
  size_t outstanding = 0;
  Status error;
  auto next_slot = [&]() -> Result<uint32_t> {
    while (true) {
      for (uint32_t s = 0; s < busy.size(); ++s)
        if (!busy[s]) return s;
      Status acked = AwaitAck(&busy, &outstanding);
      if (!acked.ok()) {
        *fatal = true;
        return acked;
      }
    }
  };
  ChunkDecoder decoder;
  std::vector<uint8_t> scratch, whole;
  for (size_t r = 0; r < plan.size() && error.ok(); ++r) {
    const ManifestRegion& mr = *plan[r];
    for (size_t i = 0; i < mr.chunks.size() && error.ok(); ++i) {
      const uint64_t offset = i * mf.chunk_bytes;
      const uint64_t len = std::min<uint64_t>(mf.chunk_bytes, mr.bytes - offset);
      const std::string chunk_where = where + " region '" + mr.name + "' chunk " + std::to_string(i);
      auto loc = catalog.GetChunk(mr.chunks[i]);
      if (!loc.ok()) {
        error = loc.status().WithContext(chunk_where);
        break;
      }
      if (!loc->has_value() || (*loc)->raw_len != len) {
        error = Status::Corruption(chunk_where + ": missing from the chunk index or wrong length");
        break;
      }
      // Chunks larger than a slot (written with a larger chunk_bytes) are
      // decoded aside and staged in pieces.
      const bool direct = len <= pool_->slot_bytes();
      if (!direct) {
        whole.resize(len);
        error = server_->store()->rep()->ReadChunk(mr.chunks[i], **loc, &decoder, &scratch, whole.data());
        if (!error.ok()) {
          error = error.WithContext(chunk_where);
          break;
        }
      }
      for (uint64_t done = 0; done < len; done += pool_->slot_bytes()) {
        const uint64_t n = std::min<uint64_t>(pool_->slot_bytes(), len - done);
        auto slot = next_slot();
        if (!slot.ok()) return slot.status();
        uint8_t* dst = pool_->data(static_cast<int>(*slot));
        if (direct) {
          error = server_->store()->rep()->ReadChunk(mr.chunks[i], **loc, &decoder, &scratch, dst);
          if (!error.ok()) {
            error = error.WithContext(chunk_where);
            break;
          }
        } else {
          std::memcpy(dst, whole.data() + done, n);
        }
        busy[*slot] = true;
        ++outstanding;
        Status sent = channel_->Send(ipc::RestoreChunk{static_cast<uint32_t>(r), offset + done, *slot, n});
        if (!sent.ok()) {
          *fatal = true;
          return sent;
        }
      }
    }
  }
  while (outstanding > 0) {
    Status acked = AwaitAck(&busy, &outstanding);
    if (!acked.ok()) {
      *fatal = true;
      return acked;
    }
  }
  if (error.ok()) *user_state = mf.user_state;
  return error;
}

}  // namespace ckpt::daemon
