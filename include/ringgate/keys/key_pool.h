// KeyPoolShard: one core's view of the API-key pool and its key picker. No I/O, no threads, no
// locks: every core owns one, built from the same key list in the same order (so key indices agree
// across cores), and all cores apply the same HealthEvents.
//
// Selection is HAJIMI's shuffled stack (hajimi-behaviour.md 9), kept per model: a random
// permutation of the keys usable for that model, popped from the end, reshuffled when empty, so
// every healthy key is used once per cycle in random order. A key is, for each model, in exactly
// one of four states:
//   off      quarantined (bad key)
//   resting  a 429 for this model; back at the rest's end (min-heap of ends, checked on Pick)
//   soft     over API_KEY_DAILY_LIMIT; used only when no ready key is left (HAJIMI's soft limit)
//   ready    everything else
// Ready and soft keys sit in indexed sets (O(1) insert/remove); the stack holds only keys that were
// ready when it was shuffled (a key that leaves ready is dropped lazily when popped; a key that
// comes back mid-cycle is inserted at a random place, at most once). So a pick is O(1) amortised
// however many keys rest, and "every key of this model rests" is a size check.
//
// Model state is created the first time a model is picked or rested: 16 bytes per key per model.
//
// Times are Unix epoch milliseconds (the caller's clock, read once per loop iteration).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ringgate/keys/health_event.h"
#include "ringgate/keys/key_list.h"
#include "ringgate/keys/key_records.h"
#include "ringgate/keys/model_registry.h"
#include "ringgate/keys/usage_counters.h"

namespace ringgate {

// The keys one request has tried (at most MAX_RETRY_NUM, usually a handful): inline storage, no
// allocation below kInline keys.
class ExcludeSet {
 public:
  static constexpr size_t kInline = 16;
  bool Contains(uint32_t key) const;
  // false if already present.
  bool Insert(uint32_t key);
  size_t size() const { return size_ + overflow_.size(); }
  bool empty() const { return size() == 0; }
  void Clear() {
    size_ = 0;
    overflow_.clear();
  }

 private:
  std::array<uint32_t, kInline> inline_{};
  uint32_t size_ = 0;
  std::vector<uint32_t> overflow_;
};

enum class PickStatus : uint8_t {
  kOk,
  kThrottled,   // server-level backoff in force (IpThrottleDetector): answer 429, Retry-After
  kAllResting,  // no key usable for this model now, some rest: answer 429, Retry-After
  kNoKey,       // no key in rotation, or every usable key was already tried by this request
};

const char* PickStatusName(PickStatus status);

struct PickResult {
  PickStatus status = PickStatus::kNoKey;
  uint32_t key = 0;
  // kOk: every untried healthy key is over the daily limit and this one is used anyway.
  bool over_daily_limit = false;
  // kThrottled / kAllResting: milliseconds until a key may be usable (a hint).
  int64_t retry_after_ms = 0;

  bool ok() const { return status == PickStatus::kOk; }
  explicit operator bool() const { return ok(); }
};

struct KeyPoolOptions {
  // API_KEY_DAILY_LIMIT: successful calls per key per usage day before it turns "soft". <= 0: no
  // limit.
  int64_t daily_limit = 100;
  UsagePublishOptions usage_publish;
  size_t max_models = ModelRegistry::kDefaultMaxModels;
};

class KeyPoolShard {
 public:
  // seed: per core (e.g. a random value xor the core index); picks are deterministic given it.
  KeyPoolShard(KeyPoolOptions options, uint64_t seed, int64_t now_ms);
  ~KeyPoolShard();
  KeyPoolShard(const KeyPoolShard&) = delete;
  KeyPoolShard& operator=(const KeyPoolShard&) = delete;

  // Appends the keys not known yet, in order, with the next indices; returns how many. Known keys
  // are left as they are. Every core must make the same calls in the same order (start-up: the
  // rotation list, then the INVALID_API_KEYS list with quarantined = true; later: dashboard adds).
  size_t AddKeys(std::span<const std::string> keys, bool quarantined = false);

  size_t size() const { return keys_.size(); }
  std::string_view key(uint32_t index) const { return keys_[index]; }
  std::optional<uint32_t> IndexOf(std::string_view key) const;

  ModelRegistry& models() { return models_; }
  const ModelRegistry& models() const { return models_; }
  // Interns once per model name (translation time), then Pick takes the id.
  ModelId InternModel(std::string_view name) { return models_.Intern(name); }

  // A key for one upstream attempt on model. Skips quarantined keys, keys resting for model and
  // keys in tried; prefers keys under the daily limit (soft). O(1) amortised.
  PickResult Pick(ModelId model, int64_t now_ms, const ExcludeSet& tried);
  // Convenience for callers without an id (interns, so allocates the first time a name is seen).
  PickResult Pick(std::string_view model, int64_t now_ms, const ExcludeSet& tried) {
    return Pick(InternModel(model), now_ms, tried);
  }

  // Applies a HealthEvent (this core's or another's). Events naming an unknown key are ignored.
  void Apply(const HealthEvent& event);

  // A successful call on this core (HAJIMI counts successes only; tokens = totalTokenCount).
  // usage_model is the model label for stats (HAJIMI: the requested name, "-search" included).
  void RecordUsage(uint32_t key, ModelId usage_model, uint64_t tokens, int64_t now_ms);
  // Usage publication (see usage_counters.h): when due, take the events and send them to the
  // other cores (not back to this one: it has counted them already).
  bool UsagePublishDue(int64_t now_ms) const { return usage_.PublishDue(now_ms); }
  void TakeUsageEvents(int64_t now_ms, std::vector<HealthEvent>* out);
  // The same when there is no other core: the queued usage is dropped, no event is built.
  void DiscardUsageEvents(int64_t now_ms) {
    MaybeDailyReset(now_ms);
    usage_.DiscardPending(now_ms);
  }
  // Resets the usage counters (and the daily-limit state) when the usage day is over. Pick and
  // RecordUsage call it; the dashboard may too before reading.
  void MaybeDailyReset(int64_t now_ms);

  // Inspection (dashboard, tests).
  bool IsQuarantined(uint32_t key) const { return key < size() && flags(key).quarantined; }
  bool IsOverDailyLimit(uint32_t key) const { return key < size() && flags(key).over_limit; }
  // End of the (key, model) rest, 0 if it does not rest (an ended rest not yet swept reads as its
  // end, which is <= now).
  int64_t RestUntil(uint32_t key, ModelId model) const;
  // Keys ready for model right now (not off, not resting, not over the limit); sweeps ended rests.
  size_t ReadyCount(ModelId model, int64_t now_ms);
  size_t RestingCount(ModelId model, int64_t now_ms);
  size_t ActiveCount() const { return keys_.size() - quarantined_count_; }
  // Whether the key records asked for huge pages (a pool of KeyRecords::kHugePageKeys or more).
  bool key_records_on_huge_pages() const { return keys_.huge_pages_asked(); }
  int64_t throttled_until() const { return throttled_until_; }
  // API_KEY_DAILY_LIMIT (<= 0: none).
  int64_t daily_limit() const { return options_.daily_limit; }
  const UsageCounters& usage() const { return usage_; }
  // Starts fetching what RecordUsage(key, model, ...) writes: the caller starts it for a whole
  // batch of calls before counting the first. Always inlined, as UsageCounters::Prefetch (why:
  // there).
  [[gnu::always_inline]] void PrefetchUsage(uint32_t key, ModelId model) const {
    usage_.Prefetch(key, model);
    if (key < size())
      __builtin_prefetch(keys_.Address(key), 1);  // the daily count
  }
  // The events that bring this pool in line with lists (after "test all keys", or an edit of the
  // lists): Restore for a quarantined key in lists.valid, Quarantine for an active key that is in
  // lists.invalid or in neither list. Keys of lists unknown to the pool are not covered: AddKeys
  // them on every core first.
  std::vector<HealthEvent> EventsToMatch(const KeyLists& lists) const;
  // Keys in rotation / quarantined (forgotten ones left out), in index order (export, dashboard).
  std::vector<std::string> ActiveKeys() const;
  std::vector<std::string> QuarantinedKeys() const;

  // ---- For the dashboard ----
  // Why the key is quarantined, and the upstream status behind it (0 if none).
  HealthReason QuarantineReason(uint32_t key) const {
    return key < size() ? flags(key).reason : HealthReason::kUnknown;
  }
  uint16_t QuarantineStatus(uint32_t key) const {
    return key < size() ? flags(key).http_status : 0;
  }
  // "Clear invalid keys": a quarantined key is forgotten: no longer listed, checked or exported,
  // until it is restored (re-added, or found valid). Indices stay (every core keeps the same).
  void Forget(uint32_t key) {
    if (key < size() && flags(key).quarantined)
      flags(key).forgotten = true;
  }
  bool IsForgotten(uint32_t key) const { return key < size() && flags(key).forgotten; }
  // ---- Snapshots (persistence, dashboard) ----
  // Counts every change to what a snapshot holds (keys added, quarantine, restore, rests, usage,
  // usage resets), so a snapshotter can tell whether anything changed since its last look.
  uint64_t change_count() const { return change_count_; }
  // Counts the changes to the two key lists only (keys added, quarantine, restore).
  uint64_t key_list_change_count() const { return key_list_change_count_; }
  struct RestView {
    uint32_t key;
    ModelId model_id;
    std::string_view model;
    int64_t until_ms;
    HealthReason reason;
  };
  // Every (key, model) rest that ends after now_ms, in no particular order. Reads only.
  template <typename Fn>
  void ForEachRest(int64_t now_ms, Fn&& fn) const {
    for (size_t model = 0; model < states_.size(); ++model) {
      if (!states_[model])
        continue;
      const ModelState& s = *states_[model];
      for (const auto& [key, until] : s.rest_until) {
        if (until <= now_ms)
          continue;
        auto reason = s.rest_reason.find(key);
        fn(RestView{key, static_cast<ModelId>(model), models_.Name(static_cast<ModelId>(model)),
                    until,
                    reason == s.rest_reason.end() ? HealthReason::kUnknown : reason->second});
      }
    }
  }

 private:
  enum State : uint8_t { kOff = 0, kReady = 1, kSoft = 2, kResting = 3 };
  static constexpr uint8_t kStateMask = 3;
  static constexpr uint32_t kNoPos = 0xFFFFFFFF;

  struct KeyFlags {
    bool quarantined = false;
    bool over_limit = false;
    bool forgotten = false;  // quarantined and cleared from the lists (Forget)
    HealthReason reason = HealthReason::kUnknown;  // of the quarantine
    uint16_t http_status = 0;
    // Calls today over every model (this core's and the merged ones): the daily limit's count,
    // in the key's record, which the pick has just fetched.
    uint32_t calls_today = 0;
  };
  KeyFlags& flags(uint32_t key) { return keys_.payload(key); }
  const KeyFlags& flags(uint32_t key) const { return keys_.payload(key); }

  struct ModelState {
    // One key's place in this model's sets. A pick in a healthy pool reads none of it (see
    // left_ready): with thousands of keys each such read is a cache line a cycle old.
    struct PerKey {
      uint32_t pos;  // index in ready or soft
      // Where the key was put in the stack, and in which cycle (0: not this cycle, or popped
      // while not ready). It is in the stack while stack_cycle == cycle and stack[stack_pos] is
      // the key; placed this cycle and no longer there means it had its turn.
      uint32_t stack_pos;
      uint32_t stack_cycle;
      uint8_t state;  // State
    };
    std::vector<PerKey> per_key;
    uint32_t cycle = 1;
    // Keys that left ready since the last reshuffle. While 0, every key in the stack is ready,
    // so a pick pops without reading the key's state.
    uint32_t left_ready = 0;
    std::vector<uint32_t> ready;
    std::vector<uint32_t> soft;
    std::vector<uint32_t> stack;
    std::unordered_map<uint32_t, int64_t> rest_until;
    std::unordered_map<uint32_t, HealthReason> rest_reason;  // for the dashboard
    std::priority_queue<std::pair<int64_t, uint32_t>, std::vector<std::pair<int64_t, uint32_t>>,
                        std::greater<>>
        rest_ends;
    size_t resting = 0;
    // The random start of the next soft pick, drawn one pick ahead so its key can be prefetched.
    uint32_t next_soft_draw = 0;
  };

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  ModelState& StateFor(ModelId model);
  void GrowState(ModelState& s);
  // Moves key to the state its flags and rests call for.
  void Refresh(ModelState& s, uint32_t key);
  void RefreshAllModels(uint32_t key);
  void SweepRests(ModelState& s, int64_t now_ms);
  void Reshuffle(ModelState& s);
  void InsertIntoStack(ModelState& s, uint32_t key);
  static bool InStack(const ModelState& s, uint32_t key) {
    const ModelState::PerKey& k = s.per_key[key];
    return k.stack_cycle == s.cycle && k.stack_pos < s.stack.size() && s.stack[k.stack_pos] == key;
  }
  // Pulls toward the cache what the next Pick of this model and its upstream request will read:
  // the record (text and flags) of the key popped next (the stack's top, or the soft key a
  // pre-drawn start lands on), and its model state only while some key left ready since the
  // shuffle (only then does the pick read it). With thousands of keys that key's lines were last
  // touched a whole cycle ago. The usage lines are fetched when the calls are counted
  // (PrefetchUsage), not here: ~600 us later they would be gone again. docs/benchmarks.md,
  // "Session of 2026-11-26 from 17:42 UTC". Always inlined, for the reason
  // UsageCounters::Prefetch gives.
  [[gnu::always_inline]] inline void PrefetchNext(const ModelState& s) const;
  void NoteKeyCalls(uint32_t key, uint64_t calls);
  void ResetUsage(int64_t day_end_ms);
  uint64_t Random();
  // Uniform in [0, n), n > 0, without a division in the common case.
  uint32_t RandomBelow(uint32_t n);
  // A 32-bit draw taken to [0, n) by multiply-shift (bias below n / 2^32; the soft limit's
  // spread over over-limit keys needs no more).
  static uint32_t ScaleToRange(uint32_t draw, uint32_t n) {
    return static_cast<uint32_t>((uint64_t{draw} * n) >> 32);
  }

  KeyPoolOptions options_;
  uint64_t rng_;
  KeyRecords<KeyFlags> keys_;  // text and flags, one cache line per key
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> index_;
  size_t quarantined_count_ = 0;
  ModelRegistry models_;
  std::vector<std::unique_ptr<ModelState>> states_;  // by ModelId, null until used
  UsageCounters usage_;
  int64_t throttled_until_ = 0;
  uint64_t change_count_ = 0;
  uint64_t key_list_change_count_ = 0;
  std::vector<uint32_t> set_aside_;  // Pick's scratch (tried keys popped from the stack)
  std::vector<UsageDelta> deltas_;   // TakeUsageEvents' scratch
};

}  // namespace ringgate
