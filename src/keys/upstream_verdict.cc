#include "ringgate/keys/upstream_verdict.h"

#include <simdjson.h>

#include <algorithm>
#include <array>

#include "ringgate/keys/key_list.h"
#include "ringgate/keys/reset_time.h"

namespace ringgate {
namespace {

namespace od = simdjson::ondemand;

// ErrorInfo.reason values that mean the key itself is unusable.
constexpr std::array<std::string_view, 8> kBadKeyReasons = {
    "API_KEY_INVALID",
    "API_KEY_SERVICE_BLOCKED",
    "CONSUMER_SUSPENDED",
    "SERVICE_DISABLED",
    "API_KEY_IP_ADDRESS_BLOCKED",
    "API_KEY_HTTP_REFERRER_BLOCKED",
    "API_KEY_ANDROID_APP_BLOCKED",
    "API_KEY_IOS_APP_BLOCKED",
};

// Message fragments that identify a bad key when no ErrorInfo says so (the leaked-key 403 has no
// details). Compared ASCII case-insensitively.
constexpr std::array<std::string_view, 7> kBadKeyPhrases = {
    "api key not valid",  "api key expired", "api key not found", "reported as leaked",
    "has been suspended", "denied access",   "api_key_invalid",
};

// A 403 about a resource the client named is the client's problem, not the key's.
constexpr std::array<std::string_view, 4> kClientResourceHints = {"files/", "tunedmodels/",
                                                                  "cachedcontents/", "corpora/"};

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool ContainsNoCase(std::string_view haystack, std::string_view needle) {
  if (needle.empty())
    return true;
  if (haystack.size() < needle.size())
    return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && Lower(haystack[i + j]) == Lower(needle[j]))
      ++j;
    if (j == needle.size())
      return true;
  }
  return false;
}

struct ParsedError {
  bool found = false;
  bool complete = false;  // the whole document was read without error
  int64_t code = 0;
  std::string status;
  std::string message;
  std::string error_info_reason;
  std::string first_quota_id;
  bool per_day = false;
  bool per_minute = false;
  bool zero_quota = false;
  int64_t retry_delay_ms = -1;
};

// Reads a string value into *out; false on any error (including a non-string).
bool ReadString(od::value& v, std::string* out) {
  od::json_type type;
  if (v.type().get(type) || type != od::json_type::string)
    return false;
  std::string_view s;
  if (v.get_string().get(s))
    return false;
  out->assign(s);
  return true;
}

void NoteQuotaId(std::string_view id, ParsedError* out) {
  if (out->first_quota_id.empty())
    out->first_quota_id.assign(id);
  if (ContainsNoCase(id, "PerDay"))
    out->per_day = true;
  if (ContainsNoCase(id, "PerMinute"))
    out->per_minute = true;
}

// One QuotaFailure / PreconditionFailure violation. false = stop parsing.
bool ParseViolation(od::object obj, ParsedError* out) {
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v))
      return false;
    std::string text;
    if (key == "quotaId") {
      if (ReadString(v, &text))
        NoteQuotaId(text, out);
    } else if (key == "quotaValue") {
      // int64 as a JSON string in proto3 JSON, but accept a number too.
      od::json_type type;
      if (v.type().get(type))
        return false;
      if (type == od::json_type::string) {
        if (ReadString(v, &text) && text == "0")
          out->zero_quota = true;
      } else if (type == od::json_type::number) {
        int64_t n;
        if (!v.get_int64().get(n) && n == 0)
          out->zero_quota = true;
      }
    }
  }
  return true;
}

// One element of details[]. false = stop parsing.
bool ParseDetail(od::object obj, ParsedError* out) {
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v))
      return false;
    std::string text;
    if (key == "reason") {
      // Only ErrorInfo has a top-level reason.
      if (ReadString(v, &text) && out->error_info_reason.empty())
        out->error_info_reason = text;
    } else if (key == "retryDelay") {
      if (ReadString(v, &text)) {
        int64_t ms = ParseDurationMs(text);
        if (ms >= 0)
          out->retry_delay_ms = ms;
      }
    } else if (key == "violations") {
      od::array violations;
      if (v.get_array().get(violations))
        continue;
      for (auto element : violations) {
        od::object violation;
        if (element.get_object().get(violation))
          return false;
        if (!ParseViolation(violation, out))
          return false;
      }
    }
  }
  return true;
}

bool ParseErrorObject(od::object obj, ParsedError* out) {
  out->found = true;
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v))
      return false;
    if (key == "code") {
      od::json_type type;
      if (v.type().get(type))
        return false;
      int64_t code;
      if (type == od::json_type::number && !v.get_int64().get(code))
        out->code = code;
    } else if (key == "status") {
      ReadString(v, &out->status);
    } else if (key == "message") {
      ReadString(v, &out->message);
    } else if (key == "details") {
      od::array details;
      if (v.get_array().get(details))
        continue;
      for (auto element : details) {
        od::object detail;
        if (element.get_object().get(detail))
          return false;
        if (!ParseDetail(detail, out))
          return false;
      }
    }
  }
  return true;
}

// Finds "error" in an object; false = stop.
bool ParseEnvelope(od::object root, ParsedError* out) {
  for (auto field : root) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v))
      return false;
    if (key == "error") {
      od::object error;
      if (v.get_object().get(error))
        return false;
      return ParseErrorObject(error, out);
    }
  }
  return true;
}

// Best effort: whatever was read before a parse error is kept.
ParsedError ParseErrorBody(std::string_view body) {
  ParsedError parsed;
  simdjson::padded_string padded(body);
  od::parser parser;
  od::document doc;
  if (parser.iterate(padded).get(doc))
    return parsed;
  od::json_type type;
  if (doc.type().get(type))
    return parsed;
  if (type == od::json_type::object) {
    od::object root;
    if (!doc.get_object().get(root))
      parsed.complete = ParseEnvelope(root, &parsed);
  } else if (type == od::json_type::array) {
    od::array list;
    if (doc.get_array().get(list))
      return parsed;
    for (auto element : list) {
      od::object root;
      if (element.get_object().get(root))
        break;
      parsed.complete = ParseEnvelope(root, &parsed);
      break;  // only the first element
    }
  }
  return parsed;
}

// "Please retry in 25.465784708s." in newer 429 messages.
int64_t RetryDelayFromMessage(std::string_view message) {
  constexpr std::string_view kMarker = "retry in ";
  for (size_t i = 0; i + kMarker.size() <= message.size(); ++i) {
    size_t j = 0;
    while (j < kMarker.size() && Lower(message[i + j]) == kMarker[j])
      ++j;
    if (j != kMarker.size())
      continue;
    size_t start = i + kMarker.size();
    size_t end = start;
    while (end < message.size() &&
           ((message[end] >= '0' && message[end] <= '9') || message[end] == '.')) {
      ++end;
    }
    if (end < message.size() && message[end] == 's') {
      return ParseDurationMs(message.substr(start, end + 1 - start));
    }
  }
  return -1;
}

std::string TruncateUtf8(std::string text, size_t max) {
  if (text.size() <= max)
    return text;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  text.resize(cut);
  return text;
}

bool LooksLikeErrorBody(std::string_view body) {
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < body.size() &&
           (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) {
      ++i;
    }
  };
  skip_ws();
  if (i < body.size() && body[i] == '[') {
    ++i;
    skip_ws();
  }
  if (i >= body.size() || body[i] != '{')
    return false;
  ++i;
  skip_ws();
  return body.substr(i, 7) == "\"error\"";
}

const char* DefaultStatusName(int code) {
  switch (code) {
    case 400:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 500:
      return "INTERNAL";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return "UNKNOWN";
  }
}

}  // namespace

const char* VerdictKindName(VerdictKind kind) {
  switch (kind) {
    case VerdictKind::kSuccess:
      return "success";
    case VerdictKind::kQuarantineKey:
      return "quarantine_key";
    case VerdictKind::kRestKeyModel:
      return "rest_key_model";
    case VerdictKind::kRestKeyModelUntilDailyReset:
      return "rest_key_model_until_daily_reset";
    case VerdictKind::kRetryOtherKey:
      return "retry_other_key";
    case VerdictKind::kClientError:
      return "client_error";
  }
  return "?";
}

int64_t ParseDurationMs(std::string_view text) {
  if (text.empty() || text.back() != 's')
    return -1;
  text.remove_suffix(1);
  if (text.empty())
    return -1;
  int64_t whole = 0;
  size_t i = 0;
  bool digits = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (whole > 1'000'000'000'000)
      return -1;
    whole = whole * 10 + (text[i] - '0');
    digits = true;
  }
  int64_t frac_ns = 0;  // nanoseconds, Duration has at most 9 fractional digits
  if (i < text.size() && text[i] == '.') {
    ++i;
    int64_t scale = 100'000'000;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      frac_ns += (text[i] - '0') * scale;
      scale /= 10;
      digits = true;
    }
  }
  if (i != text.size() || !digits)
    return -1;
  return whole * 1000 + (frac_ns + 999'999) / 1'000'000;
}

UpstreamVerdict ClassifyGeminiError(int http_status, std::string_view body, int64_t now_ms) {
  UpstreamVerdict v;
  v.http_status = http_status;
  bool is_2xx = http_status >= 200 && http_status < 300;
  if (is_2xx && !LooksLikeErrorBody(body))
    return v;

  ParsedError parsed = ParseErrorBody(body);
  if (is_2xx && !parsed.found)
    return v;
  // A body we could not read to the end (cut short, not JSON): look for the telling words in the
  // raw text, so a truncated API_KEY_INVALID still quarantines and a PerDay still rests a day.
  std::string_view scan = parsed.complete ? std::string_view(parsed.message) : body;
  if (!parsed.complete && parsed.error_info_reason.empty()) {
    for (std::string_view reason : kBadKeyReasons) {
      if (body.find(reason) != std::string_view::npos) {
        parsed.error_info_reason.assign(reason);
        break;
      }
    }
  }
  if (!parsed.complete && ContainsNoCase(body, "PerDay"))
    parsed.per_day = true;
  int code = http_status;
  if (parsed.found && parsed.code >= 100 && parsed.code <= 599 && (is_2xx || code == 0)) {
    code = static_cast<int>(parsed.code);
  }
  v.http_status = code;
  v.status = parsed.status.empty() ? DefaultStatusName(code) : parsed.status;
  if (!parsed.error_info_reason.empty()) {
    v.reason = parsed.error_info_reason;
  } else if (!parsed.first_quota_id.empty()) {
    v.reason = parsed.first_quota_id;
  } else {
    v.reason = v.status;
  }
  v.message = TruncateUtf8(MaskApiKeysInText(parsed.message), UpstreamVerdict::kMaxMessage);
  v.retry_delay_ms =
      parsed.retry_delay_ms >= 0 ? parsed.retry_delay_ms : RetryDelayFromMessage(parsed.message);
  if (v.retry_delay_ms < 0)
    v.retry_delay_ms = 0;

  auto quarantine = [&] {
    v.kind = VerdictKind::kQuarantineKey;
    v.failure = FailureClass::kKeyRejected;
    return v;
  };
  auto retry = [&](FailureClass failure) {
    v.kind = VerdictKind::kRetryOtherKey;
    v.failure = failure;
    return v;
  };
  auto client = [&] {
    v.kind = VerdictKind::kClientError;
    v.failure = FailureClass::kClient;
    return v;
  };

  // (1) The key itself.
  bool bad_reason = std::find(kBadKeyReasons.begin(), kBadKeyReasons.end(),
                              parsed.error_info_reason) != kBadKeyReasons.end();
  bool bad_phrase = false;
  for (std::string_view phrase : kBadKeyPhrases) {
    if (ContainsNoCase(scan, phrase))
      bad_phrase = true;
  }
  if (bad_reason || ((code == 400 || code == 403) && bad_phrase))
    return quarantine();
  if (code == 401 || code == 402)
    return quarantine();
  if (code == 403) {
    for (std::string_view hint : kClientResourceHints) {
      if (ContainsNoCase(scan, hint))
        return client();
    }
    return quarantine();
  }

  // (2) Quota.
  if (code == 429) {
    v.failure = FailureClass::kQuota;
    bool per_day = parsed.per_day || parsed.zero_quota || ContainsNoCase(scan, "limit: 0") ||
                   (parsed.first_quota_id.empty() && (ContainsNoCase(parsed.message, "per day") ||
                                                      ContainsNoCase(parsed.message, "PerDay")));
    if (per_day) {
      v.kind = VerdictKind::kRestKeyModelUntilDailyReset;
      v.until_ms = QuotaDayResetAfter(now_ms);
    } else {
      v.kind = VerdictKind::kRestKeyModel;
      int64_t delay = v.retry_delay_ms > 0 ? v.retry_delay_ms : kDefaultQuotaRestMs;
      v.until_ms = now_ms + std::clamp<int64_t>(delay, 1'000, 3'600'000);
    }
    return v;
  }

  // Egress or project problem (location, free tier not offered): other keys of other projects
  // may work, this one will not today for this model.
  if (code == 400 && parsed.status == "FAILED_PRECONDITION") {
    v.kind = VerdictKind::kRestKeyModelUntilDailyReset;
    v.failure = FailureClass::kPrecondition;
    v.until_ms = QuotaDayResetAfter(now_ms);
    return v;
  }

  // (3) Transient.
  if (code == 503)
    return retry(FailureClass::kOverloaded);
  if (code == 504 || code == 408)
    return retry(FailureClass::kTimeout);
  if (code >= 500 || code == 499)
    return retry(FailureClass::kUpstream);

  // (5) Anything else in 4xx is about the request.
  if (code >= 400)
    return client();
  // 1xx/3xx or garbage: not an answer we can use.
  return retry(FailureClass::kUpstream);
}

UpstreamVerdict ClassifyTransportError(TransportFailure failure) {
  struct Row {
    TransportFailure failure;
    FailureClass failure_class;
    int http_status;
    const char* reason;
    const char* message;
  };
  static constexpr Row kRows[] = {
      {TransportFailure::kConnectTimeout, FailureClass::kTimeout, 504, "TIMEOUT",
       "upstream timed out"},
      {TransportFailure::kTimeout, FailureClass::kTimeout, 504, "TIMEOUT", "upstream timed out"},
      {TransportFailure::kConnectFailed, FailureClass::kUpstream, 502, "CONNECT_FAILED",
       "could not connect to the upstream"},
      {TransportFailure::kTlsFailed, FailureClass::kUpstream, 502, "TLS_FAILED",
       "TLS handshake with the upstream failed"},
      {TransportFailure::kConnectionReset, FailureClass::kUpstream, 502, "CONNECTION_RESET",
       "the upstream closed the connection"},
      {TransportFailure::kTruncated, FailureClass::kUpstream, 502, "TRUNCATED",
       "the upstream answer ended early"},
      {TransportFailure::kMalformed, FailureClass::kUpstream, 502, "MALFORMED",
       "the upstream answer could not be parsed"},
  };
  UpstreamVerdict v;
  v.kind = VerdictKind::kRetryOtherKey;
  v.transport = true;
  v.status = "UNAVAILABLE";
  for (const Row& row : kRows) {
    if (row.failure == failure) {
      v.failure = row.failure_class;
      v.http_status = row.http_status;
      v.reason = row.reason;
      v.message = row.message;
    }
  }
  return v;
}

}  // namespace ringgate
