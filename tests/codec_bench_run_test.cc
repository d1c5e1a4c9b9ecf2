// Runs the built `ckpt-bench codec` on a small snapshot folder in the layout
// of bench/data/make_snapshots.py (bench/data/README.md) and checks its
// report and the claim of docs/compression.md on float weights: kAuto stores
// fewer bytes than plain zstd level 1 on the raw bytes. Also its usage and
// input errors. Needs the ckpt-bench target built.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::FloatWeights;
using ckpt::testing::RunResult;
using ckpt::testing::RunTool;
using ckpt::testing::ScratchDir;

RunResult RunBench(const ScratchDir& dir, const std::string& args) {
  return RunTool(dir, "ckpt-bench codec", args);
}

void WriteFile(const std::string& path, const void* data, size_t size) {
  std::ofstream(path, std::ios::binary).write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

// One snapshot folder: weight-like fp32 and bf16, small positive exp_avg_sq.
std::string MakeSnapshot(const ScratchDir& dir, const std::string& name) {
  const std::string folder = dir.Sub(name);
  std::filesystem::create_directories(folder);
  const size_t count = 200000;
  const std::vector<float> w = FloatWeights(count, 1);
  const std::vector<float> m = FloatWeights(count, 2, 1e-4f);
  std::vector<float> v(count);
  std::vector<uint16_t> bf16(count);
  for (size_t i = 0; i < count; ++i) {
    v[i] = m[i] * m[i];
    uint32_t bits;
    std::memcpy(&bits, &w[i], 4);
    bf16[i] = static_cast<uint16_t>(bits >> 16);
  }
  WriteFile(folder + "/weights_fp32.f32", w.data(), count * 4);
  WriteFile(folder + "/weights_bf16.bf16", bf16.data(), count * 2);
  WriteFile(folder + "/exp_avg.f32", m.data(), count * 4);
  WriteFile(folder + "/exp_avg_sq.f32", v.data(), count * 4);
  std::ofstream(folder + "/meta.json") << R"({"step": 1, "variant": "pretrain"})";
  return folder;
}

TEST(CodecBenchRun, ReportsEveryKindAndAutoBeatsPlainZstdOnWeights) {
  ScratchDir dir;
  MakeSnapshot(dir, "data/pretrain-step1");
  MakeSnapshot(dir, "data/pretrain-step2");
  const RunResult r = RunBench(dir, "--data " + dir.Sub("data") + " --chunk 256K --repeat 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report.at("chunk_bytes").get<uint64_t>(), 256u << 10);
  const auto& rows = report.at("rows");
  ASSERT_EQ(rows.size(), 2u * 4 + 4);  // 2 snapshots x 4 kinds, then the 4 totals
  for (const auto& row : rows) {
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row.at("off").at("stored_bytes"), row.at("raw_bytes"));
    for (const char* mode : {"on", "auto", "paced", "zstd1"}) {
      EXPECT_GE(row.at(mode).at("ratio").get<double>(), 1.0);
      EXPECT_GT(row.at(mode).at("encode_mbps").get<double>(), 0.0);
    }
    if (row.at("kind") == "weights_fp32" || row.at("kind") == "weights_bf16") {
      EXPECT_LT(row.at("auto").at("stored_bytes").get<uint64_t>(), row.at("zstd1").at("stored_bytes").get<uint64_t>());
    }
  }
  EXPECT_EQ(rows.back().at("snapshot"), "all");
  EXPECT_EQ(rows.back().at("raw_bytes").get<uint64_t>(), 2u * 200000 * 4);
}

TEST(CodecBenchRun, OneSnapshotFolderAndTheTableWork) {
  ScratchDir dir;
  const std::string folder = MakeSnapshot(dir, "one");
  const RunResult r = RunBench(dir, "--data " + folder + " --chunk 256K --repeat 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("weights_bf16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("auto/zstd1"), std::string::npos) << r.out;
}

TEST(CodecBenchRun, UsageErrorsExit2) {
  ScratchDir dir;
  for (const char* args : {"", "--data x --chunk 0", "--data x --chunk 4Q", "--data x --level 0",
                           "--data x --repeat 0", "--data x --disk-mbps 0", "--data x --bogus"}) {
    const RunResult r = RunBench(dir, args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("--help"), std::string::npos) << r.err;
  }
}

TEST(CodecBenchRun, MissingOrIncompleteDataExits3) {
  ScratchDir dir;
  EXPECT_EQ(RunBench(dir, "--data " + dir.Sub("nothing-here")).exit_code, 3);
  std::filesystem::create_directories(dir.Sub("empty"));
  const RunResult empty = RunBench(dir, "--data " + dir.Sub("empty"));
  EXPECT_EQ(empty.exit_code, 3);
  EXPECT_NE(empty.err.find("no snapshot folders"), std::string::npos) << empty.err;
  const std::string folder = MakeSnapshot(dir, "partial");
  std::filesystem::remove(folder + "/exp_avg.f32");
  const RunResult partial = RunBench(dir, "--data " + folder + " --repeat 1");
  EXPECT_EQ(partial.exit_code, 3);
  EXPECT_NE(partial.err.find("exp_avg.f32"), std::string::npos) << partial.err;
}

}  // namespace
}  // namespace ckpt
