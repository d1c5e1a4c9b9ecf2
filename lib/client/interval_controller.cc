#include "client/interval_controller.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "store/store_rep.h"

namespace ckpt {
namespace {

// The policy needs C > 0; a checkpoint that costs the loop nothing
// measurable is taken to cost a millisecond.
constexpr double kMinCostS = 1e-3;
// Without any measured C (a checkpoint still in flight, or should_checkpoint
// not called every step), the policy assumes this much.
constexpr double kUnmeasuredCostS = 1.0;
// The session's last sign of life is saved at most this often.
constexpr double kAliveEveryS = 60;

bool PreciseFailureSource(FailureSource s) {
  // kClient failures carry the last sign of life, not the failure's time.
  return s != FailureSource::kClient;
}

}  // namespace

Status IntervalController::ValidateOptions(const Options& options) {
  if (!options.interval_policy) return Status::OK();
  if (options.checkpoint_every_steps > 0)
    return Status::InvalidArgument(
        "set either Options::checkpoint_every_steps or Options::interval_policy, not both");
  auto policy = policy::IntervalPolicy::Create(*options.interval_policy);
  if (!policy.ok()) return policy.status().WithContext("Options::interval_policy");
  return Status::OK();
}

Result<std::unique_ptr<IntervalController>> IntervalController::Open(const Options& options,
                                                                     std::shared_ptr<Store> store,
                                                                     Env* clock) {
  // The options were validated (ValidateOptions) before the store was opened.
  std::unique_ptr<policy::IntervalPolicy> policy;
  if (options.interval_policy) {
    auto created = policy::IntervalPolicy::Create(*options.interval_policy);
    if (!created.ok()) return created.status().WithContext("Options::interval_policy");
    policy = std::move(created).value();
  }
  std::unique_ptr<IntervalController> c(
      new IntervalController(options, std::move(store), clock, std::move(policy)));
  auto detected = c->store_->rep()->BeginSession(options.job, options.nodes);
  if (!detected.ok()) {
    // The profile is for the policy; a store that cannot take it now (full
    // disk) must not stop training.
    c->Warn(detected.status().WithContext("open the job's session"));
  } else if (detected->has_value()) {
    c->detected_failure_ = **detected;
    std::fprintf(stderr,
                 "ckpt: job %s: the previous session did not close its client (killed or "
                 "crashed); recorded as a failure for the interval policy\n",
                 options.job.c_str());
  }
  return c;
}

IntervalController::IntervalController(const Options& options, std::shared_ptr<Store> store,
                                       Env* clock, std::unique_ptr<policy::IntervalPolicy> policy)
    : options_(options),
      store_(std::move(store)),
      clock_(clock),
      policy_(std::move(policy)),
      opened_s_(static_cast<double>(clock->NowUnixMicros()) / 1e6) {
  last_alive_saved_s_ = opened_s_;
}

IntervalController::~IntervalController() {
  const double step_s = meter_.step_s();
  Status s = store_->rep()->EndSession(options_.job);
  if (s.ok() && step_s > 0)
    s = store_->UpdateJobProfile(options_.job, [&](JobProfile* p) { p->step_s = step_s; });
  if (!s.ok()) Warn(s.WithContext("close the job's session"));
}

double IntervalController::NowS() const {
  return static_cast<double>(clock_->NowUnixMicros()) / 1e6;
}

void IntervalController::Warn(const Status& s) {
  if (warned_) return;
  warned_ = true;
  std::fprintf(stderr,
               "ckpt: job %s: cannot keep the failure history and costs in the store: %s "
               "(checkpoints are not affected; the interval policy works with what it has)\n",
               options_.job.c_str(), s.ToString().c_str());
}

bool IntervalController::CheckpointInFlightLocked() {
  std::erase_if(in_flight_, [](const Ticket& t) { return t.finished(); });
  return !in_flight_.empty();
}

void IntervalController::OnCheckpoint(uint64_t step, const Ticket& ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.push_back(ticket);
  meter_.OnCheckpoint();
  last_checkpoint_step_ = step;
  recompute_ = true;  // the hazard policy's next interval depends on the age
}

void IntervalController::OnRestored(uint64_t step) {
  std::lock_guard<std::mutex> lock(mu_);
  double from = opened_s_;
  auto checkpoint = store_->Get(options_.job, step);
  auto failures = store_->ListFailures(options_.job);
  if (checkpoint.ok() && failures.ok()) {
    const double taken_s = static_cast<double>(checkpoint->created_unix_ms) / 1e3;
    for (auto it = failures->rbegin(); it != failures->rend(); ++it) {
      const double t = static_cast<double>(it->time_unix_us) / 1e6;
      if (PreciseFailureSource(it->source) && t >= taken_s && t <= opened_s_) {
        from = t;
        break;
      }
    }
  }
  restart_from_s_ = from;
  meter_.Restart();
  last_checkpoint_step_ = step;
  recompute_ = true;
}

void IntervalController::RecordLocked(double now_s, std::optional<double> cost_s) {
  std::optional<double> restart_s;
  if (restart_from_s_) {
    restart_s = std::max(0.0, now_s - *restart_from_s_);
    restart_from_s_.reset();
  }
  const bool alive_due = now_s - last_alive_saved_s_ >= kAliveEveryS;
  if (!cost_s && !restart_s && !alive_due) return;
  const int64_t now_us = static_cast<int64_t>(now_s * 1e6);
  const double step_s = meter_.step_s();
  Status s = store_->UpdateJobProfile(options_.job, [&](JobProfile* p) {
    if (cost_s) AddCostSample(&p->checkpoint_cost, std::max(kMinCostS, *cost_s));
    if (restart_s) AddCostSample(&p->restart_cost, *restart_s);
    if (step_s > 0) p->step_s = step_s;
    p->last_alive_unix_us = now_us;
  });
  if (!s.ok()) Warn(s);
  last_alive_saved_s_ = now_s;
  if (cost_s || restart_s) recompute_ = true;
}

void IntervalController::RecomputeLocked(double now_s) {
  auto profile = store_->GetJobProfile(options_.job);
  auto failures = store_->ListFailures(options_.job);
  if (!profile.ok() || !failures.ok()) {
    Warn(profile.ok() ? failures.status() : profile.status());
    if (interval_steps_ > 0) return;  // keep the last interval
  }
  double cost_s = kUnmeasuredCostS;
  double restart_s = 0;
  double observed_since_s = opened_s_;
  if (profile.ok()) {
    if (profile->checkpoint_cost.samples > 0) cost_s = profile->checkpoint_cost.mean_s;
    if (profile->restart_cost.samples > 0) restart_s = profile->restart_cost.mean_s;
    observed_since_s = std::min(observed_since_s,
                                static_cast<double>(profile->first_seen_unix_us) / 1e6);
  }
  std::vector<double> times;
  if (failures.ok()) {
    for (const FailureEvent& e : *failures) {
      const double t = static_cast<double>(e.time_unix_us) / 1e6;
      if (t <= now_s) times.push_back(t);
    }
  }
  if (!times.empty()) observed_since_s = std::min(observed_since_s, times.front());
  policy::PolicyInput in;
  in.checkpoint_cost_s = std::max(kMinCostS, cost_s);
  in.restart_cost_s = restart_s;
  in.failure_times_s = times;
  in.observed_since_s = observed_since_s;
  in.now_s = now_s;
  auto interval = policy_->NextInterval(in);
  if (!interval.ok()) {
    Warn(interval.status().WithContext("interval policy"));
    if (interval_steps_ > 0) return;
    interval = options_.interval_policy->max_interval_s;
  }
  interval_s_ = *interval;
  const double steps = std::llround(*interval / meter_.step_s());
  interval_steps_ = static_cast<uint64_t>(std::clamp(steps, 1.0, 1e15));
  recompute_ = false;
}

bool IntervalController::ShouldCheckpoint(uint64_t step) {
  std::lock_guard<std::mutex> lock(mu_);
  const double now_s = NowS();
  const std::optional<double> cost_s = meter_.OnStep(now_s, CheckpointInFlightLocked());
  RecordLocked(now_s, cost_s);
  if (!last_checkpoint_step_) last_checkpoint_step_ = step;

  const uint64_t every = options_.checkpoint_every_steps;
  if (every > 0) return step > 0 && step % every == 0;
  if (policy_ == nullptr || meter_.step_s() <= 0) return false;
  if (recompute_) RecomputeLocked(now_s);
  return step >= *last_checkpoint_step_ + interval_steps_;
}

double IntervalController::interval_s() const {
  std::lock_guard<std::mutex> lock(mu_);
  return interval_s_;
}

uint64_t IntervalController::interval_steps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return interval_steps_;
}

}  // namespace ckpt
