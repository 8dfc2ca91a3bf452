#include "ringgate/translate/stream_transcoder.h"

#include <charconv>

#include "ringgate/json/json_writer.h"

namespace ringgate {
namespace {

constexpr std::string_view kDone = "data: [DONE]\n\n";

std::string_view ErrorType(int64_t code) {
  if (code == 429)
    return "rate_limit_error";
  if (code == 401 || code == 403)
    return "authentication_error";
  if (code >= 400 && code < 500)
    return "invalid_request_error";
  return "server_error";
}

}  // namespace

void AppendSseError(std::string& out, std::string_view message, std::string_view type,
                    std::string_view code) {
  out.append("data: ");
  JsonWriter w(out);
  w.BeginObject();
  w.Key("error");
  w.BeginObject();
  w.Field("message", message);
  w.Field("type", type);
  w.Field("code", code);
  w.EndObject();
  w.EndObject();
  out.append("\n\n");
}

StreamTranscoder::StreamTranscoder(const StreamOptions& options)
    : id_(options.id.empty() ? NewChatCompletionId() : std::string(options.id)),
      created_(options.created != 0 ? options.created : UnixSecondsNow()),
      model_(options.model),
      include_usage_(options.include_usage) {
  chunk_prefix_ = "data: ";
  JsonWriter w(chunk_prefix_);
  w.BeginObject();
  w.Field("id", id_);
  w.Field("object", "chat.completion.chunk");
  w.FieldInt("created", created_);
  w.Field("model", model_);
  w.Key("choices");
  w.BeginArray();  // left open: chunks append choices and close it

  std::string_view suffix = id_;
  if (suffix.substr(0, 9) == "chatcmpl-")
    suffix.remove_prefix(9);
  tool_id_prefix_ = "call_";
  tool_id_prefix_.append(suffix);
  tool_id_prefix_.push_back('_');
}

bool StreamTranscoder::all_finished() const {
  if (blocked_)
    return true;
  bool any = false;
  for (const Choice& choice : choices_) {
    if (!choice.seen)
      continue;
    if (!choice.finished)
      return false;
    any = true;
  }
  return any;
}

StreamTranscoder::Choice& StreamTranscoder::ChoiceAt(int index) {
  auto i = static_cast<size_t>(index);
  if (i >= choices_.size())
    choices_.resize(i + 1);
  Choice& choice = choices_[i];
  choice.seen = true;
  return choice;
}

void StreamTranscoder::BeginChunk(std::string& out) {
  out.append(chunk_prefix_);
  started_ = true;
}

void StreamTranscoder::EndChunk(std::string& out) {
  out.append(include_usage_ ? "],\"usage\":null}\n\n" : "]}\n\n");
}

void StreamTranscoder::WriteDelta(int index, Choice& choice, std::span<const GeminiPart> parts,
                                  std::string_view finish_reason, std::string& out) {
  // The hot path (text deltas) appends constant fragments directly; tool calls use JsonWriter.
  BeginChunk(out);
  out.append("{\"index\":");
  char digits[12];
  auto [digits_end, ec] = std::to_chars(digits, digits + sizeof(digits), index);
  out.append(digits, digits_end);
  out.append(",\"delta\":{");
  bool first = !choice.role_sent;
  if (first) {
    out.append("\"role\":\"assistant\"");
    choice.role_sent = true;
  }
  if (parts.empty()) {
    if (first)
      out.append(",\"content\":\"\"");
  } else if (parts.front().kind == GeminiPart::Kind::kFunctionCall) {
    out.append(first ? ",\"content\":null,\"tool_calls\":" : "\"tool_calls\":");
    JsonWriter w(out);
    w.BeginArray();
    for (const GeminiPart& part : parts) {
      WriteOpenAiToolCall(w, part, choice.tool_calls++, tool_id_prefix_, tool_id_counter_++);
    }
    w.EndArray();
    choice.had_tool_call = true;
  } else {
    if (first)
      out.push_back(',');
    out.append(parts.front().kind == GeminiPart::Kind::kThought ? "\"reasoning_content\":\""
                                                                : "\"content\":\"");
    for (const GeminiPart& part : parts)
      AppendJsonString(out, part.text);
    out.push_back('"');
  }
  out.append("},\"logprobs\":null,\"finish_reason\":");
  if (finish_reason.empty()) {
    out.append("null}");
  } else {
    out.push_back('"');
    out.append(MapFinishReason(finish_reason, choice.had_tool_call));
    out.append("\"}");
    choice.finished = true;
  }
  EndChunk(out);
}

bool StreamTranscoder::Transcode(std::string_view json, size_t readable, std::string& out) {
  if (done_)
    return false;
  GeminiResponseView view;
  Status status = ParseGeminiResponse(json, readable, &view);
  if (!status.ok()) {
    Error("upstream sent an invalid stream event", "server_error", "upstream_invalid", out);
    return false;
  }
  if (view.is_error) {
    std::string_view message =
        view.error_message.empty() ? std::string_view("upstream error") : view.error_message;
    Error(message, ErrorType(view.error_code),
          view.error_status.empty() ? std::string_view("upstream_error") : view.error_status, out);
    return false;
  }
  if (view.has_usage)
    usage_ = view.usage;

  if (view.candidates.empty()) {
    if (!view.block_reason.empty() && !blocked_) {
      blocked_ = true;
      Choice& choice = ChoiceAt(0);
      WriteDelta(0, choice, {}, "SAFETY", out);  // maps to content_filter
    }
    return true;
  }

  for (const GeminiCandidate& candidate : view.candidates) {
    Choice& choice = ChoiceAt(candidate.index);
    std::span<const GeminiPart> parts =
        view.parts.subspan(candidate.part_begin, candidate.part_end - candidate.part_begin);
    std::string_view finish = choice.finished ? std::string_view() : candidate.finish_reason;
    if (parts.empty()) {
      if (!finish.empty())
        WriteDelta(candidate.index, choice, {}, finish, out);
      continue;
    }
    // Consecutive parts of one kind share a delta; the finish reason goes on the last one.
    size_t begin = 0;
    while (begin < parts.size()) {
      size_t end = begin + 1;
      while (end < parts.size() && parts[end].kind == parts[begin].kind)
        ++end;
      WriteDelta(candidate.index, choice, parts.subspan(begin, end - begin),
                 end == parts.size() ? finish : std::string_view(), out);
      begin = end;
    }
  }
  return true;
}

void StreamTranscoder::WriteDone(std::string& out) {
  out.append(kDone);
  done_ = true;
}

void StreamTranscoder::Finish(std::string& out) {
  if (done_)
    return;
  if (!all_finished()) {
    AppendSseError(out, "upstream stream ended without a finish reason (cut off)", "server_error",
                   "upstream_incomplete");
    WriteDone(out);
    return;
  }
  if (include_usage_) {
    out.append("data: ");
    JsonWriter w(out);
    w.BeginObject();
    w.Field("id", id_);
    w.Field("object", "chat.completion.chunk");
    w.FieldInt("created", created_);
    w.Field("model", model_);
    w.Key("choices");
    w.BeginArray();
    w.EndArray();
    WriteOpenAiUsage(w, usage_);
    w.EndObject();
    out.append("\n\n");
  }
  WriteDone(out);
}

void StreamTranscoder::Error(std::string_view message, std::string_view type, std::string_view code,
                             std::string& out) {
  if (done_)
    return;
  AppendSseError(out, message, type, code);
  WriteDone(out);
}

}  // namespace ringgate
