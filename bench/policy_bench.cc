#include "policy_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

namespace ckpt::bench {
namespace {

using policy::FailureModel;
using policy::IntervalPolicy;
using policy::PolicyConfig;
using policy::PolicyKind;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

const std::vector<std::string> kPolicyBenchNames = {
    "young",        "daly",        "optimal",        "hindsight-hazard",
    "online-young", "online-daly", "online-optimal", "online-hazard"};

const PolicyOutcome* PolicyBenchReport::best_online() const {
  const PolicyOutcome* best = nullptr;
  for (const PolicyOutcome& p : policies) {
    if (p.online && (best == nullptr || p.result.waste() < best->result.waste())) best = &p;
  }
  return best;
}

Result<PolicyBenchReport> RunPolicyBenchOn(const policy::Trace& trace,
                                           const PolicyBenchSpec& spec, std::ostream* progress) {
  const auto& times = trace.times_s;
  if (times.size() < 3) {
    return Status::InvalidArgument(trace.description + " has " + std::to_string(times.size()) +
                                   " distinct failure times; the bench needs at least 3");
  }
  for (const std::string& name : spec.only) {
    if (std::find(kPolicyBenchNames.begin(), kPolicyBenchNames.end(), name) ==
        kPolicyBenchNames.end()) {
      return Status::InvalidArgument("unknown policy '" + name + "'");
    }
  }
  auto wanted = [&](const std::string& name) {
    return spec.only.empty() || std::find(spec.only.begin(), spec.only.end(), name) != spec.only.end();
  };
  const double c = spec.cost_s, r = spec.restart_s;
  PolicyBenchReport report;
  report.mtbf_s = (times.back() - times.front()) / static_cast<double>(times.size() - 1);
  policy::FailureObservations all;
  for (size_t i = 1; i < times.size(); ++i) all.gaps_s.push_back(std::max(1.0, times[i] - times[i - 1]));
  if (Result<FailureModel> w = policy::FitWeibullMle(all); w.ok()) report.weibull = *w;

  // The oracle's search range is wide enough to hold any sane interval.
  const double young = policy::YoungInterval(c, report.mtbf_s);
  report.oracle = policy::FindOracle(times, c, r, std::max(1.0, young / 50), young * 50);
  if (progress) {
    *progress << "oracle: best fixed interval " << policy::FormatDuration(report.oracle.interval_s)
              << ", waste " << report.oracle.result.waste() * 100 << "%\n";
  }

  auto run_fixed = [&](const std::string& name, double interval, const std::string& model) {
    if (!wanted(name)) return;
    const auto start = std::chrono::steady_clock::now();
    PolicyOutcome out;
    out.name = name;
    out.online = false;
    out.interval_s = interval;
    out.model = model;
    out.result = policy::SimulateFixed(times, interval, c, r);
    out.seconds = Seconds(start);
    report.policies.push_back(out);
  };
  const FailureModel exp_model = FailureModel::Exponential(report.mtbf_s);
  run_fixed("young", young, exp_model.ToString());
  run_fixed("daly", policy::DalyInterval(c, report.mtbf_s), exp_model.ToString());
  const FailureModel fitted = report.weibull.value_or(exp_model);
  run_fixed("optimal", policy::OptimalInterval(fitted, c, r), fitted.ToString());

  auto run_policy = [&](const std::string& name, PolicyConfig config, bool online) -> Status {
    if (!wanted(name)) return Status::OK();
    if (progress) *progress << name << ": " << std::flush;
    const auto start = std::chrono::steady_clock::now();
    Result<std::unique_ptr<IntervalPolicy>> p = IntervalPolicy::Create(config);
    if (!p.ok()) return p.status();
    int last_percent = -1;
    auto on_progress = [&](double fraction) {
      const int percent = static_cast<int>(fraction * 100);
      if (progress && percent / 25 != last_percent / 25 && percent < 100) {
        *progress << percent << "% " << std::flush;
        last_percent = percent;
      }
    };
    Result<policy::SimResult> sim = policy::Simulate(times, **p, c, r, on_progress);
    if (!sim.ok()) return sim.status();
    PolicyOutcome out;
    out.name = name;
    out.online = online;
    out.model = online ? "refitted online" : (*p)->model().ToString();
    out.result = *sim;
    out.seconds = Seconds(start);
    if (progress) *progress << "done, waste " << out.result.waste() * 100 << "% (" << out.seconds << " s)\n";
    report.policies.push_back(out);
    return Status::OK();
  };

  PolicyConfig hindsight;
  hindsight.kind = PolicyKind::kHazard;
  hindsight.model = fitted;
  CKPT_RETURN_IF_ERROR(run_policy("hindsight-hazard", hindsight, false));

  for (PolicyKind kind : {PolicyKind::kYoung, PolicyKind::kDaly, PolicyKind::kOptimal,
                          PolicyKind::kHazard}) {
    PolicyConfig config;
    config.kind = kind;
    config.prior = spec.prior;
    config.window = spec.window;
    CKPT_RETURN_IF_ERROR(
        run_policy(std::string("online-") + policy::PolicyKindName(kind), config, true));
  }
  return report;
}

}  // namespace ckpt::bench
