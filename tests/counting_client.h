// A client whose host copy engine counts its copies into staging, for tests
// that check which chunks are copied and which are found in place.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "ckpt/client.h"
#include "client/testing_hooks.h"
#include "test_util.h"

namespace ckpt::testing {

struct CountingClient {
  // simulate_device: every region is device memory (never hashed or
  // inspected in place, always copied).
  explicit CountingClient(const Options& o, bool simulate_device = false) {
    HostCopyEngineOptions eo;
    eo.stats = stats;
    eo.simulate_device = simulate_device;
    ScopedCopyEngineFactory use([eo] { return NewHostCopyEngine(eo); });
    client = OpenClient(o);
  }
  uint64_t copies() const { return stats->to_staging.load(); }

  std::shared_ptr<HostCopyEngineStats> stats = std::make_shared<HostCopyEngineStats>();
  std::unique_ptr<Client> client;
};

// Takes checkpoint `step` and waits until it is durable, recording a test
// failure on error; its stats (empty on error).
inline CheckpointStats CheckpointDurably(Client& c, uint64_t step) {
  auto t = c.checkpoint(step);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return {};
  EXPECT_TRUE(t->wait_durable().ok()) << t->status().ToString();
  return t->stats();
}

}  // namespace ckpt::testing
