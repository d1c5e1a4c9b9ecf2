// The per-checkpoint user-state blob: Client::checkpoint(step, stream,
// user_state), restored_user_state() and CheckpointInfo::user_state.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::OpenClient;
using ckpt::testing::RandomBytes;
using ckpt::testing::ScratchDir;
using ckpt::testing::SmallClientOptions;
using ckpt::testing::kChunk;


void DurableWithState(Client* c, uint64_t step, const std::string& state) {
  auto t = c->checkpoint(step, nullptr, state);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  Status s = t->wait_durable();
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// Binary, with a NUL and bytes that are not UTF-8: the blob is opaque.
constexpr char kState1Bytes[] = "{\"step\": 1, \"rng\": \"\x00\xff\"}";
const std::string kState1(kState1Bytes, sizeof(kState1Bytes) - 1);
const std::string kState2 = "{\"step\": 2, \"loader\": [0, 96]}";

TEST(UserState, RoundTripsThroughRestoreOfEachStep) {
  ScratchDir dir;
  auto data = RandomBytes(3 * kChunk + 100, 1);
  {
    auto c = OpenClient(SmallClientOptions(dir));
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
    DurableWithState(c.get(), 1, kState1);
    DurableWithState(c.get(), 2, kState2);
  }
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_NE(c, nullptr);
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(c->protect("w", back.data(), back.size(), ElementType::kBytes).ok());
  EXPECT_EQ(c->restored_user_state(), "");  // nothing restored yet
  auto newest = c->restore();
  ASSERT_TRUE(newest.ok()) << newest.status().ToString();
  EXPECT_EQ(*newest, 2u);
  EXPECT_EQ(c->restored_user_state(), kState2);
  ASSERT_TRUE(c->restore(1).ok());
  EXPECT_EQ(c->restored_user_state(), kState1);
  EXPECT_EQ(back, data);
}

TEST(UserState, IsVisibleThroughStoreGetAndList) {
  ScratchDir dir;
  auto data = RandomBytes(1000, 2);
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  DurableWithState(c.get(), 7, kState1);
  auto info = c->store()->Get("job", 7);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->user_state, kState1);
  auto all = c->store()->List("job");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].user_state, kState1);
}

TEST(UserState, CheckpointWithoutItCarriesAnEmptyBlob) {
  ScratchDir dir;
  auto data = RandomBytes(1000, 3);
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  DurableWithState(c.get(), 1, kState1);
  auto t = c->checkpoint(2);  // the blob is per checkpoint, not sticky
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->wait_durable().ok());
  ASSERT_TRUE(c->restore().ok());
  EXPECT_EQ(c->restored_user_state(), "");
  EXPECT_EQ(c->store()->Get("job", 2)->user_state, "");
}

TEST(UserState, OverTheLimitIsRefusedAndLosesNothing) {
  ScratchDir dir;
  auto data = RandomBytes(1000, 4);
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  DurableWithState(c.get(), 1, kState1);

  auto refused = c->checkpoint(2, nullptr, std::string(kMaxUserStateBytes + 1, 'x'));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("user state"), std::string::npos)
      << refused.status().ToString();
  EXPECT_TRUE(c->flush().ok());
  EXPECT_EQ(c->latest_step(), 1u);
  EXPECT_EQ(c->store()->Get("job", 1)->user_state, kState1);

  const std::string at_limit(kMaxUserStateBytes, 'y');
  DurableWithState(c.get(), 3, at_limit);
  ASSERT_TRUE(c->restore().ok());
  EXPECT_EQ(c->restored_user_state(), at_limit);
}

TEST(UserState, FailedRestoreKeepsThePreviousBlob) {
  ScratchDir dir;
  auto data = RandomBytes(1000, 5);
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  DurableWithState(c.get(), 1, kState1);
  ASSERT_TRUE(c->restore().ok());
  auto missing = c->restore(99);
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(c->restored_user_state(), kState1);
}

}  // namespace
}  // namespace ckpt
