// ckpt-bench policy: replays a failure trace (LANL, a `times` file or a
// seeded synthetic one) against every interval policy and the oracle.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_cli.h"
#include "policy_bench.h"

namespace ckpt::bench {
namespace {

using policy::Trace;

const char* const kUsage =
    "Usage: ckpt-bench policy (--trace FILE --format lanl --system N | --trace FILE --format times\n"
    "                          | --synthetic exponential|weibull --mtbf D [--shape K] --seed N\n"
    "                            [--failures N | --duration D])\n"
    "                         --cost D --restart D [--json] [--curve FILE.csv] [--quiet]\n\n"
    "One job spans the whole system: it starts at the first failure with a restart, every\n"
    "failure loses the work since the last committed checkpoint and costs a restart R, a\n"
    "checkpoint costs C and commits when it completes. Waste = 1 - useful work / (last - first\n"
    "failure). The oracle is the best fixed interval for the trace, found by search; offline\n"
    "policies are fitted on the whole trace (hindsight), online ones see only past failures.\n"
    "Durations: 90s, 5m, 3h, 2d or plain seconds. The trace may be xz-compressed.\n"
    "Exit codes: 0 success, 2 usage error, 3 trace missing or bad, unknown system.";

double Duration(const po::variables_map& vm, const std::string& flag) {
  Result<double> d = policy::ParseDuration(vm[flag].as<std::string>());
  if (!d.ok()) throw UsageError("option '--" + flag + "': " + d.status().message());
  return *d;
}

template <typename T>
T Integer(const po::variables_map& vm, const std::string& flag) {
  const std::string& text = vm[flag].as<std::string>();
  T value{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    throw UsageError("invalid value '" + text + "' for option '--" + flag +
                     "': expected an integer");
  }
  return value;
}

void Require(const po::variables_map& vm, const std::string& flag, const std::string& when) {
  if (vm.count(flag) == 0) throw UsageError("missing required option '--" + flag + "'" + when);
}

void Forbid(const po::variables_map& vm, const std::string& flag, const std::string& when) {
  if (vm.count(flag) != 0) throw UsageError("option '--" + flag + "' " + when);
}

// The trace the flags name; usage errors throw, runtime errors return.
Result<Trace> LoadTrace(const po::variables_map& vm) {
  const bool file = vm.count("trace") != 0, synthetic = vm.count("synthetic") != 0;
  if (file == synthetic) throw UsageError("give exactly one of --trace and --synthetic");
  if (file) {
    Require(vm, "format", " with --trace (lanl or times)");
    for (const char* f : {"mtbf", "shape", "seed", "failures", "duration"}) {
      Forbid(vm, f, "is for --synthetic traces");
    }
    const std::string format = vm["format"].as<std::string>();
    const std::string path = vm["trace"].as<std::string>();
    if (format == "lanl") {
      Require(vm, "system", " with --format lanl");
      return policy::ReadLanlTrace(path, Integer<int>(vm, "system"));
    }
    if (format == "times") {
      Forbid(vm, "system", "is for --format lanl");
      return policy::ReadTimesTrace(path);
    }
    throw UsageError("unknown --format '" + format + "' (expected lanl or times)");
  }
  Forbid(vm, "format", "is for --trace files");
  Forbid(vm, "system", "is for --format lanl");
  policy::SyntheticSpec spec;
  const std::string kind = vm["synthetic"].as<std::string>();
  if (kind == "exponential") {
    spec.kind = policy::SyntheticSpec::Kind::kExponential;
    Forbid(vm, "shape", "is for --synthetic weibull");
  } else if (kind == "weibull") {
    spec.kind = policy::SyntheticSpec::Kind::kWeibull;
    Require(vm, "shape", " with --synthetic weibull");
    const std::string text = vm["shape"].as<std::string>();
    double shape = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), shape);
    if (ec != std::errc() || ptr != text.data() + text.size() || !(shape > 0) ||
        !std::isfinite(shape)) {
      throw UsageError("invalid value '" + text + "' for option '--shape': expected a number > 0");
    }
    spec.shape = shape;
  } else {
    throw UsageError("unknown --synthetic '" + kind + "' (expected exponential or weibull)");
  }
  Require(vm, "mtbf", " with --synthetic");
  Require(vm, "seed", " with --synthetic");
  spec.mean_s = Duration(vm, "mtbf");
  if (!(spec.mean_s > 0)) throw UsageError("option '--mtbf' must be positive");
  spec.seed = Integer<uint64_t>(vm, "seed");
  if (vm.count("failures") != 0 && vm.count("duration") != 0) {
    throw UsageError("give at most one of --failures and --duration");
  }
  spec.failures = vm.count("failures") != 0 ? Integer<size_t>(vm, "failures") : 0;
  if (vm.count("duration") != 0) spec.duration_s = Duration(vm, "duration");
  if (spec.failures == 0 && !(spec.duration_s > 0)) spec.failures = 5000;
  return policy::SyntheticTrace(spec);
}

std::string Percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f%%", fraction * 100);
  return buf;
}

void PrintTable(const Trace& trace, const PolicyBenchSpec& spec, const PolicyBenchReport& rep) {
  std::printf("trace: %s: %zu failures (%zu records, %zu at an already-seen time), %.1f days, "
              "MTBF %s\n",
              trace.description.c_str(), trace.times_s.size(), trace.records, trace.merged,
              (trace.times_s.back() - trace.times_s.front()) / 86400.0,
              policy::FormatDuration(rep.mtbf_s).c_str());
  if (rep.weibull) std::printf("whole-trace fit: %s\n", rep.weibull->ToString().c_str());
  std::printf("C = %g s, R = %g s; online policies: window %zu gaps, prior MTBF %s\n\n",
              spec.cost_s, spec.restart_s, spec.window,
              policy::FormatDuration(spec.prior.mtbf_s).c_str());
  std::printf("%-18s %-7s %-12s %-9s %-10s %11s %12s %12s %12s\n", "POLICY", "ONLINE",
              "INTERVAL", "WASTE", "VS ORACLE", "CHECKPOINTS", "LOST_S", "RESTART_S",
              "CHECKPOINT_S");
  auto row = [&](const std::string& name, const char* online, const std::string& interval,
                 const policy::SimResult& r) {
    char vs[32];
    std::snprintf(vs, sizeof(vs), "%+.3f pp", (r.waste() - rep.oracle.result.waste()) * 100);
    std::printf("%-18s %-7s %-12s %-9s %-10s %11llu %12.0f %12.0f %12.0f\n", name.c_str(), online,
                interval.c_str(), Percent(r.waste()).c_str(), vs,
                static_cast<unsigned long long>(r.checkpoints), r.lost_s, r.restart_s,
                r.checkpoint_s);
  };
  row("oracle", "no", policy::FormatDuration(rep.oracle.interval_s), rep.oracle.result);
  for (const PolicyOutcome& p : rep.policies) {
    row(p.name, p.online ? "yes" : "no",
        p.interval_s ? policy::FormatDuration(*p.interval_s) : "adaptive", p.result);
  }
  if (const PolicyOutcome* best = rep.best_online()) {
    std::printf("\nbest online: %s, waste %s vs oracle %s: %s\n", best->name.c_str(),
                Percent(best->result.waste()).c_str(), Percent(rep.oracle.result.waste()).c_str(),
                best->result.waste() <= rep.oracle.result.waste() ? "beats the oracle"
                                                                  : "worse than the oracle");
  }
}

nlohmann::ordered_json SimJson(const policy::SimResult& r) {
  return {{"waste", r.waste()},
          {"useful_s", r.useful_s},
          {"checkpoints", r.checkpoints},
          {"lost_s", r.lost_s},
          {"restart_s", r.restart_s},
          {"checkpoint_s", r.checkpoint_s},
          {"interrupted_checkpoints", r.interrupted_checkpoints},
          {"interrupted_restarts", r.interrupted_restarts}};
}

nlohmann::ordered_json ReportJson(const Trace& trace, const PolicyBenchSpec& spec,
                                  const PolicyBenchReport& rep) {
  nlohmann::ordered_json t = {{"description", trace.description},
                              {"failures", trace.times_s.size()},
                              {"records", trace.records},
                              {"merged", trace.merged},
                              {"nodes", trace.nodes},
                              {"resolution_s", trace.resolution_s},
                              {"span_s", trace.times_s.back() - trace.times_s.front()},
                              {"mtbf_s", rep.mtbf_s}};
  if (rep.weibull) {
    t["weibull"] = {{"shape", rep.weibull->shape}, {"scale_s", rep.weibull->scale_s}};
  }
  nlohmann::ordered_json oracle = {{"interval_s", rep.oracle.interval_s}};
  oracle.update(SimJson(rep.oracle.result));
  nlohmann::ordered_json policies = nlohmann::ordered_json::array();
  for (const PolicyOutcome& p : rep.policies) {
    nlohmann::ordered_json j = {{"name", p.name}, {"online", p.online}};
    j["interval_s"] = p.interval_s ? nlohmann::ordered_json(*p.interval_s) : nullptr;
    j.update(SimJson(p.result));
    j["vs_oracle"] = p.result.waste() - rep.oracle.result.waste();
    j["model"] = p.model;
    j["seconds"] = p.seconds;
    policies.push_back(j);
  }
  nlohmann::ordered_json out = {{"trace", t},
                                {"cost_s", spec.cost_s},
                                {"restart_s", spec.restart_s},
                                {"window", spec.window},
                                {"prior_mtbf_s", spec.prior.mtbf_s},
                                {"oracle", oracle},
                                {"policies", policies}};
  if (const PolicyOutcome* best = rep.best_online()) {
    out["best_online"] = {{"name", best->name},
                          {"waste", best->result.waste()},
                          {"beats_oracle", best->result.waste() <= rep.oracle.result.waste()}};
  }
  return out;
}

Status WriteCurve(const std::string& path, const Trace& trace, const PolicyBenchSpec& spec,
                  const PolicyBenchReport& rep) {
  std::ofstream out(path);
  if (!out) return Status::IOError("cannot write curve file '" + path + "'");
  out << "interval_s,waste\n";
  const double center = rep.oracle.interval_s;
  for (const auto& [tau, waste] : policy::WasteCurve(trace.times_s, spec.cost_s, spec.restart_s,
                                                     center / 8, center * 8, 241)) {
    out << tau << "," << waste << "\n";
  }
  out.close();
  if (!out) return Status::IOError("cannot write curve file '" + path + "'");
  return Status::OK();
}

}  // namespace

int RunPolicyBench(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("trace", po::value<std::string>()->value_name("FILE"), "failure trace (.csv or .csv.xz)")
      ("format", po::value<std::string>()->value_name("F"), "lanl or times")
      ("system", po::value<std::string>()->value_name("N"), "LANL system number")
      ("synthetic", po::value<std::string>()->value_name("KIND"), "exponential or weibull")
      ("mtbf", po::value<std::string>()->value_name("D"), "synthetic: mean time between failures")
      ("shape", po::value<std::string>()->value_name("K"), "synthetic weibull: shape")
      ("seed", po::value<std::string>()->value_name("N"), "synthetic: random seed")
      ("failures", po::value<std::string>()->value_name("N"),
       "synthetic: number of failures (default 5000)")
      ("duration", po::value<std::string>()->value_name("D"), "synthetic: time to cover instead")
      ("cost", po::value<std::string>()->value_name("D"), "checkpoint cost C (required)")
      ("restart", po::value<std::string>()->value_name("D"), "restart cost R (required)")
      ("window", po::value<std::string>()->value_name("N"),
       "online policies fit the last N gaps (default 200, 0 = all)")
      ("prior-mtbf", po::value<std::string>()->value_name("D"),
       "online policies' prior system MTBF (default 24h)")
      ("policies", po::value<std::string>()->value_name("LIST"),
       "comma-separated subset to run (default all: young, daly, optimal, hindsight-hazard, "
       "online-young, online-daly, online-optimal, online-hazard)")
      ("jitter-seed", po::value<std::string>()->value_name("N"),
       "seed for spreading minute-resolution (LANL) times over their minute (default 1)")
      ("no-jitter", "keep the timestamps as recorded (whole minutes for LANL)")
      ("json", "print JSON instead of a table")
      ("curve", po::value<std::string>()->value_name("FILE"),
       "write waste against fixed interval as CSV (interval_s,waste)")
      ("quiet", "no progress on stderr");
  po::variables_map vm;
  if (ParseBenchCommandLine(kUsage, options, args, vm)) return kExitOk;

  PolicyBenchSpec spec;
  Require(vm, "cost", "");
  Require(vm, "restart", "");
  spec.cost_s = Duration(vm, "cost");
  spec.restart_s = Duration(vm, "restart");
  if (!(spec.cost_s > 0)) throw UsageError("option '--cost' must be positive");
  if (vm.count("window") != 0) spec.window = Integer<size_t>(vm, "window");
  if (vm.count("prior-mtbf") != 0) {
    spec.prior.mtbf_s = Duration(vm, "prior-mtbf");
    if (!(spec.prior.mtbf_s > 0)) throw UsageError("option '--prior-mtbf' must be positive");
  }
  if (vm.count("policies") != 0) {
    const std::string list = vm["policies"].as<std::string>();
    for (size_t pos = 0; pos <= list.size();) {
      const size_t comma = std::min(list.find(',', pos), list.size());
      const std::string name = list.substr(pos, comma - pos);
      if (std::find(kPolicyBenchNames.begin(), kPolicyBenchNames.end(), name) ==
          kPolicyBenchNames.end()) {
        throw UsageError("unknown policy '" + name + "' in --policies");
      }
      spec.only.push_back(name);
      pos = comma + 1;
    }
  }
  Result<Trace> trace = LoadTrace(vm);
  if (!trace.ok()) {
    std::cerr << "ckpt-bench policy: " << trace.status().message() << "\n";
    return kExitRuntime;
  }
  if (vm.count("no-jitter") == 0) {
    Dequantize(&*trace, vm.count("jitter-seed") != 0 ? Integer<uint64_t>(vm, "jitter-seed") : 1);
  } else if (vm.count("jitter-seed") != 0) {
    throw UsageError("--jitter-seed and --no-jitter exclude each other");
  }
  std::ostream* progress = vm.count("quiet") != 0 ? nullptr : &std::cerr;
  if (progress) *progress << trace->description << ": " << trace->times_s.size() << " failures\n";
  Result<PolicyBenchReport> report = RunPolicyBenchOn(*trace, spec, progress);
  if (!report.ok()) {
    std::cerr << "ckpt-bench policy: " << report.status().message() << "\n";
    return kExitRuntime;
  }
  if (vm.count("curve") != 0) {
    if (Status st = WriteCurve(vm["curve"].as<std::string>(), *trace, spec, *report); !st.ok()) {
      std::cerr << "ckpt-bench policy: " << st.message() << "\n";
      return kExitRuntime;
    }
  }
  if (vm.count("json") != 0) {
    std::cout << ReportJson(*trace, spec, *report).dump(2) << "\n";
  } else {
    PrintTable(*trace, spec, *report);
  }
  return kExitOk;
}

}  // namespace ckpt::bench
