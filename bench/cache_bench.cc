// Response cache and rate limiter hot paths on one core.
//   build/bench/cache_bench --benchmark_repetitions=5
// Cache: 500 answers of 2 KB (HAJIMI's MAX_CACHE_ENTRIES) in one shard, 250 keys x 2 answers.
//   ContainsHit / ContainsMiss: lookup only.
//   TakeHitPut: a hit that consumes the answer (Take) and puts it back (Put), so the shard stays
//     at 500; the cost of serving one cached answer plus refilling it.
//   TakeMiss: a Take() on an absent key (the common case for a fresh request).
// Fingerprint: HAJIMI's key over a typical 8-message body (last 6 messages hashed).
// RateLimiterCheck: one Check() on a table of 32768 IPs, 10000 clients.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "ringgate/cache/fingerprint.h"
#include "ringgate/cache/response_cache.h"
#include "ringgate/policy/rate_limit.h"

namespace {

using ringgate::Fingerprint;
using ringgate::ResponseCacheShard;

constexpr int kEntries = 500;
constexpr int kKeys = 250;

Fingerprint KeyOf(uint64_t i) {
  return Fingerprint{(i + 1) * 0x9E3779B97F4A7C15ull};
}

void Fill(ResponseCacheShard& cache) {
  for (int i = 0; i < kEntries; ++i)
    cache.Put(KeyOf(static_cast<uint64_t>(i % kKeys)), std::string(2048, 'a'), 0);
}

void BM_ContainsHit(benchmark::State& state) {
  ResponseCacheShard cache;
  Fill(cache);
  uint64_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.Contains(KeyOf(i % kKeys), 1000));
    ++i;
  }
}
BENCHMARK(BM_ContainsHit);

void BM_ContainsMiss(benchmark::State& state) {
  ResponseCacheShard cache;
  Fill(cache);
  uint64_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.Contains(KeyOf(kKeys + i % 100000), 1000));
    ++i;
  }
}
BENCHMARK(BM_ContainsMiss);

void BM_TakeHitPut(benchmark::State& state) {
  ResponseCacheShard cache;
  Fill(cache);
  uint64_t i = 0;
  uint64_t now = 1000;
  for (auto _ : state) {
    Fingerprint key = KeyOf(i % kKeys);
    std::optional<std::string> answer = cache.Take(key, now);
    if (!answer.has_value()) {
      state.SkipWithError("unexpected miss");
      break;
    }
    cache.Put(key, std::move(*answer), now);
    ++i;
  }
  state.counters["size"] = static_cast<double>(cache.size());
}
BENCHMARK(BM_TakeHitPut);

void BM_TakeMiss(benchmark::State& state) {
  ResponseCacheShard cache;
  Fill(cache);
  uint64_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.Take(KeyOf(kKeys + i % 100000), 1000));
    ++i;
  }
}
BENCHMARK(BM_TakeMiss);

void BM_Fingerprint(benchmark::State& state) {
  std::string body = R"({"model":"gemini-2.5-flash","stream":true,"temperature":0.7,"messages":[
{"role":"system","content":"You are a helpful assistant. Answer concisely, cite sources when you use the search tool, and prefer metric units."},
{"role":"user","content":"What's the weather like in Paris today, and should I take an umbrella for an evening walk?"},
{"role":"assistant","content":"It is 17 °C in Paris with light rain and a 70% chance of more in the evening."},
{"role":"user","content":"Thanks! And tomorrow morning? I have a meeting near La Défense at 9."},
{"role":"assistant","content":"Tomorrow morning should be cloudy at first, around 12 °C, clearing by nine."},
{"role":"user","content":[{"type":"text","text":"Here is a photo of the sky now"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}}]},
{"role":"assistant","content":"That looks like a break in the clouds."},
{"role":"user","content":"Great, thank you."}]})";
  for (auto _ : state) {
    auto fp = ringgate::OpenAiBodyFingerprint(body, 6, false);
    benchmark::DoNotOptimize(fp);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Fingerprint);

void BM_RateLimiterCheck(benchmark::State& state) {
  ringgate::RateLimitSettings s;
  s.per_minute = 1u << 30;
  s.per_day = 1u << 30;
  ringgate::RateLimiter limiter(s);
  std::vector<ringgate::IpAddress> clients;
  for (uint32_t i = 0; i < 10000; ++i)
    clients.push_back(ringgate::IpAddress::V4(0xC6336400u + i * 7919u));
  uint64_t i = 0;
  std::vector<ringgate::RateDelta> deltas;
  deltas.reserve(40000);
  for (auto _ : state) {
    benchmark::DoNotOptimize(limiter.Check(clients[i % clients.size()], 1709251200 + i / 100000));
    if (++i % 100000 == 0) {
      state.PauseTiming();
      deltas.clear();
      limiter.TakeDeltas(&deltas);
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_RateLimiterCheck);

}  // namespace

BENCHMARK_MAIN();
