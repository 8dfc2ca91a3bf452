// Gemini -> OpenAI response-side micro benchmarks:
//   BM_TranscodeEvent        one typical ~300-byte Gemini text event -> one OpenAI chunk
//                            (copied into the per-thread padded buffer: no slack after it)
//   BM_TranscodeEventInPlace the same event parsed where it lies (64 bytes of slack)
//   BM_FramerStream          SseFramer over a 100-event CRLF stream fed in 1500-byte pieces
//   BM_FramerAndTranscode    the same stream through framer + transcoder
//   BM_NonStreamResponse     a pretty-printed non-stream response with thoughts -> chat.completion
//
//   build/bench/transcode_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <string>

#include "ringgate/sse/sse_framer.h"
#include "ringgate/translate/chat_response.h"
#include "ringgate/translate/stream_transcoder.h"

namespace ringgate {
namespace {

// 300 bytes, the shape of a mid-stream Gemini 2.5 event.
const std::string kEvent =
    R"({"candidates":[{"content":{"parts":[{"text":" jumps over the lazy dog, then sits down by )"
    R"(the river to watch the boats go past."}],"role":"model"},"index":0}],"usageMetadata":)"
    R"({"promptTokenCount":42,"totalTokenCount":42},"modelVersion":"gemini-2.5-flash",)"
    R"("responseId":"mZ6naJ3aKqe1xN8PqLmX4Q0"})";

void BM_TranscodeEvent(benchmark::State& state) {
  StreamTranscoder t({.model = "gemini-2.5-flash", .include_usage = true});
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    out.clear();
    bool ok = t.Transcode(kEvent, kEvent.size(), out);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kEvent.size()));
  state.counters["event_bytes"] = static_cast<double>(kEvent.size());
  state.counters["chunk_bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_TranscodeEvent);

void BM_TranscodeEventInPlace(benchmark::State& state) {
  StreamTranscoder t({.model = "gemini-2.5-flash", .include_usage = true});
  std::string padded = kEvent + std::string(64, ' ');
  std::string_view event(padded.data(), kEvent.size());
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    out.clear();
    bool ok = t.Transcode(event, padded.size(), out);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kEvent.size()));
}
BENCHMARK(BM_TranscodeEventInPlace);

std::string Stream100() {
  std::string s;
  for (int i = 0; i < 100; ++i)
    s += "data: " + kEvent + "\r\n\r\n";
  return s;
}

void BM_FramerStream(benchmark::State& state) {
  const std::string stream = Stream100();
  const size_t piece = 1500;  // about one TLS record / TCP segment per Feed
  SseFramer framer;
  size_t events = 0;
  for (auto _ : state) {
    for (size_t at = 0; at < stream.size(); at += piece) {
      framer.Feed(std::string_view(stream).substr(at, piece));
      SseFramer::Event ev;
      while (framer.Next(&ev)) {
        benchmark::DoNotOptimize(ev.data.data());
        ++events;
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["ns_per_event"] = benchmark::Counter(
      static_cast<double>(events), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_FramerStream);

void BM_FramerAndTranscode(benchmark::State& state) {
  const std::string stream = Stream100();
  const size_t piece = 1500;
  SseFramer framer;
  StreamTranscoder t({.model = "gemini-2.5-flash", .include_usage = true});
  std::string out;
  out.reserve(1 << 16);
  size_t events = 0;
  for (auto _ : state) {
    out.clear();
    for (size_t at = 0; at < stream.size(); at += piece) {
      framer.Feed(std::string_view(stream).substr(at, piece));
      SseFramer::Event ev;
      while (framer.Next(&ev)) {
        bool ok = t.Transcode(ev.data, ev.readable, out);
        benchmark::DoNotOptimize(ok);
        ++events;
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["ns_per_event"] = benchmark::Counter(
      static_cast<double>(events), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_FramerAndTranscode);

const std::string kResponse = R"({
  "candidates": [
    {
      "content": {
        "parts": [
          {
            "text": "**Checking the data**\nThe user asks about the weather in Paris; the tool said 21 C and sunny.",
            "thought": true
          },
          {
            "text": "It is 21 °C and sunny in Paris right now. Expect a light breeze from the west in the afternoon, with temperatures dropping to around 14 °C overnight.",
            "thoughtSignature": "Cs8BAdHtim9xYzEyMzQ1Njc4OTBhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eg=="
          }
        ],
        "role": "model"
      },
      "finishReason": "STOP",
      "index": 0,
      "safetyRatings": [
        {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "NEGLIGIBLE"}
      ]
    }
  ],
  "usageMetadata": {
    "promptTokenCount": 42,
    "candidatesTokenCount": 35,
    "thoughtsTokenCount": 80,
    "totalTokenCount": 157,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 42}]
  },
  "modelVersion": "gemini-2.5-flash",
  "responseId": "mZ6naJ3aKqe1xN8P"
}
)";

void BM_NonStreamResponse(benchmark::State& state) {
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    out.clear();
    Status s = TranslateChatResponse(
        kResponse, {.model = "gemini-2.5-flash", .id = "chatcmpl-x", .created = 1755800000}, out);
    benchmark::DoNotOptimize(s.ok());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kResponse.size()));
}
BENCHMARK(BM_NonStreamResponse);

}  // namespace
}  // namespace ringgate

BENCHMARK_MAIN();
