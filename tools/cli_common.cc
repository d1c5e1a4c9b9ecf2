#include <cstring>
#include <cerrno>
#include "cli_common.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <system_error>

namespace ckpt::cli {

namespace {

constexpr const char* kStrayArgs = "stray-arguments";

void PrintCommandHelp(std::ostream& out, const CommandSpec& spec,
                      const po::options_description& options) {
  out << "Usage: ckpt " << spec.name << " " << spec.synopsis << "\n\n"
      << spec.summary << "\n\n"
      << options << "\n"
      << "Exit codes:\n"
      << spec.exit_codes
      << "  2  usage error (unknown flag, missing required flag, bad value)\n"
      << "  3  runtime error (store missing or not a store, job or step not found, I/O error)\n";
}

}  // namespace

bool ParseCommandLine(const CommandSpec& spec, po::options_description& options,
                      const std::vector<std::string>& args, po::variables_map& vm) {
  options.add_options()("help,h", "print this help and exit");

  // Positional words are collected under a hidden name so that the error can
  // name the first one, instead of Boost's generic message.
  po::options_description hidden;
  hidden.add_options()(kStrayArgs, po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add(kStrayArgs, -1);

  // No abbreviated flags: scripts should say what they mean.
  const int style = po::command_line_style::default_style &
                    ~po::command_line_style::allow_guessing;
  try {
    po::store(po::command_line_parser(args)
                  .options(all)
                  .positional(positional)
                  .style(style)
                  .run(),
              vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  if (vm.count("help") != 0) {
    PrintCommandHelp(std::cout, spec, options);
    return true;
  }
  if (vm.count(kStrayArgs) != 0) {
    const auto& stray = vm[kStrayArgs].as<std::vector<std::string>>();
    throw UsageError("unexpected argument '" + stray.front() + "'");
  }
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return false;
}

std::string RequireString(const po::variables_map& vm, const std::string& name) {
  if (vm.count(name) == 0) throw UsageError("missing required option '--" + name + "'");
  std::string value = vm[name].as<std::string>();
  if (value.empty()) throw UsageError("option '--" + name + "' must not be empty");
  return value;
}

uint64_t ParseUint64(std::string_view flag, std::string_view text) {
  uint64_t value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  // from_chars accepts neither '+' nor whitespace; a leading '-' fails too.
  auto [ptr, ec] = std::from_chars(begin, end, value, 10);
  if (text.empty() || ec == std::errc::invalid_argument || ptr != end) {
    throw UsageError("invalid value '" + std::string(text) + "' for option '--" +
                     std::string(flag) + "': expected a non-negative integer");
  }
  if (ec == std::errc::result_out_of_range) {
    throw UsageError("invalid value '" + std::string(text) + "' for option '--" +
                     std::string(flag) + "': too large");
  }
  return value;
}

std::optional<uint64_t> OptionalUint64(const po::variables_map& vm, const std::string& name) {
  if (vm.count(name) == 0) return std::nullopt;
  return ParseUint64(name, vm[name].as<std::string>());
}

Result<std::shared_ptr<Store>> OpenStore(const std::string& dir, bool read_only) {
  // Checked here as well as by the library, so that the message is plain and
  // nothing is ever created at a mistyped path.
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(dir, ec);
  if (st.type() == std::filesystem::file_type::not_found) {
    return Status::NotFound("no store at '" + dir + "': the directory does not exist");
  }
  if (ec) {
    return Status::IOError("cannot open store '" + dir + "': " + ec.message());
  }
  if (!std::filesystem::is_directory(st)) {
    return Status::InvalidArgument("no store at '" + dir + "': not a directory");
  }
  StoreOptions options;
  options.create_if_missing = false;
  options.read_only = read_only;
  Result<std::shared_ptr<Store>> store = Store::Open(dir, options);
  if (!store.ok()) return store.status().WithContext("cannot open store '" + dir + "'");
  return store;
}

int RuntimeError(std::string_view command, const Status& status) {
  std::cerr << "ckpt " << command << ": " << status.message() << "\n";
  return kExitRuntime;
}

Result<CheckpointInfo> GetCheckpoint(const Store& store, const std::string& job,
                                     std::optional<uint64_t> step) {
  uint64_t target = 0;
  if (step.has_value()) {
    target = *step;
  } else {
    Result<uint64_t> latest = store.LatestStep(job);
    if (!latest.ok()) return latest.status();
    target = *latest;
  }
  return store.Get(job, target);
}

int RefuseDamaged(std::string_view command, std::string_view action, const Store& store,
                  const CheckpointInfo& info, const std::vector<ChunkFault>& faults) {
  std::string message = "checkpoint job " + info.job + " step " + std::to_string(info.step) +
                        " is damaged (" + std::to_string(faults.size()) +
                        (faults.size() == 1 ? " bad chunk: " : " bad chunks: ") +
                        faults.front().ToString() +
                        (faults.size() > 1 ? "; all listed below" : "") + "); ";
  if (!action.empty()) message += std::string(action) + "; ";
  Result<uint64_t> intact = store.NewestIntactStep(info.job);
  if (intact.ok()) {
    const std::string step = std::to_string(*intact);
    message += "newest intact checkpoint of job " + info.job + ": step " + step +
               " (pass --step " + step + ")";
  } else if (intact.status().IsNotFound()) {
    message += "no intact checkpoint of job " + info.job + " remains";
  } else {
    message += "could not look for an intact checkpoint: " + intact.status().message();
  }
  std::cerr << "ckpt " << command << ": " << message << "\n";
  if (faults.size() > 1) {
    for (const ChunkFault& fault : faults) std::cerr << "  " << fault.ToString() << "\n";
  }
  return kExitDamaged;
}

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string message = what + " '" + path + "': " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status::NoSpace(message);
  return Status::IOError(message);
}

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f %s", value, kUnits[unit]);
  return buf;
}

std::string IsoTimeUtc(int64_t unix_ms) {
  // Floor division, so that times before 1970 still get 0..999 milliseconds.
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_ms) + "ms";
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

std::string JoinSteps(const std::vector<uint64_t>& steps) {
  if (steps.empty()) return "(none)";
  std::string out;
  for (uint64_t step : steps) {
    if (!out.empty()) out += ", ";
    out += std::to_string(step);
  }
  return out;
}

void PrintExitCodes(std::ostream& out) {
  out << "Exit codes:\n"
         "  0  success\n"
         "  1  damage found (verify), or restore/export refused because the checkpoint is damaged\n"
         "  2  usage error: unknown subcommand or flag, missing required flag, bad value\n"
         "  3  runtime error: store missing or not a store, job or step not found, I/O error\n";
}

}  // namespace ckpt::cli
