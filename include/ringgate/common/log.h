// Leveled, structured logging to stderr, and a bounded ring of recent entries for the dashboard.
//
// A line is one JSON object (LOG_FORMAT=json, the default):
//   {"ts":"2025-09-21T10:03:29.123Z","level":"info","core":0,"msg":"...","key":"AIzaSyAB",...}
// or human text (LOG_FORMAT=text):
//   2025-09-21T10:03:29.123Z info core=0 ... key=AIzaSyAB ...
// `core` is the reactor thread that logged (null / "main" for other threads). The optional fields
// are HAJIMI's (hajimi-behaviour.md 14.3): key (first 8 characters only), request_type, model,
// status_code, error_message; access-log lines add method, path, bytes, duration_ms, client_ip.
//
// Every line is written with one write(2), so lines from different cores never interleave. Every
// message and field is masked before it is written or kept (MaskApiKeysInPlace): no whole API key
// reaches a log. Headers are never logged. Filtering by level happens before any formatting, so a
// line below the level costs one relaxed load.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringgate {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kJson = 0, kText = 1 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool ParseLogLevel(const char* text, LogLevel* out);

void SetLogFormat(LogFormat format);
LogFormat GetLogFormat();
// "json" or "text" (any case).
bool ParseLogFormat(const char* text, LogFormat* out);

// The reactor core this thread serves, for the `core` field; -1 (the default) for other threads.
void SetLogThreadCore(int core);
int LogThreadCore();

// Where lines go (default: STDERR_FILENO; main() calls this for it). A regular file is switched to
// O_APPEND, so that lines written by several threads at once never overwrite each other.
void SetLogOutputFd(int fd);

// HAJIMI's structured fields; empty / negative values are left out of the line.
struct LogFields {
  std::string_view key;  // an API key: only its first 8 characters are ever written or kept
  std::string_view request_type;  // "stream", "fake-stream", "non-stream", ...
  std::string_view model;
  int status_code = 0;
  std::string_view error_message;
  // Access-log fields.
  std::string_view method;
  std::string_view path;
  int64_t bytes = -1;
  int64_t duration_us = -1;
  std::string_view client_ip;
  // Kept in the ring of recent entries (the dashboard's log viewer). Access-log lines are not:
  // they would push everything else out.
  bool keep_recent = true;
  // Written to the log output. A line per successful request is kept for the dashboard at its
  // level but written out only at LOG_LEVEL=debug: a write(2) per request would cost more than
  // the rest of the request's own work (use ACCESS_LOG for a line per request).
  bool write_output = true;
};

// printf-style; one line per call.
void LogMessage(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));
void LogWithFields(LogLevel level, const LogFields& fields, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// ---- Recent entries (the dashboard reads them; any thread may) ----

// One entry as kept: already masked, fields truncated to fixed sizes (message 400 bytes, error
// 240, model 64, request type 24).
struct LogRecord {
  int64_t unix_ms = 0;
  LogLevel level = LogLevel::kInfo;
  int core = -1;
  std::string key;  // first 8 characters
  std::string request_type;
  std::string model;
  int status_code = 0;
  std::string message;
  std::string error_message;
};

// How many entries each thread's ring keeps, and the most RecentLogs returns; the oldest go
// first. Each thread that logs (a reactor core, the main thread, ...) writes its own ring, without
// a lock (a seqlock per slot); readers merge the rings by time, each thread's order kept.
inline constexpr size_t kRecentLogCapacity = 500;

// The newest `max` entries of all threads (at most kRecentLogCapacity), oldest first.
std::vector<LogRecord> RecentLogs(size_t max = kRecentLogCapacity);
// Total entries ever kept (including those pushed out); for tests and the page's "new since".
uint64_t RecentLogsWritten();
// Empties the ring (tests).
void ClearRecentLogs();

}  // namespace ringgate

#define RG_LOG(level, ...)                                              \
  do {                                                                  \
    if (::ringgate::LogLevel::level >= ::ringgate::GetLogLevel()) {     \
      ::ringgate::LogMessage(::ringgate::LogLevel::level, __VA_ARGS__); \
    }                                                                   \
  } while (0)

// RG_LOG with HAJIMI's fields: RG_LOG_FIELDS(kInfo, fields, "format", args...).
#define RG_LOG_FIELDS(level, fields, ...)                                            \
  do {                                                                               \
    if (::ringgate::LogLevel::level >= ::ringgate::GetLogLevel()) {                  \
      ::ringgate::LogWithFields(::ringgate::LogLevel::level, (fields), __VA_ARGS__); \
    }                                                                                \
  } while (0)

#define RG_CHECK(cond)                                    \
  do {                                                    \
    if (!(cond))                                          \
      ::ringgate::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (0)

namespace ringgate {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace ringgate
