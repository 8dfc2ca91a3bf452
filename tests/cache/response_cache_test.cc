#include "ringgate/cache/response_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringgate {
namespace {

constexpr uint64_t kTtl = 21600ull * 1000;

Fingerprint F(uint64_t v) {
  return Fingerprint{v};
}

TEST(ResponseCache, MissOnEmpty) {
  ResponseCacheShard cache;
  EXPECT_FALSE(cache.Take(F(1), 0).has_value());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ResponseCache, FifoSingleUse) {
  ResponseCacheShard cache;
  cache.Put(F(1), "first", 100);
  cache.Put(F(1), "second", 200);
  cache.Put(F(2), "other", 300);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.key_count(), 2u);
  EXPECT_EQ(cache.Take(F(1), 400), "first");
  EXPECT_EQ(cache.Take(F(1), 400), "second");
  EXPECT_FALSE(cache.Take(F(1), 400).has_value());  // each answer served once
  EXPECT_EQ(cache.key_count(), 1u);                 // the emptied key is gone
  EXPECT_EQ(cache.Take(F(2), 400), "other");
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ResponseCache, TtlExpiry) {
  CacheSettings s;
  s.ttl_ms = 1000;
  ResponseCacheShard cache(s);
  cache.Put(F(1), "a", 0);
  cache.Put(F(1), "b", 500);
  EXPECT_TRUE(cache.Contains(F(1), 999));
  // At 1000 "a" has expired: Take drops it and serves "b".
  EXPECT_EQ(cache.Take(F(1), 1000), "b");
  EXPECT_EQ(cache.size(), 0u);

  cache.Put(F(2), "c", 2000);
  cache.Put(F(3), "d", 2600);
  EXPECT_EQ(cache.Expire(2999), 0u);
  EXPECT_EQ(cache.Expire(3000), 1u);  // "c" expired, "d" not yet
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(cache.Take(F(2), 3000).has_value());
  EXPECT_FALSE(cache.Contains(F(3), 3600));
  EXPECT_FALSE(cache.Take(F(3), 3600).has_value());  // expired on Take too
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.key_count(), 0u);
}

TEST(ResponseCache, DefaultTtlIsSixHours) {
  ResponseCacheShard cache;
  cache.Put(F(1), "a", 0);
  EXPECT_TRUE(cache.Contains(F(1), kTtl - 1));
  EXPECT_FALSE(cache.Contains(F(1), kTtl));
}

TEST(ResponseCache, EvictsOldestDownToMaxMinusTen) {
  CacheSettings s;
  s.max_entries = 50;
  ResponseCacheShard cache(s);
  for (uint64_t i = 0; i < 50; ++i)
    cache.Put(F(i % 7), "v" + std::to_string(i), i);
  EXPECT_EQ(cache.size(), 50u);
  EXPECT_EQ(cache.evictions(), 0u);
  cache.Put(F(100), "v50", 50);  // 51 > 50: evict the 11 oldest, down to 40
  EXPECT_EQ(cache.size(), 40u);
  EXPECT_EQ(cache.evictions(), 11u);
  // v0..v10 are gone; key 0 held v0, v7, v14, ...: the oldest left is v14.
  EXPECT_EQ(cache.Take(F(0), 60), "v14");
  EXPECT_EQ(cache.Take(F(100), 60), "v50");
  // Key 4 held v4 (evicted), v11, v18...
  EXPECT_EQ(cache.Take(F(4), 60), "v11");
}

TEST(ResponseCache, HajimiDefaultsFiveHundredToFourNinety) {
  ResponseCacheShard cache;  // MAX_CACHE_ENTRIES = 500
  for (uint64_t i = 0; i < 501; ++i)
    cache.Put(F(i), "x", i);
  EXPECT_EQ(cache.size(), 490u);
  EXPECT_FALSE(cache.Contains(F(10), 600));
  EXPECT_TRUE(cache.Contains(F(11), 600));
}

TEST(ResponseCache, SmallMaxKeepsTenLikeHajimi) {
  CacheSettings s;
  s.max_entries = 5;  // HAJIMI evicts down to max(5 - 10, 10) = 10
  ResponseCacheShard cache(s);
  for (uint64_t i = 0; i < 30; ++i)
    cache.Put(F(i), "x", i);
  EXPECT_EQ(cache.size(), 10u);
}

TEST(ResponseCache, ByteBudgetEvictsOldest) {
  CacheSettings s;
  s.max_bytes = 100;
  ResponseCacheShard cache(s);
  EXPECT_TRUE(cache.Put(F(1), std::string(40, 'a'), 0));
  EXPECT_TRUE(cache.Put(F(2), std::string(40, 'b'), 1));
  EXPECT_TRUE(cache.Put(F(3), std::string(40, 'c'), 2));  // 120 > 100: drop F(1)
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.bytes(), 80u);
  EXPECT_FALSE(cache.Contains(F(1), 3));
  EXPECT_FALSE(cache.Put(F(4), std::string(101, 'd'), 3));  // larger than the whole budget
  EXPECT_EQ(cache.size(), 2u);
}

TEST(ResponseCache, MemoryStaysBoundedUnderChurn) {
  CacheSettings s;
  s.max_entries = 100;
  ResponseCacheShard cache(s);
  for (uint64_t i = 0; i < 100000; ++i) {
    cache.Put(F(i * 0x9E3779B97F4A7C15ull), std::string(16, 'z'), i);
    if (i % 3 == 0)
      cache.Take(F((i / 2) * 0x9E3779B97F4A7C15ull), i);
    ASSERT_LE(cache.size(), 100u);
    ASSERT_LE(cache.key_count(), 100u);
  }
  EXPECT_EQ(cache.bytes(), cache.size() * 16);
}

TEST(ResponseCache, ForShardSplitsTheBudget) {
  CacheSettings s;
  CacheSettings shard = s.ForShard(8);
  EXPECT_EQ(shard.max_entries, 63u);  // ceil(500 / 8)
  EXPECT_EQ(shard.max_bytes, s.max_bytes / 8);
  EXPECT_EQ(shard.ttl_ms, s.ttl_ms);
  EXPECT_EQ(s.ForShard(1).max_entries, 500u);
}

TEST(ResponseCache, OwnerCoreIsStableAndSpread) {
  EXPECT_EQ(OwnerCore(F(12345), 1), 0);
  EXPECT_EQ(OwnerCore(F(12345), 0), 0);
  std::vector<int> counts(6, 0);
  for (uint64_t i = 0; i < 60000; ++i) {
    Fingerprint f{i * 0x9E3779B97F4A7C15ull ^ (i << 7)};
    int core = OwnerCore(f, 6);
    ASSERT_GE(core, 0);
    ASSERT_LT(core, 6);
    ASSERT_EQ(core, OwnerCore(f, 6));
    ++counts[core];
  }
  for (int c : counts) {
    EXPECT_GT(c, 9000);
    EXPECT_LT(c, 11000);
  }
}

TEST(ResponseCache, CrossCoreMessages) {
  // Core 1 stores on the owner (core 0) and later asks it for the answer.
  ResponseCacheShard owner;
  CachePut put{F(9), "answer"};
  CachePut copy = put;  // messages are plain copyable structs
  EXPECT_TRUE(ApplyCachePut(owner, std::move(copy), 10));
  CacheTake take{F(9), 1, 77};
  CacheTakeReply reply = ApplyCacheTake(owner, take, 20);
  EXPECT_EQ(reply.request_id, 77u);
  EXPECT_TRUE(reply.hit);
  EXPECT_EQ(reply.answer, "answer");
  CacheTakeReply again = ApplyCacheTake(owner, take, 30);
  EXPECT_FALSE(again.hit);
  EXPECT_TRUE(again.answer.empty());
}

}  // namespace
}  // namespace ringgate
