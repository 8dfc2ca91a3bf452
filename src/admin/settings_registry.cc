#include "ringgate/admin/settings_registry.h"

#include <simdjson.h>

#include <cmath>
#include <cstdlib>

#include "ringgate/json/json_writer.h"

namespace ringgate {
namespace {

// Bounds as the command line's (config.cc), except where HAJIMI's update-config is stricter
// (the rate limits must be > 0 there, while the environment may turn them off with 0).
const std::vector<SettingSpec>& AllSpecs() {
  static const std::vector<SettingSpec> specs = {
      {SettingId::kMaxRequestsPerMinute, "MAX_REQUESTS_PER_MINUTE", "max_requests_per_minute",
       SettingType::kInteger, 1, 1'000'000'000},
      {SettingId::kMaxRequestsPerDayPerIp, "MAX_REQUESTS_PER_DAY_PER_IP",
       "max_requests_per_day_per_ip", SettingType::kInteger, 1, 1'000'000'000},
      {SettingId::kMaxRetryNum, "MAX_RETRY_NUM", "max_retry_num", SettingType::kInteger, 1,
       100'000},
      {SettingId::kMaxEmptyResponses, "MAX_EMPTY_RESPONSES", "max_empty_responses",
       SettingType::kInteger, 0, 100'000},
      {SettingId::kConcurrentRequests, "CONCURRENT_REQUESTS", "concurrent_requests",
       SettingType::kInteger, 1, 1000},
      {SettingId::kIncreaseConcurrentOnFailure, "INCREASE_CONCURRENT_ON_FAILURE",
       "increase_concurrent_on_failure", SettingType::kInteger, 0, 1000},
      {SettingId::kMaxConcurrentRequests, "MAX_CONCURRENT_REQUESTS", "max_concurrent_requests",
       SettingType::kInteger, 1, 1000},
      {SettingId::kFakeStreaming, "FAKE_STREAMING", "fake_streaming", SettingType::kBoolean, 0, 0},
      {SettingId::kFakeStreamingInterval, "FAKE_STREAMING_INTERVAL", "fake_streaming_interval",
       SettingType::kSeconds, 10, 3'600'000},
      {SettingId::kRandomString, "RANDOM_STRING", "random_string", SettingType::kBoolean, 0, 0},
      {SettingId::kRandomStringLength, "RANDOM_STRING_LENGTH", "random_string_length",
       SettingType::kInteger, 1, 4096},
      {SettingId::kSearchMode, "SEARCH_MODE", "search_mode", SettingType::kBoolean, 0, 0},
      {SettingId::kSearchPrompt, "SEARCH_PROMPT", "search_prompt", SettingType::kString, 0,
       16 * 1024},
  };
  return specs;
}

// A parsed setting value: exactly one of these is meaningful, per the spec's type.
struct Parsed {
  int64_t integer = 0;
  bool boolean = false;
  std::string text;
};

bool ParseIntegerText(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 18)
    return false;
  size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size())
    return false;
  int64_t value = 0;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9')
      return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = text[0] == '-' ? -value : value;
  return true;
}

// Reads a JSON number (or a string holding one, as HAJIMI's int()/float() accept) as a double.
bool NumberOf(simdjson::dom::element value, double* out) {
  double d;
  if (!value.get_double().get(d)) {  // integers convert too
    *out = d;
    return true;
  }
  std::string_view text;
  if (value.get_string().get(text))
    return false;
  std::string copy(text);
  char* end = nullptr;
  d = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || !std::isfinite(d))
    return false;
  *out = d;
  return true;
}

std::string ParseValue(const SettingSpec& spec, std::string_view json, Parsed* out) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element value;
  if (parser.parse(padded).get(value))
    return "not a JSON value";
  switch (spec.type) {
    case SettingType::kBoolean: {
      if (value.get_bool().get(out->boolean))
        return "expected true or false";
      return "";
    }
    case SettingType::kString: {
      std::string_view text;
      if (value.get_string().get(text))
        return "expected a string";
      if (static_cast<int64_t>(text.size()) > spec.max)
        return "at most " + std::to_string(spec.max) + " bytes";
      out->text = std::string(text);
      return "";
    }
    case SettingType::kInteger: {
      int64_t integer = 0;
      std::string_view text;
      double d;
      if (value.is_bool()) {
        return "expected an integer";
      } else if (!value.get_int64().get(integer)) {
      } else if (!value.get_string().get(text)) {
        if (!ParseIntegerText(text, &integer))
          return "expected an integer";
      } else if (!value.get_double().get(d) && std::floor(d) == d && std::fabs(d) < 1e15) {
        integer = static_cast<int64_t>(d);
      } else {
        return "expected an integer";
      }
      if (integer < spec.min || integer > spec.max) {
        return "must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max);
      }
      out->integer = integer;
      return "";
    }
    case SettingType::kSeconds: {
      double seconds;
      if (value.is_bool() || !NumberOf(value, &seconds))
        return "expected a number of seconds";
      if (!(seconds > 0))
        return "must be greater than 0";
      double ms = std::round(seconds * 1000.0);
      if (ms < static_cast<double>(spec.min) || ms > static_cast<double>(spec.max)) {
        return "must be between " + std::to_string(spec.min / 1000.0).substr(0, 4) + " and " +
               std::to_string(spec.max / 1000) + " seconds";
      }
      out->integer = static_cast<int64_t>(ms);
      return "";
    }
  }
  return "unsupported";
}

// V is RuntimeSettings or const RuntimeSettings.
template <typename V>
auto IntegerField(V& v, SettingId id) -> decltype(&v.max_retry_num) {
  switch (id) {
    case SettingId::kMaxRequestsPerMinute:
      return &v.max_requests_per_minute;
    case SettingId::kMaxRequestsPerDayPerIp:
      return &v.max_requests_per_day_per_ip;
    case SettingId::kMaxRetryNum:
      return &v.max_retry_num;
    case SettingId::kMaxEmptyResponses:
      return &v.max_empty_responses;
    case SettingId::kConcurrentRequests:
      return &v.concurrent_requests;
    case SettingId::kIncreaseConcurrentOnFailure:
      return &v.increase_concurrent_on_failure;
    case SettingId::kMaxConcurrentRequests:
      return &v.max_concurrent_requests;
    case SettingId::kFakeStreamingInterval:
      return &v.fake_streaming_interval_ms;
    case SettingId::kRandomStringLength:
      return &v.random_string_length;
    default:
      return nullptr;
  }
}

template <typename V>
auto BooleanField(V& v, SettingId id) -> decltype(&v.fake_streaming) {
  switch (id) {
    case SettingId::kFakeStreaming:
      return &v.fake_streaming;
    case SettingId::kRandomString:
      return &v.random_string;
    case SettingId::kSearchMode:
      return &v.search_mode;
    default:
      return nullptr;
  }
}

RuntimeSettings ValuesFromConfig(const Config& c) {
  RuntimeSettings v;
  v.max_requests_per_minute = c.max_requests_per_minute;
  v.max_requests_per_day_per_ip = c.max_requests_per_day_per_ip;
  v.max_retry_num = c.max_retry_num;
  v.max_empty_responses = c.max_empty_responses;
  v.concurrent_requests = c.concurrent_requests;
  v.increase_concurrent_on_failure = c.increase_concurrent_on_failure;
  v.max_concurrent_requests = c.max_concurrent_requests;
  v.fake_streaming = c.fake_streaming;
  v.fake_streaming_interval_ms = c.fake_streaming_interval_ms;
  v.random_string = c.random_string;
  v.random_string_length = c.random_string_length;
  v.search_mode = c.search_mode;
  v.search_prompt = c.search_prompt;
  return v;
}

}  // namespace

const char* SettingSourceName(SettingSource source) {
  switch (source) {
    case SettingSource::kDefault:
      return "default";
    case SettingSource::kEnv:
      return "env";
    case SettingSource::kRuntime:
      return "runtime";
  }
  return "default";
}

const std::vector<SettingSpec>& SettingsRegistry::Specs() {
  return AllSpecs();
}

const SettingSpec* SettingsRegistry::Find(std::string_view name) {
  for (const SettingSpec& spec : AllSpecs()) {
    if (name == spec.env_name || name == spec.key)
      return &spec;
  }
  return nullptr;
}

SettingsRegistry SettingsRegistry::FromConfig(
    const Config& config,
    const std::function<std::optional<std::string>(std::string_view)>& getenv) {
  SettingsRegistry registry;
  registry.values_ = ValuesFromConfig(config);
  SettingsRegistry defaults;
  defaults.values_ = ValuesFromConfig(Config{});
  for (const SettingSpec& spec : AllSpecs()) {
    bool from_env = getenv && getenv(spec.env_name).has_value();
    bool changed = registry.ValueJson(spec) != defaults.ValueJson(spec);
    registry.values_.source[static_cast<size_t>(spec.id)] =
        from_env || changed ? SettingSource::kEnv : SettingSource::kDefault;
  }
  return registry;
}

void SettingsRegistry::MarkSource(std::string_view name, SettingSource source) {
  if (const SettingSpec* spec = Find(name))
    values_.source[static_cast<size_t>(spec->id)] = source;
}

std::vector<std::pair<std::string, std::string>> SettingsRegistry::RuntimeSnapshot() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const SettingSpec& spec : AllSpecs()) {
    if (values_.source_of(spec.id) == SettingSource::kRuntime)
      out.emplace_back(spec.env_name, ValueJson(spec));
  }
  return out;
}

std::string SettingsRegistry::Validate(const SettingSpec& spec, std::string_view json_value) {
  Parsed parsed;
  return ParseValue(spec, json_value, &parsed);
}

std::string SettingsRegistry::ApplyJson(std::string_view name, std::string_view json_value,
                                        SettingSource source) {
  const SettingSpec* spec = Find(name);
  if (spec == nullptr)
    return "unsupported setting: " + std::string(name);
  Parsed parsed;
  std::string error = ParseValue(*spec, json_value, &parsed);
  if (!error.empty())
    return error;
  if (uint32_t* field = IntegerField(values_, spec->id)) {
    *field = static_cast<uint32_t>(parsed.integer);
  } else if (bool* flag = BooleanField(values_, spec->id)) {
    *flag = parsed.boolean;
  } else if (spec->id == SettingId::kSearchPrompt) {
    values_.search_prompt = std::move(parsed.text);
  }
  values_.source[static_cast<size_t>(spec->id)] = source;
  return "";
}

std::string SettingsRegistry::ValueJson(const SettingSpec& spec) const {
  const RuntimeSettings& v = values_;
  std::string out;
  JsonWriter w(out);
  if (spec.id == SettingId::kFakeStreamingInterval) {
    w.Double(v.fake_streaming_interval_ms / 1000.0);
  } else if (const uint32_t* field = IntegerField(v, spec.id)) {
    w.Uint(*field);
  } else if (const bool* flag = BooleanField(v, spec.id)) {
    w.Bool(*flag);
  } else {
    w.String(v.search_prompt);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> SettingsRegistry::Snapshot() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const SettingSpec& spec : AllSpecs())
    out.emplace_back(spec.env_name, ValueJson(spec));
  return out;
}

void SettingsRegistry::WriteDashboardSettings(JsonWriter& w) const {
  for (const SettingSpec& spec : AllSpecs()) {
    w.Key(spec.key);
    w.BeginObject();
    w.FieldRaw("value", ValueJson(spec));
    w.Field("source", SettingSourceName(values_.source_of(spec.id)));
    w.EndObject();
  }
}

void SettingsRegistry::WriteHajimiFields(JsonWriter& w) const {
  for (const SettingSpec& spec : AllSpecs())
    w.FieldRaw(spec.key, ValueJson(spec));
}

}  // namespace ringgate
