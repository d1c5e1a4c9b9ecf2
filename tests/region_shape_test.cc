// Region shapes: Client::protect(name, data, bytes, type, shape) records the
// tensor shape in each checkpoint; restore checks it.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::FloatWeights;
using ckpt::testing::OpenClient;
using ckpt::testing::ScratchDir;
using ckpt::testing::SmallClientOptions;
using ckpt::testing::kChunk;


void Durable(Client* c, uint64_t step) {
  auto t = c->checkpoint(step);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_TRUE(t->wait_durable().ok());
}

TEST(RegionShape, IsRecordedInTheCheckpoint) {
  ScratchDir dir;
  auto w = FloatWeights(64 * 300, 1);
  int64_t step_counter = 42;
  std::vector<uint8_t> raw(10);
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32, Shape{64, 300}).ok());
  ASSERT_TRUE(c->protect("step", &step_counter, 8, ElementType::kInt64, Shape{}).ok());
  ASSERT_TRUE(c->protect("raw", raw.data(), raw.size(), ElementType::kBytes).ok());
  const auto regions = c->regions();
  ASSERT_EQ(regions.size(), 3u);
  EXPECT_EQ(regions[0].shape, (Shape{64, 300}));
  EXPECT_EQ(regions[1].shape, Shape{});
  EXPECT_FALSE(regions[2].shape.has_value());
  Durable(c.get(), 5);
  auto info = c->store()->Get("job", 5);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ASSERT_EQ(info->regions.size(), 3u);
  EXPECT_EQ(info->regions[0].shape, (Shape{64, 300}));
  ASSERT_TRUE(info->regions[1].shape.has_value());
  EXPECT_TRUE(info->regions[1].shape->empty());
  EXPECT_FALSE(info->regions[2].shape.has_value());
}

TEST(RegionShape, NotFittingTheBytesIsRefused) {
  ScratchDir dir;
  auto w = FloatWeights(600, 2);
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_NE(c, nullptr);
  for (const Shape& bad : {Shape{599}, Shape{2, 301}, Shape{600, 0}, Shape{},
                           Shape{uint64_t{1} << 40, uint64_t{1} << 40, 600}}) {
    Status s = c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32, bad);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << ShapeString(bad);
    EXPECT_NE(s.message().find("shape"), std::string::npos) << s.ToString();
  }
  EXPECT_TRUE(c->regions().empty());  // nothing half-protected
  EXPECT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32, Shape{2, 3, 100}).ok());
}

TEST(RegionShape, RankAboveTheLimitIsRefused) {
  ScratchDir dir;
  float one = 1;
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_NE(c, nullptr);
  Status s = c->protect("x", &one, 4, ElementType::kFloat32, Shape(kMaxShapeRank + 1, 1));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(c->protect("x", &one, 4, ElementType::kFloat32, Shape(kMaxShapeRank, 1)).ok());
}

TEST(RegionShape, RestoreRefusesAnotherShapeOfTheSameSize) {
  ScratchDir dir;
  auto w = FloatWeights(600, 3);
  {
    auto c = OpenClient(SmallClientOptions(dir));
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32, Shape{20, 30}).ok());
    Durable(c.get(), 1);
  }
  std::vector<float> back(600, 0.0f);
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->protect("w", back.data(), back.size() * 4, ElementType::kFloat32, Shape{30, 20}).ok());
  auto r = c->restore();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("[20, 30]"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(back, std::vector<float>(600, 0.0f));  // nothing written
}

TEST(RegionShape, RestoreWithoutAShapeMatchesBySizeAndType) {
  ScratchDir dir;
  auto w = FloatWeights(600, 4);
  {
    auto c = OpenClient(SmallClientOptions(dir));
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->protect("w", w.data(), w.size() * 4, ElementType::kFloat32, Shape{20, 30}).ok());
    Durable(c.get(), 1);
  }
  std::vector<float> back(600);
  auto c = OpenClient(SmallClientOptions(dir));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->protect("w", back.data(), back.size() * 4, ElementType::kFloat32).ok());
  ASSERT_TRUE(c->restore().ok());
  EXPECT_EQ(back, w);
}

}  // namespace
}  // namespace ckpt
