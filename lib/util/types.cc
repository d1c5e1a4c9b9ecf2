#include "ckpt/types.h"

#include <array>

namespace ckpt {
namespace {

struct TypeEntry {
  ElementType type;
  std::string_view name;
  size_t size;
};

constexpr std::array<TypeEntry, 13> kTypes = {{
    {ElementType::kBytes, "bytes", 1},   {ElementType::kInt8, "i8", 1},
    {ElementType::kUInt8, "u8", 1},      {ElementType::kInt16, "i16", 2},
    {ElementType::kUInt16, "u16", 2},    {ElementType::kInt32, "i32", 4},
    {ElementType::kUInt32, "u32", 4},    {ElementType::kInt64, "i64", 8},
    {ElementType::kUInt64, "u64", 8},    {ElementType::kFloat16, "f16", 2},
    {ElementType::kBFloat16, "bf16", 2}, {ElementType::kFloat32, "f32", 4},
    {ElementType::kFloat64, "f64", 8},
}};

}  // namespace

size_t ElementSize(ElementType type) {
  for (const auto& e : kTypes)
    if (e.type == type) return e.size;
  return 1;
}

std::string_view ElementTypeName(ElementType type) {
  for (const auto& e : kTypes)
    if (e.type == type) return e.name;
  return "unknown";
}

std::optional<ElementType> ParseElementType(std::string_view name) {
  for (const auto& e : kTypes)
    if (e.name == name) return e.type;
  return std::nullopt;
}

std::optional<ElementType> ElementTypeFromByte(uint8_t value) {
  for (const auto& e : kTypes)
    if (static_cast<uint8_t>(e.type) == value) return e.type;
  return std::nullopt;
}

std::string_view MemoryKindName(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kHost:
      return "host";
    case MemoryKind::kPinnedHost:
      return "pinned-host";
    case MemoryKind::kDevice:
      return "device";
    case MemoryKind::kManaged:
      return "managed";
  }
  return "unknown";
}

std::optional<uint64_t> ShapeElements(const Shape& shape) {
  uint64_t n = 1;
  for (uint64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
  return n;
}

std::string ShapeString(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace ckpt
