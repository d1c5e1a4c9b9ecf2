// Tests of the C API (ckpt/c.h). They use only the C header's functions, as an
// FFI user would; c_api_header_check.c additionally compiles the header as C.
#include "ckpt/c.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "c_api_header_check.h"
#include "test_util.h"

namespace {

using ckpt::testing::FloatWeights;
using ckpt::testing::RandomBytes;
using ckpt::testing::ScratchDir;

constexpr size_t kChunk = size_t{64} << 10;

// Owns an error message from the C API.
class Error {
 public:
  Error() = default;
  ~Error() { ckpt_free(message_); }
  Error(const Error&) = delete;
  Error& operator=(const Error&) = delete;

  char** ptr() { return &message_; }
  bool set() const { return message_ != nullptr; }
  std::string str() const { return message_ == nullptr ? "(none)" : message_; }
  bool StartsWith(const std::string& prefix) const {
    return message_ != nullptr && std::string(message_).rfind(prefix, 0) == 0;
  }
  void Clear() {
    ckpt_free(message_);
    message_ = nullptr;
  }

 private:
  char* message_ = nullptr;
};

ckpt_options_t* SmallOptions(const std::string& dir, const char* job) {
  ckpt_options_t* options = ckpt_options_create();
  ckpt_options_set_store_dir(options, dir.c_str());
  ckpt_options_set_job(options, job);
  ckpt_options_set_chunk_bytes(options, kChunk);
  ckpt_options_set_staging_bytes(options, 4 * kChunk);
  ckpt_options_set_compression(options, CKPT_COMPRESSION_ZSTD);
  ckpt_options_set_zstd_level(options, 1);
  return options;
}

ckpt_client_t* OpenClient(const std::string& dir, const char* job) {
  ckpt_options_t* options = SmallOptions(dir, job);
  Error err;
  ckpt_client_t* client = ckpt_client_open(options, err.ptr());
  ckpt_options_destroy(options);
  EXPECT_FALSE(err.set()) << err.str();
  EXPECT_NE(client, nullptr);
  return client;
}

// The state of a small training job: float weights and opaque bytes.
struct State {
  std::vector<float> weights = FloatWeights(3 * kChunk / 4 + 100, 1);  // 3+ chunks
  std::vector<uint8_t> extra = RandomBytes(1000, 2);
};

void Protect(ckpt_client_t* client, State* state) {
  Error err;
  ckpt_client_protect(client, "weights", state->weights.data(),
                      state->weights.size() * sizeof(float), CKPT_TYPE_F32, err.ptr());
  ASSERT_FALSE(err.set()) << err.str();
  ckpt_client_protect(client, "extra", state->extra.data(), state->extra.size(), CKPT_TYPE_BYTES,
                      err.ptr());
  ASSERT_FALSE(err.set()) << err.str();
}

// Checkpoints `step` and waits until it is durable.
void CheckpointDurable(ckpt_client_t* client, uint64_t step) {
  Error err;
  ckpt_ticket_t* ticket = ckpt_client_checkpoint(client, step, err.ptr());
  ASSERT_FALSE(err.set()) << err.str();
  ASSERT_NE(ticket, nullptr);
  EXPECT_EQ(ckpt_ticket_step(ticket), step);
  ckpt_ticket_wait_copied(ticket, err.ptr());
  EXPECT_FALSE(err.set()) << err.str();
  EXPECT_EQ(ckpt_ticket_copied(ticket), 1);
  ckpt_ticket_wait_durable(ticket, err.ptr());
  EXPECT_FALSE(err.set()) << err.str();
  EXPECT_EQ(ckpt_ticket_durable(ticket), 1);
  EXPECT_EQ(ckpt_ticket_finished(ticket), 1);
  ckpt_ticket_status(ticket, err.ptr());
  EXPECT_FALSE(err.set()) << err.str();
  ckpt_ticket_destroy(ticket);
}

TEST(CApi, CheckpointThenRestoreLatestAndNamedStep) {
  ScratchDir dir;
  State saved10;
  State saved20;
  {
    ckpt_client_t* client = OpenClient(dir.path(), "run");
    ASSERT_NE(client, nullptr);
    State state;
    ASSERT_NO_FATAL_FAILURE(Protect(client, &state));
    uint64_t latest = 7;
    EXPECT_EQ(ckpt_client_latest_step(client, &latest), 0);
    EXPECT_EQ(latest, 7u) << "untouched when there is no checkpoint";

    Error err;
    ckpt_ticket_t* ticket = ckpt_client_checkpoint(client, 10, err.ptr());
    ASSERT_NE(ticket, nullptr) << err.str();
    ckpt_ticket_wait_durable(ticket, err.ptr());
    ASSERT_FALSE(err.set()) << err.str();
    EXPECT_EQ(ckpt_ticket_logical_bytes(ticket),
              state.weights.size() * sizeof(float) + state.extra.size());
    EXPECT_GT(ckpt_ticket_written_bytes(ticket), 0u);
    ckpt_ticket_destroy(ticket);
    saved10 = state;

    state.weights[5] = 42.0f;
    state.extra[999] ^= 0xff;
    ASSERT_NO_FATAL_FAILURE(CheckpointDurable(client, 20));
    saved20 = state;
    ckpt_client_flush(client, err.ptr());
    EXPECT_FALSE(err.set()) << err.str();
    ckpt_client_close(client);
  }

  ckpt_client_t* client = OpenClient(dir.path(), "run");
  ASSERT_NE(client, nullptr);
  State state;
  std::fill(state.weights.begin(), state.weights.end(), 0.0f);
  std::fill(state.extra.begin(), state.extra.end(), 0);
  ASSERT_NO_FATAL_FAILURE(Protect(client, &state));
  uint64_t latest = 0;
  ASSERT_EQ(ckpt_client_latest_step(client, &latest), 1);
  EXPECT_EQ(latest, 20u);

  Error err;
  EXPECT_EQ(ckpt_client_restore_latest(client, err.ptr()), 20u);
  ASSERT_FALSE(err.set()) << err.str();
  EXPECT_EQ(state.weights, saved20.weights);
  EXPECT_EQ(state.extra, saved20.extra);

  ckpt_client_restore_step(client, 10, err.ptr());
  ASSERT_FALSE(err.set()) << err.str();
  EXPECT_EQ(state.weights, saved10.weights);
  EXPECT_EQ(state.extra, saved10.extra);

  ckpt_client_restore_step(client, 15, err.ptr());
  EXPECT_TRUE(err.StartsWith("not found: ")) << err.str();
  ckpt_client_close(client);
}

TEST(CApi, ShouldCheckpointFollowsTheInterval) {
  ScratchDir dir;
  ckpt_options_t* options = SmallOptions(dir.path(), "every5");
  ckpt_options_set_checkpoint_every_steps(options, 5);
  Error err;
  ckpt_client_t* client = ckpt_client_open(options, err.ptr());
  ckpt_options_destroy(options);
  ASSERT_NE(client, nullptr) << err.str();
  EXPECT_EQ(ckpt_client_should_checkpoint(client, 5), 1);
  EXPECT_EQ(ckpt_client_should_checkpoint(client, 10), 1);
  EXPECT_EQ(ckpt_client_should_checkpoint(client, 3), 0);
  ckpt_client_close(client);
}

TEST(CApi, ErrorsAreReportedThroughErrptr) {
  ScratchDir dir;
  Error err;

  // Bad options: no job.
  ckpt_options_t* options = SmallOptions(dir.path(), "");
  EXPECT_EQ(ckpt_client_open(options, err.ptr()), nullptr);
  EXPECT_TRUE(err.StartsWith("invalid argument: ")) << err.str();
  // An unknown compression value.
  ckpt_options_set_job(options, "job");
  ckpt_options_set_compression(options, 7);
  EXPECT_EQ(ckpt_client_open(options, err.ptr()), nullptr);  // replaces the old message
  EXPECT_TRUE(err.StartsWith("invalid argument: unknown compression 7")) << err.str();
  err.Clear();
  ckpt_options_destroy(options);

  ckpt_client_t* client = OpenClient(dir.path(), "job");
  ASSERT_NE(client, nullptr);
  // Nothing protected yet.
  EXPECT_EQ(ckpt_client_checkpoint(client, 1, err.ptr()), nullptr);
  EXPECT_TRUE(err.StartsWith("failed precondition: ")) << err.str();
  err.Clear();
  // No checkpoint to restore.
  std::vector<float> w(1024, 1.0f);
  ckpt_client_protect(client, "w", w.data(), w.size() * sizeof(float), CKPT_TYPE_F32, err.ptr());
  ASSERT_FALSE(err.set()) << err.str();
  EXPECT_EQ(ckpt_client_restore_latest(client, err.ptr()), 0u);
  EXPECT_TRUE(err.StartsWith("not found: ")) << err.str();
  err.Clear();
  // Unknown element type, name taken, size no multiple of the element size.
  ckpt_client_protect(client, "v", w.data(), 16, 99, err.ptr());
  EXPECT_TRUE(err.StartsWith("invalid argument: region 'v': unknown element type 99"))
      << err.str();
  err.Clear();
  ckpt_client_protect(client, "w", w.data(), 16, CKPT_TYPE_F32, err.ptr());
  EXPECT_TRUE(err.set());
  err.Clear();
  ckpt_client_protect(client, "odd", w.data(), 6, CKPT_TYPE_F32, err.ptr());
  EXPECT_TRUE(err.StartsWith("invalid argument: ")) << err.str();
  err.Clear();
  ckpt_client_close(client);

  // NULL handles are errors, not crashes.
  ckpt_client_flush(nullptr, err.ptr());
  EXPECT_TRUE(err.StartsWith("invalid argument: client is NULL")) << err.str();
  err.Clear();
  EXPECT_EQ(ckpt_client_open(nullptr, err.ptr()), nullptr);
  EXPECT_TRUE(err.set());
  ckpt_client_close(nullptr);
  ckpt_ticket_destroy(nullptr);
  ckpt_store_close(nullptr);
  ckpt_checkpoint_list_destroy(nullptr);
  ckpt_fault_list_destroy(nullptr);
}

TEST(CApi, StoreListsAndVerifiesCheckpoints) {
  ScratchDir dir;
  {
    ckpt_client_t* client = OpenClient(dir.path(), "a");
    ASSERT_NE(client, nullptr);
    State state;
    ASSERT_NO_FATAL_FAILURE(Protect(client, &state));
    ASSERT_NO_FATAL_FAILURE(CheckpointDurable(client, 100));
    state.weights[0] = 1.5f;
    ASSERT_NO_FATAL_FAILURE(CheckpointDurable(client, 200));
    ckpt_client_close(client);
    client = OpenClient(dir.path(), "b");
    ASSERT_NE(client, nullptr);
    std::vector<int64_t> counters(10, 3);
    Error err;
    ckpt_client_protect(client, "counters", counters.data(), counters.size() * 8, CKPT_TYPE_I64,
                        err.ptr());
    ASSERT_FALSE(err.set()) << err.str();
    ASSERT_NO_FATAL_FAILURE(CheckpointDurable(client, 5));
    ckpt_client_close(client);
  }

  Error err;
  EXPECT_EQ(ckpt_store_open_read_only(dir.Sub("nothing").c_str(), err.ptr()), nullptr);
  EXPECT_TRUE(err.StartsWith("not found: ")) << err.str();
  err.Clear();

  ckpt_store_t* store = ckpt_store_open_read_only(dir.path().c_str(), err.ptr());
  ASSERT_NE(store, nullptr) << err.str();

  ckpt_checkpoint_list_t* list = ckpt_store_list(store, "a", err.ptr());
  ASSERT_NE(list, nullptr) << err.str();
  ASSERT_EQ(ckpt_checkpoint_list_count(list), 2u);
  EXPECT_STREQ(ckpt_checkpoint_list_job(list, 0), "a");
  EXPECT_EQ(ckpt_checkpoint_list_step(list, 0), 100u);
  EXPECT_EQ(ckpt_checkpoint_list_step(list, 1), 200u);
  EXPECT_GT(ckpt_checkpoint_list_created_unix_ms(list, 1), 0);
  const State state;
  EXPECT_EQ(ckpt_checkpoint_list_logical_bytes(list, 1),
            state.weights.size() * sizeof(float) + state.extra.size());
  EXPECT_GT(ckpt_checkpoint_list_written_bytes(list, 0), 0u);
  ASSERT_EQ(ckpt_checkpoint_list_region_count(list, 0), 2u);
  bool saw_weights = false;
  for (size_t r = 0; r < 2; ++r) {
    const std::string name = ckpt_checkpoint_list_region_name(list, 0, r);
    if (name == "weights") {
      saw_weights = true;
      EXPECT_EQ(ckpt_checkpoint_list_region_type(list, 0, r), CKPT_TYPE_F32);
      EXPECT_EQ(ckpt_checkpoint_list_region_bytes(list, 0, r),
                state.weights.size() * sizeof(float));
    } else {
      EXPECT_EQ(name, "extra");
      EXPECT_EQ(ckpt_checkpoint_list_region_type(list, 0, r), CKPT_TYPE_BYTES);
    }
  }
  EXPECT_TRUE(saw_weights);
  // Out of range: zero values, never a crash.
  EXPECT_EQ(ckpt_checkpoint_list_job(list, 2), nullptr);
  EXPECT_EQ(ckpt_checkpoint_list_region_name(list, 0, 2), nullptr);
  EXPECT_EQ(ckpt_checkpoint_list_region_type(list, 5, 0), -1);
  ckpt_checkpoint_list_destroy(list);

  list = ckpt_store_list(store, nullptr, err.ptr());  // every job
  ASSERT_NE(list, nullptr) << err.str();
  EXPECT_EQ(ckpt_checkpoint_list_count(list), 3u);
  ckpt_checkpoint_list_destroy(list);

  ckpt_fault_list_t* faults = ckpt_store_verify(store, "a", 200, err.ptr());
  ASSERT_NE(faults, nullptr) << err.str();
  EXPECT_EQ(ckpt_fault_list_count(faults), 0u);
  ckpt_fault_list_destroy(faults);

  EXPECT_EQ(ckpt_store_verify(store, "a", 300, err.ptr()), nullptr);
  EXPECT_TRUE(err.StartsWith("not found: ")) << err.str();
  err.Clear();
  ckpt_store_close(store);
}

TEST(CApi, VerifyNamesTheDamagedChunk) {
  ScratchDir dir;
  {
    ckpt_client_t* client = OpenClient(dir.path(), "job");
    ASSERT_NE(client, nullptr);
    std::vector<uint8_t> data = RandomBytes(2 * kChunk, 9);
    Error err;
    ckpt_client_protect(client, "data", data.data(), data.size(), CKPT_TYPE_BYTES, err.ptr());
    ASSERT_FALSE(err.set()) << err.str();
    ASSERT_NO_FATAL_FAILURE(CheckpointDurable(client, 1));
    ckpt_client_close(client);
  }
  // Flip a byte inside the first stored chunk of the only segment file.
  std::string segment;
  for (const auto& entry : std::filesystem::directory_iterator(dir.Sub("segments"))) {
    if (entry.is_regular_file()) segment = entry.path().string();
  }
  ASSERT_FALSE(segment.empty());
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.is_open());
    f.seekg(100);
    char c = 0;
    ASSERT_TRUE(f.get(c));
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x5a));
  }

  Error err;
  ckpt_store_t* store = ckpt_store_open_read_only(dir.path().c_str(), err.ptr());
  ASSERT_NE(store, nullptr) << err.str();
  ckpt_fault_list_t* faults = ckpt_store_verify(store, "job", 1, err.ptr());
  ASSERT_NE(faults, nullptr) << err.str();
  ASSERT_GE(ckpt_fault_list_count(faults), 1u);
  EXPECT_STREQ(ckpt_fault_list_region(faults, 0), "data");
  EXPECT_EQ(ckpt_fault_list_chunk_index(faults, 0), 0u);
  const std::string described = ckpt_fault_list_describe(faults, 0);
  EXPECT_NE(described.find("region 'data' chunk 0"), std::string::npos) << described;
  EXPECT_EQ(ckpt_fault_list_describe(faults, 99), nullptr);
  ckpt_fault_list_destroy(faults);
  ckpt_store_close(store);
}

TEST(CApi, ConstantsAndVersion) {
  EXPECT_EQ(ckpt_element_size(CKPT_TYPE_BYTES), 1u);
  EXPECT_EQ(ckpt_element_size(CKPT_TYPE_U8), 1u);
  EXPECT_EQ(ckpt_element_size(CKPT_TYPE_BF16), 2u);
  EXPECT_EQ(ckpt_element_size(CKPT_TYPE_F16), 2u);
  EXPECT_EQ(ckpt_element_size(CKPT_TYPE_I32), 4u);
  EXPECT_EQ(ckpt_element_size(CKPT_TYPE_F64), 8u);
  EXPECT_EQ(ckpt_element_size(13), 0u);
  EXPECT_EQ(ckpt_element_size(-1), 0u);
  ASSERT_NE(ckpt_version(), nullptr);
  EXPECT_GT(std::strlen(ckpt_version()), 0u);
}

TEST(CApi, HeaderCompilesAndWorksAsC) {
  ScratchDir dir;
  EXPECT_EQ(ckpt_c_header_check(dir.Sub("no-store").c_str()), 0);
}

}  // namespace
