// IpThrottleDetector: "many distinct keys answering 429 within seconds" means Google is limiting
// this server (its IP), not the keys; burning more keys only makes it worse. One per core, fed
// with the answers this core gets; when it trips, the caller broadcasts
// HealthEvent::Throttle(until) so every core's KeyPoolShard answers kThrottled until then.
//
// Rule over a sliding window of window_ms: trip when at least min_distinct_keys distinct keys
// answered 429 AND they are at least min_fraction of the distinct keys that got an answer. Both
// conditions, because with hundreds of busy keys a few per-minute 429s every 10 s are normal and
// must not stop the server; set min_fraction = 0 for the count alone, or min_distinct_keys = 1 for
// the fraction alone. After a trip the window starts empty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ringgate/keys/upstream_verdict.h"

namespace ringgate {

struct ThrottleOptions {
  uint32_t min_distinct_keys = 5;
  double min_fraction = 0.5;
  int64_t window_ms = 10'000;
  // Server-level backoff once tripped; a longer RetryInfo delay seen in the window wins, up to
  // max_backoff_ms.
  int64_t backoff_ms = 30'000;
  int64_t max_backoff_ms = 120'000;
  // Bound on remembered answers (the oldest are forgotten first).
  size_t max_events = 4096;
};

class IpThrottleDetector {
 public:
  explicit IpThrottleDetector(ThrottleOptions options = {});

  // One upstream answer for key (any HTTP answer from Google; transport failures tell nothing and
  // are not recorded). got_429: the answer was a 429; retry_delay_ms: its RetryInfo delay, 0 if
  // none. Returns the backoff's end when this answer trips the detector.
  std::optional<int64_t> Record(uint32_t key, bool got_429, int64_t retry_delay_ms, int64_t now_ms);
  // The same from a verdict. Only per-minute (or unknown-window) 429s count as 429 here: a
  // per-day exhaustion or a model missing from the key's tier is the key's own state, and with
  // many keys it would otherwise stop the whole server (every key answers that 429 for that
  // model). Transport failures are ignored.
  std::optional<int64_t> Record(uint32_t key, const UpstreamVerdict& verdict, int64_t now_ms);

  // The last trip's end (0 if none); active while now_ms < until_ms().
  int64_t until_ms() const { return until_ms_; }
  bool active(int64_t now_ms) const { return now_ms < until_ms_; }
  size_t distinct_keys_429() const { return distinct_429_; }
  // Distinct keys among the remembered answers; counted when asked (a scan of the window), so
  // that a success costs no per-key work: with thousands of keys that work was a cache miss per
  // answer. Asked only when a 429 could trip the detector.
  size_t distinct_keys() const;

 private:
  struct Event {
    int64_t at_ms;
    int64_t retry_delay_ms;
    uint32_t key;
    bool got_429;
  };

  void Forget(const Event& e);
  void Clear();
  void PopOldest();

  ThrottleOptions options_;
  // The remembered answers, oldest first, in a fixed ring (no allocation per answer).
  std::vector<Event> ring_;
  size_t head_ = 0;
  size_t size_ = 0;
  // By key index: 429s in the window (a flat array: no hashing, no node allocation, however many
  // keys there are). Successes are not counted per key (see distinct_keys()).
  std::vector<uint32_t> got_429_;
  size_t distinct_429_ = 0;
  // distinct_keys()'s scratch: per key, the scan that last saw it.
  mutable std::vector<uint32_t> seen_in_scan_;
  mutable uint32_t scan_ = 0;
  int64_t until_ms_ = 0;
};

}  // namespace ringgate
