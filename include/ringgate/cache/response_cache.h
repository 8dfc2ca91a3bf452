// ResponseCacheShard: one core's part of HAJIMI's response cache (hajimi-behaviour.md 10.2).
//
//   * Keyed by request Fingerprint; each key holds a FIFO of cached answers.
//   * Single use: Take() hands out the oldest unexpired answer of a key and removes it; expired
//     answers of that key are dropped on the way; an emptied key disappears.
//   * TTL: an answer expires `ttl_ms` after it was stored (CACHE_EXPIRY_TIME).
//   * Count bound: when a Put() makes the count exceed `max_entries` (MAX_CACHE_ENTRIES), the
//     oldest answers (of any key) are evicted until the count is max(max_entries - 10, 10),
//     as HAJIMI does. (So with max_entries < 10 the shard still holds up to 10, like HAJIMI.)
//   * Byte bound: answers' bytes above `max_bytes` also evict oldest-first (ringgate addition;
//     HAJIMI has none). An answer larger than max_bytes is not stored.
//
// No I/O, no clock: every call takes `now_ms` (any monotonic millisecond clock; it should not go
// backwards). Not thread-safe: the owner core calls it.
//
// Sharding: the answer for fingerprint F lives on core OwnerCore(F, cores). A core that is not the
// owner sends CachePut / CacheTake to the owner and gets a CacheTakeReply back; the owner applies
// them with ApplyCachePut / ApplyCacheTake. With cores > 1, CacheSettings::ForShard() splits
// HAJIMI's global MAX_CACHE_ENTRIES and the byte budget over the shards, so eviction to max-10
// happens per shard (HAJIMI's exact numbers hold with one core).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ringgate/cache/fingerprint.h"

namespace ringgate {

struct CacheSettings {
  uint64_t ttl_ms = 21600ull * 1000;  // CACHE_EXPIRY_TIME (seconds) * 1000
  uint32_t max_entries = 500;         // MAX_CACHE_ENTRIES
  uint64_t max_bytes = 256ull << 20;  // answers' bytes, all keys together

  // The per-shard settings for `cores` shards: max_entries and max_bytes divided (rounded up).
  CacheSettings ForShard(int cores) const;
};

// Which core owns fingerprint F: a multiply-shift over all 64 bits, uniform for xxh64 values.
// cores <= 1 gives 0.
inline int OwnerCore(Fingerprint fingerprint, int cores) {
  if (cores <= 1)
    return 0;
  // Fold the halves so both contribute, then map [0, 2^32) onto [0, cores).
  uint64_t folded = (fingerprint.value ^ (fingerprint.value >> 32)) & 0xffffffffull;
  return static_cast<int>((folded * static_cast<uint64_t>(cores)) >> 32);
}

class ResponseCacheShard {
 public:
  explicit ResponseCacheShard(CacheSettings settings = {});
  ResponseCacheShard(const ResponseCacheShard&) = delete;
  ResponseCacheShard& operator=(const ResponseCacheShard&) = delete;

  // Appends an answer to the key's FIFO, then evicts oldest-first as described above. Returns
  // false (and stores nothing) when the answer alone is larger than max_bytes.
  bool Put(Fingerprint fingerprint, std::string answer, uint64_t now_ms);

  // The oldest unexpired answer for the key, removed; std::nullopt on a miss.
  std::optional<std::string> Take(Fingerprint fingerprint, uint64_t now_ms);

  // Whether Take() would hit now (no removal; expired items stay until Take/Expire).
  bool Contains(Fingerprint fingerprint, uint64_t now_ms) const;

  // Drops every expired answer (HAJIMI's clean_expired). Returns how many were dropped.
  size_t Expire(uint64_t now_ms);

  void Clear();

  size_t size() const { return count_; }  // answers held
  size_t key_count() const { return keys_.size(); }
  uint64_t bytes() const { return bytes_; }  // answers' bytes held
  uint64_t evictions() const { return evictions_; }
  const CacheSettings& settings() const { return settings_; }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;

  struct Node {
    Fingerprint fingerprint;
    std::string answer;
    uint64_t created_ms = 0;
    uint64_t expiry_ms = 0;
    uint32_t prev = kNil;  // global age order (oldest at head_)
    uint32_t next = kNil;
    uint32_t key_next = kNil;  // this key's FIFO
  };
  struct KeyList {
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };

  uint32_t AllocNode();
  // Unlinks `node` from the age list and from its key's FIFO (`key_prev` = its predecessor there,
  // kNil when it is the head), frees it.
  void Remove(uint32_t node, uint32_t key_prev, KeyList& list);
  void EvictOldest();

  CacheSettings settings_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> free_;
  std::unordered_map<Fingerprint, KeyList, FingerprintHash> keys_;
  uint32_t head_ = kNil;  // oldest
  uint32_t tail_ = kNil;  // newest
  size_t count_ = 0;
  uint64_t bytes_ = 0;
  uint64_t evictions_ = 0;
};

// ---- Cross-core messages (the caller moves them between cores) ----

// Store `answer` on the owner core.
struct CachePut {
  Fingerprint fingerprint;
  std::string answer;
};

// Ask the owner core for an answer; it answers `reply_core` with a CacheTakeReply carrying the
// same `request_id`.
struct CacheTake {
  Fingerprint fingerprint;
  uint32_t reply_core = 0;
  uint64_t request_id = 0;
};

struct CacheTakeReply {
  uint64_t request_id = 0;
  bool hit = false;
  std::string answer;  // empty on a miss
};

inline bool ApplyCachePut(ResponseCacheShard& shard, CachePut&& put, uint64_t now_ms) {
  return shard.Put(put.fingerprint, std::move(put.answer), now_ms);
}

CacheTakeReply ApplyCacheTake(ResponseCacheShard& shard, const CacheTake& take, uint64_t now_ms);

}  // namespace ringgate
