#include "ringgate/keys/retry_budget.h"

#include <algorithm>

namespace ringgate {
namespace {

struct ClassLabel {
  FailureClass failure;
  const char* label;
};

constexpr ClassLabel kLabels[] = {
    {FailureClass::kQuota, "quota (429)"},
    {FailureClass::kOverloaded, "overloaded (503)"},
    {FailureClass::kTimeout, "timeout"},
    {FailureClass::kUpstream, "upstream error"},
    {FailureClass::kEmpty, "empty answer"},
    {FailureClass::kKeyRejected, "key rejected"},
    {FailureClass::kPrecondition, "precondition failed"},
};

}  // namespace

RetryBudget::RetryBudget(uint32_t max_tries) : max_tries_(std::max<uint32_t>(max_tries, 1)) {}

uint32_t RetryBudget::BatchSize(uint32_t concurrency) const {
  return std::min(remaining(), std::max<uint32_t>(concurrency, 1));
}

bool RetryBudget::BeginAttempt(uint32_t key) {
  if (exhausted() || tried_.Contains(key))
    return false;
  tried_.Insert(key);
  ++tries_;
  return true;
}

void RetryBudget::RecordOutcome(const UpstreamVerdict& verdict) {
  if (verdict.ok()) {
    succeeded_ = true;
    return;
  }
  ++counts_[Index(verdict.failure)];
  if (verdict.failure == FailureClass::kQuota && verdict.until_ms > 0) {
    earliest_quota_end_ms_ = earliest_quota_end_ms_ == 0
                                 ? verdict.until_ms
                                 : std::min(earliest_quota_end_ms_, verdict.until_ms);
  }
  // A client error is the answer; later outcomes of concurrent siblings do not replace it.
  if (client_error() && verdict.failure != FailureClass::kClient)
    return;
  last_status_ = verdict.http_status;
  last_status_name_ = verdict.status;
  last_reason_ = verdict.reason;
  last_message_ = verdict.message;
}

void RetryBudget::RecordEmpty() {
  ++counts_[Index(FailureClass::kEmpty)];
  if (client_error())
    return;
  last_status_ = 200;
  last_status_name_ = "OK";
  last_reason_ = "EMPTY";
  last_message_ = "the upstream answer had no content";
}

void RetryBudget::RecordPickFailure(const PickResult& pick, int64_t now_ms) {
  if (pick.ok())
    return;
  pick_failed_ = true;
  pick_status_ = pick.status;
  pick_retry_at_ms_ = pick.retry_after_ms > 0 ? now_ms + pick.retry_after_ms : 0;
}

uint32_t RetryBudget::failures() const {
  uint32_t n = 0;
  for (size_t i = 0; i < kClasses; ++i) {
    if (i != Index(FailureClass::kNone))
      n += counts_[i];
  }
  return n;
}

FinalError RetryBudget::Final(int64_t now_ms) const {
  FinalError out;
  auto retry_after = [now_ms](int64_t at_ms) {
    return at_ms > now_ms ? at_ms - now_ms : int64_t{1000};
  };
  auto last_error = [this] {
    std::string s = std::to_string(last_status_) + " " + last_status_name_;
    if (!last_reason_.empty() && last_reason_ != last_status_name_)
      s += " " + last_reason_;
    if (!last_message_.empty())
      s += ": " + last_message_;
    return s;
  };

  if (client_error()) {
    out.http_status = last_status_ >= 400 && last_status_ < 500 ? last_status_ : 400;
    out.message = last_message_.empty() ? last_error() : last_message_;
    return out;
  }

  uint32_t failed = failures();
  if (failed == 0) {
    if (pick_status_ == PickStatus::kThrottled) {
      out.http_status = 429;
      out.retry_after_ms = retry_after(pick_retry_at_ms_);
      out.message = "the upstream is rate-limiting this server; retry later";
    } else if (pick_status_ == PickStatus::kAllResting) {
      out.http_status = 429;
      out.retry_after_ms = retry_after(pick_retry_at_ms_);
      out.message = "every API key is over its quota for this model; retry later";
    } else {
      out.http_status = 503;
      out.message = "no API key available";
    }
    return out;
  }

  std::string summary = "all " + std::to_string(tries_) + " upstream attempts failed (";
  bool first = true;
  for (const ClassLabel& l : kLabels) {
    uint32_t n = counts_[Index(l.failure)];
    if (n == 0)
      continue;
    if (!first)
      summary += ", ";
    summary += std::to_string(n) + " " + l.label;
    first = false;
  }
  summary += "); last: " + last_error();
  out.message = std::move(summary);

  uint32_t quota = count(FailureClass::kQuota);
  auto quota_retry_after = [&] {
    int64_t at = earliest_quota_end_ms_;
    if (pick_status_ == PickStatus::kAllResting && pick_retry_at_ms_ > 0) {
      at = at == 0 ? pick_retry_at_ms_ : std::min(at, pick_retry_at_ms_);
    }
    return retry_after(at);
  };

  if (pick_status_ == PickStatus::kThrottled) {
    out.http_status = 429;
    out.retry_after_ms = retry_after(pick_retry_at_ms_);
  } else if (quota == failed) {
    out.http_status = 429;
    out.retry_after_ms = quota_retry_after();
  } else if (count(FailureClass::kOverloaded) > 0) {
    out.http_status = 503;
  } else if (count(FailureClass::kTimeout) > 0) {
    out.http_status = 504;
  } else if (count(FailureClass::kUpstream) > 0 || count(FailureClass::kEmpty) > 0) {
    out.http_status = 502;
  } else if (quota > 0) {
    out.http_status = 429;
    out.retry_after_ms = quota_retry_after();
  } else {
    out.http_status = 503;
  }
  return out;
}

}  // namespace ringgate
