// Shared pieces of the `ckpt` command-line tool: exit codes, command-line
// parsing on top of Boost.Program_options, opening a store, and formatting
// (sizes, times).
#pragma once

#include <boost/program_options.hpp>

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/status.h"
#include "ckpt/store.h"

namespace ckpt::cli {

namespace po = boost::program_options;

// Exit codes of every subcommand (documented in `ckpt --help`).
enum ExitCode : int {
  kExitOk = 0,       // success
  kExitDamaged = 1,  // damage found (verify), restore refused (damaged checkpoint)
  kExitUsage = 2,    // bad command line
  kExitRuntime = 3,  // store missing or not a store, job/step not found, I/O error
};

// Thrown for a bad command line; main() prints it with a pointer to
// `ckpt SUB --help` and exits with kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What `ckpt SUB --help` prints besides the options.
struct CommandSpec {
  const char* name;      // "verify"
  const char* synopsis;  // "--store DIR --job J [--step N | --all]"
  const char* summary;   // one paragraph
  const char* exit_codes;  // what 0 and 1 mean for this command
};

// Parses `args` (the words after the subcommand) against `options`, to which
// --help is added. Returns true when --help was given: the help has then been
// printed to stdout and the command should exit 0. Throws UsageError for an
// unknown flag, a missing or repeated value, or a stray positional argument.
bool ParseCommandLine(const CommandSpec& spec, po::options_description& options,
                      const std::vector<std::string>& args, po::variables_map& vm);

// The value of a string option that must be present and non-empty.
std::string RequireString(const po::variables_map& vm, const std::string& name);

// Strict unsigned 64-bit parse: digits only, no sign, no trailing characters,
// no overflow. Throws UsageError naming the flag.
uint64_t ParseUint64(std::string_view flag, std::string_view text);

// The option's value parsed with ParseUint64; nullopt when absent.
std::optional<uint64_t> OptionalUint64(const po::variables_map& vm, const std::string& name);

// Opens an existing store (never creates one). read_only for ls, verify and
// restore; false for gc.
Result<std::shared_ptr<Store>> OpenStore(const std::string& dir, bool read_only);

// Prints "ckpt SUB: <message>" to stderr and returns kExitRuntime.
int RuntimeError(std::string_view command, const Status& status);

// The checkpoint of `job` at `step`, or at the newest step when `step` is
// absent (the errors of Store::LatestStep and Store::Get as they are).
Result<CheckpointInfo> GetCheckpoint(const Store& store, const std::string& job,
                                     std::optional<uint64_t> step);

// Refusal of a damaged checkpoint: prints "ckpt SUB: checkpoint job J step N
// is damaged (...); [ACTION; ]newest intact checkpoint ..." to stderr, naming
// the faults and the way out (every fault on its own line when there are
// several), and returns kExitDamaged. `action` ("not exported") may be empty.
int RefuseDamaged(std::string_view command, std::string_view action, const Store& store,
                  const CheckpointInfo& info, const std::vector<ChunkFault>& faults);

// "512 B", "4.0 KiB", "64.0 MiB", ...
// "<what> '<path>': <strerror>" as kNoSpace for ENOSPC/EDQUOT, else kIOError.
Status ErrnoStatus(const std::string& what, const std::string& path, int err);

std::string HumanBytes(uint64_t bytes);

// ISO 8601 UTC with milliseconds: "2026-11-25T13:24:31.123Z".
std::string IsoTimeUtc(int64_t unix_ms);

// "100, 200, 300" or "(none)".
std::string JoinSteps(const std::vector<uint64_t>& steps);

// The exit-code table shared by `ckpt --help`.
void PrintExitCodes(std::ostream& out);

// The subcommands; each returns an exit code and may throw UsageError.
int RunLs(const std::vector<std::string>& args);
int RunVerify(const std::vector<std::string>& args);
int RunRestore(const std::vector<std::string>& args);
int RunGc(const std::vector<std::string>& args);
int RunExport(const std::vector<std::string>& args);

}  // namespace ckpt::cli
