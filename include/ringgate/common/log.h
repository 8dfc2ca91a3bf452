// Minimal leveled logging to stderr. The hot path logs nothing above debug level, and debug
// lines are filtered before any formatting happens.
#pragma once

#include <cstdarg>

namespace ringgate {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool ParseLogLevel(const char* text, LogLevel* out);

// printf-style; one line per call, written with a single write(2) so lines from different
// cores never interleave.
void LogMessage(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace ringgate

#define RG_LOG(level, ...)                                           \
  do {                                                               \
    if (::ringgate::LogLevel::level >= ::ringgate::GetLogLevel()) {  \
      ::ringgate::LogMessage(::ringgate::LogLevel::level, __VA_ARGS__); \
    }                                                                \
  } while (0)

#define RG_CHECK(cond)                                                             \
  do {                                                                             \
    if (!(cond)) ::ringgate::CheckFailed(#cond, __FILE__, __LINE__);               \
  } while (0)

namespace ringgate {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace ringgate
