// ckpt policy --mtbf D --cost D --restart D [--shape K] [--nodes N] [--json]:
// the checkpoint interval each policy picks, and its expected waste.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/policy.h"
#include "cli_common.h"

namespace ckpt::cli {
namespace {

namespace pol = ckpt::policy;

const CommandSpec kSpec = {
    "policy",
    "--mtbf D --cost D --restart D [--shape K] [--nodes N] [--json]\n"
    "       ckpt policy --store DIR --job J [--json]   (not available yet)",
    "Prints the checkpoint interval of each policy and its expected waste (the\n"
    "fraction of wall time lost to checkpoints, restarts and recomputation) for a\n"
    "job whose failures have mean time between failures D (per node with --nodes N:\n"
    "the job then fails N times as often), checkpoint cost C and restart cost R.\n"
    "Without --shape failures are exponential; --shape K makes them Weibull with\n"
    "that shape and the same mean (K < 1: failures cluster), which adds the hazard\n"
    "policy's age-dependent schedule. Durations: 90s, 5m, 3h, 2d or plain seconds.\n"
    "Policies: young sqrt(2CM); daly, Daly's higher-order formula; optimal, the\n"
    "interval of least expected waste; hazard, the interval as a function of the\n"
    "time since the last failure (docs/policy.md).",
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
      ("json", "print JSON");
  po::variables_map vm;
  if (ParseCommandLine(kSpec, options, args, vm)) return kExitOk;

  if (vm.count("store") != 0 || vm.count("job") != 0) {
    RequireString(vm, "store");
    RequireString(vm, "job");
    for (const char* f : {"mtbf", "cost", "restart", "shape", "nodes"}) {
      if (vm.count(f) != 0) {
        throw UsageError(std::string("option '--") + f +
                         "' cannot be combined with --store/--job (they come from the store)");
      }
    }
    return RuntimeError("policy", Status::Unsupported(
                                      "--store/--job: the failure history and measured costs "
                                      "are not kept in the store yet; give --mtbf, --cost and "
                                      "--restart instead"));
  }

  const double mtbf_arg = Duration(vm, "mtbf");
  const double cost = Duration(vm, "cost");
  const double restart = Duration(vm, "restart");
  if (!(mtbf_arg > 0)) throw UsageError("option '--mtbf' must be positive");
  if (!(cost > 0)) throw UsageError("option '--cost' must be positive");
  uint64_t nodes = 1;
  if (vm.count("nodes") != 0) {
    nodes = ParseUint64("nodes", RequireString(vm, "nodes"));
    if (nodes == 0) throw UsageError("option '--nodes' must be at least 1");
  }
  const double mtbf = mtbf_arg / static_cast<double>(nodes);
  const bool weibull = vm.count("shape") != 0;
  const pol::FailureModel model =
      weibull ? pol::FailureModel::WeibullWithMean(PositiveNumber(vm, "shape"), mtbf)
              : pol::FailureModel::Exponential(mtbf);

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
