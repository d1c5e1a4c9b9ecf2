#include "engine/chunk_codec.h"

// For ZSTD_c_literalCompressionMode (see PlaneContext): an encoder setting
// only; the frames it writes are ordinary zstd frames.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

namespace ckpt {
namespace {

// Compression must save at least 1/64 of a chunk to be worth its decode cost.
bool Pays(size_t compressed, size_t raw) { return compressed + raw / 64 < raw; }

bool IsPlaneWidth(size_t width) { return width == 2 || width == 4 || width == 8; }

size_t PlaneWidthFor(size_t element_size, size_t size) {
  if (IsPlaneWidth(element_size) && size % element_size == 0) return element_size;
  return 0;
}

// kAuto's sample: kSampleWindows runs of kSampleRun elements spread evenly
// over the chunk (4 KiB per plane; 0.4% of a 4 MiB float32 chunk), so a
// chunk that is zeros at one end and weights at the other is seen as both.
constexpr size_t kSampleWindows = 4;
constexpr size_t kSampleRun = 1024;

// Split and join with one pointer per plane, so raw planes go straight to
// (or come straight from) their place in the payload. A fixed width lets the
// compiler unroll and vectorize the transposes.
template <size_t W>
void SplitTo(const uint8_t* __restrict in, size_t n, uint8_t* const* planes) {
  uint8_t* __restrict dst[W];
  for (size_t k = 0; k < W; ++k) dst[k] = planes[k];
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < W; ++k) dst[k][i] = in[i * W + k];
}

template <size_t W>
void JoinFrom(const uint8_t* const* planes, size_t n, uint8_t* __restrict out) {
  const uint8_t* __restrict src[W];
  for (size_t k = 0; k < W; ++k) src[k] = planes[k];
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < W; ++k) out[i * W + k] = src[k][i];
}

void SplitToPlanes(const uint8_t* in, size_t n, size_t width, uint8_t* const* planes) {
  switch (width) {
    case 2: return SplitTo<2>(in, n, planes);
    case 4: return SplitTo<4>(in, n, planes);
    case 8: return SplitTo<8>(in, n, planes);
    default: break;
  }
  for (size_t k = 0; k < width; ++k)
    for (size_t i = 0; i < n; ++i) planes[k][i] = in[i * width + k];
}

void JoinFromPlanes(const uint8_t* const* planes, size_t n, size_t width, uint8_t* out) {
  switch (width) {
    case 2: return JoinFrom<2>(planes, n, out);
    case 4: return JoinFrom<4>(planes, n, out);
    case 8: return JoinFrom<8>(planes, n, out);
    default: break;
  }
  for (size_t k = 0; k < width; ++k)
    for (size_t i = 0; i < n; ++i) out[i * width + k] = planes[k][i];
}

// Plane pointers into one buffer holding the planes back to back.
std::vector<uint8_t*> Contiguous(uint8_t* base, size_t n, size_t width) {
  std::vector<uint8_t*> planes(width);
  for (size_t k = 0; k < width; ++k) planes[k] = base + k * n;
  return planes;
}

void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

std::string_view View(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

}  // namespace

bool IsUniformChunk(const uint8_t* data, size_t size) {
  // Every byte equals the next one: memcmp of the chunk against itself one
  // byte on (memcmp takes overlapping ranges), which stops at the first
  // difference.
  return size > 0 && std::memcmp(data, data + 1, size - 1) == 0;
}

void SplitBytePlanes(const uint8_t* in, size_t size, size_t width, uint8_t* out) {
  const size_t n = size / width;
  SplitToPlanes(in, n, width, Contiguous(out, n, width).data());
}

void JoinBytePlanes(const uint8_t* in, size_t size, size_t width, uint8_t* out) {
  const size_t n = size / width;
  const std::vector<uint8_t*> planes = Contiguous(const_cast<uint8_t*>(in), n, width);
  JoinFromPlanes(planes.data(), n, width, out);
}

Result<std::vector<PlaneEntry>> ParsePlaneTable(std::string_view payload, uint8_t width,
                                                size_t raw_size) {
  if (!IsPlaneWidth(width))
    return Status::Corruption("per-plane chunk with byte-plane width " + std::to_string(width));
  const size_t n = raw_size / width;
  const size_t table = width * kPlaneEntryBytes;
  if (payload.size() < table) return Status::Corruption("per-plane payload shorter than its plane table");
  const auto* p = reinterpret_cast<const uint8_t*>(payload.data());
  std::vector<PlaneEntry> planes(width);
  uint64_t total = table + raw_size % width;  // at most 8 planes of < 4 GiB: no overflow
  for (size_t k = 0; k < width; ++k) {
    const uint8_t mode = p[k * kPlaneEntryBytes];
    planes[k].stored = Get32(p + k * kPlaneEntryBytes + 1);
    if (mode > 1) return Status::Corruption("plane " + std::to_string(k) + ": unknown mode " + std::to_string(mode));
    planes[k].zstd = mode == 1;
    if (!planes[k].zstd && planes[k].stored != n)
      return Status::Corruption("raw plane " + std::to_string(k) + " holds " + std::to_string(planes[k].stored) +
                                " bytes, expected " + std::to_string(n));
    if (planes[k].zstd && planes[k].stored == 0)
      return Status::Corruption("compressed plane " + std::to_string(k) + " is empty");
    total += planes[k].stored;
  }
  if (total != payload.size())
    return Status::Corruption("plane table adds up to " + std::to_string(total) + " bytes, payload holds " +
                              std::to_string(payload.size()));
  return planes;
}

ChunkEncoder::ChunkEncoder(Compression compression, int zstd_level, uint32_t target_mbps)
    : compression_(compression), level_(zstd_level), target_bytes_per_s_(target_mbps * 1e6) {
  if (compression_ == Compression::kOff) return;
  cctx_ = ZSTD_createCCtx();
  if (compression_ != Compression::kAuto) return;
  // The planes kAuto compresses are exponent bytes: few distinct values,
  // which entropy coding shrinks and LZ matching mostly slows down. At level
  // 1 a strongly negative level with Huffman-coded literals forced on is
  // about twice as fast and compresses them a little better; when this zstd
  // does not take the setting, plain level 1. A level above 1 is used as is.
  auto* plane = ZSTD_createCCtx();
  plane_cctx_ = plane;
  if (plane == nullptr) return;
  if (level_ > 1) {
    ZSTD_CCtx_setParameter(plane, ZSTD_c_compressionLevel, level_);
  } else if (ZSTD_isError(ZSTD_CCtx_setParameter(plane, ZSTD_c_compressionLevel, kAutoPlaneLevel)) ||
             ZSTD_isError(ZSTD_CCtx_setParameter(plane, ZSTD_c_literalCompressionMode, ZSTD_ps_enable))) {
    ZSTD_CCtx_reset(plane, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(plane, ZSTD_c_compressionLevel, 1);
  }
}

void ChunkEncoder::Prepare(size_t chunk_bytes) {
  if (compression_ == Compression::kOff || cctx_ == nullptr || chunk_bytes == 0) return;
  const size_t capacity = MaxPayloadBytes(chunk_bytes);
  if (compressed_.size() < capacity) compressed_.resize(capacity);  // zero-filled: touched
  if (planes_.size() < chunk_bytes) planes_.resize(chunk_bytes);
  // One compression of a chunk's worth of zeros sizes each context's
  // workspace for the largest input it will see (zeros compress at once).
  (void)Compress(planes_.data(), chunk_bytes, compressed_.data(), compressed_.size());
  if (plane_cctx_ != nullptr)
    (void)CompressPlane(planes_.data(), chunk_bytes / 2, compressed_.data(), compressed_.size());
}

ChunkEncoder::~ChunkEncoder() {
  ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_));
  ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(plane_cctx_));
}

size_t ChunkEncoder::MaxPayloadBytes(size_t size) {
  // zstd's bound on the chunk, or the plane table plus each plane's bound
  // (at most 8 planes, each bound within 128 bytes of the chunk's share) and
  // the tail.
  return ZSTD_compressBound(size) + 8 * (kPlaneEntryBytes + 128) + 8;
}

uint8_t* ChunkEncoder::Output(uint8_t* out, size_t capacity) {
  if (out != nullptr) return out;
  if (compressed_.size() < capacity) compressed_.resize(capacity);
  return compressed_.data();
}

Result<EncodedChunk> ChunkEncoder::Encode(const uint8_t* data, size_t size, size_t element_size) {
  return Encode(data, size, element_size, nullptr);
}

Result<EncodedChunk> ChunkEncoder::Encode(const uint8_t* data, size_t size, size_t element_size,
                                          uint8_t* out) {
  if (compression_ == Compression::kOff || size == 0) return EncodedChunk{Codec::kRaw, 0, View(data, size)};
  if (cctx_ == nullptr || (compression_ == Compression::kAuto && plane_cctx_ == nullptr))
    return Status::IOError("zstd: could not create a compression context");
  if (compression_ != Compression::kAuto) return EncodeWhole(data, size, element_size, out);
  // A uniform chunk costs less to compress than to write: always, unpaced,
  // and no byte planes (one run of one byte is what zstd shrinks best).
  if (IsUniformChunk(data, size)) return EncodeWhole(data, size, 1, out);
  if (target_bytes_per_s_ <= 0) return EncodeAuto(data, size, element_size, out);
  // Compress only when the time this chunk is expected to take (at the last
  // compressed chunk's speed) still fits the budget of the bytes seen.
  seen_bytes_ += static_cast<double>(size);
  const double expected_s = last_s_per_byte_ * static_cast<double>(size);
  if (busy_s_ + expected_s > seen_bytes_ / target_bytes_per_s_) return EncodedChunk{Codec::kRaw, 0, View(data, size)};
  const auto start = std::chrono::steady_clock::now();
  auto encoded = EncodeAuto(data, size, element_size, out);
  const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  busy_s_ += spent;
  last_s_per_byte_ = spent / static_cast<double>(size);
  return encoded;
}


Result<size_t> ChunkEncoder::Compress(const uint8_t* src, size_t size, uint8_t* dst, size_t capacity) {
  const size_t n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), dst, capacity, src, size, level_);
  if (ZSTD_isError(n)) return Status::IOError(std::string("zstd compress: ") + ZSTD_getErrorName(n));
  return n;
}

Result<size_t> ChunkEncoder::CompressPlane(const uint8_t* src, size_t size, uint8_t* dst, size_t capacity) {
  const size_t n = ZSTD_compress2(static_cast<ZSTD_CCtx*>(plane_cctx_), dst, capacity, src, size);
  if (ZSTD_isError(n)) return Status::IOError(std::string("zstd compress: ") + ZSTD_getErrorName(n));
  return n;
}

Result<EncodedChunk> ChunkEncoder::EncodeUniform(uint8_t byte, size_t size, uint8_t* out) {
  if (compression_ == Compression::kOff)
    return Status::FailedPrecondition("uniform chunks are stored compressed, and compression is off");
  if (cctx_ == nullptr) return Status::IOError("zstd: could not create a compression context");
  // The bytes are made in the plane scratch buffer (a chunk's worth,
  // allocated by Prepare): a raw payload for a tiny chunk is a view of them.
  if (planes_.size() < size) planes_.resize(size);
  std::memset(planes_.data(), byte, size);
  return EncodeWhole(planes_.data(), size, 1, out);
}

Result<bool> ChunkEncoder::SamplePays(const uint8_t* sample, size_t size, bool plane) {
  const size_t bound = ZSTD_compressBound(size);
  if (compressed_.size() < bound) compressed_.resize(bound);
  auto n = plane ? CompressPlane(sample, size, compressed_.data(), bound)
                 : Compress(sample, size, compressed_.data(), bound);
  if (!n.ok()) return n.status();
  return static_cast<double>(*n) <= kAutoPlaneRatio * static_cast<double>(size);
}

Result<EncodedChunk> ChunkEncoder::EncodeWhole(const uint8_t* data, size_t size, size_t element_size,
                                               uint8_t* out) {
  const size_t width = PlaneWidthFor(element_size, size);
  const uint8_t* src = data;
  if (width != 0) {
    if (planes_.size() < size) planes_.resize(size);
    SplitBytePlanes(data, size, width, planes_.data());
    src = planes_.data();
  }
  const size_t bound = ZSTD_compressBound(size);
  uint8_t* dst = Output(out, bound);
  auto n = Compress(src, size, dst, bound);
  if (!n.ok()) return n.status();
  if (!Pays(*n, size)) return EncodedChunk{Codec::kRaw, 0, View(data, size)};
  return EncodedChunk{Codec::kZstd, static_cast<uint8_t>(width), View(dst, *n)};
}

Result<EncodedChunk> ChunkEncoder::EncodeAuto(const uint8_t* data, size_t size, size_t element_size,
                                              uint8_t* out_buffer) {
  const EncodedChunk raw{Codec::kRaw, 0, View(data, size)};
  const size_t width = IsPlaneWidth(element_size) && size >= element_size ? element_size : 1;
  const size_t n = size / width;

  // The sample: whole runs of elements, transposed into per-plane runs.
  const size_t run = std::min(kSampleRun, n / kSampleWindows);
  const size_t windows = run == 0 ? 1 : kSampleWindows;
  const size_t len = run == 0 ? n : run;
  const size_t per_plane = len * windows;
  if (sample_.size() < per_plane * width) sample_.resize(per_plane * width);
  for (size_t w = 0; w < windows; ++w) {
    const size_t first = windows == 1 ? 0 : (n - len) * w / (windows - 1);
    const uint8_t* in = data + first * width;
    for (size_t i = 0; i < len; ++i)
      for (size_t k = 0; k < width; ++k) sample_[k * per_plane + w * len + i] = in[i * width + k];
  }
  bool pays[8] = {};
  size_t paying = 0;
  for (size_t k = 0; k < width; ++k) {
    auto p = SamplePays(sample_.data() + k * per_plane, per_plane, width != 1);
    if (!p.ok()) return p.status();
    pays[k] = *p;
    paying += *p ? 1 : 0;
  }
  if (paying == 0) return raw;  // nothing pays: not even a copy
  if (width == 1) return EncodeWhole(data, size, 1, out_buffer);

  // Payload: plane table, raw planes, compressed planes, tail. One split
  // pass puts the raw planes where they belong and the others in planes_.
  const size_t table = width * kPlaneEntryBytes;
  const size_t tail = size % width;
  const size_t raw_end = table + (width - paying) * n;
  const size_t capacity = raw_end + paying * ZSTD_compressBound(n) + tail;
  uint8_t* out = Output(out_buffer, capacity);
  if (planes_.size() < paying * n) planes_.resize(paying * n);
  uint8_t* dst[8];
  for (size_t k = 0, r = 0, c = 0; k < width; ++k)
    dst[k] = pays[k] ? planes_.data() + (c++) * n : out + table + (r++) * n;
  SplitToPlanes(data, n, width, dst);

  size_t pos = raw_end;
  for (size_t k = 0; k < width; ++k) {
    uint32_t stored = static_cast<uint32_t>(n);
    if (pays[k]) {  // a wrong sample can make this frame larger than n; Pays() below bounds the chunk
      auto c = CompressPlane(dst[k], n, out + pos, capacity - pos);
      if (!c.ok()) return c.status();
      stored = static_cast<uint32_t>(*c);
      pos += *c;
    }
    out[k * kPlaneEntryBytes] = pays[k] ? 1 : 0;
    Put32(out + k * kPlaneEntryBytes + 1, stored);
  }
  std::memcpy(out + pos, data + n * width, tail);
  pos += tail;
  if (!Pays(pos, size)) return raw;
  return EncodedChunk{Codec::kPlanes, static_cast<uint8_t>(width), View(out, pos)};
}

ChunkDecoder::ChunkDecoder() : dctx_(ZSTD_createDCtx()) {}

ChunkDecoder::~ChunkDecoder() { ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_)); }

Status ChunkDecoder::Decompress(std::string_view frame, uint8_t* dst, size_t size) {
  if (dctx_ == nullptr) return Status::IOError("zstd: could not create a decompression context");
  const size_t n = ZSTD_decompressDCtx(static_cast<ZSTD_DCtx*>(dctx_), dst, size, frame.data(), frame.size());
  if (ZSTD_isError(n)) return Status::Corruption(std::string("zstd decompress: ") + ZSTD_getErrorName(n));
  if (n != size)
    return Status::Corruption("zstd frame decompressed to " + std::to_string(n) + " bytes, expected " +
                              std::to_string(size));
  return Status::OK();
}

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
  if (codec == Codec::kPlanes) return DecodePlanes(plane_width, payload, out, raw_size);
  if (codec != Codec::kZstd)
    return Status::Corruption("unknown codec " + std::to_string(static_cast<int>(codec)));
  if (plane_width != 0 && !IsPlaneWidth(plane_width))
    return Status::Corruption("bad byte-plane width " + std::to_string(plane_width));
  if (plane_width != 0 && raw_size % plane_width != 0)
    return Status::Corruption("chunk size is not a multiple of its byte-plane width");

  uint8_t* dst = out;
  if (plane_width != 0) {
    if (planes_.size() < raw_size) planes_.resize(raw_size);
    dst = planes_.data();
  }
  CKPT_RETURN_IF_ERROR(Decompress(payload, dst, raw_size));
  if (plane_width != 0) JoinBytePlanes(planes_.data(), raw_size, plane_width, out);
  return Status::OK();
}

Status ChunkDecoder::DecodePlanes(uint8_t width, std::string_view payload, uint8_t* out, size_t raw_size) {
  auto table = ParsePlaneTable(payload, width, raw_size);
  if (!table.ok()) return table.status();
  const size_t n = raw_size / width;
  const auto* p = reinterpret_cast<const uint8_t*>(payload.data());
  size_t compressed = 0;
  for (const PlaneEntry& e : *table) compressed += e.zstd ? 1 : 0;
  if (planes_.size() < compressed * n) planes_.resize(compressed * n);
  // Raw planes are joined straight from the payload; compressed ones are
  // decompressed into planes_ first.
  const uint8_t* src[8];
  size_t raw_pos = width * kPlaneEntryBytes;
  size_t zstd_pos = raw_pos + (width - compressed) * n;
  for (size_t k = 0, c = 0; k < width; ++k) {
    const PlaneEntry& e = (*table)[k];
    if (!e.zstd) {
      src[k] = p + raw_pos;
      raw_pos += n;
      continue;
    }
    uint8_t* plane = planes_.data() + (c++) * n;
    Status s = Decompress(payload.substr(zstd_pos, e.stored), plane, n);
    if (!s.ok()) return Status::Corruption("plane " + std::to_string(k) + ": " + s.message());
    src[k] = plane;
    zstd_pos += e.stored;
  }
  JoinFromPlanes(src, n, width, out);
  std::memcpy(out + n * width, p + zstd_pos, raw_size % width);
  return Status::OK();
}

}  // namespace ckpt
