#include "ringgate/common/log.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <vector>

#include "ringgate/common/mask.h"
#include "ringgate/common/utf8.h"

namespace ringgate {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kJson};
std::atomic<int> g_output_fd{STDERR_FILENO};
thread_local int t_core = -1;

// Sizes of the pieces of one line. A line is built on the stack: logging allocates nothing.
constexpr size_t kMessageBytes = 1536;
constexpr size_t kErrorBytes = 512;
constexpr size_t kFieldBytes = 128;
constexpr size_t kLineBytes = 4096;
// Kept free at the end of a line for closing quotes, the brace and the newline.
constexpr size_t kLineReserve = 8;

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

// The longest prefix of `text` of at most `max` bytes that does not end inside a UTF-8 sequence.
std::string_view Utf8Prefix(std::string_view text, size_t max) {
  if (text.size() <= max)
    return text;
  size_t end = max;
  // Back off continuation bytes (10xxxxxx), then the lead byte they belong to.
  size_t back = 0;
  while (end > 0 && back < 3 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
    ++back;
  }
  return text.substr(0, end);
}

// A field copied and masked: a key-shaped run inside any field (a model name, a path, an
// upstream message) is cut to its first 8 characters.
template <size_t N>
struct MaskedField {
  char data[N];
  std::string_view text;
  explicit MaskedField(std::string_view field) {
    if (field.empty())
      return;  // most fields of most lines: nothing to copy or scan
    text = Utf8Prefix(field, N);
    // Copied (to be masked in place) only when a key could be in it: nearly every field has no
    // "AIza" at all, and the per-request entry has several fields.
    if (!MayHoldApiKey(text))
      return;
    memcpy(data, text.data(), text.size());
    text = std::string_view(data, MaskApiKeysInPlace(data, text.size()));
  }
  std::string_view view() const { return text; }
};

// Appends to a fixed buffer, dropping what does not fit (the reserve stays free for the end).
class LineBuilder {
 public:
  void Raw(std::string_view text) {
    size_t room = kLineBytes - kLineReserve - size_;
    text = text.substr(0, std::min(room, text.size()));
    memcpy(data_ + size_, text.data(), text.size());
    size_ += text.size();
  }
  // The end of a line: always fits, in the reserve.
  void Close(std::string_view text) {
    memcpy(data_ + size_, text.data(), text.size());
    size_ += text.size();
  }
  void Char(char c) { Raw(std::string_view(&c, 1)); }
  void Number(int64_t value) {
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%lld", static_cast<long long>(value));
    Raw(std::string_view(digits, static_cast<size_t>(n)));
  }
  // The inside of a JSON string: escaped, invalid UTF-8 replaced by U+FFFD, cut at a character.
  void JsonEscaped(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < text.size();) {
      if (room() < 8)
        return;
      unsigned char c = static_cast<unsigned char>(text[i]);
      if (c == '"' || c == '\\') {
        data_[size_++] = '\\';
        data_[size_++] = static_cast<char>(c);
        ++i;
      } else if (c < 0x20) {
        const char* short_form = c == '\n'   ? "\\n"
                                 : c == '\r' ? "\\r"
                                 : c == '\t' ? "\\t"
                                             : nullptr;
        if (short_form != nullptr) {
          Raw(short_form);
        } else {
          char escape[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          Raw(std::string_view(escape, 6));
        }
        ++i;
      } else if (size_t length = c < 0x80 ? 1 : Utf8SequenceLength(text, i); length > 0) {
        Raw(text.substr(i, length));
        i += length;
      } else {
        Raw("\\ufffd");
        ++i;
      }
    }
  }
  // Text format: control characters become spaces, so a line stays one line.
  void Plain(std::string_view text) {
    for (char c : text) {
      if (room() == 0)
        return;
      data_[size_++] = static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
  }
  std::string_view view() const { return std::string_view(data_, size_); }
  size_t room() const { return kLineBytes - kLineReserve - size_; }

 private:
  char data_[kLineBytes];
  size_t size_ = 0;
};

void AppendTimestamp(LineBuilder& line, const timespec& now) {
  tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char text[40];
  int n = snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", utc.tm_year + 1900,
                   utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                   now.tv_nsec / 1000000);
  line.Raw(std::string_view(text, static_cast<size_t>(std::max(n, 0))));
}

struct Pieces {
  std::string_view message;
  std::string_view key;
  std::string_view request_type;
  std::string_view model;
  std::string_view error_message;
  std::string_view method;
  std::string_view path;
  std::string_view client_ip;
};

void BuildJson(LineBuilder& line, LogLevel level, const timespec& now, const LogFields& fields,
               const Pieces& p) {
  line.Raw("{\"ts\":\"");
  AppendTimestamp(line, now);
  line.Raw("\",\"level\":\"");
  line.Raw(LevelName(level));
  line.Raw("\",\"core\":");
  if (t_core >= 0) {
    line.Number(t_core);
  } else {
    line.Raw("null");
  }
  line.Raw(",\"msg\":\"");
  line.JsonEscaped(p.message);
  line.Close("\"");
  // A field is written whole or not at all (a value may be cut short, never a name).
  auto string_field = [&line](std::string_view name, std::string_view value) {
    if (value.empty() || line.room() < name.size() + 24)
      return;
    line.Raw(",\"");
    line.Raw(name);
    line.Raw("\":\"");
    line.JsonEscaped(value);
    line.Close("\"");
  };
  auto number_field = [&line](std::string_view name, int64_t value) {
    if (line.room() < name.size() + 32)
      return;
    line.Raw(",\"");
    line.Raw(name);
    line.Raw("\":");
    line.Number(value);
  };
  string_field("key", p.key);
  string_field("request_type", p.request_type);
  string_field("model", p.model);
  if (fields.status_code != 0)
    number_field("status_code", fields.status_code);
  string_field("error_message", p.error_message);
  string_field("method", p.method);
  string_field("path", p.path);
  if (fields.bytes >= 0)
    number_field("bytes", fields.bytes);
  if (fields.duration_us >= 0 && line.room() >= 40) {
    char ms[40];
    int n = snprintf(ms, sizeof(ms), ",\"duration_ms\":%.3f",
                     static_cast<double>(fields.duration_us) / 1000.0);
    line.Raw(std::string_view(ms, static_cast<size_t>(std::max(n, 0))));
  }
  string_field("client_ip", p.client_ip);
  line.Close("}\n");
}

void BuildText(LineBuilder& line, LogLevel level, const timespec& now, const LogFields& fields,
               const Pieces& p) {
  AppendTimestamp(line, now);
  line.Char(' ');
  line.Raw(LevelName(level));
  if (t_core >= 0) {
    line.Raw(" core=");
    line.Number(t_core);
  }
  line.Char(' ');
  line.Plain(p.message);
  auto field = [&line](std::string_view name, std::string_view value) {
    if (value.empty())
      return;
    line.Char(' ');
    line.Raw(name);
    line.Char('=');
    line.Plain(value);
  };
  field("key", p.key);
  field("request_type", p.request_type);
  field("model", p.model);
  if (fields.status_code != 0) {
    line.Raw(" status_code=");
    line.Number(fields.status_code);
  }
  field("method", p.method);
  field("path", p.path);
  if (fields.bytes >= 0) {
    line.Raw(" bytes=");
    line.Number(fields.bytes);
  }
  if (fields.duration_us >= 0) {
    char ms[32];
    int n = snprintf(ms, sizeof(ms), " duration_ms=%.3f",
                     static_cast<double>(fields.duration_us) / 1000.0);
    line.Raw(std::string_view(ms, static_cast<size_t>(std::max(n, 0))));
  }
  field("client_ip", p.client_ip);
  // Last: it is free text.
  if (!p.error_message.empty()) {
    line.Raw(" error_message=\"");
    line.Plain(p.error_message);
    line.Close("\"");
  }
  line.Close("\n");
}

// ---- The ring of recent entries ----

struct RecentSlot {
  // Seqlock: odd while the writer fills the slot; a reader keeps a copy only when the count is
  // even and the same before and after it copied.
  std::atomic<uint64_t> seq{0};
  uint64_t entry;  // n: which entry of the ring the slot holds
  int64_t unix_ms;
  LogLevel level;
  int core;
  int status_code;
  uint8_t key_size;
  uint8_t request_type_size;
  uint8_t model_size;
  uint16_t message_size;
  uint16_t error_size;
  char key[8];
  char request_type[24];
  char model[64];
  char message[400];
  char error[240];
};

// One ring per thread that logs (a reactor core, the main thread, the storage writer): a writer
// never waits for anyone, the per-request entry included, and cores share no cache line for it.
// The dashboard's reader merges them.
struct ThreadRing {
  RecentSlot slots[kRecentLogCapacity];
  std::atomic<uint64_t> written{0};  // entry n is in slot n % capacity
  std::atomic<uint64_t> cleared{0};  // entries before this one were cleared
  int64_t last_ms = 0;               // the writer's: keeps its timestamps non-decreasing
};

// Every thread's ring, registered once per thread (the only lock, taken at a thread's first entry
// and by readers); rings live as long as the process, so a reader never sees one vanish.
struct RingRegistry {
  std::mutex mutex;
  std::vector<ThreadRing*> rings;
};

RingRegistry& Registry() {
  static RingRegistry* registry = new RingRegistry;
  return *registry;
}

ThreadRing& LocalRing() {
  thread_local ThreadRing* ring = [] {
    auto* created = new ThreadRing;
    RingRegistry& registry = Registry();
    std::lock_guard<std::mutex> lock(registry.mutex);
    registry.rings.push_back(created);
    return created;
  }();
  return *ring;
}

template <size_t N, typename Size>
void CopyInto(char (&out)[N], Size* size, std::string_view text) {
  text = Utf8Prefix(text, N);
  memcpy(out, text.data(), text.size());
  *size = static_cast<Size>(text.size());
}

void KeepRecent(LogLevel level, const timespec& now, const LogFields& fields, const Pieces& p) {
  ThreadRing& ring = LocalRing();
  uint64_t n = ring.written.load(std::memory_order_relaxed);
  RecentSlot& slot = ring.slots[n % kRecentLogCapacity];
  uint64_t seq = slot.seq.load(std::memory_order_relaxed);
  slot.seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  slot.entry = n;
  int64_t ms = static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
  ring.last_ms = std::max(ring.last_ms, ms);  // a coarse reading may lag a precise one
  slot.unix_ms = ring.last_ms;
  slot.level = level;
  slot.core = t_core;
  slot.status_code = fields.status_code;
  CopyInto(slot.key, &slot.key_size, p.key);
  CopyInto(slot.request_type, &slot.request_type_size, p.request_type);
  CopyInto(slot.model, &slot.model_size, p.model);
  CopyInto(slot.message, &slot.message_size, p.message);
  CopyInto(slot.error, &slot.error_size, p.error_message);
  slot.seq.store(seq + 2, std::memory_order_release);
  ring.written.store(n + 1, std::memory_order_release);
  // The next entry goes to the next slot, which the ring's walk has long evicted: fetch the lines
  // a per-request entry writes now, so the next request does not wait for them.
  const char* next = reinterpret_cast<const char*>(&ring.slots[(n + 1) % kRecentLogCapacity]);
  __builtin_prefetch(next, 1);
  __builtin_prefetch(next + 64, 1);
  __builtin_prefetch(next + 128, 1);
}

// A copy of entry n of `ring`, unless the writer is on it or has moved past it meanwhile.
bool ReadSlot(const ThreadRing& ring, uint64_t n, LogRecord* record) {
  const RecentSlot& slot = ring.slots[n % kRecentLogCapacity];
  uint64_t before = slot.seq.load(std::memory_order_acquire);
  if (before & 1)
    return false;
  uint64_t entry = slot.entry;
  // The copy may race with a writer that wrapped around; the sequence check below discards it
  // (the usual seqlock reasoning: only a copy taken between two equal even counts is kept).
  record->unix_ms = slot.unix_ms;
  record->level = slot.level;
  record->core = slot.core;
  record->status_code = slot.status_code;
  record->key.assign(slot.key, std::min<size_t>(slot.key_size, sizeof(slot.key)));
  record->request_type.assign(slot.request_type,
                              std::min<size_t>(slot.request_type_size, sizeof(slot.request_type)));
  record->model.assign(slot.model, std::min<size_t>(slot.model_size, sizeof(slot.model)));
  record->message.assign(slot.message, std::min<size_t>(slot.message_size, sizeof(slot.message)));
  record->error_message.assign(slot.error, std::min<size_t>(slot.error_size, sizeof(slot.error)));
  std::atomic_thread_fence(std::memory_order_acquire);
  // Entry n was written, and not overwritten by entry n + capacity, iff the count is as it was.
  return slot.seq.load(std::memory_order_relaxed) == before && before != 0 && entry == n;
}

std::vector<ThreadRing*> AllRings() {
  RingRegistry& registry = Registry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  return registry.rings;
}

void Emit(LogLevel level, const LogFields& fields, const char* format, va_list args) {
  timespec now;
  // A line kept only for the dashboard (one per request) takes the coarse clock (a few ms of
  // resolution, no hardware clock read); a written line the precise one.
  clock_gettime(fields.write_output ? CLOCK_REALTIME : CLOCK_REALTIME_COARSE, &now);
  char buffer[kMessageBytes];
  std::string_view message;
  if (!fields.write_output && strchr(format, '%') == nullptr) {
    // A fixed text kept only for the dashboard (the line per request): the format string is
    // the message, one of ours, with no key in it; nothing to format or scan.
    message = format;
  } else {
    int written = vsnprintf(buffer, sizeof(buffer), format, args);
    size_t size = written < 0 ? 0 : std::min<size_t>(written, sizeof(buffer) - 1);
    size = Utf8Prefix(std::string_view(buffer, size), size).size();
    message = std::string_view(buffer, MaskApiKeysInPlace(buffer, size));
  }

  // Only the label of a key is ever used, whatever the caller passed.
  std::string_view key = fields.key.substr(0, 8);
  MaskedField<kFieldBytes> request_type(fields.request_type);
  MaskedField<kFieldBytes> model(fields.model);
  MaskedField<kErrorBytes> error(fields.error_message);
  MaskedField<kFieldBytes> method(fields.method);
  MaskedField<kErrorBytes> path(fields.path);
  MaskedField<64> client_ip(fields.client_ip);
  Pieces pieces{message,      key,           request_type.view(), model.view(),
                error.view(), method.view(), path.view(),         client_ip.view()};

  if (fields.write_output) {
    LineBuilder line;
    if (g_format.load(std::memory_order_relaxed) == LogFormat::kText) {
      BuildText(line, level, now, fields, pieces);
    } else {
      BuildJson(line, level, now, fields, pieces);
    }
    std::string_view bytes = line.view();
    ssize_t ignored =
        write(g_output_fd.load(std::memory_order_relaxed), bytes.data(), bytes.size());
    (void)ignored;
  }
  if (fields.keep_recent)
    KeepRecent(level, now, fields, pieces);
}

}  // namespace

void SetLogLevel(LogLevel level) {
  g_level.store(level, std::memory_order_relaxed);
}
LogLevel GetLogLevel() {
  return g_level.load(std::memory_order_relaxed);
}

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

void SetLogFormat(LogFormat format) {
  g_format.store(format, std::memory_order_relaxed);
}
LogFormat GetLogFormat() {
  return g_format.load(std::memory_order_relaxed);
}

bool ParseLogFormat(const char* text, LogFormat* out) {
  if (strcasecmp(text, "json") == 0) {
    *out = LogFormat::kJson;
    return true;
  }
  if (strcasecmp(text, "text") == 0) {
    *out = LogFormat::kText;
    return true;
  }
  return false;
}

void SetLogThreadCore(int core) {
  t_core = core;
}
int LogThreadCore() {
  return t_core;
}

void SetLogOutputFd(int fd) {
  // Threads share the file offset of a regular file opened without O_APPEND (`2> file`): two
  // cores writing at once could write at the same offset and one line would overwrite the other.
  // With O_APPEND every write lands whole at the end.
  struct stat info;
  if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_APPEND) == 0)
      fcntl(fd, F_SETFL, flags | O_APPEND);
  }
  g_output_fd.store(fd, std::memory_order_relaxed);
}

void LogMessage(LogLevel level, const char* format, ...) {
  va_list args;
  va_start(args, format);
  Emit(level, LogFields{}, format, args);
  va_end(args);
}

void LogWithFields(LogLevel level, const LogFields& fields, const char* format, ...) {
  va_list args;
  va_start(args, format);
  Emit(level, fields, format, args);
  va_end(args);
}

std::vector<LogRecord> RecentLogs(size_t max) {
  max = std::min(max, kRecentLogCapacity);
  // Each ring's entries, oldest first (in the order its thread wrote them).
  std::vector<std::vector<LogRecord>> per_ring;
  for (const ThreadRing* ring : AllRings()) {
    uint64_t written = ring->written.load(std::memory_order_acquire);
    uint64_t first = std::max(ring->cleared.load(std::memory_order_acquire),
                              written - std::min<uint64_t>(written, kRecentLogCapacity));
    // Only the newest `max` of each ring can be among the newest `max` of all.
    first = std::max(first, written - std::min<uint64_t>(written, max));
    std::vector<LogRecord> records;
    records.reserve(written - first);
    for (uint64_t n = first; n < written; ++n) {
      LogRecord record;
      if (ReadSlot(*ring, n, &record))
        records.push_back(std::move(record));
    }
    if (!records.empty())
      per_ring.push_back(std::move(records));
  }
  // Merged by time, each ring's own order kept (its timestamps never decrease).
  std::vector<LogRecord> merged;
  std::vector<size_t> next(per_ring.size(), 0);
  for (;;) {
    size_t best = per_ring.size();
    for (size_t r = 0; r < per_ring.size(); ++r) {
      if (next[r] < per_ring[r].size() &&
          (best == per_ring.size() ||
           per_ring[r][next[r]].unix_ms < per_ring[best][next[best]].unix_ms)) {
        best = r;
      }
    }
    if (best == per_ring.size())
      break;
    merged.push_back(std::move(per_ring[best][next[best]++]));
  }
  if (merged.size() > max)
    merged.erase(merged.begin(), merged.end() - static_cast<std::ptrdiff_t>(max));
  return merged;
}

uint64_t RecentLogsWritten() {
  uint64_t total = 0;
  for (const ThreadRing* ring : AllRings())
    total += ring->written.load(std::memory_order_acquire) -
             ring->cleared.load(std::memory_order_acquire);
  return total;
}

void ClearRecentLogs() {
  for (ThreadRing* ring : AllRings())
    ring->cleared.store(ring->written.load(std::memory_order_acquire), std::memory_order_release);
}

void CheckFailed(const char* condition, const char* file, int line) {
  LogMessage(LogLevel::kError, "CHECK failed: %s at %s:%d", condition, file, line);
  abort();
}

}  // namespace ringgate
