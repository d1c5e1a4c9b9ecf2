// The client <-> ckptd protocol: versioned, length-prefixed binary messages
// on a Unix stream socket (docs/protocol.md is the reference).
//
// Every frame is a 12-byte header -- magic "CKPT", version (u16), type (u16),
// payload length (u32), all little-endian -- followed by the payload. The
// staging pool's memfd travels with the PoolOffer frame as SCM_RIGHTS.
//
// The decoder is strict: it reads only inside the buffer it is given, bounds
// every count, size, offset, slot id, shape and string by the protocol limits
// below before it allocates for it, checks that a region's shape fits its
// size, rejects unknown types, enum values and trailing bytes, and returns
// kCorruption (malformed bytes) or kUnsupported (another version), never
// undefined behaviour. Limits that depend on a session (the pool's slot
// count, the regions of the checkpoint) are checked by the session.
//
// Thread safety: plain functions on values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/status.h"
#include "ckpt/types.h"

namespace ckpt::ipc {

inline constexpr uint32_t kMagic = 0x54504B43;  // "CKPT" in little-endian order
// Version 2: region shapes, the user-state blob (Begin, RestoreDone) and
// InfoQuery/InfoReply. Peers of different versions refuse each other.
inline constexpr uint16_t kVersion = 2;
inline constexpr size_t kHeaderBytes = 12;

// Protocol-wide bounds.
// One frame's payload: 32 MiB for the messages that carry a region table or a
// user state (Begin, Restore, RestoreDone, InfoReply: see MaxPayload), whose
// largest valid payload is about 22.1 MiB (a 16 MiB user state plus 4096
// regions with 1024-byte names and rank-64 shapes; checked by a static_assert
// in protocol.cc); 1 MiB for every other type. The receiver allocates a
// payload as its bytes arrive, never the announced length up front.
inline constexpr uint32_t kMaxPayload = uint32_t{32} << 20;
inline constexpr uint32_t kMaxSmallPayload = uint32_t{1} << 20;
// Also bounded: a user state by kMaxUserStateBytes (16 MiB, ckpt/client.h), a
// shape's rank by kMaxShapeRank (64, ckpt/types.h).
inline constexpr size_t kMaxJobName = 128;
inline constexpr size_t kMaxRegionName = 1024;
inline constexpr size_t kMaxRegions = 4096;
inline constexpr size_t kMaxText = 4096;          // error messages
inline constexpr size_t kMaxStatusText = 512 << 10;
inline constexpr uint32_t kMaxSlots = 1 << 16;
inline constexpr uint64_t kMaxChunkBytes = uint64_t{256} << 20;
inline constexpr uint64_t kMaxRegionBytes = uint64_t{1} << 46;  // 64 TiB
inline constexpr uint64_t kMaxStagingBytes = uint64_t{1} << 40;

enum class Type : uint16_t {
  kHello = 1,         // C->D: attach a job
  kPoolOffer = 2,     // D->C: the staging pool (memfd attached)
  kError = 3,         // D->C: request refused; the daemon closes the connection
  kBegin = 4,         // C->D: a checkpoint starts: step and region table
  kChunkStaged = 5,   // C->D: a chunk is in a staging slot
  kCopyDone = 6,      // C->D: every chunk of the checkpoint is staged (or the copy failed)
  kSlotFree = 7,      // D->C: the daemon consumed a slot
  kDurable = 8,       // D->C: checkpoint committed
  kFailed = 9,        // D->C: checkpoint failed
  kRestore = 10,      // C->D: restore a step (or the newest) into these regions
  kRestoreChunk = 11, // D->C: decoded chunk in a slot
  kRestoreAck = 12,   // C->D: the client copied a restored slot out
  kRestoreDone = 13,  // D->C: the restore ended (step or error)
  kLatestQuery = 14,  // C->D
  kLatestReply = 15,  // D->C
  kClose = 16,        // C->D: clean end of the session
  kClosed = 17,       // D->C: every checkpoint finished; the daemon closes
  kStatusQuery = 18,  // C->D: no attach needed
  kStatusReply = 19,  // D->C: JSON text
  kInfoQuery = 20,    // C->D: what the store holds for one step of the job (v2)
  kInfoReply = 21,    // D->C: that checkpoint's sizes, regions and user state (v2)
};

// The largest payload a frame of `type` may announce (kMaxPayload or
// kMaxSmallPayload).
uint32_t MaxPayload(Type type);

struct RegionEntry {
  std::string name;
  ElementType type = ElementType::kBytes;
  uint64_t bytes = 0;
  // v2: the tensor shape given to protect(); its elements times the element
  // size equal `bytes` and its rank is at most kMaxShapeRank (checked by Encode
  // and the decoder).
  std::optional<Shape> shape;
  bool operator==(const RegionEntry&) const = default;
};

// A Status carried on the wire: code 0 is OK.
struct WireStatus {
  uint8_t code = 0;
  std::string message;
  bool operator==(const WireStatus&) const = default;
};
WireStatus ToWire(const Status& s);
Status FromWire(const WireStatus& w);

struct Hello {
  std::string job;
  uint64_t chunk_bytes = 0;
  uint64_t staging_bytes = 0;
  uint8_t compression = 0;
  int32_t zstd_level = 0;
  bool operator==(const Hello&) const = default;
};
struct PoolOffer {
  uint64_t slot_bytes = 0;
  uint32_t slots = 0;
  bool operator==(const PoolOffer&) const = default;
};
struct Error {
  WireStatus status;
  bool operator==(const Error&) const = default;
};
struct Begin {
  uint64_t step = 0;
  std::vector<RegionEntry> regions;
  std::string user_state;  // v2: stored in the manifest; at most kMaxUserStateBytes
  bool operator==(const Begin&) const = default;
};
struct ChunkStaged {
  uint32_t region = 0;
  uint64_t index = 0;
  uint32_t slot = 0;
  uint64_t size = 0;
  bool operator==(const ChunkStaged&) const = default;
};
struct CopyDone {
  WireStatus status;
  bool operator==(const CopyDone&) const = default;
};
struct SlotFree {
  uint32_t slot = 0;
  bool operator==(const SlotFree&) const = default;
};
struct Durable {
  uint64_t step = 0;
  uint64_t logical_bytes = 0;
  uint64_t written_bytes = 0;
  uint64_t chunks = 0;
  uint64_t new_chunks = 0;
  bool operator==(const Durable&) const = default;
};
struct Failed {
  uint64_t step = 0;
  WireStatus status;
  bool operator==(const Failed&) const = default;
};
struct Restore {
  bool has_step = false;
  uint64_t step = 0;
  std::vector<RegionEntry> regions;
  bool operator==(const Restore&) const = default;
};
struct RestoreChunk {
  uint32_t region = 0;
  uint64_t offset = 0;
  uint32_t slot = 0;
  uint64_t size = 0;
  bool operator==(const RestoreChunk&) const = default;
};
struct RestoreAck {
  uint32_t slot = 0;
  bool operator==(const RestoreAck&) const = default;
};
struct RestoreDone {
  uint64_t step = 0;
  WireStatus status;
  std::string user_state;  // v2: the restored checkpoint's user state (empty on error)
  bool operator==(const RestoreDone&) const = default;
};
struct LatestQuery {
  bool operator==(const LatestQuery&) const = default;
};
struct LatestReply {
  bool has_step = false;
  uint64_t step = 0;
  bool operator==(const LatestReply&) const = default;
};
struct Close {
  bool operator==(const Close&) const = default;
};
struct Closed {
  bool operator==(const Closed&) const = default;
};
struct StatusQuery {
  bool operator==(const StatusQuery&) const = default;
};
struct StatusReply {
  std::string json;
  bool operator==(const StatusReply&) const = default;
};
struct InfoQuery {
  uint64_t step = 0;
  bool operator==(const InfoQuery&) const = default;
};
// The fields of ckpt::CheckpointInfo (the job is the session's; a region's
// chunk count follows from its size and chunk_bytes). Not OK status: the
// other fields are empty.
struct InfoReply {
  WireStatus status;
  uint64_t step = 0;
  int64_t created_unix_ms = 0;
  bool has_parent = false;
  uint64_t parent_step = 0;
  uint64_t chunk_bytes = 0;
  uint64_t logical_bytes = 0;
  uint64_t written_bytes = 0;
  uint64_t chunks = 0;
  uint64_t new_chunks = 0;
  std::vector<RegionEntry> regions;
  std::string user_state;
  bool operator==(const InfoReply&) const = default;
};

// Alternative i holds the message of Type i + 1.
using Message = std::variant<Hello, PoolOffer, Error, Begin, ChunkStaged, CopyDone, SlotFree, Durable,
                             Failed, Restore, RestoreChunk, RestoreAck, RestoreDone, LatestQuery,
                             LatestReply, Close, Closed, StatusQuery, StatusReply, InfoQuery, InfoReply>;

Type TypeOf(const Message& m);
const char* TypeName(Type t);

struct Header {
  Type type = Type::kHello;
  uint32_t payload_bytes = 0;
};

// The whole frame (header + payload). Fails (kInvalidArgument) only when the
// message exceeds a protocol bound.
Result<std::string> Encode(const Message& m);

// Exactly kHeaderBytes bytes. kCorruption for a bad magic, unknown type or
// a payload over MaxPayload(type); kUnsupported for another protocol version
// (the message names both versions and which side to upgrade).
Result<Header> DecodeHeader(std::string_view bytes);

// The payload of a frame whose header said `type`.
Result<Message> DecodePayload(Type type, std::string_view payload);

// A whole frame: header, then exactly the payload it announces.
Result<Message> DecodeFrame(std::string_view frame);

}  // namespace ckpt::ipc
