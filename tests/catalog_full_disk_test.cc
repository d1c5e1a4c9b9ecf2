// The catalog (RocksDB) on a disk that fills up: its writes fail with a
// clear error, it closes without taking the process down, and what it had
// committed is intact once space is freed.
//
// The bug this guards against: RocksDB wrote its diagnostics to a LOG file in
// the store. Once a LOG write had failed for lack of space, the next line
// logged tripped an assertion inside Debian's librocksdb, which is built
// with assertions on, and aborted the training job while the catalog closed
// (example-train on a full tmpfs, seen in CI).
//
// The disk is a small tmpfs mounted for the test (root only; skipped with a
// reason elsewhere).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "store/catalog.h"
#include "test_util.h"

namespace ckpt {
namespace {

class CatalogFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
    mount_point_ = scratch_.Sub("small-fs");
    ASSERT_EQ(::mkdir(mount_point_.c_str(), 0755), 0);
    if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=4m") != 0)
      GTEST_SKIP() << "cannot mount tmpfs here: " << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(mount_point_.c_str(), MNT_DETACH);
  }

  // Writes a file until the disk refuses more.
  void FillTheDisk(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    const std::vector<char> block(64 << 10, 'x');
    for (;;) {
      const ssize_t n = ::write(fd, block.data(), block.size());
      if (n < 0) {
        EXPECT_EQ(errno, ENOSPC) << std::strerror(errno);
        break;
      }
    }
    ::close(fd);
  }

  testing::ScratchDir scratch_;
  std::string mount_point_;
  bool mounted_ = false;
};

TEST_F(CatalogFullDiskTest, WritesFailWithNoSpaceAndTheCatalogClosesCleanly) {
  const std::string dir = mount_point_ + "/catalog";
  const std::string filler = mount_point_ + "/filler";
  {
    auto catalog = Catalog::Open(dir, /*read_only=*/false, /*create=*/true);
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    ASSERT_TRUE((*catalog)->PutRecord("kept", "committed before the disk filled", true).ok());

    FillTheDisk(filler);
    // RocksDB's LOG writer flushes at most every 5 s: after this wait the
    // next line logged is written to the full disk, fails, and the line
    // after it aborted the process when RocksDB kept a LOG in the store.
    ::sleep(6);
    const std::string value(32 << 10, 'v');
    size_t failed = 0;
    for (int i = 0; i < 40; ++i) {
      const std::string key = std::to_string(i);  // "r" + ... trips GCC 12's -Wrestrict
      Status s = (*catalog)->PutRecord(key, value, true);
      if (s.ok()) continue;
      ++failed;
      EXPECT_TRUE(s.IsNoSpace() || s.code() == Status::Code::kIOError) << s.ToString();
    }
    EXPECT_GT(failed, 0u) << "the disk never filled up";
    // Closing here logged a line after a failed one and aborted before.
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/LOG")) << "RocksDB's diagnostics are not written into the store";

  ASSERT_EQ(::unlink(filler.c_str()), 0);
  auto reopened = Catalog::Open(dir, /*read_only=*/false, /*create=*/false);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto kept = (*reopened)->GetRecord("kept");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ(**kept, "committed before the disk filled");
  EXPECT_TRUE((*reopened)->PutRecord("after", "space was freed", true).ok());
}

}  // namespace
}  // namespace ckpt
