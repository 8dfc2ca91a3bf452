// StreamTranscoder: Gemini streamGenerateContent SSE events -> OpenAI chat.completion.chunk SSE
// events, one stream's worth of state.
//
//   StreamTranscoder t({.model = requested_model, .include_usage = include_usage});
//   framer.Feed(bytes);
//   while (framer.Next(&ev)) {
//     if (!t.Transcode(ev.data, ev.readable, send_buffer)) break;  // error event + [DONE] written
//   }
//   ... at the end of the upstream body:  t.Finish(send_buffer);
//
// Every chunk is `data: {"id","object":"chat.completion.chunk","created","model","choices":[...]
// [,"usage":null]}\n\n` with the same id, created and model. Per candidate (choices[].index =
// the candidate's index): the first delta carries role "assistant"; consecutive parts of one kind
// in one Gemini event become one delta (thoughts -> reasoning_content, answer text -> content,
// function calls -> tool_calls with index, id, type, function {name, full arguments}, and
// extra_content.google.thought_signature when Gemini sent one); the candidate's finishReason is
// set on its last delta of the event that carries it (a `delta:{}` chunk when that event has no
// parts). A promptFeedback.blockReason with no candidates gives one content_filter chunk.
//
// Nothing is allocated per event in steady state: the chunk prefix is built once per stream, the
// JSON parser and its padding buffer are per thread, output is appended to the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/translate/chat_response.h"

namespace ringgate {

struct StreamOptions {
  std::string_view model;      // echoed as `model`: the name the client asked for
  bool include_usage = false;  // stream_options.include_usage
  std::string_view id;         // "" -> NewChatCompletionId()
  int64_t created = 0;         // 0 -> UnixSecondsNow()
};

// Appends `data: {"error":{"message":...,"type":...,"code":...}}\n\n`.
void AppendSseError(std::string& out, std::string_view message, std::string_view type,
                    std::string_view code);

class StreamTranscoder {
 public:
  explicit StreamTranscoder(const StreamOptions& options);

  StreamTranscoder(const StreamTranscoder&) = delete;
  StreamTranscoder& operator=(const StreamTranscoder&) = delete;

  // Transcodes one Gemini SSE event (its data: one GenerateContentResponse JSON) and appends zero
  // or more chunks to `out`. `readable` = bytes readable from json.data() (SseFramer::Event
  // gives it); with at least 64 spare bytes the event is parsed in place, else copied first.
  // Returns false when the stream is over: the event was not valid JSON or was a Gemini error
  // object, and an in-band error event plus `data: [DONE]` were appended (the caller stops
  // reading upstream). Once the stream is over, further calls append nothing and return false.
  [[nodiscard]] bool Transcode(std::string_view json, size_t readable, std::string& out);
  [[nodiscard]] bool Transcode(std::string_view json, std::string& out) {
    return Transcode(json, json.size(), out);
  }

  // The upstream body ended. If every candidate seen got a finishReason (or the prompt was
  // blocked): the usage chunk (`choices:[]` + usage, only with include_usage) then
  // `data: [DONE]`. Otherwise the stream was cut off: an in-band error (code
  // "upstream_incomplete") then `data: [DONE]`.
  void Finish(std::string& out);

  // An upstream failure after the stream started: in-band error event then `data: [DONE]`.
  void Error(std::string_view message, std::string_view type, std::string_view code,
             std::string& out);

  const std::string& id() const { return id_; }
  int64_t created() const { return created_; }
  // Whether any chunk was appended yet (if not, a failed upstream can still be retried).
  bool started() const { return started_; }
  // Whether [DONE] was written.
  bool done() const { return done_; }
  // Whether every candidate seen so far has finished (false before the first candidate).
  bool all_finished() const;
  // The last usageMetadata seen.
  const GeminiUsage& usage() const { return usage_; }

 private:
  struct Choice {
    bool seen = false;
    bool role_sent = false;
    bool finished = false;
    bool had_tool_call = false;
    uint32_t tool_calls = 0;  // next tool_calls[].index
  };

  Choice& ChoiceAt(int index);
  void BeginChunk(std::string& out);
  void EndChunk(std::string& out);
  // One chunk for parts[begin, end) (all of one kind, possibly none) of candidate `index`.
  void WriteDelta(int index, Choice& choice, std::span<const GeminiPart> parts,
                  std::string_view finish_reason, std::string& out);
  void WriteDone(std::string& out);

  std::string id_;
  int64_t created_ = 0;
  std::string model_;
  bool include_usage_ = false;
  std::string chunk_prefix_;    // `data: {"id":...,"model":...,"choices":[`
  std::string tool_id_prefix_;  // `call_<id suffix>_`
  uint32_t tool_id_counter_ = 0;
  std::vector<Choice> choices_;
  GeminiUsage usage_;
  bool blocked_ = false;
  bool started_ = false;
  bool done_ = false;
};

}  // namespace ringgate
