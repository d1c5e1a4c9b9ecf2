// ckpt/types.h: element types of protected regions.
//
// The element type of a region is recorded in every checkpoint and selects the
// compression filter: 2-, 4- and 8-byte types are split into byte planes before
// zstd, because exponent bytes compress and mantissa bytes mostly do not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt {

enum class ElementType : uint8_t {
  kBytes = 0,  // opaque bytes: no filter
  kInt8 = 1,
  kUInt8 = 2,
  kInt16 = 3,
  kUInt16 = 4,
  kInt32 = 5,
  kUInt32 = 6,
  kInt64 = 7,
  kUInt64 = 8,
  kFloat16 = 9,
  kBFloat16 = 10,
  kFloat32 = 11,
  kFloat64 = 12,
};

// Bytes per element (1 for kBytes).
size_t ElementSize(ElementType type);

// Lower-case name as used in JSON and on the command line: "f32", "bf16", "bytes", ...
std::string_view ElementTypeName(ElementType type);

// Inverse of ElementTypeName; nullopt for an unknown name.
std::optional<ElementType> ParseElementType(std::string_view name);

// Inverse of the numeric value as stored on disk; nullopt for an unknown value.
std::optional<ElementType> ElementTypeFromByte(uint8_t value);

// Where the bytes of a protected region live, as detected by protect()
// (cudaPointerGetAttributes on builds with the CUDA backend; every region is
// kHost on host-only builds and on machines without a usable GPU).
enum class MemoryKind : uint8_t {
  kHost = 0,        // pageable host memory (malloc, std::vector, mmap)
  kPinnedHost = 1,  // page-locked host memory (cudaHostAlloc, cudaHostRegister)
  kDevice = 2,      // device memory (cudaMalloc, cudaMallocAsync)
  kManaged = 3,     // managed memory (cudaMallocManaged)
};

// "host", "pinned-host", "device" or "managed".
std::string_view MemoryKindName(MemoryKind kind);

// Dimensions of a region's tensor, outermost first (row-major, as PyTorch and
// safetensors order them). Rank 0 is a scalar: one element. Recorded in the
// checkpoint when given to Client::protect; tools report it (ckpt export
// writes it as the safetensors shape).
using Shape = std::vector<uint64_t>;

// Highest rank a recorded shape may have.
inline constexpr size_t kMaxShapeRank = 64;

// Elements of a tensor of `shape` (1 for rank 0); nullopt when the product
// overflows 64 bits.
std::optional<uint64_t> ShapeElements(const Shape& shape);

// "[2, 3]"; "[]" for a scalar.
std::string ShapeString(const Shape& shape);

}  // namespace ckpt
