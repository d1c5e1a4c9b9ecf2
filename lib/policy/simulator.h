// Replaying a failure trace against a checkpoint policy. Internal to the
// library (bench, tests).
//
// Semantics (docs/policy.md): one job spans the whole system. It starts at the
// first failure with a restart; every failure interrupts it, loses the work
// since its last committed checkpoint and costs a restart R (a failure during
// a restart starts a new one). A checkpoint costs C and commits only when it
// completes (a failure at exactly that moment comes after the commit). An
// online policy is asked for the next interval after each restart and each
// commit and sees only the failures up to that moment. The run ends at the
// last failure; waste = 1 − useful / (last failure − first failure).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "ckpt/policy.h"

namespace ckpt::policy {

struct SimResult {
  double span_s = 0;        // last failure − first failure
  double useful_s = 0;      // committed training
  double lost_s = 0;        // training lost to failures
  double restart_s = 0;     // time in restarts, interrupted ones included
  double checkpoint_s = 0;  // time in checkpoints, interrupted ones included
  uint64_t checkpoints = 0;  // committed
  uint64_t interrupted_checkpoints = 0;
  uint64_t interrupted_restarts = 0;
  uint64_t failures = 0;  // failures after the first (each interrupts the job)
  double waste() const { return span_s > 0 ? 1.0 - useful_s / span_s : 0.0; }
};

// Called with the fraction of the trace done, now and then.
using ProgressFn = std::function<void(double fraction)>;

// Needs >= 2 failure times, ascending and distinct. Errors of the policy are
// returned with the time at which it failed.
Result<SimResult> Simulate(std::span<const double> failures, IntervalPolicy& policy,
                           double cost_s, double restart_s, const ProgressFn& progress = {});

// The same for a fixed interval, in closed form per gap (fast enough to search
// thousands of intervals); equal to Simulate with a kFixed policy.
SimResult SimulateFixed(std::span<const double> failures, double interval_s, double cost_s,
                        double restart_s);

// The best fixed interval on this trace, by search: a log grid with 1% steps
// over [lo_s, hi_s], then exact within a factor 2 of the grid's best (the waste of
// a fixed interval on a trace is piecewise linear in τ with jumps, and its
// minimum is at a jump; simulator.cc enumerates them).
struct Oracle {
  double interval_s = 0;
  SimResult result;
};
Oracle FindOracle(std::span<const double> failures, double cost_s, double restart_s,
                  double lo_s, double hi_s);

// (interval, waste) on `points` log-spaced intervals over [lo_s, hi_s].
std::vector<std::pair<double, double>> WasteCurve(std::span<const double> failures,
                                                  double cost_s, double restart_s, double lo_s,
                                                  double hi_s, int points);

}  // namespace ckpt::policy
