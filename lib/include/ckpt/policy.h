// ckpt/policy.h: how long to train between checkpoints, from the measured
// checkpoint cost C, restart cost R and the history of failures.
//
//   ckpt::policy::PolicyConfig config;                 // online hazard policy
//   config.prior = ckpt::policy::Prior::FromNodes(5 * 365 * 86400.0, 512);
//   auto policy = ckpt::policy::IntervalPolicy::Create(config).value();
//   ckpt::policy::PolicyInput in;
//   in.checkpoint_cost_s = 60;  in.restart_cost_s = 300;
//   in.failure_times_s = failures;                     // past failures, ascending
//   in.observed_since_s = job_start;  in.now_s = now;
//   double seconds = policy->NextInterval(in).value();  // train this long, then checkpoint
//
// Models (docs/policy.md has the derivations): failures of the whole job form
// a renewal process whose gaps are exponential (MTBF M) or Weibull (shape k,
// scale λ). Fits are maximum likelihood with right-censoring (the time since
// the last failure counts as a survived, unfinished gap) combined with a prior
// that dominates while few failures have been seen.
//
// Waste is the fraction of wall time that is not committed training: lost
// work, restarts and checkpoints. Every interval here is training time between
// the end of one checkpoint (or restart) and the start of the next checkpoint.
//
// Units: seconds everywhere, as double. Times are any fixed epoch (Unix time
// in practice). Functions that take costs require C > 0 and R >= 0, an MTBF or
// scale > 0 and a shape > 0; the plain formula functions return NaN otherwise
// (like std::sqrt), everything returning Result reports InvalidArgument.
//
// Thread safety: the free functions are pure. An IntervalPolicy caches its
// last fit and must not be used from two threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/status.h"

namespace ckpt::policy {

// ---------------------------------------------------------------- models ---

// The distribution of the time between two failures of the job.
struct FailureModel {
  enum class Kind { kExponential, kWeibull };
  Kind kind = Kind::kExponential;
  double shape = 1.0;       // Weibull k; 1 for the exponential
  double scale_s = 86400.0;  // Weibull λ; the MTBF for the exponential

  static FailureModel Exponential(double mtbf_s);
  static FailureModel Weibull(double shape, double scale_s);
  // The Weibull of this shape whose mean is mean_s (λ = mean / Γ(1 + 1/k)).
  static FailureModel WeibullWithMean(double shape, double mean_s);

  double mean_s() const;              // the MTBF
  double Survival(double t) const;    // P(gap > t)
  double LogSurvival(double t) const; // log P(gap > t), exact far in the tail
  double Hazard(double t) const;      // failure rate at age t (since the last failure)
  double LogDensity(double t) const;  // log of the gap's density at t > 0
  // ∫_t^∞ Survival: expected time still survived past age t, unconditionally.
  double SurvivalIntegral(double t) const;
  std::string ToString() const;  // "Weibull(k=0.70, λ=9.55 h, mean 13.6 h)"
};

// What is believed before any failure is seen. The MTBF part is a conjugate
// Gamma prior on the failure rate worth `weight` pseudo-failures observed over
// weight × mtbf_s of exposure; the shape part shrinks the Weibull shape
// estimate toward `shape` as if `shape_weight` gaps had shown it.
struct Prior {
  double mtbf_s = 86400.0;   // of the whole job (every node's failure stops it)
  double weight = 2.0;       // pseudo-failures; > 0
  double shape = 1.0;        // Weibull shape believed a priori
  double shape_weight = 10.0;  // pseudo-gaps for the shape; >= 0

  // A job on `nodes` nodes that each fail independently with MTBF
  // node_mtbf_s fails with MTBF node_mtbf_s / nodes.
  static Prior FromNodes(double node_mtbf_s, uint64_t nodes);
};

// Failure data for a fit: complete gaps (failure to failure) and censored
// stretches (survived without failure, e.g. the time since the last failure).
struct FailureObservations {
  std::vector<double> gaps_s;
  std::vector<double> censored_s;
};

// The observations in a failure history: the last `window` gaps between the
// failure times (0 = all), the stretch from observed_since_s to the first
// failure as a gap when the window reaches back to it (exact for the
// exponential model, an approximation for Weibull), and now_s minus the last
// failure (or minus observed_since_s when there is none) as censored.
// Gaps shorter than 1 s count as 1 s: timestamps have finite resolution and a
// zero gap has no Weibull likelihood.
FailureObservations ObservationsFromHistory(std::span<const double> failure_times_s,
                                            double observed_since_s, double now_s,
                                            size_t window);

// Maximum likelihood, no prior. Exponential: MTBF = total time / failures
// (needs >= 1 gap). Weibull: the profile likelihood equation for k solved by
// safeguarded Newton, λ in closed form given k (needs >= 2 gaps that differ).
Result<FailureModel> FitExponentialMle(const FailureObservations& obs);
Result<FailureModel> FitWeibullMle(const FailureObservations& obs);

// With the prior; always defined (the prior alone when there is no data).
// Exponential: MTBF = (weight·mtbf + total time) / (weight + failures), the
// inverse posterior mean rate. Weibull: shape = (shape_weight·prior shape +
// n·k_mle) / (shape_weight + n) (the prior shape alone while the MLE is not
// defined), mean = the exponential estimate above.
FailureModel FitExponential(const FailureObservations& obs, const Prior& prior);
FailureModel FitWeibull(const FailureObservations& obs, const Prior& prior);

// -------------------------------------------------------------- formulas ---

// Young (1974): sqrt(2·C·M).
double YoungInterval(double cost_s, double mtbf_s);
// Daly (2006), higher order: sqrt(2CM)·[1 + sqrt(C/2M)/3 + (C/2M)/9] − C for
// C < 2M, else M.
double DalyInterval(double cost_s, double mtbf_s);

// The long-run expected waste of checkpointing every interval_s of training
// under `model`, where each failure costs a restart R (itself interrupted by a
// failure during it) and the work since the last committed checkpoint.
// Renewal argument: a gap G contributes τ·floor((G − R)/(τ + C)) of useful
// work, so waste = 1 − τ·Σ_{n≥1} S(R + n(τ + C)) / E[G]. For the exponential
// this is 1 − τ·e^{−R/M} / (M·(e^{(τ+C)/M} − 1)), Daly's exact expression.
double ExpectedWaste(const FailureModel& model, double interval_s, double cost_s,
                     double restart_s);

// The fixed interval that minimizes ExpectedWaste. Exponential: closed form
// τ = M·(1 + W₀(−e^{−1−C/M})) (Lambert W; independent of R). Weibull: log-grid
// then golden-section search around the exponential optimum for the same mean.
double OptimalInterval(const FailureModel& model, double cost_s, double restart_s);

// The age-dependent policy: the next interval as a function of the time since
// the last failure. Over the next segment the hazard is taken as constant at
// its average there and the exponential's exact optimum for that rate is used
// (a refinement of Ling, Mi & Lin 2001, "Young with the local hazard"; see
// hazard_schedule.cc and docs/policy.md). For a Weibull with k < 1 it
// checkpoints more often right after a failure and less often later; for the
// exponential it is OptimalInterval at every age.
class HazardSchedule {
 public:
  // Invalid inputs give a schedule that is not valid() and whose IntervalAt
  // is NaN.
  static HazardSchedule Compute(const FailureModel& model, double cost_s, double restart_s);

  // The next interval for a job that is at `age_s` since the last failure
  // (or since its start) and has just committed a checkpoint or restarted.
  double IntervalAt(double age_s) const;
  // Long-run expected waste when following the schedule after every restart
  // (renewal-reward, exact for the model). Costs a walk through the
  // schedule: computed on each call, not by Compute.
  double expected_waste() const;
  bool valid() const { return valid_; }

 private:
  FailureModel model_;
  double cost_s_ = 0;
  double restart_s_ = 0;
  bool valid_ = false;
};

// ------------------------------------------------------------- policies ---

enum class PolicyKind {
  kFixed,    // config.fixed_interval_s, always
  kYoung,    // Young with the fitted exponential MTBF
  kDaly,     // Daly with the fitted exponential MTBF
  kOptimal,  // OptimalInterval of the fitted Weibull
  kHazard,   // HazardSchedule of the fitted Weibull at the current age
};

// "fixed", "young", "daly", "optimal", "hazard".
const char* PolicyKindName(PolicyKind kind);
Result<PolicyKind> ParsePolicyKind(std::string_view name);

struct PolicyConfig {
  PolicyKind kind = PolicyKind::kHazard;
  double fixed_interval_s = 0;  // kFixed only; > 0
  Prior prior;
  // Fit on the last `window` gaps only (0 = the whole history): failure
  // rates drift over a machine's life (system 20 of the LANL trace goes from
  // a 6 h to a 21 h MTBF), and the fit should follow them.
  size_t window = 200;
  // When set, the policy uses this model and never fits (a known machine, or
  // hindsight in the bench). The prior and window are then unused.
  std::optional<FailureModel> model;
  // Every returned interval is clamped to [min_interval_s, max_interval_s].
  double min_interval_s = 1.0;
  double max_interval_s = 30.0 * 86400.0;
};

// What a policy sees: only the past.
struct PolicyInput {
  double checkpoint_cost_s = 0;  // C, measured; > 0
  double restart_cost_s = 0;     // R, measured; >= 0
  // Failures of the job so far, ascending, none after now_s. The span must
  // stay valid during the call only.
  std::span<const double> failure_times_s;
  double observed_since_s = 0;  // when observation began; <= every failure time
  double now_s = 0;             // the job has just restarted or committed a checkpoint
};

class IntervalPolicy {
 public:
  // InvalidArgument for a bad config (fixed interval <= 0, prior MTBF <= 0,
  // min > max, ...).
  static Result<std::unique_ptr<IntervalPolicy>> Create(const PolicyConfig& config);

  virtual ~IntervalPolicy() = default;

  // Seconds of training before the next checkpoint. InvalidArgument when the
  // input breaks its contract (C <= 0, unsorted history, a failure after
  // now_s, ...). Refits only when the history changed or the job has been up
  // for twice as long as at the last fit and longer than the fitted MTBF.
  virtual Result<double> NextInterval(const PolicyInput& input) = 0;

  virtual PolicyKind kind() const = 0;
  // The model of the last fit (the prior's before the first call).
  virtual FailureModel model() const = 0;
};

// ---------------------------------------------------------------- traces ---

// The failure times in a trace file, in seconds since the Unix epoch,
// ascending, failures at the same time counted once. format "times": CSV
// with a header holding a `time` column, one failure per line (ISO 8601 or
// epoch seconds); "lanl": the LANL LA-UR-05-7318 release, the records of
// `system`. xz-compressed files are read as well. NotFound for a missing
// file or system, InvalidArgument for an unknown format, Corruption for a
// malformed file (naming the line).
Result<std::vector<double>> ReadFailureTimes(const std::string& path, std::string_view format,
                                             int system = 0);

// One timestamp as `times` files write it: ISO 8601 ("2026-11-25T06:28:00Z",
// "2026-11-25 06:28", offsets "+02:00"; no zone means UTC) or seconds since
// the epoch ("1764052080").
Result<double> ParseTimestamp(std::string_view text);

// ------------------------------------------------------------- durations ---

// "90s", "5m", "3h", "2d", "1.5h", "0.25d"; a plain number is seconds. No
// sign, no spaces, finite. InvalidArgument with the text quoted otherwise.
Result<double> ParseDuration(std::string_view text);

// Short human form: "250 us", "17.2 ms", "45.0 s", "12.5 min", "3.20 h", "2.50 d".
std::string FormatDuration(double seconds);

}  // namespace ckpt::policy
