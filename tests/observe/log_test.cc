// The logger: JSON lines (each parsed by simdjson), text lines, masking of API keys in every
// field, level filtering, the ring of recent entries (bounded, ordered, safe with concurrent
// writers and a reader), and HAJIMI's rendering of entries for the dashboard.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "ringgate/common/log.h"
#include "ringgate/common/mask.h"
#include "ringgate/observe/log_entries.h"

namespace ringgate {
namespace {

constexpr char kKey[] = "AIzaSyFAKEkey0123456789abcdefghijklmnop";  // 39 characters
constexpr char kKey2[] = "AIzaSyBBBBkey0123456789abcdefghijklmnop";
constexpr char kKeyBody[] = "FAKEkey0123456789";  // what a leaked key would show

// Captures log output in a memory file for the duration of a test.
class LogCapture {
 public:
  LogCapture() {
    fd_ = memfd_create("log", 0);
    SetLogOutputFd(fd_);
    SetLogLevel(LogLevel::kDebug);
    SetLogFormat(LogFormat::kJson);
    SetLogThreadCore(-1);
    ClearRecentLogs();
  }
  ~LogCapture() {
    SetLogOutputFd(STDERR_FILENO);
    SetLogLevel(LogLevel::kInfo);
    SetLogFormat(LogFormat::kJson);
    SetLogThreadCore(-1);
    close(fd_);
  }
  int fd() const { return fd_; }
  std::string Text() const {
    std::string out;
    char buffer[65536];
    ssize_t n;
    off_t offset = 0;
    while ((n = pread(fd_, buffer, sizeof(buffer), offset)) > 0) {
      out.append(buffer, static_cast<size_t>(n));
      offset += n;
    }
    return out;
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::string text = Text();
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      EXPECT_NE(end, std::string::npos) << "the last line has no line feed";
      if (end == std::string::npos)
        end = text.size();
      lines.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return lines;
  }

 private:
  int fd_;
};

simdjson::dom::element ParseLine(simdjson::dom::parser& parser, const std::string& line) {
  simdjson::dom::element root;
  auto error = parser.parse(line).get(root);
  EXPECT_EQ(error, simdjson::SUCCESS) << "not JSON: " << line;
  EXPECT_TRUE(root.is_object()) << line;
  return root;
}

std::string Str(simdjson::dom::element root, const char* field) {
  std::string_view value;
  if (root[field].get_string().get(value))
    return "<missing " + std::string(field) + ">";
  return std::string(value);
}

TEST(LogTest, JsonLineHasTimestampLevelCoreAndMessage) {
  LogCapture capture;
  RG_LOG(kInfo, "hello %d", 42);
  SetLogThreadCore(3);
  RG_LOG(kWarning, "from a core");
  std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 2u);
  simdjson::dom::parser parser;
  simdjson::dom::element first = ParseLine(parser, lines[0]);
  EXPECT_TRUE(
      std::regex_match(Str(first, "ts"), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << lines[0];
  EXPECT_EQ(Str(first, "level"), "info");
  EXPECT_EQ(Str(first, "msg"), "hello 42");
  EXPECT_TRUE(first["core"].is_null()) << lines[0];
  EXPECT_TRUE(first["key"].error()) << "no empty optional fields: " << lines[0];
  simdjson::dom::element second = ParseLine(parser, lines[1]);
  EXPECT_EQ(Str(second, "level"), "warning");
  int64_t core = -1;
  EXPECT_FALSE(second["core"].get_int64().get(core));
  EXPECT_EQ(core, 3);
}

TEST(LogTest, JsonFieldsAreWrittenWhenSet) {
  LogCapture capture;
  LogFields fields;
  fields.key = kKey;
  fields.request_type = "stream";
  fields.model = "gemini-2.5-flash";
  fields.status_code = 429;
  fields.error_message = "quota \"exceeded\"";
  RG_LOG_FIELDS(kInfo, fields, "upstream answered HTTP %d", 429);
  std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 1u);
  simdjson::dom::parser parser;
  simdjson::dom::element root = ParseLine(parser, lines[0]);
  EXPECT_EQ(Str(root, "key"), "AIzaSyFA");
  EXPECT_EQ(Str(root, "request_type"), "stream");
  EXPECT_EQ(Str(root, "model"), "gemini-2.5-flash");
  EXPECT_EQ(Str(root, "error_message"), "quota \"exceeded\"");
  int64_t status = 0;
  EXPECT_FALSE(root["status_code"].get_int64().get(status));
  EXPECT_EQ(status, 429);
}

TEST(LogTest, AwkwardBytesStayOneValidJsonLine) {
  LogCapture capture;
  RG_LOG(kError, "quote \" backslash \\ newline\nreturn\r tab\t bell\x07 bad utf8 \xff\xfe end");
  RG_LOG(kInfo, "cut UTF-8 \xe4\xbd");  // a sequence cut short
  RG_LOG(kInfo, "Chinese 空响应 is fine");
  std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 3u);
  simdjson::dom::parser parser;
  simdjson::dom::element root = ParseLine(parser, lines[0]);
  EXPECT_EQ(Str(root, "msg"),
            "quote \" backslash \\ newline\nreturn\r tab\t bell\x07 bad utf8 "
            "\xEF\xBF\xBD\xEF\xBF\xBD end");
  ParseLine(parser, lines[1]);
  EXPECT_EQ(Str(ParseLine(parser, lines[2]), "msg"), "Chinese 空响应 is fine");
}

TEST(LogTest, LongMessagesAreCutAndStillParse) {
  LogCapture capture;
  std::string long_text(20000, 'x');
  std::string quotes(3000, '"');  // each escapes to two bytes
  LogFields fields;
  fields.error_message = quotes;
  fields.model = long_text;
  fields.path = long_text;
  RG_LOG_FIELDS(kInfo, fields, "%s", long_text.c_str());
  RG_LOG_FIELDS(kInfo, fields, "%s", quotes.c_str());
  std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 2u);
  simdjson::dom::parser parser;
  for (const std::string& line : lines) {
    EXPECT_LE(line.size(), 4096u);
    ParseLine(parser, line);
  }
}

TEST(LogTest, TextFormatIsOneHumanLine) {
  LogCapture capture;
  SetLogFormat(LogFormat::kText);
  SetLogThreadCore(2);
  LogFields fields;
  fields.key = kKey;
  fields.model = "gemini-2.5-pro";
  fields.status_code = 200;
  RG_LOG_FIELDS(kInfo, fields, "two\nlines");
  std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(
          R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info core=2 two lines key=AIzaSyFA model=gemini-2\.5-pro status_code=200)")))
      << lines[0];
}

TEST(LogTest, LevelFilterWritesNothingBelowIt) {
  LogCapture capture;
  SetLogLevel(LogLevel::kWarning);
  RG_LOG(kInfo, "dropped");
  RG_LOG(kDebug, "dropped");
  RG_LOG(kError, "kept");
  std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("kept"), std::string::npos);
  EXPECT_EQ(RecentLogs().size(), 1u);
}

TEST(LogTest, NoWholeKeyInAnyFieldOrFormat) {
  LogCapture capture;
  std::string with_keys = std::string("bad key ") + kKey + " and " + kKey2 + ".";
  std::string path = std::string("/v1beta/models/") + kKey;
  for (LogFormat format : {LogFormat::kJson, LogFormat::kText}) {
    SetLogFormat(format);
    LogFields fields;
    fields.key = kKey;
    fields.request_type = with_keys;
    fields.model = with_keys;
    fields.error_message = with_keys;
    fields.path = path;
    fields.method = with_keys;
    RG_LOG_FIELDS(kWarning, fields, "message %s", with_keys.c_str());
    RG_LOG(kError, "%s", kKey);
  }
  std::string text = capture.Text();
  EXPECT_EQ(text.find(kKeyBody), std::string::npos) << text;
  EXPECT_EQ(text.find("BBBBkey0123"), std::string::npos) << text;
  EXPECT_NE(text.find("AIzaSyFA..."), std::string::npos) << text;
  for (const LogRecord& record : RecentLogs()) {
    for (const std::string* field : {&record.key, &record.request_type, &record.model,
                                     &record.message, &record.error_message}) {
      EXPECT_EQ(field->find(kKeyBody), std::string::npos) << *field;
    }
  }
}

TEST(MaskTest, MasksEveryKeyShapedRunAndNothingElse) {
  EXPECT_EQ(MaskApiKeys(kKey), "AIzaSyFA...");
  EXPECT_EQ(MaskApiKeys(std::string("x=") + kKey + "," + kKey2 + "!"),
            "x=AIzaSyFA...,AIzaSyBB...!");
  EXPECT_EQ(MaskApiKeys(std::string(kKey) + kKey), "AIzaSyFA...") << "one run of key characters";
  EXPECT_EQ(MaskApiKeys("AIzaShort"), "AIzaShort");
  std::string inside = std::string("tokenAIza") + std::string(40, 'x');
  EXPECT_EQ(MaskApiKeys(inside), inside) << "not the start of a key";
  EXPECT_EQ(MaskApiKeys(""), "");
  std::string thirty = "AIza" + std::string(26, 'q');
  EXPECT_EQ(MaskApiKeys(thirty), "AIzaqqqq...");
  std::string in_place = std::string("[") + kKey + "][" + kKey2 + "]";
  size_t size = MaskApiKeysInPlace(in_place.data(), in_place.size());
  EXPECT_EQ(in_place.substr(0, size), "[AIzaSyFA...][AIzaSyBB...]");
}

TEST(RecentLogsTest, KeepsTheNewestInOrderUpToTheCapacity) {
  LogCapture capture;
  for (int i = 0; i < 600; ++i)
    RG_LOG(kInfo, "entry %d", i);
  std::vector<LogRecord> all = RecentLogs();
  ASSERT_EQ(all.size(), kRecentLogCapacity);
  EXPECT_EQ(all.front().message, "entry 100");
  EXPECT_EQ(all.back().message, "entry 599");
  for (size_t i = 0; i < all.size(); ++i)
    ASSERT_EQ(all[i].message, "entry " + std::to_string(100 + i));
  std::vector<LogRecord> last = RecentLogs(3);
  ASSERT_EQ(last.size(), 3u);
  EXPECT_EQ(last[0].message, "entry 597");
  EXPECT_EQ(last[2].message, "entry 599");
  EXPECT_EQ(RecentLogsWritten(), 600u);
}

TEST(RecentLogsTest, KeepsFieldsAndSkipsAccessLines) {
  LogCapture capture;
  SetLogThreadCore(1);
  LogFields fields;
  fields.key = kKey;
  fields.request_type = "fake-stream";
  fields.model = "gemini-2.5-pro";
  fields.status_code = 503;
  fields.error_message = "overloaded";
  RG_LOG_FIELDS(kWarning, fields, "upstream answered HTTP %d", 503);
  LogFields access;
  access.keep_recent = false;
  access.path = "/v1/chat/completions";
  RG_LOG_FIELDS(kInfo, access, "access");
  std::vector<LogRecord> records = RecentLogs();
  ASSERT_EQ(records.size(), 1u);
  const LogRecord& r = records[0];
  EXPECT_EQ(r.level, LogLevel::kWarning);
  EXPECT_EQ(r.core, 1);
  EXPECT_EQ(r.key, "AIzaSyFA");
  EXPECT_EQ(r.request_type, "fake-stream");
  EXPECT_EQ(r.model, "gemini-2.5-pro");
  EXPECT_EQ(r.status_code, 503);
  EXPECT_EQ(r.message, "upstream answered HTTP 503");
  EXPECT_EQ(r.error_message, "overloaded");
  EXPECT_GT(r.unix_ms, 1'600'000'000'000);
  EXPECT_EQ(capture.Lines().size(), 2u) << "the access line is still written";
}

TEST(RecentLogsTest, ConcurrentWritersAndAReader) {
  LogCapture capture;
  constexpr int kPerThread = 3000;
  std::atomic<bool> done{false};
  std::atomic<size_t> reads{0};
  std::thread reader([&] {
    while (!done.load()) {
      std::vector<LogRecord> records = RecentLogs();
      EXPECT_LE(records.size(), kRecentLogCapacity);
      // Read while the writers write (each into its own ring, without a lock): every entry
      // whole, each writer's in its order.
      int seen[2] = {-1, -1};
      for (const LogRecord& r : records) {
        int id = -1;
        int entry = -1;
        if (r.message.rfind("writer ", 0) != 0)
          continue;
        ASSERT_EQ(sscanf(r.message.c_str(), "writer %d entry %d", &id, &entry), 2) << r.message;
        ASSERT_TRUE(id == 0 || id == 1) << r.message;
        ASSERT_EQ(r.core, id) << r.message;
        ASSERT_GT(entry, seen[id]) << "out of order";
        seen[id] = entry;
      }
      reads.fetch_add(1);
    }
  });
  auto writer = [](int id) {
    SetLogThreadCore(id);
    for (int i = 0; i < kPerThread; ++i)
      RG_LOG(kInfo, "writer %d entry %d", id, i);
  };
  std::thread a(writer, 0);
  std::thread b(writer, 1);
  a.join();
  b.join();
  done.store(true);
  reader.join();
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(RecentLogsWritten(), 2u * kPerThread);
  // Per writer, the kept entries are in the order written.
  std::vector<LogRecord> records = RecentLogs();
  ASSERT_EQ(records.size(), kRecentLogCapacity);
  int last[2] = {-1, -1};
  for (const LogRecord& r : records) {
    int id = -1;
    int entry = -1;
    ASSERT_EQ(sscanf(r.message.c_str(), "writer %d entry %d", &id, &entry), 2) << r.message;
    ASSERT_TRUE(id == 0 || id == 1);
    EXPECT_EQ(r.core, id);
    EXPECT_GT(entry, last[id]);
    last[id] = entry;
  }
  // Every line whole: nothing interleaved, nothing overwritten (the memory file was opened
  // without O_APPEND; the logger switched it).
  EXPECT_NE(fcntl(capture.fd(), F_GETFL) & O_APPEND, 0);
  std::vector<std::string> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 2u * kPerThread);
  simdjson::dom::parser parser;
  for (const std::string& line : lines) {
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(line).get(root), simdjson::SUCCESS) << line;
  }
}

TEST(HajimiLogEntriesTest, RendersHajimisFields) {
  LogRecord with_fields;
  with_fields.unix_ms = 1758449009000;  // 2025-09-21 10:03:29 UTC
  with_fields.level = LogLevel::kWarning;
  with_fields.key = "AIzaSyAB";
  with_fields.request_type = "stream";
  with_fields.model = "gemini-2.5-pro";
  with_fields.status_code = 429;
  with_fields.message = "upstream answered HTTP 429";
  with_fields.error_message = "quota";
  LogRecord bare;
  bare.unix_ms = 1758449009000;
  bare.level = LogLevel::kInfo;
  bare.message = "3 chat models";
  std::string json = RenderHajimiLogEntries({with_fields, bare}, 8 * 3600);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
  simdjson::dom::array entries;
  ASSERT_EQ(root.get_array().get(entries), simdjson::SUCCESS);
  ASSERT_EQ(entries.size(), 2u);
  simdjson::dom::element first = entries.at(0);
  EXPECT_EQ(Str(first, "timestamp"), "2025-09-21 18:03:29");
  EXPECT_EQ(Str(first, "level"), "WARNING");
  EXPECT_EQ(Str(first, "key"), "AIzaSyAB");
  EXPECT_EQ(Str(first, "request_type"), "stream");
  EXPECT_EQ(Str(first, "model"), "gemini-2.5-pro");
  int64_t status = 0;
  EXPECT_FALSE(first["status_code"].get_int64().get(status));
  EXPECT_EQ(status, 429);
  EXPECT_EQ(Str(first, "message"), "upstream answered HTTP 429");
  EXPECT_EQ(Str(first, "error_message"), "quota");
  EXPECT_EQ(Str(first, "formatted"),
            "[2025-09-21 18:03:29] [WARNING] [AIzaSyAB]-stream-[gemini-2.5-pro]-429: upstream "
            "answered HTTP 429 - quota");
  simdjson::dom::element second = entries.at(1);
  EXPECT_EQ(Str(second, "status_code"), "");
  EXPECT_EQ(Str(second, "key"), "");
  EXPECT_EQ(Str(second, "formatted"), "[2025-09-21 18:03:29] [INFO] 3 chat models");
}

}  // namespace
}  // namespace ringgate
