// RequestParser throughput (Google Benchmark).
//
// Each benchmark keeps one parser alive across iterations, the way a connection does, so the
// per-request reset and the reuse of the parser's buffers are part of what is measured.
// Every iteration checks the outcome (kind and `consumed`), so a parser that stopped accepting
// the input fails the benchmark instead of reporting a meaningless speed.
//
// Counters: items/s is requests/s, bytes/s is request bytes (head + body) per second.
//
//   meson compile -C build
//   taskset -c 0 build/bench/request_parse_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/http/request_parser.h"

namespace ringgate {
namespace {

using Kind = RequestParser::Kind;

// What `wrk http://127.0.0.1:8080/healthz` sends.
constexpr std::string_view kSmallGet = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

RequestParser::Limits BenchLimits() {
  RequestParser::Limits limits;
  limits.max_header_bytes = 64 * 1024;
  limits.max_body_bytes = 32ull * 1024 * 1024;
  return limits;
}

// A chat-completions style JSON body of about `target` bytes.
std::string ChatBody(size_t target) {
  std::string body =
      R"({"model":"gemini-2.0-flash","stream":false,"temperature":0.7,"max_tokens":1024,)"
      R"("messages":[{"role":"system","content":"You are a helpful assistant. Answer briefly."})";
  const std::string_view sentence =
      "Please summarise the following paragraph about thread-per-core servers, io_uring "
      "buffer rings and keep-alive connection handling in two sentences. ";
  int turn = 0;
  while (body.size() + sentence.size() + 40 < target) {
    body += turn % 2 == 0 ? R"(,{"role":"user","content":")" : R"(,{"role":"assistant","content":")";
    for (int i = 0; i < 3 && body.size() + sentence.size() + 8 < target; ++i) body += sentence;
    body += "\"}";
    ++turn;
  }
  body += "]}";
  return body;
}

std::string Request(std::string_view method, std::string_view target,
                    const std::vector<std::string>& headers, std::string_view body) {
  std::string out;
  out += method;
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\n";
  for (const std::string& h : headers) {
    out += h;
    out += "\r\n";
  }
  if (!body.empty() || method == "POST") {
    out += "Content-Length: ";
    out += std::to_string(body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

// A typical OpenAI-compatible chat POST: 12 headers (Content-Length included), ~2 KB of JSON.
std::string ChatPost() {
  return Request("POST", "/v1/chat/completions",
                 {
                     "Host: 127.0.0.1:8080",
                     "User-Agent: OpenAI/Python 1.54.3",
                     "Accept: application/json",
                     "Accept-Encoding: gzip, deflate",
                     "Connection: keep-alive",
                     "Content-Type: application/json",
                     "Authorization: Bearer sk-test-0123456789abcdefghijklmnopqrstuvwxyz",
                     "X-Stainless-Lang: python",
                     "X-Stainless-Package-Version: 1.54.3",
                     "X-Stainless-Runtime: CPython",
                     "X-Request-Id: 5f0c6d1e-8a8b-4c4e-9f1a-2b3c4d5e6f70",
                 },
                 ChatBody(2048));
}

std::string LargeBodyPost() {
  std::string body = ChatBody(200 * 1024);
  return Request("POST", "/v1/chat/completions",
                 {"Host: 127.0.0.1:8080", "Content-Type: application/json"}, body);
}

// Feeds `wire` whole, `requests_per_iter` requests per iteration, until it is used up.
void ParseWhole(benchmark::State& state, const std::string& wire, int64_t requests_per_iter) {
  RequestParser parser(BenchLimits());
  for (auto _ : state) {
    std::string_view rest = wire;
    int64_t parsed = 0;
    while (!rest.empty()) {
      RequestParser::Outcome out = parser.Feed(rest);
      if (out.kind != Kind::kRequest || out.consumed == 0) {
        state.SkipWithError("parser did not return a complete request");
        return;
      }
      benchmark::DoNotOptimize(parser.request().path.data());
      benchmark::DoNotOptimize(parser.request().body.data());
      rest.remove_prefix(out.consumed);
      ++parsed;
    }
    if (parsed != requests_per_iter) {
      state.SkipWithError("unexpected number of requests");
      return;
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * requests_per_iter);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wire.size()));
  state.counters["req_bytes"] =
      benchmark::Counter(static_cast<double>(wire.size()) / static_cast<double>(requests_per_iter));
}

void BM_SmallGet(benchmark::State& state) { ParseWhole(state, std::string(kSmallGet), 1); }
BENCHMARK(BM_SmallGet);

void BM_ChatPost2KB(benchmark::State& state) { ParseWhole(state, ChatPost(), 1); }
BENCHMARK(BM_ChatPost2KB);

void BM_LargeBody200KB(benchmark::State& state) { ParseWhole(state, LargeBodyPost(), 1); }
BENCHMARK(BM_LargeBody200KB);

void BM_Pipelined16Get(benchmark::State& state) {
  std::string wire;
  for (int i = 0; i < 16; ++i) wire += kSmallGet;
  ParseWhole(state, wire, 16);
}
BENCHMARK(BM_Pipelined16Get);

// The small GET arriving in three reads: inside the method, inside the Host header, and the rest.
void BM_SmallGet3Fragments(benchmark::State& state) {
  const std::string_view wire = kSmallGet;
  const size_t cut1 = 2;                  // "GE"
  const size_t cut2 = wire.find("127.");  // "T /healthz HTTP/1.1\r\nHost: "
  const std::string_view parts[3] = {wire.substr(0, cut1), wire.substr(cut1, cut2 - cut1),
                                     wire.substr(cut2)};
  RequestParser parser(BenchLimits());
  for (auto _ : state) {
    for (int i = 0; i < 2; ++i) {
      RequestParser::Outcome out = parser.Feed(parts[i]);
      if (out.kind != Kind::kNeedMore || out.consumed != parts[i].size()) {
        state.SkipWithError("a fragment did not return kNeedMore");
        return;
      }
    }
    RequestParser::Outcome out = parser.Feed(parts[2]);
    if (out.kind != Kind::kRequest || out.consumed != parts[2].size()) {
      state.SkipWithError("the last fragment did not complete the request");
      return;
    }
    benchmark::DoNotOptimize(parser.request().path.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wire.size()));
}
BENCHMARK(BM_SmallGet3Fragments);

}  // namespace
}  // namespace ringgate

BENCHMARK_MAIN();
