// The trace simulator: see simulator.h for the semantics.
#include "policy/simulator.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace ckpt::policy {
namespace {

// A restart that starts at `start` with the next failure at `next`: true if
// it completes (the job then trains from start + R).
bool Restart(double start, double next, double restart_s, SimResult* r) {
  if (start + restart_s >= next) {
    r->restart_s += next - start;
    ++r->interrupted_restarts;
    return false;
  }
  r->restart_s += restart_s;
  return true;
}

// Training for `interval` from `t`, then a checkpoint, with the next failure
// at `next`: true if the checkpoint commits.
bool Segment(double t, double next, double interval, double cost_s, SimResult* r) {
  if (t + interval + cost_s <= next) {
    r->useful_s += interval;
    r->checkpoint_s += cost_s;
    ++r->checkpoints;
    return true;
  }
  const double remaining = next - t;
  r->lost_s += std::min(remaining, interval);
  if (remaining > interval) {
    r->checkpoint_s += remaining - interval;
    ++r->interrupted_checkpoints;
  }
  return false;
}

}  // namespace

Result<SimResult> Simulate(std::span<const double> failures, IntervalPolicy& policy,
                           double cost_s, double restart_s, const ProgressFn& progress) {
  if (failures.size() < 2) return Status::InvalidArgument("a trace needs at least 2 failures");
  SimResult r;
  r.span_s = failures.back() - failures.front();
  PolicyInput in;
  in.checkpoint_cost_s = cost_s;
  in.restart_cost_s = restart_s;
  in.observed_since_s = failures.front();
  const size_t gaps = failures.size() - 1;
  const size_t report_every = std::max<size_t>(1, gaps / 20);
  for (size_t i = 0; i < gaps; ++i) {
    if (progress && i % report_every == 0) progress(static_cast<double>(i) / gaps);
    const double start = failures[i], next = failures[i + 1];
    ++r.failures;
    if (!Restart(start, next, restart_s, &r)) continue;
    // The policy sees failures[0..i], never the one that ends this gap.
    in.failure_times_s = failures.subspan(0, i + 1);
    double t = start + restart_s;
    while (true) {
      in.now_s = t;
      Result<double> interval = policy.NextInterval(in);
      if (!interval.ok()) {
        return interval.status().WithContext("policy " + std::string(PolicyKindName(policy.kind())) +
                                             " at t=" + std::to_string(t));
      }
      if (!Segment(t, next, *interval, cost_s, &r)) break;
      t += *interval + cost_s;
    }
  }
  if (progress) progress(1.0);
  return r;
}

SimResult SimulateFixed(std::span<const double> failures, double interval_s, double cost_s,
                        double restart_s) {
  SimResult r;
  if (failures.size() < 2) return r;
  r.span_s = failures.back() - failures.front();
  const double s = interval_s + cost_s;
  for (size_t i = 0; i + 1 < failures.size(); ++i) {
    const double start = failures[i], next = failures[i + 1];
    ++r.failures;
    if (!Restart(start, next, restart_s, &r)) continue;
    const double up = next - start - restart_s;
    // Segments that complete: k·s <= up. floor can be off by one in the last
    // bit; the comparison below settles it exactly like Simulate's.
    double k = std::floor(up / s);
    if ((k + 1) * s <= up) k += 1;
    if (k * s > up) k -= 1;
    r.useful_s += k * interval_s;
    r.checkpoint_s += k * cost_s;
    r.checkpoints += static_cast<uint64_t>(k);
    const double remaining = up - k * s;
    r.lost_s += std::min(remaining, interval_s);
    if (remaining > interval_s) {
      r.checkpoint_s += remaining - interval_s;
      ++r.interrupted_checkpoints;
    }
  }
  return r;
}

namespace {

// The exact best fixed interval in [lo, hi]. Useful work is τ·N(τ) with
// N(τ) = Σ_gaps floor((g − R)/(τ + C)), a step function that only grows as τ
// shrinks, so between two steps useful work rises with τ and the maximum sits
// on a step: some τ = (g − R)/k − C. Sweeping those breakpoints from the top
// down, N grows by one at each, which finds the best in O(m log m).
double BestBreakpoint(std::span<const double> failures, double cost_s, double restart_s,
                      double lo, double hi) {
  std::vector<double> points;
  double count_at_hi = 0;  // N(hi)
  for (size_t i = 0; i + 1 < failures.size(); ++i) {
    const double up = failures[i + 1] - failures[i] - restart_s;
    if (up <= 0) continue;
    count_at_hi += std::floor(up / (hi + cost_s));
    const double k_lo = std::floor(up / (hi + cost_s)) + 1;  // steps strictly below hi
    const double k_hi = std::floor(up / (lo + cost_s));
    for (double k = k_lo; k <= k_hi; ++k) points.push_back(up / k - cost_s);
  }
  std::sort(points.begin(), points.end(), std::greater<double>());
  double best_tau = hi, best_useful = hi * count_at_hi;
  double count = count_at_hi;
  for (double tau : points) {
    count += 1;  // this gap commits one more segment from τ on down
    if (tau * count > best_useful) {
      best_useful = tau * count;
      best_tau = tau;
    }
  }
  return best_tau;
}

}  // namespace

Oracle FindOracle(std::span<const double> failures, double cost_s, double restart_s,
                  double lo_s, double hi_s) {
  Oracle best;
  best.result.span_s = -1;
  auto consider = [&](double tau) {
    SimResult r = SimulateFixed(failures, tau, cost_s, restart_s);
    if (best.result.span_s < 0 || r.useful_s > best.result.useful_s) {
      best.interval_s = tau;
      best.result = r;
    }
  };
  for (double tau = lo_s; tau <= hi_s; tau *= 1.01) consider(tau);
  // Exact within a factor 2 of the grid's best: the trace's waste dips
  // between grid points (each gap's segments fit exactly at some τ), by a
  // few tenths of a percent at most, while a factor 2 off the optimum costs
  // far more than that.
  const double lo = std::max(lo_s, best.interval_s / 2);
  const double hi = std::min(hi_s, best.interval_s * 2);
  const double tau = BestBreakpoint(failures, cost_s, restart_s, lo, hi);
  // At τ = (g − R)/k − C the k segments fill the gap exactly; rounding may
  // decide either way, so the next lower double is tried as well.
  consider(tau);
  consider(std::nextafter(tau, 0.0));
  return best;
}

std::vector<std::pair<double, double>> WasteCurve(std::span<const double> failures,
                                                  double cost_s, double restart_s, double lo_s,
                                                  double hi_s, int points) {
  std::vector<std::pair<double, double>> curve;
  const double step = std::log(hi_s / lo_s) / std::max(1, points - 1);
  for (int i = 0; i < points; ++i) {
    const double tau = lo_s * std::exp(step * i);
    curve.emplace_back(tau, SimulateFixed(failures, tau, cost_s, restart_s).waste());
  }
  return curve;
}

}  // namespace ckpt::policy
