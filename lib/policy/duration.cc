// Durations on command lines: "90s", "5m", "3h", "2d", or plain seconds.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "ckpt/policy.h"

namespace ckpt::policy {

Result<double> ParseDuration(std::string_view text) {
  auto bad = [&](const char* why) {
    return Status::InvalidArgument("invalid duration '" + std::string(text) + "': " + why +
                                   " (examples: 90s, 5m, 3h, 2d, 120)");
  };
  if (text.empty()) return bad("empty");
  double unit = 1.0;
  std::string_view number = text;
  switch (text.back()) {
    case 's': unit = 1.0; break;
    case 'm': unit = 60.0; break;
    case 'h': unit = 3600.0; break;
    case 'd': unit = 86400.0; break;
    default:
      if (!(text.back() >= '0' && text.back() <= '9') && text.back() != '.') {
        return bad("unknown unit (use s, m, h or d)");
      }
      unit = 0.0;  // plain number
  }
  if (unit != 0.0) number.remove_suffix(1);
  if (unit == 0.0) unit = 1.0;
  // from_chars accepts a leading '-' and words like "inf"; a duration is
  // digits, an optional point and an optional exponent.
  if (number.empty() || !((number.front() >= '0' && number.front() <= '9') || number.front() == '.')) {
    return bad("expected a non-negative number");
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || ptr != number.data() + number.size()) {
    return bad("expected a non-negative number");
  }
  const double seconds = value * unit;
  if (!std::isfinite(seconds)) return bad("too large");
  return seconds;
}

std::string FormatDuration(double seconds) {
  char buf[64];
  if (std::isnan(seconds)) return "n/a";
  if (seconds < 1e-3) {
    std::snprintf(buf, sizeof(buf), "%.0f us", seconds * 1e6);
  } else if (seconds < 1) {
    std::snprintf(buf, sizeof(buf), "%.1f ms", seconds * 1e3);
  } else if (seconds < 120) {
    std::snprintf(buf, sizeof(buf), "%.1f s", seconds);
  } else if (seconds < 7200) {
    std::snprintf(buf, sizeof(buf), "%.1f min", seconds / 60.0);
  } else if (seconds < 2 * 86400) {
    std::snprintf(buf, sizeof(buf), "%.2f h", seconds / 3600.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f d", seconds / 86400.0);
  }
  return buf;
}

}  // namespace ckpt::policy
