#include "ringgate/keys/key_pool.h"

#include <algorithm>

#include "ringgate/keys/reset_time.h"

namespace ringgate {

bool ExcludeSet::Contains(uint32_t key) const {
  for (uint32_t i = 0; i < size_; ++i) {
    if (inline_[i] == key)
      return true;
  }
  for (uint32_t k : overflow_) {
    if (k == key)
      return true;
  }
  return false;
}

bool ExcludeSet::Insert(uint32_t key) {
  if (Contains(key))
    return false;
  if (size_ < kInline) {
    inline_[size_++] = key;
  } else {
    overflow_.push_back(key);
  }
  return true;
}

const char* PickStatusName(PickStatus status) {
  switch (status) {
    case PickStatus::kOk:
      return "ok";
    case PickStatus::kThrottled:
      return "throttled";
    case PickStatus::kAllResting:
      return "all_resting";
    case PickStatus::kNoKey:
      return "no_key";
  }
  return "?";
}

KeyPoolShard::KeyPoolShard(KeyPoolOptions options, uint64_t seed, int64_t now_ms)
    : options_(options),
      rng_(seed ^ 0x9E3779B97F4A7C15ull),
      models_(options.max_models),
      usage_(now_ms, options.usage_publish) {}

KeyPoolShard::~KeyPoolShard() = default;

uint32_t KeyPoolShard::RandomBelow(uint32_t n) {
  // Lemire's multiply-shift: the high half of a 32x32-bit product is below n; the rare products
  // whose low half falls in the short first stretch are drawn again, which removes the bias. A
  // 64-bit division (tens of cycles) ran on every reshuffle step before.
  uint64_t product = uint64_t{static_cast<uint32_t>(Random() >> 32)} * n;
  if (static_cast<uint32_t>(product) < n) {
    uint32_t threshold = (0u - n) % n;
    while (static_cast<uint32_t>(product) < threshold)
      product = uint64_t{static_cast<uint32_t>(Random() >> 32)} * n;
  }
  return static_cast<uint32_t>(product >> 32);
}

uint64_t KeyPoolShard::Random() {
  // splitmix64
  uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

size_t KeyPoolShard::AddKeys(std::span<const std::string> keys, bool quarantined) {
  size_t added = 0;
  keys_.Expect(keys_.size() + keys.size());  // at most: duplicates and empty names are skipped
  for (const std::string& key : keys) {
    if (key.empty() || index_.count(std::string_view(key)))
      continue;
    uint32_t index = keys_.Add(key);
    index_.emplace(key, index);
    KeyFlags& f = flags(index);
    f.quarantined = quarantined;
    if (quarantined) {
      f.reason = HealthReason::kListedInvalid;
      ++quarantined_count_;
    }
    f.calls_today = static_cast<uint32_t>(usage_.Key(index).calls);
    NoteKeyCalls(index, f.calls_today);
    for (auto& s : states_) {
      if (!s)
        continue;
      GrowState(*s);
      Refresh(*s, index);
    }
    ++added;
  }
  if (added > 0) {
    ++change_count_;
    ++key_list_change_count_;
  }
  return added;
}

std::optional<uint32_t> KeyPoolShard::IndexOf(std::string_view key) const {
  auto it = index_.find(key);
  if (it == index_.end())
    return std::nullopt;
  return it->second;
}

void KeyPoolShard::GrowState(ModelState& s) {
  s.per_key.resize(keys_.size(), ModelState::PerKey{kNoPos, 0, 0, kOff});
}

KeyPoolShard::ModelState& KeyPoolShard::StateFor(ModelId model) {
  if (model >= states_.size())
    states_.resize(static_cast<size_t>(model) + 1);
  std::unique_ptr<ModelState>& slot = states_[model];
  if (!slot) {
    slot = std::make_unique<ModelState>();
    GrowState(*slot);
    slot->ready.reserve(keys_.size());
    for (uint32_t key = 0; key < keys_.size(); ++key)
      Refresh(*slot, key);
  }
  return *slot;
}

void KeyPoolShard::Refresh(ModelState& s, uint32_t key) {
  const KeyFlags& f = flags(key);
  uint8_t desired;
  if (f.quarantined) {
    desired = kOff;
  } else if (s.rest_until.count(key)) {
    desired = kResting;
  } else if (f.over_limit) {
    desired = kSoft;
  } else {
    desired = kReady;
  }
  uint8_t current = s.per_key[key].state & kStateMask;
  if (current == desired)
    return;

  if (current == kReady)
    ++s.left_ready;
  if (current == kReady || current == kSoft) {
    std::vector<uint32_t>& set = current == kReady ? s.ready : s.soft;
    uint32_t p = s.per_key[key].pos;
    uint32_t last = set.back();
    set[p] = last;
    s.per_key[last].pos = p;
    set.pop_back();
    s.per_key[key].pos = kNoPos;
  } else if (current == kResting) {
    --s.resting;
  }

  s.per_key[key].state = desired;
  if (desired == kReady || desired == kSoft) {
    std::vector<uint32_t>& set = desired == kReady ? s.ready : s.soft;
    s.per_key[key].pos = static_cast<uint32_t>(set.size());
    set.push_back(key);
    // Placed in the stack this cycle: either still there, or it had its turn.
    if (desired == kReady && s.per_key[key].stack_cycle != s.cycle)
      InsertIntoStack(s, key);
  } else if (desired == kResting) {
    ++s.resting;
  }
}

void KeyPoolShard::RefreshAllModels(uint32_t key) {
  for (auto& s : states_) {
    if (s)
      Refresh(*s, key);
  }
}

void KeyPoolShard::InsertIntoStack(ModelState& s, uint32_t key) {
  // Inside-out Fisher-Yates step: a uniformly random place in what is left of the cycle.
  s.stack.push_back(key);
  uint32_t last = static_cast<uint32_t>(s.stack.size() - 1);
  uint32_t j = RandomBelow(last + 1);
  std::swap(s.stack[j], s.stack[last]);
  s.per_key[s.stack[last]].stack_pos = last;
  s.per_key[key].stack_pos = j;
  s.per_key[key].stack_cycle = s.cycle;
}

void KeyPoolShard::Reshuffle(ModelState& s) {
  if (++s.cycle == 0)  // 0 marks "not placed this cycle"
    s.cycle = 1;
  s.left_ready = 0;
  s.stack.assign(s.ready.begin(), s.ready.end());
  for (size_t i = s.stack.size(); i > 1; --i) {
    uint32_t j = RandomBelow(static_cast<uint32_t>(i));
    std::swap(s.stack[i - 1], s.stack[j]);
  }
  for (uint32_t i = 0; i < s.stack.size(); ++i) {
    ModelState::PerKey& k = s.per_key[s.stack[i]];
    k.stack_pos = i;
    k.stack_cycle = s.cycle;
  }
}

void KeyPoolShard::SweepRests(ModelState& s, int64_t now_ms) {
  while (!s.rest_ends.empty()) {
    auto [end, key] = s.rest_ends.top();
    auto it = s.rest_until.find(key);
    if (it == s.rest_until.end() || it->second != end) {  // superseded by a later end
      s.rest_ends.pop();
      continue;
    }
    if (end > now_ms)
      break;
    s.rest_ends.pop();
    s.rest_until.erase(it);
    s.rest_reason.erase(key);
    Refresh(s, key);
  }
}

inline void KeyPoolShard::PrefetchNext(const ModelState& s) const {
  // Only prefetches: reading the top's state to skip keys that left ready would itself wait for
  // the line this is meant to fetch early (perf put 0.8% of the server's samples on that load).
  // A top that is no longer ready is rare (a rest, a quarantine or the daily limit since the
  // shuffle) and costs one useless prefetch.
  if (!s.ready.empty()) {
    // An empty stack means the next pick reshuffles: nothing to guess.
    if (!s.stack.empty()) {
      uint32_t key = s.stack.back();
      if (s.left_ready != 0)  // only then does the pick read the key's state
        __builtin_prefetch(&s.per_key[key]);
      __builtin_prefetch(keys_.Address(key));
    }
  } else if (!s.soft.empty()) {
    // Every key is over the daily limit: the next pick is the soft draw (the stack may still hold
    // keys that left ready, which that pick never looks at), and it reads only the key's text.
    uint32_t key = s.soft[ScaleToRange(s.next_soft_draw, static_cast<uint32_t>(s.soft.size()))];
    __builtin_prefetch(keys_.Address(key));
  }
}

PickResult KeyPoolShard::Pick(ModelId model, int64_t now_ms, const ExcludeSet& tried) {
  MaybeDailyReset(now_ms);
  PickResult result;
  if (now_ms < throttled_until_) {
    result.status = PickStatus::kThrottled;
    result.retry_after_ms = throttled_until_ - now_ms;
    return result;
  }
  ModelState& s = StateFor(model);
  SweepRests(s, now_ms);

  if (!s.ready.empty()) {
    // Pop until a ready, untried key; a second empty stack within this pick means every ready key
    // was looked at (HAJIMI's "seen twice").
    bool reshuffled = false;
    set_aside_.clear();
    while (true) {
      if (s.stack.empty()) {
        if (reshuffled)
          break;
        Reshuffle(s);
        reshuffled = true;
        set_aside_.clear();  // they are in the new permutation
        if (s.stack.empty())
          break;
      }
      uint32_t key = s.stack.back();
      s.stack.pop_back();
      // Every key in the stack is ready unless one left ready since the shuffle.
      if (s.left_ready != 0 && (s.per_key[key].state & kStateMask) != kReady) {
        s.per_key[key].stack_cycle = 0;  // no turn taken: it rejoins this cycle if it comes back
        continue;
      }
      if (tried.Contains(key)) {
        set_aside_.push_back(key);
        continue;
      }
      result.status = PickStatus::kOk;
      result.key = key;
      break;
    }
    if (result.ok())
      PrefetchNext(s);
    // Tried keys keep their turn in this cycle for other requests.
    for (auto it = set_aside_.rbegin(); it != set_aside_.rend(); ++it) {
      if ((s.per_key[*it].state & kStateMask) != kReady || InStack(s, *it))
        continue;
      s.per_key[*it].stack_pos = static_cast<uint32_t>(s.stack.size());
      s.per_key[*it].stack_cycle = s.cycle;
      s.stack.push_back(*it);
    }
    if (result.ok())
      return result;
  }

  if (!s.soft.empty()) {
    // Soft limit: every untried healthy key is over the daily limit; use one anyway. At most
    // tried.size() of them are tried, so tried.size() + 1 consecutive slots hold an untried one.
    uint32_t n = static_cast<uint32_t>(s.soft.size());
    uint32_t start = ScaleToRange(s.next_soft_draw, n);
    s.next_soft_draw = static_cast<uint32_t>(Random());
    uint32_t limit = static_cast<uint32_t>(std::min<size_t>(n, tried.size() + 1));
    for (uint32_t i = 0; i < limit; ++i) {
      uint32_t key = s.soft[(start + i) % n];
      if (tried.Contains(key))
        continue;
      result.status = PickStatus::kOk;
      result.key = key;
      result.over_daily_limit = true;
      PrefetchNext(s);
      return result;
    }
  }

  if (s.resting > 0) {
    result.status = PickStatus::kAllResting;
    int64_t first_end = s.rest_ends.empty() ? now_ms + 1000 : s.rest_ends.top().first;
    result.retry_after_ms = std::max<int64_t>(first_end - now_ms, 1);
  } else {
    result.status = PickStatus::kNoKey;
  }
  return result;
}

void KeyPoolShard::Apply(const HealthEvent& event) {
  switch (event.kind) {
    case HealthEventKind::kQuarantine: {
      if (event.key >= size() || flags(event.key).quarantined)
        return;
      KeyFlags& f = flags(event.key);
      f.quarantined = true;
      f.reason = event.reason;
      f.http_status = event.http_status;
      ++quarantined_count_;
      ++change_count_;
      ++key_list_change_count_;
      RefreshAllModels(event.key);
      return;
    }
    case HealthEventKind::kRestore:
      if (event.key >= size() || !flags(event.key).quarantined)
        return;
      flags(event.key).quarantined = false;
      flags(event.key).forgotten = false;
      --quarantined_count_;
      ++change_count_;
      ++key_list_change_count_;
      RefreshAllModels(event.key);
      return;
    case HealthEventKind::kRest: {
      if (event.key >= size())
        return;
      ModelState& s = StateFor(models_.Intern(event.model.view()));
      auto [it, inserted] = s.rest_until.try_emplace(event.key, event.until_ms);
      if (!inserted) {
        if (event.until_ms <= it->second)
          return;
        it->second = event.until_ms;
      }
      s.rest_reason[event.key] = event.reason;
      s.rest_ends.emplace(event.until_ms, event.key);
      ++change_count_;
      Refresh(s, event.key);
      return;
    }
    case HealthEventKind::kUsage: {
      if (event.key >= size())
        return;
      if (event.until_ms > usage_.day_end_ms())
        ResetUsage(event.until_ms);
      UsageDelta delta{event.key, models_.Intern(event.model.view()), event.calls, event.tokens};
      if (usage_.Merge(delta, event.until_ms)) {
        flags(event.key).calls_today += event.calls;
        NoteKeyCalls(event.key, flags(event.key).calls_today);
      }
      ++change_count_;
      return;
    }
    case HealthEventKind::kResetUsage:
      ResetUsage(usage_.day_end_ms());
      return;
    case HealthEventKind::kThrottle:
      throttled_until_ = std::max(throttled_until_, event.until_ms);
      return;
  }
}

void KeyPoolShard::NoteKeyCalls(uint32_t key, uint64_t calls) {
  if (options_.daily_limit <= 0 || flags(key).over_limit)
    return;
  if (calls < static_cast<uint64_t>(options_.daily_limit))
    return;
  flags(key).over_limit = true;
  RefreshAllModels(key);
}

void KeyPoolShard::ResetUsage(int64_t day_end_ms) {
  usage_.ResetToDay(day_end_ms);
  ++change_count_;
  for (uint32_t key = 0; key < size(); ++key) {
    KeyFlags& f = flags(key);
    f.calls_today = 0;
    if (!f.over_limit)
      continue;
    f.over_limit = false;
    RefreshAllModels(key);
  }
}

void KeyPoolShard::MaybeDailyReset(int64_t now_ms) {
  if (now_ms >= usage_.day_end_ms())
    ResetUsage(DailyResetAfter(now_ms));
}

void KeyPoolShard::RecordUsage(uint32_t key, ModelId usage_model, uint64_t tokens, int64_t now_ms) {
  MaybeDailyReset(now_ms);
  if (key >= size())
    return;
  usage_.Add(key, usage_model, 1, tokens);
  NoteKeyCalls(key, ++flags(key).calls_today);
  ++change_count_;
}

void KeyPoolShard::TakeUsageEvents(int64_t now_ms, std::vector<HealthEvent>* out) {
  MaybeDailyReset(now_ms);
  deltas_.clear();
  usage_.TakePending(now_ms, &deltas_);
  for (const UsageDelta& d : deltas_) {
    out->push_back(
        HealthEvent::Usage(d.key, models_.Name(d.model), d.calls, d.tokens, usage_.day_end_ms()));
  }
}

int64_t KeyPoolShard::RestUntil(uint32_t key, ModelId model) const {
  if (model >= states_.size() || !states_[model])
    return 0;
  const auto& rests = states_[model]->rest_until;
  auto it = rests.find(key);
  return it == rests.end() ? 0 : it->second;
}

size_t KeyPoolShard::ReadyCount(ModelId model, int64_t now_ms) {
  ModelState& s = StateFor(model);
  SweepRests(s, now_ms);
  return s.ready.size();
}

size_t KeyPoolShard::RestingCount(ModelId model, int64_t now_ms) {
  ModelState& s = StateFor(model);
  SweepRests(s, now_ms);
  return s.resting;
}

std::vector<HealthEvent> KeyPoolShard::EventsToMatch(const KeyLists& lists) const {
  std::vector<uint8_t> valid(keys_.size(), 0);
  for (const std::string& key : lists.valid) {
    if (auto index = IndexOf(key))
      valid[*index] = 1;
  }
  std::vector<HealthEvent> events;
  for (uint32_t i = 0; i < keys_.size(); ++i) {
    if (valid[i] && flags(i).quarantined)
      events.push_back(HealthEvent::Restore(i));
    if (!valid[i] && !flags(i).quarantined)
      events.push_back(HealthEvent::Quarantine(i));
  }
  return events;
}

std::vector<std::string> KeyPoolShard::ActiveKeys() const {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < keys_.size(); ++i) {
    if (!flags(i).quarantined)
      out.emplace_back(keys_[i]);
  }
  return out;
}

std::vector<std::string> KeyPoolShard::QuarantinedKeys() const {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < keys_.size(); ++i) {
    if (flags(i).quarantined && !flags(i).forgotten)
      out.emplace_back(keys_[i]);
  }
  return out;
}

}  // namespace ringgate
