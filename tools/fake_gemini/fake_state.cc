#include "fake_state.h"

#include <simdjson.h>

#include <charconv>
#include <fstream>

#include "ringgate/http/response.h"

namespace fake_gemini {

using ringgate::Result;
using ringgate::Status;

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ParseInt(std::string_view text, int* out) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    return false;
  *out = value;
  return true;
}

bool ParseBool(std::string_view text, bool* out) {
  if (text == "1" || text == "true" || text == "yes" || text == "on") {
    *out = true;
    return true;
  }
  if (text == "0" || text == "false" || text == "no" || text == "off") {
    *out = false;
    return true;
  }
  return false;
}

Status Bad(std::string_view key, std::string_view value, std::string_view want) {
  return Status::Error("x-fake-script: bad value '" + std::string(value) + "' for " +
                       std::string(key) + " (want " + std::string(want) + ")");
}

bool ValidStatus(std::string_view s) {
  static constexpr std::string_view kKnown[] = {
      "400", "400_key", "401",        "403",     "403_suspended", "403_leaked", "403_blocked",
      "404", "429",     "429_minute", "429_day", "500",           "503",        "504"};
  for (std::string_view known : kKnown) {
    if (s == known)
      return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Script

Status Script::Set(std::string_view key, std::string_view value) {
  struct IntKnob {
    std::string_view name;
    int Script::*field;
    int min;
  };
  static const IntKnob kInts[] = {
      {"events", &Script::events, 1},
      {"delay_first_ms", &Script::delay_first_ms, 0},
      {"delay_ms", &Script::delay_ms, 0},
      {"text_len", &Script::text_len, 0},
      {"thoughts", &Script::thoughts, 0},
      {"cut_after", &Script::cut_after, -1},
      {"malformed", &Script::malformed, 0},
      {"stall_after", &Script::stall_after, -1},
      {"error_after", &Script::error_after, -1},
      {"prompt_tokens", &Script::prompt_tokens, -1},
      {"times", &Script::times, -1},
  };
  for (const IntKnob& knob : kInts) {
    if (key != knob.name)
      continue;
    int v = 0;
    if (!ParseInt(value, &v) || v < knob.min)
      return Bad(key, value, "an integer");
    this->*knob.field = v;
    return Status::Ok();
  }
  if (key == "text") {
    text = std::string(value);
  } else if (key == "echo" || key == "drop") {
    bool v = false;
    if (!ParseBool(value, &v))
      return Bad(key, value, "0 or 1");
    (key == "echo" ? echo : drop) = v;
  } else if (key == "stall") {
    bool v = false;
    if (!ParseBool(value, &v))
      return Bad(key, value, "0 or 1");
    stall_after = v ? 0 : -1;
  } else if (key == "function_call") {
    bool on = false;
    if (ParseBool(value, &on)) {
      function_call = on ? "get_weather" : "";
    } else {
      function_call = std::string(value);
    }
  } else if (key == "function_args") {
    function_args = std::string(value);
  } else if (key == "empty") {
    if (value == "0" || value == "none") {
      empty = EmptyMode::kNone;
    } else if (value == "1" || value == "parts" || value == "no_parts") {
      empty = EmptyMode::kNoParts;
    } else if (value == "text") {
      empty = EmptyMode::kEmptyText;
    } else {
      return Bad(key, value, "parts, text or 0");
    }
  } else if (key == "safety" || key == "block") {
    if (value == "0" || value == "none") {
      block = BlockMode::kNone;
    } else if (value == "prompt" || value == "1") {
      block = BlockMode::kPrompt;
    } else if (value == "candidate" || value == "finish") {
      block = BlockMode::kCandidate;
    } else {
      return Bad(key, value, "prompt, candidate or 0");
    }
  } else if (key == "finish") {
    if (value.empty())
      return Bad(key, value, "a finishReason such as MAX_TOKENS");
    finish = std::string(value);
  } else if (key == "max_tokens") {
    bool v = false;
    if (!ParseBool(value, &v))
      return Bad(key, value, "0 or 1");
    finish = v ? "MAX_TOKENS" : "STOP";
  } else if (key == "status" || key == "error_status") {
    if (value == "0" || value == "200") {
      if (key == "status")
        status.clear();
      return Status::Ok();
    }
    if (!ValidStatus(value)) {
      return Bad(key, value,
                 "400, 400_key, 401, 403, 403_suspended, 403_leaked, 403_blocked, 404, 429, "
                 "429_minute, 429_day, 500, 503 or 504");
    }
    (key == "status" ? status : error_status) = std::string(value);
  } else if (key == "retry_delay") {
    retry_delay = std::string(value);
  } else {
    return Status::Error("x-fake-script: unknown knob '" + std::string(key) + "'");
  }
  return Status::Ok();
}

Status Script::Apply(std::string_view text) {
  while (!text.empty()) {
    size_t end = text.find(';');
    std::string_view item = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (item.empty())
      continue;
    size_t eq = item.find('=');
    std::string_view key = Trim(item.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? "1" : Trim(item.substr(eq + 1));
    Status s = Set(key, value);
    if (!s.ok())
      return s;
  }
  return Status::Ok();
}

std::string Script::ToString() const {
  Script d;
  std::string out;
  auto add = [&](std::string_view k, const std::string& v) {
    if (!out.empty())
      out += ';';
    out.append(k);
    out += '=';
    out += v;
  };
  auto add_int = [&](std::string_view k, int v, int def) {
    if (v != def)
      add(k, std::to_string(v));
  };
  add_int("events", events, d.events);
  add_int("delay_first_ms", delay_first_ms, d.delay_first_ms);
  add_int("delay_ms", delay_ms, d.delay_ms);
  add_int("text_len", text_len, d.text_len);
  if (!text.empty())
    add("text", text);
  if (echo)
    add("echo", "1");
  add_int("thoughts", thoughts, d.thoughts);
  if (!function_call.empty())
    add("function_call", function_call);
  if (!function_args.empty())
    add("function_args", function_args);
  if (empty == EmptyMode::kNoParts)
    add("empty", "parts");
  if (empty == EmptyMode::kEmptyText)
    add("empty", "text");
  if (block == BlockMode::kPrompt)
    add("safety", "prompt");
  if (block == BlockMode::kCandidate)
    add("safety", "candidate");
  if (finish != d.finish)
    add("finish", finish);
  if (!status.empty())
    add("status", status);
  if (!retry_delay.empty())
    add("retry_delay", retry_delay);
  add_int("cut_after", cut_after, d.cut_after);
  if (drop)
    add("drop", "1");
  add_int("malformed", malformed, d.malformed);
  add_int("stall_after", stall_after, d.stall_after);
  add_int("error_after", error_after, d.error_after);
  if (error_status != d.error_status)
    add("error_status", error_status);
  add_int("prompt_tokens", prompt_tokens, d.prompt_tokens);
  add_int("times", times, d.times);
  return out;
}

Status ApplyScriptBody(Script& script, std::string_view body) {
  std::string_view trimmed = Trim(body);
  while (!trimmed.empty() && (trimmed.front() == '\n' || trimmed.front() == '\r')) {
    trimmed.remove_prefix(1);
  }
  if (trimmed.empty() || trimmed.front() != '{')
    return script.Apply(trimmed);
  simdjson::padded_string padded(body);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(object)) {
    return Status::Error("the script body is not a JSON object");
  }
  for (auto field : object) {
    std::string_view key;
    simdjson::ondemand::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) {
      return Status::Error("the script body is not valid JSON");
    }
    std::string key_copy(key);
    simdjson::ondemand::json_type type;
    if (value.type().get(type))
      return Status::Error("the script body is not valid JSON");
    std::string text;
    switch (type) {
      case simdjson::ondemand::json_type::string: {
        std::string_view s;
        if (value.get_string().get(s))
          return Status::Error("bad string in the script body");
        text = std::string(s);
        break;
      }
      case simdjson::ondemand::json_type::boolean: {
        bool b = false;
        if (value.get_bool().get(b))
          return Status::Error("bad boolean in the script body");
        text = b ? "1" : "0";
        break;
      }
      case simdjson::ondemand::json_type::number: {
        int64_t n = 0;
        if (value.get_int64().get(n))
          return Status::Error("bad number in the script body");
        text = std::to_string(n);
        break;
      }
      default:
        return Status::Error("script knob '" + key_copy + "' must be a string, number or bool");
    }
    Status s = script.Set(key_copy, text);
    if (!s.ok())
      return s;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Keys

bool ParseKeyState(std::string_view text, KeyState* out) {
  struct Entry {
    std::string_view name;
    KeyState state;
  };
  static constexpr Entry kStates[] = {
      {"valid", KeyState::kValid},         {"invalid", KeyState::kInvalid},
      {"suspended", KeyState::kSuspended}, {"leaked", KeyState::kLeaked},
      {"blocked", KeyState::kBlocked},     {"minute_quota", KeyState::kMinuteQuota},
      {"day_quota", KeyState::kDayQuota},
  };
  for (const Entry& e : kStates) {
    if (text == e.name) {
      *out = e.state;
      return true;
    }
  }
  return false;
}

std::string_view KeyStateName(KeyState state) {
  switch (state) {
    case KeyState::kValid:
      return "valid";
    case KeyState::kInvalid:
      return "invalid";
    case KeyState::kSuspended:
      return "suspended";
    case KeyState::kLeaked:
      return "leaked";
    case KeyState::kBlocked:
      return "blocked";
    case KeyState::kMinuteQuota:
      return "minute_quota";
    case KeyState::kDayQuota:
      return "day_quota";
  }
  return "valid";
}

// ---------------------------------------------------------------------------------------------
// Options

namespace {

void AddKeyList(Options& options, const std::string& list, KeyState state) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos)
      comma = list.size();
    std::string_view key = Trim(std::string_view(list).substr(start, comma - start));
    if (!key.empty())
      options.keys.emplace_back(std::string(key), state);
    start = comma + 1;
  }
}

Status ReadKeysFile(Options& options, const std::string& path) {
  std::ifstream file(path);
  if (!file)
    return Status::Error("--keys-file: cannot read " + path);
  std::string line;
  int number = 0;
  while (std::getline(file, line)) {
    ++number;
    std::string_view text = Trim(line);
    if (text.empty() || text.front() == '#')
      continue;
    size_t space = text.find_first_of(" \t");
    std::string_view key = text.substr(0, space);
    std::string_view state_text =
        space == std::string_view::npos ? "valid" : Trim(text.substr(space + 1));
    KeyState state;
    if (!ParseKeyState(state_text, &state)) {
      return Status::Error("--keys-file " + path + ":" + std::to_string(number) +
                           ": unknown key state '" + std::string(state_text) +
                           "' (valid, invalid, suspended, leaked, blocked, minute_quota, "
                           "day_quota)");
    }
    options.keys.emplace_back(std::string(key), state);
  }
  return Status::Ok();
}

}  // namespace

std::string HelpText() {
  return R"(fake-gemini: a fake of Google's Gemini API (generativelanguage v1beta) for tests.

  --listen HOST:PORT       address to serve on (default 127.0.0.1:8090; port 0 picks one)
  --threads N              reactor threads (default 1)
  --tls-cert PATH          serve HTTPS with this PEM certificate chain
  --tls-key PATH           the PEM private key for --tls-cert
  --keys-file PATH         lines "KEY STATE"; STATE is valid, invalid, suspended, leaked,
                           blocked, minute_quota or day_quota ('#' starts a comment)
  --valid-keys K1,K2       keys that are valid
  --invalid-keys K1,K2     keys answered 400 API_KEY_INVALID
  --suspended-keys K1,K2   keys answered 403 CONSUMER_SUSPENDED
  --minute-quota-keys K,.. keys answered 429 (per-minute quota)
  --day-quota-keys K,..    keys answered 429 (per-day quota)
  --any-key-valid[=BOOL]   unlisted non-empty keys are valid (default: true when no key
                           flag is given, false otherwise)
  --retry-delay D          RetryInfo.retryDelay of 429 answers (default 17s)
  --record N               requests kept for GET /_fake/requests (default 100, 0: none)
  --script S               initial default script, e.g. "events=5;delay_ms=10"
  --drain-timeout MS       how long SIGTERM waits for answers in progress (default 1000)
  --log-level LEVEL        debug, info, warning, error (default warning)
  --help                   this text

See docs/fake-gemini.md for the endpoints and the x-fake-script header.
)";
}

Result<Options> ParseOptions(int argc, const char* const* argv, bool* help) {
  Options options;
  bool any_key_flag_seen = false;
  bool any_key_explicit = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return options;
    }
    if (arg.rfind("--", 0) != 0)
      return Status::Error("unexpected argument '" + arg + "'");
    std::string name = arg;
    std::string value;
    bool has_value = false;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name == "--any-key-valid") {
      bool v = true;
      if (has_value && !ParseBool(value, &v)) {
        return Status::Error("--any-key-valid: want true or false, got '" + value + "'");
      }
      options.any_key_valid = v;
      any_key_explicit = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc)
        return Status::Error(name + " needs a value");
      value = argv[++i];
    }
    if (name == "--listen") {
      options.listen = value;
    } else if (name == "--threads") {
      int n = 0;
      if (!ParseInt(value, &n) || n < 1 || n > 1024) {
        return Status::Error("--threads: want a number from 1 to 1024, got '" + value + "'");
      }
      options.threads = n;
    } else if (name == "--tls-cert") {
      options.tls_cert = value;
    } else if (name == "--tls-key") {
      options.tls_key = value;
    } else if (name == "--keys-file") {
      Status s = ReadKeysFile(options, value);
      if (!s.ok())
        return s;
      any_key_flag_seen = true;
    } else if (name == "--valid-keys") {
      AddKeyList(options, value, KeyState::kValid);
      any_key_flag_seen = true;
    } else if (name == "--invalid-keys") {
      AddKeyList(options, value, KeyState::kInvalid);
      any_key_flag_seen = true;
    } else if (name == "--suspended-keys") {
      AddKeyList(options, value, KeyState::kSuspended);
      any_key_flag_seen = true;
    } else if (name == "--minute-quota-keys") {
      AddKeyList(options, value, KeyState::kMinuteQuota);
      any_key_flag_seen = true;
    } else if (name == "--day-quota-keys") {
      AddKeyList(options, value, KeyState::kDayQuota);
      any_key_flag_seen = true;
    } else if (name == "--retry-delay") {
      options.retry_delay = value;
    } else if (name == "--record") {
      int n = 0;
      if (!ParseInt(value, &n) || n < 0 || n > 1000000) {
        return Status::Error("--record: want a number from 0 to 1000000, got '" + value + "'");
      }
      options.record = static_cast<size_t>(n);
    } else if (name == "--script") {
      Script check;
      Status s = check.Apply(value);
      if (!s.ok())
        return Status::Error("--script: " + s.message());
      options.script = value;
    } else if (name == "--drain-timeout") {
      int n = 0;
      if (!ParseInt(value, &n) || n < 0) {
        return Status::Error("--drain-timeout: want milliseconds, got '" + value + "'");
      }
      options.drain_timeout_ms = static_cast<uint32_t>(n);
    } else if (name == "--log-level") {
      options.log_level = value;
    } else {
      return Status::Error("unknown flag " + name + " (see --help)");
    }
  }
  if (any_key_flag_seen && !any_key_explicit)
    options.any_key_valid = false;
  return options;
}

// ---------------------------------------------------------------------------------------------
// FakeState

FakeState::FakeState(const Options& options, int shards)
    : options_(options),
      shard_count_(shards),
      accepted_(new std::atomic<uint64_t>[shards]),
      live_(new std::atomic<uint64_t>[shards]) {
  for (int i = 0; i < shards; ++i) {
    accepted_[i].store(0);
    live_[i].store(0);
  }
  InitialKeys();
  (void)initial_script_.Apply(options.script);  // validated by ParseOptions
  default_script_ = initial_script_;
  log_.resize(options.record);
}

void FakeState::InitialKeys() {
  keys_.clear();
  model_keys_.clear();
  for (const auto& [key, state] : options_.keys)
    keys_[key] = state;
}

KeyState FakeState::LookUpKey(std::string_view key, std::string_view model) const {
  if (!model_keys_.empty() && !model.empty()) {
    auto by_key = model_keys_.find(key);
    if (by_key != model_keys_.end()) {
      auto it = by_key->second.find(model);
      if (it != by_key->second.end())
        return it->second;
    }
  }
  auto it = keys_.find(key);
  if (it != keys_.end())
    return it->second;
  return options_.any_key_valid ? KeyState::kValid : KeyState::kInvalid;
}

KeyState FakeState::BeginRequest(const RequestView& request, std::string& entry_json,
                                 Script* script) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_;
  auto counted = by_method_.find(request.api_method);
  if (counted == by_method_.end()) {
    by_method_.emplace(std::string(request.api_method), 1);
  } else {
    ++counted->second;
  }
  if (!log_.empty()) {
    log_[log_next_].swap(entry_json);
    log_next_ = (log_next_ + 1) % log_.size();
    if (log_size_ < log_.size())
      ++log_size_;
  }
  if (script != nullptr) {
    *script = default_script_;
    if (default_script_.times > 0 && --default_script_.times == 0)
      default_script_ = Script();
  }
  return LookUpKey(request.key, request.model);
}

Status FakeState::SetKeys(std::string_view json) {
  simdjson::padded_string padded(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(object)) {
    return Status::Error(
        "want a JSON object: {\"KEY\":\"STATE\",...} or "
        "{\"key\":\"K\",\"model\":\"M\",\"state\":\"STATE\"}");
  }
  // Collect first, apply under the lock only when every entry is valid.
  std::vector<std::pair<std::string, std::string>> fields;
  for (auto field : object) {
    std::string_view key;
    std::string_view value;
    if (field.unescaped_key().get(key))
      return Status::Error("bad key in the JSON object");
    std::string key_copy(key);
    if (field.value().get_string().get(value)) {
      return Status::Error("the value of '" + key_copy + "' must be a string");
    }
    fields.emplace_back(std::move(key_copy), std::string(value));
  }
  std::string key;
  std::string model;
  std::string state_text;
  bool single = false;
  for (const auto& [name, value] : fields) {
    if (name == "key") {
      key = value;
      single = true;
    } else if (name == "model") {
      model = value;
    } else if (name == "state") {
      state_text = value;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (single) {
    KeyState state;
    if (!ParseKeyState(state_text, &state)) {
      return Status::Error("unknown key state '" + state_text + "'");
    }
    if (model.rfind("models/", 0) == 0)
      model.erase(0, 7);
    if (model.empty()) {
      keys_[key] = state;
      auto it = model_keys_.find(key);
      if (it != model_keys_.end())
        model_keys_.erase(it);
    } else {
      model_keys_[key][model] = state;
    }
    return Status::Ok();
  }
  for (const auto& [name, value] : fields) {
    KeyState state;
    if (!ParseKeyState(value, &state)) {
      return Status::Error("unknown key state '" + value + "' for key '" + name +
                           "' (valid, invalid, suspended, leaked, blocked, minute_quota, "
                           "day_quota)");
    }
  }
  for (const auto& [name, value] : fields) {
    KeyState state = KeyState::kValid;
    ParseKeyState(value, &state);
    keys_[name] = state;
    auto it = model_keys_.find(name);
    if (it != model_keys_.end())
      model_keys_.erase(it);
  }
  return Status::Ok();
}

std::string FakeState::KeysJson() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "{\"any_key_valid\":";
  out += options_.any_key_valid ? "true" : "false";
  out += ",\"keys\":{";
  bool first = true;
  for (const auto& [key, state] : keys_) {
    if (!first)
      out += ',';
    first = false;
    out += '"';
    ringgate::AppendJsonEscaped(out, key);
    out += "\":\"";
    out.append(KeyStateName(state));
    out += '"';
  }
  out += "},\"models\":{";
  first = true;
  for (const auto& [key, models] : model_keys_) {
    if (!first)
      out += ',';
    first = false;
    out += '"';
    ringgate::AppendJsonEscaped(out, key);
    out += "\":{";
    bool first_model = true;
    for (const auto& [model, state] : models) {
      if (!first_model)
        out += ',';
      first_model = false;
      out += '"';
      ringgate::AppendJsonEscaped(out, model);
      out += "\":\"";
      out.append(KeyStateName(state));
      out += '"';
    }
    out += '}';
  }
  out += "}}";
  return out;
}

void FakeState::ResetKeys() {
  std::lock_guard<std::mutex> lock(mutex_);
  InitialKeys();
}

Status FakeState::SetDefaultScript(std::string_view body) {
  Script script;
  Status s = ApplyScriptBody(script, body);
  if (!s.ok())
    return s;
  std::lock_guard<std::mutex> lock(mutex_);
  default_script_ = std::move(script);
  return Status::Ok();
}

void FakeState::ResetDefaultScript() {
  std::lock_guard<std::mutex> lock(mutex_);
  default_script_ = initial_script_;
}

std::string FakeState::DefaultScriptJson() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "{\"script\":\"";
  ringgate::AppendJsonEscaped(out, default_script_.ToString());
  out += "\"}";
  return out;
}

std::string FakeState::RequestsJson() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "{\"requests\":[";
  size_t start = (log_next_ + log_.size() - log_size_) % (log_.empty() ? 1 : log_.size());
  for (size_t i = 0; i < log_size_; ++i) {
    if (i > 0)
      out += ',';
    out += log_[(start + i) % log_.size()];
  }
  out += "]}";
  return out;
}

void FakeState::ClearRequests() {
  std::lock_guard<std::mutex> lock(mutex_);
  log_next_ = 0;
  log_size_ = 0;
}

std::string FakeState::StatsJson() {
  uint64_t accepted = 0;
  uint64_t live = 0;
  for (int i = 0; i < shard_count_; ++i) {
    accepted += accepted_[i].load(std::memory_order_relaxed);
    live += live_[i].load(std::memory_order_relaxed);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "{\"requests\":" + std::to_string(requests_);
  out += ",\"errors\":" + std::to_string(errors_.load(std::memory_order_relaxed));
  out += ",\"connections_accepted\":" + std::to_string(accepted - accepted_baseline_);
  out += ",\"connections_open\":" + std::to_string(live);
  out += ",\"threads\":" + std::to_string(shard_count_);
  out += ",\"by_method\":{";
  bool first = true;
  for (const auto& [method, count] : by_method_) {
    if (!first)
      out += ',';
    first = false;
    out += '"';
    ringgate::AppendJsonEscaped(out, method);
    out += "\":" + std::to_string(count);
  }
  out += "}}";
  return out;
}

void FakeState::ResetStats() {
  uint64_t accepted = 0;
  for (int i = 0; i < shard_count_; ++i)
    accepted += accepted_[i].load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mutex_);
  requests_ = 0;
  by_method_.clear();
  errors_.store(0, std::memory_order_relaxed);
  accepted_baseline_ = accepted;
}

}  // namespace fake_gemini
