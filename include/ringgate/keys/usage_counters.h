// Usage since the last daily reset (15:00 Asia/Shanghai = 07:00 UTC, or a manual reset): calls
// and tokens per key, per model and per (key, model), for API_KEY_DAILY_LIMIT and the dashboard.
//
// One instance per core. A core counts its own calls at once (Add) and queues them; every
// publish_interval_ms, or once publish_every_calls calls are queued, the caller takes the queued
// deltas (TakePending) and sends them to the other cores, which Merge them. So each core's view
// is: everything it did itself + everything the others published. Tolerance: a view misses at most
// what the other cores did since their last publication, i.e. about
// (cores - 1) x min(publish_every_calls, calls per core per publish_interval_ms) calls; the soft
// daily limit can be overshot by that much.
//
// Deltas carry the end of the usage day they belong to; a delta for an older day is dropped, a
// delta for a newer day (another core saw the reset first) resets this one first.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ringgate/keys/model_registry.h"

namespace ringgate {

struct CallsTokens {
  uint64_t calls = 0;
  uint64_t tokens = 0;
};

struct UsageDelta {
  uint32_t key = 0;
  ModelId model = 0;
  uint32_t calls = 0;
  uint64_t tokens = 0;
};

struct UsagePublishOptions {
  int64_t publish_interval_ms = 250;
  uint32_t publish_every_calls = 64;
};

class UsageCounters {
 public:
  UsageCounters(int64_t now_ms, UsagePublishOptions options = {});

  // This core's usage: counted now and queued for publication.
  void Add(uint32_t key, ModelId model, uint32_t calls, uint64_t tokens);
  // Another core's published delta for the usage day ending at day_end_ms; false when it was
  // dropped (an older day).
  bool Merge(const UsageDelta& delta, int64_t day_end_ms);

  // Resets when now_ms has reached the end of the usage day; true if it did.
  bool ResetIfNewDay(int64_t now_ms);
  // Everything to zero; the usage day becomes the one containing now_ms.
  void Reset(int64_t now_ms);
  // Everything to zero; the usage day becomes the one ending at day_end_ms.
  void ResetToDay(int64_t day_end_ms);
  // End of the current usage day (the next 07:00 UTC after its start).
  int64_t day_end_ms() const { return day_end_ms_; }

  // Publication.
  bool PublishDue(int64_t now_ms) const;
  // Appends the queued deltas, one per (key, model), to out and empties the queue.
  void TakePending(int64_t now_ms, std::vector<UsageDelta>* out);
  // The same, dropping the deltas (a single core has nobody to tell).
  void DiscardPending(int64_t now_ms);
  size_t pending_calls() const { return pending_calls_; }

  // Pulls the counters Add(key, model, ...) will touch toward the cache (see KeyPoolShard).
  // Always inlined: GCC 12 finds a function that only reads and prefetches free of side effects
  // and deletes the calls to it, so out of line these prefetches never ran (seen in the binary).
  [[gnu::always_inline]] void Prefetch(uint32_t key, ModelId model) const {
    if (model < per_model_.size())
      __builtin_prefetch(&per_model_[model], 1);
    if (model < key_model_.size() && key < key_model_[model].size())
      __builtin_prefetch(&key_model_[model][key], 1);
  }

  // Views (this core's + merged).
  // A key's calls and tokens today over every model: a sum over the models' arrays (the
  // dashboard and the metrics ask, never the per-call path: a call touches only its
  // (key, model) cell, one cache line however many keys).
  CallsTokens Key(uint32_t key) const;
  CallsTokens Model(ModelId model) const;
  CallsTokens KeyModel(uint32_t key, ModelId model) const;
  CallsTokens Total() const { return total_; }
  // Every (key, model) with usage, in no particular order.
  template <typename Fn>
  void ForEachKeyModel(Fn&& fn) const {
    for (size_t model = 0; model < key_model_.size(); ++model) {
      const std::vector<Cell>& keys = key_model_[model];
      for (size_t key = 0; key < keys.size(); ++key) {
        if (keys[key].counts.calls != 0 || keys[key].counts.tokens != 0) {
          fn(static_cast<uint32_t>(key), static_cast<ModelId>(model), keys[key].counts);
        }
      }
    }
  }

 private:
  // One (key, model): its counts and what this core counted since its last publication, side
  // by side so a call touches one cache line there.
  struct Cell {
    CallsTokens counts;
    uint64_t pending_tokens = 0;
    uint32_t pending_calls = 0;
  };
  // Counts and returns the cell (for Add's pending counts).
  Cell& Count(uint32_t key, ModelId model, uint32_t calls, uint64_t tokens);
  void Clear();

  UsagePublishOptions options_;
  int64_t day_end_ms_;
  int64_t last_publish_ms_;
  // One past the highest key counted: every model's array is grown to it at once.
  size_t key_slots_ = 0;
  std::vector<CallsTokens> per_model_;
  // [model][key]: flat arrays, so counting a call touches no hash table however many keys.
  std::vector<std::vector<Cell>> key_model_;
  CallsTokens total_;
  // The (key, model) cells with pending counts, each once: a publication visits only these, and
  // a call adds to its cell in place (no queue growing per call, nothing to sort but these).
  std::vector<std::pair<uint32_t, ModelId>> dirty_;
  size_t pending_calls_ = 0;
};

}  // namespace ringgate
