// `ckpt failure add|ls|import` and `ckpt policy --store --job`: the failure
// history and measured costs from the command line.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "ckpt/store.h"
#include "cli_runner.h"
#include "test_util.h"

namespace ckpt::testing {
namespace {

class FailureCli : public ::testing::Test {
 protected:
  void SetUp() override {
    // An empty store.
    auto s = Store::Open(dir_.Sub("store"), StoreOptions{});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
  }
  std::string store() { return dir_.Sub("store"); }

  RunResult Run(const std::vector<std::string>& args, int expected_exit) {
    RunResult r = RunCkpt(args);
    EXPECT_EQ(r.exit_code, expected_exit) << Describe(args, r);
    return r;
  }

  nlohmann::json Failures(const std::string& job) {
    RunResult r = Run({"failure", "ls", "--store", store(), "--job", job, "--json"}, 0);
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  ScratchDir dir_;
};

TEST_F(FailureCli, AddedFailureIsListedWithItsCauseAndAddedOnce) {
  Run({"failure", "add", "--store", store(), "--job", "j", "--time", "2026-11-20T10:00:00Z",
       "--cause", "node 17: uncorrectable ECC"}, 0);
  RunResult again = Run({"failure", "add", "--store", store(), "--job", "j", "--time",
                         "1795168800"}, 0);  // the same instant as epoch seconds
  EXPECT_CONTAINS(again.out, "recorded already");
  nlohmann::json list = Failures("j");
  ASSERT_EQ(list["failures"].size(), 1u) << list.dump(2);
  EXPECT_EQ(list["failures"][0]["cause"], "node 17: uncorrectable ECC");
  EXPECT_EQ(list["failures"][0]["source"], "reported");
  EXPECT_EQ(list["failures"][0]["time"], "2026-11-20T10:00:00.000Z");
  RunResult table = Run({"failure", "ls", "--store", store()}, 0);
  EXPECT_CONTAINS(table.out, "uncorrectable ECC");
}

TEST_F(FailureCli, AddWithoutTimeRecordsNow) {
  Run({"failure", "add", "--store", store(), "--job", "j"}, 0);
  nlohmann::json list = Failures("j");
  ASSERT_EQ(list["failures"].size(), 1u);
  const double t = list["failures"][0]["time_unix_s"];
  EXPECT_NEAR(t, static_cast<double>(std::time(nullptr)), 60.0);
}

TEST_F(FailureCli, BadInputIsAClearErrorAndAddsNothing) {
  RunResult bad_time = Run({"failure", "add", "--store", store(), "--job", "j", "--time", "yesterday"}, 2);
  EXPECT_CONTAINS(bad_time.err, "--time");
  Run({"failure", "add", "--store", store(), "--job", "bad/name"}, 3);
  RunResult missing = Run({"failure", "add", "--store", dir_.Sub("nope"), "--job", "j"}, 3);
  EXPECT_CONTAINS(missing.err, "nope");
  RunResult action = Run({"failure", "delete", "--store", store()}, 2);
  EXPECT_CONTAINS(action.err, "unknown action 'delete'");
  Run({"failure"}, 2);
  Run({"failure", "import", "--store", store(), "--job", "j", "--trace", "x", "--format", "csv"}, 2);
  Run({"failure", "import", "--store", store(), "--job", "j", "--trace", "x", "--format", "lanl"}, 2);
  Run({"failure", "import", "--store", store(), "--job", "j", "--trace", dir_.Sub("none.csv"),
       "--format", "times"}, 3);
  EXPECT_EQ(Failures("j")["failures"].size(), 0u);
}

TEST_F(FailureCli, ImportedTraceIsRecordedOnceEvenWhenImportedTwice) {
  const std::string csv = dir_.Sub("failures.csv");
  std::ofstream(csv) << "time\n2026-01-01T00:00:00Z\n2026-01-01T06:00:00Z\n1767268800\n";
  RunResult first = Run({"failure", "import", "--store", store(), "--job", "j", "--trace", csv,
                         "--format", "times"}, 0);
  EXPECT_CONTAINS(first.out, "imported 3 failures");
  RunResult second = Run({"failure", "import", "--store", store(), "--job", "j", "--trace", csv,
                          "--format", "times"}, 0);
  EXPECT_CONTAINS(second.out, "imported 0 failures");
  EXPECT_CONTAINS(second.out, "3 were recorded already");
  nlohmann::json list = Failures("j");
  ASSERT_EQ(list["failures"].size(), 3u);
  EXPECT_EQ(list["failures"][2]["source"], "imported");
}

TEST_F(FailureCli, PolicyFromTheStoreFitsTheRecordedFailures) {
  RunResult none = Run({"policy", "--store", store(), "--job", "j", "--json"}, 3);
  EXPECT_CONTAINS(none.err, "no history of job j");
  // Failures every 6 hours for the last 5 days (the time since the last
  // one counts too: a history that ended years ago means a long MTBF).
  const std::string csv = dir_.Sub("failures.csv");
  {
    const long long first = static_cast<long long>(std::time(nullptr)) - 20 * 6 * 3600;
    std::ofstream out(csv);
    out << "time\n";
    for (int i = 0; i < 20; ++i) out << first + i * 6 * 3600 << "\n";
  }
  Run({"failure", "import", "--store", store(), "--job", "j", "--trace", csv, "--format", "times"}, 0);
  RunResult no_cost = Run({"policy", "--store", store(), "--job", "j"}, 3);
  EXPECT_CONTAINS(no_cost.err, "give --cost");

  RunResult r = Run({"policy", "--store", store(), "--job", "j", "--cost", "60", "--restart", "5m",
                     "--json"}, 0);
  nlohmann::json out = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(out.is_discarded()) << r.out;
  EXPECT_EQ(out["history"]["failures"], 20);
  EXPECT_EQ(out["history"]["cost_from"], "--cost");
  const double mtbf = out["history"]["exponential_mtbf_s"];
  // 19 gaps of 6 h plus the time since the last failure, with the prior's
  // two pseudo-failures: far below the one-day prior, above a few hours.
  EXPECT_GT(mtbf, 4 * 3600.0);
  EXPECT_LT(mtbf, 24 * 3600.0);
  EXPECT_NEAR(out["young_s"].get<double>(), std::sqrt(2 * 60.0 * mtbf), 1e-6 * out["young_s"].get<double>());
  Run({"policy", "--store", store(), "--job", "j", "--cost", "60", "--mtbf", "3h"}, 2);
}

TEST_F(FailureCli, PolicyUsesTheCostsTheClientMeasured) {
  {
    auto s = Store::Open(store(), StoreOptions{}).value();
    ASSERT_TRUE(s->UpdateJobProfile("j", [](JobProfile* p) {
                   AddCostSample(&p->checkpoint_cost, 12);
                   AddCostSample(&p->restart_cost, 240);
                   p->nodes = 16;
                 }).ok());
  }
  RunResult r = Run({"policy", "--store", store(), "--job", "j", "--node-mtbf", "160d", "--json"}, 0);
  nlohmann::json out = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(out.is_discarded()) << r.out;
  EXPECT_EQ(out["cost_s"], 12.0);
  EXPECT_EQ(out["restart_s"], 240.0);
  EXPECT_EQ(out["nodes"], 16);
  EXPECT_EQ(out["history"]["cost_from"], "measured");
  EXPECT_NEAR(out["history"]["prior_mtbf_s"].get<double>(), 160 * 86400.0 / 16, 1e-6);
}

}  // namespace
}  // namespace ckpt::testing
