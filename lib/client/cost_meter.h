// CostMeter: measures the step time of a training loop and how much each
// checkpoint slows it (the checkpoint cost C of the interval policy), from
// the times of its step boundaries alone.
//
// A step that no checkpoint overlaps is a clean step; their mean is the step
// time. A checkpoint opens a window at the boundary of the step it was
// requested in; the window closes at the first boundary at which no
// checkpoint is in flight. C = window length − steps in the window × step
// time, shared among the checkpoints requested in the window. That counts
// everything the checkpoint costs the loop: the call itself, waits in
// wait_copied()/guard(), and the engine's threads competing for CPU and
// memory bandwidth.
//
// Pure logic, no clock: the caller passes times. Not thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

namespace ckpt {

class CostMeter {
 public:
  // A step boundary at now_s. in_flight: a checkpoint is still being copied
  // or written. Returns C per checkpoint when a window closed here (and the
  // step time was known by then).
  std::optional<double> OnStep(double now_s, bool in_flight);

  // A checkpoint was requested during the step that began at the last boundary.
  void OnCheckpoint();

  // Forget the last boundary: the next one starts a new series (after a
  // restore, whose time is no step's).
  void Restart();

  // Mean of clean steps (the weighting of ckpt::CostSummary); 0 until one
  // was seen.
  double step_s() const { return step_s_; }

 private:
  double last_boundary_s_ = std::numeric_limits<double>::quiet_NaN();
  double step_s_ = 0;
  uint64_t clean_steps_ = 0;
  bool window_open_ = false;
  double window_s_ = 0;
  uint64_t window_steps_ = 0;
  uint64_t window_checkpoints_ = 0;
};

}  // namespace ckpt
