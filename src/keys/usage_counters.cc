#include "ringgate/keys/usage_counters.h"

#include <algorithm>

#include "ringgate/keys/reset_time.h"

namespace ringgate {

UsageCounters::UsageCounters(int64_t now_ms, UsagePublishOptions options)
    : options_(options), day_end_ms_(DailyResetAfter(now_ms)), last_publish_ms_(now_ms) {}

uint64_t UsageCounters::Count(uint32_t key, ModelId model, uint32_t calls, uint64_t tokens) {
  if (key >= per_key_.size())
    per_key_.resize(static_cast<size_t>(key) + 1);
  if (model >= per_model_.size())
    per_model_.resize(static_cast<size_t>(model) + 1);
  CallsTokens& k = per_key_[key];
  k.calls += calls;
  k.tokens += tokens;
  per_model_[model].calls += calls;
  per_model_[model].tokens += tokens;
  if (model >= key_model_.size())
    key_model_.resize(static_cast<size_t>(model) + 1);
  std::vector<CallsTokens>& keys = key_model_[model];
  if (key >= keys.size())
    keys.resize(std::max<size_t>(static_cast<size_t>(key) + 1, per_key_.size()));
  CallsTokens& km = keys[key];
  km.calls += calls;
  km.tokens += tokens;
  total_.calls += calls;
  total_.tokens += tokens;
  return k.calls;
}

uint64_t UsageCounters::Add(uint32_t key, ModelId model, uint32_t calls, uint64_t tokens) {
  pending_.push_back(UsageDelta{key, model, calls, tokens});
  pending_calls_ += calls;
  return Count(key, model, calls, tokens);
}

uint64_t UsageCounters::Merge(const UsageDelta& delta, int64_t day_end_ms) {
  if (day_end_ms > day_end_ms_)
    ResetToDay(day_end_ms);
  if (day_end_ms < day_end_ms_)
    return Key(delta.key).calls;
  return Count(delta.key, delta.model, delta.calls, delta.tokens);
}

void UsageCounters::Clear() {
  per_key_.assign(per_key_.size(), CallsTokens{});
  per_model_.assign(per_model_.size(), CallsTokens{});
  for (std::vector<CallsTokens>& keys : key_model_)
    keys.assign(keys.size(), CallsTokens{});
  total_ = CallsTokens{};
  pending_.clear();
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
  if (pending_.empty())
    return false;
  return pending_calls_ >= options_.publish_every_calls ||
         now_ms - last_publish_ms_ >= options_.publish_interval_ms;
}

void UsageCounters::TakePending(int64_t now_ms, std::vector<UsageDelta>* out) {
  last_publish_ms_ = now_ms;
  if (pending_.empty())
    return;
  std::sort(pending_.begin(), pending_.end(), [](const UsageDelta& a, const UsageDelta& b) {
    return a.key != b.key ? a.key < b.key : a.model < b.model;
  });
  UsageDelta current = pending_.front();
  for (size_t i = 1; i < pending_.size(); ++i) {
    const UsageDelta& d = pending_[i];
    if (d.key == current.key && d.model == current.model) {
      current.calls += d.calls;
      current.tokens += d.tokens;
    } else {
      out->push_back(current);
      current = d;
    }
  }
  out->push_back(current);
  pending_.clear();  // keeps its capacity: no allocation per call in steady state
  pending_calls_ = 0;
}

CallsTokens UsageCounters::Key(uint32_t key) const {
  return key < per_key_.size() ? per_key_[key] : CallsTokens{};
}

CallsTokens UsageCounters::Model(ModelId model) const {
  return model < per_model_.size() ? per_model_[model] : CallsTokens{};
}

CallsTokens UsageCounters::KeyModel(uint32_t key, ModelId model) const {
  if (model >= key_model_.size() || key >= key_model_[model].size())
    return CallsTokens{};
  return key_model_[model][key];
}

}  // namespace ringgate
