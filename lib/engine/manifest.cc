#include "engine/manifest.h"

#include <map>

#include "ckpt/client.h"
#include "util/coding.h"

namespace ckpt {

uint64_t Manifest::chunk_count() const {
  uint64_t n = 0;
  for (const auto& r : regions) n += r.chunks.size();
  return n;
}

CheckpointInfo Manifest::Info() const {
  CheckpointInfo info;
  info.job = job;
  info.step = step;
  info.created_unix_ms = created_unix_ms;
  info.parent_step = parent_step;
  info.chunk_bytes = chunk_bytes;
  info.logical_bytes = logical_bytes;
  info.written_bytes = written_bytes;
  info.chunks = chunk_count();
  info.new_chunks = new_chunks;
  for (const auto& r : regions)
    info.regions.push_back({r.name, r.type, r.bytes, r.chunks.size(), r.shape});
  info.user_state = user_state;
  return info;
}

// Layout: version u8 | job | step u64 | created i64 | has_parent u8 | parent u64 |
// chunk_bytes u64 | logical u64 | written u64 | new_chunks u64 | nregions u32 |
// per region: name | type u8 | bytes u64 | [v2: has_shape u8 | if 1: rank u32 |
// rank x u64] | nchunks u32 | hashes (16 each) | [v2: user_state] |
// checksum u64 = XXH3-64 of everything before it. Strings are u32-prefixed.
std::string EncodeManifest(const Manifest& m) {
  using namespace coding;
  std::string out;
  PutU8(&out, kManifestVersion);
  PutBytes(&out, m.job);
  PutU64(&out, m.step);
  PutU64(&out, static_cast<uint64_t>(m.created_unix_ms));
  PutU8(&out, m.parent_step.has_value() ? 1 : 0);
  PutU64(&out, m.parent_step.value_or(0));
  PutU64(&out, m.chunk_bytes);
  PutU64(&out, m.logical_bytes);
  PutU64(&out, m.written_bytes);
  PutU64(&out, m.new_chunks);
  PutU32(&out, static_cast<uint32_t>(m.regions.size()));
  for (const auto& r : m.regions) {
    PutBytes(&out, r.name);
    PutU8(&out, static_cast<uint8_t>(r.type));
    PutU64(&out, r.bytes);
    PutU8(&out, r.shape.has_value() ? 1 : 0);
    if (r.shape) {
      PutU32(&out, static_cast<uint32_t>(r.shape->size()));
      for (uint64_t d : *r.shape) PutU64(&out, d);
    }
    PutU32(&out, static_cast<uint32_t>(r.chunks.size()));
    for (const auto& h : r.chunks) out.append(h.view());
  }
  PutBytes(&out, m.user_state);
  PutU64(&out, Checksum64(out.data(), out.size()));
  return out;
}

Result<Manifest> DecodeManifest(std::string_view bytes) {
  if (bytes.size() < 9) return Status::Corruption("manifest truncated");
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  coding::Reader tail(bytes.substr(bytes.size() - 8));
  if (tail.U64() != Checksum64(body.data(), body.size()))
    return Status::Corruption("manifest checksum mismatch");

  coding::Reader in(body);
  const uint8_t version = in.U8();
  if (version < kOldestManifestVersion || version > kManifestVersion)
    return Status::Unsupported("manifest version " + std::to_string(version) + " (this build reads " +
                               std::to_string(kOldestManifestVersion) + " to " +
                               std::to_string(kManifestVersion) + ")");
  Manifest m;
  m.job = std::string(in.LengthPrefixed());
  m.step = in.U64();
  m.created_unix_ms = static_cast<int64_t>(in.U64());
  const bool has_parent = in.U8() != 0;
  const uint64_t parent = in.U64();
  if (has_parent) m.parent_step = parent;
  m.chunk_bytes = in.U64();
  m.logical_bytes = in.U64();
  m.written_bytes = in.U64();
  m.new_chunks = in.U64();
  const uint32_t nregions = in.U32();
  if (in.failed() || m.chunk_bytes == 0) return Status::Corruption("manifest header truncated");
  for (uint32_t i = 0; i < nregions && !in.failed(); ++i) {
    ManifestRegion r;
    r.name = std::string(in.LengthPrefixed());
    const auto type = ElementTypeFromByte(in.U8());
    if (!type) return Status::Corruption("manifest region with unknown element type");
    r.type = *type;
    r.bytes = in.U64();
    if (version >= 2 && in.U8() != 0) {
      const uint32_t rank = in.U32();
      if (rank > kMaxShapeRank || in.remaining() < size_t{rank} * 8)
        return Status::Corruption("manifest region '" + r.name + "' has a shape of rank " +
                                  std::to_string(rank));
      Shape shape(rank);
      for (auto& d : shape) d = in.U64();
      const auto elements = ShapeElements(shape);
      if (!elements || *elements > r.bytes / ElementSize(r.type) ||
          *elements * ElementSize(r.type) != r.bytes)
        return Status::Corruption("manifest region '" + r.name + "' has shape " + ShapeString(shape) +
                                  " for " + std::to_string(r.bytes) + " bytes of " +
                                  std::string(ElementTypeName(r.type)));
      r.shape = std::move(shape);
    }
    const uint32_t nchunks = in.U32();
    if (in.failed()) break;
    if (nchunks != (r.bytes + m.chunk_bytes - 1) / m.chunk_bytes)
      return Status::Corruption("manifest region '" + r.name + "' has " +
                                std::to_string(nchunks) + " chunks for " +
                                std::to_string(r.bytes) + " bytes");
    if (in.remaining() < size_t{nchunks} * 16) return Status::Corruption("manifest truncated");
    r.chunks.resize(nchunks);
    for (auto& h : r.chunks) {
      std::string_view b = in.Bytes(16);
      __builtin_memcpy(h.bytes.data(), b.data(), 16);
    }
    m.regions.push_back(std::move(r));
  }
  if (version >= 2 && !in.failed()) {
    const uint32_t len = in.U32();
    if (len > kMaxUserStateBytes)
      return Status::Corruption("manifest user state of " + std::to_string(len) + " bytes exceeds " +
                                std::to_string(kMaxUserStateBytes));
    m.user_state = std::string(in.Bytes(len));
  }
  if (in.failed() || in.remaining() != 0) return Status::Corruption("manifest truncated or padded");
  return m;
}

Status ValidateJobName(std::string_view job) {
  if (job.empty()) return Status::InvalidArgument("job name is empty");
  if (job.size() > 128) return Status::InvalidArgument("job name longer than 128 characters");
  for (char c : job) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok)
      return Status::InvalidArgument("job name '" + std::string(job) +
                                     "' may hold only letters, digits, '.', '_' and '-'");
  }
  return Status::OK();
}

Result<std::vector<const ManifestRegion*>> MatchRegions(const Manifest& manifest,
                                                        const std::vector<RegionLayout>& regions,
                                                        const std::string& where) {
  std::map<std::string, const ManifestRegion*> stored;
  for (const auto& r : manifest.regions) stored[r.name] = &r;
  std::vector<const ManifestRegion*> plan;
  for (const auto& region : regions) {
    auto it = stored.find(region.name);
    if (it == stored.end())
      return Status::FailedPrecondition(where + ": the checkpoint has no region '" + region.name + "'");
    const ManifestRegion& mr = *it->second;
    if (mr.bytes != region.bytes || mr.type != region.type)
      return Status::FailedPrecondition(
          where + ": region '" + region.name + "' was saved as " + std::to_string(mr.bytes) +
          " bytes of " + std::string(ElementTypeName(mr.type)) + ", protected now as " +
          std::to_string(region.bytes) + " bytes of " + std::string(ElementTypeName(region.type)));
    if (region.shape && mr.shape && *region.shape != *mr.shape)
      return Status::FailedPrecondition(where + ": region '" + region.name + "' was saved with shape " +
                                        ShapeString(*mr.shape) + ", protected now with shape " +
                                        ShapeString(*region.shape));
    plan.push_back(&mr);
    stored.erase(it);
  }
  if (!stored.empty())
    return Status::FailedPrecondition(where + ": the checkpoint has region '" + stored.begin()->first +
                                      "', which is not protected now");
  return plan;
}

}  // namespace ckpt
