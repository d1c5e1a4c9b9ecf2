// When kAuto, paced by the disk (Options::auto_compression_mbps = 0),
// compresses a chunk: only when that makes nothing wait. Compressing a 4 MiB
// chunk of floats takes a few milliseconds of the one core; writing it raw
// from staging costs the writer next to nothing. So a chunk is compressed
//   - while the disk is busy: it has enough writes queued to stay busy while
//     the chunk is compressed (1.5 x what it wrote during the last
//     compression, learned: see Compressed); or
//   - with time the writer would have spent waiting for chunks: the writer
//     banks the time it waits for each chunk (at most one compression's
//     worth) and spends it on compressing, at the cost measured so far
//     (never before a first compression has been measured). That is an
//     incremental checkpoint, whose copier spends its time finding the
//     unchanged chunks in place and passes on only the changed ones: the
//     writer compresses as many of them as its waits pay for, so it is never
//     more than one compression behind the copier, and the disk, idle either
//     way, writes fewer bytes.
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

  // A checkpoint begins: nothing banked yet. What was learned of the disk
  // and of compression is kept.
  void Begin(double now_s);
  // A chunk to be stored reached the writer at now_s...
  void Arrived(double now_s);
  // ...and the writer was done with it at now_s.
  void Returned(double now_s);

  // Whether to compress the chunk of `bytes` that arrived last; the disk has
  // `in_flight` bytes of writes queued.
  bool ShouldCompress(uint64_t bytes, uint64_t in_flight);
  // The chunk was compressed (whoever decided it) in `seconds`, after which
  // the disk still had `in_flight` bytes queued.
  void Compressed(uint64_t bytes, double seconds, uint64_t in_flight);

  uint64_t backlog_needed() const { return backlog_needed_; }
  // Seconds per byte compressed, smoothed; negative before the first.
  double compress_s_per_byte() const { return s_per_byte_; }
  // Waiting time banked in this checkpoint and not yet spent (negative
  // while compressions have taken more than the waits paid for).
  double idle_credit_s() const { return credit_s_; }

 private:
  const uint64_t chunk_bytes_;
  uint64_t backlog_needed_;        // bytes
  uint64_t backlog_at_decision_ = 0;
  bool decided_by_backlog_ = false;
  double s_per_byte_ = -1;
  double credit_s_ = 0;
  double waiting_since_s_ = 0;     // when the writer last became idle
};

}  // namespace ckpt
