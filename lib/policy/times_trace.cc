// `times` traces: a CSV column `time` of ISO 8601 timestamps or epoch seconds.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <string>

#include "policy/csv_lines.h"
#include "policy/trace.h"

namespace ckpt::policy {
namespace {

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

bool TwoDigits(const char* p, int* out) {
  if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') return false;
  *out = (p[0] - '0') * 10 + (p[1] - '0');
  return true;
}

// "YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH[:MM]]", no zone = UTC.
bool ParseIso8601(const std::string& s, double* out) {
  std::tm tm{};
  const char* p = strptime(s.c_str(), "%Y-%m-%d", &tm);
  if (p == nullptr) return false;
  double fraction = 0;
  if (*p == 'T' || *p == ' ') {
    p = strptime(p + 1, "%H:%M", &tm);
    if (p == nullptr) return false;
    if (*p == ':') {
      int sec = 0;
      if (!TwoDigits(p + 1, &sec) || sec > 60) return false;
      tm.tm_sec = sec;
      p += 3;
      if (*p == '.' || *p == ',') {
        char* end = nullptr;
        const std::string frac = "0." + std::string(p + 1);
        fraction = std::strtod(frac.c_str(), &end);
        const size_t digits = static_cast<size_t>(end - frac.c_str()) - 2;
        if (digits == 0) return false;
        p += 1 + digits;
      }
    }
  }
  long offset = 0;
  if (*p == 'Z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    const int sign = *p == '-' ? -1 : 1;
    int hh = 0, mm = 0;
    if (!TwoDigits(p + 1, &hh)) return false;
    p += 3;
    if (*p == ':') ++p;
    if (*p != '\0') {
      if (!TwoDigits(p, &mm)) return false;
      p += 2;
    }
    if (hh > 23 || mm > 59) return false;
    offset = sign * (hh * 3600L + mm * 60L);
  }
  if (*p != '\0') return false;
  *out = static_cast<double>(timegm(&tm) - offset) + fraction;
  return true;
}

}  // namespace

Result<double> ParseTimeValue(std::string_view text) {
  const std::string s = Trim(text);
  if (s.empty()) return Status::InvalidArgument("empty time");
  double value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc() && ptr == s.data() + s.size()) {
    if (!std::isfinite(value)) return Status::InvalidArgument("time '" + s + "' is not finite");
    return value;
  }
  if (ParseIso8601(s, &value)) return value;
  return Status::InvalidArgument("bad time '" + s +
                                 "' (expected ISO 8601 like 2005-09-09T06:28:00Z or epoch "
                                 "seconds)");
}

Result<Trace> ParseTimesCsv(std::string_view csv, const std::string& source) {
  int column = -1;
  std::vector<double> times;
  Status st = ForEachCsvLine(csv, source, [&](size_t line, const std::vector<std::string>& f) {
    if (column < 0) {
      std::vector<std::string> header;
      for (const std::string& name : f) header.push_back(Trim(name));
      column = FindColumn(header, "time");
      if (column < 0) {
        return Status::InvalidArgument(source + " line " + std::to_string(line) +
                                       ": expected a header with a 'time' column");
      }
      return Status::OK();
    }
    if (static_cast<size_t>(column) >= f.size()) {
      return Status::InvalidArgument(source + " line " + std::to_string(line) +
                                     ": no 'time' field");
    }
    Result<double> t = ParseTimeValue(f[column]);
    if (!t.ok()) return t.status().WithContext(source + " line " + std::to_string(line));
    times.push_back(*t);
    return Status::OK();
  });
  CKPT_RETURN_IF_ERROR(st);
  if (column < 0) return Status::InvalidArgument(source + ": empty trace (no 'time' header)");
  if (times.empty()) return Status::InvalidArgument(source + ": no failure times");
  Trace trace;
  trace.description = "times file " + source;
  FinalizeTrace(std::move(times), &trace);
  return trace;
}

Result<Trace> ReadTimesTrace(const std::string& path) {
  Result<std::string> text = ReadTraceFile(path);
  if (!text.ok()) return text.status();
  return ParseTimesCsv(*text, "'" + path + "'");
}

}  // namespace ckpt::policy
