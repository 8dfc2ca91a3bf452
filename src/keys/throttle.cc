#include "ringgate/keys/throttle.h"

#include <algorithm>

namespace ringgate {

IpThrottleDetector::IpThrottleDetector(ThrottleOptions options) : options_(options) {}

void IpThrottleDetector::Forget(const Event& e) {
  auto it = counts_.find(e.key);
  if (it == counts_.end())
    return;
  --it->second.answers;
  if (e.got_429 && --it->second.got_429 == 0)
    --distinct_429_;
  if (it->second.answers == 0)
    counts_.erase(it);
}

void IpThrottleDetector::Clear() {
  events_.clear();
  counts_.clear();
  distinct_429_ = 0;
}

std::optional<int64_t> IpThrottleDetector::Record(uint32_t key, bool got_429,
                                                  int64_t retry_delay_ms, int64_t now_ms) {
  while (!events_.empty() && (events_.front().at_ms <= now_ms - options_.window_ms ||
                              events_.size() >= options_.max_events)) {
    Forget(events_.front());
    events_.pop_front();
  }
  // Answers that arrive during a backoff were sent before it: they prove nothing new.
  if (active(now_ms))
    return std::nullopt;

  events_.push_back(Event{now_ms, retry_delay_ms, key, got_429});
  Counts& c = counts_[key];
  ++c.answers;
  if (got_429 && c.got_429++ == 0)
    ++distinct_429_;
  if (!got_429)
    return std::nullopt;

  if (distinct_429_ < std::max<uint32_t>(options_.min_distinct_keys, 1))
    return std::nullopt;
  if (static_cast<double>(distinct_429_) <
      options_.min_fraction * static_cast<double>(counts_.size())) {
    return std::nullopt;
  }
  int64_t backoff = options_.backoff_ms;
  for (const Event& e : events_) {
    if (e.got_429)
      backoff = std::max(backoff, e.retry_delay_ms);
  }
  backoff = std::min(backoff, std::max(options_.max_backoff_ms, options_.backoff_ms));
  until_ms_ = now_ms + backoff;
  Clear();
  return until_ms_;
}

std::optional<int64_t> IpThrottleDetector::Record(uint32_t key, const UpstreamVerdict& verdict,
                                                  int64_t now_ms) {
  if (verdict.transport)
    return std::nullopt;
  bool got_429 =
      verdict.kind == VerdictKind::kRestKeyModel && verdict.failure == FailureClass::kQuota;
  return Record(key, got_429, verdict.retry_delay_ms, now_ms);
}

}  // namespace ringgate
