// ckpt/options.h: settings of a store and of a client, with their defaults.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace ckpt {

class Env;
class Store;
namespace policy {
struct PolicyConfig;  // ckpt/policy.h (which needs C++20; this header needs C++17)
}

enum class Compression : uint8_t {
  kOff = 0,   // store chunks as they are (still checksummed)
  kZstd = 1,  // byte-plane filter by element type, then zstd over the chunk; raw when it does not pay
  kAuto = 2,  // per byte plane: compress only the planes whose sample pays (docs/compression.md)
};

// How a store is opened.
struct StoreOptions {
  // Create the store directory and an empty store when it does not exist.
  // Default: true. Tools that only read set it to false.
  bool create_if_missing = true;

  // Open without taking the writer lock: no checkpoint can be committed and
  // nothing is reclaimed, but a store that a running job writes can be read.
  // Default: false.
  bool read_only = false;

  // Try O_DIRECT for segment writes; filesystems that refuse it (tmpfs) fall
  // back to buffered writes automatically. Default: true.
  bool use_direct_io = true;

  // The filesystem seam every segment write, directory sync and removal goes
  // through (ckpt/env.h). Not owned; must outlive the store. Default: nullptr,
  // meaning Env::Default() (io_uring on the real filesystem).
  Env* env = nullptr;
};

// Settings of a Client (one training job writing one store).
struct Options {
  // Directory of the store; created when missing. Required.
  std::string store_dir;

  // Name of the job: letters, digits, '.', '_' and '-', at most 128 characters.
  // Checkpoints of different jobs live side by side in one store. Required.
  std::string job;

  // Regions are cut into chunks of this many bytes; each chunk is hashed,
  // deduplicated and compressed on its own. Must be a multiple of 4096 between
  // 64 KiB and 256 MiB. Default: 4 MiB.
  size_t chunk_bytes = size_t{4} << 20;

  // How chunks are compressed (docs/compression.md). kAuto compresses only
  // the byte planes that pay (exponents of floats), fewer bytes than plain
  // zstd at about twice kZstd's speed. Default: kAuto.
  Compression compression = Compression::kAuto;

  // zstd level when compression is on (1 = fastest; with kAuto, 1 means
  // entropy coding only). Default: 1.
  int zstd_level = 1;

  // kAuto only: what paces compression so that it never makes a checkpoint
  // slower than writing raw. 0: the disk and the chunks themselves; a chunk
  // is compressed only while the disk has enough writes queued to stay busy
  // meanwhile, or with time the engine would otherwise spend waiting for
  // chunks (the few changed chunks of an incremental checkpoint); otherwise
  // it is stored raw. Above 0: a fixed speed in MB/s of raw bytes that compressing may not
  // slow the encoding below (set it to the disk's write speed). Either way,
  // which chunks get compressed depends on timing; every one is restored
  // exactly. Default: 0.
  uint32_t auto_compression_mbps = 0;

  // Size of the staging pool: host memory the snapshot is copied into before
  // it is hashed, compressed and written. Allocated and pre-faulted once when
  // the client opens and kept until it closes. Rounded up to whole chunks; at
  // least two chunks. When smaller than the protected bytes, chunks flow
  // through it and wait_copied() returns once the last chunk is staged.
  // Default: 256 MiB.
  size_t staging_bytes = size_t{256} << 20;

  // should_checkpoint(step) is true every this many steps; 0 = never.
  // Default: 0. Exclusive with interval_policy.
  uint64_t checkpoint_every_steps = 0;

  // When set, should_checkpoint() follows this interval policy
  // (ckpt/policy.h) on the job's failure history and measured costs kept in
  // the store, converting its interval from seconds to steps with the
  // measured step time (docs/policy.md, "In the client"). Exclusive with
  // checkpoint_every_steps. Default: null.
  //   options.interval_policy = std::make_shared<ckpt::policy::PolicyConfig>(config);
  std::shared_ptr<const policy::PolicyConfig> interval_policy;

  // Nodes the job runs on, recorded in the job's profile for `ckpt policy
  // --store` (whose prior is per node). 0 = leave the recorded count as is.
  // Default: 0.
  uint64_t nodes = 0;

  // Options for opening the store (read_only is ignored: a client writes).
  StoreOptions store;

  // A store already open for writing in this process, to share between
  // several clients (one per job: two jobs in one store) or with code that
  // runs GC while checkpoints are written. When set, store_dir and `store`
  // are ignored. Default: nullptr (the client opens store_dir itself; only
  // one process, and one opener within it, may write a store).
  std::shared_ptr<Store> shared_store;

  // Path of a ckptd Unix socket. Empty (the default): the engine runs
  // embedded, as threads of this process. Set: the client hands its snapshots
  // to the daemon listening there (docs/operations.md): the daemon's store is
  // written, store_dir, store and shared_store are ignored, and the staging
  // pool of staging_bytes is shared memory the daemon creates (clamped to the
  // daemon's max-staging-bytes). The daemon records the job's failures in
  // its store; interval_policy is not available in this mode yet
  // (kUnsupported): use checkpoint_every_steps.
  std::string daemon_socket;
};

}  // namespace ckpt
