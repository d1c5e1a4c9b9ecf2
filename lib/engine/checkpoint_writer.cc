#include "engine/checkpoint_writer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "store/store_rep.h"
#include "util/io_memory.h"

namespace ckpt {

Result<std::unique_ptr<CheckpointWriter>> CheckpointWriter::Create(std::shared_ptr<Store> store,
                                                                   const Options& options,
                                                                   unsigned max_borrowed) {
  SegmentWriterOptions so;
  so.use_direct_io = store->rep()->options().use_direct_io;
  so.env = store->rep()->env();
  // 8 x 4 MiB writes in flight: the disk here needs a deep queue to reach
  // its sequential speed (docs/performance.md).
  so.queue_depth = 8;
  so.max_borrowed = max_borrowed;
  auto segments = SegmentWriter::Create(so);
  if (!segments.ok()) return segments.status();
  std::unique_ptr<CheckpointWriter> writer(
      new CheckpointWriter(std::move(store), options, std::move(segments).value()));
  if (options.compression != Compression::kOff && max_borrowed > 0) {
    writer->output_bytes_ = (ChunkEncoder::MaxPayloadBytes(options.chunk_bytes) + 4095) / 4096 * 4096;
    for (int i = 0; i < kOutputBuffers; ++i) {
      auto b = MapIoMemory(writer->output_bytes_, "compressed chunk buffer");
      if (!b.ok()) return b.status();
      writer->outputs_.push_back(*b);
      writer->free_outputs_.push_back(i);
    }
  }
  return writer;
}

CheckpointWriter::CheckpointWriter(std::shared_ptr<Store> store, const Options& options,
                                   std::unique_ptr<SegmentWriter> segments)
    : store_(std::move(store)),
      options_(options),
      segments_(std::move(segments)),
      encoder_(options.compression, options.zstd_level, options.auto_compression_mbps),
      paced_by_disk_(options.compression == Compression::kAuto && options.auto_compression_mbps == 0),
      pacer_(options.chunk_bytes) {
  encoder_.Prepare(options.chunk_bytes);
}

namespace {
double NowS() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Tells the pacer when a chunk reached the writer and when the writer was
// done with it: it learns how long the writer waits for chunks.
class PacerVisit {
 public:
  explicit PacerVisit(CompressionPacer& pacer) : pacer_(pacer) { pacer_.Arrived(NowS()); }
  ~PacerVisit() { pacer_.Returned(NowS()); }
  PacerVisit(const PacerVisit&) = delete;
  PacerVisit& operator=(const PacerVisit&) = delete;

 private:
  CompressionPacer& pacer_;
};
}  // namespace

bool CheckpointWriter::PacedCompression(size_t size) {
  // A checkpoint of at most one write buffer takes the time of its commit's
  // syncs, whatever its bytes: compressing it costs a few milliseconds at
  // most and saves space on every such checkpoint.
  if (manifest_.logical_bytes <= segments_->buffer_bytes()) return true;
  // Nothing queued yet: the disk would wait for the compressor. A raw chunk
  // costs the writer next to nothing (written from staging) and starts it.
  if (!segment_open_) return false;
  return pacer_.ShouldCompress(size, segments_->BytesInFlight());
}

int CheckpointWriter::TakeOutputBuffer() {
  // Collect finished writes: their buffers come back.
  if (free_outputs_.empty() && segment_open_) (void)segments_->BytesInFlight();
  if (free_outputs_.empty()) return -1;
  const int out = free_outputs_.back();
  free_outputs_.pop_back();
  return out;
}

CheckpointWriter::~CheckpointWriter() {
  Abort();  // every write is over: no output buffer is read any more
  for (uint8_t* b : outputs_) ::munmap(b, output_bytes_);
}

Status CheckpointWriter::Begin(const std::string& job, uint64_t step,
                               std::vector<RegionLayout> regions, std::string user_state) {
  if (active_) return Status::FailedPrecondition("a checkpoint is already being written");
  gc_guard_ = std::shared_lock<std::shared_mutex>(store_->rep()->gc_mutex());
  manifest_ = Manifest();
  manifest_.job = job;
  manifest_.step = step;
  manifest_.chunk_bytes = options_.chunk_bytes;
  manifest_.user_state = std::move(user_state);
  filled_.clear();
  for (auto& r : regions) {
    ManifestRegion mr;
    mr.name = std::move(r.name);
    mr.type = r.type;
    mr.bytes = r.bytes;
    mr.shape = std::move(r.shape);
    mr.chunks.resize((r.bytes + options_.chunk_bytes - 1) / options_.chunk_bytes);
    manifest_.logical_bytes += r.bytes;
    filled_.emplace_back(mr.chunks.size(), false);
    manifest_.regions.push_back(std::move(mr));
  }
  new_chunks_.clear();
  segment_open_ = false;
  active_ = true;
  pacer_.Begin(NowS());
  return Status::OK();
}

Status CheckpointWriter::AddChunk(size_t region, size_t index, const uint8_t* data, size_t size,
                                  const ChunkDigest* digest) {
  return AddChunkImpl(region, index, data, size, digest, nullptr);
}

Status CheckpointWriter::AddChunk(size_t region, size_t index, const uint8_t* data, size_t size,
                                  const ChunkDigest* digest, std::function<void()> release) {
  Status s = AddChunkImpl(region, index, data, size, digest, &release);
  if (release) release();  // not taken over by the segment writer
  return s;
}

Result<ManifestRegion*> CheckpointWriter::ChunkOf(size_t region, size_t index, size_t size) {
  if (!active_) return Status::FailedPrecondition("no checkpoint begun");
  if (region >= manifest_.regions.size() || index >= manifest_.regions[region].chunks.size())
    return Status::InvalidArgument("chunk outside the checkpoint's regions");
  ManifestRegion& r = manifest_.regions[region];
  const uint64_t expected = std::min<uint64_t>(manifest_.chunk_bytes, r.bytes - index * manifest_.chunk_bytes);
  if (size != expected) return Status::InvalidArgument("chunk of the wrong size");
  return &r;
}

Result<bool> CheckpointWriter::Holds(const ChunkHash& hash, size_t size) {
  if (new_chunks_.count(hash)) return true;  // equal to a chunk of this checkpoint
  auto existing = store_->rep()->catalog().GetChunk(hash);
  if (!existing.ok()) return existing.status();
  return existing->has_value() && (*existing)->raw_len == size;  // unchanged
}

Status CheckpointWriter::OpenSegment() {
  if (segment_open_) return Status::OK();
  segment_id_ = store_->rep()->NewSegmentId();
  CKPT_RETURN_IF_ERROR(segments_->Start(store_->rep()->SegmentPath(segment_id_)));
  segment_open_ = true;
  return Status::OK();
}

Status CheckpointWriter::AddChunkImpl(size_t region, size_t index, const uint8_t* data, size_t size,
                                      const ChunkDigest* digest, std::function<void()>* release) {
  auto r = ChunkOf(region, index, size);
  if (!r.ok()) return r.status();
  const PacerVisit visit(pacer_);

  // Uncompressed, a chunk is its own payload: hash and checksum it in one
  // sweep, unless the copy into staging already did.
  ChunkHash hash;
  std::optional<uint64_t> raw_checksum;
  // A uniform chunk is compressed whatever the disk's backlog (the encoder
  // does so too): it costs less than writing it, and it is no sample of what
  // compression costs.
  const bool uniform = paced_by_disk_ && IsUniformChunk(data, size);
  const bool raw_only =
      options_.compression == Compression::kOff || (paced_by_disk_ && !uniform && !PacedCompression(size));
  if (digest != nullptr) {
    hash = digest->hash;
    raw_checksum = digest->checksum;
  } else if (raw_only) {
    HashAndChecksum(data, size, &hash, &raw_checksum.emplace());
  } else {
    hash = HashChunk(data, size);
  }
  (*r)->chunks[index] = hash;
  filled_[region][index] = true;
  auto held = Holds(hash, size);
  if (!held.ok() || *held) return held.status();
  CKPT_RETURN_IF_ERROR(OpenSegment());

  // A compressed payload is built in a free output buffer, from which the
  // disk then writes it; with none free, in the encoder's own (copied).
  const int out = raw_only ? -1 : TakeOutputBuffer();
  const double encode_start_s = raw_only ? 0 : NowS();
  Result<EncodedChunk> encoded =
      raw_only ? Result<EncodedChunk>(EncodedChunk{Codec::kRaw, 0, {reinterpret_cast<const char*>(data), size}})
               : encoder_.Encode(data, size, ElementSize((*r)->type), out < 0 ? nullptr : outputs_[out]);
  if (encoded.ok() && paced_by_disk_ && !raw_only && !uniform)
    pacer_.Compressed(size, NowS() - encode_start_s, segments_->BytesInFlight());
  CKPT_RETURN_IF_ERROR(Append(hash, size, encoded, out, raw_checksum, data, release));
  // Compressing the next chunk may take a while: let the disk have this one.
  return paced_by_disk_ && !raw_only ? segments_->Flush() : Status::OK();
}

Status CheckpointWriter::AddUniformChunk(size_t region, size_t index, size_t size, uint8_t byte) {
  if (options_.compression == Compression::kOff)
    return Status::FailedPrecondition("a uniform chunk is stored compressed, and compression is off");
  auto r = ChunkOf(region, index, size);
  if (!r.ok()) return r.status();
  const PacerVisit visit(pacer_);

  auto [cached, inserted] = uniform_hashes_.try_emplace({byte, size});
  if (inserted) cached->second = HashUniformChunk(byte, size);
  const ChunkHash hash = cached->second;
  (*r)->chunks[index] = hash;
  filled_[region][index] = true;
  auto held = Holds(hash, size);
  if (!held.ok() || *held) return held.status();
  CKPT_RETURN_IF_ERROR(OpenSegment());
  const int out = TakeOutputBuffer();
  auto encoded = encoder_.EncodeUniform(byte, size, out < 0 ? nullptr : outputs_[out]);
  CKPT_RETURN_IF_ERROR(Append(hash, size, encoded, out, std::nullopt, nullptr, nullptr));
  return paced_by_disk_ ? segments_->Flush() : Status::OK();
}

Status CheckpointWriter::Append(const ChunkHash& hash, size_t size, const Result<EncodedChunk>& encoded, int out,
                                std::optional<uint64_t> raw_checksum, const uint8_t* data,
                                std::function<void()>* release) {
  const bool payload_in_output =
      encoded.ok() && out >= 0 && reinterpret_cast<const uint8_t*>(encoded->payload.data()) == outputs_[out];
  if (out >= 0 && !payload_in_output) free_outputs_.push_back(out);
  if (!encoded.ok()) return encoded.status();
  RecordHeader header;
  header.codec = encoded->codec;
  header.plane_width = encoded->plane_width;
  header.raw_len = static_cast<uint32_t>(size);
  header.stored_len = static_cast<uint32_t>(encoded->payload.size());
  header.hash = hash;
  const auto* payload = reinterpret_cast<const uint8_t*>(encoded->payload.data());
  const bool payload_is_data = data != nullptr && payload == data && encoded->payload.size() == size;
  header.payload_checksum = raw_checksum && payload_is_data
                                ? *raw_checksum
                                : Checksum64(encoded->payload.data(), encoded->payload.size());
  // A raw chunk whose memory the caller lends goes to disk from there; a
  // payload in an output buffer likewise.
  Result<uint64_t> offset =
      release != nullptr && *release && payload_is_data
          ? segments_->AppendBorrowed(header, data, size, std::exchange(*release, nullptr))
      : payload_in_output
          ? segments_->AppendBorrowed(header, payload, encoded->payload.size(),
                                      [this, out] { free_outputs_.push_back(out); })
          : segments_->Append(header, payload, encoded->payload.size());
  if (!offset.ok()) return offset.status();
  ChunkLocation loc;
  loc.segment_id = segment_id_;
  loc.offset = *offset;
  loc.raw_len = header.raw_len;
  loc.stored_len = header.stored_len;
  loc.codec = header.codec;
  loc.plane_width = header.plane_width;
  loc.payload_checksum = header.payload_checksum;
  new_chunks_.emplace(hash, loc);
  return Status::OK();
}

Status CheckpointWriter::AddUnchangedChunk(size_t region, size_t index, const ChunkHash& hash, size_t size) {
  auto r = ChunkOf(region, index, size);
  if (!r.ok()) return r.status();
  auto held = Holds(hash, size);
  if (!held.ok()) return held.status();
  if (!*held)
    return Status::Aborted("chunk " + std::to_string(index) + " of region '" + (*r)->name +
                           "' is unchanged since the parent checkpoint, but the store no longer holds it "
                           "(garbage-collected meanwhile); take the checkpoint again");
  (*r)->chunks[index] = hash;
  filled_[region][index] = true;
  return Status::OK();
}

Result<CheckpointStats> CheckpointWriter::Commit() {
  if (!active_) return Status::FailedPrecondition("no checkpoint begun");
  for (size_t r = 0; r < filled_.size(); ++r)
    for (size_t i = 0; i < filled_[r].size(); ++i)
      if (!filled_[r][i]) {
        Abort();
        return Status::FailedPrecondition("chunk " + std::to_string(i) + " of region '" +
                                          manifest_.regions[r].name + "' was never added");
      }

  CommitRequest request;
  if (segment_open_) {
    auto size = segments_->Finish();  // data and directory entry durable
    segment_open_ = false;
    if (!size.ok()) {
      active_ = false;
      gc_guard_ = {};
      return size.status();
    }
    request.segment = SegmentEntry{segment_id_, *size, 0};
    manifest_.written_bytes = *size;
  }
  Catalog& catalog = store_->rep()->catalog();
  auto parent = catalog.LatestStep(manifest_.job);
  if (parent.ok() && parent->has_value()) manifest_.parent_step = **parent;
  manifest_.new_chunks = new_chunks_.size();
  manifest_.created_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  request.new_chunks.assign(new_chunks_.begin(), new_chunks_.end());
  request.manifest = manifest_;
  active_ = false;

  auto outcome = catalog.Commit(request);
  gc_guard_ = {};
  if (!outcome.ok()) {
    if (request.segment) store_->rep()->DeleteSegments({segment_id_});
    return outcome.status();
  }
  store_->rep()->DeleteSegments(outcome->dead_segments);
  CheckpointStats stats;
  stats.logical_bytes = manifest_.logical_bytes;
  stats.written_bytes = manifest_.written_bytes;
  stats.chunks = manifest_.chunk_count();
  stats.new_chunks = manifest_.new_chunks;
  return stats;
}

void CheckpointWriter::Abort() {
  if (segment_open_) segments_->Abort();
  segment_open_ = false;
  active_ = false;
  gc_guard_ = {};
}

}  // namespace ckpt
