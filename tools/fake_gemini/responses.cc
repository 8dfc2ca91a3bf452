#include "responses.h"

#include <algorithm>

#include "ringgate/http/response.h"

namespace fake_gemini {

namespace {

constexpr std::string_view kThoughtSignature = "ZmFrZS1nZW1pbmktdGhvdWdodC1zaWduYXR1cmU=";
constexpr std::string_view kDefaultArgs = "{\"location\":\"Paris\"}";
constexpr int kThoughtTokensPerEvent = 48;
constexpr int kFunctionCallTokens = 8;
constexpr size_t kMaxText = 1 << 20;

void AppendQuoted(std::string& out, std::string_view text) {
  out += '"';
  ringgate::AppendJsonEscaped(out, text);
  out += '"';
}

void AppendInt(std::string& out, int64_t value) {
  char buffer[24];
  char* end = buffer + sizeof(buffer);
  char* p = end;
  bool negative = value < 0;
  uint64_t v = negative ? static_cast<uint64_t>(-value) : static_cast<uint64_t>(value);
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (negative)
    *--p = '-';
  out.append(p, static_cast<size_t>(end - p));
}

void OpenError(std::string& out, int code, std::string_view message) {
  out += "{\"error\":{\"code\":";
  AppendInt(out, code);
  out += ",\"message\":";
  AppendQuoted(out, message);
}

void AppendErrorInfo(std::string& out, std::string_view reason, bool with_consumer) {
  out += "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"";
  out += reason;
  out += "\",\"domain\":\"googleapis.com\",\"metadata\":{";
  if (with_consumer)
    out += "\"consumer\":\"projects/123456789\",";
  out += "\"service\":\"generativelanguage.googleapis.com\"}}";
}

std::string_view ServiceMethod(std::string_view method) {
  if (method == "generateContent")
    return "GenerativeService.GenerateContent";
  if (method == "streamGenerateContent")
    return "GenerativeService.StreamGenerateContent";
  if (method == "countTokens")
    return "GenerativeService.CountTokens";
  if (method == "embedContent")
    return "GenerativeService.EmbedContent";
  if (method == "batchEmbedContents")
    return "GenerativeService.BatchEmbedContents";
  if (method == "models.get")
    return "ModelService.GetModel";
  return "ModelService.ListModels";
}

std::string_view QuotaModel(const ErrorContext& context) {
  return context.model.empty() ? std::string_view("gemini-2.5-flash") : context.model;
}

bool IsEmbedding(std::string_view method) {
  return method == "embedContent" || method == "batchEmbedContents";
}

int AppendQuotaError(std::string& out, bool per_day, const ErrorContext& context) {
  std::string_view delay = context.retry_delay.empty() ? "17s" : context.retry_delay;
  bool embed = IsEmbedding(context.method);
  std::string_view metric =
      embed ? "generativelanguage.googleapis.com/embed_content_free_tier_requests"
            : "generativelanguage.googleapis.com/generate_content_free_tier_requests";
  std::string_view quota_id =
      per_day ? (embed ? "EmbedContentRequestsPerDayPerUserPerProjectPerModel-FreeTier"
                       : "GenerateRequestsPerDayPerProjectPerModel-FreeTier")
              : (embed ? "EmbedContentRequestsPerMinutePerUserPerProjectPerModel-FreeTier"
                       : "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
  std::string_view limit = per_day ? "250" : "10";
  std::string message =
      "You exceeded your current quota, please check your plan and billing details. For more "
      "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.";
  if (per_day) {
    message += "\n* Quota exceeded for metric: ";
    message += metric;
    message += ", limit: ";
    message += limit;
    message += ", model: ";
    message += QuotaModel(context);
    message += "\nPlease retry in ";
    message += delay;
    message += '.';
  }
  OpenError(out, 429, message);
  out += ",\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[";
  out += "{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{";
  out += "\"quotaMetric\":\"";
  out += metric;
  out += "\",\"quotaId\":\"";
  out += quota_id;
  out += "\",\"quotaDimensions\":{\"location\":\"global\",\"model\":";
  AppendQuoted(out, QuotaModel(context));
  out += "},\"quotaValue\":\"";
  out += limit;
  out += "\"}]},";
  if (!per_day) {
    out +=
        "{\"@type\":\"type.googleapis.com/google.rpc.Help\",\"links\":[{\"description\":"
        "\"Learn more about Gemini API quotas\",\"url\":"
        "\"https://ai.google.dev/gemini-api/docs/rate-limits\"}]},";
  }
  out += "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":";
  AppendQuoted(out, delay);
  out += "}]}}";
  return 429;
}

void AppendSafetyRatings(std::string& out, bool blocked) {
  out +=
      "\"safetyRatings\":[{\"category\":\"HARM_CATEGORY_SEXUALLY_EXPLICIT\",\"probability\":"
      "\"NEGLIGIBLE\"},{\"category\":\"HARM_CATEGORY_HATE_SPEECH\",\"probability\":"
      "\"NEGLIGIBLE\"},{\"category\":\"HARM_CATEGORY_HARASSMENT\",\"probability\":"
      "\"NEGLIGIBLE\"},{\"category\":\"HARM_CATEGORY_DANGEROUS_CONTENT\",\"probability\":";
  out += blocked ? "\"HIGH\",\"blocked\":true}]" : "\"NEGLIGIBLE\"}]";
}

std::string MakeFiller() {
  static constexpr std::string_view kSentences[] = {
      "The quick brown fox jumps over the lazy dog. ",
      "Gemini is a fake here, and every answer is made of these sentences. ",
      "Streams arrive in several events; each one carries a delta of the text. ",
      "Numbers like 42 and 3.14 appear so parsers see more than letters. ",
      "Quotes \"like these\" and a backslash \\ test the JSON escaping. ",
      "Unicode matters too: caf\xc3\xa9, na\xc3\xafve, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e. ",
  };
  std::string text;
  text.reserve(kMaxText + 128);
  size_t i = 0;
  while (text.size() < kMaxText) {
    text += kSentences[i % std::size(kSentences)];
    ++i;
  }
  return text;
}

void AppendThoughtText(std::string& out, int index) {
  out += "**Thinking, step ";
  AppendInt(out, index + 1);
  out += "**\\n\\nI am working out what the user asked for and how to answer it briefly.";
}

}  // namespace

std::string_view FillerText(size_t length) {
  static const std::string filler = MakeFiller();
  if (length > kMaxText)
    length = kMaxText;
  std::string_view view(filler);
  return view.substr(0, Utf8Boundary(view, length));
}

size_t Utf8Boundary(std::string_view text, size_t end) {
  if (end >= text.size())
    return text.size();
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  return end;
}

void MakeResponseId(std::string& out, uint64_t shard, uint64_t counter) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  // splitmix64 is a bijection, so distinct (shard, counter) give distinct first 11 characters.
  auto mix = [](uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  };
  uint64_t x = mix((shard << 48) ^ counter);
  uint64_t y = mix(x);
  out.clear();
  for (int i = 0; i < 11; ++i) {
    out += kAlphabet[x & 63];
    x >>= 6;
  }
  for (int i = 0; i < 5; ++i) {
    out += kAlphabet[y & 63];
    y >>= 6;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

void AppendPlainError(std::string& out, int code, std::string_view status,
                      std::string_view message) {
  OpenError(out, code, message);
  out += ",\"status\":\"";
  out += status;
  out += "\"}}";
}

int AppendScriptedError(std::string& out, std::string_view which, const ErrorContext& context) {
  if (which == "400") {
    AppendPlainError(out, 400, "INVALID_ARGUMENT", "Request contains an invalid argument.");
    return 400;
  }
  if (which == "400_key")
    return AppendKeyError(out, KeyState::kInvalid, context);
  if (which == "401") {
    OpenError(out, 401,
              "Request had invalid authentication credentials. Expected OAuth 2 access token, "
              "login cookie or other valid authentication credential. See "
              "https://developers.google.com/identity/sign-in/web/devconsole-project.");
    out += ",\"status\":\"UNAUTHENTICATED\",\"details\":[";
    AppendErrorInfo(out, "ACCESS_TOKEN_TYPE_UNSUPPORTED", false);
    out += "]}}";
    return 401;
  }
  if (which == "403") {
    AppendPlainError(out, 403, "PERMISSION_DENIED", "The caller does not have permission");
    return 403;
  }
  if (which == "403_suspended")
    return AppendKeyError(out, KeyState::kSuspended, context);
  if (which == "403_leaked")
    return AppendKeyError(out, KeyState::kLeaked, context);
  if (which == "403_blocked")
    return AppendKeyError(out, KeyState::kBlocked, context);
  if (which == "404")
    return AppendModelNotFound(out, context);
  if (which == "429" || which == "429_minute")
    return AppendQuotaError(out, false, context);
  if (which == "429_day")
    return AppendQuotaError(out, true, context);
  if (which == "503") {
    AppendPlainError(out, 503, "UNAVAILABLE", "The model is overloaded. Please try again later.");
    return 503;
  }
  if (which == "504") {
    AppendPlainError(out, 504, "DEADLINE_EXCEEDED",
                     "Deadline expired before operation could complete.");
    return 504;
  }
  AppendPlainError(out, 500, "INTERNAL",
                   "An internal error has occurred. Please retry or report in "
                   "https://developers.generativeai.google/guide/troubleshooting");
  return 500;
}

int AppendKeyError(std::string& out, KeyState state, const ErrorContext& context) {
  switch (state) {
    case KeyState::kValid:
    case KeyState::kInvalid: {
      constexpr std::string_view kMessage = "API key not valid. Please pass a valid API key.";
      OpenError(out, 400, kMessage);
      out += ",\"status\":\"INVALID_ARGUMENT\",\"details\":[";
      AppendErrorInfo(out, "API_KEY_INVALID", false);
      out +=
          ",{\"@type\":\"type.googleapis.com/google.rpc.LocalizedMessage\",\"locale\":"
          "\"en-US\",\"message\":";
      AppendQuoted(out, kMessage);
      out += "}]}}";
      return 400;
    }
    case KeyState::kSuspended: {
      std::string message = "Permission denied: Consumer 'api_key:";
      message += context.key;
      message += "' has been suspended.";
      OpenError(out, 403, message);
      out += ",\"status\":\"PERMISSION_DENIED\",\"details\":[";
      AppendErrorInfo(out, "CONSUMER_SUSPENDED", true);
      out += "]}}";
      return 403;
    }
    case KeyState::kLeaked:
      AppendPlainError(out, 403, "PERMISSION_DENIED",
                       "Your API key was reported as leaked. Please use another API key.");
      return 403;
    case KeyState::kBlocked: {
      std::string message =
          "Requests to this API generativelanguage.googleapis.com method "
          "google.ai.generativelanguage.";
      message += context.version;
      message += '.';
      message += ServiceMethod(context.method);
      message += " are blocked.";
      OpenError(out, 403, message);
      out += ",\"status\":\"PERMISSION_DENIED\",\"details\":[";
      AppendErrorInfo(out, "API_KEY_SERVICE_BLOCKED", true);
      out += "]}}";
      return 403;
    }
    case KeyState::kMinuteQuota:
      return AppendQuotaError(out, false, context);
    case KeyState::kDayQuota:
      return AppendQuotaError(out, true, context);
  }
  return 500;
}

int AppendMissingKeyError(std::string& out) {
  AppendPlainError(out, 403, "PERMISSION_DENIED",
                   "Method doesn't allow unregistered callers (callers without established "
                   "identity). Please use API Key or other form of API consumer identity to call "
                   "this API.");
  return 403;
}

int AppendModelNotFound(std::string& out, const ErrorContext& context) {
  std::string message = "models/";
  message += context.model;
  message += " is not found for API version ";
  message += context.version;
  message += ", or is not supported for ";
  message += context.method == "streamGenerateContent" ? "generateContent" : context.method;
  message += ". Call ListModels to see the list of available models and their supported methods.";
  AppendPlainError(out, 404, "NOT_FOUND", message);
  return 404;
}

// ---------------------------------------------------------------------------------------------
// Generation

int Generation::AnswerEvents() const {
  if (script->empty != EmptyMode::kNone)
    return 1;
  if (answer.empty())
    return 1;
  int events = std::max(1, script->events);
  if (script->block == BlockMode::kCandidate)
    return events;
  return std::min<int>(events, static_cast<int>(answer.size()));
}

int Generation::EventCount() const {
  if (script->block == BlockMode::kPrompt)
    return 1;
  return script->thoughts + AnswerEvents();
}

void Generation::AppendUsage(std::string& out, int candidate_tokens, int thought_tokens,
                             bool final_usage) const {
  out += "\"usageMetadata\":{\"promptTokenCount\":";
  AppendInt(out, prompt_tokens);
  if (final_usage && candidate_tokens > 0) {
    out += ",\"candidatesTokenCount\":";
    AppendInt(out, candidate_tokens);
  }
  out += ",\"totalTokenCount\":";
  AppendInt(out, prompt_tokens + (final_usage ? candidate_tokens : 0) + thought_tokens);
  out += ",\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":";
  AppendInt(out, prompt_tokens);
  out += "}]";
  if (thought_tokens > 0) {
    out += ",\"thoughtsTokenCount\":";
    AppendInt(out, thought_tokens);
  }
  out += '}';
}

void Generation::AppendTail(std::string& out) const {
  out += ",\"modelVersion\":";
  AppendQuoted(out, model);
  out += ",\"responseId\":";
  AppendQuoted(out, response_id);
  out += '}';
}

void Generation::AppendFunctionCall(std::string& out) const {
  out += "{\"functionCall\":{\"name\":";
  AppendQuoted(out, script->function_call);
  out += ",\"args\":";
  out += script->function_args.empty() ? kDefaultArgs : std::string_view(script->function_args);
  out += "},\"thoughtSignature\":\"";
  out += kThoughtSignature;
  out += "\"}";
}

void Generation::AppendEvent(std::string& out, int index) const {
  const Script& s = *script;
  if (s.block == BlockMode::kPrompt) {
    out += "{\"promptFeedback\":{\"blockReason\":\"SAFETY\",";
    AppendSafetyRatings(out, true);
    out += "},";
    AppendUsage(out, 0, 0, true);
    AppendTail(out);
    return;
  }
  out += "{\"candidates\":[{";
  if (index < s.thoughts) {
    out += "\"content\":{\"parts\":[{\"text\":\"";
    AppendThoughtText(out, index);
    out += "\",\"thought\":true}],\"role\":\"model\"},\"index\":0}],";
    AppendUsage(out, 0, (index + 1) * kThoughtTokensPerEvent, false);
    AppendTail(out);
    return;
  }
  int thought_tokens = s.thoughts * kThoughtTokensPerEvent;
  int answer_index = index - s.thoughts;
  int answer_events = AnswerEvents();
  bool last = answer_index + 1 >= answer_events;
  bool blocked = last && s.block == BlockMode::kCandidate;
  if (s.empty == EmptyMode::kNoParts) {
    out += "\"content\":{\"role\":\"model\"},";
  } else if (s.empty == EmptyMode::kEmptyText) {
    out += "\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"},";
  } else if (!blocked) {
    // Slice `answer_index` of the answer: equal shares, cut at character boundaries.
    size_t begin = Utf8Boundary(answer, answer.size() * answer_index / answer_events);
    size_t end = last ? answer.size()
                      : Utf8Boundary(answer, answer.size() * (answer_index + 1) / answer_events);
    bool function_call = last && !s.function_call.empty();
    out += "\"content\":{\"parts\":[";
    if (!answer.empty() || !function_call) {
      out += "{\"text\":\"";
      ringgate::AppendJsonEscaped(out, answer.substr(begin, end - begin));
      out += '"';
      if (last && !function_call && s.thoughts > 0) {
        out += ",\"thoughtSignature\":\"";
        out += kThoughtSignature;
        out += '"';
      }
      out += '}';
    }
    if (function_call) {
      if (!answer.empty())
        out += ',';
      AppendFunctionCall(out);
    }
    out += "],\"role\":\"model\"},";
  }
  if (last) {
    out += "\"finishReason\":\"";
    out += blocked ? std::string_view("SAFETY") : std::string_view(s.finish);
    out += "\",";
  }
  out += "\"index\":0";
  if (blocked) {
    out += ',';
    AppendSafetyRatings(out, true);
  }
  out += "}],";
  int candidate_tokens =
      TokensFor(answer.size()) + (s.function_call.empty() ? 0 : kFunctionCallTokens);
  if (s.empty != EmptyMode::kNone)
    candidate_tokens = 0;
  AppendUsage(out, candidate_tokens, thought_tokens, last);
  AppendTail(out);
}

void Generation::AppendWhole(std::string& out) const {
  const Script& s = *script;
  if (s.block == BlockMode::kPrompt) {
    AppendEvent(out, 0);
    return;
  }
  out += "{\"candidates\":[{";
  bool blocked = s.block == BlockMode::kCandidate;
  bool function_call = !s.function_call.empty();
  if (s.empty == EmptyMode::kNoParts) {
    out += "\"content\":{\"role\":\"model\"},";
  } else if (s.empty == EmptyMode::kEmptyText) {
    out += "\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"},";
  } else if (!blocked) {
    out += "\"content\":{\"parts\":[";
    bool need_comma = false;
    if (s.thoughts > 0) {
      out += "{\"text\":\"";
      for (int i = 0; i < s.thoughts; ++i) {
        if (i > 0)
          out += "\\n\\n";
        AppendThoughtText(out, i);
      }
      out += "\",\"thought\":true}";
      need_comma = true;
    }
    if (!answer.empty() || !function_call) {
      if (need_comma)
        out += ',';
      out += "{\"text\":\"";
      ringgate::AppendJsonEscaped(out, answer);
      out += '"';
      if (!function_call && s.thoughts > 0) {
        out += ",\"thoughtSignature\":\"";
        out += kThoughtSignature;
        out += '"';
      }
      out += '}';
      need_comma = true;
    }
    if (function_call) {
      if (need_comma)
        out += ',';
      AppendFunctionCall(out);
    }
    out += "],\"role\":\"model\"},";
  }
  out += "\"finishReason\":\"";
  out += blocked ? std::string_view("SAFETY") : std::string_view(s.finish);
  out += "\",\"index\":0";
  if (blocked) {
    out += ',';
    AppendSafetyRatings(out, true);
  }
  out += "}],";
  int candidate_tokens = TokensFor(answer.size()) + (function_call ? kFunctionCallTokens : 0);
  if (s.empty != EmptyMode::kNone || blocked)
    candidate_tokens = 0;
  AppendUsage(out, candidate_tokens, s.thoughts * kThoughtTokensPerEvent, true);
  AppendTail(out);
}

}  // namespace fake_gemini
