#include "store/catalog.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <string_view>
#include <unordered_map>

#include "util/coding.h"

namespace ckpt {
namespace {

constexpr char kFormatKey[] = "F";
constexpr char kManifestPrefix = 'M';
constexpr char kChunkPrefix = 'C';
constexpr char kSegmentPrefix = 'S';

std::string ChunkKey(const ChunkHash& h) {
  std::string k(1, kChunkPrefix);
  k.append(h.view());
  return k;
}

std::string SegmentKey(uint64_t id) {
  std::string k(1, kSegmentPrefix);
  coding::PutBigEndian64(&k, id);
  return k;
}

std::string JobPrefix(const std::string& job) {
  std::string k(1, kManifestPrefix);
  k.append(job);
  k.push_back('\0');
  return k;
}

std::string EncodeChunk(const ChunkLocation& c) {
  std::string v;
  coding::PutU64(&v, c.segment_id);
  coding::PutU64(&v, c.offset);
  coding::PutU32(&v, c.raw_len);
  coding::PutU32(&v, c.stored_len);
  coding::PutU8(&v, static_cast<uint8_t>(c.codec));
  coding::PutU8(&v, c.plane_width);
  coding::PutU64(&v, c.payload_checksum);
  coding::PutU64(&v, c.refs);
  return v;
}

Result<ChunkLocation> DecodeChunk(std::string_view v) {
  coding::Reader in(v);
  ChunkLocation c;
  c.segment_id = in.U64();
  c.offset = in.U64();
  c.raw_len = in.U32();
  c.stored_len = in.U32();
  c.codec = static_cast<Codec>(in.U8());
  c.plane_width = in.U8();
  c.payload_checksum = in.U64();
  c.refs = in.U64();
  if (in.failed() || in.remaining() != 0) return Status::Corruption("bad chunk index entry");
  return c;
}

std::string EncodeSegment(const SegmentEntry& s) {
  std::string v;
  coding::PutU64(&v, s.file_bytes);
  coding::PutU64(&v, s.live_chunks);
  return v;
}

Result<SegmentEntry> DecodeSegment(uint64_t id, std::string_view v) {
  coding::Reader in(v);
  SegmentEntry s;
  s.id = id;
  s.file_bytes = in.U64();
  s.live_chunks = in.U64();
  if (in.failed() || in.remaining() != 0) return Status::Corruption("bad segment entry");
  return s;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  const std::string msg = what + ": " + s.ToString();
  if (s.IsIOError() && s.ToString().find("/LOCK") != std::string::npos)
    return Status::Busy(what + ": the store is open for writing by another process (" +
                        s.ToString() + ")");
  if (s.IsNoSpace()) return Status::NoSpace(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  return Status::IOError(msg);
}

// Where RocksDB's own diagnostics go: its fatal errors to stderr, the rest
// nowhere; never to a LOG file in the store.
//
// Why not RocksDB's default LOG file: the store's disk is the one that fills
// up. Once a write to LOG has failed (ENOSPC), RocksDB builds with
// assertions on (Debian's librocksdb is one) abort the process at the next
// line logged, typically while the catalog closes. A full disk must fail a
// checkpoint, never the training job. Why not its errors on stderr: they
// include benign ones (creating a store logs one), and every error that
// matters reaches the caller as a Status naming the file and the cause.
class CatalogLogger final : public rocksdb::Logger {
 public:
  explicit CatalogLogger(std::string dir)
      : rocksdb::Logger(rocksdb::InfoLogLevel::FATAL_LEVEL), dir_(std::move(dir)) {}

  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level != rocksdb::InfoLogLevel::FATAL_LEVEL) return;
    char line[1024];
    const int n = std::vsnprintf(line, sizeof line, format, ap);
    if (n < 0) return;
    std::string_view text(line, std::min<size_t>(static_cast<size_t>(n), sizeof line - 1));
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    std::fprintf(stderr, "ckpt: catalog %s: RocksDB: %.*s\n", dir_.c_str(), static_cast<int>(text.size()),
                 text.data());
  }
  // Lines logged without a level are informational.
  void Logv(const char* /*format*/, va_list /*ap*/) override {}

 private:
  const std::string dir_;
};

// Leaves recovery from a full disk to the catalog's next write (Write calls
// DB::Resume). RocksDB's own recovery waits in the background for free space
// of a whole memtable (4 MiB here) and refuses Resume() meanwhile, so a
// checkpoint that fits in the space freed would still fail.
class ResumeOnNextWrite final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status /*bg_error*/,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

// Reference-count changes gathered for one atomic batch.
class RefUpdate {
 public:
  explicit RefUpdate(rocksdb::DB* db) : db_(db) {}

  void AddNew(const ChunkHash& h, const ChunkLocation& loc) { chunks_[h] = {loc, true}; }
  void Add(const ChunkHash& h, int64_t delta) { deltas_[h] += delta; }

  // Applies the deltas into `batch`. Fails with kAborted when a chunk that
  // gains references does not exist (removed by a concurrent GC).
  Status Apply(rocksdb::WriteBatch* batch, uint64_t* freed_chunks,
               std::vector<uint64_t>* dead_segments,
               const std::optional<SegmentEntry>& new_segment) {
    std::map<uint64_t, int64_t> segment_live;  // changes per segment id
    for (const auto& [hash, delta] : deltas_) {
      if (delta == 0) continue;
      ChunkLocation loc;
      auto it = chunks_.find(hash);
      bool is_new = false;
      if (it != chunks_.end()) {
        loc = it->second.first;
        is_new = true;
      }
      // A chunk written by this checkpoint may exist already (written by
      // another client at the same time); then the stored one wins.
      std::string value;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ChunkKey(hash), &value);
      if (s.ok()) {
        auto decoded = DecodeChunk(value);
        if (!decoded.ok()) return decoded.status().WithContext("chunk " + hash.Hex());
        loc = *decoded;
        is_new = false;
      } else if (!s.IsNotFound()) {
        return FromRocks(s, "read chunk index");
      } else if (!is_new) {
        if (delta > 0)
          return Status::Aborted("chunk " + hash.Hex() +
                                 " was removed while a checkpoint reused it; retry");
        return Status::Corruption("chunk " + hash.Hex() +
                                  " referenced by a manifest is missing from the index");
      }
      const int64_t refs = static_cast<int64_t>(loc.refs) + delta;
      if (refs < 0) return Status::Corruption("reference count of chunk " + hash.Hex() + " < 0");
      if (is_new) segment_live[loc.segment_id] += 1;
      if (refs == 0) {
        if (!is_new) {
          batch->Delete(ChunkKey(hash));
          segment_live[loc.segment_id] -= 1;
          ++*freed_chunks;
        } else {
          segment_live[loc.segment_id] -= 1;
        }
      } else {
        loc.refs = static_cast<uint64_t>(refs);
        batch->Put(ChunkKey(hash), EncodeChunk(loc));
      }
    }
    if (new_segment && !segment_live.count(new_segment->id)) segment_live[new_segment->id] = 0;
    for (const auto& [id, change] : segment_live) {
      SegmentEntry seg;
      if (new_segment && new_segment->id == id) {
        seg = *new_segment;
        seg.live_chunks = 0;
      } else {
        std::string value;
        rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), SegmentKey(id), &value);
        if (!s.ok()) return FromRocks(s, "read segment entry " + std::to_string(id));
        auto decoded = DecodeSegment(id, value);
        if (!decoded.ok()) return decoded.status();
        seg = *decoded;
      }
      const int64_t live = static_cast<int64_t>(seg.live_chunks) + change;
      if (live < 0) return Status::Corruption("live chunk count of segment " + std::to_string(id) + " < 0");
      seg.live_chunks = static_cast<uint64_t>(live);
      if (live == 0) {
        batch->Delete(SegmentKey(id));
        dead_segments->push_back(id);
      } else {
        batch->Put(SegmentKey(id), EncodeSegment(seg));
      }
    }
    return Status::OK();
  }

 private:
  rocksdb::DB* db_;
  std::unordered_map<ChunkHash, std::pair<ChunkLocation, bool>, ChunkHashHasher> chunks_;
  std::unordered_map<ChunkHash, int64_t, ChunkHashHasher> deltas_;
};

void CountReferences(const Manifest& m, int64_t sign, RefUpdate* update) {
  for (const auto& r : m.regions)
    for (const auto& h : r.chunks) update->Add(h, sign);
}

}  // namespace

std::string ManifestKey(const std::string& job, uint64_t step) {
  std::string k = JobPrefix(job);
  coding::PutBigEndian64(&k, step);
  return k;
}

Catalog::Catalog(std::unique_ptr<rocksdb::DB> db, bool read_only)
    : db_(std::move(db)), read_only_(read_only) {}

Catalog::~Catalog() = default;

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::string& dir, bool read_only,
                                               bool create) {
  rocksdb::Options options;
  options.create_if_missing = create && !read_only;
  options.paranoid_checks = true;
  options.max_background_jobs = 1;
  options.keep_log_file_num = 4;
  options.max_open_files = 256;
  // The catalog is small (kilobytes per checkpoint). RocksDB preallocates
  // each WAL file to about 1.1 x write_buffer_size (70 MiB by default): on a
  // nearly full disk that space is taken from the checkpoints. No
  // preallocation, and a small memtable.
  options.allow_fallocate = false;
  options.write_buffer_size = size_t{4} << 20;
  options.info_log = std::make_shared<CatalogLogger>(dir);
  options.info_log_level = rocksdb::InfoLogLevel::FATAL_LEVEL;
  options.listeners.push_back(std::make_shared<ResumeOnNextWrite>());
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(options, dir, &raw)
                                : rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return FromRocks(s, "open catalog " + dir);
  std::unique_ptr<rocksdb::DB> db(raw);

  std::string value;
  s = db->Get(rocksdb::ReadOptions(), kFormatKey, &value);
  if (s.IsNotFound()) {
    if (read_only) return Status::Corruption("catalog " + dir + " has no format version");
    std::string v;
    coding::PutU32(&v, kStoreFormatVersion);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, kFormatKey, v);
    if (!s.ok()) return FromRocks(s, "initialize catalog " + dir);
  } else if (!s.ok()) {
    return FromRocks(s, "read catalog " + dir);
  } else {
    coding::Reader in(value);
    const uint32_t version = in.U32();
    if (in.failed()) return Status::Corruption("catalog " + dir + ": bad format version entry");
    if (version != kStoreFormatVersion)
      return Status::Unsupported("catalog " + dir + " has format version " +
                                 std::to_string(version) + "; this build reads version " +
                                 std::to_string(kStoreFormatVersion));
  }
  return std::unique_ptr<Catalog>(new Catalog(std::move(db), read_only));
}

Result<std::optional<ChunkLocation>> Catalog::GetChunk(const ChunkHash& hash) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ChunkKey(hash), &value);
  if (s.IsNotFound()) return std::optional<ChunkLocation>();
  if (!s.ok()) return FromRocks(s, "read chunk index");
  auto decoded = DecodeChunk(value);
  if (!decoded.ok()) return decoded.status().WithContext("chunk " + hash.Hex());
  return std::optional<ChunkLocation>(*decoded);
}

Result<std::optional<Manifest>> Catalog::GetManifest(const std::string& job, uint64_t step) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ManifestKey(job, step), &value);
  if (s.IsNotFound()) return std::optional<Manifest>();
  if (!s.ok()) return FromRocks(s, "read manifest");
  auto m = DecodeManifest(value);
  if (!m.ok())
    return m.status().WithContext("manifest of job " + job + " step " + std::to_string(step));
  return std::optional<Manifest>(std::move(m).value());
}

Result<std::vector<Manifest>> Catalog::ListManifests(const std::string& job) const {
  const std::string prefix = job.empty() ? std::string(1, kManifestPrefix) : JobPrefix(job);
  std::vector<Manifest> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto m = DecodeManifest(std::string_view(it->value().data(), it->value().size()));
    if (!m.ok()) return m.status().WithContext("manifest key " + it->key().ToString(true));
    out.push_back(std::move(m).value());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "list manifests");
  return out;
}

Result<std::optional<uint64_t>> Catalog::LatestStep(const std::string& job) const {
  const std::string prefix = JobPrefix(job);
  std::string upper = prefix;
  upper.back() = '\x01';  // first key after every M<job>\0...
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->SeekForPrev(upper);
  if (!it->status().ok()) return FromRocks(it->status(), "find latest step");
  if (!it->Valid() || !it->key().starts_with(prefix) || it->key().size() != prefix.size() + 8)
    return std::optional<uint64_t>();
  return std::optional<uint64_t>(coding::GetBigEndian64(it->key().data() + prefix.size()));
}

Result<std::vector<SegmentEntry>> Catalog::ListSegments() const {
  std::vector<SegmentEntry> out;
  const std::string prefix(1, kSegmentPrefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != 9) return Status::Corruption("bad segment key");
    auto s = DecodeSegment(coding::GetBigEndian64(it->key().data() + 1),
                           std::string_view(it->value().data(), it->value().size()));
    if (!s.ok()) return s.status();
    out.push_back(*s);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "list segments");
  return out;
}

Result<std::optional<std::string>> Catalog::GetRecord(const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "read catalog record");
  return std::optional<std::string>(std::move(value));
}

Status Catalog::PutRecord(const std::string& key, const std::string& value, bool sync) {
  if (read_only_) return Status::InvalidArgument("the store is open read-only");
  std::lock_guard<std::mutex> lock(write_mu_);
  rocksdb::WriteBatch batch;
  batch.Put(key, value);
  return Write(&batch, sync, "write catalog record");
}

Status Catalog::Write(rocksdb::WriteBatch* batch, bool sync, const std::string& what) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status s = db_->Write(wo, batch);
  if (s.IsIOError()) {
    // After a failed write (a full disk) RocksDB refuses every later one
    // until Resume() succeeds: without this, freeing space would not bring
    // checkpoints back until the process restarts. Resume fails, and the
    // write with it, while the cause remains.
    const rocksdb::Status resumed = db_->Resume();
    if (resumed.ok()) s = db_->Write(wo, batch);
  }
  return FromRocks(s, what);
}

Result<std::vector<std::pair<std::string, std::string>>> Catalog::ScanRecords(
    const std::string& prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    out.emplace_back(it->key().ToString(), it->value().ToString());
  if (!it->status().ok()) return FromRocks(it->status(), "scan catalog records");
  return out;
}

Result<RemovalOutcome> Catalog::Commit(const CommitRequest& request) {
  if (read_only_) return Status::FailedPrecondition("catalog is open read-only");
  std::lock_guard<std::mutex> lock(write_mu_);
  const Manifest& m = request.manifest;
  RefUpdate update(db_.get());
  for (const auto& [hash, loc] : request.new_chunks) update.AddNew(hash, loc);
  CountReferences(m, +1, &update);

  auto old = GetManifest(m.job, m.step);
  if (!old.ok()) return old.status();
  if (old->has_value()) CountReferences(**old, -1, &update);

  rocksdb::WriteBatch batch;
  RemovalOutcome out;
  CKPT_RETURN_IF_ERROR(update.Apply(&batch, &out.freed_chunks, &out.dead_segments, request.segment));
  batch.Put(ManifestKey(m.job, m.step), EncodeManifest(m));
  CKPT_RETURN_IF_ERROR(Write(&batch, /*sync=*/true, "commit checkpoint"));
  return out;
}

Result<RemovalOutcome> Catalog::RemoveManifests(const std::string& job,
                                                const std::vector<uint64_t>& steps, bool dry_run) {
  if (read_only_) return Status::FailedPrecondition("catalog is open read-only");
  std::lock_guard<std::mutex> lock(write_mu_);
  RefUpdate update(db_.get());
  rocksdb::WriteBatch batch;
  for (uint64_t step : steps) {
    auto m = GetManifest(job, step);
    if (!m.ok()) return m.status();
    if (!m->has_value())
      return Status::NotFound("job " + job + " has no checkpoint at step " + std::to_string(step));
    CountReferences(**m, -1, &update);
    batch.Delete(ManifestKey(job, step));
  }
  RemovalOutcome out;
  CKPT_RETURN_IF_ERROR(update.Apply(&batch, &out.freed_chunks, &out.dead_segments, std::nullopt));
  if (dry_run) return out;
  CKPT_RETURN_IF_ERROR(Write(&batch, /*sync=*/true, "remove checkpoints"));
  return out;
}

}  // namespace ckpt
