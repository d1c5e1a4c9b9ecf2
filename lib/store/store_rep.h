// Store::Rep: the store's internals, shared by the public Store (tools) and
// the checkpoint engine. Not part of the public API.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "ckpt/env.h"
#include "ckpt/store.h"
#include "engine/chunk_codec.h"
#include "engine/manifest.h"
#include "store/catalog.h"

namespace ckpt {

inline constexpr char kStoreMarkerFile[] = "CKPT_STORE";
inline constexpr char kStoreMarkerText[] = "ckpt-store-format 1\n";

// Lanes for Store::Rep::ReadChunks: one per CPU this process may run on
// (its affinity mask: a job pinned to a few cores gets as many), at most 4.
unsigned DefaultReadLanes();

class Store::Rep {
 public:
  Rep(std::string dir, StoreOptions options, std::unique_ptr<Catalog> catalog);
  ~Rep();

  const std::string& dir() const { return dir_; }
  const StoreOptions& options() const { return options_; }
  Env* env() const { return env_; }
  Catalog& catalog() const { return *catalog_; }

  std::string SegmentDir() const { return dir_ + "/segments"; }
  std::string SegmentPath(uint64_t id) const;
  std::string SegmentName(uint64_t id) const;  // relative to the store: segments/<id>.seg

  // A fresh segment id, never used before in this store.
  uint64_t NewSegmentId() { return next_segment_id_.fetch_add(1); }

  // Reads the record at `loc`, checks it (header, checksum, decoding, content
  // hash against `hash`) and writes its raw_len bytes to `out`. `scratch` is
  // reused between calls. kCorruption names what is wrong.
  Status ReadChunk(const ChunkHash& hash, const ChunkLocation& loc, ChunkDecoder* decoder,
                   std::vector<uint8_t>* scratch, uint8_t* out) const;

  // One chunk to read with ReadChunks.
  struct ChunkRead {
    ChunkHash hash;
    ChunkLocation loc;
    uint8_t* out = nullptr;  // loc.raw_len bytes of host memory
  };

  // Reads, checks and decodes many chunks, as ReadChunk does each, with up
  // to `depth` (at most buffers.size()) O_DIRECT reads in flight: checking
  // and decoding a chunk that has arrived overlaps the reads of the
  // following ones. The chunks are dealt round-robin to `lanes` lanes (at
  // most one per buffer), each a thread with its own io_uring and its share
  // of the buffers and of the depth: one core decodes compressed chunks at
  // about the speed one disk reads them (DefaultReadLanes). `buffers`
  // (4 KiB-aligned, `buffer_bytes` each, a multiple of 4 KiB and at least
  // the chunk size) hold the reads. On error the lanes stop submitting reads
  // and wait for those in flight; `*failed` is then set to the lowest index
  // of a chunk that failed (of those read), whose error is returned.
  // Thread safety: like ReadChunk, callable from any thread.
  Status ReadChunks(const std::vector<ChunkRead>& reads, const std::vector<uint8_t*>& buffers,
                    size_t buffer_bytes, unsigned depth, unsigned lanes, size_t* failed) const;

  // Deletes segment files that the catalog does not know: bytes of
  // checkpoints that never committed, or of segments freed just before a crash.
  Status ReclaimOrphans();

  // Deletes the files of segments no longer live; returns the bytes freed.
  uint64_t DeleteSegments(const std::vector<uint64_t>& ids);

  // Checkpoints being written hold this shared; GC holds it exclusively, so
  // it never frees a chunk that a checkpoint in flight has chosen to reuse.
  std::shared_mutex& gc_mutex() { return gc_mu_; }

  // Read-modify-write of a job profile under profile_mu_ (Store::UpdateJobProfile).
  Status UpdateJobProfile(const std::string& job, const std::function<void(JobProfile*)>& update);

  // A client of `job` opens: marks the session open in the job's profile
  // and records `nodes` (when > 0). When the profile says a session is open
  // but no client in this process has one, the previous session died without
  // closing: that failure is recorded (source kClient, at the session's last
  // sign of life) and returned.
  Result<std::optional<FailureEvent>> BeginSession(const std::string& job, uint64_t nodes);
  // The session's client was destroyed: the session is closed when it was
  // the last one of the job in this process.
  Status EndSession(const std::string& job);

  // Store::RecordFailure.
  Status RecordFailure(const FailureEvent& event);

 private:
  // One lane of ReadChunks: one io_uring on the calling thread. Stops
  // submitting once `stop` is set (another lane failed) and sets it on error.
  Status ReadChunksLane(const std::vector<ChunkRead>& reads, const std::vector<uint8_t*>& buffers,
                        size_t buffer_bytes, unsigned depth, std::atomic<bool>* stop, size_t* failed) const;

  // An open segment file; closed when the last reader lets go of it, so GC
  // never closes a descriptor under a concurrent read.
  struct OpenFile {
    explicit OpenFile(int f) : fd(f) {}
    ~OpenFile();
    OpenFile(const OpenFile&) = delete;
    OpenFile& operator=(const OpenFile&) = delete;
    const int fd;
  };
  Result<std::shared_ptr<OpenFile>> SegmentFile(uint64_t id) const;
  // The checks of ReadChunk once the record's bytes are in memory: header
  // against the index, payload checksum, decoding into `out` (skipped when a
  // raw payload already is `out`), content hash.
  static Status CheckAndDecode(const ChunkHash& hash, const ChunkLocation& loc, const uint8_t* header_bytes,
                               const uint8_t* payload, ChunkDecoder* decoder, uint8_t* out);
  // The same without the header (its fields are the index's): the payload
  // checksum and the content hash still prove every byte restored.
  static Status CheckAndDecodePayload(const ChunkHash& hash, const ChunkLocation& loc, const uint8_t* payload,
                                      ChunkDecoder* decoder, uint8_t* out);

  std::string dir_;
  StoreOptions options_;
  Env* env_;
  std::unique_ptr<Catalog> catalog_;
  std::atomic<uint64_t> next_segment_id_{1};
  std::shared_mutex gc_mu_;
  std::mutex profile_mu_;
  std::map<std::string, int> open_sessions_;  // job -> clients with a session, under profile_mu_
  mutable std::mutex fd_mu_;
  mutable std::map<uint64_t, std::shared_ptr<OpenFile>> files_;
};

}  // namespace ckpt
