// RetryBudget: one request's attempts. Counts tries exactly up to MAX_RETRY_NUM (a try is one
// key sent upstream, concurrent or not), remembers the keys tried (for KeyPoolShard::Pick) and
// each attempt's outcome, and computes what the client gets when no attempt succeeded.
//
// Final status when every try failed (first rule that applies):
//   a client error (400 INVALID_ARGUMENT not about the key, 404, ...)  -> that status, its message
//   no try at all: Pick said throttled or all resting                   -> 429 + Retry-After
//                  Pick said no key                                     -> 503
//   Pick said throttled after some tries                                -> 429 + Retry-After
//   every failed try was a 429 (quota)                                  -> 429 + Retry-After (the
//                                                                          earliest rest's end)
//   any 503 (model overloaded)                                          -> 503
//   any timeout (504, 408, ours)                                        -> 504
//   any other 5xx, connection error, unreadable or empty answer         -> 502
//   some 429 among key errors                                           -> 429 + Retry-After
//   only rejected keys (400 API_KEY_INVALID, 401-403) or 400 FAILED_PRECONDITION -> 503
// Why not 401/403 for rejected keys: the client's own credential (the proxy password) was
// accepted; OpenAI SDKs turn 401 into "your API key is wrong" and stop. The failure is the
// server's (its key pool), so 503 "service unavailable", with the upstream reason in the message.
// Why transient beats quota in a mix: the outcome is "try later" either way, and 5xx tells the
// operator that Google, not quota, was the last obstacle.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "ringgate/keys/key_pool.h"
#include "ringgate/keys/upstream_verdict.h"

namespace ringgate {

struct FinalError {
  int http_status = 503;
  // > 0: send "Retry-After: <ceil(seconds)>".
  int64_t retry_after_ms = 0;
  // Human text for the error body; keys masked; names the counts and the last upstream error.
  std::string message;

  int64_t retry_after_seconds() const { return (retry_after_ms + 999) / 1000; }
};

class RetryBudget {
 public:
  // max_tries: MAX_RETRY_NUM (values below 1 are taken as 1).
  explicit RetryBudget(uint32_t max_tries);

  uint32_t max_tries() const { return max_tries_; }
  uint32_t tries() const { return tries_; }
  uint32_t remaining() const { return max_tries_ - tries_; }
  bool exhausted() const { return tries_ >= max_tries_; }
  // Keys the next concurrent batch may use: min(remaining, concurrency), HAJIMI's
  // min(MAX_RETRY_NUM - tries, current_concurrent). Real streaming passes 1.
  uint32_t BatchSize(uint32_t concurrency) const;

  // Counts one try on key before it is sent. false (nothing counted) when the budget is spent or
  // the key was already tried by this request.
  bool BeginAttempt(uint32_t key);
  const ExcludeSet& tried() const { return tried_; }

  // The outcome of a begun attempt.
  void RecordOutcome(const UpstreamVerdict& verdict);
  // A 2xx without usable content (HAJIMI's "empty" answers; MAX_EMPTY_RESPONSES is the caller's).
  void RecordEmpty();
  // Pick found no key for the next try.
  void RecordPickFailure(const PickResult& pick, int64_t now_ms);

  bool succeeded() const { return succeeded_; }
  // A client error ends the request: answer at once, no retry.
  bool client_error() const { return counts_[Index(FailureClass::kClient)] > 0; }
  // No further try: success, client error or budget spent. (A pick failure also ends it.)
  bool done() const { return succeeded_ || client_error() || exhausted() || pick_failed_; }
  uint32_t count(FailureClass failure) const { return counts_[Index(failure)]; }
  uint32_t failures() const;

  // What the client gets; meaningful once done() and !succeeded().
  FinalError Final(int64_t now_ms) const;

 private:
  static constexpr size_t kClasses = 9;
  static size_t Index(FailureClass f) { return static_cast<size_t>(f); }

  uint32_t max_tries_;
  uint32_t tries_ = 0;
  ExcludeSet tried_;
  std::array<uint32_t, kClasses> counts_{};
  bool succeeded_ = false;
  int64_t earliest_quota_end_ms_ = 0;  // 0: none
  // The last failure (and the client error, which ends the request).
  int last_status_ = 0;
  std::string last_status_name_;
  std::string last_reason_;
  std::string last_message_;
  bool pick_failed_ = false;
  PickStatus pick_status_ = PickStatus::kOk;
  int64_t pick_retry_at_ms_ = 0;
};

}  // namespace ringgate
