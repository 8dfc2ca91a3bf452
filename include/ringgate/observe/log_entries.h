// The recent log entries (RecentLogs) as HAJIMI's dashboard shows them (hajimi-behaviour.md 14.3):
//
//   {"timestamp":"2025-09-21 10:03:29","level":"INFO","key":"AIzaSyAB","request_type":"stream",
//    "model":"gemini-2.5-pro","status_code":200,"message":"request answered","error_message":"",
//    "formatted":"[2025-09-21 10:03:29] [INFO] [AIzaSyAB]-stream-[gemini-2.5-pro]-200: request
//    answered"}
//
// status_code is a number when the entry has one, "" otherwise (as HAJIMI's). Entries are already
// masked when they are kept, so nothing here can reveal a key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/common/log.h"

namespace ringgate {

class JsonWriter;

// "INFO", "WARNING", "ERROR", "DEBUG".
std::string_view HajimiLevelName(LogLevel level);

// `utc_offset_seconds` shifts the timestamps to the page's time zone (0: UTC).
void WriteHajimiLogEntry(JsonWriter& w, const LogRecord& record, int64_t utc_offset_seconds = 0);
// A JSON array of the entries, in the given order.
std::string RenderHajimiLogEntries(const std::vector<LogRecord>& records,
                                   int64_t utc_offset_seconds = 0);

}  // namespace ringgate
