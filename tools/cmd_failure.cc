// ckpt failure add|ls|import: the failure history the interval policy learns
// from (docs/policy.md). Failures detected by ckptd and by clients are
// recorded without this command; it is for what they cannot see (a node that
// hung, a job killed by the scheduler) and for importing history.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/env.h"
#include "ckpt/policy.h"
#include "cli_common.h"

namespace ckpt::cli {
namespace {

const CommandSpec kAddSpec = {
    "failure add",
    "--store DIR --job J [--time T] [--cause TEXT]",
    "Records one failure of job J. T is ISO 8601 (2026-11-25T06:28:00Z; no zone\n"
    "means UTC) or seconds since the epoch; default: now. A failure already\n"
    "recorded at the same time is not added twice. Opens the store for writing:\n"
    "fails (exit 3) while a job or ckptd writes to it.",
    "  0  success\n",
};

const CommandSpec kLsSpec = {
    "failure ls",
    "--store DIR [--job J] [--json]",
    "Lists the recorded failures, oldest first, of job J or of every job, and the\n"
    "job's measured costs (checkpoint cost C, restart cost R, step time).",
    "  0  success\n",
};

const CommandSpec kImportSpec = {
    "failure import",
    "--store DIR --job J --trace FILE --format times|lanl [--system N]",
    "Records every failure of a trace as a failure of job J: a `times` CSV (a\n"
    "`time` column, ISO 8601 or epoch seconds) or the LANL release (--system N).\n"
    "xz-compressed files are read too. Failures already recorded are skipped.",
    "  0  success\n",
};

constexpr char kActions[] =
    "usage: ckpt failure add    --store DIR --job J [--time T] [--cause TEXT]\n"
    "       ckpt failure ls     --store DIR [--job J] [--json]\n"
    "       ckpt failure import --store DIR --job J --trace FILE --format times|lanl [--system N]\n"
    "Run 'ckpt failure ACTION --help' for details.\n";

int64_t ToMicros(double seconds) { return static_cast<int64_t>(std::llround(seconds * 1e6)); }

int64_t NowMicros() { return Env::Default()->NowUnixMicros(); }

int RunFailureAdd(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("store", po::value<std::string>()->value_name("DIR"), "store directory (required)")
      ("job", po::value<std::string>()->value_name("J"), "job that failed (required)")
      ("time", po::value<std::string>()->value_name("T"), "when it failed (default: now)")
      ("cause", po::value<std::string>()->value_name("TEXT"), "what failed (free text)");
  po::variables_map vm;
  if (ParseCommandLine(kAddSpec, options, args, vm)) return kExitOk;
  FailureEvent event;
  const std::string store_dir = RequireString(vm, "store");
  event.job = RequireString(vm, "job");
  event.time_unix_us = NowMicros();
  if (vm.count("time") != 0) {
    Result<double> t = policy::ParseTimestamp(RequireString(vm, "time"));
    if (!t.ok()) throw UsageError("option '--time': " + t.status().message());
    event.time_unix_us = ToMicros(*t);
  }
  if (vm.count("cause") != 0) event.cause = vm["cause"].as<std::string>();
  event.source = FailureSource::kReported;

  Result<std::shared_ptr<Store>> store = OpenStore(store_dir, /*read_only=*/false);
  if (!store.ok()) return RuntimeError(kAddSpec.name, store.status());
  Status s = (*store)->RecordFailure(event);
  if (s.code() == Status::Code::kAlreadyExists) {
    std::cout << "a failure of job " << event.job << " at " << IsoTimeUtc(event.time_unix_us / 1000)
              << " is recorded already; nothing added\n";
    return kExitOk;
  }
  if (!s.ok()) return RuntimeError(kAddSpec.name, s);
  std::cout << "recorded a failure of job " << event.job << " at "
            << IsoTimeUtc(event.time_unix_us / 1000) << "\n";
  return kExitOk;
}

nlohmann::ordered_json CostJson(const CostSummary& c) {
  return {{"samples", c.samples}, {"mean_s", c.mean_s}, {"last_s", c.last_s}};
}

int RunFailureLs(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("store", po::value<std::string>()->value_name("DIR"), "store directory (required)")
      ("job", po::value<std::string>()->value_name("J"), "only this job (default: every job)")
      ("json", "print JSON");
  po::variables_map vm;
  if (ParseCommandLine(kLsSpec, options, args, vm)) return kExitOk;
  const std::string store_dir = RequireString(vm, "store");
  const std::string job = vm.count("job") != 0 ? RequireString(vm, "job") : "";
  Result<std::shared_ptr<Store>> store = OpenStore(store_dir, /*read_only=*/true);
  if (!store.ok()) return RuntimeError(kLsSpec.name, store.status());
  Result<std::vector<FailureEvent>> failures = (*store)->ListFailures(job);
  if (!failures.ok()) return RuntimeError(kLsSpec.name, failures.status());
  std::optional<JobProfile> profile;
  if (!job.empty()) {
    Result<JobProfile> p = (*store)->GetJobProfile(job);
    if (p.ok()) profile = *p;
    else if (!p.status().IsNotFound()) return RuntimeError(kLsSpec.name, p.status());
  }

  if (vm.count("json") != 0) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const FailureEvent& e : *failures) {
      list.push_back({{"job", e.job},
                      {"time", IsoTimeUtc(e.time_unix_us / 1000)},
                      {"time_unix_s", static_cast<double>(e.time_unix_us) / 1e6},
                      {"source", FailureSourceName(e.source)},
                      {"cause", e.cause}});
    }
    nlohmann::ordered_json out = {{"failures", list}};
    if (profile) {
      out["profile"] = {{"nodes", profile->nodes},
                        {"first_seen", IsoTimeUtc(profile->first_seen_unix_us / 1000)},
                        {"checkpoint_cost", CostJson(profile->checkpoint_cost)},
                        {"restart_cost", CostJson(profile->restart_cost)},
                        {"step_s", profile->step_s},
                        {"session_open", profile->session_open}};
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  if (failures->empty()) {
    std::cout << "no failures recorded" << (job.empty() ? "" : " for job " + job) << "\n";
  } else {
    std::printf("%-24s %-20s %-9s %s\n", "TIME (UTC)", "JOB", "SOURCE", "CAUSE");
    for (const FailureEvent& e : *failures) {
      std::printf("%-24s %-20s %-9s %s\n", IsoTimeUtc(e.time_unix_us / 1000).c_str(),
                  e.job.c_str(), FailureSourceName(e.source), e.cause.c_str());
    }
  }
  if (profile) {
    auto cost = [](const CostSummary& c) {
      return c.samples == 0 ? std::string("not measured yet")
                            : policy::FormatDuration(c.mean_s) + " (" +
                                  std::to_string(c.samples) + " samples)";
    };
    std::cout << "\njob " << job << ": checkpoint cost C " << cost(profile->checkpoint_cost)
              << ", restart cost R " << cost(profile->restart_cost) << ", step "
              << (profile->step_s > 0 ? policy::FormatDuration(profile->step_s) : "unknown")
              << ", nodes " << (profile->nodes > 0 ? std::to_string(profile->nodes) : "unknown")
              << "\n";
  }
  return kExitOk;
}

int RunFailureImport(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("store", po::value<std::string>()->value_name("DIR"), "store directory (required)")
      ("job", po::value<std::string>()->value_name("J"), "job the failures belong to (required)")
      ("trace", po::value<std::string>()->value_name("FILE"), "trace file (required)")
      ("format", po::value<std::string>()->value_name("F"), "times or lanl (required)")
      ("system", po::value<std::string>()->value_name("N"), "LANL system number (lanl only)");
  po::variables_map vm;
  if (ParseCommandLine(kImportSpec, options, args, vm)) return kExitOk;
  const std::string store_dir = RequireString(vm, "store");
  const std::string job = RequireString(vm, "job");
  const std::string trace = RequireString(vm, "trace");
  const std::string format = RequireString(vm, "format");
  if (format != "times" && format != "lanl")
    throw UsageError("invalid value '" + format + "' for option '--format': expected times or lanl");
  int system = 0;
  if (format == "lanl") {
    if (vm.count("system") == 0) throw UsageError("--format lanl needs --system N");
    system = static_cast<int>(ParseUint64("system", RequireString(vm, "system")));
  } else if (vm.count("system") != 0) {
    throw UsageError("option '--system' is for --format lanl only");
  }
  Result<std::vector<double>> times = policy::ReadFailureTimes(trace, format, system);
  if (!times.ok()) return RuntimeError(kImportSpec.name, times.status());
  Result<std::shared_ptr<Store>> store = OpenStore(store_dir, /*read_only=*/false);
  if (!store.ok()) return RuntimeError(kImportSpec.name, store.status());
  size_t added = 0;
  size_t present = 0;
  for (double t : *times) {
    FailureEvent e{job, ToMicros(t), FailureSource::kImported, "imported from " + trace};
    Status s = (*store)->RecordFailure(e);
    if (s.code() == Status::Code::kAlreadyExists) {
      ++present;
    } else if (!s.ok()) {
      std::cerr << "ckpt failure import: stopped after " << added << " failures\n";
      return RuntimeError(kImportSpec.name, s);
    } else {
      ++added;
    }
  }
  std::cout << "imported " << added << " failures of job " << job << " from " << trace;
  if (present > 0) std::cout << " (" << present << " were recorded already)";
  std::cout << "\n";
  return kExitOk;
}

}  // namespace

int RunFailure(const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("missing action: add, ls or import");
  const std::string& action = args.front();
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (action == "add") return RunFailureAdd(rest);
  if (action == "ls") return RunFailureLs(rest);
  if (action == "import") return RunFailureImport(rest);
  if (action == "--help" || action == "-h") {
    std::cout << kActions;
    return kExitOk;
  }
  throw UsageError("unknown action '" + action + "' (expected add, ls or import)");
}

}  // namespace ckpt::cli
