// ckpt restore --store DIR --job J [--step N] --out DIR [--force]: writes
// every region of a checkpoint to <out>/<name>.bin plus <out>/index.json.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/types.h"
#include "cli_common.h"

namespace ckpt::cli {
namespace {

namespace fs = std::filesystem;

const CommandSpec kSpec = {
    "restore",
    "--store DIR --job J [--step N] --out DIR [--force]",
    "Verifies a checkpoint of job J (the newest unless --step is given), then\n"
    "writes each of its regions to OUT/<name>.bin (characters other than letters,\n"
    "digits, '.', '_' and '-' become '_') and OUT/index.json, which lists job,\n"
    "step, commit time and for each region its name, type, bytes and file.\n"
    "A damaged checkpoint is not restored: the error names the bad chunks and the\n"
    "newest intact step. OUT must be empty or missing unless --force is given.",
    "  0  restored\n"
    "  1  refused: the checkpoint is damaged\n",
};

std::string FileStem(const std::string& region) {
  std::string stem = region;
  for (char& c : stem) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!keep) c = '_';
  }
  return stem.empty() ? std::string("region") : stem;
}

// "<stem>.bin", or "<stem>-2.bin", "<stem>-3.bin", ... when taken.
std::string UniqueFileName(const std::string& region, std::set<std::string>* used) {
  const std::string stem = FileStem(region);
  std::string name = stem + ".bin";
  for (int n = 2; used->count(name) != 0; ++n) name = stem + "-" + std::to_string(n) + ".bin";
  used->insert(name);
  return name;
}

Status WriteRegion(const Store& store, const CheckpointInfo& info, const RegionInfo& region,
                   const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("cannot create", path, errno);
  uint64_t written = 0;
  Status status = store.ReadRegion(
      info.job, info.step, region.name,
      [&](uint64_t offset, const uint8_t* data, size_t size) -> Status {
        size_t done = 0;
        while (done < size) {
          const ssize_t n = ::pwrite(fd, data + done, size - done,
                                     static_cast<off_t>(offset + done));
          if (n < 0) {
            if (errno == EINTR) continue;
            return ErrnoStatus("cannot write", path, errno);
          }
          done += static_cast<size_t>(n);
        }
        written += size;
        return Status::OK();
      });
  if (status.ok() && written != region.bytes) {
    status = Status::Corruption("region '" + region.name + "' gave " + std::to_string(written) +
                                " bytes, the checkpoint records " +
                                std::to_string(region.bytes));
  }
  if (::close(fd) != 0 && status.ok()) status = ErrnoStatus("cannot write", path, errno);
  return status;
}

}  // namespace

int RunRestore(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("store", po::value<std::string>()->value_name("DIR"), "store directory (required)")
      ("job", po::value<std::string>()->value_name("J"), "job to restore (required)")
      ("step", po::value<std::string>()->value_name("N"),
       "restore step N (default: the newest step)")
      ("out", po::value<std::string>()->value_name("DIR"),
       "directory to write the region files to (required; created when missing)")
      ("force", po::bool_switch(), "write into OUT even when it is not empty");
  po::variables_map vm;
  if (ParseCommandLine(kSpec, options, args, vm)) return kExitOk;
  const std::string store_dir = RequireString(vm, "store");
  const std::string job = RequireString(vm, "job");
  const std::optional<uint64_t> step = OptionalUint64(vm, "step");
  const std::string out_dir = RequireString(vm, "out");
  const bool force = vm["force"].as<bool>();

  const auto start = std::chrono::steady_clock::now();
  Result<std::shared_ptr<Store>> opened = OpenStore(store_dir, /*read_only=*/true);
  if (!opened.ok()) return RuntimeError(kSpec.name, opened.status());
  const Store& store = **opened;

  Result<CheckpointInfo> got = GetCheckpoint(store, job, step);
  if (!got.ok()) return RuntimeError(kSpec.name, got.status());
  const CheckpointInfo& info = *got;
  const uint64_t target = info.step;

  // The output directory is checked before the (slow) verification.
  std::error_code ec;
  const fs::file_status out_status = fs::status(out_dir, ec);
  if (fs::exists(out_status)) {
    if (!fs::is_directory(out_status)) {
      return RuntimeError(kSpec.name,
                          Status::InvalidArgument("--out '" + out_dir + "' is not a directory"));
    }
    const bool empty = fs::is_empty(out_dir, ec);
    if (ec) return RuntimeError(kSpec.name, Status::IOError("cannot read '" + out_dir + "': " +
                                                            ec.message()));
    if (!empty && !force) {
      return RuntimeError(kSpec.name,
                          Status::FailedPrecondition("output directory '" + out_dir +
                                                     "' is not empty (pass --force to write "
                                                     "into it)"));
    }
  } else if (out_status.type() != fs::file_type::not_found) {
    return RuntimeError(kSpec.name,
                        Status::IOError("cannot use '" + out_dir + "': " + ec.message()));
  }

  Result<std::vector<ChunkFault>> faults = store.Verify(job, target);
  if (!faults.ok()) return RuntimeError(kSpec.name, faults.status());
  if (!faults->empty()) return RefuseDamaged(kSpec.name, "", store, info, *faults);

  fs::create_directories(out_dir, ec);
  if (ec) {
    return RuntimeError(kSpec.name, Status::IOError("cannot create output directory '" +
                                                    out_dir + "': " + ec.message()));
  }
  // index.json is written last: its presence marks a complete restore.
  const fs::path index_path = fs::path(out_dir) / "index.json";
  fs::remove(index_path, ec);

  std::set<std::string> used = {"index.json"};
  nlohmann::ordered_json regions = nlohmann::ordered_json::array();
  uint64_t total_bytes = 0;
  for (const RegionInfo& region : info.regions) {
    const std::string file = UniqueFileName(region.name, &used);
    const std::string path = (fs::path(out_dir) / file).string();
    Status status = WriteRegion(store, info, region, path);
    if (!status.ok()) {
      return RuntimeError(kSpec.name,
                          status.WithContext("restore of job " + job + " step " +
                                             std::to_string(target) + " incomplete"));
    }
    total_bytes += region.bytes;
    regions.push_back({{"name", region.name},
                       {"type", std::string(ElementTypeName(region.type))},
                       {"bytes", region.bytes},
                       {"file", file}});
  }
  const nlohmann::ordered_json index = {{"job", info.job},
                                {"step", info.step},
                                {"created", IsoTimeUtc(info.created_unix_ms)},
                                {"created_unix_ms", info.created_unix_ms},
                                {"regions", regions}};
  {
    std::ofstream out(index_path, std::ios::out | std::ios::trunc);
    out << index.dump(2) << "\n";
    out.close();
    if (!out) {
      return RuntimeError(kSpec.name,
                          Status::IOError("cannot write '" + index_path.string() + "'"));
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char timing[32];
  std::snprintf(timing, sizeof(timing), "%.2f", seconds);
  std::cout << "restored job " << job << " step " << target << " to " << out_dir << ": "
            << info.regions.size() << (info.regions.size() == 1 ? " region, " : " regions, ")
            << total_bytes << " bytes (" << HumanBytes(total_bytes) << ") in " << timing
            << " s\n";
  return kExitOk;
}

}  // namespace ckpt::cli
