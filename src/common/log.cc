#include "ringgate/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace ringgate {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }
LogLevel GetLogLevel() { return g_level.load(std::memory_order_relaxed); }

bool ParseLogLevel(const char* text, LogLevel* out) {
  static constexpr LogLevel kLevels[] = {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning,
                                         LogLevel::kError};
  for (LogLevel level : kLevels) {
    if (strcasecmp(text, LevelName(level)) == 0) {
      *out = level;
      return true;
    }
  }
  if (strcasecmp(text, "warn") == 0) {
    *out = LogLevel::kWarning;
    return true;
  }
  return false;
}

void LogMessage(LogLevel level, const char* format, ...) {
  char line[2048];
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc;
  gmtime_r(&now.tv_sec, &utc);
  int n = static_cast<int>(strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &utc));
  n += snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", now.tv_nsec / 1000000, LevelName(level));
  va_list args;
  va_start(args, format);
  int body = vsnprintf(line + n, sizeof(line) - n - 1, format, args);
  va_end(args);
  n = body < 0 ? n : std::min<int>(n + body, sizeof(line) - 2);
  line[n++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, n);
  (void)ignored;
}

void CheckFailed(const char* condition, const char* file, int line) {
  LogMessage(LogLevel::kError, "CHECK failed: %s at %s:%d", condition, file, line);
  abort();
}

}  // namespace ringgate
