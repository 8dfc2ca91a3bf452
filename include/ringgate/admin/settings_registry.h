// The settings the dashboard may change at run time (HAJIMI's update-config keys, 20.3, without
// the Vertex ones): their values, where each value came from, validation, and their JSON forms.
//
// Names: each setting has HAJIMI's environment name ("MAX_RETRY_NUM", also its settings.json
// name) and its update-config key ("max_retry_num"); every lookup takes either.
//
// Who holds one: every core keeps a copy (its dashboard answers from it); core 0's is the
// authoritative one. A change is applied on core 0 (validated first: an invalid value changes
// nothing) and the whole RuntimeSettings value is then sent to every core, which hands it to its
// ChatService. So a core sees either the old or the new settings, never half of a change.
//
// Persistence (settings.json) reads Snapshot() and feeds stored values back through ApplyJson()
// with SettingSource::kRuntime on core 0 (AdminService::ApplyStoredSettings broadcasts them).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ringgate/config/config.h"

namespace ringgate {

class JsonWriter;

// "default": nobody set it; "env": the environment or a command-line flag; "runtime": changed
// through update-config or loaded from settings.json (HAJIMI: a stored value outlives the env).
enum class SettingSource : uint8_t { kDefault, kEnv, kRuntime };
const char* SettingSourceName(SettingSource source);

enum class SettingId : uint8_t {
  kMaxRequestsPerMinute,
  kMaxRequestsPerDayPerIp,
  kMaxRetryNum,
  kMaxEmptyResponses,
  kConcurrentRequests,
  kIncreaseConcurrentOnFailure,
  kMaxConcurrentRequests,
  kFakeStreaming,
  kFakeStreamingInterval,
  kRandomString,
  kRandomStringLength,
  kSearchMode,
  kSearchPrompt,
  kCount,
};
inline constexpr size_t kSettingCount = static_cast<size_t>(SettingId::kCount);

// The values every core's ChatService and rate limiter take (ChatService::ApplyRuntimeSettings).
struct RuntimeSettings {
  uint32_t max_requests_per_minute = 30;
  uint32_t max_requests_per_day_per_ip = 600;
  uint32_t max_retry_num = 15;
  uint32_t max_empty_responses = 5;
  uint32_t concurrent_requests = 1;
  uint32_t increase_concurrent_on_failure = 0;
  uint32_t max_concurrent_requests = 3;
  bool fake_streaming = true;
  uint32_t fake_streaming_interval_ms = 1000;
  bool random_string = true;
  uint32_t random_string_length = 5;
  bool search_mode = false;
  std::string search_prompt;

  std::array<SettingSource, kSettingCount> source{};

  SettingSource source_of(SettingId id) const { return source[static_cast<size_t>(id)]; }
};

enum class SettingType : uint8_t { kInteger, kBoolean, kSeconds, kString };

struct SettingSpec {
  SettingId id;
  const char* env_name;  // "MAX_RETRY_NUM"
  const char* key;       // "max_retry_num"
  SettingType type;
  int64_t min = 0;  // kInteger: inclusive bounds; kSeconds: milliseconds; kString: max bytes
  int64_t max = 0;
};

class SettingsRegistry {
 public:
  SettingsRegistry() = default;
  // The start-up values. A setting is "env" when `getenv` finds its variable or its value differs
  // from Config's default (a flag set it); else "default".
  static SettingsRegistry FromConfig(
      const Config& config,
      const std::function<std::optional<std::string>(std::string_view)>& getenv);

  // Every editable setting, in the order the page lists them.
  static const std::vector<SettingSpec>& Specs();
  // By environment name or update-config key; nullptr when there is no such editable setting.
  static const SettingSpec* Find(std::string_view name);

  const RuntimeSettings& values() const { return values_; }
  // Replaces everything (a core taking core 0's broadcast).
  void Replace(const RuntimeSettings& values) { values_ = values; }

  // Checks `json_value` (one JSON value, as text) for the setting; "" when it is acceptable,
  // else the message for the field. Integers may come as JSON numbers without a fraction or as
  // strings of digits (HAJIMI's int()); booleans only as JSON booleans.
  static std::string Validate(const SettingSpec& spec, std::string_view json_value);
  // Validates, then sets the value and its source. Returns "" or the error; nothing changes on
  // error. An unknown name is an error too.
  std::string ApplyJson(std::string_view name, std::string_view json_value, SettingSource source);

  // Sets where a setting's current value came from (start-up: the names settings.json set are
  // "runtime"). Unknown names are ignored.
  void MarkSource(std::string_view name, SettingSource source);
  // Snapshot() restricted to the settings whose source is "runtime": what settings.json keeps
  // (a value from the environment or a default stays out, so a later environment change still
  // takes effect for it).
  std::vector<std::pair<std::string, std::string>> RuntimeSnapshot() const;
  // The current value as JSON text: 30, true, 1.5, "text".
  std::string ValueJson(const SettingSpec& spec) const;
  // (environment name, JSON value text) for every setting, in Specs() order.
  std::vector<std::pair<std::string, std::string>> Snapshot() const;
  // The dashboard's "settings" object members: "key": {"value": ..., "source": "..."}, written
  // into the object `w` is in.
  void WriteDashboardSettings(JsonWriter& w) const;
  // HAJIMI's top-level dashboard fields: "max_retry_num": 15, ... (same object).
  void WriteHajimiFields(JsonWriter& w) const;

 private:
  RuntimeSettings values_;
};

}  // namespace ringgate
