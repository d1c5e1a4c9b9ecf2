// ckpt policy --mtbf D --cost D --restart D [--shape K] [--nodes N] [--json]:
// the checkpoint interval each policy picks, and its expected waste.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/env.h"
#include "ckpt/policy.h"
#include "ckpt/store.h"
#include "cli_common.h"

namespace ckpt::cli {
namespace {

namespace pol = ckpt::policy;

const CommandSpec kSpec = {
    "policy",
    "--mtbf D --cost D --restart D [--shape K] [--nodes N] [--json]\n"
    "       ckpt policy --store DIR --job J [--node-mtbf D] [--nodes N] [--cost D] [--restart D] [--json]",
    "Prints the checkpoint interval of each policy and its expected waste (the\n"
    "fraction of wall time lost to checkpoints, restarts and recomputation) for a\n"
    "job whose failures have mean time between failures D (per node with --nodes N:\n"
    "the job then fails N times as often), checkpoint cost C and restart cost R.\n"
    "Without --shape failures are exponential; --shape K makes them Weibull with\n"
    "that shape and the same mean (K < 1: failures cluster), which adds the hazard\n"
    "policy's age-dependent schedule. Durations: 90s, 5m, 3h, 2d or plain seconds.\n"
    "Policies: young sqrt(2CM); daly, Daly's higher-order formula; optimal, the\n"
    "interval of least expected waste; hazard, the interval as a function of the\n"
    "time since the last failure (docs/policy.md).\n"
    "With --store and --job the failure model is fitted to the job's recorded\n"
    "failures (maximum likelihood with right-censoring, and a prior that dominates\n"
    "until failures are seen; --node-mtbf sets it per node), and C and R are the\n"
    "costs its client measured (--cost and --restart override them).",
    "  0  success\n",
};

double Duration(const po::variables_map& vm, const std::string& flag) {
  Result<double> d = pol::ParseDuration(RequireString(vm, flag));
  if (!d.ok()) throw UsageError("option '--" + flag + "': " + d.status().message());
  return *d;
}

double PositiveNumber(const po::variables_map& vm, const std::string& flag) {
  const std::string text = RequireString(vm, flag);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !(value > 0) ||
      !std::isfinite(value)) {
    throw UsageError("invalid value '" + text + "' for option '--" + flag +
                     "': expected a number > 0");
  }
  return value;
}

struct Row {
  std::string name;
  double interval_s;
  double waste;
};

void PrintTable(const pol::FailureModel& model, double cost, double restart,
                const std::vector<Row>& rows, const pol::HazardSchedule* schedule,
                const std::vector<double>& ages) {
  std::printf("failures: %s; C = %s, R = %s\n\n", model.ToString().c_str(),
              pol::FormatDuration(cost).c_str(), pol::FormatDuration(restart).c_str());
  std::printf("%-9s %14s %12s  %s\n", "POLICY", "INTERVAL", "INTERVAL_S", "EXPECTED WASTE");
  for (const Row& r : rows) {
    std::printf("%-9s %14s %12.1f  %.4f%%%s\n", r.name.c_str(),
                pol::FormatDuration(r.interval_s).c_str(), r.interval_s, r.waste * 100,
                r.name == "hazard" ? "  (first interval after a restart)" : "");
  }
  if (schedule != nullptr) {
    std::printf("\nhazard schedule (time since the last failure -> interval):\n");
    for (double age : ages) {
      std::printf("  %10s -> %s\n", pol::FormatDuration(age).c_str(),
                  pol::FormatDuration(schedule->IntervalAt(age)).c_str());
    }
  }
}

// What the table is computed from: the flags, or the job's history.
struct Inputs {
  double mtbf = 0;     // of the job: Young and Daly
  pol::FailureModel model;  // optimal and hazard
  double cost = 0;
  double restart = 0;
  uint64_t nodes = 1;
  std::string history_text;      // printed above the table
  nlohmann::ordered_json history;  // "history" in --json
  int exit_code = kExitOk;       // not kExitOk: stop with it
};

Inputs FromFlags(const po::variables_map& vm) {
  if (vm.count("node-mtbf") != 0) throw UsageError("option '--node-mtbf' needs --store/--job");
  Inputs in;
  const double mtbf_arg = Duration(vm, "mtbf");
  in.cost = Duration(vm, "cost");
  in.restart = Duration(vm, "restart");
  if (!(mtbf_arg > 0)) throw UsageError("option '--mtbf' must be positive");
  if (!(in.cost > 0)) throw UsageError("option '--cost' must be positive");
  if (vm.count("nodes") != 0) {
    in.nodes = ParseUint64("nodes", RequireString(vm, "nodes"));
    if (in.nodes == 0) throw UsageError("option '--nodes' must be at least 1");
  }
  in.mtbf = mtbf_arg / static_cast<double>(in.nodes);
  in.model = vm.count("shape") != 0
                 ? pol::FailureModel::WeibullWithMean(PositiveNumber(vm, "shape"), in.mtbf)
                 : pol::FailureModel::Exponential(in.mtbf);
  return in;
}

// The job's recorded failures and measured costs; --cost and --restart
// override the measurements, --node-mtbf (with the recorded or given node
// count) sets the prior.
Inputs FromStore(const po::variables_map& vm) {
  const std::string store_dir = RequireString(vm, "store");
  const std::string job = RequireString(vm, "job");
  for (const char* f : {"mtbf", "shape"}) {
    if (vm.count(f) != 0) {
      throw UsageError(std::string("option '--") + f +
                       "' cannot be combined with --store/--job (the failure model is fitted "
                       "to the job's history)");
    }
  }
  Inputs in;
  auto fail = [&](const Status& s) {
    in.exit_code = RuntimeError("policy", s);
    return in;
  };
  Result<std::shared_ptr<Store>> store = OpenStore(store_dir, /*read_only=*/true);
  if (!store.ok()) return fail(store.status());
  Result<std::vector<FailureEvent>> failures = (*store)->ListFailures(job);
  if (!failures.ok()) return fail(failures.status());
  Result<JobProfile> profile = (*store)->GetJobProfile(job);
  if (!profile.ok() && !profile.status().IsNotFound()) return fail(profile.status());
  if (!profile.ok() && failures->empty())
    return fail(Status::NotFound("the store has no history of job " + job +
                                 ": no client has run it and no failure was recorded"));

  const double now = static_cast<double>(Env::Default()->NowUnixMicros()) / 1e6;
  std::vector<double> times;
  for (const FailureEvent& e : *failures) times.push_back(static_cast<double>(e.time_unix_us) / 1e6);
  double since = profile.ok() ? static_cast<double>(profile->first_seen_unix_us) / 1e6 : now;
  if (!times.empty()) since = std::min(since, times.front());
  const double until = std::max(now, times.empty() ? now : times.back());

  std::string cost_from = "measured";
  if (vm.count("cost") != 0) {
    in.cost = Duration(vm, "cost");
    if (!(in.cost > 0)) throw UsageError("option '--cost' must be positive");
    cost_from = "--cost";
  } else if (profile.ok() && profile->checkpoint_cost.samples > 0) {
    in.cost = std::max(1e-3, profile->checkpoint_cost.mean_s);
  } else {
    return fail(Status::FailedPrecondition(
        "no checkpoint cost of job " + job +
        " is measured yet (its client measures it when should_checkpoint() is called every "
        "step); give --cost"));
  }
  std::string restart_from = "measured";
  if (vm.count("restart") != 0) {
    in.restart = Duration(vm, "restart");
    restart_from = "--restart";
  } else if (profile.ok() && profile->restart_cost.samples > 0) {
    in.restart = profile->restart_cost.mean_s;
  } else {
    in.restart = 0;
    restart_from = "not measured yet (no restart seen), taken as 0";
  }
  in.nodes = profile.ok() && profile->nodes > 0 ? profile->nodes : 1;
  if (vm.count("nodes") != 0) {
    in.nodes = ParseUint64("nodes", RequireString(vm, "nodes"));
    if (in.nodes == 0) throw UsageError("option '--nodes' must be at least 1");
  }
  pol::Prior prior;
  std::string prior_text = "default prior: job MTBF " + pol::FormatDuration(prior.mtbf_s);
  if (vm.count("node-mtbf") != 0) {
    const double node_mtbf = Duration(vm, "node-mtbf");
    if (!(node_mtbf > 0)) throw UsageError("option '--node-mtbf' must be positive");
    prior = pol::Prior::FromNodes(node_mtbf, in.nodes);
    prior_text = "prior: node MTBF " + pol::FormatDuration(node_mtbf) + " x " +
                 std::to_string(in.nodes) + " nodes";
  }
  const pol::FailureObservations obs =
      pol::ObservationsFromHistory(times, since, until, /*window=*/200);
  const pol::FailureModel exponential = pol::FitExponential(obs, prior);
  in.model = pol::FitWeibull(obs, prior);
  in.mtbf = exponential.mean_s();

  char text[512];
  std::snprintf(text, sizeof(text),
                "job %s: %zu failures in %s observed; fitted %s (%s)\n"
                "C %s (%s), R %s (%s)\n",
                job.c_str(), times.size(), pol::FormatDuration(until - since).c_str(),
                in.model.ToString().c_str(), prior_text.c_str(),
                pol::FormatDuration(in.cost).c_str(), cost_from.c_str(),
                pol::FormatDuration(in.restart).c_str(), restart_from.c_str());
  in.history_text = text;
  in.history = {{"job", job},
                {"failures", times.size()},
                {"observed_s", until - since},
                {"exponential_mtbf_s", exponential.mean_s()},
                {"weibull", {{"shape", in.model.shape}, {"scale_s", in.model.scale_s}}},
                {"cost_from", cost_from},
                {"restart_from", restart_from},
                {"prior_mtbf_s", prior.mtbf_s}};
  return in;
}

}  // namespace

int RunPolicy(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("mtbf", po::value<std::string>()->value_name("D"),
       "mean time between failures (of one node with --nodes)")
      ("cost", po::value<std::string>()->value_name("D"), "checkpoint cost C (required, > 0)")
      ("restart", po::value<std::string>()->value_name("D"), "restart cost R (required)")
      ("shape", po::value<std::string>()->value_name("K"), "Weibull shape (default: exponential)")
      ("nodes", po::value<std::string>()->value_name("N"), "nodes of the job (default 1)")
      ("store", po::value<std::string>()->value_name("DIR"), "use the job's measured history")
      ("job", po::value<std::string>()->value_name("J"), "with --store")
      ("node-mtbf", po::value<std::string>()->value_name("D"),
       "with --store: prior MTBF of one node (x the job's nodes)")
      ("json", "print JSON");
  po::variables_map vm;
  if (ParseCommandLine(kSpec, options, args, vm)) return kExitOk;

  Inputs in = vm.count("store") != 0 || vm.count("job") != 0 ? FromStore(vm) : FromFlags(vm);
  if (in.exit_code != kExitOk) return in.exit_code;
  const double mtbf = in.mtbf;
  const double cost = in.cost;
  const double restart = in.restart;
  const uint64_t nodes = in.nodes;
  const bool weibull = in.model.kind == pol::FailureModel::Kind::kWeibull;
  const pol::FailureModel& model = in.model;

  std::vector<Row> rows;
  auto add = [&](const std::string& name, double interval) {
    rows.push_back({name, interval, pol::ExpectedWaste(model, interval, cost, restart)});
  };
  const double young = pol::YoungInterval(cost, mtbf);
  const double daly = pol::DalyInterval(cost, mtbf);
  const double optimal = pol::OptimalInterval(model, cost, restart);
  add("young", young);
  add("daly", daly);
  add("optimal", optimal);
  pol::HazardSchedule schedule;
  std::vector<double> ages;
  if (weibull) {
    schedule = pol::HazardSchedule::Compute(model, cost, restart);
    rows.push_back({"hazard", schedule.IntervalAt(restart), schedule.expected_waste()});
    for (double age : {restart, 600.0, 3600.0, 6 * 3600.0, mtbf, 4 * mtbf}) {
      if (age >= restart && (ages.empty() || age > ages.back())) ages.push_back(age);
    }
  }

  if (vm.count("json") == 0) {
    if (!in.history_text.empty()) std::printf("%s\n", in.history_text.c_str());
    PrintTable(model, cost, restart, rows, weibull ? &schedule : nullptr, ages);
    return kExitOk;
  }
  nlohmann::ordered_json policies = nlohmann::ordered_json::array();
  for (const Row& r : rows) {
    policies.push_back({{"name", r.name}, {"interval_s", r.interval_s}, {"expected_waste", r.waste}});
  }
  nlohmann::ordered_json out = {
      {"mtbf_s", mtbf},
      {"nodes", nodes},
      {"cost_s", cost},
      {"restart_s", restart},
      {"model",
       {{"kind", weibull ? "weibull" : "exponential"},
        {"shape", model.shape},
        {"scale_s", model.scale_s},
        {"mean_s", model.mean_s()}}},
      {"young_s", young},
      {"daly_s", daly},
      {"optimal_s", optimal},
      {"policies", policies}};
  if (!in.history.is_null()) out["history"] = in.history;
  if (weibull) {
    nlohmann::ordered_json sched = nlohmann::ordered_json::array();
    for (double age : ages) sched.push_back({{"age_s", age}, {"interval_s", schedule.IntervalAt(age)}});
    out["hazard_first_s"] = schedule.IntervalAt(restart);
    out["hazard_schedule"] = sched;
  }
  std::cout << out.dump(2) << "\n";
  return kExitOk;
}

}  // namespace ckpt::cli
