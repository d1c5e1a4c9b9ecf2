// When kAuto, paced by the disk (Options::auto_compression_mbps = 0),
// compresses a chunk: only when that makes nothing wait. Compressing a 4 MiB
// chunk of floats takes a few milliseconds of the one core; writing it raw
// from staging costs the writer next to nothing. So a chunk is compressed
//   - while the disk is busy: it has enough writes queued to stay busy while
//     the chunk is compressed (1.5 x what it wrote during the last
//     compression, learned: see Compressed); or
//   - while the disk is idle because chunks come slowly: the writer has been
//     waiting longer for each chunk (smoothed over this checkpoint) than
//     compressing one takes (as measured: never before a first compression). That is an incremental checkpoint, whose
//     copier spends its time finding the unchanged chunks and passes only
//     the changed ones on: the writer can compress each before the next
//     comes, and the disk, idle either way, writes fewer bytes.
// Otherwise the chunk goes raw.
//
// Times are seconds on one monotonic clock, passed in by the caller (tests
// pass their own).
//
// Thread safety: none; the writer's thread.
#pragma once

#include <cstdint>

namespace ckpt {

class CompressionPacer {
 public:
  explicit CompressionPacer(uint64_t chunk_bytes);

  // A checkpoint begins: the pace of its chunks is measured afresh. What was
  // learned of the disk and of compression is kept.
  void Begin(double now_s);
  // A chunk to be stored reached the writer at now_s...
  void Arrived(double now_s);
  // ...and the writer was done with it at now_s.
  void Returned(double now_s);

  // Whether to compress the chunk of `bytes` that arrived last; the disk has
  // `in_flight` bytes of writes queued.
  bool ShouldCompress(uint64_t bytes, uint64_t in_flight);
  // The chunk ShouldCompress accepted was compressed in `seconds`, after
  // which the disk still had `in_flight` bytes queued.
  void Compressed(uint64_t bytes, double seconds, uint64_t in_flight);

  uint64_t backlog_needed() const { return backlog_needed_; }
  // Seconds per byte compressed, smoothed; negative before the first.
  double compress_s_per_byte() const { return s_per_byte_; }
  // Smoothed wait for a chunk in this checkpoint; negative before the first.
  double chunk_gap_s() const { return gap_s_; }

 private:
  const uint64_t chunk_bytes_;
  uint64_t backlog_needed_;        // bytes
  uint64_t backlog_at_decision_ = 0;
  bool decided_by_backlog_ = false;
  double s_per_byte_;              // compression's cost, smoothed; <0: none yet
  double gap_s_ = -1;
  double waiting_since_s_ = 0;     // when the writer last became idle
};

}  // namespace ckpt
