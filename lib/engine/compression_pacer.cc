#include "engine/compression_pacer.h"

#include <algorithm>

namespace ckpt {

CompressionPacer::CompressionPacer(uint64_t chunk_bytes)
    : chunk_bytes_(chunk_bytes), backlog_needed_(2 * chunk_bytes) {}

void CompressionPacer::Begin(double now_s) {
  credit_s_ = 0;
  waiting_since_s_ = now_s;
}

void CompressionPacer::Arrived(double now_s) {
  // At most one chunk's compression banked: one long wait (the writer
  // preempted, the first chunk of a checkpoint late) is not a pace, and
  // must not pay for a run of compressions while chunks then come fast.
  const double cap = s_per_byte_ > 0 ? s_per_byte_ * static_cast<double>(chunk_bytes_) : 0;
  credit_s_ = std::min(cap, credit_s_ + std::max(0.0, now_s - waiting_since_s_));
  decided_by_backlog_ = false;  // until ShouldCompress says so for this chunk
}

void CompressionPacer::Returned(double now_s) { waiting_since_s_ = now_s; }

bool CompressionPacer::ShouldCompress(uint64_t bytes, uint64_t in_flight) {
  backlog_at_decision_ = in_flight;
  decided_by_backlog_ = in_flight >= backlog_needed_;
  if (decided_by_backlog_) return true;
  // Waiting time banked pays for it. (Were the disk slower than the chunks
  // come, its queue would grow until the backlog rule above took over.)
  return s_per_byte_ > 0 && credit_s_ >= s_per_byte_ * static_cast<double>(bytes);
}

void CompressionPacer::Compressed(uint64_t bytes, double seconds, uint64_t in_flight) {
  credit_s_ -= seconds;
  if (bytes > 0) {
    const double sample = seconds / static_cast<double>(bytes);
    s_per_byte_ = s_per_byte_ < 0 ? sample : (s_per_byte_ + sample) / 2;
  }
  if (!decided_by_backlog_) return;
  // What the disk wrote while this chunk was compressed, and half as much
  // again: the backlog the next compression needs so that the disk does not
  // run dry meanwhile. (More margin leaves more chunks raw: on one core twice
  // the drain wrote 1% more bytes at the same speed.) When the disk did run
  // dry, all that is known is that the backlog was too small. Smoothed, so
  // that one slow chunk (the writer preempted) does not turn compression off
  // for good; never below one chunk.
  const uint64_t drained = backlog_at_decision_ - std::min(backlog_at_decision_, in_flight);
  const uint64_t sample = in_flight == 0 ? 2 * backlog_at_decision_ : drained + drained / 2;
  backlog_needed_ = std::max<uint64_t>(chunk_bytes_, (backlog_needed_ + sample) / 2);
}

}  // namespace ckpt
