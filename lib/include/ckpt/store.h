// ckpt/store.h: a store of checkpoints, as the tools (ls, verify, restore, gc)
// see it.
//
// Layout of a store directory (see docs/format.md):
//   CKPT_STORE   marker with the format version
//   catalog/     RocksDB: manifests, chunk index, reference counts
//   segments/    append-only files of compressed, checksummed chunk records
//
// A checkpoint is visible only once its manifest is committed in the catalog,
// which happens after every chunk it references is on stable storage.
//
// Thread safety: all methods may be called concurrently. One process at a
// time opens a store for writing (kBusy otherwise); any number may open it
// read_only, also while a writer runs (they see the catalog as of their open).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/options.h"
#include "ckpt/status.h"
#include "ckpt/types.h"

namespace ckpt {

struct RegionInfo {
  std::string name;
  ElementType type = ElementType::kBytes;
  uint64_t bytes = 0;
  uint64_t chunks = 0;
  std::optional<Shape> shape;  // as given to Client::protect; none for checkpoints without it
};

struct CheckpointInfo {
  std::string job;
  uint64_t step = 0;
  int64_t created_unix_ms = 0;        // commit time
  std::optional<uint64_t> parent_step;  // newest committed step when it was taken
  uint64_t chunk_bytes = 0;
  uint64_t logical_bytes = 0;
  uint64_t written_bytes = 0;  // bytes newly stored by this checkpoint
  uint64_t chunks = 0;
  uint64_t new_chunks = 0;
  std::vector<RegionInfo> regions;
  // The checkpoint's user-state blob (Client::checkpoint with user_state):
  // opaque bytes, at most kMaxUserStateBytes; empty when none was given.
  std::string user_state;
};

// One damaged chunk found by Verify.
struct ChunkFault {
  std::string job;
  uint64_t step = 0;
  std::string region;
  uint64_t chunk_index = 0;  // within the region
  uint64_t region_offset = 0;
  std::string segment_file;  // where the chunk's bytes live
  uint64_t file_offset = 0;
  std::string what;          // e.g. "payload checksum mismatch"

  // "job j step 150 region 'weights' chunk 3 (region offset 12582912): <what>
  //  [segments/0000000000000002.seg @ 4096]""
  std::string ToString() const;
};

// Where a failure event came from.
enum class FailureSource : uint8_t {
  kReported = 1,  // `ckpt failure add`, or Store::RecordFailure by the user
  kDaemon = 2,    // ckptd: a client's session ended without a clean close
  kImported = 3,  // `ckpt failure import` from a failure trace
  kClient = 4,    // a client found the job's previous session never closed
};
// "reported", "daemon", "imported", "client".
const char* FailureSourceName(FailureSource source);

// One failure of a job: the input of the interval policy.
struct FailureEvent {
  std::string job;
  int64_t time_unix_us = 0;  // when it failed (> 0)
  FailureSource source = FailureSource::kReported;
  std::string cause;  // free text, at most kMaxFailureCauseBytes
};
inline constexpr size_t kMaxFailureCauseBytes = 4096;

// A measured cost, summarized as it is measured.
struct CostSummary {
  uint64_t samples = 0;
  // Exponentially weighted mean: sample n has weight 1/min(n, 16), so the
  // first samples average plainly and later the mean follows recent ones.
  double mean_s = 0;
  double last_s = 0;
};

// What the store knows about a job besides its checkpoints (kept for the
// interval policy: `ckpt policy --store`, Client::should_checkpoint).
struct JobProfile {
  std::string job;
  uint64_t nodes = 0;               // nodes the job runs on; 0 = never said
  int64_t first_seen_unix_us = 0;   // failures are observed from here on
  CostSummary checkpoint_cost;      // C: how much one checkpoint slows the job
  CostSummary restart_cost;         // R: from a failure to training again
  double step_s = 0;                // the job's last measured time per step
  // A client of the job has it open (set when a client opens, cleared when
  // it is destroyed). Found set by the next client: the previous session
  // died without closing, which is recorded as a failure.
  bool session_open = false;
  int64_t last_alive_unix_us = 0;   // the session's last sign of life
};

// Adds one sample to a summary (the weighting described in CostSummary).
void AddCostSample(CostSummary* summary, double seconds);

struct GcOptions {
  uint64_t keep_last = 1;   // keep the newest N checkpoints (at least 1)
  uint64_t keep_every = 0;  // also keep every step divisible by K; 0 = none
  bool dry_run = false;     // report what would go, remove nothing
};

struct GcResult {
  std::vector<uint64_t> removed_steps;
  std::vector<uint64_t> kept_steps;
  uint64_t freed_chunks = 0;
  uint64_t freed_bytes = 0;  // bytes of segment files deleted
};

class Store {
 public:
  // kNotFound when the directory holds no store and create_if_missing is
  // false; kInvalidArgument when it holds something that is not a store;
  // kUnsupported for another format version; kBusy when opened for writing
  // by another process; kCorruption when the catalog is damaged.
  // A writable open reclaims the bytes of checkpoints that never committed.
  static Result<std::shared_ptr<Store>> Open(const std::string& dir, const StoreOptions& options);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& dir() const;
  bool read_only() const;

  // Job names that have at least one checkpoint, sorted.
  Result<std::vector<std::string>> ListJobs() const;

  // Committed checkpoints of `job` (every job when empty), oldest step first.
  Result<std::vector<CheckpointInfo>> List(const std::string& job = "") const;

  // One checkpoint; kNotFound when absent.
  Result<CheckpointInfo> Get(const std::string& job, uint64_t step) const;

  // Newest committed step of `job`; kNotFound when there is none.
  Result<uint64_t> LatestStep(const std::string& job) const;

  // Reads back every chunk of the checkpoint and checks header, checksum,
  // decoding and content hash. Returns the faults found (empty = sound); a
  // non-OK Status only when verification itself could not run.
  Result<std::vector<ChunkFault>> Verify(const std::string& job, uint64_t step) const;

  // Newest step of `job` that verifies; kNotFound when none does.
  Result<uint64_t> NewestIntactStep(const std::string& job) const;

  // Decodes region `region` of a checkpoint chunk by chunk, in order, calling
  // sink(offset, data, size) for each. Every chunk is verified first; a bad
  // chunk stops with kCorruption naming it.
  using ChunkSink = std::function<Status(uint64_t offset, const uint8_t* data, size_t size)>;
  Status ReadRegion(const std::string& job, uint64_t step, const std::string& region,
                    const ChunkSink& sink) const;

  // Retention for one job. Never removes a chunk that a kept checkpoint (of
  // any job) references; deletes segment files once nothing in them is live.
  Result<GcResult> Gc(const std::string& job, const GcOptions& options);

  // ---- failure history and job profiles (docs/policy.md) ----

  // Records a failure, synced. kInvalidArgument for a bad job name, a time
  // <= 0, a cause over kMaxFailureCauseBytes or a read-only store;
  // kAlreadyExists when the job already has a failure at that microsecond
  // (so importing the same trace twice adds nothing).
  Status RecordFailure(const FailureEvent& event);

  // Failures of `job` (every job when empty), oldest first (sorted by job
  // first when listing every job).
  Result<std::vector<FailureEvent>> ListFailures(const std::string& job = "") const;

  // kNotFound when the store has no profile of the job.
  Result<JobProfile> GetJobProfile(const std::string& job) const;

  // Read-modify-write of a job's profile, serialized with every other update
  // through this Store; a missing profile starts empty with first_seen =
  // now. Not synced: a profile update lost to a power cut costs one sample.
  // kInvalidArgument on a read-only store or a bad job name.
  Status UpdateJobProfile(const std::string& job,
                          const std::function<void(JobProfile*)>& update);

  class Rep;
  Rep* rep() const { return rep_.get(); }

 private:
  explicit Store(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace ckpt
