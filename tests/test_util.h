// Helpers shared by the test suites: scratch directories and test data.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "ckpt/client.h"

namespace ckpt::testing {

// A fresh directory under $TMPDIR (or /tmp), removed when the object dies.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ckpt-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    const char* made = mkdtemp(buf.data());
    if (made == nullptr) {
      ADD_FAILURE() << "mkdtemp failed for " << tmpl;
    } else {
      path_ = made;
    }
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Deterministic pseudo-random bytes.
inline std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed) {
  std::vector<uint8_t> out(n);
  std::mt19937_64 rng(seed);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    __builtin_memcpy(out.data() + i, &v, 8);
  }
  for (; i < n; ++i) out[i] = static_cast<uint8_t>(rng());
  return out;
}

// New deterministic content in place: a protected region's memory must stay
// where it was protected.
inline void Refill(std::vector<uint8_t>* v, uint64_t seed) {
  const std::vector<uint8_t> fresh = RandomBytes(v->size(), seed);
  std::copy(fresh.begin(), fresh.end(), v->begin());
}

// float32 values as a trained network holds them (normal, small magnitude).
inline std::vector<float> FloatWeights(size_t count, uint64_t seed, float stddev = 0.02f) {
  std::vector<float> out(count);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  for (auto& v : out) v = dist(rng);
  return out;
}

// Smallest chunk size: many chunks, small data.
inline constexpr size_t kChunk = size_t{64} << 10;

// A client of job "job" in DIR/store with 64 KiB chunks and an 8-chunk
// staging pool: small enough that tests cross chunk and pool boundaries.
inline Options SmallClientOptions(const ScratchDir& dir) {
  Options o;
  o.store_dir = dir.Sub("store");
  o.job = "job";
  o.chunk_bytes = kChunk;
  o.staging_bytes = 8 * kChunk;
  return o;
}

// Damages one byte of a file in place (XOR with `mask`): for tests that
// check the damage is caught. Call it under ASSERT_NO_FATAL_FAILURE.
inline void FlipByte(const std::string& path, uint64_t offset, uint8_t mask = 0x20) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.is_open()) << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  ASSERT_TRUE(f.get(c)) << path << " has no byte " << offset;
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ static_cast<char>(mask)));
  f.close();
  ASSERT_FALSE(f.fail()) << path;
}

// Opens a client, recording a test failure (and returning null) on error.
inline std::unique_ptr<Client> OpenClient(const Options& o) {
  auto c = Client::Open(o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  if (!c.ok()) return nullptr;
  return std::move(c).value();
}

}  // namespace ckpt::testing
