// Turns the chunks of one checkpoint into stored records and a committed
// manifest: hash each chunk (XXH3-128); reference it when the store already
// holds it (unchanged since the parent, or equal to another chunk); otherwise
// filter + compress it and append it to this checkpoint's segment file. With
// kAuto and no target speed, CompressionPacer decides per chunk (while the
// disk is busy enough, or with time the writer would spend waiting for
// chunks); the others are stored raw, from staging without a copy: the disk does not
// wait for the compressor, so kAuto is not slower than kOff. Commit
// syncs the segment, then commits the manifest in one atomic catalog batch.
//
// A writer handles one checkpoint at a time (Begin ... Commit or Abort) and is
// reused for the next; its buffers are allocated once.
//
// Thread safety: one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/options.h"
#include "ckpt/status.h"
#include "ckpt/store.h"
#include "engine/chunk_codec.h"
#include "engine/chunk_hash.h"
#include "engine/compression_pacer.h"
#include "engine/manifest.h"
#include "store/catalog.h"
#include "store/segment_writer.h"

namespace ckpt {

class CheckpointWriter {
 public:
  // max_borrowed: how many chunks given with a `release` (AddChunk below)
  // may be written from their caller's memory at once; 0: all are copied.
  static Result<std::unique_ptr<CheckpointWriter>> Create(std::shared_ptr<Store> store,
                                                          const Options& options,
                                                          unsigned max_borrowed = 0);
  ~CheckpointWriter();

  // user_state: the checkpoint's user-state blob (at most kMaxUserStateBytes,
  // checked by the caller), stored in its manifest.
  Status Begin(const std::string& job, uint64_t step, std::vector<RegionLayout> regions,
               std::string user_state = {});

  // Chunk `index` of region `region`; chunks may come in any order. The bytes
  // are consumed before the call returns. `digest`, when given, must be the
  // ChunkDigest of exactly these bytes (taken as they were staged); the
  // writer then does not hash them again.
  Status AddChunk(size_t region, size_t index, const uint8_t* data, size_t size,
                  const ChunkDigest* digest = nullptr);

  // The same, except that a chunk stored raw may be written to disk straight
  // from `data` (no copy; SegmentWriter::AppendBorrowed). `release` is called
  // exactly once, on this thread, when the writer no longer reads `data`:
  // before this returns when the chunk was referenced, compressed, copied or
  // refused, otherwise when its write completes or fails (at the latest
  // within Commit or Abort). The caller leaves the bytes alone until then.
  Status AddChunk(size_t region, size_t index, const uint8_t* data, size_t size,
                  const ChunkDigest* digest, std::function<void()> release);

  // Chunk `index` of region `region` is known to hold the bytes of a stored
  // chunk with content hash `hash` (the client hashed it in place and found
  // it unchanged since the parent checkpoint): referenced, not written.
  // kAborted when the store no longer holds that chunk (removed by gc since
  // the parent was committed): the checkpoint must then be taken again.
  Status AddUnchangedChunk(size_t region, size_t index, const ChunkHash& hash, size_t size);

  // Chunk `index` of region `region` is `size` bytes that all equal `byte`
  // (the client found it so in place, IsUniformChunk, and copied nothing).
  // Stored as AddChunk would store such bytes: referenced when the store or
  // this checkpoint holds them, else as one small zstd frame
  // (ChunkEncoder::EncodeUniform). FailedPrecondition with compression off,
  // where every chunk is stored as it is given.
  Status AddUniformChunk(size_t region, size_t index, size_t size, uint8_t byte);

  // The manifest of the checkpoint just committed: valid after Commit()
  // returned OK, until the next Begin().
  const Manifest& committed_manifest() const { return manifest_; }

  // Makes the checkpoint durable and visible. On error nothing is visible and
  // the checkpoint's segment file is removed.
  Result<CheckpointStats> Commit();

  // Abandons the checkpoint in progress (removes its segment file).
  void Abort();

 private:
  CheckpointWriter(std::shared_ptr<Store> store, const Options& options,
                   std::unique_ptr<SegmentWriter> segments);
  // `release`: null, or the borrowed chunk's release, taken (left empty)
  // when the segment writer took the chunk over.
  Status AddChunkImpl(size_t region, size_t index, const uint8_t* data, size_t size,
                      const ChunkDigest* digest, std::function<void()>* release);

  // Region `region`'s manifest entry, after checking that chunk `index` of
  // `size` bytes belongs to it; a checkpoint must have begun.
  Result<ManifestRegion*> ChunkOf(size_t region, size_t index, size_t size);
  // Whether this checkpoint or the store already holds the chunk `hash` of
  // `size` bytes, so that a reference to it is all the chunk needs.
  Result<bool> Holds(const ChunkHash& hash, size_t size);
  // Starts this checkpoint's segment file unless it is open. Called before
  // an output buffer is taken, so that a failure here holds none.
  Status OpenSegment();
  // Appends an encoded chunk to the open segment and records where it went. `out`: the output buffer the payload
  // is in, or -1. `raw_checksum`: the raw bytes' checksum when known (a raw
  // payload's own). `data` and `release` as in AddChunkImpl.
  Status Append(const ChunkHash& hash, size_t size, const Result<EncodedChunk>& encoded, int out,
                std::optional<uint64_t> raw_checksum, const uint8_t* data, std::function<void()>* release);

  std::shared_ptr<Store> store_;
  Options options_;
  // kAuto without a target speed (Options::auto_compression_mbps = 0):
  // whether the chunk of `size` bytes that just arrived is worth compressing.
  bool PacedCompression(size_t size);

  std::unique_ptr<SegmentWriter> segments_;
  ChunkEncoder encoder_;
  // Buffers compressed payloads are built in and written from, so that the
  // writer never copies them (only with max_borrowed > 0). A buffer is taken
  // per compressed chunk and comes back when its write is over.
  static constexpr int kOutputBuffers = 3;
  // A free output buffer's index, or -1 when all are being written.
  int TakeOutputBuffer();
  std::vector<uint8_t*> outputs_;
  std::vector<int> free_outputs_;
  size_t output_bytes_ = 0;
  const bool paced_by_disk_;
  CompressionPacer pacer_;  // kept from one checkpoint to the next

  bool active_ = false;
  std::shared_lock<std::shared_mutex> gc_guard_;  // held from Begin to Commit/Abort
  Manifest manifest_;
  std::vector<std::vector<bool>> filled_;
  std::unordered_map<ChunkHash, ChunkLocation, ChunkHashHasher> new_chunks_;
  // HashUniformChunk by (byte, size), kept across checkpoints: the same
  // zero chunks come back every time.
  std::map<std::pair<uint8_t, size_t>, ChunkHash> uniform_hashes_;
  bool segment_open_ = false;
  uint64_t segment_id_ = 0;
};

}  // namespace ckpt
