// Tests of `ckpt export --format safetensors`: they write checkpoints through
// the public Client API, run the built tool, and parse the file back here
// (tests/python/test_export_safetensors.py loads it with the safetensors
// package as well).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/client.h"
#include "ckpt/types.h"
#include "cli_runner.h"
#include "test_util.h"

namespace ckpt {
namespace {

namespace fs = std::filesystem;
using ckpt::testing::CheckpointRegions;
using ckpt::testing::Describe;
using ckpt::testing::kChunk;
using ckpt::testing::RandomBytes;
using ckpt::testing::ReadFile;
using ckpt::testing::Region;
using ckpt::testing::RunCkpt;
using ckpt::testing::RunResult;
using ckpt::testing::ScratchDir;
using json = nlohmann::json;

// Bytes of every region at every committed step, by region name.
using Snapshots = std::map<uint64_t, std::map<std::string, std::vector<uint8_t>>>;

// Checkpoints `regions` at each step; before each step after the first, the
// first 64 bytes of every region change.
void WriteCheckpoints(const std::string& dir, const std::string& job,
                      std::vector<Region>& regions, const std::vector<uint64_t>& steps,
                      Snapshots* snapshots) {
  CheckpointRegions(
      dir, job, regions, steps,
      [](size_t i, std::vector<Region>& r) {
        if (i == 0) return;
        for (Region& region : r) {
          for (size_t b = 0; b < std::min<size_t>(64, region.data.size()); ++b) {
            region.data[b] ^= static_cast<uint8_t>(0x5a + i);
          }
        }
      },
      [snapshots](uint64_t step, const std::vector<Region>& done) {
        if (snapshots == nullptr) return;
        for (const Region& region : done) (*snapshots)[step][region.name] = region.data;
      });
}

// Regions of every element type and a spread of sizes (below, at and above a
// chunk; an odd number of bytes for `bytes`), in an order that is not the
// file's (the file puts 8-byte types first).
std::vector<Region> EveryTypeRegions() {
  struct Spec {
    const char* name;
    ElementType type;
    size_t bytes;
  };
  const Spec specs[] = {
      {"optimizer/state", ElementType::kBytes, 100 * 1024 + 13},
      {"layer0.weight", ElementType::kFloat32, 3 * kChunk + 4096},
      {"layer0.bias", ElementType::kFloat32, 256},
      {"embed.bf16", ElementType::kBFloat16, kChunk + 2},
      {"embed.f16", ElementType::kFloat16, 6},
      {"counters", ElementType::kInt64, 8 * 10},
      {"ids.u64", ElementType::kUInt64, 8},
      {"stats.f64", ElementType::kFloat64, 2 * kChunk},
      {"mask", ElementType::kUInt8, 77},
      {"tokens.i8", ElementType::kInt8, 33},
      {"tokens.i16", ElementType::kInt16, 2 * 111},
      {"tokens.u16", ElementType::kUInt16, 2 * 5},
      {"tokens.i32", ElementType::kInt32, 4 * 1000},
      {"tokens.u32", ElementType::kUInt32, 4 * 3},
  };
  std::vector<Region> regions;
  uint64_t seed = 1;
  for (const Spec& s : specs) regions.push_back({s.name, s.type, RandomBytes(s.bytes, seed++)});
  return regions;
}

struct Safetensors {
  uint64_t header_length = 0;
  json header;
  std::string data;  // the bytes after the header
};

// Parses a safetensors file; fails the test when its framing is broken.
void ParseSafetensors(const std::string& path, Safetensors* out) {
  const std::string file = ReadFile(path);
  ASSERT_GE(file.size(), 8u) << path;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(file[static_cast<size_t>(i)]);
  ASSERT_LE(8 + n, file.size()) << "header length " << n << " runs past the file";
  out->header_length = n;
  const std::string text = file.substr(8, n);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.front(), '{');
  out->header = json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(out->header.is_discarded()) << "header is not JSON: " << text;
  out->data = file.substr(8 + n);
}

const char* ExpectedDtype(ElementType type) {
  switch (type) {
    case ElementType::kBytes: return "U8";
    case ElementType::kInt8: return "I8";
    case ElementType::kUInt8: return "U8";
    case ElementType::kInt16: return "I16";
    case ElementType::kUInt16: return "U16";
    case ElementType::kInt32: return "I32";
    case ElementType::kUInt32: return "U32";
    case ElementType::kInt64: return "I64";
    case ElementType::kUInt64: return "U64";
    case ElementType::kFloat16: return "F16";
    case ElementType::kBFloat16: return "BF16";
    case ElementType::kFloat32: return "F32";
    case ElementType::kFloat64: return "F64";
  }
  return "?";
}

// Checks a parsed export against the regions and their bytes at `step`.
void ExpectExport(const Safetensors& st, const std::string& job, uint64_t step,
                  const std::vector<Region>& regions,
                  const std::map<std::string, std::vector<uint8_t>>& bytes) {
  // The data section starts 8-byte aligned (header padded as safetensors does).
  EXPECT_EQ((8 + st.header_length) % 8, 0u);
  ASSERT_TRUE(st.header.contains("__metadata__"));
  const json& meta = st.header["__metadata__"];
  EXPECT_EQ(meta.value("job", ""), job);
  EXPECT_EQ(meta.value("step", ""), std::to_string(step));
  for (const auto& [key, value] : meta.items()) {
    EXPECT_TRUE(value.is_string()) << "__metadata__ values must be strings: " << key;
  }
  const json types = json::parse(meta.value("ckpt_region_types", "{}"));
  EXPECT_EQ(types.size(), regions.size());
  EXPECT_EQ(st.header.size(), regions.size() + 1);

  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (const Region& region : regions) {
    SCOPED_TRACE("region " + region.name);
    ASSERT_TRUE(st.header.contains(region.name));
    const json& t = st.header[region.name];
    EXPECT_EQ(t["dtype"], ExpectedDtype(region.type));
    const uint64_t element = ElementSize(region.type);
    ASSERT_EQ(t["shape"], json::array({region.data.size() / element}));
    EXPECT_EQ(types.value(region.name, ""), std::string(ElementTypeName(region.type)));
    const uint64_t begin = t["data_offsets"][0];
    const uint64_t end = t["data_offsets"][1];
    ASSERT_EQ(end - begin, region.data.size());
    ASSERT_LE(end, st.data.size());
    EXPECT_EQ((8 + st.header_length + begin) % element, 0u) << "tensor not aligned in the file";
    const std::vector<uint8_t>& want = bytes.at(region.name);
    EXPECT_TRUE(std::equal(want.begin(), want.end(),
                           reinterpret_cast<const uint8_t*>(st.data.data()) + begin))
        << "bytes differ from what was checkpointed";
    spans.emplace_back(begin, end);
  }
  // Contiguous, no gaps or overlaps, covering the whole data section.
  std::sort(spans.begin(), spans.end());
  uint64_t at = 0;
  for (const auto& [begin, end] : spans) {
    EXPECT_EQ(begin, at);
    at = end;
  }
  EXPECT_EQ(at, st.data.size());
}

TEST(CkptCliExport, EveryElementTypeRoundTripsThroughSafetensors) {
  ScratchDir dir;
  std::vector<Region> regions = EveryTypeRegions();
  Snapshots saved;
  ASSERT_NO_FATAL_FAILURE(WriteCheckpoints(dir.path(), "train", regions, {100, 200}, &saved));

  ScratchDir out;
  // Newest step by default.
  std::vector<std::string> args = {"export", "--store", dir.path(), "--job", "train",
                                   "--format", "safetensors", "--out", out.Sub("latest.st")};
  RunResult r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  EXPECT_CONTAINS(r.out, "exported job train step 200 to " + out.Sub("latest.st"));
  EXPECT_CONTAINS(r.out, "14 tensors");
  EXPECT_FALSE(fs::exists(out.Sub("latest.st.tmp")));
  Safetensors st;
  ASSERT_NO_FATAL_FAILURE(ParseSafetensors(out.Sub("latest.st"), &st));
  ASSERT_NO_FATAL_FAILURE(ExpectExport(st, "train", 200, regions, saved[200]));
  // 8-byte types come first (alignment without gaps).
  EXPECT_EQ(st.header["counters"]["data_offsets"][0], 0);

  // An older step by --step.
  args = {"export", "--store", dir.path(), "--job", "train", "--step", "100",
          "--format", "safetensors", "--out", out.Sub("100.st")};
  r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  ASSERT_NO_FATAL_FAILURE(ParseSafetensors(out.Sub("100.st"), &st));
  ASSERT_NO_FATAL_FAILURE(ExpectExport(st, "train", 100, regions, saved[100]));
  EXPECT_NE(saved[100]["layer0.weight"], saved[200]["layer0.weight"]);
}

TEST(CkptCliExport, ExistingFileIsReplacedOnlyWithForce) {
  ScratchDir dir;
  std::vector<Region> regions = {{"w", ElementType::kFloat32, RandomBytes(4096, 3)}};
  Snapshots saved;
  ASSERT_NO_FATAL_FAILURE(WriteCheckpoints(dir.path(), "j", regions, {1}, &saved));
  ScratchDir out;
  { std::ofstream(out.Sub("model.safetensors")) << "old"; }
  std::vector<std::string> args = {"export", "--store", dir.path(), "--job", "j", "--format",
                                   "safetensors", "--out", out.Sub("model.safetensors")};
  RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 3) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "exists (pass --force to replace it)");
  EXPECT_EQ(ReadFile(out.Sub("model.safetensors")), "old");

  args.push_back("--force");
  r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  Safetensors st;
  ASSERT_NO_FATAL_FAILURE(ParseSafetensors(out.Sub("model.safetensors"), &st));
  ASSERT_NO_FATAL_FAILURE(ExpectExport(st, "j", 1, regions, saved[1]));

  // A directory is never replaced.
  args = {"export", "--store", dir.path(), "--job", "j", "--format", "safetensors",
          "--out", out.path(), "--force"};
  r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 3) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "is a directory");
}

TEST(CkptCliExport, BadCommandLinesAreUsageErrors) {
  ScratchDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::string store = dir.path();
  const std::vector<Case> cases = {
      {{"export", "--store", store, "--job", "j", "--format", "onnx", "--out", dir.Sub("f")},
       "unknown format 'onnx' for option '--format' (known: safetensors)"},
      {{"export", "--store", store, "--job", "j", "--out", dir.Sub("f")},
       "missing required option '--format'"},
      {{"export", "--store", store, "--job", "j", "--format", "safetensors"},
       "missing required option '--out'"},
      {{"export", "--store", store, "--job", "j", "--step", "x", "--format", "safetensors",
        "--out", dir.Sub("f")},
       "invalid value 'x' for option '--step'"},
  };
  for (const Case& c : cases) {
    RunResult r = RunCkpt(c.args);
    EXPECT_EQ(r.exit_code, 2) << Describe(c.args, r);
    EXPECT_CONTAINS(r.err, c.message);
    EXPECT_CONTAINS(r.err, "Try 'ckpt export --help'");
  }
  std::vector<std::string> args = {"export", "--help"};
  RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 0) << Describe(args, r);
  EXPECT_CONTAINS(r.out, "Usage: ckpt export --store DIR --job J [--step N] --format safetensors");
  args = {"--help"};
  r = RunCkpt(args);
  EXPECT_CONTAINS(r.out, "export    write a checkpoint as a safetensors file");
}

TEST(CkptCliExport, MissingStoreJobOrStepIsRuntimeError) {
  ScratchDir dir;
  std::vector<Region> regions = {{"w", ElementType::kFloat32, RandomBytes(4096, 4)}};
  ASSERT_NO_FATAL_FAILURE(WriteCheckpoints(dir.path(), "j", regions, {1}, nullptr));
  ScratchDir out;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"export", "--store", dir.Sub("nope"), "--job", "j", "--format", "safetensors", "--out",
        out.Sub("f")},
       "no store at '" + dir.Sub("nope") + "'"},
      {{"export", "--store", dir.path(), "--job", "other", "--format", "safetensors", "--out",
        out.Sub("f")},
       "other"},
      {{"export", "--store", dir.path(), "--job", "j", "--step", "7", "--format", "safetensors",
        "--out", out.Sub("f")},
       "7"},
      {{"export", "--store", dir.path(), "--job", "j", "--format", "safetensors", "--out",
        out.Sub("no/such/dir/f")},
       "cannot create"},
  };
  for (const Case& c : cases) {
    RunResult r = RunCkpt(c.args);
    EXPECT_EQ(r.exit_code, 3) << Describe(c.args, r);
    EXPECT_CONTAINS(r.err, c.message);
  }
  EXPECT_TRUE(fs::is_empty(out.path()));
}

TEST(CkptCliExport, DamagedCheckpointIsRefusedNamingNewestIntactStep) {
  ScratchDir dir;
  // Step 2 changes the first chunk; that chunk goes to a later segment than
  // everything step 1 stored.
  std::vector<Region> regions = {{"data", ElementType::kBytes, RandomBytes(3 * kChunk, 7)}};
  Snapshots saved;
  ASSERT_NO_FATAL_FAILURE(WriteCheckpoints(dir.path(), "train", regions, {1, 2}, &saved));
  std::vector<std::string> segments;
  for (const auto& entry : fs::directory_iterator(dir.Sub("segments"))) {
    if (entry.is_regular_file()) segments.push_back(entry.path().string());
  }
  std::sort(segments.begin(), segments.end());
  ASSERT_GE(segments.size(), 2u);
  {
    std::fstream f(segments.back(), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.is_open());
    f.seekg(100);
    char c = 0;
    ASSERT_TRUE(f.get(c));
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x5a));
  }

  ScratchDir out;
  std::vector<std::string> args = {"export", "--store", dir.path(), "--job", "train",
                                   "--format", "safetensors", "--out", out.Sub("f")};
  RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 1) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "checkpoint job train step 2 is damaged");
  EXPECT_CONTAINS(r.err, "region 'data' chunk 0");
  EXPECT_CONTAINS(r.err, "newest intact checkpoint of job train: step 1 (pass --step 1)");
  EXPECT_TRUE(fs::is_empty(out.path())) << "nothing written, not even FILE.tmp";

  args = {"export", "--store", dir.path(), "--job", "train", "--step", "1",
          "--format", "safetensors", "--out", out.Sub("f")};
  r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  Safetensors st;
  ASSERT_NO_FATAL_FAILURE(ParseSafetensors(out.Sub("f"), &st));
  ASSERT_NO_FATAL_FAILURE(ExpectExport(st, "train", 1, regions, saved[1]));
}

TEST(CkptCliExport, RegionNamedMetadataCannotBeExported) {
  ScratchDir dir;
  std::vector<Region> regions = {{"__metadata__", ElementType::kBytes, RandomBytes(100, 5)}};
  ASSERT_NO_FATAL_FAILURE(WriteCheckpoints(dir.path(), "j", regions, {1}, nullptr));
  ScratchDir out;
  std::vector<std::string> args = {"export", "--store", dir.path(), "--job", "j", "--format",
                                   "safetensors", "--out", out.Sub("f")};
  RunResult r = RunCkpt(args);
  EXPECT_EQ(r.exit_code, 3) << Describe(args, r);
  EXPECT_CONTAINS(r.err, "region '__metadata__' cannot be exported");
  EXPECT_TRUE(fs::is_empty(out.path()));
}

// Shapes given to protect() are the tensors' shapes in the file (a scalar is
// []); a region protected without one is one-dimensional.
TEST(CkptCliExport, RecordedShapesAreTheTensorShapes) {
  ScratchDir dir;
  std::vector<float> matrix(24 * 5, 1.5f);
  int64_t scalar = 7;
  std::vector<uint16_t> flat(300, 3);
  {
    Options o;
    o.store_dir = dir.path();
    o.job = "shaped";
    o.chunk_bytes = kChunk;
    auto c = Client::Open(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ASSERT_TRUE((*c)->protect("matrix", matrix.data(), matrix.size() * 4, ElementType::kFloat32,
                              Shape{2, 12, 5}).ok());
    ASSERT_TRUE((*c)->protect("scalar", &scalar, 8, ElementType::kInt64, Shape{}).ok());
    ASSERT_TRUE((*c)->protect("flat", flat.data(), flat.size() * 2, ElementType::kBFloat16).ok());
    auto t = (*c)->checkpoint(3);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->wait_durable().ok());
  }
  ScratchDir out;
  std::vector<std::string> args = {"export", "--store", dir.path(), "--job", "shaped", "--format",
                                   "safetensors", "--out", out.Sub("f")};
  RunResult r = RunCkpt(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(args, r);
  Safetensors st;
  ASSERT_NO_FATAL_FAILURE(ParseSafetensors(out.Sub("f"), &st));
  EXPECT_EQ(st.header["matrix"]["shape"], json::array({2, 12, 5}));
  EXPECT_EQ(st.header["scalar"]["shape"], json::array());
  EXPECT_EQ(st.header["flat"]["shape"], json::array({300}));
}

}  // namespace
}  // namespace ckpt
