// ckpt gc --store DIR --job J --keep-last N [--keep-every K] [--dry-run]:
// retention for one job.
#include <iostream>
#include <string>
#include <vector>

#include "cli_common.h"

namespace ckpt::cli {
namespace {

const CommandSpec kSpec = {
    "gc",
    "--store DIR --job J --keep-last N [--keep-every K] [--dry-run]",
    "Removes the checkpoints of job J except the newest N and, with --keep-every,\n"
    "every step divisible by K. Chunks still referenced by a kept checkpoint (of\n"
    "any job) stay; segment files with nothing live in them are deleted. Opens the\n"
    "store for writing: fails while a job writes to it. --dry-run reports what\n"
    "would be removed and removes nothing.",
    "  0  success\n",
};

}  // namespace

int RunGc(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("store", po::value<std::string>()->value_name("DIR"), "store directory (required)")
      ("job", po::value<std::string>()->value_name("J"), "job to prune (required)")
      ("keep-last", po::value<std::string>()->value_name("N"),
       "keep the newest N checkpoints, N >= 1 (required)")
      ("keep-every", po::value<std::string>()->value_name("K"),
       "also keep every step divisible by K (default: 0 = none)")
      ("dry-run", po::bool_switch(), "report what would be removed, remove nothing");
  po::variables_map vm;
  if (ParseCommandLine(kSpec, options, args, vm)) return kExitOk;
  const std::string store_dir = RequireString(vm, "store");
  const std::string job = RequireString(vm, "job");
  if (vm.count("keep-last") == 0) throw UsageError("missing required option '--keep-last'");
  GcOptions gc;
  gc.keep_last = ParseUint64("keep-last", vm["keep-last"].as<std::string>());
  if (gc.keep_last == 0) {
    throw UsageError("invalid value '0' for option '--keep-last': at least 1 checkpoint is kept");
  }
  gc.keep_every = OptionalUint64(vm, "keep-every").value_or(0);
  gc.dry_run = vm["dry-run"].as<bool>();

  Result<std::shared_ptr<Store>> opened = OpenStore(store_dir, /*read_only=*/false);
  if (!opened.ok()) return RuntimeError(kSpec.name, opened.status());
  // A job without checkpoints is most likely a mistyped name: say so.
  Result<uint64_t> latest = (*opened)->LatestStep(job);
  if (!latest.ok()) return RuntimeError(kSpec.name, latest.status());
  Result<GcResult> result = (*opened)->Gc(job, gc);
  if (!result.ok()) return RuntimeError(kSpec.name, result.status());

  if (gc.dry_run) {
    std::cout << "dry run: nothing removed\n"
              << "would remove steps: " << JoinSteps(result->removed_steps) << "\n"
              << "would keep steps: " << JoinSteps(result->kept_steps) << "\n";
    // The library may leave the space estimate out of a dry run.
    if (result->freed_chunks != 0 || result->freed_bytes != 0) {
      std::cout << "would free: " << HumanBytes(result->freed_bytes) << " ("
                << result->freed_bytes << " bytes, " << result->freed_chunks << " chunks)\n";
    }
  } else {
    std::cout << "removed steps: " << JoinSteps(result->removed_steps) << "\n"
              << "kept steps: " << JoinSteps(result->kept_steps) << "\n"
              << "freed: " << HumanBytes(result->freed_bytes) << " (" << result->freed_bytes
              << " bytes of segment files, " << result->freed_chunks << " chunks)\n";
  }
  return kExitOk;
}

}  // namespace ckpt::cli
