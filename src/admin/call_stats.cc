#include "ringgate/admin/call_stats.h"

#include <simdjson.h>

#include "ringgate/json/json_writer.h"

namespace ringgate {
namespace {

int64_t MinuteOf(int64_t ms) {
  return ms / 60'000;
}

size_t Slot(int64_t minute) {
  int64_t slot = minute % CallStats::kMinutes;
  return static_cast<size_t>(slot < 0 ? slot + CallStats::kMinutes : slot);
}

}  // namespace

void CallStats::Count(int64_t minute, uint64_t calls, uint64_t tokens, int64_t now_minute) {
  // A minute that has left the window (a late delta) or lies ahead (another core's clock) would
  // only evict a live bucket.
  if (minute <= now_minute - kMinutes || minute > now_minute + 1)
    return;
  MinuteCount& bucket = ring_[Slot(minute)];
  if (bucket.minute != minute)
    bucket = MinuteCount{minute, 0, 0};
  bucket.calls += calls;
  bucket.tokens += tokens;
}

void CallStats::Record(int64_t now_ms, uint64_t tokens) {
  int64_t minute = MinuteOf(now_ms);
  Count(minute, 1, tokens, minute);
  if (!pending_.empty() && pending_.back().minute == minute) {
    pending_.back().calls += 1;
    pending_.back().tokens += tokens;
    return;
  }
  if (pending_.size() == kMaxPending)
    pending_.erase(pending_.begin());
  pending_.push_back(MinuteCount{minute, 1, tokens});
}

void CallStats::Merge(uint32_t epoch, const std::vector<MinuteCount>& deltas, int64_t now_ms) {
  if (epoch != epoch_)
    return;
  int64_t now_minute = MinuteOf(now_ms);
  for (const MinuteCount& delta : deltas)
    Count(delta.minute, delta.calls, delta.tokens, now_minute);
}

void CallStats::TakeDeltas(std::vector<MinuteCount>* out) {
  out->insert(out->end(), pending_.begin(), pending_.end());
  pending_.clear();
}

void CallStats::Reset(uint32_t epoch) {
  ring_.fill(MinuteCount{});
  pending_.clear();
  epoch_ = epoch;
}

MinuteCount CallStats::Sum(int64_t first_minute, int64_t last_minute) const {
  MinuteCount sum;
  for (int64_t minute = first_minute; minute <= last_minute; ++minute) {
    const MinuteCount& bucket = ring_[Slot(minute)];
    if (bucket.minute != minute)
      continue;
    sum.calls += bucket.calls;
    sum.tokens += bucket.tokens;
  }
  return sum;
}

std::string CallStats::ToJson(int64_t now_ms) const {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.FieldInt("version", 1);
  w.Key("minutes");
  w.BeginArray();
  int64_t now_minute = MinuteOf(now_ms);
  for (int64_t minute = now_minute - kMinutes + 1; minute <= now_minute; ++minute) {
    const MinuteCount& bucket = ring_[Slot(minute)];
    if (bucket.minute != minute || (bucket.calls == 0 && bucket.tokens == 0))
      continue;
    w.BeginArray();
    w.Int(bucket.minute);
    w.Uint(bucket.calls);
    w.Uint(bucket.tokens);
    w.EndArray();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

bool CallStats::Restore(std::string_view json, int64_t now_ms) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS)
    return false;
  int64_t version = 0;
  simdjson::dom::array minutes;
  if (root["version"].get(version) != simdjson::SUCCESS || version != 1 ||
      root["minutes"].get(minutes) != simdjson::SUCCESS) {
    return false;
  }
  std::vector<MinuteCount> counts;
  for (simdjson::dom::element entry : minutes) {
    simdjson::dom::array triple;
    MinuteCount count;
    if (entry.get(triple) != simdjson::SUCCESS || triple.size() != 3 ||
        triple.at(0).get(count.minute) != simdjson::SUCCESS ||
        triple.at(1).get(count.calls) != simdjson::SUCCESS ||
        triple.at(2).get(count.tokens) != simdjson::SUCCESS) {
      return false;
    }
    counts.push_back(count);
  }
  int64_t now_minute = MinuteOf(now_ms);
  for (const MinuteCount& count : counts)
    Count(count.minute, count.calls, count.tokens, now_minute);
  return true;
}

}  // namespace ringgate
