// Stream transcoding: goldens NAME.gemini.sse -> NAME.openai.sse, exact bytes after the stream's
// id and created are replaced by placeholders ("chatcmpl-ID", "call_ID_<n>", "created":0). Each
// input goes through SseFramer + StreamTranscoder whole, whole with slack (in-place parsing),
// byte by byte and split at every point; all must give the same bytes. Names ending in "_usage"
// run with stream_options.include_usage.
#include "ringgate/translate/stream_transcoder.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "golden.h"
#include "ringgate/sse/sse_framer.h"

// Counts heap allocations so the steady-state test can assert there are none.
namespace {
size_t g_allocations = 0;
}  // namespace

void* operator new(size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size))
    return p;
  std::abort();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}

namespace ringgate {
namespace {

using testing::ListGoldens;
using testing::ReadFile;
using testing::ReplaceAll;
using testing::TestdataPath;

constexpr std::string_view kModel = "gemini-2.5-flash";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Runs the stream cut into `chunks`; each chunk lives in a scratch buffer (with `slack` extra
// bytes) that is scribbled over once the framer has drained it.
std::string RunStream(const std::vector<std::string_view>& chunks, bool include_usage,
                      size_t slack = 0) {
  StreamTranscoder t({.model = kModel, .include_usage = include_usage});
  SseFramer framer;
  std::string out;
  std::string buf;
  bool stopped = false;
  for (std::string_view chunk : chunks) {
    buf.assign(chunk);
    buf.append(slack, ' ');
    framer.Feed(std::string_view(buf.data(), chunk.size()), slack);
    SseFramer::Event ev;
    while (framer.Next(&ev)) {
      if (!t.Transcode(ev.data, ev.readable, out)) {
        stopped = true;
        break;
      }
    }
    std::fill(buf.begin(), buf.end(), 'X');
    if (stopped)
      break;
  }
  if (!stopped)
    t.Finish(out);
  EXPECT_TRUE(t.done());
  // Placeholders for the per-stream values; every chunk must carry the same ones.
  std::string suffix = t.id().substr(9);
  EXPECT_EQ(t.id().substr(0, 9), "chatcmpl-");
  EXPECT_EQ(suffix.size(), 24u);
  out = ReplaceAll(out, "chatcmpl-" + suffix, "chatcmpl-ID");
  out = ReplaceAll(out, "call_" + suffix + "_", "call_ID_");
  out = ReplaceAll(out, "\"created\":" + std::to_string(t.created()) + ",", "\"created\":0,");
  return out;
}

TEST(StreamTranscoderGolden, AllFilesAllSplits) {
  std::vector<std::string> names = ListGoldens(".gemini.sse");
  EXPECT_GE(names.size(), 12u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    bool include_usage = EndsWith(name, "_usage");
    std::string input;
    ASSERT_TRUE(ReadFile(TestdataPath(name + ".gemini.sse"), &input));
    std::string whole = RunStream({input}, include_usage);
    std::string expected_path = TestdataPath(name + ".openai.sse");
    if (testing::UpdateGoldens()) {
      testing::WriteFile(expected_path, whole);
    } else {
      std::string expected;
      ASSERT_TRUE(ReadFile(expected_path, &expected)) << expected_path;
      EXPECT_EQ(whole, expected);
    }
    EXPECT_EQ(RunStream({input}, include_usage, /*slack=*/64), whole) << "in place";
    std::vector<std::string_view> bytes;
    std::string_view in = input;
    for (size_t i = 0; i < in.size(); ++i)
      bytes.push_back(in.substr(i, 1));
    EXPECT_EQ(RunStream(bytes, include_usage), whole) << "byte by byte";
    for (size_t i = 0; i <= in.size(); ++i) {
      ASSERT_EQ(RunStream({in.substr(0, i), in.substr(i)}, include_usage), whole)
          << "split at " << i;
    }
  }
}

TEST(StreamTranscoder, FixedIdCreatedAndChunkShape) {
  StreamTranscoder t({.model = "m", .include_usage = false, .id = "chatcmpl-s", .created = 7});
  std::string out;
  ASSERT_TRUE(t.Transcode(
      R"({"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}]})", out));
  EXPECT_EQ(out,
            "data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":7,"
            "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
            "\"content\":\"Hi\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
  EXPECT_TRUE(t.started());
  EXPECT_FALSE(t.all_finished());
}

TEST(StreamTranscoder, NothingStartedBeforeContent) {
  StreamTranscoder t({.model = "m"});
  std::string out;
  ASSERT_TRUE(t.Transcode(R"({"usageMetadata":{"promptTokenCount":3}})", out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(t.started());
  EXPECT_EQ(t.usage().prompt, 3);
}

TEST(StreamTranscoder, ErrorAfterStartAndNoOpsAfterDone) {
  StreamTranscoder t({.model = "m"});
  std::string out;
  ASSERT_TRUE(t.Transcode(R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}]})", out));
  out.clear();
  t.Error("Upstream quota exhausted", "rate_limit_error", "429", out);
  EXPECT_EQ(
      out,
      "data: {\"error\":{\"message\":\"Upstream quota exhausted\",\"type\":\"rate_limit_error\","
      "\"code\":\"429\"}}\n\ndata: [DONE]\n\n");
  EXPECT_TRUE(t.done());
  out.clear();
  EXPECT_FALSE(t.Transcode(R"({"candidates":[]})", out));
  t.Finish(out);
  t.Error("again", "server_error", "x", out);
  EXPECT_EQ(out, "");
}

TEST(StreamTranscoder, EmptyStreamIsCutOff) {
  StreamTranscoder t({.model = "m"});
  std::string out;
  t.Finish(out);
  EXPECT_EQ(
      out,
      "data: {\"error\":{\"message\":\"upstream stream ended without a finish reason (cut "
      "off)\",\"type\":\"server_error\",\"code\":\"upstream_incomplete\"}}\n\ndata: [DONE]\n\n");
}

TEST(StreamTranscoder, NoAllocationPerEventInSteadyState) {
  StreamTranscoder t({.model = "gemini-2.5-flash", .include_usage = true});
  std::string event =
      R"({"candidates":[{"content":{"parts":[{"text":"The quick brown fox jumps over the lazy dog."}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":42,"totalTokenCount":42},"modelVersion":"gemini-2.5-flash","responseId":"mZ6naJ3aKqe1xN8P"})";
  std::string out;
  out.reserve(4096);
  for (int i = 0; i < 10; ++i) {
    out.clear();
    ASSERT_TRUE(t.Transcode(event, out));
  }
  size_t before = g_allocations;
  for (int i = 0; i < 1000; ++i) {
    out.clear();
    bool ok = t.Transcode(event, out);
    if (!ok)
      break;
  }
  EXPECT_EQ(g_allocations, before);
  // The framer too: events split across inputs are assembled in a reused buffer.
  SseFramer framer;
  std::string sse = "data: " + event + "\r\n\r\n";
  std::string_view a = std::string_view(sse).substr(0, 100), b = std::string_view(sse).substr(100);
  SseFramer::Event ev;
  for (int i = 0; i < 10; ++i) {
    framer.Feed(a);
    while (framer.Next(&ev)) {
    }
    framer.Feed(b);
    while (framer.Next(&ev))
      (void)t.Transcode(ev.data, ev.readable, out), out.clear();
  }
  before = g_allocations;
  for (int i = 0; i < 1000; ++i) {
    framer.Feed(a);
    while (framer.Next(&ev)) {
    }
    framer.Feed(b);
    while (framer.Next(&ev))
      (void)t.Transcode(ev.data, ev.readable, out), out.clear();
  }
  EXPECT_EQ(g_allocations, before);
}

}  // namespace
}  // namespace ringgate
