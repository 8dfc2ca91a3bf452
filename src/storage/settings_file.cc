#include "ringgate/storage/settings_file.h"

#include <simdjson.h>

#include <algorithm>
#include <map>
#include <set>

#include "ringgate/common/log.h"
#include "ringgate/json/json_writer.h"
#include "ringgate/storage/json_text.h"

namespace ringgate {
namespace {

constexpr char kKeysName[] = "GEMINI_API_KEYS";
constexpr char kInvalidKeysName[] = "INVALID_API_KEYS";
constexpr char kSearchName[] = "search";
constexpr char kOriginsName[] = "ALLOWED_ORIGINS";
constexpr char kOriginsTextName[] = "ALLOWED_ORIGINS_STR";

// HAJIMI's save_settings exclusions, plus ringgate's own secrets.
constexpr std::string_view kExcluded[] = {
    "STORAGE_DIR",  "ENABLE_STORAGE",   "BASE_DIR",       "PASSWORD",
    "WEB_PASSWORD", "WHITELIST_MODELS", "BLOCKED_MODELS", "DEFAULT_BLOCKED_MODELS",
    "PUBLIC_MODE",  "DASHBOARD_URL",    "version",        "METRICS_TOKEN"};

// The names ringgate writes, in the order HAJIMI's settings module defines them.
constexpr std::string_view kCanonicalOrder[] = {
    kKeysName,
    kInvalidKeysName,
    "FAKE_STREAMING",
    "FAKE_STREAMING_INTERVAL",
    "NONSTREAM_KEEPALIVE_ENABLED",
    "NONSTREAM_KEEPALIVE_INTERVAL",
    "CONCURRENT_REQUESTS",
    "INCREASE_CONCURRENT_ON_FAILURE",
    "MAX_CONCURRENT_REQUESTS",
    "CACHE_EXPIRY_TIME",
    "MAX_CACHE_ENTRIES",
    "CALCULATE_CACHE_ENTRIES",
    "PRECISE_CACHE",
    kSearchName,
    "RANDOM_STRING",
    "RANDOM_STRING_LENGTH",
    "ENABLE_THINKING",
    "MAX_EMPTY_RESPONSES",
    "MAX_RETRY_NUM",
    "MAX_REQUESTS_PER_MINUTE",
    "MAX_REQUESTS_PER_DAY_PER_IP",
    "API_KEY_DAILY_LIMIT",
    kOriginsTextName,
    kOriginsName,
};

// The names whose file value overrides the environment through the option table (the others in
// kCanonicalOrder have rules of their own).
bool IsOverridingSetting(std::string_view name) {
  if (name == kKeysName || name == kSearchName || name == kOriginsName || name == kOriginsTextName)
    return false;
  return std::find(std::begin(kCanonicalOrder), std::end(kCanonicalOrder), name) !=
         std::end(kCanonicalOrder);
}

// A JSON value as the text an option parser takes (as if it came from the environment).
Result<std::string> OptionText(simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::BOOL:
      return std::string(value.get_bool().value_unsafe() ? "true" : "false");
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return CompactJson(value);
    case simdjson::dom::element_type::STRING:
      return std::string(value.get_string().value_unsafe());
    case simdjson::dom::element_type::ARRAY: {
      std::string joined;
      simdjson::dom::array items;
      if (value.get_array().get(items) != simdjson::SUCCESS)
        return Status::Error("not an array");
      for (simdjson::dom::element item : items) {
        Result<std::string> text = OptionText(item);
        if (!text)
          return text.status();
        if (!joined.empty())
          joined += ',';
        joined += *text;
      }
      return joined;
    }
    case simdjson::dom::element_type::NULL_VALUE:
      return Status::Error("null");
    default:
      return Status::Error("an object");
  }
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty())
      out += ',';
    out += item;
  }
  return out;
}

// Float seconds from milliseconds, as Python prints them: 1000 -> 1.0, 1500 -> 1.5.
std::string FloatSeconds(uint64_t ms) {
  std::string out = std::to_string(ms / 1000) + ".";
  uint64_t fraction = ms % 1000;
  if (fraction == 0)
    return out + "0";
  std::string digits = std::to_string(fraction);
  digits.insert(0, 3 - digits.size(), '0');
  while (digits.back() == '0')
    digits.pop_back();
  return out + digits;
}

// Whole seconds as an integer (HAJIMI's type), a fraction as a float.
std::string Seconds(uint64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) : FloatSeconds(ms);
}

class Applier {
 public:
  Applier(Config* config, const std::function<bool(std::string_view)>& flag_given,
          AppliedSettings* out)
      : config_(config), flag_given_(flag_given), out_(out) {}

  void Apply(std::string_view name, simdjson::dom::element value) {
    if (flag_given_(name))
      return;
    Result<std::string> text = OptionText(value);
    if (!text) {
      Problem(name, "it is " + text.status().message());
      return;
    }
    Status s = SetConfigOption(*config_, name, *text);
    if (!s.ok()) {
      Problem(name, s.message());
      return;
    }
    out_->from_file.emplace_back(name);
  }

  void Problem(std::string_view name, const std::string& why) {
    out_->problems.push_back("settings.json: " + std::string(name) + " not taken (" + why +
                             "); the environment's value stays");
  }

 private:
  Config* config_;
  const std::function<bool(std::string_view)>& flag_given_;
  AppliedSettings* out_;
};

void UnionKeys(simdjson::dom::element value, Config* config, const EnvLookup& getenv,
               Applier& applier, AppliedSettings* out) {
  Result<std::string> text = OptionText(value);
  if (!text) {
    applier.Problem(kKeysName, "it is " + text.status().message());
    return;
  }
  std::vector<std::string> keys = ExtractApiKeys([&](std::string_view name) {
    if (name == kKeysName)
      return std::optional<std::string>(config->gemini_api_keys);
    return getenv(name);
  });
  std::set<std::string, std::less<>> known(keys.begin(), keys.end());
  size_t from_environment = keys.size();
  for (std::string& key : ExtractApiKeysFromText(*text)) {
    if (known.insert(key).second)
      keys.push_back(std::move(key));
  }
  if (keys.size() == from_environment)
    return;
  config->gemini_api_keys = Join(keys);
  out->from_file.emplace_back(kKeysName);
}

void ApplySearch(simdjson::dom::element value, Applier& applier) {
  simdjson::dom::object search;
  if (value.get_object().get(search) != simdjson::SUCCESS) {
    applier.Problem(kSearchName, "not an object");
    return;
  }
  simdjson::dom::element member;
  if (search["search_mode"].get(member) == simdjson::SUCCESS)
    applier.Apply("SEARCH_MODE", member);
  if (search["search_prompt"].get(member) == simdjson::SUCCESS)
    applier.Apply("SEARCH_PROMPT", member);
}

}  // namespace

bool IsExcludedSetting(std::string_view name) {
  return std::find(std::begin(kExcluded), std::end(kExcluded), name) != std::end(kExcluded);
}

Result<SettingsFile> ParseSettingsFile(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (simdjson::error_code error = parser.parse(padded).get(root)) {
    return Status::Error(std::string("not valid JSON: ") + simdjson::error_message(error));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS)
    return Status::Error("not a JSON object");
  SettingsFile file;
  for (simdjson::dom::key_value_pair member : object)
    file.entries.emplace_back(std::string(member.key), CompactJson(member.value));
  return file;
}

AppliedSettings ApplySettingsFile(const SettingsFile& file, Config* config, const EnvLookup& getenv,
                                  const std::function<bool(std::string_view)>& flag_given) {
  AppliedSettings out;
  Applier applier(config, flag_given, &out);
  simdjson::dom::parser parser;
  for (const auto& [name, json] : file.entries) {
    if (IsExcludedSetting(name))
      continue;
    bool known = name == kKeysName || name == kSearchName || IsOverridingSetting(name);
    if (!known)
      continue;  // kept verbatim for the next save; ALLOWED_ORIGINS stays the environment's
    simdjson::dom::element value;
    if (parser.parse(json).get(value) != simdjson::SUCCESS)
      continue;  // cannot happen: the text came from a parsed document
    if (name == kKeysName) {
      UnionKeys(value, config, getenv, applier, &out);
    } else if (name == kSearchName) {
      ApplySearch(value, applier);
    } else {
      applier.Apply(name, value);
    }
  }
  return out;
}

SettingsList SettingsFromConfig(const Config& c) {
  auto boolean = [](bool b) { return std::string(b ? "true" : "false"); };
  auto number = [](uint64_t n) { return std::to_string(n); };
  std::string search = "{\"search_mode\":" + boolean(c.search_mode) +
                       ",\"search_prompt\":" + JsonQuote(c.search_prompt) + "}";
  std::string origins = "[";
  for (const std::string& origin : ParseKeyList(c.allowed_origins)) {
    if (origins.size() > 1)
      origins += ',';
    origins += JsonQuote(origin);
  }
  origins += ']';
  return {
      {"FAKE_STREAMING", boolean(c.fake_streaming)},
      {"FAKE_STREAMING_INTERVAL", FloatSeconds(c.fake_streaming_interval_ms)},
      {"NONSTREAM_KEEPALIVE_ENABLED", boolean(c.nonstream_keepalive_enabled)},
      {"NONSTREAM_KEEPALIVE_INTERVAL", FloatSeconds(c.nonstream_keepalive_interval_ms)},
      {"CONCURRENT_REQUESTS", number(c.concurrent_requests)},
      {"INCREASE_CONCURRENT_ON_FAILURE", number(c.increase_concurrent_on_failure)},
      {"MAX_CONCURRENT_REQUESTS", number(c.max_concurrent_requests)},
      {"CACHE_EXPIRY_TIME", Seconds(c.cache_expiry_time_ms)},
      {"MAX_CACHE_ENTRIES", number(c.max_cache_entries)},
      {"CALCULATE_CACHE_ENTRIES", number(c.calculate_cache_entries)},
      {"PRECISE_CACHE", boolean(c.precise_cache)},
      {kSearchName, search},
      {"RANDOM_STRING", boolean(c.random_string)},
      {"RANDOM_STRING_LENGTH", number(c.random_string_length)},
      {"ENABLE_THINKING", boolean(c.enable_thinking)},
      {"MAX_EMPTY_RESPONSES", number(c.max_empty_responses)},
      {"MAX_RETRY_NUM", number(c.max_retry_num)},
      {"MAX_REQUESTS_PER_MINUTE", number(c.max_requests_per_minute)},
      {"MAX_REQUESTS_PER_DAY_PER_IP", number(c.max_requests_per_day_per_ip)},
      {"API_KEY_DAILY_LIMIT", number(c.api_key_daily_limit)},
      {kOriginsTextName, JsonQuote(c.allowed_origins)},
      {kOriginsName, origins},
  };
}

namespace {

// `current` as name -> valid JSON text, with HAJIMI's composite names formed.
std::map<std::string, std::string, std::less<>> NormalizeCurrent(const SettingsList& current) {
  std::map<std::string, std::string, std::less<>> values;
  std::string search_mode, search_prompt;
  simdjson::dom::parser parser;
  for (const auto& [name, json] : current) {
    simdjson::dom::element value;
    if (IsExcludedSetting(name))
      continue;
    if (parser.parse(json).get(value) != simdjson::SUCCESS) {
      RG_LOG(kWarning, "storage: setting %s is not valid JSON; left out of settings.json",
             name.c_str());
      continue;
    }
    std::string compact = CompactJson(value);
    if (name == "SEARCH_MODE") {
      search_mode = compact;
    } else if (name == "SEARCH_PROMPT") {
      search_prompt = compact;
    } else if (name == kOriginsName && value.is_string()) {
      values[kOriginsTextName] = compact;
      std::string array = "[";
      for (const std::string& origin : ParseKeyList(value.get_string().value_unsafe())) {
        if (array.size() > 1)
          array += ',';
        array += JsonQuote(origin);
      }
      values[kOriginsName] = array + "]";
    } else {
      values[name] = compact;
    }
  }
  if ((!search_mode.empty() || !search_prompt.empty()) && !values.count(kSearchName)) {
    values[kSearchName] = "{\"search_mode\":" + (search_mode.empty() ? "false" : search_mode) +
                          ",\"search_prompt\":" + (search_prompt.empty() ? "\"\"" : search_prompt) +
                          "}";
  }
  return values;
}

}  // namespace

std::string RenderSettingsFile(const SettingsList& current, const KeyLists& keys,
                               const SettingsList& previous) {
  std::map<std::string, std::string, std::less<>> values = NormalizeCurrent(current);
  values[kKeysName] = JsonQuote(Join(keys.valid));
  values[kInvalidKeysName] = JsonQuote(Join(keys.invalid));

  std::string compact;
  JsonWriter w(compact);
  std::set<std::string, std::less<>> written;
  auto write = [&](std::string_view name, std::string_view json) {
    if (!written.emplace(name).second)
      return;
    w.Key(name);
    w.Raw(json);
  };
  w.BeginObject();
  for (const auto& [name, json] : previous) {
    if (IsExcludedSetting(name))
      continue;
    auto it = values.find(name);
    write(name, it != values.end() ? std::string_view(it->second) : std::string_view(json));
  }
  for (std::string_view name : kCanonicalOrder) {
    auto it = values.find(name);
    if (it != values.end())
      write(name, it->second);
  }
  for (const auto& entry : current) {
    auto it = values.find(entry.first);
    if (it != values.end())
      write(it->first, it->second);
  }
  for (const auto& [name, json] : values)
    write(name, json);
  w.EndObject();
  return IndentJson(compact);
}

}  // namespace ringgate
