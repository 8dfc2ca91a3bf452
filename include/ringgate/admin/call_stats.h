// CallStats: successful upstream calls and their tokens per wall-clock minute over the last
// 24 hours, for the dashboard's minute / hour figures and its 30-minute and 24-hour charts.
//
// One instance per core, touched only by that core. A core counts its own calls at once
// (Record) and queues them; every publication tick (250 ms, AdminService's timer) it takes the
// queued counts (TakeDeltas) and sends them to every other core, which Merges them. So any core
// can answer the dashboard alone. Tolerance: a core's view misses what the other cores counted
// since their last publication, i.e. at most one tick (250 ms) of their calls.
//
// Reset ("reset stats") bumps the epoch on every core; deltas carry the epoch they were counted
// in, and a delta from an older epoch is dropped, so counts in flight during a reset do not come
// back. Memory: a fixed ring of kMinutes buckets (about 35 KB), whatever the traffic.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringgate {

struct MinuteCount {
  int64_t minute = 0;  // Unix epoch minute (epoch seconds / 60)
  uint64_t calls = 0;
  uint64_t tokens = 0;
};

class CallStats {
 public:
  // 24 hours and the current minute.
  static constexpr int64_t kMinutes = 24 * 60 + 1;
  // Pending deltas kept at most (one per minute with calls), should nobody take them.
  static constexpr size_t kMaxPending = 64;

  // One successful call at now_ms (Unix epoch milliseconds) with its totalTokenCount.
  void Record(int64_t now_ms, uint64_t tokens);
  // Another core's counts, counted in `epoch`.
  void Merge(uint32_t epoch, const std::vector<MinuteCount>& deltas, int64_t now_ms);
  // This core's counts since the last call (at most one entry per minute) and empties the queue.
  void TakeDeltas(std::vector<MinuteCount>* out);
  bool has_pending() const { return !pending_.empty(); }
  // Everything to zero; later deltas from epochs before `epoch` are dropped.
  void Reset(uint32_t epoch);
  uint32_t epoch() const { return epoch_; }

  // Calls and tokens of minutes [first_minute, last_minute] that are still in the ring.
  MinuteCount Sum(int64_t first_minute, int64_t last_minute) const;
  MinuteCount Minute(int64_t minute) const { return Sum(minute, minute); }

  // ---- Persistence (the state file's "stats" slot) ----
  // {"version":1,"minutes":[[epoch minute, calls, tokens], ...]}: the minutes with calls still
  // in the window at now_ms, oldest first.
  std::string ToJson(int64_t now_ms) const;
  // Adds the minutes of a ToJson text that are still in the window at now_ms, as counted here
  // (not queued for the other cores: every core restores the same text). False, changing
  // nothing, when the text is not such a document.
  bool Restore(std::string_view json, int64_t now_ms);

 private:
  void Count(int64_t minute, uint64_t calls, uint64_t tokens, int64_t now_minute);

  std::array<MinuteCount, kMinutes> ring_{};
  std::vector<MinuteCount> pending_;
  uint32_t epoch_ = 0;
};

}  // namespace ringgate
