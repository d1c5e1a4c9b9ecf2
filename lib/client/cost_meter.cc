#include "client/cost_meter.h"

#include <algorithm>
#include <cmath>

namespace ckpt {
namespace {
// As in ckpt::CostSummary: plain mean of the first 16, then exponential.
constexpr double kMaxStepsAveraged = 16;
}  // namespace

std::optional<double> CostMeter::OnStep(double now_s, bool in_flight) {
  if (std::isnan(last_boundary_s_)) {
    last_boundary_s_ = now_s;
    return std::nullopt;
  }
  const double dt = std::max(0.0, now_s - last_boundary_s_);
  last_boundary_s_ = now_s;
  if (window_open_) {
    window_s_ += dt;
    window_steps_ += 1;
    if (in_flight) return std::nullopt;
    window_open_ = false;
    if (clean_steps_ == 0) return std::nullopt;  // nothing to compare with
    const double extra = window_s_ - static_cast<double>(window_steps_) * step_s_;
    return std::max(0.0, extra) / static_cast<double>(window_checkpoints_);
  }
  clean_steps_ += 1;
  const double weight = 1.0 / std::min(static_cast<double>(clean_steps_), kMaxStepsAveraged);
  step_s_ += weight * (dt - step_s_);
  return std::nullopt;
}

void CostMeter::OnCheckpoint() {
  if (!window_open_) {
    window_open_ = true;
    window_s_ = 0;
    window_steps_ = 0;
    window_checkpoints_ = 0;
  }
  window_checkpoints_ += 1;
}

void CostMeter::Restart() {
  last_boundary_s_ = std::numeric_limits<double>::quiet_NaN();
  window_open_ = false;
}

}  // namespace ckpt
