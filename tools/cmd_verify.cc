// ckpt verify --store DIR --job J [--step N | --all]: reads back and checks
// every chunk of a checkpoint (the newest one by default).
#include <iostream>
#include <string>
#include <vector>

#include "cli_common.h"

namespace ckpt::cli {
namespace {

const CommandSpec kSpec = {
    "verify",
    "--store DIR --job J [--step N | --all]",
    "Reads back every chunk of a checkpoint of job J and checks its header,\n"
    "checksum, decoding and content hash. Checks the newest checkpoint unless\n"
    "--step or --all says otherwise. Prints one line per checkpoint, and one line\n"
    "per damaged chunk naming its region, chunk and segment file.",
    "  0  every checkpoint checked is sound\n"
    "  1  damage found\n",
};

}  // namespace

int RunVerify(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("store", po::value<std::string>()->value_name("DIR"), "store directory (required)")
      ("job", po::value<std::string>()->value_name("J"), "job to verify (required)")
      ("step", po::value<std::string>()->value_name("N"),
       "verify step N (default: the newest step)")
      ("all", po::bool_switch(), "verify every checkpoint of the job");
  po::variables_map vm;
  if (ParseCommandLine(kSpec, options, args, vm)) return kExitOk;
  const std::string store_dir = RequireString(vm, "store");
  const std::string job = RequireString(vm, "job");
  const std::optional<uint64_t> step = OptionalUint64(vm, "step");
  const bool all = vm["all"].as<bool>();
  if (step.has_value() && all) throw UsageError("--step and --all cannot be used together");

  Result<std::shared_ptr<Store>> opened = OpenStore(store_dir, /*read_only=*/true);
  if (!opened.ok()) return RuntimeError(kSpec.name, opened.status());
  const Store& store = **opened;

  std::vector<CheckpointInfo> checkpoints;
  if (all) {
    Result<std::vector<CheckpointInfo>> list = store.List(job);
    if (!list.ok()) return RuntimeError(kSpec.name, list.status());
    if (list->empty()) {
      return RuntimeError(kSpec.name, Status::NotFound("job " + job + " has no checkpoints"));
    }
    checkpoints = std::move(*list);
  } else {
    Result<CheckpointInfo> info = GetCheckpoint(store, job, step);
    if (!info.ok()) return RuntimeError(kSpec.name, info.status());
    checkpoints.push_back(std::move(*info));
  }

  bool damaged = false;
  for (const CheckpointInfo& info : checkpoints) {
    Result<std::vector<ChunkFault>> faults = store.Verify(job, info.step);
    if (!faults.ok()) return RuntimeError(kSpec.name, faults.status());
    if (faults->empty()) {
      std::cout << "ok   job " << job << " step " << info.step << " (" << info.chunks
                << " chunks, " << HumanBytes(info.logical_bytes) << ")\n";
    } else {
      damaged = true;
      std::cout << "DAMAGED job " << job << " step " << info.step << ": " << faults->size()
                << (faults->size() == 1 ? " bad chunk" : " bad chunks") << "\n";
      for (const ChunkFault& fault : *faults) std::cout << "  " << fault.ToString() << "\n";
    }
    std::cout.flush();
  }
  return damaged ? kExitDamaged : kExitOk;
}

}  // namespace ckpt::cli
