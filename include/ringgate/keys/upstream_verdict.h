// What one upstream answer means for the key that carried it (wire-formats.md 3.3): keep going,
// take the key out of rotation, rest the (key, model) pair, try another key without blame, or
// hand the error to the client. Pure: the caller passes the status, the body and the time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringgate {

enum class VerdictKind : uint8_t {
  kSuccess,
  kQuarantineKey,                // the key is bad (invalid, suspended, blocked, leaked, unpaid)
  kRestKeyModel,                 // per-minute quota (or unknown window): rest until until_ms
  kRestKeyModelUntilDailyReset,  // per-day quota, or the model is not in the key's tier
  kRetryOtherKey,                // transient (5xx, timeout, connection): no blame
  kClientError,                  // the request itself is wrong: answer the client, no retry
};

const char* VerdictKindName(VerdictKind kind);

// Why the attempt failed, for the final status a request gets (RetryBudget).
enum class FailureClass : uint8_t {
  kNone,          // success
  kKeyRejected,   // 400 API_KEY_INVALID, 401, 402, 403
  kQuota,         // 429
  kPrecondition,  // 400 FAILED_PRECONDITION (location / tier not available)
  kOverloaded,    // 503
  kTimeout,       // 504, 408, our own timeouts
  kUpstream,      // other 5xx, connection errors, unreadable answers
  kClient,        // other 4xx
  kEmpty,         // 200 without usable content (the caller decides; never from the classifier)
};

struct UpstreamVerdict {
  VerdictKind kind = VerdictKind::kSuccess;
  FailureClass failure = FailureClass::kNone;
  int http_status = 200;       // the upstream status (error.code when the body carried one)
  int64_t until_ms = 0;        // kRest*: end of the rest
  int64_t retry_delay_ms = 0;  // RetryInfo.retryDelay or "Please retry in Xs"; 0 if absent
  bool transport = false;      // from ClassifyTransportError: no answer from Google at all
  // Gemini's error.status ("RESOURCE_EXHAUSTED") and the most specific reason: ErrorInfo.reason
  // when present, else the first violating quotaId, else status. Short, no key material.
  std::string status;
  std::string reason;
  // error.message with API keys masked, at most kMaxMessage bytes.
  std::string message;

  static constexpr size_t kMaxMessage = 1024;

  bool ok() const { return kind == VerdictKind::kSuccess; }
  // Another key may be tried for the same request.
  bool retryable() const {
    return kind != VerdictKind::kSuccess && kind != VerdictKind::kClientError;
  }
};

// Default rest for a 429 that names neither a window nor a delay.
inline constexpr int64_t kDefaultQuotaRestMs = 60'000;

// Classifies one upstream answer. body may be empty or not JSON (a proxy's HTML page): then the
// status alone decides. Accepts {"error":{...}} and [{"error":{...}}]. A 2xx whose body is an
// error object (an error after a 200, wire-formats 3.5) is classified by error.code; any other
// 2xx is kSuccess without parsing the body.
UpstreamVerdict ClassifyGeminiError(int http_status, std::string_view body, int64_t now_ms);

// Failures below HTTP: no blame, try another key.
enum class TransportFailure : uint8_t {
  kConnectFailed,  // refused, unreachable, DNS
  kConnectTimeout,
  kTlsFailed,
  kTimeout,          // first byte or idle timeout
  kConnectionReset,  // closed or reset before a complete answer
  kTruncated,        // a stream that ended without finishReason
  kMalformed,        // an answer we could not parse
};

UpstreamVerdict ClassifyTransportError(TransportFailure failure);

// "17s", "1.5s", "25.465784708s" (google.protobuf.Duration JSON) to milliseconds, rounded up;
// -1 if malformed.
int64_t ParseDurationMs(std::string_view text);

}  // namespace ringgate
