// ckptd whose store's disk fills up: the checkpoint that hits it fails with
// kNoSpace on its client, the daemon keeps serving, and once space is freed
// the same daemon and the same client commit again, without a restart.
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "daemon_test_util.h"
#include "small_disk.h"

namespace ckpt::testing {
namespace {

class DaemonFullDiskTest : public SmallDiskTest {
 protected:
  DaemonFullDiskTest() : SmallDiskTest("12m") {}
};

TEST_F(DaemonFullDiskTest, TheDaemonOutlivesAFullDiskAndCommitsAgainOnceSpaceIsFreed) {
  // The socket and the daemon's log live off the small disk.
  DaemonProcess daemon(mount_point_ + "/store", scratch_.Sub("sock"));
  std::vector<uint8_t> data = RandomBytes(1 << 20, 1);
  auto client = OpenClient(DaemonOptions(daemon.socket(), "job"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->protect("w", data.data(), data.size(), ElementType::kBytes).ok());
  auto first = client->checkpoint(1);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->wait_durable().ok()) << first->status().ToString();

  // Another file takes the rest of the disk. New bytes then fail in the
  // segment write; unchanged ones write only their manifest, which fails
  // in the catalog once its log needs room.
  const std::string filler = mount_point_ + "/filler";
  FillWithFile(filler);
  Refill(&data, 2);
  uint64_t step = 1;
  auto changed = client->checkpoint(++step);
  ASSERT_TRUE(changed.ok());
  Status s = changed->wait_durable();
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  Refill(&data, 1);  // back to the committed bytes
  Status failed = CheckpointUntilRefused(*client, &step);
  EXPECT_TRUE(failed.IsNoSpace()) << failed.ToString();
  EXPECT_TRUE(daemon.Running()) << daemon.Log();

  ASSERT_EQ(::unlink(filler.c_str()), 0);
  Refill(&data, 3);
  const std::vector<uint8_t> expected = data;
  auto again = client->checkpoint(++step);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->wait_durable().ok()) << again->status().ToString() << "\nckptd log:\n" << daemon.Log();
  std::fill(data.begin(), data.end(), 0);
  auto restored = client->restore();
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, step);
  EXPECT_EQ(data, expected);
  EXPECT_TRUE(daemon.Running());
}

}  // namespace
}  // namespace ckpt::testing
