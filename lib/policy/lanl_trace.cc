// The LANL failure data release (LA-UR-05-7318): one CSV record per failure.
#include <algorithm>
#include <charconv>
#include <ctime>
#include <set>
#include <string>

#include "policy/csv_lines.h"
#include "policy/trace.h"

namespace ckpt::policy {
namespace {

// "6/21/2005 10:54" → seconds since the epoch, the time taken as UTC.
bool ParseLanlTime(const std::string& text, double* out) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%m/%d/%Y %H:%M", &tm);
  if (end == nullptr || *end != '\0') return false;
  *out = static_cast<double>(timegm(&tm));
  return true;
}

bool ParseInt(const std::string& text, long* out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

Result<Trace> ParseLanlCsv(std::string_view csv, int system, const std::string& source) {
  int col_system = -1, col_started = -1, col_nodes = -1;
  size_t min_fields = 0;
  bool have_header = false;
  std::vector<double> times;
  std::set<long> systems;
  uint64_t nodes = 0;
  Status st = ForEachCsvLine(csv, source, [&](size_t line, const std::vector<std::string>& f) {
    if (!have_header) {
      col_system = FindColumn(f, "System");
      col_started = FindColumn(f, "Prob Started");
      col_nodes = FindColumn(f, "nodes");
      if (col_system < 0 || col_started < 0) {
        return Status::InvalidArgument(source +
                                       ": not a LANL failure trace (the header lacks the "
                                       "'System' and 'Prob Started' columns)");
      }
      min_fields = static_cast<size_t>(std::max({col_system, col_started, col_nodes})) + 1;
      have_header = true;
      return Status::OK();
    }
    const std::string where = source + " line " + std::to_string(line);
    if (f.size() < min_fields) {
      return Status::InvalidArgument(where + ": " + std::to_string(f.size()) +
                                     " fields, expected at least " + std::to_string(min_fields));
    }
    long sys = 0;
    if (!ParseInt(f[col_system], &sys)) {
      return Status::InvalidArgument(where + ": bad System '" + f[col_system] + "'");
    }
    systems.insert(sys);
    if (sys != system) return Status::OK();
    double t = 0;
    if (!ParseLanlTime(f[col_started], &t)) {
      return Status::InvalidArgument(where + ": bad 'Prob Started' time '" + f[col_started] +
                                     "' (expected m/d/yyyy h:mm)");
    }
    times.push_back(t);
    long n = 0;
    if (col_nodes >= 0 && ParseInt(f[col_nodes], &n) && n > 0) nodes = static_cast<uint64_t>(n);
    return Status::OK();
  });
  CKPT_RETURN_IF_ERROR(st);
  if (!have_header) return Status::InvalidArgument(source + ": empty trace");
  if (times.empty()) {
    std::string list;
    for (long s : systems) list += (list.empty() ? "" : ", ") + std::to_string(s);
    return Status::NotFound(source + ": no failure records for system " + std::to_string(system) +
                            " (systems in the trace: " + (list.empty() ? "none" : list) + ")");
  }
  Trace trace;
  trace.nodes = nodes;
  trace.resolution_s = 60;  // m/d/yyyy h:mm
  trace.description = "LANL system " + std::to_string(system);
  FinalizeTrace(std::move(times), &trace);
  return trace;
}

Result<Trace> ReadLanlTrace(const std::string& path, int system) {
  Result<std::string> text = ReadTraceFile(path);
  if (!text.ok()) return text.status();
  return ParseLanlCsv(*text, system, "'" + path + "'");
}

}  // namespace ckpt::policy
