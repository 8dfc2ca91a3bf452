#include "ringgate/translate/chat_response.h"

#include <simdjson.h>
#include <sys/random.h>
#include <time.h>

#include <charconv>
#include <cstring>
#include <utility>
#include <vector>

#include "ringgate/json/json_writer.h"

namespace ringgate {
namespace {

namespace od = simdjson::ondemand;

// Per-thread parse state: the On-Demand parser (its string buffer holds the unescaped strings
// the views point to), the padded copy of inputs without slack, and the part/candidate lists.
struct ParseScratch {
  uint64_t generation = 0;
  od::parser parser;
  std::string padded;
  std::vector<GeminiPart> parts;
  std::vector<GeminiCandidate> candidates;
};

ParseScratch& Scratch() {
  thread_local ParseScratch scratch;
  return scratch;
}

Status JsonError(simdjson::error_code error) {
  return Status::Error(std::string("invalid Gemini response JSON: ") +
                       simdjson::error_message(error));
}

#define RG_JSON_TRY(expr)                         \
  do {                                            \
    simdjson::error_code rg_json_error_ = (expr); \
    if (rg_json_error_ != simdjson::SUCCESS)      \
      return rg_json_error_;                      \
  } while (0)

std::string_view TrimTrailingSpace(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

simdjson::error_code ParseFunctionCall(od::value call_value, GeminiPart* part) {
  od::object call;
  RG_JSON_TRY(call_value.get_object().get(call));
  for (auto field_result : call) {
    od::field field;
    RG_JSON_TRY(std::move(field_result).get(field));
    od::raw_json_string key = field.key();
    if (key == "name") {
      RG_JSON_TRY(field.value().get_string().get(part->text));
    } else if (key == "args") {
      od::object args;
      RG_JSON_TRY(field.value().get_object().get(args));
      std::string_view raw;
      RG_JSON_TRY(args.raw_json().get(raw));
      part->args = TrimTrailingSpace(raw);
    }
  }
  return simdjson::SUCCESS;
}

simdjson::error_code ParseParts(od::value parts_value, std::vector<GeminiPart>& parts,
                                uint32_t candidate_begin) {
  od::array array;
  RG_JSON_TRY(parts_value.get_array().get(array));
  for (auto part_result : array) {
    od::object object;
    RG_JSON_TRY(part_result.get_object().get(object));
    GeminiPart part;
    bool thought = false;
    bool has_text = false;
    bool has_call = false;
    for (auto field_result : object) {
      od::field field;
      RG_JSON_TRY(std::move(field_result).get(field));
      od::raw_json_string key = field.key();
      if (key == "text") {
        RG_JSON_TRY(field.value().get_string().get(part.text));
        has_text = true;
      } else if (key == "thought") {
        RG_JSON_TRY(field.value().get_bool().get(thought));
      } else if (key == "thoughtSignature") {
        RG_JSON_TRY(field.value().get_string().get(part.signature));
      } else if (key == "functionCall") {
        RG_JSON_TRY(ParseFunctionCall(field.value(), &part));
        has_call = true;
      }
    }
    if (has_call) {
      part.kind = GeminiPart::Kind::kFunctionCall;
      parts.push_back(part);
    } else if (has_text && !part.text.empty()) {
      part.kind = thought ? GeminiPart::Kind::kThought : GeminiPart::Kind::kText;
      parts.push_back(part);
    } else if (!part.signature.empty() && parts.size() > candidate_begin &&
               parts.back().kind == GeminiPart::Kind::kFunctionCall) {
      // A signature trailing on an empty part belongs with the candidate's first call, unless
      // that (or another) call already carries one.
      GeminiPart* first_call = nullptr;
      bool signed_call = false;
      for (size_t i = candidate_begin; i < parts.size(); ++i) {
        if (parts[i].kind != GeminiPart::Kind::kFunctionCall)
          continue;
        if (first_call == nullptr)
          first_call = &parts[i];
        signed_call |= !parts[i].signature.empty();
      }
      if (!signed_call)
        first_call->signature = part.signature;
    }
  }
  return simdjson::SUCCESS;
}

simdjson::error_code ParseCandidates(od::value candidates_value, ParseScratch& s) {
  od::array array;
  RG_JSON_TRY(candidates_value.get_array().get(array));
  int position = 0;
  for (auto candidate_result : array) {
    od::object object;
    RG_JSON_TRY(candidate_result.get_object().get(object));
    GeminiCandidate candidate;
    candidate.index = position++;
    candidate.part_begin = static_cast<uint32_t>(s.parts.size());
    for (auto field_result : object) {
      od::field field;
      RG_JSON_TRY(std::move(field_result).get(field));
      od::raw_json_string key = field.key();
      if (key == "content") {
        od::object content;
        RG_JSON_TRY(field.value().get_object().get(content));
        for (auto content_field_result : content) {
          od::field content_field;
          RG_JSON_TRY(std::move(content_field_result).get(content_field));
          if (content_field.key() == "parts") {
            RG_JSON_TRY(ParseParts(content_field.value(), s.parts, candidate.part_begin));
          }
        }
      } else if (key == "finishReason") {
        RG_JSON_TRY(field.value().get_string().get(candidate.finish_reason));
      } else if (key == "index") {
        int64_t index;
        RG_JSON_TRY(field.value().get_int64().get(index));
        if (index < 0 || index > 1023)
          return simdjson::NUMBER_OUT_OF_RANGE;
        candidate.index = static_cast<int>(index);
      }
    }
    candidate.part_end = static_cast<uint32_t>(s.parts.size());
    s.candidates.push_back(candidate);
  }
  return simdjson::SUCCESS;
}

simdjson::error_code ParseUsage(od::value usage_value, GeminiUsage* usage) {
  od::object object;
  RG_JSON_TRY(usage_value.get_object().get(object));
  for (auto field_result : object) {
    od::field field;
    RG_JSON_TRY(std::move(field_result).get(field));
    od::raw_json_string key = field.key();
    int64_t* target = nullptr;
    if (key == "promptTokenCount") {
      target = &usage->prompt;
    } else if (key == "candidatesTokenCount") {
      target = &usage->candidates;
    } else if (key == "thoughtsTokenCount") {
      target = &usage->thoughts;
    } else if (key == "totalTokenCount") {
      target = &usage->total;
    } else if (key == "toolUsePromptTokenCount") {
      target = &usage->tool_use_prompt;
    } else if (key == "cachedContentTokenCount") {
      target = &usage->cached;
      usage->has_cached = true;
    }
    if (target != nullptr)
      RG_JSON_TRY(field.value().get_int64().get(*target));
  }
  return simdjson::SUCCESS;
}

simdjson::error_code ParseError(od::value error_value, GeminiResponseView* view) {
  od::object object;
  RG_JSON_TRY(error_value.get_object().get(object));
  view->is_error = true;
  for (auto field_result : object) {
    od::field field;
    RG_JSON_TRY(std::move(field_result).get(field));
    od::raw_json_string key = field.key();
    if (key == "code") {
      RG_JSON_TRY(field.value().get_int64().get(view->error_code));
    } else if (key == "message") {
      RG_JSON_TRY(field.value().get_string().get(view->error_message));
    } else if (key == "status") {
      RG_JSON_TRY(field.value().get_string().get(view->error_status));
    }
  }
  return simdjson::SUCCESS;
}

simdjson::error_code ParseRoot(od::document& doc, ParseScratch& s, GeminiResponseView* view) {
  od::object root;
  RG_JSON_TRY(doc.get_object().get(root));
  for (auto field_result : root) {
    od::field field;
    RG_JSON_TRY(std::move(field_result).get(field));
    od::raw_json_string key = field.key();
    if (key == "candidates") {
      RG_JSON_TRY(ParseCandidates(field.value(), s));
    } else if (key == "usageMetadata") {
      RG_JSON_TRY(ParseUsage(field.value(), &view->usage));
      view->has_usage = true;
    } else if (key == "promptFeedback") {
      od::object feedback;
      RG_JSON_TRY(field.value().get_object().get(feedback));
      for (auto feedback_field_result : feedback) {
        od::field feedback_field;
        RG_JSON_TRY(std::move(feedback_field_result).get(feedback_field));
        if (feedback_field.key() == "blockReason") {
          RG_JSON_TRY(feedback_field.value().get_string().get(view->block_reason));
        }
      }
    } else if (key == "error") {
      RG_JSON_TRY(ParseError(field.value(), view));
    }
  }
  // 3.0.1 has no document::at_end(): past the last token, current_location() is OUT_OF_BOUNDS.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS)
    return simdjson::TRAILING_CONTENT;
  return simdjson::SUCCESS;
}

uint64_t NextRandom() {
  thread_local uint64_t state = [] {
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
      timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      seed = static_cast<uint64_t>(ts.tv_nsec) ^ (static_cast<uint64_t>(ts.tv_sec) << 32);
    }
    return seed;
  }();
  // splitmix64
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Starts a string value whose escaped body the caller appends to w.out() (then a closing '"').
void BeginRawString(JsonWriter& w) {
  w.Raw("\"");
}

}  // namespace

void WriteOpenAiToolCall(JsonWriter& w, const GeminiPart& part, uint32_t index,
                         std::string_view id_prefix, uint32_t id_number) {
  std::string& out = w.out();
  w.BeginObject();
  w.FieldInt("index", index);
  w.Key("id");
  BeginRawString(w);
  AppendJsonString(out, id_prefix);
  char digits[12];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), id_number);
  out.append(digits, end);
  out.push_back('"');
  w.Field("type", "function");
  w.Key("function");
  w.BeginObject();
  w.Field("name", part.text);
  w.Key("arguments");
  BeginRawString(w);
  if (part.args.empty()) {
    out.append("{}");
  } else {
    // Usually compact already (stream events); pretty-printed in non-stream bodies.
    bool compact = part.args.find_first_of(" \n\r\t") == std::string_view::npos;
    if (compact) {
      AppendJsonString(out, part.args);
    } else {
      thread_local std::string minified;
      minified.clear();
      AppendMinifiedJson(minified, part.args);
      AppendJsonString(out, minified);
    }
  }
  out.push_back('"');
  w.EndObject();
  if (!part.signature.empty()) {
    w.Key("extra_content");
    w.BeginObject();
    w.Key("google");
    w.BeginObject();
    w.Field("thought_signature", part.signature);
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();
}

Status ParseGeminiResponse(std::string_view json, size_t readable, GeminiResponseView* view) {
  ParseScratch& s = Scratch();
  ++s.generation;
  s.parts.clear();
  s.candidates.clear();
  *view = GeminiResponseView();
  const char* data = json.data();
  size_t capacity = readable;
  if (readable < json.size() + simdjson::SIMDJSON_PADDING) {
    s.padded.reserve(json.size() + simdjson::SIMDJSON_PADDING);
    s.padded.assign(json);
    data = s.padded.data();
    capacity = s.padded.capacity();
  }
  od::document doc;
  simdjson::error_code error = s.parser.iterate(data, json.size(), capacity).get(doc);
  if (error == simdjson::SUCCESS)
    error = ParseRoot(doc, s, view);
  if (error != simdjson::SUCCESS) {
    *view = GeminiResponseView();
    return JsonError(error);
  }
  view->candidates = s.candidates;
  view->parts = s.parts;
  return Status::Ok();
}

uint64_t GeminiParseGeneration() {
  return Scratch().generation;
}

std::string_view MapFinishReason(std::string_view gemini, bool had_tool_call) {
  if (gemini == "MAX_TOKENS")
    return "length";
  if (gemini == "SAFETY" || gemini == "RECITATION" || gemini == "LANGUAGE" ||
      gemini == "BLOCKLIST" || gemini == "PROHIBITED_CONTENT" || gemini == "SPII" ||
      StartsWith(gemini, "IMAGE_")) {
    return "content_filter";
  }
  return had_tool_call ? "tool_calls" : "stop";
}

void WriteOpenAiUsage(JsonWriter& w, const GeminiUsage& usage) {
  int64_t prompt = usage.prompt + usage.tool_use_prompt;
  int64_t completion = usage.candidates + usage.thoughts;
  w.Key("usage");
  w.BeginObject();
  w.FieldInt("prompt_tokens", prompt);
  w.FieldInt("completion_tokens", completion);
  w.FieldInt("total_tokens", usage.total >= 0 ? usage.total : prompt + completion);
  if (usage.has_cached) {
    w.Key("prompt_tokens_details");
    w.BeginObject();
    w.FieldInt("cached_tokens", usage.cached);
    w.EndObject();
  }
  w.Key("completion_tokens_details");
  w.BeginObject();
  w.FieldInt("reasoning_tokens", usage.thoughts);
  w.EndObject();
  w.EndObject();
}

std::string_view NewChatCompletionId(char (&id)[kChatCompletionIdLength]) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  memcpy(id, "chatcmpl-", 9);
  size_t at = 9;
  for (int block = 0; block < 2; ++block) {
    uint64_t r = NextRandom();
    for (int i = 0; i < 12; ++i) {
      id[at++] = kAlphabet[r % 62];
      r /= 62;
    }
  }
  return std::string_view(id, kChatCompletionIdLength);
}

std::string NewChatCompletionId() {
  char id[kChatCompletionIdLength];
  return std::string(NewChatCompletionId(id));
}

int64_t UnixSecondsNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);  // whole seconds: the coarse clock reads no hardware
  return static_cast<int64_t>(ts.tv_sec);
}

void AppendMinifiedJson(std::string& out, std::string_view json) {
  bool in_string = false;
  bool escaped = false;
  size_t run = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      out.append(json.data() + run, i - run);
      run = i + 1;
    }
  }
  out.append(json.data() + run, json.size() - run);
}

Status TranslateChatResponse(std::string_view gemini_json, size_t readable,
                             const ChatResponseOptions& options, std::string& out) {
  GeminiResponseView view;
  Status status = ParseGeminiResponse(gemini_json, readable, &view);
  if (!status.ok())
    return status;
  return TranslateChatResponse(view, options, out);
}

Status TranslateChatResponse(const GeminiResponseView& view, const ChatResponseOptions& options,
                             std::string& out) {
  if (view.is_error) {
    return Status::Error("Gemini returned an error: " + std::string(view.error_message));
  }

  // A fresh id is 33 characters: past std::string's inline capacity, so it stays on the stack.
  char id_buffer[kChatCompletionIdLength];
  std::string_view id = options.id;
  if (id.empty())
    id = NewChatCompletionId(id_buffer);
  std::string tool_id_prefix;  // built on the first tool call only
  uint32_t tool_id_counter = 0;

  JsonWriter w(out);
  w.BeginObject();
  w.Field("id", id);
  w.Field("object", "chat.completion");
  w.FieldInt("created", options.created != 0 ? options.created : UnixSecondsNow());
  w.Field("model", options.model);
  w.Key("choices");
  w.BeginArray();
  if (view.candidates.empty()) {
    w.BeginObject();
    w.FieldInt("index", 0);
    w.Key("message");
    w.BeginObject();
    w.Field("role", "assistant");
    w.Field("content", "");
    w.EndObject();
    w.Key("logprobs");
    w.Null();
    w.Field("finish_reason", view.block_reason.empty() ? "stop" : "content_filter");
    w.EndObject();
  }
  for (const GeminiCandidate& candidate : view.candidates) {
    std::span<const GeminiPart> parts =
        view.parts.subspan(candidate.part_begin, candidate.part_end - candidate.part_begin);
    bool has_text = false;
    bool has_thought = false;
    bool has_call = false;
    for (const GeminiPart& part : parts) {
      has_text |= part.kind == GeminiPart::Kind::kText;
      has_thought |= part.kind == GeminiPart::Kind::kThought;
      has_call |= part.kind == GeminiPart::Kind::kFunctionCall;
    }
    w.BeginObject();
    w.FieldInt("index", candidate.index);
    w.Key("message");
    w.BeginObject();
    w.Field("role", "assistant");
    w.Key("content");
    if (has_text || !has_call) {
      BeginRawString(w);
      for (const GeminiPart& part : parts) {
        if (part.kind == GeminiPart::Kind::kText)
          AppendJsonString(out, part.text);
      }
      out.push_back('"');
    } else {
      w.Null();
    }
    if (has_thought) {
      w.Key("reasoning_content");
      BeginRawString(w);
      for (const GeminiPart& part : parts) {
        if (part.kind == GeminiPart::Kind::kThought)
          AppendJsonString(out, part.text);
      }
      out.push_back('"');
    }
    if (has_call) {
      w.Key("tool_calls");
      w.BeginArray();
      if (tool_id_prefix.empty()) {
        std::string_view id_suffix = id;
        if (StartsWith(id_suffix, "chatcmpl-"))
          id_suffix.remove_prefix(9);
        tool_id_prefix = "call_";
        tool_id_prefix.append(id_suffix);
        tool_id_prefix.push_back('_');
      }
      uint32_t index = 0;
      for (const GeminiPart& part : parts) {
        if (part.kind != GeminiPart::Kind::kFunctionCall)
          continue;
        WriteOpenAiToolCall(w, part, index++, tool_id_prefix, tool_id_counter++);
      }
      w.EndArray();
    }
    w.EndObject();
    w.Key("logprobs");
    w.Null();
    w.Field("finish_reason", candidate.finish_reason.empty()
                                 ? (has_call ? "tool_calls" : "stop")
                                 : MapFinishReason(candidate.finish_reason, has_call));
    w.EndObject();
  }
  w.EndArray();
  WriteOpenAiUsage(w, view.usage);
  w.EndObject();
  return Status::Ok();
}

}  // namespace ringgate
