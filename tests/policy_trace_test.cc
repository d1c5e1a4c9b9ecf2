// Trace readers: the LANL release (plain and xz), `times` files (ISO 8601 and
// epoch seconds), synthetic traces, and clear errors for bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "policy/trace.h"
#include "test_util.h"

namespace ckpt::policy {
namespace {

using ckpt::testing::ScratchDir;

const char* const kLanlHeader =
    "System,machine type,nodes,procstot,procsinnode,nodenum,nodenumz,node install,node prod,"
    "node decom,fru type,mem,cputype,memtype,num intercon,purpose,Prob Started,Prob Fixed,"
    "Down Time,Facilities,Hardware,Human Error,Network,Undetermined,Software,Same Event\n";

std::string LanlRow(int system, const std::string& started, const std::string& cause) {
  return std::to_string(system) + ",cluster,512,1024,2,1,1,Nov-96,Jan-97,5-Nov,part,32,1,1,12," +
         "compute," + started + "," + started + ",10,,,,,," + cause + ",No\n";
}

// The release in shared/ beside the repository (CI lays it there too).
std::string LanlPath() {
  return (std::filesystem::path(CKPT_SOURCE_DIR).parent_path() /
          "shared/data/failure-traces/lanl-1996-2005.csv.xz")
      .string();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(LanlTraceTest, ParsesSelectsSortsAndMerges) {
  const std::string csv = std::string(kLanlHeader) +
                          LanlRow(20, "6/21/2005 10:54", "\"MPI, PVM, Array services\"") +
                          LanlRow(18, "1/1/2004 0:00", "Other") +
                          LanlRow(20, "12/20/2001 8:00", "") +
                          LanlRow(20, "6/21/2005 10:54", "Other Software");  // same minute
  Result<Trace> t = ParseLanlCsv(csv, 20, "test");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->times_s.size(), 2u);
  EXPECT_DOUBLE_EQ(t->times_s[0], 1008835200);  // 2001-12-20 08:00 UTC
  EXPECT_DOUBLE_EQ(t->times_s[1], 1119351240);  // 2005-06-21 10:54 UTC
  EXPECT_EQ(t->records, 3u);
  EXPECT_EQ(t->merged, 1u);
  EXPECT_EQ(t->nodes, 512u);
  EXPECT_EQ(t->resolution_s, 60);
  EXPECT_EQ(t->description, "LANL system 20");
}

TEST(LanlTraceTest, UnknownSystemNamesTheOnesThere) {
  const std::string csv = std::string(kLanlHeader) + LanlRow(20, "1/1/2004 0:00", "") +
                          LanlRow(18, "1/2/2004 0:00", "");
  Result<Trace> t = ParseLanlCsv(csv, 7, "test");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Status::Code::kNotFound);
  EXPECT_NE(t.status().message().find("no failure records for system 7"), std::string::npos);
  EXPECT_NE(t.status().message().find("18, 20"), std::string::npos) << t.status().message();
}

TEST(LanlTraceTest, BadInputIsAClearError) {
  Result<Trace> bad_time =
      ParseLanlCsv(std::string(kLanlHeader) + LanlRow(20, "2004-01-01", ""), 20, "test");
  ASSERT_FALSE(bad_time.ok());
  EXPECT_NE(bad_time.status().message().find("line 2"), std::string::npos);
  EXPECT_NE(bad_time.status().message().find("m/d/yyyy h:mm"), std::string::npos);

  Result<Trace> not_lanl = ParseLanlCsv("time\n123\n", 20, "test");
  ASSERT_FALSE(not_lanl.ok());
  EXPECT_NE(not_lanl.status().message().find("not a LANL failure trace"), std::string::npos);

  Result<Trace> short_row = ParseLanlCsv(std::string(kLanlHeader) + "20,cluster\n", 20, "test");
  ASSERT_FALSE(short_row.ok());
  EXPECT_NE(short_row.status().message().find("fields"), std::string::npos);

  Result<Trace> quote = ParseLanlCsv(std::string(kLanlHeader) + "20,\"open\n", 20, "test");
  EXPECT_FALSE(quote.ok());
}

TEST(LanlTraceTest, ReadsTheRelease) {
  if (!std::filesystem::exists(LanlPath())) GTEST_SKIP() << "no " << LanlPath();
  Result<Trace> t = ReadLanlTrace(LanlPath(), 20);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->records, 2478u);
  EXPECT_EQ(t->times_s.size(), 2401u);
  EXPECT_DOUBLE_EQ(t->times_s.front(), 1008835200);  // 12/20/2001 8:00
  EXPECT_DOUBLE_EQ(t->times_s.back(), 1126247280);   // 9/9/2005 6:28
  EXPECT_EQ(t->nodes, 512u);
  EXPECT_FALSE(ReadLanlTrace(LanlPath(), 99).ok());
}

TEST(LanlTraceTest, DequantizeSpreadsOverTheMinute) {
  Trace t;
  t.times_s = {0, 60, 120, 600};
  t.resolution_s = 60;
  Trace u = t;
  Dequantize(&u, 7);
  Trace again = t;
  Dequantize(&again, 7);
  EXPECT_EQ(u.times_s, again.times_s);  // seeded
  for (size_t i = 0; i < t.times_s.size(); ++i) {
    EXPECT_GE(u.times_s[i], t.times_s[i]);
    EXPECT_LT(u.times_s[i], t.times_s[i] + 60);
    if (i > 0) {
      EXPECT_GT(u.times_s[i], u.times_s[i - 1]);
    }
  }
  Trace exact;
  exact.times_s = {1.5, 2.5};
  Dequantize(&exact, 7);
  EXPECT_EQ(exact.times_s, (std::vector<double>{1.5, 2.5}));  // resolution 0: untouched
}

TEST(TraceFileTest, PlainMissingAndCorrupt) {
  ScratchDir dir;
  const std::string plain = dir.Sub("lanl.csv");
  WriteFile(plain, std::string(kLanlHeader) + LanlRow(20, "1/1/2004 0:00", "") +
                       LanlRow(20, "1/1/2004 1:00", ""));
  Result<Trace> t = ReadLanlTrace(plain, 20);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_DOUBLE_EQ(t->times_s[1] - t->times_s[0], 3600);

  Result<std::string> missing = ReadTraceFile(dir.Sub("nope.csv.xz"));
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.status().message().find("does not exist"), std::string::npos);

  const std::string corrupt = dir.Sub("bad.xz");
  WriteFile(corrupt, std::string("\xFD" "7zXZ", 5) + std::string(1, '\0') + "garbage");
  Result<std::string> c = ReadTraceFile(corrupt);
  EXPECT_EQ(c.status().code(), Status::Code::kCorruption);
  EXPECT_NE(c.status().message().find("not a valid xz file"), std::string::npos);
}

TEST(TimesTraceTest, IsoAndEpoch) {
  EXPECT_DOUBLE_EQ(*ParseTimeValue("1126247280"), 1126247280);
  EXPECT_DOUBLE_EQ(*ParseTimeValue("1.5e9"), 1.5e9);
  EXPECT_DOUBLE_EQ(*ParseTimeValue("2005-09-09T06:28:00Z"), 1126247280);
  EXPECT_DOUBLE_EQ(*ParseTimeValue("2005-09-09 06:28"), 1126247280);
  EXPECT_DOUBLE_EQ(*ParseTimeValue("2005-09-09T08:28:00+02:00"), 1126247280);
  EXPECT_DOUBLE_EQ(*ParseTimeValue("2005-09-09T01:28:00-0500"), 1126247280);
  EXPECT_DOUBLE_EQ(*ParseTimeValue("2005-09-09T06:28:00.250Z"), 1126247280.25);
  EXPECT_DOUBLE_EQ(*ParseTimeValue("2005-09-09"), 1126224000);
  for (const char* bad : {"", "yesterday", "2005-13-01", "2005-09-09T25:00", "2005-09-09T06:28:00Q",
                          "12/20/2001 8:00", "inf"}) {
    EXPECT_FALSE(ParseTimeValue(bad).ok()) << bad;
  }
}

TEST(TimesTraceTest, ParsesFiles) {
  Result<Trace> t = ParseTimesCsv("time\n2005-09-09T06:28:00Z\n1126240080\n\n1126240080\n", "t");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->times_s, (std::vector<double>{1126240080, 1126247280}));
  EXPECT_EQ(t->merged, 1u);

  Result<Trace> extra = ParseTimesCsv("node,time\nn1,100\nn2,50\n", "t");
  ASSERT_TRUE(extra.ok());
  EXPECT_EQ(extra->times_s, (std::vector<double>{50, 100}));

  Result<Trace> no_header = ParseTimesCsv("100\n200\n", "t");
  ASSERT_FALSE(no_header.ok());
  EXPECT_NE(no_header.status().message().find("'time' column"), std::string::npos);

  Result<Trace> bad = ParseTimesCsv("time\n100\nsoon\n", "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 3"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("soon"), std::string::npos);

  EXPECT_FALSE(ParseTimesCsv("time\n", "t").ok());
  EXPECT_FALSE(ParseTimesCsv("", "t").ok());

  ScratchDir dir;
  WriteFile(dir.Sub("t.csv"), "time\r\n300\r\n100\r\n");
  Result<Trace> file = ReadTimesTrace(dir.Sub("t.csv"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->times_s, (std::vector<double>{100, 300}));
}

TEST(SyntheticTraceTest, SeededAndSized) {
  SyntheticSpec spec{SyntheticSpec::Kind::kWeibull, 3600, 0.7, 42, 20000, 0};
  Result<Trace> a = SyntheticTrace(spec);
  Result<Trace> b = SyntheticTrace(spec);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->times_s, b->times_s);
  EXPECT_EQ(a->times_s.size(), 20000u);
  const double mean = a->times_s.back() / (a->times_s.size() - 1);
  EXPECT_NEAR(mean, 3600, 3600 * 0.04);
  spec.seed = 43;
  EXPECT_NE(SyntheticTrace(spec)->times_s, a->times_s);

  SyntheticSpec by_time{SyntheticSpec::Kind::kExponential, 3600, 1, 1, 0, 100 * 3600.0};
  Result<Trace> d = SyntheticTrace(by_time);
  ASSERT_TRUE(d.ok());
  EXPECT_GE(d->times_s.back(), 100 * 3600.0);

  EXPECT_FALSE(SyntheticTrace({SyntheticSpec::Kind::kWeibull, 3600, 0, 1, 10, 0}).ok());
  EXPECT_FALSE(SyntheticTrace({SyntheticSpec::Kind::kExponential, 0, 1, 1, 10, 0}).ok());
  EXPECT_FALSE(SyntheticTrace({SyntheticSpec::Kind::kExponential, 10, 1, 1, 0, 0}).ok());
}

}  // namespace
}  // namespace ckpt::policy
