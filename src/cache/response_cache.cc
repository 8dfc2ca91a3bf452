#include "ringgate/cache/response_cache.h"

#include <algorithm>
#include <utility>

namespace ringgate {

CacheSettings CacheSettings::ForShard(int cores) const {
  CacheSettings s = *this;
  if (cores > 1) {
    uint64_t c = static_cast<uint64_t>(cores);
    s.max_entries = static_cast<uint32_t>((static_cast<uint64_t>(max_entries) + c - 1) / c);
    s.max_bytes = (max_bytes + c - 1) / c;
  }
  return s;
}

ResponseCacheShard::ResponseCacheShard(CacheSettings settings) : settings_(settings) {
  keys_.reserve(std::min<uint32_t>(settings_.max_entries, 1u << 16));
}

uint32_t ResponseCacheShard::AllocNode() {
  if (!free_.empty()) {
    uint32_t index = free_.back();
    free_.pop_back();
    return index;
  }
  nodes_.emplace_back();
  return static_cast<uint32_t>(nodes_.size() - 1);
}

void ResponseCacheShard::Remove(uint32_t index, uint32_t key_prev, KeyList& list) {
  Node& node = nodes_[index];
  // Age list.
  if (node.prev != kNil)
    nodes_[node.prev].next = node.next;
  else
    head_ = node.next;
  if (node.next != kNil)
    nodes_[node.next].prev = node.prev;
  else
    tail_ = node.prev;
  // Key FIFO.
  if (key_prev != kNil)
    nodes_[key_prev].key_next = node.key_next;
  else
    list.head = node.key_next;
  if (list.tail == index)
    list.tail = key_prev;
  bytes_ -= node.answer.size();
  --count_;
  std::string().swap(node.answer);  // give the memory back now, not when the slot is reused
  node.prev = node.next = node.key_next = kNil;
  free_.push_back(index);
}

void ResponseCacheShard::EvictOldest() {
  uint32_t oldest = head_;
  Fingerprint fp = nodes_[oldest].fingerprint;
  auto it = keys_.find(fp);
  // The globally oldest answer is also the oldest of its key: both lists are in insertion order.
  Remove(oldest, kNil, it->second);
  if (it->second.head == kNil)
    keys_.erase(it);
  ++evictions_;
}

bool ResponseCacheShard::Put(Fingerprint fingerprint, std::string answer, uint64_t now_ms) {
  if (answer.size() > settings_.max_bytes)
    return false;
  uint32_t index = AllocNode();
  Node& node = nodes_[index];
  node.fingerprint = fingerprint;
  node.answer = std::move(answer);
  node.created_ms = now_ms;
  node.expiry_ms = now_ms + settings_.ttl_ms;
  node.key_next = kNil;
  node.next = kNil;
  node.prev = tail_;
  if (tail_ != kNil)
    nodes_[tail_].next = index;
  else
    head_ = index;
  tail_ = index;
  KeyList& list = keys_[fingerprint];
  if (list.tail != kNil)
    nodes_[list.tail].key_next = index;
  else
    list.head = index;
  list.tail = index;
  ++count_;
  bytes_ += node.answer.size();

  if (count_ > settings_.max_entries) {
    size_t target = settings_.max_entries > 20 ? settings_.max_entries - 10 : 10;
    while (count_ > target)
      EvictOldest();
  }
  while (bytes_ > settings_.max_bytes)
    EvictOldest();
  return true;
}

std::optional<std::string> ResponseCacheShard::Take(Fingerprint fingerprint, uint64_t now_ms) {
  auto it = keys_.find(fingerprint);
  if (it == keys_.end())
    return std::nullopt;
  KeyList& list = it->second;
  std::optional<std::string> out;
  uint32_t prev = kNil;
  uint32_t index = list.head;
  while (index != kNil) {
    uint32_t next = nodes_[index].key_next;
    if (now_ms >= nodes_[index].expiry_ms) {
      Remove(index, prev, list);  // expired: dropped (HAJIMI drops them while looking)
    } else if (!out.has_value()) {
      out = std::move(nodes_[index].answer);
      nodes_[index].answer.clear();
      bytes_ -= out->size();
      Remove(index, prev, list);
    } else {
      prev = index;
    }
    index = next;
  }
  if (list.head == kNil)
    keys_.erase(it);
  return out;
}

bool ResponseCacheShard::Contains(Fingerprint fingerprint, uint64_t now_ms) const {
  auto it = keys_.find(fingerprint);
  if (it == keys_.end())
    return false;
  for (uint32_t i = it->second.head; i != kNil; i = nodes_[i].key_next) {
    if (now_ms < nodes_[i].expiry_ms)
      return true;
  }
  return false;
}

size_t ResponseCacheShard::Expire(uint64_t now_ms) {
  size_t dropped = 0;
  // Expiry times follow insertion order (one TTL, a clock that does not go back), so the expired
  // answers are a prefix of the age list.
  while (head_ != kNil && now_ms >= nodes_[head_].expiry_ms) {
    uint32_t oldest = head_;
    auto it = keys_.find(nodes_[oldest].fingerprint);
    Remove(oldest, kNil, it->second);
    if (it->second.head == kNil)
      keys_.erase(it);
    ++dropped;
  }
  return dropped;
}

void ResponseCacheShard::Clear() {
  nodes_.clear();
  free_.clear();
  keys_.clear();
  head_ = tail_ = kNil;
  count_ = 0;
  bytes_ = 0;
}

CacheTakeReply ApplyCacheTake(ResponseCacheShard& shard, const CacheTake& take, uint64_t now_ms) {
  CacheTakeReply reply;
  reply.request_id = take.request_id;
  std::optional<std::string> answer = shard.Take(take.fingerprint, now_ms);
  if (answer.has_value()) {
    reply.hit = true;
    reply.answer = std::move(*answer);
  }
  return reply;
}

}  // namespace ringgate
