// A checkpoint's manifest: which chunks make up each region. Stored as the
// value of the catalog key M<job>\0<step>; see docs/format.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/status.h"
#include "ckpt/store.h"
#include "ckpt/types.h"
#include "engine/chunk_hash.h"

namespace ckpt {

struct ManifestRegion {
  std::string name;
  ElementType type = ElementType::kBytes;
  uint64_t bytes = 0;
  std::vector<ChunkHash> chunks;  // ceil(bytes / chunk_bytes) hashes, in order
  std::optional<Shape> shape;     // version 2; elements x element size == bytes
};

struct Manifest {
  std::string job;
  uint64_t step = 0;
  int64_t created_unix_ms = 0;
  std::optional<uint64_t> parent_step;
  uint64_t chunk_bytes = 0;
  uint64_t logical_bytes = 0;
  uint64_t written_bytes = 0;
  uint64_t new_chunks = 0;
  std::vector<ManifestRegion> regions;
  std::string user_state;  // version 2; at most kMaxUserStateBytes

  uint64_t chunk_count() const;
  CheckpointInfo Info() const;
};

// Written: 2 (region shapes and the user-state blob). Decoded: 1 and 2.
struct RegionLayout {
  std::string name;
  ElementType type = ElementType::kBytes;
  uint64_t bytes = 0;
  std::optional<Shape> shape;
};

// The manifest's region for each of `regions`, in their order: what a
// restore of these regions reads. kFailedPrecondition, prefixed by `where`,
// when the manifest lacks one of them, has it with another size or element
// type (or another shape, when both have one), or has a region not asked for.
Result<std::vector<const ManifestRegion*>> MatchRegions(const Manifest& manifest,
                                                        const std::vector<RegionLayout>& regions,
                                                        const std::string& where);

inline constexpr uint8_t kManifestVersion = 2;
inline constexpr uint8_t kOldestManifestVersion = 1;

std::string EncodeManifest(const Manifest& manifest);

// kCorruption when the bytes are truncated, fail their checksum or are
// inconsistent (chunk count versus region size, shape versus region size, a
// user state over kMaxUserStateBytes); kUnsupported for a manifest version
// outside [kOldestManifestVersion, kManifestVersion].
Result<Manifest> DecodeManifest(std::string_view bytes);

// Valid job names: 1-128 of [A-Za-z0-9._-].
Status ValidateJobName(std::string_view job);

}  // namespace ckpt
