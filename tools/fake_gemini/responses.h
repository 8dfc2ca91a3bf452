// JSON bodies the fake answers with: Google's error objects (google.rpc.Status with details) and
// GenerateContentResponse objects, whole or as stream events. Everything appends to a caller's
// buffer so the hot path reuses its memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fake_state.h"

namespace fake_gemini {

inline constexpr std::string_view kJsonType = "application/json; charset=UTF-8";

// What an error message may mention.
struct ErrorContext {
  std::string_view version = "v1beta";  // API version of the URL
  std::string_view model;               // model id, may be empty
  std::string_view method;              // "generateContent", "models.list", ...
  std::string_view key;                 // the caller's key
  std::string_view retry_delay;         // RetryInfo.retryDelay of 429s
};

// {"error":{"code":...,"message":...,"status":...}} without details.
void AppendPlainError(std::string& out, int code, std::string_view status,
                      std::string_view message);

// The error a scripted status ("400", "400_key", "401", "403", "403_suspended", "403_leaked",
// "403_blocked", "404", "429", "429_minute", "429_day", "500", "503", "504") answers with.
// Returns the HTTP status.
int AppendScriptedError(std::string& out, std::string_view which, const ErrorContext& context);

// The error for a key that is not valid (never called with kValid).
int AppendKeyError(std::string& out, KeyState state, const ErrorContext& context);

// 403 for a request without any key.
int AppendMissingKeyError(std::string& out);

// 404 for a model that does not exist or does not serve `method`.
int AppendModelNotFound(std::string& out, const ErrorContext& context);

// ---------------------------------------------------------------------------------------------
// generateContent

// Everything one answer is made from; the views must outlive the generation.
struct Generation {
  const Script* script = nullptr;
  std::string_view model;
  std::string_view response_id;
  std::string_view answer;  // the whole answer text
  int prompt_tokens = 1;

  // Number of stream events (thought events, then answer events).
  int EventCount() const;
  // Appends stream event `index` (the JSON object only).
  void AppendEvent(std::string& out, int index) const;
  // Appends the whole non-stream answer.
  void AppendWhole(std::string& out) const;

 private:
  int AnswerEvents() const;
  void AppendUsage(std::string& out, int candidate_tokens, int thought_tokens,
                   bool final_usage) const;
  void AppendTail(std::string& out) const;  // modelVersion and responseId, closing brace
  void AppendFunctionCall(std::string& out) const;
};

// Text of `length` bytes for an answer (cycled sentences, cut at a character boundary).
std::string_view FillerText(size_t length);

// Rough token count of `bytes` of text (4 bytes per token, at least 1 for non-empty text).
inline int TokensFor(size_t bytes) {
  return static_cast<int>((bytes + 3) / 4);
}

// A 16-character response id, unique per (shard, counter).
void MakeResponseId(std::string& out, uint64_t shard, uint64_t counter);

// Moves `end` back so that text[0, end) does not split a UTF-8 sequence.
size_t Utf8Boundary(std::string_view text, size_t end);

}  // namespace fake_gemini
