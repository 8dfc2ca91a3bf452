// AdminService::DashboardData: GET /api/dashboard-data as one core sees it (docs/dashboard-api.md
// section 3): everything comes from this core's own state (key pool, usage counters, minute
// statistics, model catalog, settings copy), which the cores keep in step with messages.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "ringgate/admin/admin_service.h"
#include "ringgate/common/log.h"
#include "ringgate/common/clock.h"
#include "ringgate/json/json_writer.h"
#include "ringgate/keys/key_list.h"
#include "ringgate/observe/log_entries.h"
#include "ringgate/server/chat_service.h"
#include "ringgate/server/shard.h"

namespace ringgate {
namespace {

// Keep in step with meson.build's project version.
constexpr char kVersion[] = "0.1.0";
constexpr size_t kMaxPageSize = 1000;
// HAJIMI sends at most 100 log entries.
constexpr size_t kDashboardLogEntries = 100;

std::optional<std::string_view> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t end = query.find('&');
    std::string_view item = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view() : query.substr(end + 1);
    size_t eq = item.find('=');
    if (item.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
  }
  return std::nullopt;
}

bool ParseCount(std::string_view text, size_t* out) {
  if (text.empty() || text.size() > 9)
    return false;
  size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  *out = value;
  return true;
}

tm LocalTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  tm local;
  localtime_r(&t, &local);
  return local;
}

std::string LocalClockText(int64_t unix_seconds, bool with_seconds, bool whole_hour) {
  tm local = LocalTime(unix_seconds);
  char text[16];
  if (with_seconds) {
    snprintf(text, sizeof(text), "%02d:%02d:%02d", local.tm_hour, local.tm_min, local.tm_sec);
  } else {
    snprintf(text, sizeof(text), "%02d:%02d", local.tm_hour, whole_hour ? 0 : local.tm_min);
  }
  return text;
}

void WritePoint(JsonWriter& w, std::string_view label, uint64_t value) {
  w.BeginObject();
  w.Field("time", label);
  w.Key("value");
  w.Uint(value);
  w.EndObject();
}

enum class KeyState : uint8_t { kHealthy, kResting, kQuarantined };

const char* KeyStateName(KeyState state) {
  switch (state) {
    case KeyState::kHealthy:
      return "healthy";
    case KeyState::kResting:
      return "resting";
    case KeyState::kQuarantined:
      return "quarantined";
  }
  return "healthy";
}

struct Rest {
  ModelId model;
  int64_t until;
  HealthReason reason;
};

struct KeyRow {
  uint32_t index = 0;
  KeyState state = KeyState::kHealthy;
  CallsTokens usage;
  double usage_percent = 0;
  std::vector<Rest> rests;  // only while resting
};

std::string QuarantineText(HealthReason reason, uint16_t status) {
  std::string text = HealthReasonText(reason);
  if (text.empty())
    text = "key rejected";
  if (status != 0 && reason != HealthReason::kKeyInvalid)
    text = "HTTP " + std::to_string(status) + ": " + text;
  return text;
}

bool Keep(DashboardQuery::Filter filter, KeyState state) {
  switch (filter) {
    case DashboardQuery::Filter::kAll:
      return true;
    case DashboardQuery::Filter::kHealthy:
      return state == KeyState::kHealthy;
    case DashboardQuery::Filter::kResting:
      return state == KeyState::kResting;
    case DashboardQuery::Filter::kQuarantined:
      return state == KeyState::kQuarantined;
  }
  return true;
}

}  // namespace

Result<DashboardQuery> ParseDashboardQuery(std::string_view query) {
  DashboardQuery out;
  if (std::optional<std::string_view> page = QueryParam(query, "key_page")) {
    out.paged = true;
    if (!ParseCount(*page, &out.page) || out.page == 0)
      return Status::Error("key_page must be a page number from 1");
  }
  if (std::optional<std::string_view> size = QueryParam(query, "key_page_size")) {
    out.paged = true;
    if (!ParseCount(*size, &out.page_size) || out.page_size == 0 || out.page_size > kMaxPageSize)
      return Status::Error("key_page_size must be between 1 and 1000");
  }
  if (std::optional<std::string_view> state = QueryParam(query, "key_state")) {
    if (*state == "all" || state->empty()) {
      out.filter = DashboardQuery::Filter::kAll;
    } else if (*state == "healthy") {
      out.filter = DashboardQuery::Filter::kHealthy;
    } else if (*state == "resting") {
      out.filter = DashboardQuery::Filter::kResting;
    } else if (*state == "quarantined") {
      out.filter = DashboardQuery::Filter::kQuarantined;
    } else {
      return Status::Error("key_state must be all, healthy, resting or quarantined");
    }
  }
  return out;
}

std::string AdminService::DashboardData(const DashboardQuery& query) {
  int64_t now = WallMillis();
  KeyPoolShard& pool = chat_.keys();
  pool.MaybeDailyReset(now);
  const UsageCounters& usage = pool.usage();
  const CallStats& stats = chat_.call_stats();
  const ModelRegistry& models = pool.models();
  int64_t daily_limit = pool.daily_limit();

  // Every key's row: state, usage; the rests of the resting ones.
  std::unordered_map<uint32_t, std::vector<Rest>> rests;
  pool.ForEachRest(now, [&](const KeyPoolShard::RestView& rest) {
    rests[rest.key].push_back(Rest{rest.model_id, rest.until_ms, rest.reason});
  });
  std::vector<KeyRow> rows;
  size_t counts[3] = {0, 0, 0};
  for (uint32_t i = 0; i < pool.size(); ++i) {
    if (pool.IsForgotten(i))
      continue;
    KeyRow row;
    row.index = i;
    row.usage = usage.Key(i);
    if (pool.IsQuarantined(i)) {
      row.state = KeyState::kQuarantined;
    } else if (auto it = rests.find(i); it != rests.end()) {
      row.state = KeyState::kResting;
      row.rests = std::move(it->second);
    }
    if (daily_limit > 0) {
      row.usage_percent =
          std::round(static_cast<double>(row.usage.calls) * 10000.0 / daily_limit) / 100.0;
    }
    ++counts[static_cast<int>(row.state)];
    if (Keep(query.filter, row.state))
      rows.push_back(std::move(row));
  }
  // HAJIMI's order: usage_percent descending (then calls, then index: stable pages).
  std::sort(rows.begin(), rows.end(), [](const KeyRow& a, const KeyRow& b) {
    if (a.usage_percent != b.usage_percent)
      return a.usage_percent > b.usage_percent;
    if (a.usage.calls != b.usage.calls)
      return a.usage.calls > b.usage.calls;
    return a.index < b.index;
  });
  size_t total = rows.size();
  size_t first = 0;
  size_t last = total;
  size_t pages = 1;
  if (query.paged) {
    pages = std::max<size_t>(1, (total + query.page_size - 1) / query.page_size);
    first = std::min(total, (query.page - 1) * query.page_size);
    last = std::min(total, first + query.page_size);
  }
  // model_stats for the keys on the page only.
  std::unordered_map<uint32_t, std::vector<std::pair<ModelId, CallsTokens>>> per_model;
  for (size_t r = first; r < last; ++r)
    per_model[rows[r].index];
  usage.ForEachKeyModel([&](uint32_t key, ModelId model, const CallsTokens& counts_km) {
    auto it = per_model.find(key);
    if (it != per_model.end())
      it->second.emplace_back(model, counts_km);
  });

  std::string out;
  out.reserve(4096 + (last - first) * 256);
  JsonWriter w(out);
  w.BeginObject();
  const char* status = shard_.draining()         ? "draining"
                       : pool.ActiveCount() == 0 ? "degraded"
                                                 : "running";
  w.Field("status", status);
  w.FieldInt("core", shard_.index());  // which core answered (each answers from its own view)
  w.FieldInt("uptime_seconds",
             static_cast<int64_t>((MonotonicMillis() - started_monotonic_ms_) / 1000));
  w.FieldInt("now_ms", now);
  w.Field("current_time", LocalClockText(now / 1000, true, false));
  w.Field("local_version", kVersion);
  w.Field("remote_version", "");
  w.FieldBool("has_update", false);

  // Calls and tokens (HAJIMI 14.1): minute = this and the previous minute; hour = 61 minutes;
  // day = since the last daily reset.
  int64_t minute = now / 60'000;
  MinuteCount last_minute = stats.Sum(minute - 1, minute);
  MinuteCount last_hour = stats.Sum(minute - 60, minute);
  CallsTokens day = usage.Total();
  w.Key("minute_calls"), w.Uint(last_minute.calls);
  w.Key("hourly_calls"), w.Uint(last_hour.calls);
  w.Key("last_24h_calls"), w.Uint(day.calls);
  w.Key("minute_tokens"), w.Uint(last_minute.tokens);
  w.Key("hourly_tokens"), w.Uint(last_hour.tokens);
  w.Key("last_24h_tokens"), w.Uint(day.tokens);

  // 31 points: now - 30 min ... now (HAJIMI), then 24 local hours, the last one the current.
  for (bool tokens : {false, true}) {
    w.Key(tokens ? "tokens_time_series" : "calls_time_series");
    w.BeginArray();
    for (int64_t m = minute - 30; m <= minute; ++m) {
      MinuteCount c = stats.Minute(m);
      WritePoint(w, LocalClockText(m * 60, false, false), tokens ? c.tokens : c.calls);
    }
    w.EndArray();
  }
  int64_t offset_minutes = LocalTime(now / 1000).tm_gmtoff / 60;
  int64_t hour_start = minute - (((minute + offset_minutes) % 60) + 60) % 60;
  for (bool tokens : {false, true}) {
    w.Key(tokens ? "tokens_time_series_24h" : "calls_time_series_24h");
    w.BeginArray();
    for (int64_t h = 23; h >= 0; --h) {
      int64_t start = hour_start - h * 60;
      MinuteCount c = stats.Sum(start, start + 59);
      WritePoint(w, LocalClockText(start * 60, false, true), tokens ? c.tokens : c.calls);
    }
    w.EndArray();
  }

  // Keys.
  w.FieldInt("key_count", static_cast<int64_t>(pool.ActiveCount()));
  w.FieldInt("api_key_daily_limit", daily_limit);
  w.Key("key_state_counts");
  w.BeginObject();
  w.FieldInt("healthy", static_cast<int64_t>(counts[0]));
  w.FieldInt("resting", static_cast<int64_t>(counts[1]));
  w.FieldInt("quarantined", static_cast<int64_t>(counts[2]));
  w.EndObject();
  if (query.paged) {
    w.Key("api_key_page");
    w.BeginObject();
    w.FieldInt("page", static_cast<int64_t>(query.page));
    w.FieldInt("page_size", static_cast<int64_t>(query.page_size));
    w.FieldInt("total", static_cast<int64_t>(total));
    w.FieldInt("pages", static_cast<int64_t>(pages));
    w.EndObject();
  }
  w.Key("api_key_stats");
  w.BeginArray();
  for (size_t r = first; r < last; ++r) {
    const KeyRow& row = rows[r];
    w.BeginObject();
    w.Field("api_key", KeyLabel(pool.key(row.index)));
    w.FieldInt("index", row.index);
    w.Key("calls_24h"), w.Uint(row.usage.calls);
    w.FieldInt("limit", daily_limit);
    w.Key("usage_percent"), w.Double(row.usage_percent);
    w.Key("total_tokens"), w.Uint(row.usage.tokens);
    w.Key("model_stats");
    w.BeginObject();
    for (const auto& [model, counts_km] : per_model[row.index]) {
      w.Key(models.Name(model));
      w.BeginObject();
      w.Key("calls"), w.Uint(counts_km.calls);
      w.Key("tokens"), w.Uint(counts_km.tokens);
      w.EndObject();
    }
    w.EndObject();
    w.Key("health");
    w.BeginObject();
    w.Field("state", KeyStateName(row.state));
    w.Key("until");
    if (row.state == KeyState::kResting) {
      const Rest* latest = &row.rests.front();
      for (const Rest& rest : row.rests) {
        if (rest.until > latest->until)
          latest = &rest;
      }
      w.Int(latest->until);
      w.Field("reason", HealthReasonText(latest->reason));
      w.Key("models");
      w.BeginArray();
      for (const Rest& rest : row.rests) {
        w.BeginObject();
        w.Field("model", models.Name(rest.model));
        w.FieldInt("until", rest.until);
        w.Field("reason", HealthReasonText(rest.reason));
        w.EndObject();
      }
      w.EndArray();
    } else if (row.state == KeyState::kQuarantined) {
      w.Null();
      w.Field("reason",
              QuarantineText(pool.QuarantineReason(row.index), pool.QuarantineStatus(row.index)));
    } else {
      w.Null();
      w.Field("reason", "");
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();

  std::vector<std::string> available = ListedModels(chat_.catalog(), chat_.list_settings());
  w.FieldInt("model_count", static_cast<int64_t>(available.size()));
  w.Key("available_models");
  w.BeginArray();
  for (const std::string& model : available)
    w.String(model);
  w.EndArray();
  w.FieldInt("retry_count", settings_.values().max_retry_num);
  w.FieldInt("credentials_count", 0);
  // HAJIMI's last 100 entries of the log ring, oldest first, in the server's local time.
  w.Key("logs");
  w.BeginArray();
  int64_t utc_offset = LocalTime(now / 1000).tm_gmtoff;
  for (const LogRecord& record : RecentLogs(kDashboardLogEntries))
    WriteHajimiLogEntry(w, record, utc_offset);
  w.EndArray();

  settings_.WriteHajimiFields(w);
  w.Key("settings");
  w.BeginObject();
  settings_.WriteDashboardSettings(w);
  w.EndObject();
  w.EndObject();
  return out;
}

}  // namespace ringgate
