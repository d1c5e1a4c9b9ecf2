// Tests of the `ckpt` command-line tool: they build stores through the public
// Client API, run the built binary and check exit codes, output and files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "ckpt/types.h"
#include "cli_runner.h"
#include "test_util.h"

namespace ckpt {
namespace {

namespace fs = std::filesystem;
using ckpt::testing::CheckpointRegions;
using ckpt::testing::Describe;
using ckpt::testing::FlipByte;
using ckpt::testing::FloatWeights;
using ckpt::testing::kChunk;
using ckpt::testing::RandomBytes;
using ckpt::testing::ReadFile;
using ckpt::testing::Region;
using ckpt::testing::RunCkpt;
using ckpt::testing::RunResult;
using ckpt::testing::ScratchDir;
using json = nlohmann::json;

std::vector<uint8_t> ReadBytes(const std::string& path) {
  const std::string s = ReadFile(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

// Bytes of every region at every committed step.
using Snapshots = std::map<uint64_t, std::vector<std::vector<uint8_t>>>;

// Checkpoints `regions` at each of `steps` (see CheckpointRegions), calling
// mutate(i, regions) before the i-th one, and records the bytes of every step.
void WriteCheckpoints(const std::string& dir, const std::string& job,
                      std::vector<Region>& regions, const std::vector<uint64_t>& steps,
                      const std::function<void(size_t, std::vector<Region>&)>& mutate,
                      Snapshots* snapshots) {
  CheckpointRegions(dir, job, regions, steps, mutate,
                    [snapshots](uint64_t step, const std::vector<Region>& done) {
                      if (snapshots == nullptr) return;
                      auto& copy = (*snapshots)[step];
                      for (const Region& region : done) copy.push_back(region.data);
                    });
}

std::vector<uint8_t> AsBytes(const std::vector<float>& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  return std::vector<uint8_t>(p, p + v.size() * sizeof(float));
}

// The standard test store: job "train" with steps 100, 200, 300 of
//   "weights"          f32, 256 KiB (4 chunks), one chunk changed per step
//   "optimizer/state"  bytes, 100 KiB + 10 B (2 chunks), never changed
constexpr uint64_t kWeightsBytes = 256 << 10;
constexpr uint64_t kStateBytes = (100 << 10) + 10;

void MakeStandardStore(const std::string& dir, Snapshots* snapshots) {
  std::vector<Region> regions = {
      {"weights", ElementType::kFloat32, AsBytes(FloatWeights(kWeightsBytes / 4, 1))},
      {"optimizer/state", ElementType::kBytes, RandomBytes(kStateBytes, 2)},
  };
  WriteCheckpoints(
      dir, "train", regions, {100, 200, 300},
      [](size_t i, std::vector<Region>& r) {
        if (i == 0) return;
        // Change a few floats inside chunk i of "weights".
        auto fresh = AsBytes(FloatWeights(16, 100 + i));
        std::copy(fresh.begin(), fresh.end(), r[0].data.begin() + i * kChunk + 128);
      },
      snapshots);
}

// Segment files of a store, oldest first (names are increasing hex ids).
std::vector<std::string> SegmentFiles(const std::string& store) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(store + "/segments")) {
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ExpectedIsoTime(int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof(ms), ".%03dZ", static_cast<int>(unix_ms % 1000));
  return std::string(buf) + ms;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ---------------------------------------------------------------- usage ----

TEST(CkptCliUsage, NoArgumentsPrintsUsageOnStderrAndExits2) {
  const RunResult r = RunCkpt({});
  EXPECT_EQ(r.exit_code, 2) << Describe({}, r);
  EXPECT_CONTAINS(r.err, "Usage: ckpt");
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CkptCliUsage, HelpListsSubcommandsAndExitCodes) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"},
                                              std::vector<std::string>{"help"}}) {
    const RunResult r = RunCkpt(args);
    ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
    for (const char* word : {"ls", "verify", "restore", "gc", "Exit codes", "usage error",
                             "runtime error"}) {
      EXPECT_CONTAINS(r.out, word);
    }
  }
}

TEST(CkptCliUsage, EverySubcommandHasHelp) {
  for (const char* sub : {"ls", "verify", "restore", "gc", "version"}) {
    const std::vector<std::string> args = {sub, "--help"};
    const RunResult r = RunCkpt(args);
    EXPECT_EQ(r.exit_code, 0) << Describe(args, r);
    EXPECT_CONTAINS(r.out, std::string("Usage: ckpt ") + sub);
  }
  const RunResult r = RunCkpt({"verify", "--help"});
  EXPECT_CONTAINS(r.out, "--store");
  EXPECT_CONTAINS(r.out, "--all");
}

TEST(CkptCliUsage, UnknownSubcommandExits2) {
  const RunResult r = RunCkpt({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << Describe({"frobnicate"}, r);
  EXPECT_CONTAINS(r.err, "frobnicate");
  EXPECT_CONTAINS(r.err, "ckpt --help");
}

TEST(CkptCliUsage, UnknownFlagExits2AndNamesIt) {
  ScratchDir dir;
  const std::vector<std::string> args = {"ls", "--store", dir.path(), "--bogus"};
  const RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 2) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "--bogus");
  EXPECT_CONTAINS(r.err, "ckpt ls --help");
}

TEST(CkptCliUsage, StrayArgumentExits2) {
  ScratchDir dir;
  const std::vector<std::string> args = {"ls", "--store", dir.path(), "extra"};
  const RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 2) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "extra");
}

TEST(CkptCliUsage, MissingRequiredFlagsExit2) {
  ScratchDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"ls"}, "--store"},
      {{"verify", "--job", "j"}, "--store"},
      {{"verify", "--store", dir.path()}, "--job"},
      {{"restore", "--store", dir.path(), "--job", "j"}, "--out"},
      {{"gc", "--store", dir.path(), "--job", "j"}, "--keep-last"},
  };
  for (const auto& [args, flag] : cases) {
    const RunResult r = RunCkpt(args);
    EXPECT_EQ(r.exit_code, 2) << Describe(args, r);
    EXPECT_CONTAINS(r.err, flag);
    EXPECT_CONTAINS(r.err, "--help");
  }
}

TEST(CkptCliUsage, BadNumbersExit2) {
  ScratchDir dir;
  for (const char* bad : {"abc", "12x", "-1", "+5", "", "99999999999999999999999", "1.5"}) {
    const std::vector<std::string> args = {"verify", "--store", dir.path(), "--job", "j",
                                           std::string("--step=") + bad};
    const RunResult r = RunCkpt(args);
    EXPECT_EQ(r.exit_code, 2) << Describe(args, r);
    EXPECT_CONTAINS(r.err, "--step");
  }
}

TEST(CkptCliUsage, StepWithAllExits2) {
  ScratchDir dir;
  const std::vector<std::string> args = {"verify", "--store", dir.path(), "--job", "j",
                                         "--step", "1", "--all"};
  const RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 2) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "--all");
}

TEST(CkptCliUsage, GcKeepLastZeroExits2) {
  ScratchDir dir;
  const std::vector<std::string> args = {"gc", "--store", dir.path(), "--job", "j",
                                         "--keep-last", "0"};
  const RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 2) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "--keep-last");
}

TEST(CkptCliUsage, VersionNamesTheBackends) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--version"},
                                              std::vector<std::string>{"version"}}) {
    const RunResult r = RunCkpt(args);
    ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
    const std::string out = Lower(r.out);
    EXPECT_CONTAINS(out, "ckpt");
    EXPECT_CONTAINS(out, "cuda");
    EXPECT_CONTAINS(out, "zstd");
  }
}

// ------------------------------------------------------- store opening ----

TEST(CkptCliStore, MissingStoreExits3AndCreatesNothing) {
  ScratchDir dir;
  const std::string missing = dir.Sub("no-such-store");
  ScratchDir out;
  const std::vector<std::vector<std::string>> cases = {
      {"ls", "--store", missing},
      {"ls", "--store", missing, "--json"},
      {"verify", "--store", missing, "--job", "j"},
      {"restore", "--store", missing, "--job", "j", "--out", out.Sub("r")},
      {"gc", "--store", missing, "--job", "j", "--keep-last", "1"},
  };
  for (const auto& args : cases) {
    const RunResult r = RunCkpt(args);
    EXPECT_EQ(r.exit_code, 3) << Describe(args, r);
    EXPECT_CONTAINS(r.err, "ckpt " + args[0] + ": ");
    EXPECT_CONTAINS(r.err, missing);
    EXPECT_FALSE(fs::exists(missing)) << Describe(args, r);
    EXPECT_FALSE(fs::exists(out.Sub("r")));
  }
}

TEST(CkptCliStore, DirectoryThatIsNotAStoreExits3) {
  ScratchDir dir;
  {
    std::ofstream(dir.Sub("notes.txt")) << "not a store\n";
  }
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"ls", "--store", dir.path()},
        std::vector<std::string>{"gc", "--store", dir.path(), "--job", "j", "--keep-last", "1"}}) {
    const RunResult r = RunCkpt(args);
    EXPECT_EQ(r.exit_code, 3) << Describe(args, r);
    EXPECT_CONTAINS(r.err, "ckpt " + args[0] + ": ");
  }
  EXPECT_FALSE(fs::exists(dir.Sub("CKPT_STORE")));
  EXPECT_FALSE(fs::exists(dir.Sub("catalog")));
}

// ------------------------------------------------------------------- ls ----

TEST(CkptCliLs, EmptyStore) {
  ScratchDir dir;
  {
    Result<std::shared_ptr<Store>> store = Store::Open(dir.path(), StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  RunResult r = RunCkpt({"ls", "--store", dir.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "no checkpoints");
  r = RunCkpt({"ls", "--store", dir.path(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), json::array());
}

TEST(CkptCliLs, JsonListsEveryCheckpoint) {
  ScratchDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), nullptr));
  const RunResult r = RunCkpt({"ls", "--store", dir.path(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json list = json::parse(r.out);
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 3u) << r.out;
  const std::vector<uint64_t> steps = {100, 200, 300};
  const std::regex iso(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    EXPECT_EQ(e.at("job"), "train");
    EXPECT_EQ(e.at("step").get<uint64_t>(), steps[i]);
    EXPECT_EQ(e.at("logical_bytes").get<uint64_t>(), kWeightsBytes + kStateBytes);
    EXPECT_EQ(e.at("chunks").get<uint64_t>(), 4u + 2u);
    EXPECT_TRUE(e.at("written_bytes").is_number_unsigned());
    EXPECT_TRUE(e.at("new_chunks").is_number_unsigned());
    const std::string created = e.at("created").get<std::string>();
    EXPECT_TRUE(std::regex_match(created, iso)) << created;
    const int64_t created_ms = e.at("created_unix_ms").get<int64_t>();
    EXPECT_EQ(created, ExpectedIsoTime(created_ms));
    EXPECT_LE(created_ms, now_ms);
    EXPECT_GT(created_ms, now_ms - 10 * 60 * 1000);
    ASSERT_TRUE(e.at("regions").is_array());
    ASSERT_EQ(e.at("regions").size(), 2u);
    std::map<std::string, json> regions;
    for (const json& region : e.at("regions")) regions[region.at("name")] = region;
    ASSERT_EQ(regions.count("weights"), 1u) << e.dump();
    ASSERT_EQ(regions.count("optimizer/state"), 1u) << e.dump();
    EXPECT_EQ(regions["weights"].at("type"), "f32");
    EXPECT_EQ(regions["weights"].at("bytes").get<uint64_t>(), kWeightsBytes);
    EXPECT_EQ(regions["optimizer/state"].at("type"), "bytes");
    EXPECT_EQ(regions["optimizer/state"].at("bytes").get<uint64_t>(), kStateBytes);
  }
  EXPECT_TRUE(list[0].at("parent_step").is_null());
  EXPECT_EQ(list[1].at("parent_step").get<uint64_t>(), 100u);
  EXPECT_EQ(list[2].at("parent_step").get<uint64_t>(), 200u);
  // Steps after the first store only the changed chunk of "weights".
  EXPECT_EQ(list[0].at("new_chunks").get<uint64_t>(), 6u);
  EXPECT_EQ(list[2].at("new_chunks").get<uint64_t>(), 1u);
  EXPECT_LT(list[2].at("written_bytes").get<uint64_t>(),
            list[0].at("written_bytes").get<uint64_t>());
}

TEST(CkptCliLs, TableAndJobFilter) {
  ScratchDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), nullptr));
  std::vector<Region> other = {{"w", ElementType::kBytes, RandomBytes(kChunk, 9)}};
  ASSERT_NO_FATAL_FAILURE(WriteCheckpoints(dir.path(), "eval", other, {7}, nullptr, nullptr));

  RunResult r = RunCkpt({"ls", "--store", dir.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* word : {"JOB", "STEP", "CREATED", "LOGICAL", "WRITTEN", "CHUNKS", "train",
                           "eval", "300", "356.0 KiB"}) {
    EXPECT_CONTAINS(r.out, word);
  }
  r = RunCkpt({"ls", "--store", dir.path(), "--job", "eval", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json list = json::parse(r.out);
  ASSERT_EQ(list.size(), 1u) << r.out;
  EXPECT_EQ(list[0].at("job"), "eval");
  EXPECT_EQ(list[0].at("step").get<uint64_t>(), 7u);
}

// --------------------------------------------------------------- verify ----

TEST(CkptCliVerify, SoundStoreExits0) {
  ScratchDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), nullptr));
  RunResult r = RunCkpt({"verify", "--store", dir.path(), "--job", "train"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_CONTAINS(r.out, "ok   job train step 300 (6 chunks");
  r = RunCkpt({"verify", "--store", dir.path(), "--job", "train", "--step", "200"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_CONTAINS(r.out, "step 200");
  r = RunCkpt({"verify", "--store", dir.path(), "--job", "train", "--all"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* line : {"ok   job train step 100", "ok   job train step 200",
                           "ok   job train step 300"}) {
    EXPECT_CONTAINS(r.out, line);
  }
}

TEST(CkptCliVerify, UnknownJobOrStepExits3) {
  ScratchDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), nullptr));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"verify", "--store", dir.path(), "--job", "nosuchjob"},
        std::vector<std::string>{"verify", "--store", dir.path(), "--job", "train", "--step",
                                 "150"},
        std::vector<std::string>{"restore", "--store", dir.path(), "--job", "train", "--step",
                                 "150", "--out", dir.Sub("out")}}) {
    const RunResult r = RunCkpt(args);
    EXPECT_EQ(r.exit_code, 3) << Describe(args, r);
    EXPECT_CONTAINS(r.err, "ckpt " + args[0] + ": ");
  }
  EXPECT_FALSE(fs::exists(dir.Sub("out")));
}

TEST(CkptCliVerify, FlippedByteIsReportedWithJobStepAndRegion) {
  ScratchDir dir;
  std::vector<Region> regions = {{"weights", ElementType::kBytes, RandomBytes(4 * kChunk, 3)}};
  ASSERT_NO_FATAL_FAILURE(WriteCheckpoints(dir.path(), "train", regions, {100}, nullptr, nullptr));
  const std::vector<std::string> segments = SegmentFiles(dir.path());
  ASSERT_FALSE(segments.empty());
  // The first record's payload starts at byte 48 of the first segment.
  ASSERT_NO_FATAL_FAILURE(FlipByte(segments.front(), 100, 0x5a));

  const std::vector<std::string> args = {"verify", "--store", dir.path(), "--job", "train"};
  const RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 1) << Describe(args, r);
  EXPECT_CONTAINS(r.out, "DAMAGED job train step 100: 1 bad chunk");
  EXPECT_CONTAINS(r.out, "job train step 100 region 'weights' chunk");
}

// -------------------------------------------------------------- restore ----

void ExpectRestored(const std::string& out_dir, const std::string& job, uint64_t step,
                    const std::vector<std::pair<std::string, std::vector<uint8_t>>>& regions) {
  const json index = json::parse(ReadFile(out_dir + "/index.json"));
  EXPECT_EQ(index.at("job"), job);
  EXPECT_EQ(index.at("step").get<uint64_t>(), step);
  EXPECT_TRUE(index.at("created").is_string());
  ASSERT_EQ(index.at("regions").size(), regions.size()) << index.dump(2);
  for (const auto& [name, bytes] : regions) {
    bool found = false;
    for (const json& entry : index.at("regions")) {
      if (entry.at("name") != name) continue;
      found = true;
      EXPECT_EQ(entry.at("bytes").get<uint64_t>(), bytes.size());
      const std::string file = entry.at("file").get<std::string>();
      EXPECT_EQ(file.find('/'), std::string::npos) << file;
      EXPECT_TRUE(ReadBytes(out_dir + "/" + file) == bytes) << "content of " << file;
    }
    EXPECT_TRUE(found) << "region " << name << " missing from index.json";
  }
}

TEST(CkptCliRestore, WritesRegionFilesAndIndex) {
  ScratchDir dir;
  Snapshots saved;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), &saved));
  ScratchDir out;

  // An older step, named explicitly.
  std::vector<std::string> args = {"restore", "--store", dir.path(), "--job", "train",
                                   "--step", "200", "--out", out.Sub("s200")};
  RunResult r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  EXPECT_CONTAINS(r.out, "2 regions");
  EXPECT_CONTAINS(r.out, std::to_string(kWeightsBytes + kStateBytes) + " bytes");
  ExpectRestored(out.Sub("s200"), "train", 200,
                 {{"weights", saved[200][0]}, {"optimizer/state", saved[200][1]}});
  EXPECT_TRUE(ReadBytes(out.Sub("s200") + "/weights.bin") == saved[200][0]);
  EXPECT_TRUE(ReadBytes(out.Sub("s200") + "/optimizer_state.bin") == saved[200][1]);
  const json index = json::parse(ReadFile(out.Sub("s200") + "/index.json"));
  for (const json& entry : index.at("regions")) {
    EXPECT_EQ(entry.at("type"), entry.at("name") == "weights" ? "f32" : "bytes");
  }
  EXPECT_FALSE(saved[200][0] == saved[300][0]);

  // The newest step by default.
  args = {"restore", "--store", dir.path(), "--job", "train", "--out", out.Sub("newest")};
  r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  ExpectRestored(out.Sub("newest"), "train", 300,
                 {{"weights", saved[300][0]}, {"optimizer/state", saved[300][1]}});
}

TEST(CkptCliRestore, CollidingFileNamesAreMadeUnique) {
  ScratchDir dir;
  std::vector<Region> regions = {
      {"a/b", ElementType::kBytes, RandomBytes(1000, 4)},
      {"a:b", ElementType::kBytes, RandomBytes(3000, 5)},
      {"a_b", ElementType::kInt32, RandomBytes(4000, 6)},
  };
  ASSERT_NO_FATAL_FAILURE(WriteCheckpoints(dir.path(), "j", regions, {1}, nullptr, nullptr));
  ScratchDir out;
  const std::vector<std::string> args = {"restore", "--store", dir.path(), "--job", "j",
                                         "--out", out.path()};
  const RunResult r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  ExpectRestored(out.path(), "j", 1,
                 {{"a/b", regions[0].data}, {"a:b", regions[1].data}, {"a_b", regions[2].data}});
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(out.path())) {
    files.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(files.size(), 4u);  // three regions and index.json
}

TEST(CkptCliRestore, NonEmptyOutputNeedsForce) {
  ScratchDir dir;
  Snapshots saved;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), &saved));
  ScratchDir out;
  {
    std::ofstream(out.Sub("weights.bin")) << "old";
  }
  std::vector<std::string> args = {"restore", "--store", dir.path(), "--job", "train",
                                   "--out", out.path()};
  RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 3) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "not empty");
  EXPECT_CONTAINS(r.err, "--force");
  EXPECT_EQ(ReadFile(out.Sub("weights.bin")), "old");

  args.push_back("--force");
  r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  EXPECT_TRUE(ReadBytes(out.Sub("weights.bin")) == saved[300][0]);
}

TEST(CkptCliRestore, DamagedNewestIsRefusedNamingNewestIntactStep) {
  ScratchDir dir;
  Snapshots saved;
  // Step 200 changes the second chunk of "data"; that new chunk goes to a
  // later segment than everything step 100 stored.
  std::vector<Region> regions = {{"data", ElementType::kBytes, RandomBytes(3 * kChunk, 7)}};
  ASSERT_NO_FATAL_FAILURE(WriteCheckpoints(
      dir.path(), "train", regions, {100, 200},
      [](size_t i, std::vector<Region>& r) {
        if (i == 1) {
          auto fresh = RandomBytes(kChunk, 8);
          std::copy(fresh.begin(), fresh.end(), r[0].data.begin() + kChunk);
        }
      },
      &saved));
  const std::vector<std::string> segments = SegmentFiles(dir.path());
  ASSERT_GE(segments.size(), 2u);
  ASSERT_NO_FATAL_FAILURE(FlipByte(segments.back(), 100, 0x5a));

  ScratchDir out;
  std::vector<std::string> args = {"restore", "--store", dir.path(), "--job", "train",
                                   "--out", out.Sub("r")};
  RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 1) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "checkpoint job train step 200 is damaged");
  EXPECT_CONTAINS(r.err, "region 'data' chunk 1");
  EXPECT_CONTAINS(r.err, "newest intact checkpoint of job train: step 100");
  EXPECT_CONTAINS(r.err, "--step 100");
  EXPECT_FALSE(fs::exists(out.Sub("r") + "/index.json"));

  args = {"restore", "--store", dir.path(), "--job", "train", "--step", "100",
          "--out", out.Sub("r")};
  r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  ExpectRestored(out.Sub("r"), "train", 100, {{"data", saved[100][0]}});
}

// ------------------------------------------------------------------- gc ----

TEST(CkptCliGc, KeepLastOneLeavesOnlyTheNewest) {
  ScratchDir dir;
  Snapshots saved;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), &saved));

  std::vector<std::string> args = {"gc", "--store", dir.path(), "--job", "train",
                                   "--keep-last", "1"};
  RunResult r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  EXPECT_CONTAINS(r.out, "removed steps: 100, 200");
  EXPECT_CONTAINS(r.out, "kept steps: 300");

  r = RunCkpt({"ls", "--store", dir.path(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json list = json::parse(r.out);
  ASSERT_EQ(list.size(), 1u) << r.out;
  EXPECT_EQ(list[0].at("step").get<uint64_t>(), 300u);

  r = RunCkpt({"verify", "--store", dir.path(), "--job", "train", "--all"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_CONTAINS(r.out, "ok   job train step 300");

  ScratchDir out;
  args = {"restore", "--store", dir.path(), "--job", "train", "--out", out.path()};
  r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  ExpectRestored(out.path(), "train", 300,
                 {{"weights", saved[300][0]}, {"optimizer/state", saved[300][1]}});
}

TEST(CkptCliGc, DryRunRemovesNothing) {
  ScratchDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), nullptr));
  const std::vector<std::string> args = {"gc", "--store", dir.path(), "--job", "train",
                                         "--keep-last", "1", "--dry-run"};
  RunResult r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  EXPECT_CONTAINS(r.out, "would remove steps: 100, 200");
  r = RunCkpt({"ls", "--store", dir.path(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).size(), 3u);
}

TEST(CkptCliGc, KeepEveryKeepsMultiples) {
  ScratchDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), nullptr));
  const std::vector<std::string> args = {"gc", "--store", dir.path(), "--job", "train",
                                         "--keep-last", "1", "--keep-every", "200"};
  RunResult r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  r = RunCkpt({"ls", "--store", dir.path(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json list = json::parse(r.out);
  ASSERT_EQ(list.size(), 2u) << r.out;
  EXPECT_EQ(list[0].at("step").get<uint64_t>(), 200u);
  EXPECT_EQ(list[1].at("step").get<uint64_t>(), 300u);
}

TEST(CkptCliGc, UnknownJobExits3) {
  ScratchDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), nullptr));
  const std::vector<std::string> args = {"gc", "--store", dir.path(), "--job", "tarin",
                                         "--keep-last", "1"};
  const RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 3) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "ckpt gc: ");
  EXPECT_CONTAINS(r.err, "tarin");
}

// While a job holds the store for writing, the read-only subcommands work and
// gc (which needs the writer lock) fails cleanly.
TEST(CkptCliStore, LiveWriterAllowsReadsAndRefusesGc) {
  ScratchDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeStandardStore(dir.path(), nullptr));
  std::vector<uint8_t> data = RandomBytes(kChunk, 11);
  Options options;
  options.store_dir = dir.path();
  options.job = "live";
  options.chunk_bytes = kChunk;
  options.staging_bytes = 2 * kChunk;
  Result<std::unique_ptr<Client>> client = Client::Open(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();

  RunResult r = RunCkpt({"ls", "--store", dir.path(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCkpt({"verify", "--store", dir.path(), "--job", "train"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::vector<std::string> args = {"gc", "--store", dir.path(), "--job", "train",
                                         "--keep-last", "1"};
  r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 3) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "ckpt gc: ");
}

}  // namespace
}  // namespace ckpt
