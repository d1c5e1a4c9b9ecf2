// Runs the built ckpt-bench on the LANL trace (system 20, C = 60 s, R = 300 s)
// and checks the claim of docs/policy.md: the best online policy, which sees
// only past failures, wastes no more than the oracle (the best fixed interval
// for the whole trace, found in hindsight). Also its usage and input errors,
// and `ckpt policy` (needs the ckpt_cli and ckpt-bench targets built).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "test_util.h"

namespace ckpt {
namespace {

using ckpt::testing::ReadFile;
using ckpt::testing::RunResult;
using ckpt::testing::RunTool;
using ckpt::testing::ScratchDir;

RunResult RunBench(const ScratchDir& dir, const std::string& args) {
  return RunTool(dir, "ckpt-bench", args);
}

std::string LanlPath() {
  return (std::filesystem::path(CKPT_SOURCE_DIR).parent_path() /
          "shared/data/failure-traces/lanl-1996-2005.csv.xz")
      .string();
}

TEST(PolicyBenchRunTest, BestOnlinePolicyBeatsTheOracleOnLanlSystem20) {
  if (!std::filesystem::exists(LanlPath())) GTEST_SKIP() << "no " << LanlPath();
  ScratchDir dir;
  const RunResult r = RunBench(dir, "policy --trace " + LanlPath() +
                                        " --format lanl --system 20 --cost 60 --restart 300 "
                                        "--json --quiet --curve " + dir.Sub("curve.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["trace"]["failures"], 2401);
  const double oracle = j["oracle"]["waste"];
  EXPECT_GT(j["oracle"]["interval_s"].get<double>(), 0);

  double best_online = 1.0;
  std::string best_name;
  int online = 0, offline = 0;
  for (const auto& p : j["policies"]) {
    for (const char* key : {"name", "online", "waste", "checkpoints", "lost_s", "restart_s",
                            "checkpoint_s"}) {
      EXPECT_TRUE(p.contains(key)) << key;
    }
    const double waste = p["waste"];
    EXPECT_GE(waste, 0.0);
    if (p["online"].get<bool>()) {
      ++online;
      if (waste < best_online) {
        best_online = waste;
        best_name = p["name"];
      }
    } else {
      ++offline;
      // A fixed interval, however chosen, cannot beat the best fixed interval.
      if (!p["interval_s"].is_null()) {
        EXPECT_GE(waste, oracle - 1e-12) << p["name"];
      }
    }
  }
  EXPECT_EQ(online, 4);
  EXPECT_EQ(offline, 4);
  EXPECT_LE(best_online, oracle) << best_name << " " << best_online << " vs oracle " << oracle;
  EXPECT_EQ(j["best_online"]["name"], best_name);
  EXPECT_TRUE(j["best_online"]["beats_oracle"].get<bool>());

  const std::string curve = ReadFile(dir.Sub("curve.csv"));
  EXPECT_EQ(curve.rfind("interval_s,waste\n", 0), 0u);
  EXPECT_GT(std::count(curve.begin(), curve.end(), '\n'), 100);
}

TEST(PolicyBenchRunTest, BadInputIsAClearError) {
  ScratchDir dir;
  RunResult r = RunBench(dir, "policy --cost 60 --restart 300 --bogus");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bogus"), std::string::npos) << r.err;

  r = RunBench(dir, "policy --synthetic weibull --mtbf 8x --shape 0.7 --seed 1 --cost 60 "
                    "--restart 300");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid duration '8x'"), std::string::npos) << r.err;

  r = RunBench(dir, "policy --trace " + dir.Sub("missing.csv.xz") +
                        " --format lanl --system 20 --cost 60 --restart 300");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;

  r = RunBench(dir, "policy --trace x --format lanl --cost 60 --restart 300");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--system"), std::string::npos) << r.err;

  r = RunBench(dir, "nonsense");
  EXPECT_EQ(r.exit_code, 2);

  if (std::filesystem::exists(LanlPath())) {
    r = RunBench(dir, "policy --trace " + LanlPath() +
                          " --format lanl --system 99 --cost 60 --restart 300");
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("no failure records for system 99"), std::string::npos) << r.err;
  }

  r = RunBench(dir, "policy --synthetic weibull --mtbf 8h --shape 0.6 --seed 1 --failures 300 "
                    "--cost 60 --restart 300 --policies online-hazard,optimal --json --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["policies"].size(), 2u);
}

TEST(PolicyCliTest, YoungAndDalyMatchTheFormulas) {
  ScratchDir dir;
  RunResult r = RunTool(dir, "ckpt", "policy --mtbf 24h --cost 5m --restart 10m --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const double c = 300, m = 86400, x = c / (2 * m);
  const double young = std::sqrt(2 * c * m);
  const double daly = young * (1 + std::sqrt(x) / 3 + x / 9) - c;
  EXPECT_NEAR(j["young_s"].get<double>(), young, young * 1e-6);
  EXPECT_NEAR(j["daly_s"].get<double>(), daly, daly * 1e-6);
  EXPECT_NEAR(j["daly_s"].get<double>() / 60, 116.7, 0.05);  // Daly's paper
  EXPECT_EQ(j["mtbf_s"], 86400.0);
  EXPECT_GT(j["optimal_s"].get<double>(), 0);
  EXPECT_EQ(j["policies"].size(), 3u);

  r = RunTool(dir, "ckpt", "policy --mtbf 10d --nodes 10 --cost 60 --restart 300 --shape 0.7 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json w = nlohmann::json::parse(r.out);
  EXPECT_EQ(w["mtbf_s"], 86400.0);  // per node x 10 nodes
  EXPECT_EQ(w["policies"].size(), 4u);
  EXPECT_LT(w["hazard_first_s"].get<double>(), w["optimal_s"].get<double>());

  r = RunTool(dir, "ckpt", "policy --mtbf 24h --cost 5m --restart 10m --bogus");
  EXPECT_EQ(r.exit_code, 2);
  r = RunTool(dir, "ckpt", "policy --mtbf 24 hours --cost 5m --restart 10m");
  EXPECT_EQ(r.exit_code, 2);
  r = RunTool(dir, "ckpt", "policy --mtbf 1y --cost 5m --restart 10m");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid duration '1y'"), std::string::npos) << r.err;
  r = RunTool(dir, "ckpt", "policy --cost 5m --restart 10m");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--mtbf"), std::string::npos) << r.err;
  r = RunTool(dir, "ckpt", "policy --store " + dir.path() + " --job j");
  EXPECT_EQ(r.exit_code, 3);  // not a store (tests/failure_cli_test.cc covers real stores)
  EXPECT_NE(r.err.find("not a ckpt store"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ckpt
