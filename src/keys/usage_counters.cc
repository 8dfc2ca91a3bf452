#include "ringgate/keys/usage_counters.h"

#include <algorithm>

#include "ringgate/keys/reset_time.h"

namespace ringgate {

UsageCounters::UsageCounters(int64_t now_ms, UsagePublishOptions options)
    : options_(options), day_end_ms_(DailyResetAfter(now_ms)), last_publish_ms_(now_ms) {}

UsageCounters::Cell& UsageCounters::Count(uint32_t key, ModelId model, uint32_t calls,
                                          uint64_t tokens) {
  key_slots_ = std::max(key_slots_, static_cast<size_t>(key) + 1);
  if (model >= per_model_.size())
    per_model_.resize(static_cast<size_t>(model) + 1);
  per_model_[model].calls += calls;
  per_model_[model].tokens += tokens;
  if (model >= key_model_.size())
    key_model_.resize(static_cast<size_t>(model) + 1);
  std::vector<Cell>& keys = key_model_[model];
  if (key >= keys.size())
    keys.resize(key_slots_);
  Cell& cell = keys[key];
  cell.counts.calls += calls;
  cell.counts.tokens += tokens;
  total_.calls += calls;
  total_.tokens += tokens;
  return cell;
}

void UsageCounters::Add(uint32_t key, ModelId model, uint32_t calls, uint64_t tokens) {
  Cell& cell = Count(key, model, calls, tokens);
  if (cell.pending_calls == 0 && cell.pending_tokens == 0)
    dirty_.emplace_back(key, model);
  cell.pending_calls += calls;
  cell.pending_tokens += tokens;
  pending_calls_ += calls;
}

bool UsageCounters::Merge(const UsageDelta& delta, int64_t day_end_ms) {
  if (day_end_ms > day_end_ms_)
    ResetToDay(day_end_ms);
  if (day_end_ms < day_end_ms_)
    return false;
  Count(delta.key, delta.model, delta.calls, delta.tokens);
  return true;
}

void UsageCounters::Clear() {
  per_model_.assign(per_model_.size(), CallsTokens{});
  for (std::vector<Cell>& keys : key_model_)
    keys.assign(keys.size(), Cell{});
  total_ = CallsTokens{};
  dirty_.clear();
  pending_calls_ = 0;
}

bool UsageCounters::ResetIfNewDay(int64_t now_ms) {
  if (now_ms < day_end_ms_)
    return false;
  Reset(now_ms);
  return true;
}

void UsageCounters::Reset(int64_t now_ms) {
  ResetToDay(DailyResetAfter(now_ms));
}

void UsageCounters::ResetToDay(int64_t day_end_ms) {
  Clear();
  day_end_ms_ = day_end_ms;
}

bool UsageCounters::PublishDue(int64_t now_ms) const {
  if (dirty_.empty())
    return false;
  return pending_calls_ >= options_.publish_every_calls ||
         now_ms - last_publish_ms_ >= options_.publish_interval_ms;
}

void UsageCounters::TakePending(int64_t now_ms, std::vector<UsageDelta>* out) {
  last_publish_ms_ = now_ms;
  // In (key, model) order: the same state gives the same deltas.
  std::sort(dirty_.begin(), dirty_.end());
  for (const auto& [key, model] : dirty_) {
    Cell& cell = key_model_[model][key];
    out->push_back(UsageDelta{key, model, cell.pending_calls, cell.pending_tokens});
    cell.pending_calls = 0;
    cell.pending_tokens = 0;
  }
  dirty_.clear();  // keeps its capacity: no allocation per call in steady state
  pending_calls_ = 0;
}

void UsageCounters::DiscardPending(int64_t now_ms) {
  last_publish_ms_ = now_ms;
  for (const auto& [key, model] : dirty_) {
    Cell& cell = key_model_[model][key];
    cell.pending_calls = 0;
    cell.pending_tokens = 0;
  }
  dirty_.clear();
  pending_calls_ = 0;
}

CallsTokens UsageCounters::Key(uint32_t key) const {
  CallsTokens sum;
  for (const std::vector<Cell>& keys : key_model_) {
    if (key < keys.size()) {
      sum.calls += keys[key].counts.calls;
      sum.tokens += keys[key].counts.tokens;
    }
  }
  return sum;
}

CallsTokens UsageCounters::Model(ModelId model) const {
  return model < per_model_.size() ? per_model_[model] : CallsTokens{};
}

CallsTokens UsageCounters::KeyModel(uint32_t key, ModelId model) const {
  if (model >= key_model_.size() || key >= key_model_[model].size())
    return CallsTokens{};
  return key_model_[model][key].counts;
}

}  // namespace ringgate
