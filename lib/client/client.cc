#include "ckpt/client.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "ckpt/store.h"
#include "client/copy_engine.h"
#include "client/daemon_session.h"
#include "client/in_place_hasher.h"
#include "client/interval_controller.h"
#include "client/staging_pool.h"
#include "client/ticket_ledger.h"
#include "client/ticket_state.h"
#include "engine/checkpoint_writer.h"
#include "engine/chunk_codec.h"
#include "engine/chunk_hash.h"
#include "store/store_rep.h"
#include "util/blocking_queue.h"

namespace ckpt {
namespace {

struct Region {
  std::string name;
  uint8_t* data = nullptr;
  size_t bytes = 0;
  ElementType type = ElementType::kBytes;
  MemoryLocation location;  // detected by protect()
  std::optional<Shape> shape;  // recorded in each checkpoint when given
};

Status ValidateOptions(const Options& o) {
  if (o.store_dir.empty() && o.shared_store == nullptr && o.daemon_socket.empty())
    return Status::InvalidArgument("Options::store_dir is empty");
  CKPT_RETURN_IF_ERROR(ValidateJobName(o.job));
  if (o.chunk_bytes < (size_t{64} << 10) || o.chunk_bytes > (size_t{256} << 20) ||
      o.chunk_bytes % 4096 != 0)
    return Status::InvalidArgument("Options::chunk_bytes must be a multiple of 4096 between 64 KiB "
                                   "and 256 MiB, not " + std::to_string(o.chunk_bytes));
  if (o.compression != Compression::kOff && (o.zstd_level < 1 || o.zstd_level > 19))
    return Status::InvalidArgument("Options::zstd_level must be between 1 and 19, not " +
                                   std::to_string(o.zstd_level));
  if (o.compression != Compression::kZstd && o.compression != Compression::kOff &&
      o.compression != Compression::kAuto)
    return Status::InvalidArgument("unknown Options::compression");
  CKPT_RETURN_IF_ERROR(IntervalController::ValidateOptions(o));
  if (!o.daemon_socket.empty() && o.interval_policy)
    return Status::Unsupported("Options::interval_policy needs the store's failure history, which "
                               "ckptd holds in daemon mode; use checkpoint_every_steps there");
  return Status::OK();
}

// A shape given to protect() fits the region (both modes).
Status CheckShape(const std::string& name, size_t bytes, ElementType type, const Shape& shape) {
  const auto elements = ShapeElements(shape);
  if (shape.size() > kMaxShapeRank)
    return Status::InvalidArgument("region '" + name + "' has a shape of rank " + std::to_string(shape.size()) +
                                   "; at most " + std::to_string(kMaxShapeRank) + " dimensions");
  if (!elements || *elements > bytes / ElementSize(type) || *elements * ElementSize(type) != bytes)
    return Status::InvalidArgument("region '" + name + "' has shape " + ShapeString(shape) +
                                   ", which does not fit " + std::to_string(bytes) + " bytes of " +
                                   std::string(ElementTypeName(type)));
  return Status::OK();
}

}  // namespace

class Client::Impl {
 public:
  Impl(const Options& options, std::shared_ptr<Store> store, std::unique_ptr<StagingPool> pool,
       std::unique_ptr<CheckpointWriter> writer, std::unique_ptr<CopyEngine> copy_engine)
      : options_(options),
        store_(std::move(store)),
        pool_(std::move(pool)),
        slot_digests_(pool_->slots()),
        writer_(std::move(writer)),
        copy_engine_(std::move(copy_engine)) {
    copier_ = std::thread([this] { CopyLoop(); });
    processor_ = std::thread([this] { ProcessLoop(); });
  }

  ~Impl() {
    (void)Flush();
    requests_.Close();
    copier_.join();
    work_.Close();
    processor_.join();
    pool_->Close();
  }

  const Options& options() const { return options_; }
  std::shared_ptr<Store> store() const { return store_; }

  void AttachIntervalController(std::unique_ptr<IntervalController> interval) {
    interval_ = std::move(interval);
  }
  IntervalController& interval() { return *interval_; }

  // `shape` was checked by CheckShape (Client::protect).
  Status Protect(const std::string& name, void* data, size_t bytes, ElementType type,
                 std::optional<Shape> shape) {
    if (name.empty()) return Status::InvalidArgument("region name is empty");
    if (name.size() > 1024) return Status::InvalidArgument("region name longer than 1024 bytes");
    if (data == nullptr && bytes > 0)
      return Status::InvalidArgument("region '" + name + "' has a null pointer");
    if (bytes % ElementSize(type) != 0)
      return Status::InvalidArgument("region '" + name + "' has " + std::to_string(bytes) +
                                     " bytes, not a multiple of its element size " +
                                     std::to_string(ElementSize(type)));
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : regions_)
      if (r.name == name) return Status::AlreadyExists("region '" + name + "' is already protected");
    auto location = copy_engine_->Locate(data, bytes);
    if (!location.ok()) return location.status().WithContext("protect region '" + name + "'");
    if (IsDeviceSide(*location) && !staging_pinned_) {
      // Device copies need pinned staging memory: pin the pool once.
      CKPT_RETURN_IF_ERROR(copy_engine_->PinStaging(pool_->base(), pool_->total_bytes())
                               .WithContext("protect region '" + name + "'"));
      staging_pinned_ = true;
    }
    regions_.push_back({name, static_cast<uint8_t*>(data), bytes, type, *location, std::move(shape)});
    return Status::OK();
  }

  std::vector<ProtectedRegion> Regions() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ProtectedRegion> out;
    for (const auto& r : regions_)
      out.push_back({r.name, r.bytes, r.type, r.location.kind, r.location.device, r.shape});
    return out;
  }

  Result<Ticket> Checkpoint(uint64_t step, CUstream_st* stream, std::string user_state) {
    if (user_state.size() > kMaxUserStateBytes)
      return Status::InvalidArgument("checkpoint(" + std::to_string(step) + "): user state of " +
                                     std::to_string(user_state.size()) + " bytes exceeds the limit of " +
                                     std::to_string(kMaxUserStateBytes) + " bytes (kMaxUserStateBytes)");
    std::lock_guard<std::mutex> lock(mu_);
    if (regions_.empty())
      return Status::FailedPrecondition("checkpoint(" + std::to_string(step) +
                                        "): no region is protected");
    bool device_regions = false;
    for (const auto& r : regions_) device_regions |= IsDeviceSide(r.location);
    // The snapshot point: an event on the caller's stream (no host sync).
    auto point = copy_engine_->Mark(stream, device_regions);
    if (!point.ok()) return point.status().WithContext("checkpoint(" + std::to_string(step) + ")");
    auto state = std::make_shared<Ticket::State>(step, copy_engine_->accepts_streams());
    tickets_.Add(state);
    requests_.Push(Request{state, regions_, std::move(point).value(), std::move(user_state)});
    interval_->OnCheckpoint(step, Ticket(state));
    return Ticket(state);
  }

  Status Flush() { return tickets_.Flush(); }

  Result<uint64_t> Restore(std::optional<uint64_t> step) {
    tickets_.WaitIdle();  // a restore must not race a commit of the same job
    std::lock_guard<std::mutex> lock(mu_);
    if (regions_.empty()) return Status::FailedPrecondition("restore: no region is protected");
    if (step) {
      CKPT_RETURN_IF_ERROR(RestoreStepLocked(*step));
      return *step;
    }
    auto all = store_->rep()->catalog().ListManifests(options_.job);
    if (!all.ok()) return all.status();
    if (all->empty())
      return Status::NotFound("job " + options_.job + " has no checkpoint in " + store_->dir());
    Status last;
    for (auto it = all->rbegin(); it != all->rend(); ++it) {
      last = RestoreStepLocked(it->step);
      if (last.ok()) return it->step;
      if (!last.IsCorruption()) return last;
      std::fprintf(stderr, "ckpt: checkpoint of job %s step %llu is damaged (%s); trying an older one\n",
                   options_.job.c_str(), static_cast<unsigned long long>(it->step),
                   last.message().c_str());
    }
    return Status::Corruption("job " + options_.job + " has no intact checkpoint; newest error: " +
                              last.message());
  }

  std::string RestoredUserState() const {
    std::lock_guard<std::mutex> lock(mu_);
    return restored_user_state_;
  }

  std::optional<uint64_t> LatestStep() const {
    auto latest = store_->rep()->catalog().LatestStep(options_.job);
    if (!latest.ok()) return std::nullopt;
    return *latest;
  }

 private:
  struct Request {
    std::shared_ptr<Ticket::State> state;
    std::vector<Region> regions;
    std::shared_ptr<SnapshotPoint> point;  // where the caller's stream stood; may be null
    std::string user_state;                 // goes into the manifest
  };
  struct WorkItem {
    // kUnchanged: a host chunk hashed in place and found equal to the
    // parent's chunk `hash`; nothing was copied.
    // kUniform: a host chunk whose bytes all equal `byte`; nothing was copied.
    enum Kind { kBegin, kChunk, kUnchanged, kUniform, kEnd } kind;
    std::shared_ptr<Request> request;
    size_t region = 0;
    size_t index = 0;
    int slot = -1;
    size_t size = 0;
    Status copy_error;  // kEnd: why the copy failed, if it did
    ChunkHash hash;     // kUnchanged
    uint8_t byte = 0;   // kUniform
  };

  // The chunk hashes of the newest checkpoint this client committed or
  // restored, by region name: what "unchanged" is measured against.
  struct ParentRegion {
    ElementType type = ElementType::kBytes;
    uint64_t bytes = 0;
    std::vector<ChunkHash> chunks;
  };
  struct Parent {
    uint64_t chunk_bytes = 0;
    std::map<std::string, ParentRegion> regions;
  };

  void SetParent(const Manifest& m) {
    auto p = std::make_shared<Parent>();
    p->chunk_bytes = m.chunk_bytes;
    for (const auto& r : m.regions) p->regions[r.name] = {r.type, r.bytes, r.chunks};
    std::lock_guard<std::mutex> lock(parent_mu_);
    parent_ = std::move(p);
  }

  std::shared_ptr<const Parent> GetParent() const {
    std::lock_guard<std::mutex> lock(parent_mu_);
    return parent_;
  }

  // The parent's chunk hashes of `region` when they can stand for its chunks
  // (same name, type, size and chunking) and the region is host memory the
  // copier may hash in place; null otherwise.
  const std::vector<ChunkHash>* ParentChunksOf(const Parent* parent, const Region& region) const {
    if (parent == nullptr || parent->chunk_bytes != options_.chunk_bytes) return nullptr;
    if (!copy_engine_->host_addressable(region.location)) return nullptr;
    auto it = parent->regions.find(region.name);
    if (it == parent->regions.end() || it->second.type != region.type || it->second.bytes != region.bytes)
      return nullptr;
    return &it->second.chunks;
  }

  static bool IsDeviceSide(const MemoryLocation& l) {
    return l.kind == MemoryKind::kDevice || l.kind == MemoryKind::kManaged;
  }

  // Copy stage: region memory -> staging slots, chunk by chunk, in order.
  // The copies may complete late and in any order (copy_engine.h); a slot
  // belongs to its copy until the copy's `done` ran, then to the processor
  // until it released it.
  void CopyLoop() {
    pthread_setname_np(pthread_self(), "ckpt-copy");
    while (auto next = requests_.Pop()) {
      auto request = std::make_shared<Request>(std::move(*next));
      work_.Push(WorkItem{WorkItem::kBegin, request});
      // One count for this loop, one per copy in flight: whoever drops it to
      // zero has seen the last copy finish.
      auto pending = std::make_shared<std::atomic<int>>(1);
      auto error = std::make_shared<Status>();
      auto error_mu = std::make_shared<std::mutex>();
      auto all_copied = std::make_shared<std::promise<void>>();
      auto finish = [this, request, error, error_mu, all_copied] {
        Status e;
        {
          std::lock_guard<std::mutex> lock(*error_mu);
          e = *error;
        }
        if (e.ok()) request->state->SetCopied();
        // Every chunk of this checkpoint was pushed before its count dropped:
        // the end marker comes after the last chunk.
        work_.Push(WorkItem{WorkItem::kEnd, request, 0, 0, -1, 0, e});
        all_copied->set_value();
      };
      auto failed = [error, error_mu] {
        std::lock_guard<std::mutex> lock(*error_mu);
        return !error->ok();
      };
      bool stop = false;
      if (Status begun = copy_engine_->BeginSnapshot(request->point); !begun.ok()) {
        std::lock_guard<std::mutex> lock(*error_mu);
        *error = begun.WithContext("start the snapshot copy");
        stop = true;
      }
      // Incremental without copying: a host chunk whose in-place hash equals
      // the parent's is referenced, never copied to staging nor written. The
      // hash is of the region's bytes, which the caller leaves alone until
      // wait_copied()/guard() (client.h): the same bytes a copy would take.
      // Two threads hash (in_place_hasher.h); the copier takes the hashes
      // in the order of the loop below.
      const auto parent = GetParent();
      std::vector<const std::vector<ChunkHash>*> parent_chunks_of;
      std::vector<InPlaceHasher::Chunk> in_place;
      for (const Region& region : request->regions) {
        parent_chunks_of.push_back(ParentChunksOf(parent.get(), region));
        if (parent_chunks_of.back() == nullptr) continue;
        for (size_t offset = 0; offset < region.bytes; offset += options_.chunk_bytes)
          in_place.push_back({region.data + offset, std::min(options_.chunk_bytes, region.bytes - offset)});
      }
      if (!in_place.empty()) hasher_.Start(std::move(in_place));
      size_t hashed = 0;
      for (size_t r = 0; r < request->regions.size() && !stop; ++r) {
        const Region& region = request->regions[r];
        const std::vector<ChunkHash>* parent_chunks = parent_chunks_of[r];
        // Uniform chunks (the zeros of frozen parameters' optimizer state,
        // padding) are found in place, like unchanged ones, and the writer
        // stores them without their bytes, compressed to a few hundred: so
        // with compression on, they take no copy, staging slot or hash pass.
        // memcmp stops at the first byte that differs: other chunks cost
        // next to nothing. Off stores every chunk as copied.
        const bool uniform_in_place =
            options_.compression != Compression::kOff && copy_engine_->host_addressable(region.location);
        for (size_t offset = 0; offset < region.bytes; offset += options_.chunk_bytes) {
          const size_t size = std::min(options_.chunk_bytes, region.bytes - offset);
          const size_t index = offset / options_.chunk_bytes;
          if (parent_chunks != nullptr) {
            const ChunkHash hash = hasher_.Get(hashed++);
            if (hash == (*parent_chunks)[index]) {
              WorkItem item{WorkItem::kUnchanged, request, r, index, -1, size, {}};
              item.hash = hash;
              work_.Push(std::move(item));
              continue;
            }
          }
          if (uniform_in_place && IsUniformChunk(region.data + offset, size)) {
            WorkItem item{WorkItem::kUniform, request, r, index, -1, size, {}};
            item.byte = region.data[offset];
            work_.Push(std::move(item));
            continue;
          }
          const int slot = pool_->Acquire();
          if (slot < 0) {
            std::lock_guard<std::mutex> lock(*error_mu);
            *error = Status::Aborted("client is closing");
            stop = true;
            break;
          }
          if (failed()) {  // an earlier copy failed: issue no more
            pool_->Release(slot);
            stop = true;
            break;
          }
          pending->fetch_add(1);
          slot_digests_[slot].reset();
          copy_engine_->CopyToStaging(
              region.data + offset, region.location, pool_->data(slot), size, &slot_digests_[slot],
              [this, request, r, index, slot, size, pending, error, error_mu, finish](Status s) {
                if (s.ok()) {
                  work_.Push(WorkItem{WorkItem::kChunk, request, r, index, slot, size, {}});
                } else {
                  pool_->Release(slot);
                  std::lock_guard<std::mutex> lock(*error_mu);
                  if (error->ok())
                    *error = s.WithContext("copy region '" + request->regions[r].name + "' chunk " +
                                           std::to_string(index) + " to staging");
                }
                if (pending->fetch_sub(1) == 1) finish();
              });
        }
      }
      // The helper reads region memory no more: the caller may change it
      // once this checkpoint's copy is reported done.
      hasher_.Finish();
      // The guard's fence: completes with the last copy issued above.
      std::shared_ptr<CopyFence> fence;
      if (!stop) {
        auto ended = copy_engine_->EndSnapshot();
        if (ended.ok()) {
          fence = std::move(ended).value();
        } else {
          std::lock_guard<std::mutex> lock(*error_mu);
          if (error->ok()) *error = ended.status().WithContext("end the snapshot copy");
        }
      }
      request->state->SetIssued(std::move(fence));
      if (pending->fetch_sub(1) == 1) finish();
      // The writer takes one checkpoint at a time: with an asynchronous copy
      // engine the next checkpoint's chunks must not start before this one's
      // end marker is queued.
      all_copied->get_future().wait();
    }
  }

  // Write stage: hash, dedup, compress, write, commit.
  void ProcessLoop() {
    pthread_setname_np(pthread_self(), "ckpt-write");
    std::shared_ptr<Request> current;
    Status status;
    while (auto item = work_.Pop()) {
      switch (item->kind) {
        case WorkItem::kBegin: {
          std::vector<RegionLayout> layout;
          for (const auto& r : item->request->regions) layout.push_back({r.name, r.type, r.bytes, r.shape});
          current = item->request;
          status = writer_->Begin(options_.job, current->state->step, std::move(layout),
                                  std::move(current->user_state));
          break;
        }
        case WorkItem::kChunk:
          if (status.ok()) {
            // The slot is lent to the writer, which may write it to disk from
            // there; it comes back to the pool when the writer is done with it.
            const std::optional<ChunkDigest>& digest = slot_digests_[item->slot];
            const int slot = item->slot;
            status = writer_->AddChunk(item->region, item->index, pool_->data(slot), item->size,
                                       digest ? &*digest : nullptr, [this, slot] { pool_->Release(slot); });
            if (!status.ok()) writer_->Abort();
          } else {
            pool_->Release(item->slot);
          }
          break;
        case WorkItem::kUnchanged:
        case WorkItem::kUniform:
          if (status.ok()) {
            status = item->kind == WorkItem::kUnchanged
                         ? writer_->AddUnchangedChunk(item->region, item->index, item->hash, item->size)
                         : writer_->AddUniformChunk(item->region, item->index, item->size, item->byte);
            if (!status.ok()) writer_->Abort();
          }
          break;
        case WorkItem::kEnd: {
          if (status.ok() && !item->copy_error.ok()) status = item->copy_error;
          if (status.ok()) {
            auto stats = writer_->Commit();
            if (stats.ok()) {
              SetParent(writer_->committed_manifest());
              item->request->state->SetDurable(*stats);
              break;
            }
            status = stats.status();
          } else {
            writer_->Abort();
          }
          std::fprintf(stderr, "ckpt: checkpoint of job %s step %llu FAILED: %s (training goes on; "
                       "earlier checkpoints are intact)\n",
                       options_.job.c_str(), static_cast<unsigned long long>(item->request->state->step),
                       status.ToString().c_str());
          item->request->state->Fail(status);
          status = Status::OK();
          break;
        }
      }
    }
  }

  Status RestoreStepLocked(uint64_t step) {
    const std::string where = "restore job " + options_.job + " step " + std::to_string(step);
    Catalog& catalog = store_->rep()->catalog();
    auto m = catalog.GetManifest(options_.job, step);
    if (!m.ok()) return m.status().WithContext(where);
    if (!m->has_value()) return Status::NotFound(where + ": no such checkpoint");
    const Manifest& manifest = **m;

    std::vector<RegionLayout> wanted;
    for (const auto& r : regions_) wanted.push_back({r.name, r.type, r.bytes, r.shape});
    auto matched = MatchRegions(manifest, wanted, where);
    if (!matched.ok()) return matched.status();
    std::vector<std::pair<const Region*, const ManifestRegion*>> plan;
    for (size_t i = 0; i < regions_.size(); ++i) plan.emplace_back(&regions_[i], (*matched)[i]);

    ChunkDecoder decoder;
    std::vector<uint8_t> scratch;
    // Host regions: read through the store's pipelined reader (O_DIRECT
    // reads into staging slots, checked and decoded into the region).
    std::vector<Store::Rep::ChunkRead> host_reads;
    std::vector<std::pair<const Region*, size_t>> host_read_where;
    const bool pipelined = manifest.chunk_bytes <= pool_->slot_bytes();
    StagedRestore staged(this);  // waits for its copies however we leave
    for (const auto& [region, mr] : plan) {
      const bool in_place = copy_engine_->host_addressable(region->location);
      for (size_t i = 0; i < mr->chunks.size(); ++i) {
        const uint64_t offset = i * manifest.chunk_bytes;
        const uint64_t len = std::min<uint64_t>(manifest.chunk_bytes, mr->bytes - offset);
        const std::string chunk_where = where + " region '" + region->name + "' chunk " + std::to_string(i);
        auto loc = catalog.GetChunk(mr->chunks[i]);
        if (!loc.ok()) return loc.status().WithContext(chunk_where);
        if (!loc->has_value()) return Status::Corruption(chunk_where + ": missing from the chunk index");
        if ((*loc)->raw_len != len) return Status::Corruption(chunk_where + ": wrong length in the index");
        if (in_place && pipelined) {
          host_reads.push_back({mr->chunks[i], **loc, region->data + offset});
          host_read_where.emplace_back(region, i);
          continue;
        }
        if (in_place) {
          // Host regions are decoded in place.
          CKPT_RETURN_IF_ERROR(store_->rep()
                                   ->ReadChunk(mr->chunks[i], **loc, &decoder, &scratch, region->data + offset)
                                   .WithContext(chunk_where));
          continue;
        }
        // Device regions: decode into a pinned staging slot and copy it to
        // the device from there; the copy overlaps reading and decoding the
        // next chunk. A slot comes back when its copy completed.
        CKPT_RETURN_IF_ERROR(staged.error().WithContext(where + " region '" + region->name + "'"));
        if (len <= pool_->slot_bytes()) {
          const int slot = pool_->Acquire();
          if (slot < 0) return Status::Aborted(chunk_where + ": client is closing");
          Status read = store_->rep()
                            ->ReadChunk(mr->chunks[i], **loc, &decoder, &scratch, pool_->data(slot))
                            .WithContext(chunk_where);
          if (!read.ok()) {
            pool_->Release(slot);
            return read;
          }
          staged.Copy(slot, pool_->data(slot), region->data + offset, region->location, len);
          continue;
        }
        // The checkpoint's chunks are larger than a staging slot (it was
        // written with a larger chunk_bytes): decode aside, stage in pieces.
        std::vector<uint8_t> whole(len);
        CKPT_RETURN_IF_ERROR(store_->rep()
                                 ->ReadChunk(mr->chunks[i], **loc, &decoder, &scratch, whole.data())
                                 .WithContext(chunk_where));
        for (uint64_t done = 0; done < len; done += pool_->slot_bytes()) {
          const size_t n = std::min<uint64_t>(pool_->slot_bytes(), len - done);
          const int slot = pool_->Acquire();
          if (slot < 0) return Status::Aborted(chunk_where + ": client is closing");
          std::memcpy(pool_->data(slot), whole.data() + done, n);
          staged.Copy(slot, pool_->data(slot), region->data + offset + done, region->location, n);
        }
      }
    }
    if (!host_reads.empty()) {
      // Borrow staging slots as read buffers: one per read in flight.
      constexpr unsigned kDepth = 16;
      std::vector<int> slots;
      std::vector<uint8_t*> buffers;
      const size_t want = std::min<size_t>(kDepth, pool_->slots());
      while (slots.size() < want && pool_->free_slots() > 0) {
        const int slot = pool_->Acquire();
        if (slot < 0) break;
        slots.push_back(slot);
        buffers.push_back(pool_->data(slot));
      }
      if (buffers.empty()) {  // device copies hold them all: wait for one
        const int slot = pool_->Acquire();
        if (slot < 0) return Status::Aborted(where + ": client is closing");
        slots.push_back(slot);
        buffers.push_back(pool_->data(slot));
      }
      size_t failed = 0;
      Status read = store_->rep()->ReadChunks(host_reads, buffers, pool_->slot_bytes(), kDepth,
                                                 DefaultReadLanes(), &failed);
      for (int slot : slots) pool_->Release(slot);
      if (!read.ok())
        return read.WithContext(where + " region '" + host_read_where[failed].first->name + "' chunk " +
                                std::to_string(host_read_where[failed].second));
    }
    staged.Wait();
    CKPT_RETURN_IF_ERROR(staged.error().WithContext(where));
    restored_user_state_ = manifest.user_state;
    SetParent(manifest);  // the regions now hold exactly this checkpoint
    return Status::OK();
  }

  // The device copies of one restore: each holds a staging slot until it
  // completed. Wait() (also run by the destructor) waits for all of them.
  class StagedRestore {
   public:
    explicit StagedRestore(Impl* impl) : impl_(impl), state_(std::make_shared<Shared>()) {}
    ~StagedRestore() { Wait(); }

    void Copy(int slot, const uint8_t* staging, uint8_t* dst, MemoryLocation where, size_t n) {
      {
        std::lock_guard<std::mutex> lock(state_->mu);
        ++state_->in_flight;
      }
      StagingPool* pool = impl_->pool_.get();
      auto state = state_;
      impl_->copy_engine_->CopyFromStaging(staging, dst, where, n, [pool, slot, state](Status s) {
        pool->Release(slot);
        {
          std::lock_guard<std::mutex> lock(state->mu);
          if (!s.ok() && state->error.ok()) state->error = s.WithContext("copy to the device");
          --state->in_flight;
        }
        state->cv.notify_all();
      });
    }

    void Wait() {
      std::unique_lock<std::mutex> lock(state_->mu);
      state_->cv.wait(lock, [&] { return state_->in_flight == 0; });
    }

    Status error() const {
      std::lock_guard<std::mutex> lock(state_->mu);
      return state_->error;
    }

   private:
    struct Shared {
      std::mutex mu;
      std::condition_variable cv;
      size_t in_flight = 0;
      Status error;
    };
    Impl* impl_;
    std::shared_ptr<Shared> state_;
  };

  const Options options_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<StagingPool> pool_;
  // Per staging slot: the digest its copy took of the staged bytes, if the
  // copy engine took one. Written by the copy, read by the processor after
  // the slot's kChunk item is queued; the slot is not reused until released.
  std::vector<std::optional<ChunkDigest>> slot_digests_;
  std::unique_ptr<CheckpointWriter> writer_;  // used by the processor thread only
  // Driven by the copier thread, and under mu_ by protect, checkpoint (Mark)
  // and restore; engines are thread-safe for that (copy_engine.h).
  std::unique_ptr<CopyEngine> copy_engine_;

  mutable std::mutex parent_mu_;
  std::shared_ptr<const Parent> parent_;  // set by the processor and restore, read by the copier

  mutable std::mutex mu_;
  std::vector<Region> regions_;
  bool staging_pinned_ = false;
  TicketLedger tickets_;  // for flush() and restore()
  std::string restored_user_state_;  // of the last successful restore

  // Destroyed after the destructor's flush: closes the job's session.
  std::unique_ptr<IntervalController> interval_;

  BlockingQueue<Request> requests_;
  BlockingQueue<WorkItem> work_;
  InPlaceHasher hasher_;  // the copier's (incremental checkpoints of host regions)
  std::thread copier_;
  std::thread processor_;
};

Result<std::unique_ptr<Client>> Client::Open(const Options& options) {
  CKPT_RETURN_IF_ERROR(ValidateOptions(options));
  if (!options.daemon_socket.empty()) {
    auto daemon = DaemonSession::Open(options);
    if (!daemon.ok()) return daemon.status();
    return std::unique_ptr<Client>(new Client(std::move(daemon).value()));
  }
  Result<std::shared_ptr<Store>> store = options.shared_store;
  if (options.shared_store == nullptr) {
    StoreOptions so = options.store;
    so.read_only = false;
    store = Store::Open(options.store_dir, so);
    if (!store.ok()) return store.status();
  } else if (options.shared_store->read_only()) {
    return Status::InvalidArgument("Options::shared_store is open read-only; a client writes");
  }
  const size_t slots = std::max<size_t>(
      2, (options.staging_bytes + options.chunk_bytes - 1) / options.chunk_bytes);
  auto pool = StagingPool::Create(options.chunk_bytes, slots);
  if (!pool.ok()) return pool.status();
  // Slots lent to the writer for raw writes from staging: never all of them,
  // so that the copier can always get one and the writer never waits for a
  // chunk that cannot be copied.
  const unsigned lendable = static_cast<unsigned>(std::min<size_t>(8, slots - 1));
  auto writer = CheckpointWriter::Create(*store, options, lendable);
  if (!writer.ok()) return writer.status();
  std::shared_ptr<Store> opened = std::move(store).value();
  auto interval = IntervalController::Open(options, opened, opened->rep()->env());
  if (!interval.ok()) return interval.status();
  auto impl = std::make_unique<Impl>(options, opened, std::move(pool).value(),
                                     std::move(writer).value(), NewDefaultCopyEngine());
  impl->AttachIntervalController(std::move(interval).value());
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(std::unique_ptr<DaemonSession> daemon) : daemon_(std::move(daemon)) {}
Client::~Client() = default;

// Daemon mode (daemon_ set) forwards every call to the session.
Status Client::protect(const std::string& name, void* data, size_t bytes, ElementType type) {
  if (daemon_) return daemon_->Protect(name, data, bytes, type, std::nullopt);
  return impl_->Protect(name, data, bytes, type, std::nullopt);
}
Status Client::protect(const std::string& name, void* data, size_t bytes, ElementType type,
                       const Shape& shape) {
  CKPT_RETURN_IF_ERROR(CheckShape(name, bytes, type, shape));
  if (daemon_) return daemon_->Protect(name, data, bytes, type, shape);
  return impl_->Protect(name, data, bytes, type, shape);
}
std::vector<ProtectedRegion> Client::regions() const {
  return daemon_ ? daemon_->Regions() : impl_->Regions();
}
Result<Ticket> Client::checkpoint(uint64_t step) { return checkpoint(step, nullptr); }
Result<Ticket> Client::checkpoint(uint64_t step, CUstream_st* stream) { return checkpoint(step, stream, {}); }
Result<Ticket> Client::checkpoint(uint64_t step, CUstream_st* stream, std::string user_state) {
  if (daemon_) return daemon_->Checkpoint(step, stream, std::move(user_state));
  return impl_->Checkpoint(step, stream, std::move(user_state));
}
Result<uint64_t> Client::restore(std::optional<uint64_t> step) {
  if (daemon_) return daemon_->Restore(step);
  Result<uint64_t> restored = impl_->Restore(step);
  if (restored.ok()) impl_->interval().OnRestored(*restored);
  return restored;
}
std::string Client::restored_user_state() const {
  return daemon_ ? daemon_->RestoredUserState() : impl_->RestoredUserState();
}
Result<CheckpointInfo> Client::info(uint64_t step) const {
  if (daemon_) return daemon_->Info(step);
  return impl_->store()->Get(impl_->options().job, step);
}
std::optional<uint64_t> Client::latest_step() const {
  return daemon_ ? daemon_->LatestStep() : impl_->LatestStep();
}
bool Client::should_checkpoint(uint64_t step) const {
  if (daemon_) {  // daemon mode: the fixed interval (the policy needs the store)
    const uint64_t every = options().checkpoint_every_steps;
    return every > 0 && step > 0 && step % every == 0;
  }
  return impl_->interval().ShouldCheckpoint(step);
}
Status Client::flush() { return daemon_ ? daemon_->Flush() : impl_->Flush(); }
const Options& Client::options() const { return daemon_ ? daemon_->options() : impl_->options(); }
std::shared_ptr<Store> Client::store() const { return daemon_ ? nullptr : impl_->store(); }

}  // namespace ckpt
