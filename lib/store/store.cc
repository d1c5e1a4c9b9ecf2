#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <set>
#include <unordered_map>

#include "ckpt/store.h"
#include "store/chunk_record.h"
#include "store/store_rep.h"
#include "store/job_history.h"
#include "util/file_util.h"

namespace ckpt {
namespace {

// Parses "<16 hex digits>.seg"; false for anything else.
bool ParseSegmentName(const std::string& name, uint64_t* id) {
  if (name.size() != 20 || name.compare(16, 4, ".seg") != 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 16; ++i) {
    const char c = name[i];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *id = v;
  return true;
}

Status CheckMarker(const std::string& dir) {
  const std::string marker = dir + "/" + kStoreMarkerFile;
  auto text = ReadSmallFile(marker);
  if (!text.ok()) return text.status().WithContext("read store marker");
  if (*text != kStoreMarkerText) {
    std::string first = text->substr(0, text->find('\n'));
    if (first.rfind("ckpt-store-format ", 0) == 0)
      return Status::Unsupported("store " + dir + " has " + first +
                                 "; this build reads ckpt-store-format 1");
    return Status::InvalidArgument(dir + " is not a ckpt store (bad " + kStoreMarkerFile + ")");
  }
  return Status::OK();
}

// Empty, or holding only what an interrupted first open created (the marker
// is written last, so such a directory never held a checkpoint).
bool DirIsUnusedStore(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name != "catalog" && name != "segments" && name != std::string(kStoreMarkerFile) + ".tmp")
      return false;
  }
  return !ec;
}

}  // namespace

std::string ChunkFault::ToString() const {
  return "job " + job + " step " + std::to_string(step) + " region '" + region + "' chunk " +
         std::to_string(chunk_index) + " (region offset " + std::to_string(region_offset) +
         "): " + what + (segment_file.empty() ? "" : " [" + segment_file + " @ " +
                                                      std::to_string(file_offset) + "]");
}

// ---------------------------------------------------------------- Store::Rep

Store::Rep::Rep(std::string dir, StoreOptions options, std::unique_ptr<Catalog> catalog)
    : dir_(std::move(dir)),
      options_(options),
      env_(options.env != nullptr ? options.env : Env::Default()),
      catalog_(std::move(catalog)) {}

Store::Rep::~Rep() = default;

Store::Rep::OpenFile::~OpenFile() { ::close(fd); }

std::string Store::Rep::SegmentName(uint64_t id) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016" PRIx64 ".seg", id);
  return std::string("segments/") + name;
}

std::string Store::Rep::SegmentPath(uint64_t id) const { return dir_ + "/" + SegmentName(id); }

Result<std::shared_ptr<Store::Rep::OpenFile>> Store::Rep::SegmentFile(uint64_t id) const {
  std::lock_guard<std::mutex> lock(fd_mu_);
  auto it = files_.find(id);
  if (it != files_.end()) return it->second;
  if (files_.size() >= 64) files_.clear();  // bound the open descriptors
  const std::string path = SegmentPath(id);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  // The catalog says the file holds live chunks: its absence is damage.
  if (fd < 0 && errno == ENOENT) return Status::Corruption("segment file " + path + " is missing");
  if (fd < 0) return ErrnoStatus("open segment " + path, errno);
  auto file = std::make_shared<OpenFile>(fd);
  files_[id] = file;
  return file;
}

Status Store::Rep::ReadChunk(const ChunkHash& hash, const ChunkLocation& loc,
                             ChunkDecoder* decoder, std::vector<uint8_t>* scratch,
                             uint8_t* out) const {
  auto file = SegmentFile(loc.segment_id);
  if (!file.ok()) return file.status();
  const int fd = (*file)->fd;
  const size_t total = kRecordHeaderSize + loc.stored_len;
  if (scratch->size() < total) scratch->resize(total);
  size_t done = 0;
  while (done < total) {
    ssize_t n = ::pread(fd, scratch->data() + done, total - done,
                        static_cast<off_t>(loc.offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read " + SegmentName(loc.segment_id), errno);
    }
    if (n == 0) return Status::Corruption("segment file ends inside the chunk record");
    done += static_cast<size_t>(n);
  }
  return CheckAndDecode(hash, loc, scratch->data(), scratch->data() + kRecordHeaderSize, decoder, out);
}

Status Store::Rep::CheckAndDecode(const ChunkHash& hash, const ChunkLocation& loc, const uint8_t* header_bytes,
                                  const uint8_t* payload, ChunkDecoder* decoder, uint8_t* out) {
  RecordHeader header;
  CKPT_RETURN_IF_ERROR(DecodeRecordHeader(header_bytes, &header));
  if (header.hash != hash || header.raw_len != loc.raw_len ||
      header.stored_len != loc.stored_len || header.codec != loc.codec ||
      header.plane_width != loc.plane_width || header.payload_checksum != loc.payload_checksum)
    return Status::Corruption("record header does not match the chunk index");
  return CheckAndDecodePayload(hash, loc, payload, decoder, out);
}

Status Store::Rep::CheckAndDecodePayload(const ChunkHash& hash, const ChunkLocation& loc, const uint8_t* payload,
                                         ChunkDecoder* decoder, uint8_t* out) {
  const bool in_place = payload == out && loc.codec == Codec::kRaw && loc.plane_width == 0 &&
                        loc.stored_len == loc.raw_len;
  if (in_place) {
    // The payload is the chunk: checksum and content hash in one sweep.
    ChunkHash content;
    uint64_t checksum = 0;
    HashAndChecksum(out, loc.raw_len, &content, &checksum);
    if (checksum != loc.payload_checksum) return Status::Corruption("payload checksum mismatch");
    if (content != hash) return Status::Corruption("content hash mismatch after decoding");
    return Status::OK();
  }
  if (Checksum64(payload, loc.stored_len) != loc.payload_checksum)
    return Status::Corruption("payload checksum mismatch");
  CKPT_RETURN_IF_ERROR(decoder->Decode(loc.codec, loc.plane_width,
                                       {reinterpret_cast<const char*>(payload), loc.stored_len}, out, loc.raw_len));
  if (HashChunk(out, loc.raw_len) != hash) return Status::Corruption("content hash mismatch after decoding");
  return Status::OK();
}

Status Store::Rep::ReclaimOrphans() {
  auto segments = catalog_->ListSegments();
  if (!segments.ok()) return segments.status();
  std::set<uint64_t> live;
  uint64_t max_id = 0;
  for (const auto& s : *segments) {
    live.insert(s.id);
    max_id = std::max(max_id, s.id);
  }
  uint64_t reclaimed_files = 0, reclaimed_bytes = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(SegmentDir(), ec)) {
    const std::string name = entry.path().filename().string();
    uint64_t id;
    if (!ParseSegmentName(name, &id)) continue;
    max_id = std::max(max_id, id);
    if (live.count(id)) continue;
    std::error_code size_ec;
    const uint64_t bytes = std::filesystem::file_size(entry.path(), size_ec);
    CKPT_RETURN_IF_ERROR(env_->RemoveFile(entry.path().string()).WithContext("reclaim uncommitted segment"));
    ++reclaimed_files;
    reclaimed_bytes += size_ec ? 0 : bytes;
  }
  if (ec) return ErrnoStatus("list " + SegmentDir(), ec.value());
  next_segment_id_ = max_id + 1;
  if (reclaimed_files > 0) {
    std::fprintf(stderr,
                 "ckpt: reclaimed %" PRIu64 " bytes in %" PRIu64
                 " segment file(s) of checkpoints that never committed in %s\n",
                 reclaimed_bytes, reclaimed_files, dir_.c_str());
    CKPT_RETURN_IF_ERROR(env_->SyncDir(SegmentDir()));
  }
  return Status::OK();
}

uint64_t Store::Rep::DeleteSegments(const std::vector<uint64_t>& ids) {
  uint64_t freed = 0;
  {
    std::lock_guard<std::mutex> lock(fd_mu_);
    for (uint64_t id : ids) files_.erase(id);
  }
  for (uint64_t id : ids) {
    const std::string path = SegmentPath(id);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) freed += static_cast<uint64_t>(st.st_size);
    // A file left behind (e.g. a crash right here) is an orphan now: the next
    // writable open removes it.
    (void)env_->RemoveFile(path);
  }
  if (!ids.empty()) (void)env_->SyncDir(SegmentDir());
  return freed;
}

// ---------------------------------------------------------------- Store

Store::Store(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Store::~Store() = default;

const std::string& Store::dir() const { return rep_->dir(); }
bool Store::read_only() const { return rep_->options().read_only; }

Result<std::shared_ptr<Store>> Store::Open(const std::string& dir, const StoreOptions& options) {
  if (dir.empty()) return Status::InvalidArgument("no store directory given");
  const bool may_create = options.create_if_missing && !options.read_only;
  if (!PathExists(dir)) {
    if (!may_create) return Status::NotFound("no store at " + dir + " (directory does not exist)");
    CKPT_RETURN_IF_ERROR(CreateDirs(dir));
  }
  if (!IsDirectory(dir)) return Status::InvalidArgument(dir + " is not a directory");

  const std::string marker = dir + "/" + kStoreMarkerFile;
  bool fresh = false;
  if (!PathExists(marker)) {
    if (!DirIsUnusedStore(dir))
      return Status::InvalidArgument(dir + " is not a ckpt store (no " + kStoreMarkerFile +
                                     " file) and is not empty; refusing to use it");
    if (!may_create) return Status::NotFound("no store at " + dir + " (empty directory)");
    fresh = true;
    CKPT_RETURN_IF_ERROR(CreateDirs(dir + "/segments"));
    CKPT_RETURN_IF_ERROR(CreateDirs(dir + "/catalog"));
  } else {
    CKPT_RETURN_IF_ERROR(CheckMarker(dir));
    if (!IsDirectory(dir + "/segments") || !IsDirectory(dir + "/catalog"))
      return Status::Corruption("store " + dir + " lacks its segments/ or catalog/ directory");
  }

  auto catalog = Catalog::Open(dir + "/catalog", options.read_only, fresh);
  if (!catalog.ok()) return catalog.status();
  // The marker goes last: a directory with a marker always has a catalog.
  if (fresh) CKPT_RETURN_IF_ERROR(WriteFileAtomic(marker, kStoreMarkerText));

  auto rep = std::make_unique<Rep>(dir, options, std::move(catalog).value());
  if (!options.read_only) CKPT_RETURN_IF_ERROR(rep->ReclaimOrphans());
  return std::shared_ptr<Store>(new Store(std::move(rep)));
}

Result<std::vector<std::string>> Store::ListJobs() const {
  auto all = rep_->catalog().ListManifests("");
  if (!all.ok()) return all.status();
  std::vector<std::string> jobs;
  for (const auto& m : *all)
    if (jobs.empty() || jobs.back() != m.job) jobs.push_back(m.job);
  return jobs;
}

Result<std::vector<CheckpointInfo>> Store::List(const std::string& job) const {
  auto all = rep_->catalog().ListManifests(job);
  if (!all.ok()) return all.status();
  std::vector<CheckpointInfo> out;
  out.reserve(all->size());
  for (const auto& m : *all) out.push_back(m.Info());
  return out;
}

Result<CheckpointInfo> Store::Get(const std::string& job, uint64_t step) const {
  auto m = rep_->catalog().GetManifest(job, step);
  if (!m.ok()) return m.status();
  if (!m->has_value())
    return Status::NotFound("job " + job + " has no checkpoint at step " + std::to_string(step));
  return (*m)->Info();
}

Result<uint64_t> Store::LatestStep(const std::string& job) const {
  auto latest = rep_->catalog().LatestStep(job);
  if (!latest.ok()) return latest.status();
  if (!latest->has_value()) return Status::NotFound("job " + job + " has no checkpoint");
  return **latest;
}

Result<std::vector<ChunkFault>> Store::Verify(const std::string& job, uint64_t step) const {
  auto m = rep_->catalog().GetManifest(job, step);
  if (!m.ok()) return m.status();
  if (!m->has_value())
    return Status::NotFound("job " + job + " has no checkpoint at step " + std::to_string(step));
  const Manifest& manifest = **m;
  ChunkDecoder decoder;
  std::vector<uint8_t> scratch, raw(manifest.chunk_bytes);
  std::unordered_map<ChunkHash, std::string, ChunkHashHasher> checked;  // hash -> fault text
  std::vector<ChunkFault> faults;
  for (const auto& region : manifest.regions) {
    for (size_t i = 0; i < region.chunks.size(); ++i) {
      const ChunkHash& hash = region.chunks[i];
      const uint64_t region_offset = i * manifest.chunk_bytes;
      const uint64_t expected_len = std::min<uint64_t>(manifest.chunk_bytes, region.bytes - region_offset);
      auto loc = rep_->catalog().GetChunk(hash);
      if (!loc.ok()) return loc.status();
      ChunkFault fault{job, step, region.name, i, region_offset, "", 0, ""};
      if (!loc->has_value()) {
        fault.what = "chunk " + hash.Hex() + " is missing from the chunk index";
        faults.push_back(fault);
        continue;
      }
      fault.segment_file = rep_->SegmentName((*loc)->segment_id);
      fault.file_offset = (*loc)->offset;
      auto done = checked.find(hash);
      if (done == checked.end()) {
        std::string what;
        if ((*loc)->raw_len != expected_len) {
          what = "chunk index says " + std::to_string((*loc)->raw_len) + " bytes, region needs " +
                 std::to_string(expected_len);
        } else {
          Status s = rep_->ReadChunk(hash, **loc, &decoder, &scratch, raw.data());
          if (!s.ok()) what = s.ToString();
        }
        done = checked.emplace(hash, what).first;
      }
      if (!done->second.empty()) {
        fault.what = done->second;
        faults.push_back(fault);
      }
    }
  }
  return faults;
}

Result<uint64_t> Store::NewestIntactStep(const std::string& job) const {
  auto all = rep_->catalog().ListManifests(job);
  if (!all.ok()) return all.status();
  for (auto it = all->rbegin(); it != all->rend(); ++it) {
    auto faults = Verify(job, it->step);
    if (!faults.ok()) return faults.status();
    if (faults->empty()) return it->step;
  }
  return Status::NotFound("job " + job + " has no intact checkpoint");
}

Status Store::ReadRegion(const std::string& job, uint64_t step, const std::string& region,
                         const ChunkSink& sink) const {
  auto m = rep_->catalog().GetManifest(job, step);
  if (!m.ok()) return m.status();
  if (!m->has_value())
    return Status::NotFound("job " + job + " has no checkpoint at step " + std::to_string(step));
  const Manifest& manifest = **m;
  for (const auto& r : manifest.regions) {
    if (r.name != region) continue;
    ChunkDecoder decoder;
    std::vector<uint8_t> scratch, raw(manifest.chunk_bytes);
    for (size_t i = 0; i < r.chunks.size(); ++i) {
      const uint64_t offset = i * manifest.chunk_bytes;
      const uint64_t len = std::min<uint64_t>(manifest.chunk_bytes, r.bytes - offset);
      const std::string where = "job " + job + " step " + std::to_string(step) + " region '" +
                                r.name + "' chunk " + std::to_string(i);
      auto loc = rep_->catalog().GetChunk(r.chunks[i]);
      if (!loc.ok()) return loc.status();
      if (!loc->has_value()) return Status::Corruption(where + ": missing from the chunk index");
      if ((*loc)->raw_len != len) return Status::Corruption(where + ": wrong length in the index");
      CKPT_RETURN_IF_ERROR(
          rep_->ReadChunk(r.chunks[i], **loc, &decoder, &scratch, raw.data()).WithContext(where));
      CKPT_RETURN_IF_ERROR(sink(offset, raw.data(), len));
    }
    return Status::OK();
  }
  return Status::NotFound("checkpoint of job " + job + " step " + std::to_string(step) +
                          " has no region '" + region + "'");
}

Result<GcResult> Store::Gc(const std::string& job, const GcOptions& options) {
  if (read_only()) return Status::FailedPrecondition("store is open read-only");
  if (options.keep_last == 0) return Status::InvalidArgument("keep_last must be at least 1");
  std::unique_lock<std::shared_mutex> no_checkpoints_in_flight(rep_->gc_mutex());
  auto all = rep_->catalog().ListManifests(job);
  if (!all.ok()) return all.status();
  GcResult result;
  std::vector<uint64_t> remove;
  const size_t n = all->size();
  for (size_t i = 0; i < n; ++i) {
    const uint64_t step = (*all)[i].step;
    const bool recent = i + options.keep_last >= n;
    const bool milestone = options.keep_every > 0 && step % options.keep_every == 0;
    (recent || milestone ? result.kept_steps : remove).push_back(step);
  }
  result.removed_steps = remove;
  if (remove.empty()) return result;
  auto outcome = rep_->catalog().RemoveManifests(job, remove, options.dry_run);
  if (!outcome.ok()) return outcome.status();
  result.freed_chunks = outcome->freed_chunks;
  if (options.dry_run) {
    for (uint64_t id : outcome->dead_segments) {
      struct stat st;
      if (::stat(rep_->SegmentPath(id).c_str(), &st) == 0) result.freed_bytes += static_cast<uint64_t>(st.st_size);
    }
  } else {
    result.freed_bytes = rep_->DeleteSegments(outcome->dead_segments);
  }
  return result;
}

}  // namespace ckpt

// ---- failure history and job profiles ----

namespace ckpt {

Status Store::Rep::UpdateJobProfile(const std::string& job,
                                    const std::function<void(JobProfile*)>& update) {
  CKPT_RETURN_IF_ERROR(ValidateJobName(job));
  if (catalog_->read_only()) return Status::InvalidArgument("the store is open read-only");
  std::lock_guard<std::mutex> lock(profile_mu_);
  auto stored = catalog_->GetRecord(JobProfileKey(job));
  if (!stored.ok()) return stored.status();
  JobProfile profile;
  if (stored->has_value()) {
    auto decoded = DecodeJobProfile(job, **stored);
    if (!decoded.ok()) return decoded.status();
    profile = std::move(decoded).value();
  } else {
    profile.job = job;
    profile.first_seen_unix_us = env_->NowUnixMicros();
  }
  update(&profile);
  return catalog_->PutRecord(JobProfileKey(job), EncodeJobProfile(profile), /*sync=*/false);
}

Result<std::optional<FailureEvent>> Store::Rep::BeginSession(const std::string& job,
                                                             uint64_t nodes) {
  bool died = false;
  int64_t last_alive = 0;
  bool first_here = false;
  {
    std::lock_guard<std::mutex> lock(profile_mu_);
    first_here = open_sessions_[job]++ == 0;
  }
  Status s = UpdateJobProfile(job, [&](JobProfile* p) {
    died = first_here && p->session_open;
    last_alive = p->last_alive_unix_us > 0 ? p->last_alive_unix_us : p->first_seen_unix_us;
    p->session_open = true;
    p->last_alive_unix_us = env_->NowUnixMicros();
    if (nodes > 0) p->nodes = nodes;
  });
  if (!s.ok()) {
    std::lock_guard<std::mutex> lock(profile_mu_);
    --open_sessions_[job];
    return s;
  }
  if (!died) return std::optional<FailureEvent>();
  FailureEvent event{job, last_alive, FailureSource::kClient,
                     "the previous session of the job ended without closing its client "
                     "(killed or crashed); the time is its last sign of life"};
  s = RecordFailure(event);
  // The same microsecond recorded already (e.g. by ckptd): one failure, not two.
  if (!s.ok() && s.code() != Status::Code::kAlreadyExists) return s;
  return std::optional<FailureEvent>(std::move(event));
}

Status Store::Rep::EndSession(const std::string& job) {
  {
    std::lock_guard<std::mutex> lock(profile_mu_);
    if (--open_sessions_[job] > 0) return Status::OK();
    open_sessions_.erase(job);
  }
  return UpdateJobProfile(job, [&](JobProfile* p) {
    p->session_open = false;
    p->last_alive_unix_us = env_->NowUnixMicros();
  });
}

Status Store::Rep::RecordFailure(const FailureEvent& event) {
  CKPT_RETURN_IF_ERROR(ValidateFailure(event));
  if (catalog_->read_only()) return Status::InvalidArgument("the store is open read-only");
  const std::string key = FailureKey(event.job, event.time_unix_us);
  std::lock_guard<std::mutex> lock(profile_mu_);
  auto existing = catalog_->GetRecord(key);
  if (!existing.ok()) return existing.status();
  if (existing->has_value())
    return Status::AlreadyExists("job " + event.job + " has a failure recorded at " +
                                 std::to_string(event.time_unix_us) + " us already");
  return catalog_->PutRecord(key, EncodeFailure(event), /*sync=*/true);
}

Status Store::RecordFailure(const FailureEvent& event) { return rep_->RecordFailure(event); }

Result<std::vector<FailureEvent>> Store::ListFailures(const std::string& job) const {
  if (!job.empty()) CKPT_RETURN_IF_ERROR(ValidateJobName(job));
  auto records = rep_->catalog().ScanRecords(FailurePrefix(job));
  if (!records.ok()) return records.status();
  std::vector<FailureEvent> out;
  out.reserve(records->size());
  for (const auto& [key, value] : *records) {
    auto e = DecodeFailure(key, value);
    if (!e.ok()) return e.status();
    out.push_back(std::move(e).value());
  }
  return out;
}

Result<JobProfile> Store::GetJobProfile(const std::string& job) const {
  CKPT_RETURN_IF_ERROR(ValidateJobName(job));
  auto stored = rep_->catalog().GetRecord(JobProfileKey(job));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return Status::NotFound("the store has no profile of job " + job);
  return DecodeJobProfile(job, **stored);
}

Status Store::UpdateJobProfile(const std::string& job,
                               const std::function<void(JobProfile*)>& update) {
  return rep_->UpdateJobProfile(job, update);
}

}  // namespace ckpt
