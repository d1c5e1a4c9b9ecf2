// IntervalPolicy: the policies a Client runs. Each call sees only the past
// failures; the fit is cached and redone when the history changes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ckpt/policy.h"

namespace ckpt::policy {
namespace {

constexpr struct {
  PolicyKind kind;
  const char* name;
} kKindNames[] = {
    {PolicyKind::kFixed, "fixed"},     {PolicyKind::kYoung, "young"},
    {PolicyKind::kDaly, "daly"},       {PolicyKind::kOptimal, "optimal"},
    {PolicyKind::kHazard, "hazard"},
};

bool Finite(double x) { return std::isfinite(x); }

// Checks the input; the history's order from index `check_from` on (the part
// not seen by an earlier call).
Status CheckInput(const PolicyInput& in, size_t check_from) {
  if (!(in.checkpoint_cost_s > 0) || !Finite(in.checkpoint_cost_s)) {
    return Status::InvalidArgument("checkpoint cost must be a positive number of seconds");
  }
  if (!(in.restart_cost_s >= 0) || !Finite(in.restart_cost_s)) {
    return Status::InvalidArgument("restart cost must be a non-negative number of seconds");
  }
  if (!Finite(in.now_s) || !Finite(in.observed_since_s) || in.observed_since_s > in.now_s) {
    return Status::InvalidArgument("observed_since_s must be finite and not after now_s");
  }
  const auto& t = in.failure_times_s;
  if (!t.empty() && (t.back() > in.now_s || t.front() < in.observed_since_s)) {
    return Status::InvalidArgument(
        "failure history must lie between observed_since_s and now_s (online policies see "
        "only the past)");
  }
  for (size_t i = std::max<size_t>(check_from, 1); i < t.size(); ++i) {
    if (!(t[i] >= t[i - 1])) {
      return Status::InvalidArgument("failure times must be ascending (index " +
                                     std::to_string(i) + ")");
    }
  }
  return Status::OK();
}

class FittingPolicy final : public IntervalPolicy {
 public:
  explicit FittingPolicy(const PolicyConfig& config) : config_(config) {
    model_ = config.model ? *config.model : FailureModel::Exponential(config.prior.mtbf_s);
    if (!config.model && Weibull()) {
      model_ = FailureModel::WeibullWithMean(config.prior.shape, config.prior.mtbf_s);
    }
  }

  PolicyKind kind() const override { return config_.kind; }
  FailureModel model() const override { return model_; }

  Result<double> NextInterval(const PolicyInput& in) override {
    const auto& times = in.failure_times_s;
    const double last = times.empty() ? in.observed_since_s : times.back();
    const bool history_changed = times.size() != fit_count_ || last != fit_last_;
    // The order of the history is checked once: a history that extends the
    // one checked before (same length or longer, same time at the old end)
    // only in its new part, so that a replay stays linear.
    const bool extends = checked_count_ != kNone && times.size() >= checked_count_ &&
                         (checked_count_ == 0 || times[checked_count_ - 1] == checked_tail_);
    CKPT_RETURN_IF_ERROR(CheckInput(in, extends ? checked_count_ : 0));
    checked_count_ = times.size();
    checked_tail_ = times.empty() ? 0.0 : times.back();
    if (config_.kind == PolicyKind::kFixed) return Clamp(config_.fixed_interval_s);

    const double age = in.now_s - last;
    // A long failure-free stretch is evidence too (censoring): refit when the
    // job has been up twice as long as at the last fit and longer than the
    // fitted MTBF, i.e. a logarithmic number of times per long gap.
    const bool long_survival = age >= 2.0 * fit_age_ && age > model_.mean_s();
    const bool costs_changed =
        in.checkpoint_cost_s != fit_cost_ || in.restart_cost_s != fit_restart_;
    // A given model is never refitted; only a change of C or R redoes its interval.
    const bool refit = config_.model ? costs_changed
                                     : history_changed || costs_changed || long_survival;
    if (refit) {
      if (!config_.model) {
        Fit(in);
      }
      Derive(in);
      fit_count_ = times.size();
      fit_last_ = last;
      fit_age_ = age;
      fit_cost_ = in.checkpoint_cost_s;
      fit_restart_ = in.restart_cost_s;
    }
    if (config_.kind == PolicyKind::kHazard) return Clamp(schedule_.IntervalAt(age));
    return Clamp(interval_);
  }

 private:
  bool Weibull() const {
    return config_.kind == PolicyKind::kOptimal || config_.kind == PolicyKind::kHazard;
  }

  void Fit(const PolicyInput& in) {
    const FailureObservations obs = ObservationsFromHistory(
        in.failure_times_s, in.observed_since_s, in.now_s, config_.window);
    model_ = Weibull() ? FitWeibull(obs, config_.prior) : FitExponential(obs, config_.prior);
  }

  void Derive(const PolicyInput& in) {
    const double c = in.checkpoint_cost_s, r = in.restart_cost_s;
    switch (config_.kind) {
      case PolicyKind::kYoung:
        interval_ = YoungInterval(c, model_.mean_s());
        break;
      case PolicyKind::kDaly:
        interval_ = DalyInterval(c, model_.mean_s());
        break;
      case PolicyKind::kOptimal:
        interval_ = OptimalInterval(model_, c, r);
        break;
      case PolicyKind::kHazard:
        schedule_ = HazardSchedule::Compute(model_, c, r);
        break;
      case PolicyKind::kFixed:
        break;
    }
  }

  Result<double> Clamp(double interval) const {
    if (std::isnan(interval)) {
      return Status::InvalidArgument("no interval for model " + model_.ToString());
    }
    return std::clamp(interval, config_.min_interval_s, config_.max_interval_s);
  }

  PolicyConfig config_;
  FailureModel model_;
  double interval_ = 0;
  HazardSchedule schedule_;
  static constexpr size_t kNone = std::numeric_limits<size_t>::max();
  size_t checked_count_ = kNone;
  double checked_tail_ = 0;
  size_t fit_count_ = std::numeric_limits<size_t>::max();
  double fit_last_ = std::numeric_limits<double>::quiet_NaN();
  double fit_age_ = 0;
  double fit_cost_ = std::numeric_limits<double>::quiet_NaN();
  double fit_restart_ = std::numeric_limits<double>::quiet_NaN();
};

Status CheckConfig(const PolicyConfig& c) {
  if (c.kind == PolicyKind::kFixed && (!(c.fixed_interval_s > 0) || !Finite(c.fixed_interval_s))) {
    return Status::InvalidArgument("a fixed policy needs a positive interval");
  }
  if (!(c.prior.mtbf_s > 0) || !Finite(c.prior.mtbf_s) || !(c.prior.weight > 0) ||
      !(c.prior.shape > 0) || !(c.prior.shape_weight >= 0)) {
    return Status::InvalidArgument(
        "prior needs mtbf_s > 0, weight > 0, shape > 0 and shape_weight >= 0");
  }
  if (c.model && (!(c.model->scale_s > 0) || !(c.model->shape > 0) ||
                  !Finite(c.model->scale_s) || !Finite(c.model->shape))) {
    return Status::InvalidArgument("model needs a positive, finite shape and scale");
  }
  if (!(c.min_interval_s > 0) || !(c.min_interval_s <= c.max_interval_s)) {
    return Status::InvalidArgument("need 0 < min_interval_s <= max_interval_s");
  }
  return Status::OK();
}

}  // namespace

const char* PolicyKindName(PolicyKind kind) {
  for (const auto& entry : kKindNames) {
    if (entry.kind == kind) return entry.name;
  }
  return "unknown";
}

Result<PolicyKind> ParsePolicyKind(std::string_view name) {
  for (const auto& entry : kKindNames) {
    if (name == entry.name) return entry.kind;
  }
  return Status::InvalidArgument("unknown policy '" + std::string(name) +
                                 "' (expected fixed, young, daly, optimal or hazard)");
}

Result<std::unique_ptr<IntervalPolicy>> IntervalPolicy::Create(const PolicyConfig& config) {
  CKPT_RETURN_IF_ERROR(CheckConfig(config));
  return std::unique_ptr<IntervalPolicy>(new FittingPolicy(config));
}

}  // namespace ckpt::policy
