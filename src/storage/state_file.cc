#include "ringgate/storage/state_file.h"

#include <simdjson.h>

#include <algorithm>
#include <limits>

#include "ringgate/json/json_writer.h"
#include "ringgate/keys/reset_time.h"
#include "ringgate/storage/json_text.h"

namespace ringgate {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

Status Malformed(std::string_view what) {
  return Status::Error("malformed " + std::string(what));
}

// An integer member (a double that holds an integer is accepted too).
bool GetInt(object parent, std::string_view name, int64_t* out) {
  element value;
  if (parent[name].get(value) != simdjson::SUCCESS)
    return false;
  if (value.get_int64().get(*out) == simdjson::SUCCESS)
    return true;
  uint64_t unsigned_value;
  if (value.get_uint64().get(unsigned_value) == simdjson::SUCCESS) {
    *out = static_cast<int64_t>(std::min<uint64_t>(unsigned_value, INT64_MAX));
    return true;
  }
  return false;
}

bool GetString(object parent, std::string_view name, std::string* out) {
  std::string_view value;
  if (parent[name].get_string().get(value) != simdjson::SUCCESS)
    return false;
  out->assign(value);
  return true;
}

Status ParseRests(object root, int64_t now_ms, PersistedState* state) {
  array rests;
  simdjson::error_code error = root["resting"].get_array().get(rests);
  if (error == simdjson::NO_SUCH_FIELD)
    return Status::Ok();
  if (error)
    return Malformed("resting");
  for (element item : rests) {
    object rest;
    PersistedRest r;
    std::string reason;
    if (item.get_object().get(rest) || !GetString(rest, "key", &r.key) ||
        !GetString(rest, "model", &r.model) || !GetInt(rest, "until_ms", &r.until_ms)) {
      return Malformed("resting entry");
    }
    if (GetString(rest, "reason", &reason))
      r.reason = HealthReasonFromName(reason).value_or(HealthReason::kUnknown);
    if (r.until_ms > now_ms)
      state->rests.push_back(std::move(r));
  }
  return Status::Ok();
}

Status ParseUsage(object root, int64_t now_ms, PersistedState* state) {
  object usage;
  simdjson::error_code error = root["usage"].get_object().get(usage);
  if (error == simdjson::NO_SUCH_FIELD)
    return Status::Ok();
  if (error || !GetInt(usage, "day_end_ms", &state->usage_day_end_ms))
    return Malformed("usage");
  array entries;
  if (usage["by_key_model"].get_array().get(entries))
    return Malformed("usage.by_key_model");
  bool current_day = state->usage_day_end_ms > now_ms;
  for (element item : entries) {
    object entry;
    PersistedUsage u;
    int64_t calls = 0, tokens = 0;
    if (item.get_object().get(entry) || !GetString(entry, "key", &u.key) ||
        !GetString(entry, "model", &u.model) || !GetInt(entry, "calls", &calls) ||
        !GetInt(entry, "tokens", &tokens) || calls < 0 || tokens < 0) {
      return Malformed("usage entry");
    }
    u.calls = static_cast<uint64_t>(calls);
    u.tokens = static_cast<uint64_t>(tokens);
    if (current_day)
      state->usage.push_back(std::move(u));
  }
  if (!current_day)
    state->usage_day_end_ms = 0;
  return Status::Ok();
}

}  // namespace

std::string RenderStateFile(const PersistedState& state, int64_t now_ms) {
  std::string compact;
  JsonWriter w(compact);
  w.BeginObject();
  w.FieldInt("version", kStateFileVersion);
  w.FieldInt("saved_at_ms", now_ms);
  w.Key("quarantined_keys");
  w.BeginArray();
  for (const std::string& key : state.quarantined)
    w.String(key);
  w.EndArray();
  w.Key("resting");
  w.BeginArray();
  for (const PersistedRest& rest : state.rests) {
    w.BeginObject();
    w.Field("key", rest.key);
    w.Field("model", rest.model);
    w.FieldInt("until_ms", rest.until_ms);
    w.Field("reason", HealthReasonName(rest.reason));
    w.EndObject();
  }
  w.EndArray();
  w.Key("usage");
  w.BeginObject();
  w.FieldInt("day_end_ms", state.usage_day_end_ms);
  w.Key("by_key_model");
  w.BeginArray();
  for (const PersistedUsage& usage : state.usage) {
    w.BeginObject();
    w.Field("key", usage.key);
    w.Field("model", usage.model);
    w.Key("calls");
    w.Uint(usage.calls);
    w.Key("tokens");
    w.Uint(usage.tokens);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.FieldRaw("stats", state.stats.empty() ? std::string_view("null") : state.stats);
  w.EndObject();
  return IndentJson(compact, 2);
}

Result<PersistedState> ParseStateFile(std::string_view text, int64_t now_ms) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  element root_element;
  if (simdjson::error_code error = parser.parse(padded).get(root_element))
    return Status::Error(std::string("not valid JSON: ") + simdjson::error_message(error));
  object root;
  if (root_element.get_object().get(root))
    return Status::Error("not a JSON object");
  int64_t version = 0;
  if (!GetInt(root, "version", &version))
    return Status::Error("no version");
  if (version != kStateFileVersion)
    return Status::Error("version " + std::to_string(version) + " is not supported (expected " +
                         std::to_string(kStateFileVersion) + ")");
  PersistedState state;
  array quarantined;
  simdjson::error_code error = root["quarantined_keys"].get_array().get(quarantined);
  if (error && error != simdjson::NO_SUCH_FIELD)
    return Malformed("quarantined_keys");
  if (!error) {
    for (element item : quarantined) {
      std::string_view key;
      if (item.get_string().get(key))
        return Malformed("quarantined_keys");
      state.quarantined.emplace_back(key);
    }
  }
  if (Status s = ParseRests(root, now_ms, &state); !s.ok())
    return s;
  if (Status s = ParseUsage(root, now_ms, &state); !s.ok())
    return s;
  element stats;
  if (root["stats"].get(stats) == simdjson::SUCCESS && !stats.is_null())
    state.stats = CompactJson(stats);
  return state;
}

PersistedState SnapshotKeyState(const KeyPoolShard& pool, int64_t now_ms) {
  PersistedState state;
  state.quarantined = pool.QuarantinedKeys();
  pool.ForEachRest(now_ms, [&](const KeyPoolShard::RestView& rest) {
    state.rests.push_back(PersistedRest{std::string(pool.key(rest.key)), std::string(rest.model),
                                        rest.until_ms, rest.reason});
  });
  // Stable order: snapshots of the same state are the same text.
  std::sort(state.rests.begin(), state.rests.end(), [](const auto& a, const auto& b) {
    return a.key != b.key ? a.key < b.key : a.model < b.model;
  });
  state.usage_day_end_ms = pool.usage().day_end_ms();
  pool.usage().ForEachKeyModel([&](uint32_t key, ModelId model, const CallsTokens& counts) {
    if (key >= pool.size())
      return;
    state.usage.push_back(PersistedUsage{std::string(pool.key(key)),
                                         std::string(pool.models().Name(model)), counts.calls,
                                         counts.tokens});
  });
  return state;
}

size_t RestoreKeyState(const PersistedState& state, KeyPoolShard* pool, int64_t now_ms) {
  size_t applied = 0;
  for (const std::string& key : state.quarantined) {
    if (std::optional<uint32_t> index = pool->IndexOf(key)) {
      pool->Apply(HealthEvent::Quarantine(*index));
      ++applied;
    }
  }
  for (const PersistedRest& rest : state.rests) {
    std::optional<uint32_t> index = pool->IndexOf(rest.key);
    if (!index || rest.until_ms <= now_ms)
      continue;
    pool->Apply(HealthEvent::Rest(*index, rest.model, rest.until_ms, rest.reason));
    ++applied;
  }
  // Usage counts only for the usage day it belongs to: after the daily reset it is history.
  pool->MaybeDailyReset(now_ms);
  if (state.usage_day_end_ms != DailyResetAfter(now_ms))
    return applied;
  for (const PersistedUsage& usage : state.usage) {
    std::optional<uint32_t> index = pool->IndexOf(usage.key);
    if (!index)
      continue;
    uint64_t calls = usage.calls;
    uint64_t tokens = usage.tokens;
    do {  // HealthEvent carries 32-bit call counts
      uint32_t part = static_cast<uint32_t>(std::min<uint64_t>(calls, UINT32_MAX));
      pool->Apply(HealthEvent::Usage(*index, usage.model, part, tokens, state.usage_day_end_ms));
      calls -= part;
      tokens = 0;
      ++applied;
    } while (calls > 0);
  }
  return applied;
}

}  // namespace ringgate
