// ckpt-bench: benchmarks that back the claims in docs/.
//
//   ckpt-bench io ...       checkpoint stall/durable/restore against the disk's limits
//   ckpt-bench policy ...   checkpoint interval policies replayed on failure traces
//   ckpt-bench snapshot ... what a snapshot costs the training loop (cuda|host)
//   ckpt-bench codec ...    compression modes on real training snapshots, per tensor kind
//   ckpt-bench --help
//
// Exit codes: 0 success, 2 usage error, 3 runtime error (bad input file, ...).
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "bench_cli.h"
#include "codec_bench.h"
#include "io_bench.h"
#include "snapshot_bench.h"

namespace ckpt::bench {
namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

constexpr Subcommand kSubcommands[] = {
    {"io", "checkpoint stall, durable and restore times against this disk's limits", RunIoBench},
    {"policy", "replay failure traces against checkpoint interval policies", RunPolicyBench},
    {"snapshot", "how long a snapshot blocks the caller and what it costs (cuda|host)", RunSnapshotBench},
    {"codec", "compression modes on real training snapshots, per tensor kind", RunCodecBench},
};

void PrintUsage(std::ostream& out) {
  out << "ckpt-bench: benchmarks for ckpt\n\n"
         "Usage: ckpt-bench <subcommand> [options]\n\nSubcommands:\n";
  for (const Subcommand& sub : kSubcommands) {
    std::string name = sub.name;
    name.resize(10, ' ');
    out << "  " << name << sub.summary << "\n";
  }
  out << "\nRun 'ckpt-bench <subcommand> --help' for its options.\n"
         "Exit codes: 0 success, 2 usage error, 3 runtime error (input missing or bad).\n";
}

int Usage(std::string_view command, const std::string& message) {
  std::cerr << "ckpt-bench" << (command.empty() ? "" : " ") << command << ": " << message
            << "\nTry 'ckpt-bench" << (command.empty() ? "" : " ") << command
            << " --help' for usage.\n";
  return kExitUsage;
}

int Main(const std::vector<std::string>& args) {
  if (args.empty()) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  const std::string& first = args.front();
  if (first == "--help" || first == "-h" || first == "help") {
    PrintUsage(std::cout);
    return kExitOk;
  }
  for (const Subcommand& sub : kSubcommands) {
    if (first != sub.name) continue;
    try {
      return sub.run(std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const UsageError& e) {
      return Usage(sub.name, e.what());
    } catch (const std::exception& e) {
      std::cerr << "ckpt-bench " << sub.name << ": " << e.what() << "\n";
      return kExitRuntime;
    }
  }
  return Usage("", "unknown subcommand '" + first + "'");
}

}  // namespace
}  // namespace ckpt::bench

int main(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return ckpt::bench::Main(args);
}
