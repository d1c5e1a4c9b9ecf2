#include "ckpt/build_info.h"

#include <rocksdb/version.h>
#include <xxhash.h>
#include <zstd.h>

namespace ckpt {

BuildInfo GetBuildInfo() {
  BuildInfo info;
  info.version = CKPT_VERSION;
#ifdef CKPT_HAVE_CUDA
  info.cuda_backend = true;
#else
  info.cuda_backend = false;
#endif
  info.cuda_toolkit_found = CKPT_CUDA_TOOLKIT_FOUND;
  info.cuda_toolkit_version = CKPT_CUDA_TOOLKIT_VERSION;
  info.liburing_version = CKPT_LIBURING_VERSION;
  info.zstd_version = ZSTD_versionString();
  info.rocksdb_version = std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) + "." +
                         std::to_string(ROCKSDB_PATCH);
  info.xxhash_version = std::to_string(XXH_VERSION_MAJOR) + "." + std::to_string(XXH_VERSION_MINOR) +
                        "." + std::to_string(XXH_VERSION_RELEASE);
  info.build_type = CKPT_BUILD_TYPE;
  return info;
}

std::string BuildInfoString() {
  const BuildInfo b = GetBuildInfo();
  std::string out = "ckpt " + b.version + " (" + b.build_type + ")\n";
  out += "cuda backend: ";
  if (b.cuda_backend)
    out += "yes (CUDA toolkit " + b.cuda_toolkit_version + ")";
  else if (b.cuda_toolkit_found)
    out += "no (CUDA toolkit " + b.cuda_toolkit_version + " found at build time; built with CKPT_WITH_CUDA=OFF)";
  else
    out += "no (no CUDA toolkit at build time)";
  out += b.cuda_backend ? "\ncopy engines: cuda, host\n" : "\ncopy engines: host\n";
  out += "io: io_uring (liburing " + b.liburing_version + "), O_DIRECT with buffered fallback\n";
  out += "zstd: " + b.zstd_version + "\n";
  out += "rocksdb: " + b.rocksdb_version + "\n";
  out += "xxhash: " + b.xxhash_version + "\n";
  return out;
}

}  // namespace ckpt
