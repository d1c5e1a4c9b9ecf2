// Runs the built `ckpt-bench io` on small sizes and checks its report: every
// field present, sane relations between them (zeros compress, an incremental
// checkpoint writes less than the full one, restore verified), and clear
// usage errors with exit code 2 (needs the ckpt-bench target built).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
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

using ckpt::testing::RunResult;
using ckpt::testing::RunTool;
using ckpt::testing::ScratchDir;

RunResult RunBench(const ScratchDir& dir, const std::string& args) {
  return RunTool(dir, "ckpt-bench io", args);
}

nlohmann::json RunJson(const ScratchDir& dir, const std::string& args) {
  RunResult r = RunBench(dir, args + " --dir " + dir.path() + " --cache-drop files --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

TEST(IoBenchRun, JsonHasEveryFieldAndRestoreIsVerified) {
  ScratchDir dir;
  auto j = RunJson(dir, "--bytes 16M --chunk 256K --staging 2M --compression off --change-fraction 0.1");
  for (const char* k : {"bytes", "stall_s", "copied_s", "durable_s", "written_bytes", "restore_s", "limit_write_s",
                        "limit_read_s", "naive_s", "cache_dropped", "incremental", "ratios", "regions", "memory"})
    EXPECT_TRUE(j.contains(k)) << k;
  for (const char* k : {"change_fraction", "durable_s", "written_bytes"})
    EXPECT_TRUE(j["incremental"].contains(k)) << k;
  for (const char* k : {"stall_vs_naive", "durable_vs_limit_write", "restore_vs_limit_read",
                        "incremental_bytes_vs_full", "incremental_time_vs_full"})
    EXPECT_TRUE(j["ratios"].contains(k)) << k;
  EXPECT_EQ(j["bytes"].get<uint64_t>(), uint64_t{16} << 20);
  EXPECT_TRUE(j["restore_verified"].get<bool>());
  EXPECT_EQ(j["cache_dropped"], "posix_fadvise DONTNEED on the segment files");
  // Uncompressed: everything is written, plus record headers and padding.
  EXPECT_GE(j["written_bytes"].get<uint64_t>(), uint64_t{16} << 20);
  // stall_s is the longer of the two checkpoint() calls; each call returns
  // before its own copy is done.
  const auto& inc = j["incremental"];
  EXPECT_LE(inc["stall_s"].get<double>(), inc["copied_s"].get<double>());
  EXPECT_LE(j["stall_s"].get<double>(),
            std::max(j["copied_s"].get<double>(), inc["copied_s"].get<double>()));
  EXPECT_LE(j["copied_s"].get<double>(), j["durable_s"].get<double>());
  for (const char* k : {"durable_s", "restore_s", "limit_write_s", "limit_read_s", "naive_s"})
    EXPECT_GT(j[k].get<double>(), 0) << k;
  // A small pool: the checkpoint flowed through it, and the bench says so.
  EXPECT_EQ(j["memory"]["staging_pool_bytes"].get<uint64_t>(), uint64_t{2} << 20);
  EXPECT_TRUE(j["memory"].contains("within_pool"));
  // Uncompressed, the run is its own baseline.
  EXPECT_FALSE(j.contains("off_durable_s"));
  EXPECT_FALSE(j["ratios"].contains("durable_vs_off"));
}

TEST(IoBenchRun, CompressedRunMeasuresItsUncompressedBaseline) {
  ScratchDir dir;
  auto j = RunJson(dir, "--bytes 8M --chunk 256K --compression auto --pairs 1");
  ASSERT_TRUE(j.contains("off_durable_s"));
  const double off = j["off_durable_s"].get<double>();
  EXPECT_GT(off, 0);
  EXPECT_DOUBLE_EQ(j["ratios"]["durable_vs_off"].get<double>(), j["durable_s"].get<double>() / off);
  // zstd -1 on the raw bytes, summed over the regions, against what was written.
  uint64_t zstd1 = 0;
  for (const auto& r : j["regions"]) zstd1 += r["zstd1_raw_bytes"].get<uint64_t>();
  EXPECT_EQ(j["zstd1_raw_bytes"].get<uint64_t>(), zstd1);
  EXPECT_GT(zstd1, 0u);
  EXPECT_LT(zstd1, uint64_t{8} << 20);  // float weights compress a little
  EXPECT_DOUBLE_EQ(j["ratios"]["written_vs_zstd1_raw"].get<double>(),
                   static_cast<double>(j["written_bytes"].get<uint64_t>()) / static_cast<double>(zstd1));
  EXPECT_TRUE(j["restore_verified"].get<bool>());
}

TEST(IoBenchRun, PairsGiveTheRatioOfMedianTimes) {
  ScratchDir dir;
  auto j = RunJson(dir, "--bytes 8M --chunk 256K --compression auto --pairs 3");
  ASSERT_TRUE(j.contains("pairs"));
  ASSERT_EQ(j["pairs"].size(), 3u);
  // Pair 1 is the run's own baseline and full checkpoint.
  EXPECT_DOUBLE_EQ(j["pairs"][0]["off_durable_s"].get<double>(), j["off_durable_s"].get<double>());
  EXPECT_DOUBLE_EQ(j["pairs"][0]["durable_s"].get<double>(), j["durable_s"].get<double>());
  std::vector<double> ratios, offs, modes;
  for (const auto& p : j["pairs"]) {
    EXPECT_GT(p["off_durable_s"].get<double>(), 0);
    EXPECT_GT(p["durable_s"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(p["durable_vs_off"].get<double>(), p["durable_s"].get<double>() / p["off_durable_s"].get<double>());
    ratios.push_back(p["durable_vs_off"].get<double>());
    offs.push_back(p["off_durable_s"].get<double>());
    modes.push_back(p["durable_s"].get<double>());
  }
  EXPECT_EQ(j["pairs_faster_than_off"].get<long>(), std::count_if(ratios.begin(), ratios.end(), [](double r) { return r < 1; }));
  // The run's figure: median time against median time uncompressed; the
  // median of the pairs' own ratios beside it.
  std::sort(ratios.begin(), ratios.end());
  std::sort(offs.begin(), offs.end());
  std::sort(modes.begin(), modes.end());
  EXPECT_DOUBLE_EQ(j["ratios"]["durable_vs_off"].get<double>(), modes[1] / offs[1]);
  EXPECT_DOUBLE_EQ(j["ratios"]["durable_vs_off_median_pair"].get<double>(), ratios[1]);
}

TEST(IoBenchRun, ACompressedRunMeasuresNinePairsByDefault) {
  ScratchDir dir;
  auto j = RunJson(dir, "--bytes 4M --chunk 256K --compression auto");
  ASSERT_TRUE(j.contains("pairs"));
  EXPECT_EQ(j["pairs"].size(), 9u);
}

TEST(IoBenchRun, RestoresAlternateWithTheReferenceReadAndGiveTheRatioOfMedians) {
  ScratchDir dir;
  auto j = RunJson(dir, "--bytes 8M --chunk 256K --compression off --restores 3");
  ASSERT_TRUE(j.contains("restores"));
  ASSERT_EQ(j["restores"].size(), 3u);
  std::vector<double> restores, reads;
  for (const auto& r : j["restores"]) {
    EXPECT_GT(r["restore_s"].get<double>(), 0);
    EXPECT_GT(r["limit_read_s"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(r["restore_vs_limit_read"].get<double>(),
                     r["restore_s"].get<double>() / r["limit_read_s"].get<double>());
    restores.push_back(r["restore_s"].get<double>());
    reads.push_back(r["limit_read_s"].get<double>());
  }
  std::sort(restores.begin(), restores.end());
  std::sort(reads.begin(), reads.end());
  EXPECT_DOUBLE_EQ(j["restore_s"].get<double>(), restores[1]);
  EXPECT_DOUBLE_EQ(j["limit_read_s"].get<double>(), reads[1]);
  EXPECT_DOUBLE_EQ(j["ratios"]["restore_vs_limit_read"].get<double>(), restores[1] / reads[1]);
  EXPECT_TRUE(j["restore_verified"].get<bool>());
}

TEST(IoBenchRun, IncrementalWritesOnlyTheChangedChunks) {
  ScratchDir dir;
  auto j = RunJson(dir, "--bytes 16M --chunk 256K --compression off --change-fraction 0.25");
  const auto full = j["written_bytes"].get<uint64_t>();
  const auto& inc = j["incremental"];
  EXPECT_EQ(inc["changed_chunks"].get<uint64_t>(), 16u);  // 64 chunks of 256 KiB
  EXPECT_LT(inc["written_bytes"].get<uint64_t>(), full);
  EXPECT_NEAR(static_cast<double>(inc["written_bytes"].get<uint64_t>()) / static_cast<double>(full), 0.25, 0.02);
}

TEST(IoBenchRun, ZerosCompress) {
  ScratchDir dir;
  auto j = RunJson(dir, "--bytes 16M --data zeros --compression on");
  EXPECT_LT(j["written_bytes"].get<uint64_t>(), uint64_t{1} << 20);
  ASSERT_EQ(j["regions"].size(), 1u);
  EXPECT_GT(j["regions"][0]["ratio"].get<double>(), 100);
}

TEST(IoBenchRun, ReadsAFolderOfSnapshots) {
  ScratchDir dir;
  // Two snapshots of two tensor kinds; the second differs in one region only.
  auto write = [&](const std::string& snap, const std::string& file, size_t bytes, uint64_t seed) {
    std::filesystem::create_directories(dir.Sub("data/" + snap));
    auto bytes_v = ckpt::testing::RandomBytes(bytes, seed);
    std::ofstream(dir.Sub("data/" + snap + "/" + file), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes_v.data()), static_cast<std::streamsize>(bytes_v.size()));
  };
  write("step-0010", "weights_fp32.f32", 1 << 20, 1);
  write("step-0010", "weights_bf16.bf16", 1 << 19, 2);
  write("step-0020", "weights_fp32.f32", 1 << 20, 3);
  write("step-0020", "weights_bf16.bf16", 1 << 19, 2);
  auto j = RunJson(dir, "--data " + dir.Sub("data") + " --chunk 64K --compression auto");
  EXPECT_EQ(j["bytes"].get<uint64_t>(), uint64_t{3} << 19);
  ASSERT_EQ(j["regions"].size(), 2u);
  EXPECT_EQ(j["regions"][0]["name"], "weights_bf16");
  EXPECT_EQ(j["regions"][0]["type"], "bf16");
  EXPECT_EQ(j["regions"][1]["type"], "f32");
  // 16 of 24 chunks changed (the fp32 file).
  EXPECT_NEAR(j["incremental"]["change_fraction"].get<double>(), 16.0 / 24.0, 1e-9);
  EXPECT_TRUE(j["restore_verified"].get<bool>());
  EXPECT_TRUE(j["memory"]["within_pool"].get<bool>()) << j["memory"].dump();
}

TEST(IoBenchRun, TableByDefault) {
  ScratchDir dir;
  RunResult r = RunBench(dir, "--bytes 4M --cache-drop files --dir " + dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("limit write"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("restore (verified bit-exact)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("staging pool"), std::string::npos) << r.out;
}

TEST(IoBenchRun, BadFlagsAreUsageErrors) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--compression fast", "--compression must be off, on or auto"},
      {"--bytes 12Q", "--bytes: unknown unit"},
      {"--bytes lots", "is not a size"},
      {"--change-fraction 1.5", "--change-fraction must be between 0 and 1"},
      {"--cache-drop sometimes", "--cache-drop must be all, files or none"},
      {"--chunk 1000", "--chunk must be a multiple of 4K"},
      {"--pairs 0", "--pairs must be between 1 and 100"},
      {"--pairs 101", "--pairs must be between 1 and 100"},
      {"--restores 0", "--restores must be between 1 and 20"},
      {"--restores 21", "--restores must be between 1 and 20"},
      {"--frobnicate", "unrecognised option"},
      {"stray", "unexpected argument"},
  };
  for (const auto& [args, message] : cases) {
    RunResult r = RunBench(dir, args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
  }
}

TEST(IoBenchRun, MissingDataFolderIsARuntimeError) {
  ScratchDir dir;
  RunResult r = RunBench(dir, "--data " + dir.Sub("nope") + " --dir " + dir.path());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("is not synthetic, zeros, random or a folder"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ckpt
