#include "ringgate/observe/log_entries.h"

#include <cstdio>
#include <ctime>

#include "ringgate/json/json_writer.h"

namespace ringgate {
namespace {

std::string Timestamp(int64_t unix_ms, int64_t utc_offset_seconds) {
  time_t seconds = static_cast<time_t>(unix_ms / 1000 + utc_offset_seconds);
  tm parts;
  gmtime_r(&seconds, &parts);
  char text[32];
  int n = snprintf(text, sizeof(text), "%04d-%02d-%02d %02d:%02d:%02d", parts.tm_year + 1900,
                   parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
  return std::string(text, static_cast<size_t>(n > 0 ? n : 0));
}

}  // namespace

std::string_view HajimiLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

void WriteHajimiLogEntry(JsonWriter& w, const LogRecord& record, int64_t utc_offset_seconds) {
  std::string timestamp = Timestamp(record.unix_ms, utc_offset_seconds);
  std::string_view level = HajimiLevelName(record.level);
  std::string status = record.status_code != 0 ? std::to_string(record.status_code) : "";
  // HAJIMI's two layouts: with request fields, and a bare message.
  std::string formatted = "[" + timestamp + "] [" + std::string(level) + "] ";
  if (!record.key.empty() || !record.request_type.empty() || !record.model.empty()) {
    formatted +=
        "[" + record.key + "]-" + record.request_type + "-[" + record.model + "]-" + status + ": ";
  }
  formatted += record.message;
  if (!record.error_message.empty())
    formatted += " - " + record.error_message;

  w.BeginObject();
  w.Field("timestamp", timestamp);
  w.Field("level", level);
  w.Field("key", record.key);
  w.Field("request_type", record.request_type);
  w.Field("model", record.model);
  w.Key("status_code");
  if (record.status_code != 0) {
    w.Int(record.status_code);
  } else {
    w.String("");
  }
  w.Field("message", record.message);
  w.Field("error_message", record.error_message);
  w.Field("formatted", formatted);
  w.EndObject();
}

std::string RenderHajimiLogEntries(const std::vector<LogRecord>& records,
                                   int64_t utc_offset_seconds) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray();
  for (const LogRecord& record : records)
    WriteHajimiLogEntry(w, record, utc_offset_seconds);
  w.EndArray();
  return out;
}

}  // namespace ringgate
