// Failure traces for the policy bench: the LANL release, simple `times`
// files, and seeded synthetic traces. Internal to the library (bench, tests).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/status.h"

namespace ckpt::policy {

// Failure times of one job that spans a whole system.
struct Trace {
  std::vector<double> times_s;  // ascending, distinct (seconds since the Unix epoch)
  size_t records = 0;           // failure records read for the selection
  size_t merged = 0;            // records at an already-seen time, counted once
  uint64_t nodes = 0;           // nodes of the system when the trace says (LANL), else 0
  double resolution_s = 0;      // timestamps are truncated to this (LANL: 60 s), 0 = exact
  std::string description;      // "LANL system 20", "times file x.csv", ...
};

// The bytes of a trace file, decompressed (liblzma) when it starts with the
// xz magic. NotFound when missing, IOError when unreadable, Corruption when
// the xz stream is damaged.
Result<std::string> ReadTraceFile(const std::string& path);

// Sorts and merges identical timestamps: a job that spans the system is
// interrupted once by failures recorded at the same time (LANL lists one
// record per failed node, to the minute). Fills records and merged.
void FinalizeTrace(std::vector<double> raw_times, Trace* trace);

// LANL LA-UR-05-7318 CSV: the records of `system`, `Prob Started` parsed as
// m/d/yyyy h:mm and taken as UTC (the release gives local time without a
// zone; a fixed offset does not change any gap, and the hour lost or doubled
// by daylight saving twice a year is noise at this scale). NotFound names the
// systems present when `system` is not.
Result<Trace> ParseLanlCsv(std::string_view csv, int system, const std::string& source);
Result<Trace> ReadLanlTrace(const std::string& path, int system);

// CSV with a header holding a `time` column, one failure per line: ISO 8601
// ("2005-09-09T06:28:00Z", "2005-09-09 06:28", offsets "+02:00"; no zone
// means UTC) or seconds since the epoch ("1126247280", "1.5e9").
Result<Trace> ParseTimesCsv(std::string_view csv, const std::string& source);
Result<Trace> ReadTimesTrace(const std::string& path);
// One value of a `times` file, as seconds since the epoch.
Result<double> ParseTimeValue(std::string_view text);

// Spreads each failure uniformly over its timestamp's resolution (seeded):
// t + U[0, resolution). Timestamps truncated to the minute make every gap a
// whole number of minutes, and a fixed interval whose segment is a whole
// number of minutes then fits many gaps exactly, a dip in the trace's waste
// curve that no real machine offers. Order is kept (distinct timestamps are
// at least one resolution apart). No-op when resolution_s is 0.
void Dequantize(Trace* trace, uint64_t seed);

// Seeded synthetic traces (std::mt19937_64): gaps drawn from the exponential
// or the Weibull with the given mean and shape, starting at time 0, until
// `failures` failures (if > 0) or until `duration_s` is covered.
struct SyntheticSpec {
  enum class Kind { kExponential, kWeibull };
  Kind kind = Kind::kExponential;
  double mean_s = 3 * 3600.0;
  double shape = 1.0;  // Weibull only
  uint64_t seed = 1;
  size_t failures = 0;
  double duration_s = 0;
};
Result<Trace> SyntheticTrace(const SyntheticSpec& spec);

}  // namespace ckpt::policy
