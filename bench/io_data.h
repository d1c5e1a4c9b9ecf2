// The data `ckpt-bench io` checkpoints: one or more regions of host memory
// (page-aligned, pre-faulted), filled from a generator or from files.
//
//   synthetic  float32 values drawn from N(0, 0.02), like freshly trained weights
//   zeros      all zero bytes (float32)
//   random     uniformly random bytes (float32 as far as the codec knows)
//   PATH       raw tensor files of a training run (bench/data/make_snapshots.py):
//              PATH/<snapshot>/{weights_fp32.f32, weights_bf16.bf16, exp_avg.f32,
//              exp_avg_sq.f32, meta.json}. PATH is one snapshot folder, or a folder
//              of snapshot folders (sorted by name: the first is checkpointed in
//              full, the second as the incremental checkpoint). Every *.f32 file
//              becomes a float32 region, every *.bf16 file a bfloat16 region.
//
// Errors are thrown as std::runtime_error (missing folder, unreadable file,
// snapshots whose files differ in name or size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/types.h"

namespace ckpt::bench {

// Page-aligned, pre-faulted memory (mmap + MAP_POPULATE), freed on destruction.
class PageBuffer {
 public:
  explicit PageBuffer(size_t bytes);
  ~PageBuffer();
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  uint8_t* data_ = nullptr;
  size_t bytes_ = 0;
};

struct BenchRegion {
  std::string name;  // "data" for generated data; the file's stem for PATH
  ElementType type = ElementType::kFloat32;
  std::unique_ptr<PageBuffer> memory;
  size_t bytes() const { return memory->size(); }
};

struct BenchData {
  std::string kind;  // synthetic, zeros, random or path
  std::vector<BenchRegion> regions;
  // PATH with several snapshots: the files of the second one, loaded by
  // LoadNextSnapshot(). Empty otherwise.
  std::vector<std::string> next_files;
  uint64_t total_bytes() const;
};

// Builds the regions. `bytes` is the size for generated data, and a cap on
// the total for PATH when `cap_path` is set (regions are then cut short).
BenchData MakeData(const std::string& data, uint64_t bytes, bool cap_path, uint64_t seed);

// Changes `fraction` of the chunks of `chunk_bytes` (spread evenly over the
// regions): generated data and a single snapshot get every element of a
// changed chunk nudged (its lowest bit flipped, as a small update would);
// returns the number of chunks changed.
size_t ChangeChunks(BenchData& data, size_t chunk_bytes, double fraction);

// PATH with several snapshots: overwrites the regions with the second
// snapshot's files (same names and sizes, else an error) and returns the
// number of chunks that differ from before.
size_t LoadNextSnapshot(BenchData& data, size_t chunk_bytes);

}  // namespace ckpt::bench
