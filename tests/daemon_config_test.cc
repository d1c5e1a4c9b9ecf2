// ckptd's command line and config file: every setting may come from either,
// bad values are refused with a usage error (exit 2).
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>

#include "cli_runner.h"
#include "daemon_test_util.h"

namespace ckpt::testing {
namespace {

int RunCkptd(const std::string& args, const std::string& err_file) {
  const std::string cmd = std::string(CKPT_BIN_DIR) + "/ckptd " + args + " 2>" + err_file + " >/dev/null";
  return WEXITSTATUS(std::system(cmd.c_str()));
}

TEST(DaemonConfig, EverySettingCanComeFromTheConfigFile) {
  ScratchDir dir;
  const std::string socket = dir.Sub("sock");
  std::ofstream(dir.Sub("ckptd.conf")) << "store = " << dir.Sub("store") << "\n"
                                       << "socket = " << socket << "\n"
                                       << "socket-mode = 0600\n"
                                       << "max-staging-bytes = 262144\n"
                                       << "log-level = debug\n";
  DaemonProcess daemon("", socket, {"--config", dir.Sub("ckptd.conf")});
  struct stat st{};
  ASSERT_EQ(::stat(socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A job asking for 8 MiB of staging gets the configured 256 KiB.
  Options o = DaemonOptions(socket, "job");
  o.staging_bytes = size_t{8} << 20;
  auto client = OpenClient(o);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(Eventually([&] { return daemon.Log().find("4 staging slots") != std::string::npos; }, 5))
      << daemon.Log();
}

TEST(DaemonConfig, MissingStoreOrSocketIsAUsageError) {
  ScratchDir dir;
  EXPECT_EQ(RunCkptd("--socket " + dir.Sub("s"), dir.Sub("err")), 2);
  EXPECT_CONTAINS(ReadFile(dir.Sub("err")), "--store is required");
  EXPECT_EQ(RunCkptd("--store " + dir.Sub("store"), dir.Sub("err")), 2);
  EXPECT_CONTAINS(ReadFile(dir.Sub("err")), "--socket is required");
}

TEST(DaemonConfig, BadValuesAreUsageErrors) {
  ScratchDir dir;
  const std::string base = "--store " + dir.Sub("store") + " --socket " + dir.Sub("s");
  EXPECT_EQ(RunCkptd(base + " --socket-mode 999", dir.Sub("err")), 2);
  EXPECT_CONTAINS(ReadFile(dir.Sub("err")), "--socket-mode must be octal");
  EXPECT_EQ(RunCkptd(base + " --log-level loud", dir.Sub("err")), 2);
  EXPECT_CONTAINS(ReadFile(dir.Sub("err")), "--log-level");
  EXPECT_EQ(RunCkptd(base + " --config " + dir.Sub("missing.conf"), dir.Sub("err")), 2);
  EXPECT_CONTAINS(ReadFile(dir.Sub("err")), "cannot read config file");
  EXPECT_EQ(RunCkptd(base + " --no-such-flag", dir.Sub("err")), 2);
}

TEST(DaemonConfig, HelpListsEverySetting) {
  ScratchDir dir;
  const std::string cmd = std::string(CKPT_BIN_DIR) + "/ckptd --help >" + dir.Sub("out");
  ASSERT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 0);
  const std::string out = ReadFile(dir.Sub("out"));
  for (const char* setting : {"--store", "--socket", "--socket-mode", "--max-staging-bytes", "--max-sessions",
                              "--shutdown-grace-seconds", "--direct-io", "--log-level", "--config"})
    EXPECT_CONTAINS(out, setting);
}

}  // namespace
}  // namespace ckpt::testing
