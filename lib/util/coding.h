// Fixed-width little-endian encoding of integers into byte strings, and the
// matching bounds-checked decoder. Used for catalog values, manifests and
// chunk record headers (all stored in little-endian order, see docs/format.md).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ckpt::coding {

inline void PutU8(std::string* dst, uint8_t v) { dst->push_back(static_cast<char>(v)); }

template <typename T>
inline void PutFixed(std::string* dst, T v) {
  char buf[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) buf[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
  dst->append(buf, sizeof(T));
}
inline void PutU32(std::string* dst, uint32_t v) { PutFixed(dst, v); }
inline void PutU64(std::string* dst, uint64_t v) { PutFixed(dst, v); }

// Big-endian, so that keys sort by number in RocksDB's bytewise order.
inline void PutBigEndian64(std::string* dst, uint64_t v) {
  for (int i = 7; i >= 0; --i) dst->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint64_t GetBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// A length-prefixed (u32) byte string.
inline void PutBytes(std::string* dst, std::string_view s) {
  PutU32(dst, static_cast<uint32_t>(s.size()));
  dst->append(s);
}

// Reads fields in order; any read past the end sets failed() and yields zeros.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  uint8_t U8() { return static_cast<uint8_t>(Fixed<uint8_t>()); }
  uint32_t U32() { return Fixed<uint32_t>(); }
  uint64_t U64() { return Fixed<uint64_t>(); }
  std::string_view Bytes(size_t n) {
    if (failed_ || in_.size() - pos_ < n) {
      failed_ = true;
      return {};
    }
    std::string_view out = in_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::string_view LengthPrefixed() { return Bytes(U32()); }

  bool failed() const { return failed_; }
  size_t remaining() const { return failed_ ? 0 : in_.size() - pos_; }
  size_t position() const { return pos_; }

 private:
  template <typename T>
  T Fixed() {
    std::string_view b = Bytes(sizeof(T));
    if (failed_) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
    return static_cast<T>(v);
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace ckpt::coding
