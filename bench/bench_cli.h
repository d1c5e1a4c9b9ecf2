// Command-line plumbing shared by the ckpt-bench subcommands: exit codes,
// usage errors and strict Boost.Program_options parsing (no abbreviations,
// no stray words), mirroring the `ckpt` tool.
#pragma once

#include <boost/program_options.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace ckpt::bench {

namespace po = boost::program_options;

enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 2,    // bad command line
  kExitRuntime = 3,  // missing or bad input file, unknown system, simulation error
};

// A bad command line: printed with a pointer to --help, exit kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses `args` against `options` (to which --help is added). Returns true
// when --help was given; `usage` is then printed with the options to stdout.
// Throws UsageError for unknown flags, bad or repeated values, stray words.
bool ParseBenchCommandLine(const std::string& usage, po::options_description& options,
                           const std::vector<std::string>& args, po::variables_map& vm);

// The subcommands.
int RunPolicyBench(const std::vector<std::string>& args);

}  // namespace ckpt::bench
