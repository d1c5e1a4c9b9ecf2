// ckpt: inspect, verify, restore and prune checkpoint stores.
//
//   ckpt ls      --store DIR [--job J] [--json]
//   ckpt verify  --store DIR --job J [--step N | --all]
//   ckpt restore --store DIR --job J [--step N] --out DIR [--force]
//   ckpt gc      --store DIR --job J --keep-last N [--keep-every K] [--dry-run]
//   ckpt export  --store DIR --job J [--step N] --format safetensors --out FILE [--force]
//   ckpt status  --socket PATH [--json]
//   ckpt policy  --mtbf D --cost D --restart D [--shape K] [--nodes N] [--json]
//   ckpt --version | --help
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/build_info.h"
#include "cli_common.h"

namespace ckpt::cli {

int RunPolicy(const std::vector<std::string>& args);  // cmd_policy.cc
int RunStatus(const std::vector<std::string>& args);  // cmd_status.cc
int RunFailure(const std::vector<std::string>& args);  // cmd_failure.cc

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

constexpr Subcommand kSubcommands[] = {
    {"ls", "list committed checkpoints", RunLs},
    {"verify", "read back and check every chunk of a checkpoint", RunVerify},
    {"restore", "write the regions of a checkpoint to files", RunRestore},
    {"gc", "remove old checkpoints of a job and reclaim their space", RunGc},
    {"export", "write a checkpoint as a safetensors file", RunExport},
    {"status", "jobs, checkpoints in flight and throughput of a running ckptd", RunStatus},
    {"policy", "checkpoint interval and expected waste of each policy", RunPolicy},
    {"failure", "record, list or import the failures of a job (add, ls, import)", RunFailure},
};

const Subcommand* FindSubcommand(std::string_view name) {
  for (const Subcommand& sub : kSubcommands) {
    if (name == sub.name) return &sub;
  }
  return nullptr;
}

void PrintUsage(std::ostream& out) {
  out << "ckpt: inspect, verify, restore and prune checkpoint stores\n\n"
         "Usage: ckpt <subcommand> [options]\n"
         "       ckpt --help | --version\n\n"
         "Subcommands:\n";
  for (const Subcommand& sub : kSubcommands) {
    std::string name = sub.name;
    name.resize(10, ' ');
    out << "  " << name << sub.summary << "\n";
  }
  out << "  version   print what this build contains\n"
         "  help      print this help (help SUB: the options of SUB)\n\n"
         "Run 'ckpt <subcommand> --help' for the options of one subcommand.\n\n";
  PrintExitCodes(out);
}

int UsageFailure(std::string_view command, const std::string& message) {
  std::cerr << "ckpt";
  if (!command.empty()) std::cerr << " " << command;
  std::cerr << ": " << message << "\n"
            << "Try 'ckpt" << (command.empty() ? "" : " ") << command
            << " --help' for usage.\n";
  return kExitUsage;
}

int PrintVersion() {
  const std::string info = BuildInfoString();
  std::cout << info;
  if (info.empty() || info.back() != '\n') std::cout << "\n";
  return kExitOk;
}

int RunSubcommand(const Subcommand& sub, const std::vector<std::string>& args) {
  try {
    return sub.run(args);
  } catch (const UsageError& e) {
    return UsageFailure(sub.name, e.what());
  } catch (const std::exception& e) {
    std::cerr << "ckpt " << sub.name << ": " << e.what() << "\n";
    return kExitRuntime;
  }
}

// Top-level flags (before any subcommand): --help, --version.
int RunTopLevelFlags(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "print this help")("version", "print build information");
  po::variables_map vm;
  const int style = po::command_line_style::default_style &
                    ~po::command_line_style::allow_guessing;
  try {
    po::store(po::command_line_parser(args).options(options).style(style).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return UsageFailure("", e.what());
  }
  if (vm.count("help") != 0) {
    PrintUsage(std::cout);
    return kExitOk;
  }
  if (vm.count("version") != 0) return PrintVersion();
  return UsageFailure("", "missing subcommand");
}

int Main(const std::vector<std::string>& args) {
  if (args.empty()) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  const std::string& first = args.front();
  if (!first.empty() && first.front() == '-') return RunTopLevelFlags(args);

  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (first == "help") {
    if (rest.empty()) {
      PrintUsage(std::cout);
      return kExitOk;
    }
    if (const Subcommand* sub = FindSubcommand(rest.front()); sub != nullptr && rest.size() == 1) {
      return RunSubcommand(*sub, {"--help"});
    }
    return UsageFailure("", "unknown subcommand '" + rest.front() + "'");
  }
  if (first == "version") {
    if (rest.size() == 1 && (rest.front() == "--help" || rest.front() == "-h")) {
      std::cout << "Usage: ckpt version\n\n"
                   "Prints the version of ckpt and of the libraries it was built with\n"
                   "(CUDA backend, liburing, zstd, RocksDB, xxHash). Same as 'ckpt --version'.\n";
      return kExitOk;
    }
    if (!rest.empty()) return UsageFailure("version", "unexpected argument '" + rest.front() + "'");
    return PrintVersion();
  }
  const Subcommand* sub = FindSubcommand(first);
  if (sub == nullptr) return UsageFailure("", "unknown subcommand '" + first + "'");
  return RunSubcommand(*sub, rest);
}

}  // namespace
}  // namespace ckpt::cli

int main(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return ckpt::cli::Main(args);
}
