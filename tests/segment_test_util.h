// Helpers for tests that write segment files and read them back.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/chunk_hash.h"
#include "store/chunk_record.h"

namespace ckpt::testing {

// The whole file, read with pread (empty when it cannot be opened).
inline std::vector<uint8_t> ReadWholeFile(const std::string& path) {
  std::vector<uint8_t> out;
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return out;
  struct stat st;
  if (::fstat(fd, &st) == 0) {
    out.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    out.resize(done);
  }
  ::close(fd);
  return out;
}

// The header of a raw record holding `payload`.
inline RecordHeader RawHeaderFor(const std::vector<uint8_t>& payload) {
  RecordHeader h;
  h.codec = Codec::kRaw;
  h.raw_len = static_cast<uint32_t>(payload.size());
  h.stored_len = static_cast<uint32_t>(payload.size());
  h.hash = HashChunk(payload.data(), payload.size());
  h.payload_checksum = Checksum64(payload.data(), payload.size());
  return h;
}

// Checks that `file` holds, at `offset`, a record whose header decodes to
// `payload`'s header and whose payload bytes equal `payload`.
inline void ExpectRecordAt(const std::vector<uint8_t>& file, uint64_t offset,
                           const std::vector<uint8_t>& payload) {
  ASSERT_LE(offset + kRecordHeaderSize + payload.size(), file.size()) << "offset " << offset;
  RecordHeader h;
  Status s = DecodeRecordHeader(file.data() + offset, &h);
  ASSERT_TRUE(s.ok()) << "offset " << offset << ": " << s.ToString();
  EXPECT_EQ(h.stored_len, payload.size());
  EXPECT_EQ(h.raw_len, payload.size());
  EXPECT_EQ(h.hash, HashChunk(payload.data(), payload.size()));
  EXPECT_EQ(h.payload_checksum, Checksum64(payload.data(), payload.size()));
  EXPECT_EQ(0, std::memcmp(file.data() + offset + kRecordHeaderSize, payload.data(), payload.size()))
      << "payload at offset " << offset;
}

}  // namespace ckpt::testing
