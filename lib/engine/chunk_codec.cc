#include "engine/chunk_codec.h"

#include <zstd.h>

#include <cstring>
#include <string>

namespace ckpt {
namespace {

// Compression must save at least 1/64 of a chunk to be worth its decode cost.
bool Pays(size_t compressed, size_t raw) { return compressed + raw / 64 < raw; }

size_t PlaneWidthFor(size_t element_size, size_t size) {
  if ((element_size == 2 || element_size == 4 || element_size == 8) && size % element_size == 0)
    return element_size;
  return 0;
}

}  // namespace

void SplitBytePlanes(const uint8_t* in, size_t size, size_t width, uint8_t* out) {
  const size_t n = size / width;
  for (size_t plane = 0; plane < width; ++plane) {
    uint8_t* dst = out + plane * n;
    const uint8_t* src = in + plane;
    for (size_t i = 0; i < n; ++i) dst[i] = src[i * width];
  }
}

void JoinBytePlanes(const uint8_t* in, size_t size, size_t width, uint8_t* out) {
  const size_t n = size / width;
  for (size_t plane = 0; plane < width; ++plane) {
    const uint8_t* src = in + plane * n;
    uint8_t* dst = out + plane;
    for (size_t i = 0; i < n; ++i) dst[i * width] = src[i];
  }
}

ChunkEncoder::ChunkEncoder(Compression compression, int zstd_level)
    : compression_(compression), level_(zstd_level) {
  if (compression_ != Compression::kOff) cctx_ = ZSTD_createCCtx();
}

ChunkEncoder::~ChunkEncoder() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_)); }

Result<EncodedChunk> ChunkEncoder::Encode(const uint8_t* data, size_t size, size_t element_size) {
  EncodedChunk raw{Codec::kRaw, 0, {reinterpret_cast<const char*>(data), size}};
  if (compression_ == Compression::kOff || size == 0) return raw;
  if (cctx_ == nullptr) return Status::IOError("zstd: could not create a compression context");

  const size_t width = PlaneWidthFor(element_size, size);
  const uint8_t* src = data;
  if (width != 0) {
    if (planes_.size() < size) planes_.resize(size);
    SplitBytePlanes(data, size, width, planes_.data());
    src = planes_.data();
  }
  const size_t bound = ZSTD_compressBound(size);
  if (compressed_.size() < bound) compressed_.resize(bound);
  auto* cctx = static_cast<ZSTD_CCtx*>(cctx_);
  size_t n = ZSTD_compressCCtx(cctx, compressed_.data(), compressed_.size(), src, size, level_);
  if (ZSTD_isError(n)) return Status::IOError(std::string("zstd compress: ") + ZSTD_getErrorName(n));
  if (!Pays(n, size)) return raw;
  return EncodedChunk{Codec::kZstd, static_cast<uint8_t>(width),
                      {reinterpret_cast<const char*>(compressed_.data()), n}};
}

ChunkDecoder::ChunkDecoder() : dctx_(ZSTD_createDCtx()) {}

ChunkDecoder::~ChunkDecoder() { ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_)); }

Status ChunkDecoder::Decode(Codec codec, uint8_t plane_width, std::string_view payload,
                            uint8_t* out, size_t raw_size) {
  if (raw_size == 0) {  // Encode stores an empty chunk raw; `out` may be null
    if (codec == Codec::kRaw && plane_width == 0 && payload.empty()) return Status::OK();
    return Status::Corruption("empty chunk with a non-empty or encoded payload");
  }
  if (codec == Codec::kRaw) {
    if (payload.size() != raw_size)
      return Status::Corruption("raw chunk holds " + std::to_string(payload.size()) +
                                " bytes, expected " + std::to_string(raw_size));
    if (plane_width != 0) return Status::Corruption("raw chunk with a byte-plane filter");
    std::memcpy(out, payload.data(), raw_size);
    return Status::OK();
  }
  if (codec != Codec::kZstd)
    return Status::Corruption("unknown codec " + std::to_string(static_cast<int>(codec)));
  if (plane_width != 0 && plane_width != 2 && plane_width != 4 && plane_width != 8)
    return Status::Corruption("bad byte-plane width " + std::to_string(plane_width));
  if (plane_width != 0 && raw_size % plane_width != 0)
    return Status::Corruption("chunk size is not a multiple of its byte-plane width");
  if (dctx_ == nullptr) return Status::IOError("zstd: could not create a decompression context");

  uint8_t* dst = out;
  if (plane_width != 0) {
    if (planes_.size() < raw_size) planes_.resize(raw_size);
    dst = planes_.data();
  }
  size_t n = ZSTD_decompressDCtx(static_cast<ZSTD_DCtx*>(dctx_), dst, raw_size, payload.data(),
                                 payload.size());
  if (ZSTD_isError(n))
    return Status::Corruption(std::string("zstd decompress: ") + ZSTD_getErrorName(n));
  if (n != raw_size)
    return Status::Corruption("chunk decompressed to " + std::to_string(n) + " bytes, expected " +
                              std::to_string(raw_size));
  if (plane_width != 0) JoinBytePlanes(planes_.data(), raw_size, plane_width, out);
  return Status::OK();
}

}  // namespace ckpt
