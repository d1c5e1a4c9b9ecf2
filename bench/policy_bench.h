// The policy bench proper: every policy replayed on one trace, against the
// oracle (the best fixed interval for that trace, found by search).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "ckpt/policy.h"
#include "policy/simulator.h"
#include "policy/trace.h"

namespace ckpt::bench {

struct PolicyBenchSpec {
  double cost_s = 60;
  double restart_s = 300;
  policy::Prior prior;  // for the online policies
  size_t window = 200;        // for the online policies
  std::vector<std::string> only;  // run just these policies (empty: all)
};

struct PolicyOutcome {
  std::string name;
  bool online = false;  // sees only past failures; false = fitted on the whole trace
  std::optional<double> interval_s;  // for the fixed-interval ones
  std::string model;                 // the model it used (offline) or "refitted online"
  policy::SimResult result;
  double seconds = 0;  // simulation time
};

struct PolicyBenchReport {
  policy::Oracle oracle;
  double mtbf_s = 0;                          // whole trace: span / gaps
  std::optional<policy::FailureModel> weibull;  // whole-trace MLE, when defined
  std::vector<PolicyOutcome> policies;
  const PolicyOutcome* best_online() const;
};

// Offline (hindsight) policies: young, daly and optimal from the whole-trace
// fits, and hindsight-hazard (the age-dependent schedule of the whole-trace
// Weibull). Online: online-young, online-daly, online-optimal, online-hazard,
// refitted as failures happen. InvalidArgument for an unknown name in `only`. `progress` (may be null) gets one line per
// policy and percentages for the slow ones.
// The names, in the order they run.
extern const std::vector<std::string> kPolicyBenchNames;

Result<PolicyBenchReport> RunPolicyBenchOn(const policy::Trace& trace,
                                           const PolicyBenchSpec& spec, std::ostream* progress);

}  // namespace ckpt::bench
