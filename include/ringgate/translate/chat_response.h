// Gemini GenerateContentResponse -> OpenAI chat completion (non-stream), and the pieces the stream
// transcoder shares with it: a one-pass view of a Gemini response, finish-reason and usage mapping,
// completion ids.
//
// Parsing uses simdjson On-Demand with a per-thread parser, so the views a parse returns stay valid
// only until the next parse on the same thread. The input needs SIMDJSON_PADDING (64) readable
// bytes after its end; callers that know they have them pass `readable` (bytes readable from
// json.data()) and the input is parsed in place, otherwise it is first copied into a per-thread
// padded buffer (reused, so steady state allocates nothing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ringgate/common/result.h"

namespace ringgate {

class JsonWriter;

// ---- One Gemini response, as views ----

struct GeminiPart {
  enum class Kind : uint8_t { kText, kThought, kFunctionCall };
  Kind kind = Kind::kText;
  std::string_view text;       // kText / kThought: the (unescaped) text; kFunctionCall: the name
  std::string_view args;       // kFunctionCall: the raw JSON of `args` ("" when absent)
  std::string_view signature;  // thoughtSignature (base64) or ""
};

struct GeminiCandidate {
  int index = 0;                   // `index`, or the position in `candidates` when absent
  std::string_view finish_reason;  // raw Gemini value, "" while unfinished
  uint32_t part_begin = 0;         // this candidate's parts: parts[part_begin, part_end)
  uint32_t part_end = 0;
};

struct GeminiUsage {
  int64_t prompt = 0;           // promptTokenCount
  int64_t candidates = 0;       // candidatesTokenCount
  int64_t thoughts = 0;         // thoughtsTokenCount
  int64_t tool_use_prompt = 0;  // toolUsePromptTokenCount
  int64_t cached = 0;           // cachedContentTokenCount
  int64_t total = -1;           // totalTokenCount; -1 when absent
  bool has_cached = false;
};

struct GeminiResponseView {
  std::span<const GeminiCandidate> candidates;
  std::span<const GeminiPart> parts;
  GeminiUsage usage;
  bool has_usage = false;
  std::string_view block_reason;  // promptFeedback.blockReason
  // An error object where a response was expected ({"error":{code,message,status}}).
  bool is_error = false;
  int64_t error_code = 0;
  std::string_view error_message;
  std::string_view error_status;
};

// Parses one GenerateContentResponse (or an error object). Parts that are neither text nor
// function calls (inline data, code execution) are skipped, as are empty text parts; a signature
// that arrives on an empty text part right after function calls none of which is signed is moved
// onto the first of them (where Gemini puts it for parallel calls). Fails on anything that is not a
// well-formed JSON object.
Status ParseGeminiResponse(std::string_view json, size_t readable, GeminiResponseView* view);
// Counts this thread's ParseGeminiResponse calls: a view is valid (its spans point into this
// thread's scratch) while the count has not moved since it was parsed, and its body lives.
uint64_t GeminiParseGeneration();

// ---- Mapping helpers ----

// Gemini finishReason -> OpenAI finish_reason (a closed set): STOP -> "stop" (or "tool_calls"
// when the candidate produced a function call), MAX_TOKENS -> "length", SAFETY, RECITATION,
// LANGUAGE, BLOCKLIST, PROHIBITED_CONTENT, SPII and IMAGE_* -> "content_filter", anything else
// (OTHER, MALFORMED_FUNCTION_CALL, unknown values) -> "stop" or "tool_calls" as for STOP.
std::string_view MapFinishReason(std::string_view gemini, bool had_tool_call);

// Writes `"usage":{prompt_tokens, completion_tokens, total_tokens, [prompt_tokens_details],
// completion_tokens_details}` as the next member of the object `w` is in:
// prompt = promptTokenCount + toolUsePromptTokenCount, completion = candidates + thoughts,
// total = totalTokenCount (or the sum when absent), cached_tokens = cachedContentTokenCount
// (only when present), reasoning_tokens = thoughtsTokenCount.
void WriteOpenAiUsage(JsonWriter& w, const GeminiUsage& usage);

// Writes one OpenAI tool call object as the next value of `w`: {index, id "<id_prefix><id_number>",
// type "function", function {name, arguments (the args JSON, compacted, as a string; "{}" when
// absent)}, extra_content {google {thought_signature}} when the part has a signature}.
void WriteOpenAiToolCall(JsonWriter& w, const GeminiPart& part, uint32_t index,
                         std::string_view id_prefix, uint32_t id_number);

// "chatcmpl-" followed by 24 random [0-9A-Za-z] characters (per-thread PRNG seeded by getrandom).
std::string NewChatCompletionId();
// "chatcmpl-" + 24 random characters.
inline constexpr size_t kChatCompletionIdLength = 9 + 24;
// The same, written into `id` (no allocation); returns a view of it.
std::string_view NewChatCompletionId(char (&id)[kChatCompletionIdLength]);

// Unix seconds, now.
int64_t UnixSecondsNow();

// Appends the compact form of a JSON text (whitespace outside strings removed).
void AppendMinifiedJson(std::string& out, std::string_view json);

// ---- Non-stream conversion ----

struct ChatResponseOptions {
  std::string_view model;  // echoed as `model`: the name the client asked for
  std::string_view id;     // "" -> NewChatCompletionId()
  int64_t created = 0;     // 0 -> UnixSecondsNow()
};

// Appends the OpenAI `chat.completion` for a Gemini GenerateContentResponse to `out`:
// one choice per candidate (in order; `index` from the candidate), message {role, content
// (answer text; null when the candidate only made tool calls; "" when it has nothing),
// reasoning_content (thought text, only when there is some), tool_calls [{id "call_<id>_<k>",
// type, function {name, arguments}, extra_content.google.thought_signature when Gemini sent one}]},
// finish_reason (MapFinishReason; "stop" when absent), usage (WriteOpenAiUsage).
// A prompt blocked by promptFeedback.blockReason (no candidates) becomes one choice with content
// "" and finish_reason "content_filter". A response with neither candidates nor a block reason
// becomes one empty choice with finish_reason "stop".
// Fails (appending nothing) when the input is not a JSON object or is a Gemini error object; the
// status message then says which.
Status TranslateChatResponse(std::string_view gemini_json, size_t readable,
                             const ChatResponseOptions& options, std::string& out);
inline Status TranslateChatResponse(std::string_view gemini_json,
                                    const ChatResponseOptions& options, std::string& out) {
  return TranslateChatResponse(gemini_json, gemini_json.size(), options, out);
}
// The same from an answer already parsed (ParseGeminiResponse, generation unchanged).
Status TranslateChatResponse(const GeminiResponseView& view, const ChatResponseOptions& options,
                             std::string& out);

}  // namespace ringgate
