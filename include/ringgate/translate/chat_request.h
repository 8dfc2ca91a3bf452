// OpenAI Chat Completions request -> Gemini GenerateContentRequest, in one pass over the client's
// body (simdjson On-Demand in, JsonWriter out). Pure logic: no I/O, no clock, no randomness (the
// caller passes HAJIMI's disguise strings in).
//
//   ChatRequestTranslator translator;  // one per core; reuses its parsers and scratch buffers
//   ChatTranslateOptions options;
//   options.search_mode = config.search_mode;
//   ChatTranslateResult r = translator.Translate(body, options);
//   if (!r.ok()) return SendOpenAiError(r.error().status, r.error().message, r.error().param, ...);
//   upstream.Send(r->upstream_model, r->stream, r->gemini_body);
//
// What is translated, and where we deliberately differ from HAJIMI, is listed at the top of
// src/translate/chat_request.cc.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ringgate {

// How OpenAI tool `parameters` (JSON Schema) are sent.
enum class ToolSchemaMode {
  // `parametersJsonSchema` (and `responseJsonSchema` for response_format), copied with only the
  // root `$schema` removed: keeps `additionalProperties`, `$ref`/`$defs`, `oneOf`... Recommended
  // by wire-formats 2.2.
  kJsonSchema,
  // `parameters` (and `responseSchema`) as Gemini's OpenAPI-subset Schema: unknown keys dropped
  // (`$schema`, `additionalProperties`, `$ref`, `$defs`, ...), type names upper-cased, list types
  // `["string","null"]` -> type + nullable, `const` -> enum, `oneOf` -> anyOf, unsupported string
  // formats dropped. For upstreams that reject parametersJsonSchema.
  kOpenApiSchema,
};

struct ChatTranslateOptions {
  // ENABLE_THINKING (HAJIMI): send HAJIMI's thinkingConfig (thinking_budget, default -1, and
  // includeThoughts from enable_thinking, default true), but only to models for which
  // model_supports_thinking says yes. Also gates the non-standard `thinking_budget` and
  // `enable_thinking` request fields, as in HAJIMI.
  bool enable_thinking_config = false;
  // From the upstream model list (thinking: true). Empty = unknown: the HAJIMI default is then
  // not sent; explicit client knobs (reasoning_effort, extra_body.google.thinking_config,
  // thinking) are still sent unless this says no.
  std::function<bool(std::string_view upstream_model)> model_supports_thinking;

  // SEARCH_MODE: a model ending in "-search" calls the base model with the googleSearch tool.
  bool search_mode = false;
  // SEARCH_PROMPT: with an active "-search" model, a user turn with this text is inserted at
  // index len-2 of contents (HAJIMI 7.1, Python insert semantics). Empty: no turn.
  std::string_view search_prompt;

  // RANDOM_STRING disguise (HAJIMI 7.1): when both are non-empty, a user turn `disguise_first`
  // is inserted at index 1 and `disguise_last` just before the last turn. The caller generates
  // them ([A-Za-z0-9]{RANDOM_STRING_LENGTH}); translation has no randomness of its own.
  std::string_view disguise_first;
  std::string_view disguise_last;

  ToolSchemaMode tool_schema_mode = ToolSchemaMode::kJsonSchema;

  // Server-side thought-signature store (wire-formats 4.4 (b)): returns the signature remembered
  // for an OpenAI tool_call id, or "" if none. Used when the client did not echo
  // extra_content.google.thought_signature. May be empty.
  std::function<std::string_view(std::string_view tool_call_id)> find_thought_signature;
};

struct TranslatedChat {
  std::string requested_model;  // as the client sent it (echoed back in responses)
  std::string upstream_model;   // after "models/" prefix and "-search" suffix handling
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int candidate_count = 1;     // n
  bool search_tool = false;    // googleSearch was added ("-search" model in search mode)
  int function_declaration_count = 0;
  bool thinking_config_sent = false;
  bool include_thoughts = false;  // thinkingConfig.includeThoughts was sent as true
  std::string gemini_body;        // the GenerateContentRequest JSON (compact)
};

// A client error, ready for an OpenAI error body:
// {"error":{"message":message,"type":"invalid_request_error","param":param,"code":code}}.
struct TranslateError {
  int status = 400;
  std::string
      message;  // starts with the field path, e.g. "messages[2].content[0].image_url.url: ..."
  std::string param;  // the field path alone ("messages[2].content[0].image_url.url"), may be ""
  std::string code;   // "invalid_json", "missing_required_parameter", "invalid_type",
                      // "invalid_value", "unsupported_value"
};

// Either a TranslatedChat or a TranslateError.
class ChatTranslateResult {
 public:
  ChatTranslateResult(TranslatedChat value) : data_(std::move(value)) {}  // NOLINT: implicit
  ChatTranslateResult(TranslateError error) : data_(std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return std::holds_alternative<TranslatedChat>(data_); }
  explicit operator bool() const { return ok(); }

  TranslatedChat& value() & { return std::get<TranslatedChat>(data_); }
  TranslatedChat&& value() && { return std::get<TranslatedChat>(std::move(data_)); }
  const TranslatedChat& value() const& { return std::get<TranslatedChat>(data_); }
  TranslatedChat* operator->() { return &value(); }
  const TranslatedChat* operator->() const { return &value(); }

  const TranslateError& error() const { return std::get<TranslateError>(data_); }

 private:
  std::variant<TranslatedChat, TranslateError> data_;
};

// Holds simdjson parsers and scratch buffers so that steady-state translation allocates only the
// output. Not thread-safe: keep one per core (or use TranslateChatRequest below).
class ChatRequestTranslator {
 public:
  ChatRequestTranslator();
  ~ChatRequestTranslator();
  ChatRequestTranslator(const ChatRequestTranslator&) = delete;
  ChatRequestTranslator& operator=(const ChatRequestTranslator&) = delete;

  // Copies `body` into an internal padded buffer first.
  ChatTranslateResult Translate(std::string_view body, const ChatTranslateOptions& options);

  // No copy: `body.data()` must be followed by at least SIMDJSON_PADDING (64) readable bytes
  // (e.g. a receive buffer with that much slack). The bytes are not modified.
  ChatTranslateResult TranslatePadded(std::string_view body, const ChatTranslateOptions& options);

  // As above, writing into `out` and reusing the capacity of its strings (keep one TranslatedChat
  // per in-flight request and recycle it). Returns the error, or nothing on success.
  std::optional<TranslateError> TranslateInto(std::string_view body,
                                              const ChatTranslateOptions& options,
                                              TranslatedChat* out);
  std::optional<TranslateError> TranslatePaddedInto(std::string_view body,
                                                    const ChatTranslateOptions& options,
                                                    TranslatedChat* out);

  struct Impl;  // parsers and scratch buffers (defined in chat_request.cc)

 private:
  std::unique_ptr<Impl> impl_;
};

// Convenience: uses a thread_local ChatRequestTranslator.
ChatTranslateResult TranslateChatRequest(std::string_view body,
                                         const ChatTranslateOptions& options);

}  // namespace ringgate
