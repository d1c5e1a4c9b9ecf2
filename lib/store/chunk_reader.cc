// Store::Rep::ReadChunks: the restore's read pipeline (store_rep.h).
//
// One io_uring with up to `depth` O_DIRECT reads in flight. Records are
// not 4 KiB aligned in general, so each read covers the aligned range around
// its record: the bulk into a borrowed buffer (a staging slot, a multiple of
// 4 KiB), the last few KiB into a small aligned tail buffer of its own. A
// payload that starts on a 4 KiB boundary (written from memory:
// SegmentWriter::AppendBorrowed) is read alone, without its header, whose
// fields the index holds anyway: a 4 MiB chunk is then one 4 MiB read, one
// device request rather than a 4 MiB one and a 4 KiB one. The thread that
// submits also checks and decodes what has arrived, so the CPU work on one
// chunk overlaps the disk reading the next ones; where the process may use
// several CPUs, several such lanes share the chunks (ReadChunks), so that
// decompressing does not hold back a disk faster than one core decodes.
// Buffered reads were measured 3-5x slower than the disk here: the page
// cache's readahead serializes them. Filesystems without O_DIRECT (tmpfs)
// get the same code with a buffered descriptor.
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

#include "store/chunk_record.h"
#include "store/store_rep.h"
#include "util/file_util.h"

namespace ckpt {
namespace {

constexpr size_t kAlign = 4096;
constexpr size_t kTail = 3 * kAlign;  // covers a record's unaligned start and end

size_t AlignDown(uint64_t v) { return static_cast<size_t>(v / kAlign * kAlign); }
size_t AlignUp(uint64_t v) { return static_cast<size_t>((v + kAlign - 1) / kAlign * kAlign); }

struct Op {
  size_t index = 0;   // into reads
  int buffer = -1;    // into buffers
  uint64_t segment = 0;
  uint64_t start = 0; // aligned file offset the read starts at
  size_t want = 0;    // bytes the read covers
  bool payload_only = false;  // the read starts at the payload: no header
  iovec iov[2];
};

// Whether only the payload of `loc` need be read: it starts 4 KiB-aligned.
bool PayloadAligned(const ChunkLocation& loc) {
  return (loc.offset + kRecordHeaderSize) % kAlign == 0 && loc.stored_len > 0;
}

// Segment files opened for this restore, O_DIRECT where possible.
class DirectFiles {
 public:
  ~DirectFiles() {
    for (auto& [id, fd] : fds_) ::close(fd);
  }
  // `busy`: segments with reads in flight. Past 64 open files the others
  // are closed: a long incremental chain spans many segments.
  Result<int> Get(const std::string& path, uint64_t id, const std::vector<uint64_t>& busy) {
    auto it = fds_.find(id);
    if (it != fds_.end()) return it->second;
    if (fds_.size() >= 64) {
      for (auto i = fds_.begin(); i != fds_.end();) {
        if (std::find(busy.begin(), busy.end(), i->first) != busy.end()) {
          ++i;
          continue;
        }
        ::close(i->second);
        i = fds_.erase(i);
      }
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
    if (fd < 0 && errno == EINVAL) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return Status::Corruption("segment file " + path + " is missing");
    if (fd < 0) return ErrnoStatus("open segment " + path, errno);
    fds_[id] = fd;
    return fd;
  }

 private:
  std::map<uint64_t, int> fds_;
};

}  // namespace

unsigned DefaultReadLanes() {
  constexpr int kMaxLanes = 4;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) return std::clamp(CPU_COUNT(&set), 1, kMaxLanes);
  return std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, kMaxLanes);
}

Status Store::Rep::ReadChunks(const std::vector<ChunkRead>& reads, const std::vector<uint8_t*>& buffers,
                              size_t buffer_bytes, unsigned depth, unsigned lanes, size_t* failed) const {
  if (reads.empty()) return Status::OK();
  if (buffers.empty() || buffer_bytes % kAlign != 0)
    return Status::InvalidArgument("ReadChunks needs 4 KiB-aligned buffers");
  const size_t n = std::clamp<size_t>(std::min<size_t>(lanes, reads.size()), 1, buffers.size());
  std::atomic<bool> stop{false};
  if (n == 1) return ReadChunksLane(reads, buffers, buffer_bytes, depth, &stop, failed);

  // Chunk i goes to lane i % n: the lanes read neighbouring chunks, so
  // that together they still go through each segment front to back.
  struct Lane {
    std::vector<ChunkRead> reads;
    std::vector<size_t> index;  // into `reads` of ReadChunks
    std::vector<uint8_t*> buffers;
    Status status;
    size_t failed = 0;
  };
  std::vector<Lane> lane(n);
  for (size_t i = 0; i < reads.size(); ++i) {
    lane[i % n].reads.push_back(reads[i]);
    lane[i % n].index.push_back(i);
  }
  for (size_t b = 0; b < buffers.size(); ++b) lane[b % n].buffers.push_back(buffers[b]);
  const unsigned lane_depth = std::max<unsigned>(1, depth / static_cast<unsigned>(n));
  auto run = [&](Lane& l) {
    l.status = ReadChunksLane(l.reads, l.buffers, buffer_bytes, lane_depth, &stop, &l.failed);
    if (!l.status.ok()) stop.store(true, std::memory_order_relaxed);  // also a lane that never started reading
  };
  std::vector<std::thread> threads;
  std::vector<Lane*> inline_lanes;  // no thread could be started for these
  for (size_t k = 1; k < n; ++k) {
    try {
      threads.emplace_back(run, std::ref(lane[k]));
    } catch (const std::system_error&) {
      inline_lanes.push_back(&lane[k]);
    }
  }
  run(lane[0]);
  for (Lane* l : inline_lanes) run(*l);
  for (std::thread& t : threads) t.join();

  Status first;
  for (const Lane& l : lane) {
    if (l.status.ok()) continue;
    const size_t index = l.index[l.failed];
    if (first.ok() || index < *failed) {
      first = l.status;
      *failed = index;
    }
  }
  return first;
}

Status Store::Rep::ReadChunksLane(const std::vector<ChunkRead>& reads, const std::vector<uint8_t*>& buffers,
                                  size_t buffer_bytes, unsigned depth, std::atomic<bool>* stop,
                                  size_t* failed) const {
  depth = std::max<unsigned>(1, std::min<unsigned>(depth, static_cast<unsigned>(buffers.size())));
  void* tails_mem = ::mmap(nullptr, kTail * depth, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (tails_mem == MAP_FAILED) return ErrnoStatus("allocate read buffers", errno);
  std::unique_ptr<void, std::function<void(void*)>> tails_guard(
      tails_mem, [bytes = kTail * depth](void* p) { ::munmap(p, bytes); });
  uint8_t* tails = static_cast<uint8_t*>(tails_mem);

  io_uring ring;
  const int rc = io_uring_queue_init(depth, &ring, 0);
  if (rc < 0) return ErrnoStatus("io_uring_queue_init", -rc);
  DirectFiles files;
  std::vector<Op> ops(depth);
  std::vector<size_t> free_ops;
  for (size_t i = depth; i-- > 0;) free_ops.push_back(i);
  ChunkDecoder decoder;
  std::vector<uint8_t> scratch;  // the synchronous fallback's
  std::vector<uint64_t> busy;

  Status first;
  auto fail = [&](size_t index, Status s) {
    if (first.ok()) {
      first = std::move(s);
      *failed = index;
    }
    stop->store(true, std::memory_order_relaxed);
  };
  // in_flight: reads issued and not yet completed; of them, `queued` are
  // still in the submission queue, not yet taken by the kernel.
  size_t next = 0, in_flight = 0, queued = 0;
  while (true) {
    while (first.ok() && !stop->load(std::memory_order_relaxed) && next < reads.size() && !free_ops.empty()) {
      const ChunkRead& r = reads[next];
      const bool payload_only = PayloadAligned(r.loc);
      const uint64_t end = r.loc.offset + kRecordHeaderSize + r.loc.stored_len;
      const uint64_t start = payload_only ? r.loc.offset + kRecordHeaderSize : AlignDown(r.loc.offset);
      const size_t want = AlignUp(end) - start;
      if (r.loc.stored_len > r.loc.raw_len) {  // the payload is joined in its slot: never past it
        fail(next, Status::Corruption("stored length " + std::to_string(r.loc.stored_len) +
                                      " is larger than the chunk's " + std::to_string(r.loc.raw_len) + " bytes"));
        break;
      }
      if (want > buffer_bytes + kTail) {
        fail(next, Status::Corruption("stored length " + std::to_string(r.loc.stored_len) +
                                      " is larger than any chunk this client reads"));
        break;
      }
      busy.clear();
      for (size_t k = 0; k < ops.size(); ++k)
        if (std::find(free_ops.begin(), free_ops.end(), k) == free_ops.end()) busy.push_back(ops[k].segment);
      auto fd = files.Get(SegmentPath(r.loc.segment_id), r.loc.segment_id, busy);
      if (!fd.ok()) {
        fail(next, fd.status());
        break;
      }
      const size_t slot = free_ops.back();
      free_ops.pop_back();
      Op& op = ops[slot];
      op.index = next;
      op.segment = r.loc.segment_id;
      op.buffer = static_cast<int>(slot);
      op.start = start;
      op.want = want;
      op.payload_only = payload_only;
      const size_t bulk = std::min(want, buffer_bytes);
      op.iov[0] = {buffers[slot], bulk};
      op.iov[1] = {tails + slot * kTail, want - bulk};
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_readv(sqe, *fd, op.iov, want > bulk ? 2 : 1, start);
      io_uring_sqe_set_data64(sqe, slot);
      ++in_flight;
      ++queued;
      ++next;
    }
    if (in_flight == 0) break;
    int s = io_uring_submit(&ring);
    if (s >= 0) {
      queued -= std::min<size_t>(queued, static_cast<size_t>(s));
    } else {
      fail(next, ErrnoStatus("io_uring_submit", -s));
      // Reads the kernel never took never complete: wait only for those it
      // has (the next round submits the rest again). With none, stop here;
      // io_uring_queue_exit drops the queued ones unread.
      if (in_flight == queued) break;
    }
    io_uring_cqe* cqe = nullptr;
    do s = io_uring_wait_cqe(&ring, &cqe);
    while (s == -EINTR);
    if (s < 0) {
      // The ring is unusable (not seen in practice): io_uring_queue_exit
      // below cancels what is still in flight.
      fail(next, ErrnoStatus("io_uring_wait_cqe", -s));
      break;
    }
    const size_t slot = io_uring_cqe_get_data64(cqe);
    const int res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    --in_flight;
    free_ops.push_back(slot);
    if (!first.ok()) continue;
    const Op& op = ops[slot];
    const ChunkRead& r = reads[op.index];
    Status st;
    if (res < 0 && res != -EINVAL) {
      st = ErrnoStatus("read " + SegmentName(r.loc.segment_id), -res);
    } else if (res < 0 || static_cast<size_t>(res) < op.want) {
      // Short (the file ends early: damage, reported by the checks) or
      // refused: the plain synchronous read.
      st = ReadChunk(r.hash, r.loc, &decoder, &scratch, r.out);
    } else {
      // The record's bytes are bulk ++ tail: the header at `skip` and the
      // payload after it, or the payload alone from 0.
      uint8_t* bulk = buffers[slot];
      const uint8_t* tail = static_cast<const uint8_t*>(op.iov[1].iov_base);
      const size_t skip = static_cast<size_t>(r.loc.offset - op.start);
      uint8_t header[kRecordHeaderSize];
      if (!op.payload_only) std::memcpy(header, bulk + skip, kRecordHeaderSize);  // skip < 4 KiB <= bulk_len - 48
      const size_t pay = op.payload_only ? 0 : skip + kRecordHeaderSize;  // payload start in bulk
      const size_t in_bulk = std::min<size_t>(r.loc.stored_len, op.iov[0].iov_len - pay);
      auto check = [&](const uint8_t* payload) {
        return op.payload_only ? CheckAndDecodePayload(r.hash, r.loc, payload, &decoder, r.out)
                               : CheckAndDecode(r.hash, r.loc, header, payload, &decoder, r.out);
      };
      const bool raw = r.loc.codec == Codec::kRaw && r.loc.plane_width == 0 && r.loc.stored_len == r.loc.raw_len;
      if (raw) {
        // Straight to the region; the checks then run on it.
        std::memcpy(r.out, bulk + pay, in_bulk);
        std::memcpy(r.out + in_bulk, tail, r.loc.stored_len - in_bulk);
        st = check(r.out);
      } else {
        // Make the payload contiguous at the start of the buffer, then decode.
        if (pay > 0) std::memmove(bulk, bulk + pay, in_bulk);
        std::memcpy(bulk + in_bulk, tail, r.loc.stored_len - in_bulk);
        st = check(bulk);
      }
    }
    if (!st.ok()) fail(op.index, std::move(st));
  }
  io_uring_queue_exit(&ring);
  return first;
}

}  // namespace ckpt
