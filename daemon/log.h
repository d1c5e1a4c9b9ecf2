// ckptd's log: one line per event on stderr (journald adds the time under
// systemd), filtered by level. Thread safety: Log may be called from any thread.
#pragma once

#include <string>

namespace ckpt::daemon {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// "error", "warn", "info", "debug"; false for anything else.
bool ParseLogLevel(const std::string& name, LogLevel* out);
void SetLogLevel(LogLevel level);
void Log(LogLevel level, const std::string& message);

}  // namespace ckpt::daemon
