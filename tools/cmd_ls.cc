// ckpt ls --store DIR [--job J] [--json]: one entry per committed checkpoint.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/types.h"
#include "cli_common.h"

namespace ckpt::cli {
namespace {

const CommandSpec kSpec = {
    "ls",
    "--store DIR [--job J] [--json]",
    "Lists the committed checkpoints of a store (of one job with --job), oldest\n"
    "step first: job, step, commit time (UTC), logical size, bytes newly written,\n"
    "and chunks referenced. --json prints an array of objects instead, with the\n"
    "parent step, the size of the user state and the regions (name, type, bytes,\n"
    "chunks, and shape when one was recorded) of each checkpoint.",
    "  0  success (also when there are no checkpoints)\n",
};

nlohmann::ordered_json ToJson(const CheckpointInfo& info) {
  nlohmann::ordered_json regions = nlohmann::ordered_json::array();
  for (const RegionInfo& region : info.regions) {
    nlohmann::ordered_json r = {{"name", region.name},
                                {"type", std::string(ElementTypeName(region.type))},
                                {"bytes", region.bytes},
                                {"chunks", region.chunks}};
    if (region.shape) r["shape"] = *region.shape;
    regions.push_back(std::move(r));
  }
  nlohmann::ordered_json parent = nullptr;
  if (info.parent_step.has_value()) parent = *info.parent_step;
  return {{"job", info.job},
          {"step", info.step},
          {"created", IsoTimeUtc(info.created_unix_ms)},
          {"created_unix_ms", info.created_unix_ms},
          {"parent_step", parent},
          {"chunk_bytes", info.chunk_bytes},
          {"logical_bytes", info.logical_bytes},
          {"written_bytes", info.written_bytes},
          {"chunks", info.chunks},
          {"new_chunks", info.new_chunks},
          {"user_state_bytes", info.user_state.size()},
          {"regions", regions}};
}

void PrintTable(const std::vector<CheckpointInfo>& checkpoints) {
  const std::vector<std::string> header = {"JOB", "STEP", "CREATED", "LOGICAL", "WRITTEN",
                                           "CHUNKS"};
  // Left-aligned text columns, right-aligned numbers.
  const std::vector<bool> right = {false, true, false, true, true, true};
  std::vector<std::vector<std::string>> rows;
  rows.push_back(header);
  for (const CheckpointInfo& info : checkpoints) {
    rows.push_back({info.job, std::to_string(info.step), IsoTimeUtc(info.created_unix_ms),
                    HumanBytes(info.logical_bytes), HumanBytes(info.written_bytes),
                    std::to_string(info.chunks)});
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      const std::string pad(width[c] - row[c].size(), ' ');
      line += right[c] ? pad + row[c] : row[c] + (c + 1 < row.size() ? pad : "");
    }
    std::cout << line << "\n";
  }
}

}  // namespace

int RunLs(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("store", po::value<std::string>()->value_name("DIR"), "store directory (required)")
      ("job", po::value<std::string>()->value_name("J"), "only the checkpoints of job J")
      ("json", po::bool_switch(), "print a JSON array instead of a table");
  po::variables_map vm;
  if (ParseCommandLine(kSpec, options, args, vm)) return kExitOk;
  const std::string store_dir = RequireString(vm, "store");
  const std::string job = vm.count("job") != 0 ? RequireString(vm, "job") : std::string();
  const bool json = vm["json"].as<bool>();

  Result<std::shared_ptr<Store>> store = OpenStore(store_dir, /*read_only=*/true);
  if (!store.ok()) return RuntimeError(kSpec.name, store.status());
  Result<std::vector<CheckpointInfo>> list = (*store)->List(job);
  if (!list.ok()) return RuntimeError(kSpec.name, list.status());

  if (json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const CheckpointInfo& info : *list) out.push_back(ToJson(info));
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  if (list->empty()) {
    std::cout << (job.empty() ? std::string("no checkpoints") : "no checkpoints of job " + job)
              << "\n";
    return kExitOk;
  }
  PrintTable(*list);
  return kExitOk;
}

}  // namespace ckpt::cli
