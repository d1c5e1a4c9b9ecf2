// ckpt/build_info.h: what this build of ckpt contains.
#pragma once

#include <string>

namespace ckpt {

struct BuildInfo {
  std::string version;          // ckpt's own version, e.g. "0.1.0"
  bool cuda_backend = false;    // the CUDA copy engine is compiled in
  bool cuda_toolkit_found = false;  // CMake found a CUDA toolkit at configure time
  std::string cuda_toolkit_version;  // empty when not found
  std::string liburing_version;
  std::string zstd_version;     // of the library linked at run time
  std::string rocksdb_version;
  std::string xxhash_version;
  std::string build_type;       // CMAKE_BUILD_TYPE
};

BuildInfo GetBuildInfo();

// Multi-line "ckpt 0.1.0\ncuda backend: no ..." as printed by `ckpt --version`.
std::string BuildInfoString();

}  // namespace ckpt
