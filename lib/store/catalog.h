// The catalog: every piece of store metadata, in one RocksDB database.
//
// Keys (docs/format.md):
//   F                      store format version (u32)
//   M <job> \0 <step BE64> manifest of one committed checkpoint
//   C <hash 16 bytes>      location and reference count of one stored chunk
//   S <segment id BE64>    a committed segment file and how many live chunks it holds
//   H <job> \0 <time BE64> one failure of a job (lib/store/job_history.cc)
//   J <job>                the job's profile: nodes, measured costs, session
//
// Every change that matters (a commit, a GC) is one WriteBatch written with
// sync=true: after a crash either all of it is there or none of it.
//
// Thread safety: all methods may be called concurrently; commits and removals
// are serialized by an internal mutex because they read-modify-write counts.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/status.h"
#include "engine/chunk_codec.h"
#include "engine/chunk_hash.h"
#include "engine/manifest.h"

namespace rocksdb {
class DB;
class WriteBatch;
}

namespace ckpt {

inline constexpr uint32_t kStoreFormatVersion = 1;

struct ChunkLocation {
  uint64_t segment_id = 0;
  uint64_t offset = 0;       // of the record header in the segment file
  uint32_t raw_len = 0;
  uint32_t stored_len = 0;   // payload bytes after the header
  Codec codec = Codec::kRaw;
  uint8_t plane_width = 0;
  uint64_t payload_checksum = 0;
  uint64_t refs = 0;         // references from committed manifests
};

struct SegmentEntry {
  uint64_t id = 0;
  uint64_t file_bytes = 0;   // size of the file, padding included
  uint64_t live_chunks = 0;  // chunk entries located in this segment
};

// What a finished checkpoint asks the catalog to make visible at once.
struct CommitRequest {
  Manifest manifest;
  // Chunks written by this checkpoint (refs start at 0; references are
  // counted from the manifest).
  std::vector<std::pair<ChunkHash, ChunkLocation>> new_chunks;
  std::optional<SegmentEntry> segment;  // the segment they were written to
};

struct RemovalOutcome {
  uint64_t freed_chunks = 0;
  std::vector<uint64_t> dead_segments;  // nothing live left: delete their files
};

class Catalog {
 public:
  // dir is the RocksDB directory. create: make a new, empty catalog if none.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& dir, bool read_only,
                                               bool create);
  ~Catalog();

  bool read_only() const { return read_only_; }

  Result<std::optional<ChunkLocation>> GetChunk(const ChunkHash& hash) const;
  Result<std::optional<Manifest>> GetManifest(const std::string& job, uint64_t step) const;
  // Oldest step first; every job when job is empty (sorted by job, then step).
  Result<std::vector<Manifest>> ListManifests(const std::string& job) const;
  Result<std::optional<uint64_t>> LatestStep(const std::string& job) const;
  Result<std::vector<SegmentEntry>> ListSegments() const;

  // Small records beside the checkpoints (failure history, job profiles;
  // lib/store/job_history.cc gives them meaning). PutRecord fails with
  // kInvalidArgument on a read-only catalog.
  Result<std::optional<std::string>> GetRecord(const std::string& key) const;
  Status PutRecord(const std::string& key, const std::string& value, bool sync);
  // Every record whose key starts with `prefix`, in key order.
  Result<std::vector<std::pair<std::string, std::string>>> ScanRecords(
      const std::string& prefix) const;

  // Makes a checkpoint visible atomically and durably. Replaces a manifest of
  // the same job and step (whose chunks may then be freed: see the outcome).
  // kAborted when a chunk the manifest reuses was removed meanwhile (a
  // concurrent GC): nothing is changed then.
  Result<RemovalOutcome> Commit(const CommitRequest& request);

  // Removes manifests and drops the references they held, atomically. With
  // dry_run, only reports what would be freed.
  Result<RemovalOutcome> RemoveManifests(const std::string& job,
                                         const std::vector<uint64_t>& steps, bool dry_run = false);

 private:
  Catalog(std::unique_ptr<rocksdb::DB> db, bool read_only);
  // Applies `batch` atomically (durably with sync). Under write_mu_.
  Status Write(rocksdb::WriteBatch* batch, bool sync, const std::string& what);
  std::unique_ptr<rocksdb::DB> db_;
  bool read_only_;
  std::mutex write_mu_;
};

std::string ManifestKey(const std::string& job, uint64_t step);

}  // namespace ckpt
