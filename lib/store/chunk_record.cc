#include "store/chunk_record.h"

#include <cstring>
#include <string>

namespace ckpt {
namespace {

void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

constexpr size_t kChecksummedBytes = 40;

}  // namespace

void EncodeRecordHeader(const RecordHeader& h, uint8_t out[kRecordHeaderSize]) {
  Put32(out, kRecordMagic);
  out[4] = h.codec == Codec::kPlanes ? kRecordVersionPlanes : kRecordVersion;
  out[5] = static_cast<uint8_t>(h.codec);
  out[6] = h.plane_width;
  out[7] = 0;
  Put32(out + 8, h.raw_len);
  Put32(out + 12, h.stored_len);
  std::memcpy(out + 16, h.hash.bytes.data(), 16);
  Put64(out + 32, h.payload_checksum);
  Put64(out + 40, Checksum64(out, kChecksummedBytes));
}

Status DecodeRecordHeader(const uint8_t in[kRecordHeaderSize], RecordHeader* h) {
  if (Get32(in) != kRecordMagic) return Status::Corruption("bad record magic");
  if (Get64(in + 40) != Checksum64(in, kChecksummedBytes))
    return Status::Corruption("record header checksum mismatch");
  if (in[4] != kRecordVersion && in[4] != kRecordVersionPlanes)
    return Status::Unsupported("record format version " + std::to_string(in[4]));
  if (in[5] > kMaxCodec)
    return Status::Corruption("unknown codec " + std::to_string(in[5]));
  if ((in[5] == static_cast<uint8_t>(Codec::kPlanes)) != (in[4] == kRecordVersionPlanes))
    return Status::Corruption("codec " + std::to_string(in[5]) + " in a version " + std::to_string(in[4]) +
                              " record");
  h->codec = static_cast<Codec>(in[5]);
  h->plane_width = in[6];
  h->raw_len = Get32(in + 8);
  h->stored_len = Get32(in + 12);
  std::memcpy(h->hash.bytes.data(), in + 16, 16);
  h->payload_checksum = Get64(in + 32);
  return Status::OK();
}

}  // namespace ckpt
