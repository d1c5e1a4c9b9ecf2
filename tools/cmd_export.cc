// ckpt export --store DIR --job J [--step N] --format safetensors --out FILE [--force]:
// writes a checkpoint as one file in a format other tools load.
//
// safetensors (https://github.com/huggingface/safetensors):
//   8 bytes     N, little-endian uint64: length of the JSON header
//   N bytes     {"<region>": {"dtype": "F32", "shape": [n], "data_offsets": [b, e]},
//                ..., "__metadata__": {"job": "...", "step": "...", ...}}
//               padded with spaces so that the data starts 8-byte aligned
//   the data    every tensor's bytes, back to back; offsets relative to here
// A region becomes a tensor of its name, with the shape recorded when it was
// protected (Client::protect with a Shape, as the Python package does for
// every tensor); a region without one (older checkpoints, protect() without
// a shape) is one-dimensional: [bytes / element size]. Opaque `bytes`
// regions become U8. Tensors are laid out by falling element size
// (stable within a size) so that each one starts aligned to its element size
// without gaps, which the format does not allow.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/build_info.h"
#include "ckpt/types.h"
#include "cli_common.h"

namespace ckpt::cli {
namespace {

namespace fs = std::filesystem;

const CommandSpec kSpec = {
    "export",
    "--store DIR --job J [--step N] --format safetensors --out FILE [--force]",
    "Verifies a checkpoint of job J (the newest unless --step is given), then\n"
    "writes it to FILE in the given format. Formats:\n"
    "  safetensors  one tensor per region, named as the region, with the region's\n"
    "               element type (F16 BF16 F32 F64 I8 U8 I16 U16 I32 U32 I64 U64;\n"
    "               'bytes' regions as U8) and recorded shape ([bytes / element\n"
    "               size] for a region saved without one);\n"
    "               __metadata__ holds job, step, created, ckpt_version and\n"
    "               ckpt_region_types (JSON: region name -> ckpt element type).\n"
    "A damaged checkpoint is not exported: the error names the bad chunks and the\n"
    "newest intact step. The file is written to FILE.tmp and renamed when\n"
    "complete; FILE must not exist unless --force is given.",
    "  0  exported\n"
    "  1  refused: the checkpoint is damaged\n",
};

const char* SafetensorsDtype(ElementType type) {
  switch (type) {
    case ElementType::kBytes: return "U8";
    case ElementType::kInt8: return "I8";
    case ElementType::kUInt8: return "U8";
    case ElementType::kInt16: return "I16";
    case ElementType::kUInt16: return "U16";
    case ElementType::kInt32: return "I32";
    case ElementType::kUInt32: return "U32";
    case ElementType::kInt64: return "I64";
    case ElementType::kUInt64: return "U64";
    case ElementType::kFloat16: return "F16";
    case ElementType::kBFloat16: return "BF16";
    case ElementType::kFloat32: return "F32";
    case ElementType::kFloat64: return "F64";
  }
  return nullptr;
}

Status PwriteAll(int fd, const uint8_t* data, size_t size, uint64_t offset,
                 const std::string& path) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n =
        ::pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

// Where each region goes in the data section of the file.
struct Placement {
  const RegionInfo* region;
  uint64_t begin;  // relative to the start of the data section
};

// Falling element size, stable: every tensor starts aligned to its element
// size, and tensors are contiguous.
std::vector<Placement> PlaceRegions(const CheckpointInfo& info) {
  std::vector<const RegionInfo*> order;
  for (const RegionInfo& region : info.regions) order.push_back(&region);
  std::stable_sort(order.begin(), order.end(), [](const RegionInfo* a, const RegionInfo* b) {
    return ElementSize(a->type) > ElementSize(b->type);
  });
  std::vector<Placement> placed;
  uint64_t offset = 0;
  for (const RegionInfo* region : order) {
    placed.push_back({region, offset});
    offset += region->bytes;
  }
  return placed;
}

// The header: JSON, then spaces up to a multiple of 8 bytes (counting the
// 8-byte length in front), as the safetensors library writes it.
Result<std::string> SafetensorsHeader(const CheckpointInfo& info,
                                      const std::vector<Placement>& placed) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  nlohmann::ordered_json types = nlohmann::ordered_json::object();
  for (const RegionInfo& region : info.regions) {
    types[region.name] = std::string(ElementTypeName(region.type));
  }
  header["__metadata__"] = {{"job", info.job},
                            {"step", std::to_string(info.step)},
                            {"created", IsoTimeUtc(info.created_unix_ms)},
                            {"ckpt_version", GetBuildInfo().version},
                            {"ckpt_region_types", types.dump()}};
  for (const Placement& p : placed) {
    const RegionInfo& region = *p.region;
    if (region.name == "__metadata__") {
      return Status::InvalidArgument(
          "region '__metadata__' cannot be exported: safetensors reserves that name");
    }
    const char* dtype = SafetensorsDtype(region.type);
    const size_t element = ElementSize(region.type);
    if (dtype == nullptr || element == 0 || region.bytes % element != 0) {
      return Status::Corruption("region '" + region.name + "' has " +
                                std::to_string(region.bytes) + " bytes of element type " +
                                std::string(ElementTypeName(region.type)) +
                                ", which is no whole number of elements");
    }
    nlohmann::ordered_json shape = nlohmann::ordered_json::array();
    if (region.shape) {
      for (uint64_t d : *region.shape) shape.push_back(d);
    } else {
      shape.push_back(region.bytes / element);
    }
    header[region.name] = {{"dtype", dtype},
                           {"shape", shape},
                           {"data_offsets", {p.begin, p.begin + region.bytes}}};
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  return text;
}

// Writes the whole file at `path`; the caller removes it on failure.
Status WriteSafetensors(const Store& store, const CheckpointInfo& info, const std::string& path,
                        uint64_t* file_bytes) {
  const std::vector<Placement> placed = PlaceRegions(info);
  Result<std::string> header = SafetensorsHeader(info, placed);
  if (!header.ok()) return header.status();

  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("cannot create", path, errno);
  uint8_t length[8];
  uint64_t n = header->size();
  for (uint8_t& byte : length) {
    byte = static_cast<uint8_t>(n & 0xff);
    n >>= 8;
  }
  Status status = PwriteAll(fd, length, sizeof(length), 0, path);
  if (status.ok()) {
    status = PwriteAll(fd, reinterpret_cast<const uint8_t*>(header->data()), header->size(), 8,
                       path);
  }
  const uint64_t data_start = 8 + header->size();
  uint64_t end = data_start;
  for (const Placement& p : placed) {
    if (!status.ok()) break;
    const RegionInfo& region = *p.region;
    uint64_t written = 0;
    status = store.ReadRegion(
        info.job, info.step, region.name,
        [&](uint64_t offset, const uint8_t* data, size_t size) -> Status {
          if (offset + size > region.bytes) {
            return Status::Corruption("region '" + region.name + "' gave bytes past its end");
          }
          written += size;
          return PwriteAll(fd, data, size, data_start + p.begin + offset, path);
        });
    if (status.ok() && written != region.bytes) {
      status = Status::Corruption("region '" + region.name + "' gave " +
                                  std::to_string(written) + " bytes, the checkpoint records " +
                                  std::to_string(region.bytes));
    }
    end = data_start + p.begin + region.bytes;
  }
  if (status.ok() && ::fdatasync(fd) != 0) status = ErrnoStatus("cannot sync", path, errno);
  if (::close(fd) != 0 && status.ok()) status = ErrnoStatus("cannot write", path, errno);
  *file_bytes = end;
  return status;
}

}  // namespace

int RunExport(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("store", po::value<std::string>()->value_name("DIR"), "store directory (required)")
      ("job", po::value<std::string>()->value_name("J"), "job to export (required)")
      ("step", po::value<std::string>()->value_name("N"),
       "export step N (default: the newest step)")
      ("format", po::value<std::string>()->value_name("F"),
       "file format (required): safetensors")
      ("out", po::value<std::string>()->value_name("FILE"), "file to write (required)")
      ("force", po::bool_switch(), "replace FILE when it exists");
  po::variables_map vm;
  if (ParseCommandLine(kSpec, options, args, vm)) return kExitOk;
  const std::string store_dir = RequireString(vm, "store");
  const std::string job = RequireString(vm, "job");
  const std::optional<uint64_t> step = OptionalUint64(vm, "step");
  const std::string format = RequireString(vm, "format");
  const std::string out = RequireString(vm, "out");
  const bool force = vm["force"].as<bool>();
  if (format != "safetensors") {
    throw UsageError("unknown format '" + format + "' for option '--format' (known: safetensors)");
  }

  const auto start = std::chrono::steady_clock::now();
  Result<std::shared_ptr<Store>> opened = OpenStore(store_dir, /*read_only=*/true);
  if (!opened.ok()) return RuntimeError(kSpec.name, opened.status());
  const Store& store = **opened;

  Result<CheckpointInfo> got = GetCheckpoint(store, job, step);
  if (!got.ok()) return RuntimeError(kSpec.name, got.status());
  const CheckpointInfo& info = *got;
  const uint64_t target = info.step;

  // The output path is checked before the (slow) verification.
  std::error_code ec;
  const fs::file_status out_status = fs::symlink_status(out, ec);
  if (fs::exists(out_status)) {
    if (fs::is_directory(out_status)) {
      return RuntimeError(kSpec.name,
                          Status::InvalidArgument("--out '" + out + "' is a directory"));
    }
    if (!force) {
      return RuntimeError(kSpec.name, Status::AlreadyExists("'" + out +
                                                            "' exists (pass --force to "
                                                            "replace it)"));
    }
  } else if (out_status.type() != fs::file_type::not_found) {
    return RuntimeError(kSpec.name, Status::IOError("cannot use '" + out + "': " + ec.message()));
  }

  Result<std::vector<ChunkFault>> faults = store.Verify(job, target);
  if (!faults.ok()) return RuntimeError(kSpec.name, faults.status());
  if (!faults->empty()) return RefuseDamaged(kSpec.name, "not exported", store, info, *faults);

  const std::string tmp = out + ".tmp";
  uint64_t file_bytes = 0;
  Status status = WriteSafetensors(store, info, tmp, &file_bytes);
  if (status.ok() && std::rename(tmp.c_str(), out.c_str()) != 0) {
    status = ErrnoStatus("cannot rename '" + tmp + "' to", out, errno);
  }
  if (!status.ok()) {
    fs::remove(tmp, ec);
    return RuntimeError(kSpec.name, status.WithContext("export of job " + job + " step " +
                                                       std::to_string(target) + " failed"));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char timing[32];
  std::snprintf(timing, sizeof(timing), "%.2f", seconds);
  std::cout << "exported job " << job << " step " << target << " to " << out
            << " (safetensors): " << info.regions.size()
            << (info.regions.size() == 1 ? " tensor, " : " tensors, ") << file_bytes
            << " bytes (" << HumanBytes(file_bytes) << ") in " << timing << " s\n";
  return kExitOk;
}

}  // namespace ckpt::cli
