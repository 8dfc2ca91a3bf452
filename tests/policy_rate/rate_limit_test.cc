#include "ringgate/policy/rate_limit.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

// Allocation counter for the "decision path never allocates" test.
static std::atomic<uint64_t> g_allocations{0};

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size))
    return p;
  std::abort();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace ringgate {
namespace {

// 2024-03-01 00:00:00 UTC: a day and minute boundary.
constexpr uint64_t kDayStart = 1709251200;

IpAddress Ip(std::string_view s) {
  return *IpAddress::Parse(s);
}

RateLimitSettings Limits(uint32_t per_minute, uint32_t per_day) {
  RateLimitSettings s;
  s.per_minute = per_minute;
  s.per_day = per_day;
  s.capacity = 1024;
  return s;
}

TEST(RateLimit, PerMinuteFixedWindow) {
  RateLimiter rl(Limits(3, 1000));
  IpAddress a = Ip("198.51.100.1");
  uint64_t t = kDayStart + 120 + 10;  // 10 s into a minute
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(rl.Check(a, t).allowed());
  RateDecision d = rl.Check(a, t + 5);
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.outcome, RateLimitOutcome::kMinuteExceeded);
  EXPECT_EQ(d.status(), 429);
  EXPECT_EQ(d.limit, 3u);
  EXPECT_EQ(d.retry_after_s, 45u);  // 60 - 15
  EXPECT_EQ(d.Headers(), "Retry-After: 45\r\n");
  EXPECT_EQ(rl.Check(a, t + 49).retry_after_s, 1u);  // last second of the minute
  // Another IP is not affected.
  EXPECT_TRUE(rl.Check(Ip("198.51.100.2"), t).allowed());
  // Next minute: allowed again.
  EXPECT_TRUE(rl.Check(a, t + 50).allowed());
}

TEST(RateLimit, PerDayUtcWindow) {
  RateLimiter rl(Limits(0, 5));  // per-minute off
  IpAddress a = Ip("2001:db8::1");
  uint64_t t = kDayStart + 86400 - 100;
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(rl.Check(a, t + static_cast<uint64_t>(i) * 10).allowed());
  RateDecision d = rl.Check(a, t + 60);
  EXPECT_EQ(d.outcome, RateLimitOutcome::kDayExceeded);
  EXPECT_EQ(d.limit, 5u);
  EXPECT_EQ(d.retry_after_s, 40u);  // to 00:00 UTC
  EXPECT_EQ(rl.DayCount(a, t + 60), 6u);
  // New UTC day.
  EXPECT_TRUE(rl.Check(a, kDayStart + 86400).allowed());
  EXPECT_EQ(rl.DayCount(a, kDayStart + 86400), 1u);
}

TEST(RateLimit, MinuteCheckedFirstAndRefusalsCount) {
  RateLimiter rl(Limits(2, 3));
  IpAddress a = Ip("198.51.100.1");
  EXPECT_TRUE(rl.Check(a, kDayStart).allowed());
  EXPECT_TRUE(rl.Check(a, kDayStart).allowed());
  // Both over: the minute limit answers.
  EXPECT_EQ(rl.Check(a, kDayStart).outcome, RateLimitOutcome::kMinuteExceeded);
  EXPECT_EQ(rl.Check(a, kDayStart).outcome, RateLimitOutcome::kMinuteExceeded);
  EXPECT_EQ(rl.DayCount(a, kDayStart), 4u);  // refused ones counted, as in HAJIMI
  // Next minute: within the minute limit, but the day is spent.
  RateDecision d = rl.Check(a, kDayStart + 60);
  EXPECT_EQ(d.outcome, RateLimitOutcome::kDayExceeded);
  EXPECT_EQ(d.retry_after_s, 86400u - 60);
}

TEST(RateLimit, LiveLimitChange) {
  RateLimiter rl(Limits(1, 100));
  IpAddress a = Ip("198.51.100.1");
  EXPECT_TRUE(rl.Check(a, kDayStart).allowed());
  EXPECT_FALSE(rl.Check(a, kDayStart).allowed());
  rl.SetLimits(10, 100);
  EXPECT_TRUE(rl.Check(a, kDayStart).allowed());
}

TEST(RateLimit, ErrorBodies) {
  RateLimiter rl(Limits(1, 1));
  IpAddress a = Ip("198.51.100.1");
  EXPECT_TRUE(rl.Check(a, kDayStart).ErrorBody().empty());
  RateDecision d = rl.Check(a, kDayStart);
  EXPECT_EQ(d.ErrorBody(),
            R"({"error":{"message":"Too many requests per minute","type":"rate_limit_error",)"
            R"("param":null,"code":"rate_limit_exceeded"},)"
            R"("detail":{"message":"Too many requests per minute","limit":1}})");
  RateDecision day = rl.Check(a, kDayStart + 60);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(day.ErrorBody()).get(doc), simdjson::SUCCESS);
  std::string_view msg;
  ASSERT_EQ(doc["detail"]["message"].get(msg), simdjson::SUCCESS);
  EXPECT_EQ(msg, "Too many requests per day from this IP");
  int64_t limit = 0;
  ASSERT_EQ(doc["detail"]["limit"].get(limit), simdjson::SUCCESS);
  EXPECT_EQ(limit, 1);
}

TEST(RateLimit, MemoryBoundedUnderOneMillionIps) {
  RateLimitSettings s = Limits(1000000, 1000000);
  s.capacity = 4096;
  RateLimiter rl(s);
  size_t memory = rl.memory_bytes();
  IpAddress hot = Ip("203.0.113.50");
  std::vector<RateDelta> deltas;
  deltas.reserve(8192);
  uint64_t allocations_before = g_allocations.load();
  uint64_t now = kDayStart;
  for (uint32_t i = 0; i < 1000000; ++i) {
    if (i % 20000 == 0)
      ++now;  // about 50 s in all: stays within one minute window for the hot client
    rl.Check(IpAddress::V4(0x0A000000u + i), now);
    if (i % 100 == 0)
      rl.Check(hot, now);  // a regular client keeps being seen
  }
  EXPECT_EQ(g_allocations.load(), allocations_before) << "Check() allocated";
  EXPECT_EQ(rl.capacity(), 4096u);
  EXPECT_LE(rl.size(), rl.capacity());
  EXPECT_EQ(rl.memory_bytes(), memory);
  EXPECT_GT(rl.evictions(), 990000u);
  // LRU within its set kept the regular client's counts: every one of its 10000 requests.
  EXPECT_EQ(rl.MinuteCount(hot, now), 10000u);
  EXPECT_EQ(rl.DayCount(hot, now), 10000u);
  rl.TakeDeltas(&deltas);
  EXPECT_LE(deltas.size(), rl.capacity());
}

TEST(RateLimit, CrossCoreMergeIsExactWhenExchangedEveryRequest) {
  RateLimiter a(Limits(10, 1000)), b(Limits(10, 1000));
  IpAddress ip = Ip("198.51.100.9");
  std::vector<RateDelta> deltas;
  int admitted = 0;
  for (int i = 0; i < 40; ++i) {
    RateLimiter& here = (i % 2 == 0) ? a : b;
    RateLimiter& there = (i % 2 == 0) ? b : a;
    if (here.Check(ip, kDayStart).allowed())
      ++admitted;
    deltas.clear();
    here.TakeDeltas(&deltas);
    for (const RateDelta& d : deltas)
      there.Merge(d);
  }
  EXPECT_EQ(admitted, 10);
  EXPECT_EQ(a.MinuteCount(ip, kDayStart), 40u);
  EXPECT_EQ(b.MinuteCount(ip, kDayStart), 40u);
}

TEST(RateLimit, CrossCoreToleranceIsOneExchangePeriod) {
  constexpr int kCores = 4;
  constexpr uint32_t kLimit = 50;
  for (int period : {1, 3, 8, 25}) {  // requests per core between exchanges
    std::vector<std::unique_ptr<RateLimiter>> cores;
    for (int c = 0; c < kCores; ++c)
      cores.push_back(std::make_unique<RateLimiter>(Limits(kLimit, 100000)));
    IpAddress ip = Ip("198.51.100.9");
    int admitted = 0;
    std::vector<RateDelta> deltas;
    for (int round = 0; round < 100; ++round) {
      for (int c = 0; c < kCores; ++c) {
        for (int k = 0; k < period; ++k) {
          if (cores[c]->Check(ip, kDayStart + 1).allowed())
            ++admitted;
        }
      }
      // Exchange: every core sends its deltas to every other core.
      RateDeltaBatch batches[kCores];
      for (int c = 0; c < kCores; ++c) {
        batches[c].from_core = static_cast<uint32_t>(c);
        cores[c]->TakeDeltas(&batches[c].deltas);
      }
      for (int c = 0; c < kCores; ++c) {
        for (int o = 0; o < kCores; ++o) {
          if (o != c)
            cores[c]->Merge(batches[o]);
        }
      }
    }
    // Documented tolerance: at most what the other cores admitted within one exchange period.
    EXPECT_GE(admitted, static_cast<int>(kLimit)) << "period " << period;
    EXPECT_LE(admitted, static_cast<int>(kLimit) + (kCores - 1) * period) << "period " << period;
    // After the last exchange every core knows the full count.
    for (int c = 0; c < kCores; ++c)
      EXPECT_EQ(cores[c]->MinuteCount(ip, kDayStart + 1), 100u * kCores * period);
  }
}

TEST(RateLimit, MergeHonoursWindows) {
  RateLimiter rl(Limits(100, 1000));
  IpAddress ip = Ip("198.51.100.9");
  rl.Check(ip, kDayStart + 65);  // minute 1 of the day
  RateDelta old{ip, static_cast<uint32_t>(kDayStart / 60), static_cast<uint32_t>(kDayStart / 86400),
                5, 5};
  rl.Merge(old);  // minute 0: dropped for the minute, counted for the day
  EXPECT_EQ(rl.MinuteCount(ip, kDayStart + 65), 1u);
  EXPECT_EQ(rl.DayCount(ip, kDayStart + 65), 6u);
  RateDelta newer = old;
  newer.minute = static_cast<uint32_t>((kDayStart + 130) / 60);
  rl.Merge(newer);  // a newer minute replaces ours
  EXPECT_EQ(rl.MinuteCount(ip, kDayStart + 130), 5u);
  // Unknown IPs are learnt from merges.
  IpAddress other = Ip("198.51.100.10");
  RateDelta d{other, static_cast<uint32_t>(kDayStart / 60),
              static_cast<uint32_t>(kDayStart / 86400), 7, 7};
  rl.Merge(d);
  EXPECT_EQ(rl.MinuteCount(other, kDayStart), 7u);
  EXPECT_EQ(rl.DayCount(other, kDayStart), 7u);
  // Merged counts are not sent on again.
  std::vector<RateDelta> out;
  rl.TakeDeltas(&out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip, ip);
  EXPECT_EQ(out[0].day_count, 1u);
  EXPECT_EQ(out[0].minute_count, 0u);  // our minute was replaced by the newer one
  out.clear();
  EXPECT_EQ(rl.TakeDeltas(&out), 0u);
}

}  // namespace
}  // namespace ringgate
