#include "ipc/protocol.h"

#include "util/coding.h"

namespace ckpt::ipc {
namespace {

using coding::PutBytes;
using coding::PutU32;
using coding::PutU64;
using coding::PutU8;

constexpr uint8_t kMaxStatusCode = static_cast<uint8_t>(Status::Code::kAborted);

void PutU16(std::string* dst, uint16_t v) { coding::PutFixed(dst, v); }

void PutStatus(std::string* dst, const WireStatus& s) {
  PutU8(dst, s.code);
  PutBytes(dst, s.message);
}

// A region entry: name, element type u8, size u64, then (v2) has_shape u8
// and, when 1, rank u8 and the dimensions (u64 each).
void PutRegions(std::string* dst, const std::vector<RegionEntry>& regions) {
  PutU32(dst, static_cast<uint32_t>(regions.size()));
  for (const auto& r : regions) {
    PutBytes(dst, r.name);
    PutU8(dst, static_cast<uint8_t>(r.type));
    PutU64(dst, r.bytes);
    PutU8(dst, r.shape ? 1 : 0);
    if (r.shape) {
      PutU8(dst, static_cast<uint8_t>(r.shape->size()));
      for (uint64_t d : *r.shape) PutU64(dst, d);
    }
  }
}

// Empty when `r`'s shape (if any) is consistent with its size; else why not.
std::string ShapeError(const RegionEntry& r) {
  if (!r.shape) return {};
  if (r.shape->size() > kMaxShapeRank)
    return "region '" + r.name + "' has a shape of rank " + std::to_string(r.shape->size()) +
           "; at most " + std::to_string(kMaxShapeRank);
  const auto elements = ShapeElements(*r.shape);
  uint64_t total = 0;
  if (!elements || __builtin_mul_overflow(*elements, ElementSize(r.type), &total) || total != r.bytes)
    return "region '" + r.name + "' has shape " + ShapeString(*r.shape) + ", which does not fit its " +
           std::to_string(r.bytes) + " bytes of " + std::string(ElementTypeName(r.type));
  return {};
}

Status CheckRegions(const std::vector<RegionEntry>& regions) {
  if (regions.size() > kMaxRegions) return Status::InvalidArgument("more than 4096 regions");
  for (const auto& r : regions) {
    if (r.name.empty() || r.name.size() > kMaxRegionName || r.bytes > kMaxRegionBytes)
      return Status::InvalidArgument("region entry out of the protocol's bounds");
    if (std::string e = ShapeError(r); !e.empty()) return Status::InvalidArgument(e);
  }
  return Status::OK();
}

Status CheckUserState(const std::string& user_state) {
  if (user_state.size() > kMaxUserStateBytes)
    return Status::InvalidArgument("user state of " + std::to_string(user_state.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kMaxUserStateBytes) +
                                   " bytes (kMaxUserStateBytes)");
  return Status::OK();
}

// The largest valid payloads of the large message types fit kMaxPayload.
constexpr uint64_t kMaxStatusBytes = 1 + 4 + kMaxText;
constexpr uint64_t kMaxRegionTableBytes =
    4 + kMaxRegions * (4 + kMaxRegionName + 1 + 8 + 1 + 1 + 8 * kMaxShapeRank);
constexpr uint64_t kMaxBeginBytes = 8 + kMaxRegionTableBytes + 4 + kMaxUserStateBytes;
constexpr uint64_t kMaxInfoReplyBytes = kMaxStatusBytes + 8 * 8 + 1 + kMaxRegionTableBytes + 4 + kMaxUserStateBytes;
static_assert(kMaxBeginBytes <= kMaxPayload && kMaxInfoReplyBytes <= kMaxPayload,
              "kMaxPayload must fit the largest Begin and InfoReply");
static_assert(kMaxStatusText + 4 <= kMaxSmallPayload, "kMaxSmallPayload must fit a StatusReply");

// Checks what Encode can be asked to send that the decoder would refuse, so
// that a peer never receives a frame it must reject.
struct EncodeCheck {
  Status operator()(const Hello& m) const {
    if (m.job.size() > kMaxJobName) return Status::InvalidArgument("job name longer than 128 bytes");
    return Status::OK();
  }
  Status operator()(const Begin& m) const {
    CKPT_RETURN_IF_ERROR(CheckRegions(m.regions));
    return CheckUserState(m.user_state);
  }
  Status operator()(const Restore& m) const { return CheckRegions(m.regions); }
  Status operator()(const Error& m) const { return Text(m.status.message); }
  Status operator()(const CopyDone& m) const { return Text(m.status.message); }
  Status operator()(const Failed& m) const { return Text(m.status.message); }
  Status operator()(const RestoreDone& m) const {
    CKPT_RETURN_IF_ERROR(Text(m.status.message));
    return CheckUserState(m.user_state);
  }
  Status operator()(const InfoReply& m) const {
    CKPT_RETURN_IF_ERROR(Text(m.status.message));
    if (m.chunk_bytes > kMaxChunkBytes) return Status::InvalidArgument("chunk size out of bounds");
    CKPT_RETURN_IF_ERROR(CheckRegions(m.regions));
    return CheckUserState(m.user_state);
  }
  Status operator()(const StatusReply& m) const {
    return m.json.size() > kMaxStatusText ? Status::InvalidArgument("status text too long") : Status::OK();
  }
  template <typename T>
  Status operator()(const T&) const {
    return Status::OK();
  }
  static Status Text(const std::string& s) {
    return s.size() > kMaxText ? Status::InvalidArgument("message text longer than 4096 bytes")
                               : Status::OK();
  }
};

struct PayloadWriter {
  std::string* out;
  void operator()(const Hello& m) const {
    PutBytes(out, m.job);
    PutU64(out, m.chunk_bytes);
    PutU64(out, m.staging_bytes);
    PutU8(out, m.compression);
    PutU32(out, static_cast<uint32_t>(m.zstd_level));
  }
  void operator()(const PoolOffer& m) const {
    PutU64(out, m.slot_bytes);
    PutU32(out, m.slots);
  }
  void operator()(const Error& m) const { PutStatus(out, m.status); }
  void operator()(const Begin& m) const {
    PutU64(out, m.step);
    PutRegions(out, m.regions);
    PutBytes(out, m.user_state);
  }
  void operator()(const ChunkStaged& m) const {
    PutU32(out, m.region);
    PutU64(out, m.index);
    PutU32(out, m.slot);
    PutU64(out, m.size);
  }
  void operator()(const CopyDone& m) const { PutStatus(out, m.status); }
  void operator()(const SlotFree& m) const { PutU32(out, m.slot); }
  void operator()(const Durable& m) const {
    PutU64(out, m.step);
    PutU64(out, m.logical_bytes);
    PutU64(out, m.written_bytes);
    PutU64(out, m.chunks);
    PutU64(out, m.new_chunks);
  }
  void operator()(const Failed& m) const {
    PutU64(out, m.step);
    PutStatus(out, m.status);
  }
  void operator()(const Restore& m) const {
    PutU8(out, m.has_step ? 1 : 0);
    PutU64(out, m.step);
    PutRegions(out, m.regions);
  }
  void operator()(const RestoreChunk& m) const {
    PutU32(out, m.region);
    PutU64(out, m.offset);
    PutU32(out, m.slot);
    PutU64(out, m.size);
  }
  void operator()(const RestoreAck& m) const { PutU32(out, m.slot); }
  void operator()(const RestoreDone& m) const {
    PutU64(out, m.step);
    PutStatus(out, m.status);
    PutBytes(out, m.user_state);
  }
  void operator()(const LatestQuery&) const {}
  void operator()(const LatestReply& m) const {
    PutU8(out, m.has_step ? 1 : 0);
    PutU64(out, m.step);
  }
  void operator()(const Close&) const {}
  void operator()(const Closed&) const {}
  void operator()(const StatusQuery&) const {}
  void operator()(const StatusReply& m) const { PutBytes(out, m.json); }
  void operator()(const InfoQuery& m) const { PutU64(out, m.step); }
  void operator()(const InfoReply& m) const {
    PutStatus(out, m.status);
    PutU64(out, m.step);
    PutU64(out, static_cast<uint64_t>(m.created_unix_ms));
    PutU8(out, m.has_parent ? 1 : 0);
    PutU64(out, m.parent_step);
    PutU64(out, m.chunk_bytes);
    PutU64(out, m.logical_bytes);
    PutU64(out, m.written_bytes);
    PutU64(out, m.chunks);
    PutU64(out, m.new_chunks);
    PutRegions(out, m.regions);
    PutBytes(out, m.user_state);
  }
};

// Bounds-checked field reads; the first violation is kept.
class Parser {
 public:
  explicit Parser(std::string_view in) : r_(in) {}

  uint8_t U8() { return r_.U8(); }
  uint32_t U32() { return r_.U32(); }
  uint64_t U64() { return r_.U64(); }

  uint64_t U64Max(uint64_t max, const char* what) {
    const uint64_t v = r_.U64();
    if (v > max) Fail(std::string(what) + " out of bounds");
    return v;
  }
  uint32_t U32Below(uint32_t limit, const char* what) {
    const uint32_t v = r_.U32();
    if (v >= limit) Fail(std::string(what) + " out of bounds");
    return v;
  }
  bool Bool(const char* what) {
    const uint8_t v = r_.U8();
    if (v > 1) Fail(std::string(what) + " is not 0 or 1");
    return v == 1;
  }
  std::string String(size_t max, const char* what) {
    const uint32_t n = r_.U32();
    if (n > max) {
      Fail(std::string(what) + " longer than " + std::to_string(max) + " bytes");
      return {};
    }
    return std::string(r_.Bytes(n));
  }
  WireStatus StatusField() {
    WireStatus s;
    s.code = r_.U8();
    if (s.code > kMaxStatusCode) Fail("unknown status code");
    s.message = String(kMaxText, "status message");
    return s;
  }
  std::vector<RegionEntry> Regions() {
    std::vector<RegionEntry> out;
    const uint32_t n = r_.U32();
    if (n > kMaxRegions) {
      Fail("region count out of bounds");
      return out;
    }
    for (uint32_t i = 0; i < n && ok(); ++i) {
      RegionEntry e;
      e.name = String(kMaxRegionName, "region name");
      if (e.name.empty()) Fail("empty region name");
      auto type = ElementTypeFromByte(r_.U8());
      if (!type) Fail("unknown element type");
      e.type = type.value_or(ElementType::kBytes);
      e.bytes = U64Max(kMaxRegionBytes, "region size");
      if (Bool("has_shape")) {
        const uint8_t rank = r_.U8();
        if (rank > kMaxShapeRank) {
          Fail("region '" + e.name + "' has a shape of rank " + std::to_string(rank) + "; at most " +
               std::to_string(kMaxShapeRank));
          return out;
        }
        Shape shape(rank);  // bounded above: at most 64 dimensions
        for (auto& d : shape) d = r_.U64();
        e.shape = std::move(shape);
        if (ok())
          if (std::string why = ShapeError(e); !why.empty()) Fail(why);
      }
      out.push_back(std::move(e));
    }
    return out;
  }

  void Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }
  bool ok() const { return error_.empty() && !r_.failed(); }

  // The result of a whole payload: every byte consumed, no violation.
  Status Finish(Type type) const {
    const std::string where = std::string("ipc ") + TypeName(type) + " message";
    if (!error_.empty()) return Status::Corruption(where + ": " + error_);
    if (r_.failed()) return Status::Corruption(where + ": truncated");
    if (r_.remaining() != 0)
      return Status::Corruption(where + ": " + std::to_string(r_.remaining()) + " trailing bytes");
    return Status::OK();
  }

 private:
  coding::Reader r_;
  std::string error_;
};

Message ParseFields(Type type, Parser& p) {
  switch (type) {
    case Type::kHello: {
      Hello m;
      m.job = p.String(kMaxJobName, "job name");
      m.chunk_bytes = p.U64Max(kMaxChunkBytes, "chunk size");
      m.staging_bytes = p.U64Max(kMaxStagingBytes, "staging size");
      m.compression = p.U8();
      if (m.compression > 2) p.Fail("unknown compression");
      m.zstd_level = static_cast<int32_t>(p.U32());
      return m;
    }
    case Type::kPoolOffer: {
      PoolOffer m;
      m.slot_bytes = p.U64Max(kMaxChunkBytes, "slot size");
      m.slots = p.U32();
      if (m.slots == 0 || m.slots > kMaxSlots) p.Fail("slot count out of bounds");
      return m;
    }
    case Type::kError:
      return Error{p.StatusField()};
    case Type::kBegin: {
      Begin m;
      m.step = p.U64();
      m.regions = p.Regions();
      m.user_state = p.String(kMaxUserStateBytes, "user state");
      return m;
    }
    case Type::kChunkStaged: {
      ChunkStaged m;
      m.region = p.U32Below(kMaxRegions, "region index");
      m.index = p.U64Max(kMaxRegionBytes, "chunk index");
      m.slot = p.U32Below(kMaxSlots, "slot");
      m.size = p.U64Max(kMaxChunkBytes, "chunk size");
      return m;
    }
    case Type::kCopyDone:
      return CopyDone{p.StatusField()};
    case Type::kSlotFree:
      return SlotFree{p.U32Below(kMaxSlots, "slot")};
    case Type::kDurable: {
      Durable m;
      m.step = p.U64();
      m.logical_bytes = p.U64();
      m.written_bytes = p.U64();
      m.chunks = p.U64();
      m.new_chunks = p.U64();
      return m;
    }
    case Type::kFailed: {
      Failed m;
      m.step = p.U64();
      m.status = p.StatusField();
      return m;
    }
    case Type::kRestore: {
      Restore m;
      m.has_step = p.Bool("has_step");
      m.step = p.U64();
      m.regions = p.Regions();
      return m;
    }
    case Type::kRestoreChunk: {
      RestoreChunk m;
      m.region = p.U32Below(kMaxRegions, "region index");
      m.offset = p.U64Max(kMaxRegionBytes, "offset");
      m.slot = p.U32Below(kMaxSlots, "slot");
      m.size = p.U64Max(kMaxChunkBytes, "size");
      return m;
    }
    case Type::kRestoreAck:
      return RestoreAck{p.U32Below(kMaxSlots, "slot")};
    case Type::kRestoreDone: {
      RestoreDone m;
      m.step = p.U64();
      m.status = p.StatusField();
      m.user_state = p.String(kMaxUserStateBytes, "user state");
      return m;
    }
    case Type::kLatestQuery:
      return LatestQuery{};
    case Type::kLatestReply: {
      LatestReply m;
      m.has_step = p.Bool("has_step");
      m.step = p.U64();
      return m;
    }
    case Type::kClose:
      return Close{};
    case Type::kClosed:
      return Closed{};
    case Type::kStatusQuery:
      return StatusQuery{};
    case Type::kStatusReply:
      return StatusReply{p.String(kMaxStatusText, "status text")};
    case Type::kInfoQuery:
      return InfoQuery{p.U64()};
    case Type::kInfoReply: {
      InfoReply m;
      m.status = p.StatusField();
      m.step = p.U64();
      m.created_unix_ms = static_cast<int64_t>(p.U64());
      m.has_parent = p.Bool("has_parent");
      m.parent_step = p.U64();
      m.chunk_bytes = p.U64Max(kMaxChunkBytes, "chunk size");
      m.logical_bytes = p.U64();
      m.written_bytes = p.U64();
      m.chunks = p.U64();
      m.new_chunks = p.U64();
      m.regions = p.Regions();
      m.user_state = p.String(kMaxUserStateBytes, "user state");
      return m;
    }
  }
  p.Fail("unknown message type");
  return Close{};
}

bool KnownType(uint16_t t) {
  return t >= static_cast<uint16_t>(Type::kHello) && t <= static_cast<uint16_t>(Type::kInfoReply);
}

std::string MiB(uint32_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

uint32_t MaxPayload(Type type) {
  switch (type) {
    case Type::kBegin:
    case Type::kRestore:
    case Type::kRestoreDone:
    case Type::kInfoReply:
      return kMaxPayload;
    default:
      return kMaxSmallPayload;
  }
}

WireStatus ToWire(const Status& s) {
  std::string m = s.message();
  if (m.size() > kMaxText) m.resize(kMaxText);
  return {static_cast<uint8_t>(s.code()), std::move(m)};
}

Status FromWire(const WireStatus& w) {
  if (w.code == 0) return Status::OK();
  if (w.code > kMaxStatusCode) return Status::Corruption("unknown status code " + std::to_string(w.code));
  return Status(static_cast<Status::Code>(w.code), w.message);
}

Type TypeOf(const Message& m) { return static_cast<Type>(m.index() + 1); }

const char* TypeName(Type t) {
  switch (t) {
    case Type::kHello: return "Hello";
    case Type::kPoolOffer: return "PoolOffer";
    case Type::kError: return "Error";
    case Type::kBegin: return "Begin";
    case Type::kChunkStaged: return "ChunkStaged";
    case Type::kCopyDone: return "CopyDone";
    case Type::kSlotFree: return "SlotFree";
    case Type::kDurable: return "Durable";
    case Type::kFailed: return "Failed";
    case Type::kRestore: return "Restore";
    case Type::kRestoreChunk: return "RestoreChunk";
    case Type::kRestoreAck: return "RestoreAck";
    case Type::kRestoreDone: return "RestoreDone";
    case Type::kLatestQuery: return "LatestQuery";
    case Type::kLatestReply: return "LatestReply";
    case Type::kClose: return "Close";
    case Type::kClosed: return "Closed";
    case Type::kStatusQuery: return "StatusQuery";
    case Type::kStatusReply: return "StatusReply";
    case Type::kInfoQuery: return "InfoQuery";
    case Type::kInfoReply: return "InfoReply";
  }
  return "unknown";
}

Result<std::string> Encode(const Message& m) {
  CKPT_RETURN_IF_ERROR(std::visit(EncodeCheck{}, m));
  std::string payload;
  std::visit(PayloadWriter{&payload}, m);
  if (payload.size() > MaxPayload(TypeOf(m)))
    return Status::InvalidArgument(std::string("ipc ") + TypeName(TypeOf(m)) + " message larger than " +
                                   MiB(MaxPayload(TypeOf(m))));
  std::string frame;
  frame.reserve(kHeaderBytes + payload.size());
  PutU32(&frame, kMagic);
  PutU16(&frame, kVersion);
  PutU16(&frame, static_cast<uint16_t>(TypeOf(m)));
  PutU32(&frame, static_cast<uint32_t>(payload.size()));
  frame += payload;
  return frame;
}

Result<Header> DecodeHeader(std::string_view bytes) {
  if (bytes.size() != kHeaderBytes) return Status::Corruption("ipc header: wrong length");
  coding::Reader r(bytes);
  const uint32_t magic = r.U32();
  const uint16_t version = static_cast<uint16_t>(r.U8() | (r.U8() << 8));
  const uint16_t type = static_cast<uint16_t>(r.U8() | (r.U8() << 8));
  const uint32_t length = r.U32();
  if (magic != kMagic) return Status::Corruption("ipc header: bad magic (not a ckpt peer)");
  if (version != kVersion)
    return Status::Unsupported("the peer speaks ipc protocol version " + std::to_string(version) +
                               ", this build version " + std::to_string(kVersion) +
                               "; client library and ckptd must speak the same version: upgrade the older side (" +
                               (version < kVersion ? "the peer" : "this one") + ")");
  if (!KnownType(type)) return Status::Corruption("ipc header: unknown message type " + std::to_string(type));
  if (length > MaxPayload(static_cast<Type>(type)))
    return Status::Corruption("ipc header: " + std::string(TypeName(static_cast<Type>(type))) + " payload of " +
                              std::to_string(length) + " bytes exceeds " + MiB(MaxPayload(static_cast<Type>(type))));
  return Header{static_cast<Type>(type), length};
}

Result<Message> DecodePayload(Type type, std::string_view payload) {
  if (!KnownType(static_cast<uint16_t>(type))) return Status::Corruption("ipc: unknown message type");
  Parser p(payload);
  Message m = ParseFields(type, p);
  CKPT_RETURN_IF_ERROR(p.Finish(type));
  return m;
}

Result<Message> DecodeFrame(std::string_view frame) {
  if (frame.size() < kHeaderBytes) return Status::Corruption("ipc frame: shorter than its header");
  auto header = DecodeHeader(frame.substr(0, kHeaderBytes));
  if (!header.ok()) return header.status();
  if (frame.size() - kHeaderBytes != header->payload_bytes)
    return Status::Corruption("ipc frame: payload length does not match its header");
  return DecodePayload(header->type, frame.substr(kHeaderBytes));
}

}  // namespace ckpt::ipc
