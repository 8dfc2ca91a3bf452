#include "ringgate/keys/throttle.h"

#include <algorithm>

namespace ringgate {

IpThrottleDetector::IpThrottleDetector(ThrottleOptions options)
    : options_(options), ring_(std::max<size_t>(options.max_events, 1)) {}

void IpThrottleDetector::Forget(const Event& e) {
  if (e.got_429 && --got_429_[e.key] == 0)
    --distinct_429_;
}

size_t IpThrottleDetector::distinct_keys() const {
  if (++scan_ == 0) {  // wrapped: old marks could collide with the new scan's number
    std::fill(seen_in_scan_.begin(), seen_in_scan_.end(), 0);
    scan_ = 1;
  }
  size_t distinct = 0;
  for (size_t i = 0; i < size_; ++i) {
    uint32_t key = ring_[(head_ + i) % ring_.size()].key;
    if (key >= seen_in_scan_.size())
      seen_in_scan_.resize(static_cast<size_t>(key) + 1, 0);
    if (seen_in_scan_[key] != scan_) {
      seen_in_scan_[key] = scan_;
      ++distinct;
    }
  }
  return distinct;
}

void IpThrottleDetector::PopOldest() {
  Forget(ring_[head_]);
  head_ = (head_ + 1) % ring_.size();
  --size_;
}

void IpThrottleDetector::Clear() {
  head_ = size_ = 0;
  std::fill(got_429_.begin(), got_429_.end(), 0);
  distinct_429_ = 0;
}

std::optional<int64_t> IpThrottleDetector::Record(uint32_t key, bool got_429,
                                                  int64_t retry_delay_ms, int64_t now_ms) {
  while (size_ > 0 &&
         (ring_[head_].at_ms <= now_ms - options_.window_ms || size_ >= ring_.size())) {
    PopOldest();
  }
  // Answers that arrive during a backoff were sent before it: they prove nothing new.
  if (active(now_ms))
    return std::nullopt;

  ring_[(head_ + size_) % ring_.size()] = Event{now_ms, retry_delay_ms, key, got_429};
  ++size_;
  if (!got_429)
    return std::nullopt;
  if (key >= got_429_.size())
    got_429_.resize(static_cast<size_t>(key) + 1, 0);
  if (got_429_[key]++ == 0)
    ++distinct_429_;

  if (distinct_429_ < std::max<uint32_t>(options_.min_distinct_keys, 1))
    return std::nullopt;
  if (static_cast<double>(distinct_429_) <
      options_.min_fraction * static_cast<double>(distinct_keys())) {
    return std::nullopt;
  }
  int64_t backoff = options_.backoff_ms;
  for (size_t i = 0; i < size_; ++i) {
    const Event& e = ring_[(head_ + i) % ring_.size()];
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
