// Helpers shared by the tests of the `ckpt` command-line tool: running the
// built binary and capturing its output, and building stores through the
// public Client API. Header-only; the including test target defines
// CKPT_BIN_DIR (tests/CMakeLists.txt does so for every test).
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/types.h"
#include "test_util.h"

extern char** environ;

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "missing \"" << (needle) << "\""

namespace ckpt::testing {


// What a run of the tool gave.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs CKPT_BIN_DIR/<tool> <args> through the shell, stdout and stderr
// captured through files in `dir`. For tests whose arguments are fixed
// strings and scratch paths (no quoting concerns).
inline RunResult RunTool(const ScratchDir& dir, const std::string& tool, const std::string& args) {
  const std::string out = dir.Sub("out"), err = dir.Sub("err");
  const std::string cmd =
      std::string(CKPT_BIN_DIR) + "/" + tool + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

// Runs CKPT_BIN_DIR/ckpt with `args`; stdout and stderr go through files, so
// that no pipe can fill up.
inline RunResult RunCkpt(const std::vector<std::string>& args) {
  RunResult result;
  ScratchDir io;
  const std::string out_path = io.Sub("stdout");
  const std::string err_path = io.Sub("stderr");
  const std::string bin = std::string(CKPT_BIN_DIR) + "/ckpt";

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<std::string> words = {bin};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);

  pid_t pid = 0;
  const int rc = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot run " << bin << ": " << std::strerror(rc);
    return result;
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      ADD_FAILURE() << "waitpid: " << std::strerror(errno);
      return result;
    }
  }
  if (WIFEXITED(wstatus)) {
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.exit_code = 128 + WTERMSIG(wstatus);
    ADD_FAILURE() << "ckpt died of signal " << WTERMSIG(wstatus);
  }
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

// The command line and what it gave, for failure messages.
inline std::string Describe(const std::vector<std::string>& args, const RunResult& r) {
  std::string cmd = "ckpt";
  for (const auto& a : args) cmd += " " + a;
  return cmd + "\n--- exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out +
         "--- stderr:\n" + r.err;
}

// One protected region of host memory.
struct Region {
  std::string name;
  ElementType type;
  std::vector<uint8_t> data;
};

// Opens a client on `dir` for `job` (chunks of kChunk bytes), protects
// `regions` and checkpoints each of `steps`, calling before(i, regions)
// before the i-th one (in place: the region buffers must not move) and
// after(step, regions) once it is durable. Either callback may be empty.
inline void CheckpointRegions(
    const std::string& dir, const std::string& job, std::vector<Region>& regions,
    const std::vector<uint64_t>& steps,
    const std::function<void(size_t, std::vector<Region>&)>& before,
    const std::function<void(uint64_t, const std::vector<Region>&)>& after) {
  Options options;
  options.store_dir = dir;
  options.job = job;
  options.chunk_bytes = kChunk;
  options.staging_bytes = 8 * kChunk;
  Result<std::unique_ptr<Client>> client = Client::Open(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  for (Region& region : regions) {
    Status s = (*client)->protect(region.name, region.data.data(), region.data.size(),
                                  region.type);
    ASSERT_TRUE(s.ok()) << region.name << ": " << s.ToString();
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    if (before) before(i, regions);
    Result<Ticket> ticket = (*client)->checkpoint(steps[i]);
    ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
    Status s = ticket->wait_durable();
    ASSERT_TRUE(s.ok()) << "step " << steps[i] << ": " << s.ToString();
    if (after) after(steps[i], regions);
  }
  Status s = (*client)->flush();
  ASSERT_TRUE(s.ok()) << s.ToString();
}

}  // namespace ckpt::testing
