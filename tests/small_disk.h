// A disk that fills up on demand, for the full-disk tests: a small tmpfs
// mounted for the test (root only; the test is skipped with the reason
// elsewhere), a file that takes whatever space is left on it, and
// checkpoints taken until the full disk refuses one.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"

namespace ckpt::testing {

class SmallDiskTest : public ::testing::Test {
 protected:
  // `size` in tmpfs's syntax, e.g. "12m".
  explicit SmallDiskTest(std::string size) : size_(std::move(size)) {}

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a " << size_ << " tmpfs";
    mount_point_ = scratch_.Sub("small-fs");
    ASSERT_EQ(::mkdir(mount_point_.c_str(), 0755), 0);
    const std::string data = "size=" + size_;
    if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, data.c_str()) != 0)
      GTEST_SKIP() << "cannot mount tmpfs here: " << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(mount_point_.c_str(), MNT_DETACH);
  }

  // Writes `path` (on the small disk) until the disk refuses more.
  static void FillWithFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
    const std::vector<char> block(64 << 10, 'x');
    for (;;) {
      if (::write(fd, block.data(), block.size()) < 0) {
        EXPECT_EQ(errno, ENOSPC) << std::strerror(errno);
        break;
      }
    }
    ::close(fd);
  }

  // Checkpoints steps *step + 1, *step + 2, ... (up to 200) until one is
  // refused; returns why, and leaves *step at the refused one.
  static Status CheckpointUntilRefused(Client& client, uint64_t* step) {
    Status refused;
    while (refused.ok() && *step < 200) {
      auto t = client.checkpoint(++*step);
      if (!t.ok()) {
        ADD_FAILURE() << "checkpoint() itself failed: " << t.status().ToString();
        return t.status();
      }
      refused = t->wait_durable();
    }
    return refused;
  }

  ScratchDir scratch_;
  std::string mount_point_;

 private:
  const std::string size_;
  bool mounted_ = false;
};

}  // namespace ckpt::testing
