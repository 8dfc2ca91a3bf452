// OpenAI Chat Completions request -> Gemini GenerateContentRequest. API in the header.
//
// Rules (HAJIMI 7.1/7.2 plus the fixes of its section 19):
// - system/developer messages -> one systemInstruction (all text parts, in order). If nothing
//   else has content, the system text is sent as the single user turn (Gemini needs contents).
// - user -> "user", assistant -> "model"; consecutive messages of the same kind are merged into
//   one turn (as HAJIMI). Function-response turns ("user" role) merge only with each other, so
//   the tool answers to one assistant message form ONE turn with several functionResponse parts.
//   Empty text parts are dropped. Assistant reasoning_content/name fields are ignored.
// - assistant tool_calls (and legacy function_call) -> functionCall parts after the text parts;
//   args parsed from the `arguments` JSON string (an object is accepted too; "" -> {}). No
//   functionCall.id is sent. thoughtSignature: tool_calls[i].extra_content.google.
//   thought_signature as sent; else, for the first call, the message's own extra_content
//   signature, then options.find_thought_signature(id), then on Gemini 3 the documented dummy
//   "skip_thought_signature_validator". A message-level signature on an assistant message
//   without calls goes on its last part.
// - tool (and legacy function) messages -> functionResponse named after the earlier tool call
//   with the same id (fallbacks: the message's `name`, then HAJIMI's "call_<name>" ids). A string
//   (or text parts, concatenated) that is a JSON object is sent as that object, anything else as
//   {"content": text}.
// - Parts: text; image_url (object or string) / file.file_data / input_audio.data as data: URLs
//   (base64 only, any media type) -> inlineData; raw base64 file_data takes its type from the
//   filename, input_audio from `format`. http(s) URLs and file_id -> 400, nothing is fetched.
// - generationConfig: temperature, top_p, top_k, n, max_completion_tokens (wins) / max_tokens,
//   stop, seed (wrapped to int32), penalties, response_format, logprobs/top_logprobs,
//   thinkingConfig. No default temperature. Absent or null fields are not sent.
// - Thinking, lowest to highest priority: HAJIMI default (options.enable_thinking_config:
//   thinking_budget default -1, includeThoughts from enable_thinking default true), then
//   reasoning_effort (2.5: budgets 0/512/1024/8192/24576, Pro 128..32768; 3.x: thinkingLevel),
//   then thinking_budget/enable_thinking sent explicitly (only with enable_thinking_config, as
//   HAJIMI), then `thinking` {type, budget_tokens}, then extra_body.google.thinking_config.
//   Budget and level are never both sent.
// - tools -> one functionDeclarations entry (see ToolSchemaMode); tool_choice -> toolConfig only
//   when the client sent one and there are declarations (AUTO is Gemini's default).
// - "-search" (search_mode) -> googleSearch tool + base model; SEARCH_PROMPT and disguise turns
//   inserted by index as HAJIMI, but never between a functionCall turn and its responses.
// - safetySettings: the five HAJIMI categories, OFF for gemini-2.5, 3.x and *-latest aliases,
//   BLOCK_NONE otherwise.
// - Errors: 400 with the JSON path of the field. On-Demand cannot continue after a structural
//   error, so every simdjson error other than NO_SUCH_FIELD/INCORRECT_TYPE ends the translation.
#include "ringgate/translate/chat_request.h"

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/json/json_writer.h"

namespace ringgate {
namespace {

namespace od = simdjson::ondemand;

constexpr char kInvalidJson[] = "invalid_json";
constexpr char kMissing[] = "missing_required_parameter";
constexpr char kInvalidType[] = "invalid_type";
constexpr char kInvalidValue[] = "invalid_value";
constexpr char kUnsupported[] = "unsupported_value";

constexpr int kMaxCopyDepth = 128;
constexpr std::string_view kDummySignature = "skip_thought_signature_validator";

// Turn kinds: function responses are "user" turns too, but are never merged with text turns.
enum class TurnKind { kNone, kUser, kModel, kFunction };

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}
bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z')
      x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = static_cast<char>(y - 'A' + 'a');
    if (x != y)
      return false;
  }
  return true;
}
bool IStartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && IEquals(s.substr(0, p.size()), p);
}

// Standard or URL-safe base64, optional '=' padding at the end only.
bool IsBase64(std::string_view s) {
  static const auto kTable = [] {
    std::array<bool, 256> t{};
    for (int c = 'A'; c <= 'Z'; ++c)
      t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c)
      t[c] = true;
    for (int c = '0'; c <= '9'; ++c)
      t[c] = true;
    t['+'] = t['/'] = t['-'] = t['_'] = true;
    return t;
  }();
  size_t n = s.size();
  size_t pad = 0;
  while (n > 0 && s[n - 1] == '=' && pad < 2)
    --n, ++pad;
  if (n == 0)
    return false;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  bool ok = true;
  for (size_t i = 0; i < n; ++i)
    ok &= kTable[p[i]];
  return ok;
}

// type/subtype made of RFC 6838 token characters.
bool IsMimeType(std::string_view m) {
  size_t slash = m.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == m.size())
    return false;
  for (size_t i = 0; i < m.size(); ++i) {
    char c = m[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '!' || c == '#' || c == '$' || c == '&' || c == '^' || c == '_' || c == '.' ||
              c == '+' || c == '-' || (c == '/' && i == slash);
    if (!ok)
      return false;
  }
  return true;
}

bool IsModelName(std::string_view m) {
  if (m.empty() || m.size() > 200)
    return false;
  for (char c : m) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok)
      return false;
  }
  return true;
}

// Model families, from names like gemini-2.5-flash, gemini-3-pro-preview, gemini-flash-latest.
struct ModelFamily {
  int major = 0;  // 0: no version in the name
  int minor = 0;
  bool pro = false;
  bool lite = false;
  bool latest_alias = false;
};

ModelFamily ClassifyModel(std::string_view model) {
  ModelFamily f;
  f.pro = model.find("-pro") != std::string_view::npos;
  f.lite = model.find("-lite") != std::string_view::npos;
  f.latest_alias = StartsWith(model, "gemini-") && EndsWith(model, "-latest");
  if (!StartsWith(model, "gemini-"))
    return f;
  size_t i = 7;
  int major = 0;
  bool digits = false;
  while (i < model.size() && model[i] >= '0' && model[i] <= '9' && major < 1000) {
    major = major * 10 + (model[i++] - '0');
    digits = true;
  }
  if (!digits)
    return f;
  f.major = major;
  if (i + 1 < model.size() && model[i] == '.' && model[i + 1] >= '0' && model[i + 1] <= '9') {
    f.minor = model[i + 1] - '0';
  }
  return f;
}

bool IsGemini3OrLater(const ModelFamily& f) {
  return f.major >= 3;
}
// HAJIMI 7.2: OFF for gemini-2.5; newer families (3.x, *-latest aliases) are treated the same.
bool UsesSafetyOff(const ModelFamily& f) {
  return f.major >= 3 || (f.major == 2 && f.minor >= 5) || f.latest_alias;
}

struct Thinking {
  bool has_budget = false;
  int64_t budget = 0;
  std::string_view level;  // upper-case Gemini enum, or empty
  int include = -1;        // -1: not set
  bool explicit_client = false;
  bool any() const { return has_budget || !level.empty() || include >= 0; }
  void SetBudget(int64_t b) { has_budget = true, budget = b, level = {}; }
  void SetLevel(std::string_view l) { has_budget = false, level = l; }
};

// A JSON path for error messages, rendered only when an error is reported ("messages[2].content").
struct Path {
  static constexpr size_t kNoIndex = ~size_t{0};
  Path(const char* n) : name(n) {}       // NOLINT: implicit for top-level field names
  Path(std::string_view n) : name(n) {}  // NOLINT
  Path(const Path* p, std::string_view n, size_t i) : parent(p), name(n), index(i) {}
  Path Field(std::string_view n) const { return Path(this, n, kNoIndex); }
  Path At(size_t i) const { return Path(this, {}, i); }
  void RenderTo(std::string& out) const {
    if (parent != nullptr)
      parent->RenderTo(out);
    if (index != kNoIndex) {
      out += '[';
      out += std::to_string(index);
      out += ']';
    } else {
      if (!out.empty())
        out += '.';
      out.append(name);
    }
  }
  std::string Render() const {
    std::string s;
    RenderTo(s);
    return s;
  }

  const Path* parent = nullptr;
  std::string_view name;
  size_t index = kNoIndex;
};

enum class ToolChoice { kUnset, kNone, kAuto, kAny };
enum class ResponseFormat { kUnset, kText, kJsonObject, kJsonSchema };

}  // namespace

struct ChatRequestTranslator::Impl {
  od::parser parser;
  od::parser sub_parser;
  std::string padded;   // the body, with SIMDJSON_PADDING slack
  std::string sub_buf;  // a JSON string's contents (tool arguments), padded
  std::string system_parts;
  std::string tools;
  std::string response_schema;
  std::string scratch;
  std::vector<std::string_view> stop;
  std::vector<std::string_view> allowed_names;
  struct CallName {
    std::string_view id, name;
  };
  std::vector<CallName> call_names;
  struct Turn {
    size_t offset;
    TurnKind kind;
  };
  std::vector<Turn> turns;
};

namespace {

// One translation: the state of a single request.
class Run {
 public:
  Run(ChatRequestTranslator::Impl& impl, const ChatTranslateOptions& options, TranslatedChat& out)
      : impl_(impl),
        options_(options),
        result_(out),
        out_(out.gemini_body),
        w_(out.gemini_body),
        sys_w_(impl.system_parts),
        tools_w_(impl.tools) {}

  bool Translate(const char* data, size_t len, size_t capacity);
  TranslateError& error() { return error_; }

 private:
  // ---- errors ----
  bool Fail(const Path& path, std::string_view message, const char* code) {
    std::string param = path.Render();
    error_.status = 400;
    error_.message = param.empty() ? std::string(message) : param + ": " + std::string(message);
    error_.param = std::move(param);
    error_.code = code;
    return false;
  }
  bool JsonFail(const Path& path, simdjson::error_code ec) {
    if (ec == simdjson::INCORRECT_TYPE)
      return Fail(path, "wrong type", kInvalidType);
    std::string param = path.Render();
    error_.status = 400;
    error_.message = "request body is not valid JSON";
    if (!param.empty())
      error_.message += " (near " + param + ")";
    error_.message += ": ";
    error_.message += simdjson::error_message(ec);
    error_.param = std::move(param);
    error_.code = kInvalidJson;
    return false;
  }

  // Optional member `key` of `o`. False (error set) on malformed JSON, which must end the
  // translation: simdjson On-Demand cannot go on after a structural error.
  bool Opt(od::object& o, std::string_view key, const Path& path, od::value* v, bool* found) {
    auto ec = o.find_field_unordered(key).get(*v);
    *found = ec == simdjson::SUCCESS;
    if (ec == simdjson::SUCCESS || ec == simdjson::NO_SUCH_FIELD)
      return true;
    return JsonFail(path, ec);
  }
  // Required member: "required" when absent.
  bool Req(od::object& o, std::string_view key, const Path& path, od::value* v) {
    bool found;
    if (!Opt(o, key, path, v, &found))
      return false;
    return found ? true : Fail(path, "required", kMissing);
  }
  // Required object member.
  bool ReqObject(od::object& o, std::string_view key, const Path& path, std::string_view what,
                 od::object* out) {
    od::value v;
    if (!Req(o, key, path, &v))
      return false;
    if (auto ec = v.get_object().get(*out)) {
      if (ec != simdjson::INCORRECT_TYPE)
        return JsonFail(path, ec);
      return Fail(path, std::string("expected ") + std::string(what), kInvalidType);
    }
    return true;
  }
  // Optional value that is present and not null.
  bool OptNonNull(od::object& o, std::string_view key, const Path& path, od::value* v,
                  bool* found) {
    if (!Opt(o, key, path, v, found))
      return false;
    if (!*found)
      return true;
    od::json_type t;
    if (auto ec = v->type().get(t))
      return JsonFail(path, ec);
    *found = t != od::json_type::null;
    return true;
  }
  bool EchoedSignature(od::object& o, const Path& path, std::string_view* sig);

  // ---- generic copies (validating, re-emitted through JsonWriter) ----
  bool CopyValue(od::value v, JsonWriter& w, int depth);
  bool CopyObject(od::object o, JsonWriter& w, int depth, bool drop_dollar_schema);
  bool CopyArray(od::array a, JsonWriter& w, int depth);
  bool CopyScalar(od::value v, od::json_type t, JsonWriter& w);
  // Gemini OpenAPI Schema subset.
  bool CopySchema(od::value v, JsonWriter& w, int depth);
  bool CopyParametersSchema(const Path& param, od::value v, JsonWriter& w);

  // ---- fields ----
  bool Model(od::object& root);
  bool Messages(od::value v);
  bool Message(od::value v, size_t mi);
  bool SystemContent(od::value content, size_t mi);
  bool Content(od::value content, size_t mi, TurnKind kind, bool allow_null, size_t* parts);
  bool ContentPart(od::value part, size_t mi, size_t pi, TurnKind kind, size_t* parts);
  bool InlineDataFromUrl(std::string_view url, const Path& param, TurnKind kind, size_t* parts);
  bool InlineData(std::string_view mime, std::string_view data, TurnKind kind, size_t* parts);
  bool ToolCalls(od::value v, size_t mi, std::string_view message_signature, size_t* parts);
  bool FunctionCallPart(od::object fn, const Path& param, std::string_view id,
                        std::string_view signature, size_t* parts);
  bool ToolResponse(od::object msg, size_t mi, bool legacy_function);
  bool ToolResponseBody(od::value content, const Path& param);
  bool Tools(od::value v, bool legacy_functions);
  bool FunctionDeclaration(od::object fn, const Path& param);
  bool ToolChoiceField(od::value v, bool legacy);
  bool ResponseFormatField(od::value v);
  bool Stop(od::value v);
  bool ThinkingConfigObject(od::value v, const Path& param);
  bool ReasoningEffort(std::string_view effort);

  // typed getters; `present` false when the value is null
  // A number (its text as written), or nullopt for null.
  bool GetNumber(od::value v, const Path& param, std::optional<std::string_view>* out);
  bool GetInt(od::value v, const Path& param, std::optional<int64_t>* out);
  bool GetBool(od::value v, const Path& param, std::optional<bool>* out);
  bool GetString(od::value v, const Path& param, std::string_view* out);

  // ---- contents ----
  void BeginPart(TurnKind kind) {
    if (open_kind_ != kind) {
      CloseTurn();
      w_.BeginObject();
      impl_.turns.push_back({out_.size() - 1, kind});
      w_.Field("role", kind == TurnKind::kModel ? "model" : "user");
      w_.Key("parts");
      w_.BeginArray();
      open_kind_ = kind;
    }
  }
  void CloseTurn() {
    if (open_kind_ == TurnKind::kNone)
      return;
    w_.EndArray();
    w_.EndObject();
    open_kind_ = TurnKind::kNone;
  }
  void TextPart(TurnKind kind, std::string_view text, size_t* parts) {
    if (text.empty())
      return;
    BeginPart(kind);
    w_.BeginObject();
    w_.Field("text", text);
    w_.EndObject();
    ++*parts;
  }
  // Adds "thoughtSignature" to the part object that was just closed.
  void SignLastPart(std::string_view signature) {
    out_.pop_back();  // '}'
    out_.append(",\"thoughtSignature\":\"");
    AppendJsonString(out_, signature);
    out_.append("\"}");
  }
  void InsertTurn(size_t index, std::string_view text);
  void WriteGenerationConfig(JsonWriter& w);
  void WriteSafety(JsonWriter& w);

  ChatRequestTranslator::Impl& impl_;
  const ChatTranslateOptions& options_;
  TranslatedChat& result_;
  std::string& out_;
  JsonWriter w_;
  JsonWriter sys_w_;
  JsonWriter tools_w_;
  TranslateError error_;
  TurnKind open_kind_ = TurnKind::kNone;
  Path messages_path_{"messages"};
  ModelFamily family_;
  bool messages_seen_ = false;
  size_t system_count_ = 0;

  // generation config, collected then written once (last value of a duplicate key wins)
  // As the client wrote them (GetNumber).
  std::optional<std::string_view> temperature_, top_p_, presence_penalty_, frequency_penalty_;
  std::optional<int64_t> top_k_, max_tokens_, max_completion_tokens_, seed_, n_, top_logprobs_;
  std::optional<bool> logprobs_;
  bool stop_set_ = false;
  ResponseFormat response_format_ = ResponseFormat::kUnset;
  bool has_response_schema_ = false;
  Thinking thinking_;
  // HAJIMI knobs, applied only with enable_thinking_config
  std::optional<int64_t> hajimi_budget_;
  bool hajimi_budget_null_ = false;
  std::optional<bool> hajimi_enable_;
  std::string_view reasoning_effort_;
  ToolChoice tool_choice_ = ToolChoice::kUnset;
  bool tool_choice_seen_ = false;
};

// ---------------------------------------------------------------------------------------------
// Generic copies

bool Run::CopyScalar(od::value v, od::json_type t, JsonWriter& w) {
  switch (t) {
    case od::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s))
        return false;
      w.String(s);
      return true;
    }
    case od::json_type::number: {
      std::string_view tok;
      tok = v.raw_json_token();
      while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\n' || tok.back() == '\r' ||
                              tok.back() == '\t')) {
        tok.remove_suffix(1);
      }
      double num;
      if (v.get_double().get(num))
        return false;
      w.Raw(tok);
      return true;
    }
    case od::json_type::boolean: {
      bool b;
      if (v.get_bool().get(b))
        return false;
      w.Bool(b);
      return true;
    }
    case od::json_type::null: {
      bool is_null;
      if (v.is_null().get(is_null) || !is_null)
        return false;
      w.Null();
      return true;
    }
    default:
      return false;
  }
}

bool Run::CopyValue(od::value v, JsonWriter& w, int depth) {
  od::json_type t;
  if (v.type().get(t))
    return false;
  if (t == od::json_type::object) {
    od::object o;
    if (v.get_object().get(o))
      return false;
    return CopyObject(o, w, depth + 1, false);
  }
  if (t == od::json_type::array) {
    od::array a;
    if (v.get_array().get(a))
      return false;
    return CopyArray(a, w, depth + 1);
  }
  return CopyScalar(v, t, w);
}

bool Run::CopyObject(od::object o, JsonWriter& w, int depth, bool drop_dollar_schema) {
  if (depth > kMaxCopyDepth)
    return false;
  w.BeginObject();
  for (auto field : o) {
    std::string_view key;
    if (field.unescaped_key().get(key))
      return false;
    od::value v;
    if (field.value().get(v))
      return false;
    if (drop_dollar_schema && key == "$schema")
      continue;
    w.Key(key);
    if (!CopyValue(v, w, depth))
      return false;
  }
  w.EndObject();
  return true;
}

bool Run::CopyArray(od::array a, JsonWriter& w, int depth) {
  if (depth > kMaxCopyDepth)
    return false;
  w.BeginArray();
  for (auto item : a) {
    od::value v;
    if (item.get(v))
      return false;
    if (!CopyValue(v, w, depth))
      return false;
  }
  w.EndArray();
  return true;
}

// Keys of Gemini's Schema message (wire-formats 2.2) copied as they are.
bool IsPlainSchemaKey(std::string_view k) {
  static constexpr std::string_view kKeys[] = {
      "title",         "description", "nullable", "enum",
      "minItems",      "maxItems",    "required", "minProperties",
      "maxProperties", "minimum",     "maximum",  "minLength",
      "maxLength",     "pattern",     "example",  "propertyOrdering",
      "default"};
  for (std::string_view x : kKeys) {
    if (k == x)
      return true;
  }
  return false;
}

bool Run::CopySchema(od::value v, JsonWriter& w, int depth) {
  if (depth > kMaxCopyDepth)
    return false;
  od::json_type t;
  if (v.type().get(t))
    return false;
  if (t != od::json_type::object) {
    // `true` / `false` schemas and other odd values: an unconstrained schema.
    if (t == od::json_type::array) {
      od::array a;
      if (v.get_array().get(a))
        return false;
      JsonWriter sink(impl_.scratch);
      impl_.scratch.clear();
      if (!CopyArray(a, sink, depth))
        return false;
    } else {
      impl_.scratch.clear();
      JsonWriter sink(impl_.scratch);
      if (!CopyScalar(v, t, sink))
        return false;
    }
    w.BeginObject();
    w.EndObject();
    return true;
  }
  od::object o;
  if (v.get_object().get(o))
    return false;
  w.BeginObject();
  bool nullable_written = false, want_nullable = false, enum_written = false,
       any_of_written = false, type_written = false;
  for (auto field : o) {
    std::string_view key;
    if (field.unescaped_key().get(key))
      return false;
    od::value fv;
    if (field.value().get(fv))
      return false;
    od::json_type ft;
    if (fv.type().get(ft))
      return false;
    if (key == "type") {
      if (type_written)
        continue;
      if (ft == od::json_type::string) {
        std::string_view s;
        if (fv.get_string().get(s))
          return false;
        std::string up(s);
        for (char& c : up) {
          if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
        }
        if (up == "NULL") {
          want_nullable = true;
          continue;
        }
        w.Field("type", up);
        type_written = true;
      } else if (ft == od::json_type::array) {
        od::array a;
        if (fv.get_array().get(a))
          return false;
        std::string chosen;
        for (auto item : a) {
          std::string_view s;
          if (item.get_string().get(s))
            return false;
          if (s == "null") {
            want_nullable = true;
          } else if (chosen.empty()) {
            chosen.assign(s);
            for (char& c : chosen) {
              if (c >= 'a' && c <= 'z')
                c = static_cast<char>(c - 'a' + 'A');
            }
          }
        }
        if (!chosen.empty()) {
          w.Field("type", chosen);
          type_written = true;
        }
      } else {
        return false;
      }
    } else if (key == "properties") {
      od::object props;
      if (fv.get_object().get(props))
        return false;
      w.Key("properties");
      w.BeginObject();
      for (auto prop : props) {
        std::string_view name;
        if (prop.unescaped_key().get(name))
          return false;
        od::value pv;
        if (prop.value().get(pv))
          return false;
        w.Key(name);
        if (!CopySchema(pv, w, depth + 1))
          return false;
      }
      w.EndObject();
    } else if (key == "items") {
      if (ft == od::json_type::array) {  // tuple form: keep the first schema
        od::array a;
        if (fv.get_array().get(a))
          return false;
        bool first = true;
        for (auto item : a) {
          od::value iv;
          if (item.get(iv))
            return false;
          if (first) {
            w.Key("items");
            if (!CopySchema(iv, w, depth + 1))
              return false;
            first = false;
          }
        }
      } else {
        w.Key("items");
        if (!CopySchema(fv, w, depth + 1))
          return false;
      }
    } else if (key == "anyOf" || key == "oneOf") {
      if (any_of_written)
        continue;
      od::array a;
      if (fv.get_array().get(a))
        return false;
      w.Key("anyOf");
      w.BeginArray();
      for (auto item : a) {
        od::value iv;
        if (item.get(iv))
          return false;
        if (!CopySchema(iv, w, depth + 1))
          return false;
      }
      w.EndArray();
      any_of_written = true;
    } else if (key == "const" || key == "enum") {
      if (enum_written)
        continue;
      w.Key("enum");
      if (key == "const") {
        w.BeginArray();
        if (!CopyValue(fv, w, depth))
          return false;
        w.EndArray();
      } else if (!CopyValue(fv, w, depth)) {
        return false;
      }
      enum_written = true;
    } else if (key == "format") {
      std::string_view s;
      if (fv.get_string().get(s))
        return false;
      if (s == "enum" || s == "date-time" || s == "int32" || s == "int64" || s == "float" ||
          s == "double") {
        w.Field("format", s);
      }
    } else if (IsPlainSchemaKey(key)) {
      if (key == "nullable") {
        if (nullable_written)
          continue;
        nullable_written = true;
      }
      w.Key(key);
      if (!CopyValue(fv, w, depth))
        return false;
    }
    // Anything else ($schema, additionalProperties, $ref, $defs, allOf, not, ...) is dropped.
  }
  if (want_nullable && !nullable_written)
    w.FieldBool("nullable", true);
  w.EndObject();
  return true;
}

// A schema in the configured mode: verbatim JSON Schema (root $schema removed) or cleaned.
bool Run::CopyParametersSchema(const Path& param, od::value v, JsonWriter& w) {
  bool ok;
  if (options_.tool_schema_mode == ToolSchemaMode::kOpenApiSchema) {
    ok = CopySchema(v, w, 0);
  } else {
    od::object o;
    if (v.get_object().get(o))
      return Fail(param, "expected a JSON Schema object", kInvalidType);
    ok = CopyObject(o, w, 1, true);
  }
  if (!ok)
    return Fail(param, "not a valid JSON Schema object", kInvalidValue);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Typed getters

bool Run::GetNumber(od::value v, const Path& param, std::optional<std::string_view>* out) {
  od::json_type t;
  if (v.type().get(t))
    return JsonFail(param, simdjson::TAPE_ERROR);
  if (t == od::json_type::null) {
    out->reset();
    return true;
  }
  // Kept as the client wrote it (simdjson checks it is a number that fits a double) and copied
  // to Gemini as is: printing the double again would cost a shortest-form conversion per field.
  std::string_view text = v.raw_json_token();
  double ignored;
  if (t != od::json_type::number || v.get_double().get(ignored))
    return Fail(param, "expected a number", kInvalidType);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  *out = text;
  return true;
}

bool Run::GetInt(od::value v, const Path& param, std::optional<int64_t>* out) {
  od::json_type t;
  if (v.type().get(t))
    return JsonFail(param, simdjson::TAPE_ERROR);
  if (t == od::json_type::null) {
    out->reset();
    return true;
  }
  if (t != od::json_type::number) {
    return Fail(param, "expected an integer", kInvalidType);
  }
  int64_t i;
  if (!v.get_int64().get(i)) {
    *out = i;
    return true;
  }
  // 40.0 is accepted as 40.
  double d;
  if (v.get_double().get(d) || d != static_cast<double>(static_cast<int64_t>(d)) || d > 9.0e18 ||
      d < -9.0e18) {
    return Fail(param, "expected an integer", kInvalidType);
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool Run::GetBool(od::value v, const Path& param, std::optional<bool>* out) {
  od::json_type t;
  if (v.type().get(t))
    return JsonFail(param, simdjson::TAPE_ERROR);
  if (t == od::json_type::null) {
    out->reset();
    return true;
  }
  bool b;
  if (t != od::json_type::boolean || v.get_bool().get(b)) {
    return Fail(param, "expected a boolean", kInvalidType);
  }
  *out = b;
  return true;
}

bool Run::GetString(od::value v, const Path& param, std::string_view* out) {
  od::json_type t;
  if (v.type().get(t))
    return JsonFail(param, simdjson::TAPE_ERROR);
  if (t != od::json_type::string)
    return Fail(param, "expected a string", kInvalidType);
  if (auto ec = v.get_string().get(*out))
    return JsonFail(param, ec);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Messages

bool Run::SystemContent(od::value content, size_t mi) {
  Path mpath = messages_path_.At(mi);
  Path param = mpath.Field("content");
  od::json_type t;
  if (auto ec = content.type().get(t))
    return JsonFail(param, ec);
  if (t == od::json_type::null)
    return true;
  auto add = [&](std::string_view text) {
    if (text.empty())
      return;
    sys_w_.BeginObject();
    sys_w_.Field("text", text);
    sys_w_.EndObject();
    ++system_count_;
  };
  if (t == od::json_type::string) {
    std::string_view s;
    if (auto ec = content.get_string().get(s))
      return JsonFail(param, ec);
    add(s);
    return true;
  }
  if (t != od::json_type::array) {
    return Fail(param, "expected a string or an array of text parts", kInvalidType);
  }
  od::array arr;
  if (auto ec = content.get_array().get(arr))
    return JsonFail(param, ec);
  size_t pi = 0;
  for (auto item : arr) {
    Path pparam = param.At(pi);
    od::object part;
    if (item.get_object().get(part))
      return Fail(pparam, "expected an object", kInvalidType);
    od::value type_v;
    std::string_view type;
    if (!Req(part, "type", pparam.Field("type"), &type_v) ||
        !GetString(type_v, pparam.Field("type"), &type)) {
      return false;
    }
    if (type != "text") {
      return Fail(pparam.Field("type"), "system messages may contain only text parts",
                  kUnsupported);
    }
    od::value text_v;
    std::string_view text;
    if (!Req(part, "text", pparam.Field("text"), &text_v))
      return false;
    if (!GetString(text_v, pparam.Field("text"), &text))
      return false;
    add(text);
    ++pi;
  }
  return true;
}

bool Run::InlineData(std::string_view mime, std::string_view data, TurnKind kind, size_t* parts) {
  BeginPart(kind);
  w_.BeginObject();
  w_.Key("inlineData");
  w_.BeginObject();
  w_.Field("mimeType", mime);
  w_.Key("data");
  w_.Raw("");
  out_.push_back('"');
  out_.append(data);  // validated base64: nothing to escape
  out_.push_back('"');
  w_.EndObject();
  w_.EndObject();
  ++*parts;
  return true;
}

bool Run::InlineDataFromUrl(std::string_view url, const Path& param, TurnKind kind, size_t* parts) {
  if (!IStartsWith(url, "data:")) {
    if (IStartsWith(url, "http://") || IStartsWith(url, "https://")) {
      return Fail(param, "remote image URLs are not supported; send a data: URL", kUnsupported);
    }
    return Fail(param, "expected a data: URL (data:<mime type>;base64,<data>)", kInvalidValue);
  }
  size_t comma = url.find(',');
  if (comma == std::string_view::npos) {
    return Fail(param, "malformed data: URL (no ',')", kInvalidValue);
  }
  std::string_view meta = url.substr(5, comma - 5);
  size_t semi = meta.find(';');
  std::string_view mime = meta.substr(0, semi);
  bool base64 = false;
  while (semi != std::string_view::npos) {
    meta.remove_prefix(semi + 1);
    semi = meta.find(';');
    if (IEquals(meta.substr(0, semi), "base64"))
      base64 = true;
  }
  if (!base64)
    return Fail(param, "only base64 data: URLs are supported", kUnsupported);
  if (!IsMimeType(mime))
    return Fail(param, "data: URL has no valid media type", kInvalidValue);
  std::string_view data = url.substr(comma + 1);
  if (!IsBase64(data))
    return Fail(param, "data: URL payload is not valid base64", kInvalidValue);
  return InlineData(mime, data, kind, parts);
}

std::string_view MimeFromFilename(std::string_view name) {
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos)
    return {};
  std::string_view ext = name.substr(dot + 1);
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {"pdf", "application/pdf"}, {"txt", "text/plain"},        {"md", "text/markdown"},
      {"csv", "text/csv"},        {"html", "text/html"},        {"htm", "text/html"},
      {"xml", "text/xml"},        {"json", "application/json"}, {"png", "image/png"},
      {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},       {"webp", "image/webp"},
      {"gif", "image/gif"},       {"heic", "image/heic"},       {"heif", "image/heif"},
      {"wav", "audio/wav"},       {"mp3", "audio/mp3"},         {"aac", "audio/aac"},
      {"ogg", "audio/ogg"},       {"flac", "audio/flac"},       {"aiff", "audio/aiff"},
      {"mp4", "video/mp4"},       {"mov", "video/mov"},         {"webm", "video/webm"},
      {"py", "text/x-python"},    {"js", "text/javascript"},    {"css", "text/css"},
  };
  for (const auto& [e, m] : kTypes) {
    if (IEquals(ext, e))
      return m;
  }
  return {};
}

bool Run::ContentPart(od::value item, size_t mi, size_t pi, TurnKind kind, size_t* parts) {
  Path mpath = messages_path_.At(mi);
  Path cpath = mpath.Field("content");
  Path param = cpath.At(pi);
  od::object part;
  if (item.get_object().get(part))
    return Fail(param, "expected a content part object", kInvalidType);
  od::value type_v;
  std::string_view type;
  if (!Req(part, "type", param.Field("type"), &type_v))
    return false;
  if (!GetString(type_v, param.Field("type"), &type))
    return false;
  if (type == "text" || (type == "refusal" && kind == TurnKind::kModel)) {
    od::value text_v;
    if (!Req(part, type, param.Field(type), &text_v))
      return false;
    std::string_view text;
    if (!GetString(text_v, param.Field(type), &text))
      return false;
    TextPart(kind, text, parts);
    return true;
  }
  if (type == "image_url") {
    od::value iv;
    if (!Req(part, "image_url", param.Field("image_url"), &iv))
      return false;
    od::json_type t;
    if (auto ec = iv.type().get(t))
      return JsonFail(param.Field("image_url"), ec);
    Path image_param = param.Field("image_url");
    Path url_field = image_param.Field("url");
    const Path* url_param = &image_param;
    od::value url_v;
    if (t == od::json_type::object) {
      od::object io;
      if (auto ec = iv.get_object().get(io))
        return JsonFail(image_param, ec);
      url_param = &url_field;
      if (!Req(io, "url", url_field, &url_v))
        return false;
    } else {
      url_v = iv;
    }
    std::string_view url;
    if (!GetString(url_v, *url_param, &url))
      return false;
    return InlineDataFromUrl(url, *url_param, kind, parts);
  }
  if (type == "input_audio") {
    Path aparam = param.Field("input_audio");
    od::object ao;
    if (!ReqObject(part, "input_audio", aparam, "an object with data and format", &ao)) {
      return false;
    }
    od::value fv, dv;
    std::string_view format, data;
    if (!Req(ao, "format", aparam.Field("format"), &fv))
      return false;
    if (!GetString(fv, aparam.Field("format"), &format))
      return false;
    if (!Req(ao, "data", aparam.Field("data"), &dv))
      return false;
    if (!GetString(dv, aparam.Field("data"), &data))
      return false;
    if (IStartsWith(data, "data:"))
      return InlineDataFromUrl(data, aparam.Field("data"), kind, parts);
    static constexpr std::pair<std::string_view, std::string_view> kAudio[] = {
        {"wav", "audio/wav"},   {"mp3", "audio/mp3"},   {"aac", "audio/aac"},
        {"ogg", "audio/ogg"},   {"flac", "audio/flac"}, {"aiff", "audio/aiff"},
        {"webm", "audio/webm"}, {"m4a", "audio/mp4"},   {"opus", "audio/ogg"}};
    std::string_view mime;
    for (const auto& [f, m] : kAudio) {
      if (IEquals(format, f))
        mime = m;
    }
    if (mime.empty()) {
      return Fail(aparam.Field("format"),
                  "unsupported audio format (wav, mp3, aac, ogg, flac, aiff, webm, m4a, opus)",
                  kUnsupported);
    }
    if (!IsBase64(data))
      return Fail(aparam.Field("data"), "not valid base64", kInvalidValue);
    return InlineData(mime, data, kind, parts);
  }
  if (type == "file") {
    Path fparam = param.Field("file");
    od::object fo;
    if (!ReqObject(part, "file", fparam, "an object with file_data", &fo))
      return false;
    od::value dv;
    std::string_view filename;
    od::value nv;
    bool found;
    if (!OptNonNull(fo, "filename", fparam.Field("filename"), &nv, &found))
      return false;
    if (found && !GetString(nv, fparam.Field("filename"), &filename))
      return false;
    if (!OptNonNull(fo, "file_data", fparam.Field("file_data"), &dv, &found))
      return false;
    if (!found) {
      od::value idv;
      if (!Opt(fo, "file_id", fparam.Field("file_id"), &idv, &found))
        return false;
      if (found) {
        return Fail(fparam.Field("file_id"), "uploaded file ids are not supported; send file_data",
                    kUnsupported);
      }
      return Fail(fparam.Field("file_data"), "required", kMissing);
    }
    std::string_view data;
    if (!GetString(dv, fparam.Field("file_data"), &data))
      return false;
    if (IStartsWith(data, "data:"))
      return InlineDataFromUrl(data, fparam.Field("file_data"), kind, parts);
    std::string_view mime = MimeFromFilename(filename);
    if (mime.empty()) {
      return Fail(fparam.Field("file_data"),
                  "cannot tell the media type; send a data: URL (data:<mime type>;base64,...)",
                  kInvalidValue);
    }
    if (!IsBase64(data))
      return Fail(fparam.Field("file_data"), "not valid base64", kInvalidValue);
    return InlineData(mime, data, kind, parts);
  }
  return Fail(param.Field("type"), "unsupported content part type '" + std::string(type) + "'",
              kUnsupported);
}

bool Run::Content(od::value content, size_t mi, TurnKind kind, bool allow_null, size_t* parts) {
  Path mpath = messages_path_.At(mi);
  Path param = mpath.Field("content");
  od::json_type t;
  if (auto ec = content.type().get(t))
    return JsonFail(param, ec);
  if (t == od::json_type::null) {
    return allow_null ? true : Fail(param, "required", kMissing);
  }
  if (t == od::json_type::string) {
    std::string_view s;
    if (auto ec = content.get_string().get(s))
      return JsonFail(param, ec);
    TextPart(kind, s, parts);
    return true;
  }
  if (t != od::json_type::array) {
    return Fail(param, "expected a string or an array of content parts", kInvalidType);
  }
  od::array arr;
  if (auto ec = content.get_array().get(arr))
    return JsonFail(param, ec);
  size_t pi = 0;
  for (auto item : arr) {
    od::value iv;
    if (auto ec = item.get(iv))
      return JsonFail(param.At(pi), ec);
    if (!ContentPart(iv, mi, pi, kind, parts))
      return false;
    ++pi;
  }
  return true;
}

bool Run::FunctionCallPart(od::object fn, const Path& param, std::string_view id,
                           std::string_view signature, size_t* parts) {
  od::value name_v;
  std::string_view name;
  if (!Req(fn, "name", param.Field("name"), &name_v))
    return false;
  if (!GetString(name_v, param.Field("name"), &name))
    return false;
  if (name.empty())
    return Fail(param.Field("name"), "must not be empty", kInvalidValue);
  if (!id.empty())
    impl_.call_names.push_back({id, name});

  BeginPart(TurnKind::kModel);
  w_.BeginObject();
  w_.Key("functionCall");
  w_.BeginObject();
  w_.Field("name", name);
  w_.Key("args");
  od::value args_v;
  od::json_type t = od::json_type::null;
  Path aparam = param.Field("arguments");
  bool has_args;
  if (!Opt(fn, "arguments", aparam, &args_v, &has_args))
    return false;
  if (has_args) {
    if (auto ec = args_v.type().get(t))
      return JsonFail(aparam, ec);
  }
  if (t == od::json_type::null) {
    w_.BeginObject();
    w_.EndObject();
  } else if (t == od::json_type::object) {  // some clients send an object, not a string
    od::object o;
    if (args_v.get_object().get(o) || !CopyObject(o, w_, 1, false)) {
      return Fail(aparam, "malformed JSON object", kInvalidJson);
    }
  } else if (t == od::json_type::string) {
    std::string_view s;
    if (auto ec = args_v.get_string().get(s))
      return JsonFail(aparam, ec);
    size_t b = 0;
    while (b < s.size() && (s[b] == ' ' || s[b] == '\n' || s[b] == '\r' || s[b] == '\t'))
      ++b;
    if (b == s.size()) {
      w_.BeginObject();
      w_.EndObject();
    } else {
      impl_.sub_buf.assign(s);
      impl_.sub_buf.resize(s.size() + simdjson::SIMDJSON_PADDING);
      od::document doc;
      od::object o;
      if (impl_.sub_parser.iterate(impl_.sub_buf.data(), s.size(), impl_.sub_buf.size()).get(doc) ||
          doc.get_object().get(o)) {
        return Fail(aparam, "must be a JSON object encoded as a string", kInvalidValue);
      }
      w_.Raw("");
      JsonWriter sub(out_);
      const char* trailing = nullptr;
      if (!CopyObject(o, sub, 1, false) || !doc.current_location().get(trailing)) {
        return Fail(aparam, "must be a JSON object encoded as a string", kInvalidValue);
      }
    }
  } else {
    return Fail(aparam, "expected a JSON string", kInvalidType);
  }
  w_.EndObject();
  if (!signature.empty())
    w_.Field("thoughtSignature", signature);
  w_.EndObject();
  ++*parts;
  return true;
}

// extra_content.google.thought_signature of `o`; *sig stays empty when there is none.
bool Run::EchoedSignature(od::object& o, const Path& path, std::string_view* sig) {
  Path epath = path.Field("extra_content");
  od::value v;
  bool found;
  if (!OptNonNull(o, "extra_content", epath, &v, &found))
    return false;
  if (!found)
    return true;
  od::object extra, google;
  if (auto ec = v.get_object().get(extra))
    return JsonFail(epath, ec);
  Path gpath = epath.Field("google");
  if (!OptNonNull(extra, "google", gpath, &v, &found))
    return false;
  if (!found)
    return true;
  if (auto ec = v.get_object().get(google))
    return JsonFail(gpath, ec);
  Path spath = gpath.Field("thought_signature");
  if (!OptNonNull(google, "thought_signature", spath, &v, &found))
    return false;
  if (!found)
    return true;
  return GetString(v, spath, sig);
}

bool Run::ToolCalls(od::value v, size_t mi, std::string_view message_signature, size_t* parts) {
  Path mpath = messages_path_.At(mi);
  Path param = mpath.Field("tool_calls");
  od::json_type t;
  if (auto ec = v.type().get(t))
    return JsonFail(param, ec);
  if (t == od::json_type::null)
    return true;
  od::array arr;
  if (t != od::json_type::array || v.get_array().get(arr)) {
    return Fail(param, "expected an array of tool calls", kInvalidType);
  }
  size_t ci = 0;
  for (auto item : arr) {
    Path cparam = param.At(ci);
    od::object call;
    if (item.get_object().get(call))
      return Fail(cparam, "expected an object", kInvalidType);
    std::string_view id;
    od::value id_v;
    bool found;
    if (!OptNonNull(call, "id", cparam.Field("id"), &id_v, &found))
      return false;
    if (found && !GetString(id_v, cparam.Field("id"), &id))
      return false;
    od::value type_v;
    if (!OptNonNull(call, "type", cparam.Field("type"), &type_v, &found))
      return false;
    if (found) {
      std::string_view type;
      if (!GetString(type_v, cparam.Field("type"), &type))
        return false;
      if (type != "function") {
        return Fail(cparam.Field("type"), "only function tool calls are supported", kUnsupported);
      }
    }
    std::string_view signature;
    if (!EchoedSignature(call, cparam, &signature))
      return false;
    if (ci == 0 && signature.empty())
      signature = message_signature;
    if (signature.empty() && ci == 0 && options_.find_thought_signature && !id.empty()) {
      signature = options_.find_thought_signature(id);
    }
    if (signature.empty() && ci == 0 && IsGemini3OrLater(family_))
      signature = kDummySignature;
    od::object fn;
    if (!ReqObject(call, "function", cparam.Field("function"), "an object with name and arguments",
                   &fn)) {
      return false;
    }
    if (!FunctionCallPart(fn, cparam.Field("function"), id, signature, parts))
      return false;
    ++ci;
  }
  return true;
}

bool Run::ToolResponseBody(od::value content, const Path& param) {
  od::json_type t;
  if (auto ec = content.type().get(t))
    return JsonFail(param, ec);
  std::string_view text;
  std::string& joined = impl_.scratch;
  if (t == od::json_type::string) {
    if (auto ec = content.get_string().get(text))
      return JsonFail(param, ec);
  } else if (t == od::json_type::array) {
    joined.clear();
    od::array arr;
    if (auto ec = content.get_array().get(arr))
      return JsonFail(param, ec);
    size_t pi = 0;
    for (auto item : arr) {
      Path pparam = param.At(pi++);
      od::object part;
      if (item.get_object().get(part))
        return Fail(pparam, "expected an object", kInvalidType);
      od::value tv;
      std::string_view s;
      bool found;
      if (!Opt(part, "text", pparam.Field("text"), &tv, &found))
        return false;
      if (!found)
        return Fail(pparam, "tool messages may contain only text parts", kUnsupported);
      if (!GetString(tv, pparam.Field("text"), &s))
        return false;
      joined.append(s);
    }
    text = joined;
  } else if (t != od::json_type::null) {
    return Fail(param, "expected a string or an array of text parts", kInvalidType);
  }
  // A string holding a JSON object is passed as that object; anything else is {"content": text}.
  size_t b = 0;
  while (b < text.size() &&
         (text[b] == ' ' || text[b] == '\n' || text[b] == '\r' || text[b] == '\t')) {
    ++b;
  }
  if (b < text.size() && text[b] == '{') {
    impl_.sub_buf.assign(text);
    impl_.sub_buf.resize(text.size() + simdjson::SIMDJSON_PADDING);
    size_t mark = out_.size();
    od::document doc;
    od::object o;
    JsonWriter sub(out_);
    const char* trailing = nullptr;
    if (!impl_.sub_parser.iterate(impl_.sub_buf.data(), text.size(), impl_.sub_buf.size())
             .get(doc) &&
        !doc.get_object().get(o) && CopyObject(o, sub, 1, false) &&
        doc.current_location().get(trailing)) {
      return true;
    }
    out_.resize(mark);
  }
  JsonWriter sub(out_);
  sub.BeginObject();
  sub.Field("content", text);
  sub.EndObject();
  return true;
}

bool Run::ToolResponse(od::object msg, size_t mi, bool legacy_function) {
  Path mparam = messages_path_.At(mi);
  std::string_view id, name;
  if (!legacy_function) {
    od::value id_v;
    if (!Req(msg, "tool_call_id", mparam.Field("tool_call_id"), &id_v))
      return false;
    if (!GetString(id_v, mparam.Field("tool_call_id"), &id))
      return false;
    for (size_t i = impl_.call_names.size(); i-- > 0;) {
      if (impl_.call_names[i].id == id) {
        name = impl_.call_names[i].name;
        break;
      }
    }
  }
  if (name.empty()) {
    od::value nv;
    bool found;
    if (!OptNonNull(msg, "name", mparam.Field("name"), &nv, &found))
      return false;
    if (found && !GetString(nv, mparam.Field("name"), &name))
      return false;
  }
  if (name.empty() && StartsWith(id, "call_") && id.size() > 5)
    name = id.substr(5);  // HAJIMI ids
  if (name.empty()) {
    if (legacy_function)
      return Fail(mparam.Field("name"), "required", kMissing);
    return Fail(mparam.Field("tool_call_id"),
                "no earlier assistant tool call has id '" + std::string(id) + "'", kInvalidValue);
  }
  BeginPart(TurnKind::kFunction);
  w_.BeginObject();
  w_.Key("functionResponse");
  w_.BeginObject();
  w_.Field("name", name);
  w_.Key("response");
  w_.Raw("");
  od::value content;
  bool has_content;
  if (!Opt(msg, "content", mparam.Field("content"), &content, &has_content))
    return false;
  if (!has_content) {
    out_.append("{\"content\":\"\"}");
  } else if (!ToolResponseBody(content, mparam.Field("content"))) {
    return false;
  }
  w_.EndObject();
  w_.EndObject();
  return true;
}

bool Run::Message(od::value v, size_t mi) {
  Path mparam = messages_path_.At(mi);
  od::object msg;
  if (v.get_object().get(msg))
    return Fail(mparam, "expected a message object", kInvalidType);
  od::value role_v;
  std::string_view role;
  if (!Req(msg, "role", mparam.Field("role"), &role_v))
    return false;
  if (!GetString(role_v, mparam.Field("role"), &role))
    return false;

  if (role == "user") {
    od::value content;
    if (!Req(msg, "content", mparam.Field("content"), &content))
      return false;
    size_t parts = 0;
    return Content(content, mi, TurnKind::kUser, false, &parts);
  }
  if (role == "system" || role == "developer") {
    od::value content;
    if (!Req(msg, "content", mparam.Field("content"), &content))
      return false;
    return SystemContent(content, mi);
  }
  if (role == "assistant") {
    std::string_view signature;
    if (!EchoedSignature(msg, mparam, &signature))
      return false;
    size_t parts = 0;
    od::value content;
    bool found;
    if (!Opt(msg, "content", mparam.Field("content"), &content, &found))
      return false;
    if (found && !Content(content, mi, TurnKind::kModel, true, &parts))
      return false;
    size_t text_parts = parts;
    od::value calls;
    if (!Opt(msg, "tool_calls", mparam.Field("tool_calls"), &calls, &found))
      return false;
    if (found && !ToolCalls(calls, mi, signature, &parts))
      return false;
    od::value fc;
    if (!Opt(msg, "function_call", mparam.Field("function_call"), &fc, &found))
      return false;
    if (found) {  // legacy single call
      od::json_type t;
      if (auto ec = fc.type().get(t))
        return JsonFail(mparam.Field("function_call"), ec);
      if (t != od::json_type::null) {
        od::object fo;
        if (fc.get_object().get(fo)) {
          return Fail(mparam.Field("function_call"), "expected an object", kInvalidType);
        }
        std::string_view sig = parts == text_parts ? signature : std::string_view();
        if (sig.empty() && parts == text_parts && IsGemini3OrLater(family_))
          sig = kDummySignature;
        if (!FunctionCallPart(fo, mparam.Field("function_call"), {}, sig, &parts))
          return false;
      }
    }
    // A signature on a message without calls belongs on its last part (wire-formats 4.3).
    if (parts == text_parts && parts > 0 && !signature.empty())
      SignLastPart(signature);
    return true;
  }
  if (role == "tool")
    return ToolResponse(msg, mi, false);
  if (role == "function")
    return ToolResponse(msg, mi, true);
  return Fail(mparam.Field("role"),
              "unknown role '" + std::string(role) +
                  "' (expected system, developer, user, assistant or tool)",
              kInvalidValue);
}

bool Run::Messages(od::value v) {
  if (messages_seen_)
    return Fail("messages", "duplicate field", kInvalidValue);
  messages_seen_ = true;
  od::json_type t;
  if (auto ec = v.type().get(t))
    return JsonFail("messages", ec);
  od::array arr;
  if (t != od::json_type::array || v.get_array().get(arr)) {
    return Fail("messages", "expected an array of messages", kInvalidType);
  }
  size_t mi = 0;
  for (auto item : arr) {
    od::value m;
    if (auto ec = item.get(m))
      return JsonFail(messages_path_.At(mi), ec);
    if (!Message(m, mi))
      return false;
    ++mi;
  }
  if (mi == 0)
    return Fail("messages", "must contain at least one message", kInvalidValue);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Tools, tool_choice, response_format, stop, thinking

bool Run::FunctionDeclaration(od::object fn, const Path& param) {
  od::value name_v;
  std::string_view name;
  if (!Req(fn, "name", param.Field("name"), &name_v))
    return false;
  if (!GetString(name_v, param.Field("name"), &name))
    return false;
  if (name.empty())
    return Fail(param.Field("name"), "must not be empty", kInvalidValue);
  tools_w_.BeginObject();
  tools_w_.Field("name", name);
  od::value dv;
  bool found;
  if (!OptNonNull(fn, "description", param.Field("description"), &dv, &found))
    return false;
  if (found) {
    std::string_view desc;
    if (!GetString(dv, param.Field("description"), &desc))
      return false;
    tools_w_.Field("description", desc);
  }
  od::value pv;
  if (!OptNonNull(fn, "parameters", param.Field("parameters"), &pv, &found))
    return false;
  {
    if (found) {
      tools_w_.Key(options_.tool_schema_mode == ToolSchemaMode::kOpenApiSchema
                       ? "parameters"
                       : "parametersJsonSchema");
      if (!CopyParametersSchema(param.Field("parameters"), pv, tools_w_))
        return false;
    }
  }
  tools_w_.EndObject();
  ++result_.function_declaration_count;
  return true;
}

bool Run::Tools(od::value v, bool legacy_functions) {
  Path field(legacy_functions ? "functions" : "tools");
  od::json_type t;
  if (auto ec = v.type().get(t))
    return JsonFail(field, ec);
  if (t == od::json_type::null)
    return true;
  od::array arr;
  if (t != od::json_type::array || v.get_array().get(arr)) {
    return Fail(field, "expected an array", kInvalidType);
  }
  size_t i = 0;
  for (auto item : arr) {
    Path param = field.At(i++);
    od::object tool;
    if (item.get_object().get(tool))
      return Fail(param, "expected an object", kInvalidType);
    if (legacy_functions) {
      if (!FunctionDeclaration(tool, param))
        return false;
      continue;
    }
    od::value type_v;
    std::string_view type = "function";
    bool found;
    if (!Opt(tool, "type", param.Field("type"), &type_v, &found))
      return false;
    if (found && !GetString(type_v, param.Field("type"), &type))
      return false;
    if (type != "function") {
      return Fail(param.Field("type"), "unsupported tool type '" + std::string(type) + "'",
                  kUnsupported);
    }
    od::object fn;
    if (!ReqObject(tool, "function", param.Field("function"), "an object with name", &fn)) {
      return false;
    }
    if (!FunctionDeclaration(fn, param.Field("function")))
      return false;
  }
  return true;
}

bool Run::ToolChoiceField(od::value v, bool legacy) {
  Path field(legacy ? "function_call" : "tool_choice");
  if (legacy && tool_choice_seen_)
    return true;  // tool_choice wins over the legacy field
  od::json_type t;
  if (auto ec = v.type().get(t))
    return JsonFail(field, ec);
  if (t == od::json_type::null)
    return true;
  impl_.allowed_names.clear();
  if (t == od::json_type::string) {
    std::string_view s;
    if (auto ec = v.get_string().get(s))
      return JsonFail(field, ec);
    if (s == "none") {
      tool_choice_ = ToolChoice::kNone;
    } else if (s == "auto") {
      tool_choice_ = ToolChoice::kAuto;
    } else if (s == "required" && !legacy) {
      tool_choice_ = ToolChoice::kAny;
    } else {
      return Fail(field, "unsupported value '" + std::string(s) + "'", kInvalidValue);
    }
    tool_choice_seen_ = !legacy;
    return true;
  }
  od::object o;
  if (t != od::json_type::object || v.get_object().get(o)) {
    return Fail(field, "expected a string or an object", kInvalidType);
  }
  tool_choice_seen_ = !legacy;
  if (legacy) {  // {"name": "f"}
    std::string_view name;
    od::value nv;
    if (!Req(o, "name", field.Field("name"), &nv))
      return false;
    if (!GetString(nv, field.Field("name"), &name))
      return false;
    tool_choice_ = ToolChoice::kAny;
    impl_.allowed_names.push_back(name);
    return true;
  }
  std::string_view type;
  od::value tv;
  if (!Req(o, "type", field.Field("type"), &tv))
    return false;
  if (!GetString(tv, field.Field("type"), &type))
    return false;
  if (type == "function") {
    od::object fn;
    Path fpath = field.Field("function");
    if (!ReqObject(o, "function", fpath, "an object with name", &fn))
      return false;
    std::string_view name;
    od::value nv;
    if (!Req(fn, "name", fpath.Field("name"), &nv))
      return false;
    if (!GetString(nv, fpath.Field("name"), &name))
      return false;
    tool_choice_ = ToolChoice::kAny;
    impl_.allowed_names.push_back(name);
    return true;
  }
  if (type == "allowed_tools") {
    od::object at;
    Path aparam = field.Field("allowed_tools");
    if (!ReqObject(o, "allowed_tools", aparam, "an object with mode and tools", &at))
      return false;
    std::string_view mode = "auto";
    od::value mv;
    bool found;
    if (!Opt(at, "mode", aparam.Field("mode"), &mv, &found))
      return false;
    if (found && !GetString(mv, aparam.Field("mode"), &mode))
      return false;
    if (mode == "auto") {
      tool_choice_ = ToolChoice::kAuto;  // Gemini restricts names only in ANY mode
    } else if (mode == "required") {
      tool_choice_ = ToolChoice::kAny;
    } else {
      return Fail(aparam.Field("mode"), "expected auto or required", kInvalidValue);
    }
    od::array tools;
    od::value tools_v;
    if (!Req(at, "tools", aparam.Field("tools"), &tools_v))
      return false;
    if (tools_v.get_array().get(tools)) {
      return Fail(aparam.Field("tools"), "expected an array", kInvalidType);
    }
    size_t i = 0;
    Path tools_path = aparam.Field("tools");
    for (auto item : tools) {
      Path tparam = tools_path.At(i++);
      od::object to, fn;
      std::string_view name;
      if (item.get_object().get(to))
        return Fail(tparam, "expected an object", kInvalidType);
      Path fpath = tparam.Field("function");
      od::value nv;
      if (!ReqObject(to, "function", fpath, "an object with name", &fn) ||
          !Req(fn, "name", fpath.Field("name"), &nv) ||
          !GetString(nv, fpath.Field("name"), &name)) {
        return false;
      }
      if (tool_choice_ == ToolChoice::kAny)
        impl_.allowed_names.push_back(name);
    }
    return true;
  }
  return Fail(field.Field("type"), "unsupported tool_choice type '" + std::string(type) + "'",
              kUnsupported);
}

bool Run::ResponseFormatField(od::value v) {
  od::json_type t;
  if (auto ec = v.type().get(t))
    return JsonFail("response_format", ec);
  if (t == od::json_type::null)
    return true;
  od::object o;
  if (t != od::json_type::object || v.get_object().get(o)) {
    return Fail("response_format", "expected an object", kInvalidType);
  }
  od::value tv;
  std::string_view type;
  Path rpath("response_format");
  if (!Req(o, "type", rpath.Field("type"), &tv))
    return false;
  if (!GetString(tv, "response_format.type", &type))
    return false;
  has_response_schema_ = false;
  if (type == "text") {
    response_format_ = ResponseFormat::kText;
  } else if (type == "json_object") {
    response_format_ = ResponseFormat::kJsonObject;
  } else if (type == "json_schema") {
    response_format_ = ResponseFormat::kJsonSchema;
    od::object js;
    Path jpath = rpath.Field("json_schema");
    if (!ReqObject(o, "json_schema", jpath, "an object with schema", &js))
      return false;
    od::value sv;
    bool found;
    if (!OptNonNull(js, "schema", jpath.Field("schema"), &sv, &found))
      return false;
    {
      if (found) {
        impl_.response_schema.clear();
        JsonWriter sw(impl_.response_schema);
        if (!CopyParametersSchema("response_format.json_schema.schema", sv, sw))
          return false;
        has_response_schema_ = true;
      }
    }
  } else {
    return Fail("response_format.type", "unsupported value '" + std::string(type) + "'",
                kUnsupported);
  }
  return true;
}

bool Run::Stop(od::value v) {
  od::json_type t;
  if (auto ec = v.type().get(t))
    return JsonFail("stop", ec);
  impl_.stop.clear();
  stop_set_ = false;
  if (t == od::json_type::null)
    return true;
  if (t == od::json_type::string) {
    std::string_view s;
    if (auto ec = v.get_string().get(s))
      return JsonFail("stop", ec);
    if (!s.empty())
      impl_.stop.push_back(s);
    stop_set_ = true;
    return true;
  }
  od::array arr;
  if (t != od::json_type::array || v.get_array().get(arr)) {
    return Fail("stop", "expected a string or an array of strings", kInvalidType);
  }
  size_t i = 0;
  for (auto item : arr) {
    std::string_view s;
    if (item.get_string().get(s))
      return Fail(Path("stop").At(i), "expected a string", kInvalidType);
    if (!s.empty())
      impl_.stop.push_back(s);
    ++i;
  }
  stop_set_ = true;
  return true;
}

bool Run::ReasoningEffort(std::string_view effort) {
  if (IsGemini3OrLater(family_)) {
    // Gemini 3 Pro accepts LOW/HIGH; Flash MINIMAL/LOW/MEDIUM/HIGH (wire-formats 4.1).
    if (effort == "none" || effort == "minimal") {
      thinking_.SetLevel(family_.pro ? "LOW" : "MINIMAL");
    } else if (effort == "low") {
      thinking_.SetLevel("LOW");
    } else if (effort == "medium") {
      thinking_.SetLevel(family_.pro ? "HIGH" : "MEDIUM");
    } else if (effort == "high" || effort == "xhigh" || effort == "max") {
      thinking_.SetLevel("HIGH");
    } else {
      return false;
    }
    return true;
  }
  // 2.5 and unknown families: budgets (Google's compat table: none 0, low 1024, medium 8192,
  // high 24576). 2.5 Pro cannot switch thinking off (minimum 128) and goes up to 32768;
  // Flash-Lite's smallest non-zero budget is 512.
  if (effort == "none") {
    thinking_.SetBudget(family_.pro ? 128 : 0);
  } else if (effort == "minimal") {
    thinking_.SetBudget(family_.pro ? 128 : 512);
  } else if (effort == "low") {
    thinking_.SetBudget(1024);
  } else if (effort == "medium") {
    thinking_.SetBudget(8192);
  } else if (effort == "high" || effort == "xhigh" || effort == "max") {
    thinking_.SetBudget(family_.pro ? 32768 : 24576);
  } else {
    return false;
  }
  return true;
}

// extra_body.google.thinking_config: {thinking_budget, thinking_level, include_thoughts}
// (camelCase spellings accepted too).
bool Run::ThinkingConfigObject(od::value v, const Path& param) {
  od::object o;
  if (v.get_object().get(o))
    return Fail(param, "expected an object", kInvalidType);
  for (auto field : o) {
    std::string_view key;
    od::value fv;
    if (field.unescaped_key().get(key) || field.value().get(fv)) {
      return JsonFail(param, simdjson::TAPE_ERROR);
    }
    Path fparam = param.Field(key);
    if (key == "thinking_budget" || key == "thinkingBudget") {
      std::optional<int64_t> b;
      if (!GetInt(fv, fparam, &b))
        return false;
      if (b)
        thinking_.SetBudget(*b), thinking_.explicit_client = true;
    } else if (key == "thinking_level" || key == "thinkingLevel") {
      std::string_view level;
      if (!GetString(fv, fparam, &level))
        return false;
      static constexpr std::string_view kLevels[] = {"MINIMAL", "LOW", "MEDIUM", "HIGH"};
      bool found = false;
      for (std::string_view l : kLevels) {
        if (IEquals(level, l))
          thinking_.SetLevel(l), found = true;
      }
      if (!found)
        return Fail(fparam, "expected minimal, low, medium or high", kInvalidValue);
      thinking_.explicit_client = true;
    } else if (key == "include_thoughts" || key == "includeThoughts") {
      std::optional<bool> b;
      if (!GetBool(fv, fparam, &b))
        return false;
      if (b)
        thinking_.include = *b ? 1 : 0, thinking_.explicit_client = true;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Top level

bool Run::Model(od::object& root) {
  od::value mv;
  auto ec = root.find_field_unordered("model").get(mv);
  if (ec == simdjson::NO_SUCH_FIELD)
    return Fail("model", "required", kMissing);
  if (ec)
    return JsonFail("", ec);
  std::string_view model;
  if (!GetString(mv, "model", &model))
    return false;
  result_.requested_model.assign(model);
  std::string_view up = model;
  if (StartsWith(up, "models/"))
    up.remove_prefix(7);
  if (options_.search_mode && EndsWith(up, "-search")) {
    up.remove_suffix(7);
    result_.search_tool = true;
  }
  if (!IsModelName(up)) {
    return Fail("model", "invalid model name (letters, digits, '-', '_', '.')", kInvalidValue);
  }
  result_.upstream_model.assign(up);
  family_ = ClassifyModel(up);
  return true;
}

void Run::InsertTurn(size_t index, std::string_view text) {
  auto& turns = impl_.turns;
  std::string& buf = impl_.scratch;
  constexpr std::string_view kOpen = R"({"role":"user","parts":[{"text":")";
  constexpr std::string_view kClose = R"("}]})";
  if (index >= turns.size()) {
    // At the end: written in place.
    if (!turns.empty())
      out_.push_back(',');
    size_t at = out_.size();
    out_.append(kOpen);
    AppendJsonString(out_, text);
    out_.append(kClose);
    turns.push_back({at, TurnKind::kUser});
    return;
  }
  buf.clear();
  buf.append(kOpen);
  AppendJsonString(buf, text);
  buf.append(kClose);
  buf.push_back(',');
  size_t at = turns[index].offset;
  out_.insert(at, buf);
  for (size_t i = index; i < turns.size(); ++i)
    turns[i].offset += buf.size();
  turns.insert(turns.begin() + static_cast<std::ptrdiff_t>(index), {at, TurnKind::kUser});
}

// Python list.insert index semantics, moved before a model turn whose function call would
// otherwise be separated from its function response.
size_t InsertIndex(std::ptrdiff_t index, const std::vector<ChatRequestTranslator::Impl::Turn>& t) {
  std::ptrdiff_t n = static_cast<std::ptrdiff_t>(t.size());
  if (index < 0)
    index += n;
  if (index < 0)
    index = 0;
  if (index > n)
    index = n;
  size_t i = static_cast<size_t>(index);
  while (i > 0 && i < t.size() && t[i].kind == TurnKind::kFunction)
    --i;
  return i;
}

void Run::WriteGenerationConfig(JsonWriter& w) {
  bool any = false;
  auto key = [&](std::string_view k) {
    if (!any) {
      w.Key("generationConfig");
      w.BeginObject();
      any = true;
    }
    w.Key(k);
  };
  if (temperature_)
    key("temperature"), w.Raw(*temperature_);
  if (top_p_)
    key("topP"), w.Raw(*top_p_);
  if (top_k_)
    key("topK"), w.Int(*top_k_);
  if (n_)
    key("candidateCount"), w.Int(*n_);
  std::optional<int64_t> max = max_completion_tokens_ ? max_completion_tokens_ : max_tokens_;
  if (max)
    key("maxOutputTokens"), w.Int(*max);
  if (stop_set_ && !impl_.stop.empty()) {
    key("stopSequences");
    w.BeginArray();
    for (std::string_view s : impl_.stop)
      w.String(s);
    w.EndArray();
  }
  if (seed_)
    key("seed"), w.Int(static_cast<int32_t>(static_cast<uint32_t>(*seed_)));
  if (presence_penalty_)
    key("presencePenalty"), w.Raw(*presence_penalty_);
  if (frequency_penalty_)
    key("frequencyPenalty"), w.Raw(*frequency_penalty_);
  if (response_format_ == ResponseFormat::kJsonObject ||
      response_format_ == ResponseFormat::kJsonSchema) {
    key("responseMimeType"), w.String("application/json");
  }
  if (response_format_ == ResponseFormat::kJsonSchema && has_response_schema_) {
    key(options_.tool_schema_mode == ToolSchemaMode::kOpenApiSchema ? "responseSchema"
                                                                    : "responseJsonSchema");
    w.Raw(impl_.response_schema);
  }
  if (logprobs_ && *logprobs_) {
    key("responseLogprobs"), w.Bool(true);
    if (top_logprobs_)
      key("logprobs"), w.Int(*top_logprobs_);
  }
  // Thinking: HAJIMI default < reasoning_effort < thinking_budget/enable_thinking < extra_body.
  bool supports_known = static_cast<bool>(options_.model_supports_thinking);
  bool supports = supports_known && options_.model_supports_thinking(result_.upstream_model);
  if (thinking_.any()) {
    bool send = thinking_.explicit_client ? (!supports_known || supports) : supports;
    if (send) {
      key("thinkingConfig");
      w.BeginObject();
      if (thinking_.has_budget)
        w.FieldInt("thinkingBudget", thinking_.budget);
      if (!thinking_.level.empty())
        w.Field("thinkingLevel", thinking_.level);
      if (thinking_.include >= 0)
        w.FieldBool("includeThoughts", thinking_.include == 1);
      w.EndObject();
      result_.thinking_config_sent = true;
      result_.include_thoughts = thinking_.include == 1;
    }
  }
  if (any)
    w.EndObject();
}

void Run::WriteSafety(JsonWriter& w) {
  // The five HAJIMI categories with one threshold: constant text, written in one piece.
#define RG_SAFETY(threshold)                                                     \
  "[{\"category\":\"HARM_CATEGORY_HARASSMENT\",\"threshold\":\"" threshold       \
  "\"},"                                                                         \
  "{\"category\":\"HARM_CATEGORY_HATE_SPEECH\",\"threshold\":\"" threshold       \
  "\"},"                                                                         \
  "{\"category\":\"HARM_CATEGORY_SEXUALLY_EXPLICIT\",\"threshold\":\"" threshold \
  "\"},"                                                                         \
  "{\"category\":\"HARM_CATEGORY_DANGEROUS_CONTENT\",\"threshold\":\"" threshold \
  "\"},"                                                                         \
  "{\"category\":\"HARM_CATEGORY_CIVIC_INTEGRITY\",\"threshold\":\"" threshold "\"}]"
  static constexpr std::string_view kOff = RG_SAFETY("OFF");
  static constexpr std::string_view kBlockNone = RG_SAFETY("BLOCK_NONE");
#undef RG_SAFETY
  w.FieldRaw("safetySettings", UsesSafetyOff(family_) ? kOff : kBlockNone);
}

bool Run::Translate(const char* data, size_t len, size_t capacity) {
  impl_.system_parts.clear();
  impl_.tools.clear();
  impl_.stop.clear();
  impl_.allowed_names.clear();
  impl_.call_names.clear();
  impl_.turns.clear();
  out_.clear();
  out_.reserve(len + 768);

  od::document doc;
  if (auto ec = impl_.parser.iterate(data, len, capacity).get(doc)) {
    return Fail("",
                std::string("request body is not valid JSON (") + simdjson::error_message(ec) + ")",
                kInvalidJson);
  }
  od::object root;
  if (auto ec = doc.get_object().get(root)) {
    if (ec == simdjson::INCORRECT_TYPE) {
      return Fail("", "request body must be a JSON object", kInvalidJson);
    }
    return JsonFail("", ec);
  }
  if (!Model(root))
    return false;
  bool dummy;
  if (auto ec = root.reset().get(dummy))
    return JsonFail("", ec);

  sys_w_.BeginArray();
  tools_w_.BeginArray();
  w_.BeginObject();
  w_.Key("contents");
  w_.BeginArray();

  for (auto field : root) {
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key))
      return JsonFail("", ec);
    od::value v;
    if (auto ec = field.value().get(v))
      return JsonFail(Path(key), ec);
    if (key.empty())
      continue;
    Path k(key);
    switch (key[0]) {
      case 'm':
        if (key == "messages") {
          if (!Messages(v))
            return false;
        } else if (key == "max_tokens") {
          if (!GetInt(v, key, &max_tokens_))
            return false;
          if (max_tokens_ && *max_tokens_ < 1)
            return Fail(k, "must be at least 1", kInvalidValue);
        } else if (key == "max_completion_tokens") {
          if (!GetInt(v, key, &max_completion_tokens_))
            return false;
          if (max_completion_tokens_ && *max_completion_tokens_ < 1) {
            return Fail(k, "must be at least 1", kInvalidValue);
          }
        }
        break;
      case 's':
        if (key == "stream") {
          std::optional<bool> b;
          if (!GetBool(v, key, &b))
            return false;
          result_.stream = b.value_or(false);
        } else if (key == "stream_options") {
          od::json_type t;
          if (auto ec = v.type().get(t))
            return JsonFail(k, ec);
          if (t == od::json_type::null)
            break;
          od::object so;
          if (t != od::json_type::object || v.get_object().get(so)) {
            return Fail(k, "expected an object", kInvalidType);
          }
          od::value iu;
          bool found;
          if (!Opt(so, "include_usage", k.Field("include_usage"), &iu, &found))
            return false;
          if (found) {
            std::optional<bool> b;
            if (!GetBool(iu, "stream_options.include_usage", &b))
              return false;
            result_.include_usage = b.value_or(false);
          }
        } else if (key == "stop") {
          if (!Stop(v))
            return false;
        } else if (key == "seed") {
          if (!GetInt(v, key, &seed_))
            return false;
        }
        break;
      case 't':
        if (key == "temperature") {
          if (!GetNumber(v, key, &temperature_))
            return false;
        } else if (key == "top_p") {
          if (!GetNumber(v, key, &top_p_))
            return false;
        } else if (key == "top_k") {
          if (!GetInt(v, key, &top_k_))
            return false;
        } else if (key == "tools") {
          if (!Tools(v, false))
            return false;
        } else if (key == "tool_choice") {
          if (!ToolChoiceField(v, false))
            return false;
        } else if (key == "top_logprobs") {
          if (!GetInt(v, key, &top_logprobs_))
            return false;
        } else if (key == "thinking_budget") {
          od::json_type t;
          if (auto ec = v.type().get(t))
            return JsonFail(k, ec);
          if (t == od::json_type::null) {
            hajimi_budget_null_ = true;
            hajimi_budget_.reset();
          } else {
            if (!GetInt(v, key, &hajimi_budget_))
              return false;
            hajimi_budget_null_ = false;
          }
        } else if (key == "thinking") {  // {"type":"enabled","budget_tokens":N} / disabled
          od::json_type t;
          if (auto ec = v.type().get(t))
            return JsonFail(k, ec);
          if (t == od::json_type::null)
            break;
          od::object to;
          if (t != od::json_type::object || v.get_object().get(to)) {
            return Fail(k, "expected an object", kInvalidType);
          }
          std::string_view type;
          od::value tv;
          bool found;
          if (!Opt(to, "type", k.Field("type"), &tv, &found))
            return false;
          if (found && !GetString(tv, k.Field("type"), &type))
            return false;
          if (type == "disabled") {
            thinking_.SetBudget(family_.pro ? 128 : 0);
            thinking_.explicit_client = true;
          } else {
            od::value bv;
            std::optional<int64_t> budget;
            if (!Opt(to, "budget_tokens", k.Field("budget_tokens"), &bv, &found))
              return false;
            if (found && !GetInt(bv, k.Field("budget_tokens"), &budget))
              return false;
            thinking_.SetBudget(budget.value_or(-1));
            thinking_.explicit_client = true;
          }
        }
        break;
      case 'n':
        if (key == "n") {
          if (!GetInt(v, key, &n_))
            return false;
          if (n_ && *n_ < 1)
            return Fail(k, "must be at least 1", kInvalidValue);
          if (n_ && *n_ > 8)
            return Fail(k, "must be at most 8", kInvalidValue);
          result_.candidate_count = n_ ? static_cast<int>(*n_) : 1;
        }
        break;
      case 'p':
        if (key == "presence_penalty") {
          if (!GetNumber(v, key, &presence_penalty_))
            return false;
        }
        break;
      case 'f':
        if (key == "frequency_penalty") {
          if (!GetNumber(v, key, &frequency_penalty_))
            return false;
        } else if (key == "functions") {
          if (!Tools(v, true))
            return false;
        } else if (key == "function_call") {
          if (!ToolChoiceField(v, true))
            return false;
        }
        break;
      case 'r':
        if (key == "response_format") {
          if (!ResponseFormatField(v))
            return false;
        } else if (key == "reasoning_effort") {
          od::json_type t;
          if (auto ec = v.type().get(t))
            return JsonFail(k, ec);
          if (t == od::json_type::null) {
            reasoning_effort_ = {};
            break;
          }
          if (!GetString(v, k, &reasoning_effort_))
            return false;
        }
        break;
      case 'l':
        if (key == "logprobs") {
          if (!GetBool(v, key, &logprobs_))
            return false;
        }
        break;
      case 'e':
        if (key == "enable_thinking") {
          if (!GetBool(v, key, &hajimi_enable_))
            return false;
        } else if (key == "extra_body") {
          od::json_type t;
          if (auto ec = v.type().get(t))
            return JsonFail(k, ec);
          if (t != od::json_type::object)
            break;
          od::object eo, go;
          od::value gv, tc;
          bool found;
          if (auto ec = v.get_object().get(eo))
            return JsonFail(k, ec);
          Path gpath = k.Field("google");
          if (!OptNonNull(eo, "google", gpath, &gv, &found))
            return false;
          if (!found)
            break;
          if (auto ec = gv.get_object().get(go)) {
            if (ec != simdjson::INCORRECT_TYPE)
              return JsonFail(gpath, ec);
            break;
          }
          Path tpath = gpath.Field("thinking_config");
          if (!OptNonNull(go, "thinking_config", tpath, &tc, &found))
            return false;
          if (found && !ThinkingConfigObject(tc, tpath))
            return false;
        }
        break;
      default:
        break;
    }
  }
  // Trailing bytes after the root object.
  const char* trailing = nullptr;
  if (!doc.current_location().get(trailing)) {
    return Fail("", "request body has data after the JSON object", kInvalidJson);
  }
  if (!messages_seen_)
    return Fail("messages", "required", kMissing);

  // Thinking sources in priority order (later overrides earlier budget/level; see header).
  Thinking explicit_knobs = thinking_;  // thinking / extra_body so far
  thinking_ = Thinking();
  if (options_.enable_thinking_config) {
    // HAJIMI: thinking_budget (default -1; null = not sent) and enable_thinking (default true).
    if (!hajimi_budget_null_)
      thinking_.SetBudget(hajimi_budget_.value_or(-1));
    if (hajimi_enable_.value_or(true))
      thinking_.include = 1;
  }
  if (!reasoning_effort_.empty()) {
    if (!ReasoningEffort(reasoning_effort_)) {
      return Fail("reasoning_effort",
                  "unsupported value '" + std::string(reasoning_effort_) +
                      "' (none, minimal, low, medium, high, xhigh)",
                  kInvalidValue);
    }
    thinking_.explicit_client = true;
  }
  if (options_.enable_thinking_config && (hajimi_budget_ || hajimi_enable_)) {
    if (hajimi_budget_)
      thinking_.SetBudget(*hajimi_budget_);
    if (hajimi_enable_)
      thinking_.include = *hajimi_enable_ ? 1 : -1;
    thinking_.explicit_client = true;
  }
  if (explicit_knobs.has_budget)
    thinking_.SetBudget(explicit_knobs.budget);
  if (!explicit_knobs.level.empty())
    thinking_.SetLevel(explicit_knobs.level);
  if (explicit_knobs.include >= 0)
    thinking_.include = explicit_knobs.include;
  thinking_.explicit_client |= explicit_knobs.explicit_client;

  CloseTurn();
  bool system_as_user = false;
  if (impl_.turns.empty()) {
    if (system_count_ == 0) {
      return Fail("messages", "no message has any content to send", kInvalidValue);
    }
    // Only system text: Gemini needs at least one content, so send it as the user turn.
    impl_.turns.push_back({out_.size(), TurnKind::kUser});
    w_.BeginObject();
    w_.Field("role", "user");
    w_.Key("parts");
    sys_w_.EndArray();
    w_.Raw(impl_.system_parts);
    w_.EndObject();
    system_as_user = true;
  }
  if (result_.search_tool && !options_.search_prompt.empty()) {
    std::ptrdiff_t n = static_cast<std::ptrdiff_t>(impl_.turns.size());
    InsertTurn(InsertIndex(n - 2, impl_.turns), options_.search_prompt);
  }
  if (!options_.disguise_first.empty() && !options_.disguise_last.empty()) {
    InsertTurn(InsertIndex(1, impl_.turns), options_.disguise_first);
    std::ptrdiff_t n = static_cast<std::ptrdiff_t>(impl_.turns.size());
    InsertTurn(InsertIndex(n - 1, impl_.turns), options_.disguise_last);
  }
  w_.EndArray();

  if (system_count_ > 0 && !system_as_user) {
    sys_w_.EndArray();
    w_.Key("systemInstruction");
    w_.BeginObject();
    w_.FieldRaw("parts", impl_.system_parts);
    w_.EndObject();
  }
  if (result_.function_declaration_count > 0 || result_.search_tool) {
    w_.Key("tools");
    w_.BeginArray();
    if (result_.function_declaration_count > 0) {
      tools_w_.EndArray();
      w_.BeginObject();
      w_.FieldRaw("functionDeclarations", impl_.tools);
      w_.EndObject();
    }
    if (result_.search_tool)
      w_.Raw("{\"googleSearch\":{}}");
    w_.EndArray();
  }
  if (result_.function_declaration_count > 0 && tool_choice_ != ToolChoice::kUnset) {
    w_.Key("toolConfig");
    w_.BeginObject();
    w_.Key("functionCallingConfig");
    w_.BeginObject();
    w_.Field("mode", tool_choice_ == ToolChoice::kNone   ? "NONE"
                     : tool_choice_ == ToolChoice::kAuto ? "AUTO"
                                                         : "ANY");
    if (tool_choice_ == ToolChoice::kAny && !impl_.allowed_names.empty()) {
      w_.Key("allowedFunctionNames");
      w_.BeginArray();
      for (std::string_view name : impl_.allowed_names)
        w_.String(name);
      w_.EndArray();
    }
    w_.EndObject();
    w_.EndObject();
  }
  WriteGenerationConfig(w_);
  WriteSafety(w_);
  w_.EndObject();
  return true;
}

}  // namespace

ChatRequestTranslator::ChatRequestTranslator() : impl_(std::make_unique<Impl>()) {}
ChatRequestTranslator::~ChatRequestTranslator() = default;

ChatTranslateResult ChatRequestTranslator::TranslatePadded(std::string_view body,
                                                           const ChatTranslateOptions& options) {
  TranslatedChat out;
  Run run(*impl_, options, out);
  if (!run.Translate(body.data(), body.size(), body.size() + simdjson::SIMDJSON_PADDING)) {
    return std::move(run.error());
  }
  return out;
}

std::optional<TranslateError> ChatRequestTranslator::TranslateInto(
    std::string_view body, const ChatTranslateOptions& options, TranslatedChat* out) {
  std::string_view input = body;
  impl_->padded.assign(body);
  impl_->padded.resize(body.size() + simdjson::SIMDJSON_PADDING);
  input = std::string_view(impl_->padded.data(), body.size());
  return TranslatePaddedInto(input, options, out);
}

std::optional<TranslateError> ChatRequestTranslator::TranslatePaddedInto(
    std::string_view body, const ChatTranslateOptions& options, TranslatedChat* out) {
  // Reuse the buffers' capacity: a recycled TranslatedChat allocates nothing in steady state.
  std::string body_buffer = std::move(out->gemini_body);
  std::string requested = std::move(out->requested_model);
  std::string upstream = std::move(out->upstream_model);
  *out = TranslatedChat{};
  body_buffer.clear();
  requested.clear();
  upstream.clear();
  out->gemini_body = std::move(body_buffer);
  out->requested_model = std::move(requested);
  out->upstream_model = std::move(upstream);
  Run run(*impl_, options, *out);
  if (!run.Translate(body.data(), body.size(), body.size() + simdjson::SIMDJSON_PADDING)) {
    return std::move(run.error());
  }
  return std::nullopt;
}

ChatTranslateResult ChatRequestTranslator::Translate(std::string_view body,
                                                     const ChatTranslateOptions& options) {
  impl_->padded.assign(body);
  impl_->padded.resize(body.size() + simdjson::SIMDJSON_PADDING);
  return TranslatePadded(std::string_view(impl_->padded.data(), body.size()), options);
}

ChatTranslateResult TranslateChatRequest(std::string_view body,
                                         const ChatTranslateOptions& options) {
  thread_local ChatRequestTranslator translator;
  return translator.Translate(body, options);
}

}  // namespace ringgate
