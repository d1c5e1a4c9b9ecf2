// The deterministic workload of the crash tests: a few regions whose bytes at
// every step are a pure function of (seed, step), so that a process that
// reopens a store after a crash knows exactly what each step must restore to.
// Each step changes a seed-dependent part of the chunks (always at least one,
// so every checkpoint writes a segment); one region never changes.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ckpt/client.h"

namespace ckpt::crash {

inline constexpr uint64_t kSteps = 5;
inline constexpr size_t kChunk = 64 << 10;

struct WorkloadState {
  std::vector<uint8_t> weights = std::vector<uint8_t>(12 * kChunk + 4096);  // f32
  std::vector<uint8_t> optimizer = std::vector<uint8_t>(6 * kChunk);        // bytes
  std::vector<uint8_t> frozen = std::vector<uint8_t>(8 * kChunk);           // f32, never changes

  // Puts the state of `step` (0 = initial) for `seed` into the buffers in place.
  void SetToStep(uint64_t seed, uint64_t step) {
    std::mt19937_64 rng(seed);
    for (auto* buf : {&weights, &optimizer, &frozen})
      for (auto& b : *buf) b = static_cast<uint8_t>(rng() >> 56);
    for (uint64_t s = 1; s <= step; ++s) {
      std::mt19937_64 srng(seed * 1000003 + s);
      for (auto* buf : {&weights, &optimizer}) {
        const size_t chunks = (buf->size() + kChunk - 1) / kChunk;
        const size_t first = srng() % chunks;
        const size_t count = 1 + srng() % chunks;
        for (size_t c = first; c < std::min(chunks, first + count); ++c) {
          const size_t end = std::min(buf->size(), (c + 1) * kChunk);
          for (size_t i = c * kChunk; i < end; i += 97) (*buf)[i] = static_cast<uint8_t>(srng());
        }
      }
    }
  }

  Status Protect(Client* client) {
    CKPT_RETURN_IF_ERROR(client->protect("weights", weights.data(), weights.size(), ElementType::kFloat32));
    CKPT_RETURN_IF_ERROR(client->protect("optimizer", optimizer.data(), optimizer.size(), ElementType::kBytes));
    return client->protect("frozen", frozen.data(), frozen.size(), ElementType::kFloat32);
  }

  bool Equals(const WorkloadState& o) const {
    return weights == o.weights && optimizer == o.optimizer && frozen == o.frozen;
  }
};

inline Options WorkloadOptions(const std::string& store_dir) {
  Options o;
  o.store_dir = store_dir;
  o.job = "crash";
  o.chunk_bytes = kChunk;
  o.staging_bytes = 4 * kChunk;  // smaller than the state: chunks flow through
  return o;
}

}  // namespace ckpt::crash
