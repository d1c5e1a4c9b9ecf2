// The tools facing a store of another format version, or an output path
// they cannot write: a clear message and exit code 3, nothing changed.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "test_util.h"

namespace ckpt {
namespace {

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

CliRun Ckpt(const std::string& args) {
  CliRun r;
  FILE* p = ::popen((std::string(CKPT_BIN_DIR) + "/ckpt " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string MakeStore(const testing::ScratchDir& dir) {
  Options o;
  o.store_dir = dir.Sub("store");
  o.job = "job1";
  o.chunk_bytes = 64 << 10;
  o.staging_bytes = 256 << 10;
  std::vector<uint8_t> data = testing::RandomBytes(100 << 10, 1);
  auto c = Client::Open(o);
  EXPECT_TRUE(c.ok());
  EXPECT_TRUE((*c)->protect("r", data.data(), data.size(), ElementType::kBytes).ok());
  EXPECT_TRUE((*c)->checkpoint(1)->wait_durable().ok());
  return o.store_dir;
}

TEST(BadStoreCli, StoreOfAnotherFormatVersionIsRefusedByEveryTool) {
  testing::ScratchDir dir;
  const std::string store = MakeStore(dir);
  std::ofstream(store + "/CKPT_STORE", std::ios::trunc) << "ckpt-store-format 2\n";
  for (const std::string& cmd : std::vector<std::string>{"ls --store " + store, "verify --store " + store + " --job job1",
                                "restore --store " + store + " --job job1 --out " + dir.Sub("out"),
                                "gc --store " + store + " --job job1 --keep-last 1"}) {
    const CliRun r = Ckpt(cmd);
    EXPECT_EQ(r.code, 3) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find("ckpt-store-format 2"), std::string::npos) << cmd << "\n" << r.output;
  }
}

TEST(BadStoreCli, RestoreToAnOutputPathThatCannotBeADirectoryFails) {
  testing::ScratchDir dir;
  const std::string store = MakeStore(dir);
  const std::string file = dir.Sub("a-file");
  std::ofstream(file) << "x";
  const CliRun r = Ckpt("restore --store " + store + " --job job1 --out " + file + "/sub");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find(file), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ckpt
