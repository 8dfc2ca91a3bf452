// KeyPoolShard::Pick cost (ns per pick) with 10 and 10,000 keys, healthy and mostly resting, and
// ClassifyGeminiError on the realistic 429 body. Run:
//   build/bench/key_pick_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "ringgate/keys/key_pool.h"
#include "ringgate/keys/reset_time.h"
#include "ringgate/keys/upstream_verdict.h"

namespace ringgate {
namespace {

const int64_t kNow = DaysFromCivil(2025, 7, 15) * kMillisPerDay + 12 * 3'600'000LL;

// args: keys, per-mille of keys resting for the model, keys already tried by the request.
void BM_Pick(benchmark::State& state) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  const uint32_t resting = static_cast<uint32_t>(n * state.range(1) / 1000);
  const uint32_t tried_count = static_cast<uint32_t>(state.range(2));
  KeyPoolShard pool(KeyPoolOptions{}, 42, kNow);
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < n; ++i)
    keys.push_back("AIzaSy-bench-key-" + std::to_string(i));
  pool.AddKeys(keys);
  ModelId model = pool.InternModel("gemini-2.5-flash");
  // Rest the first `resting` keys until tomorrow (the heap is not drained during the run).
  for (uint32_t k = 0; k < resting; ++k) {
    pool.Apply(HealthEvent::Rest(k, "gemini-2.5-flash", kNow + kMillisPerDay));
  }
  ExcludeSet tried;
  for (uint32_t i = 0; i < tried_count; ++i)
    tried.Insert(n - 1 - i);
  uint64_t found = 0;
  for (auto _ : state) {
    PickResult r = pool.Pick(model, kNow, tried);
    found += r.ok();
    benchmark::DoNotOptimize(r);
  }
  state.counters["ok"] = static_cast<double>(found) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Pick)
    ->ArgNames({"keys", "resting_permille", "tried"})
    ->Args({10, 0, 0})
    ->Args({10, 500, 0})
    ->Args({10, 0, 3})
    ->Args({10'000, 0, 0})
    ->Args({10'000, 500, 0})
    ->Args({10'000, 999, 0})
    ->Args({10'000, 999, 3})
    ->Args({10'000, 1000, 0});

// A rest arriving and ending every few picks (the expiry heap and re-insertion at work).
void BM_PickWithChurn(benchmark::State& state) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  KeyPoolShard pool(KeyPoolOptions{}, 42, kNow);
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < n; ++i)
    keys.push_back("AIzaSy-bench-key-" + std::to_string(i));
  pool.AddKeys(keys);
  ModelId model = pool.InternModel("gemini-2.5-flash");
  ExcludeSet none;
  int64_t now = kNow;
  uint32_t i = 0;
  for (auto _ : state) {
    if ((++i & 7) == 0)
      pool.Apply(HealthEvent::Rest(i % n, "gemini-2.5-flash", now + 50));
    ++now;
    PickResult r = pool.Pick(model, now, none);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_PickWithChurn)->Arg(10)->Arg(10'000);

void BM_ClassifyPerMinute429(benchmark::State& state) {
  const std::string body =
      R"({"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_input_token_count","quotaId":"GenerateContentInputTokensPerModelPerMinute-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-flash"},"quotaValue":"250000"}]},{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"26s"}]}})";
  for (auto _ : state) {
    UpstreamVerdict v = ClassifyGeminiError(429, body, kNow);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_ClassifyPerMinute429);

}  // namespace
}  // namespace ringgate

BENCHMARK_MAIN();
