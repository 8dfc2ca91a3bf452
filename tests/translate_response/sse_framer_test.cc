// SseFramer: WHATWG event-stream parsing, identical events however the bytes are split, zero-copy
// views when an event lies in one input, padding information, limits.
#include "ringgate/sse/sse_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace ringgate {
namespace {

struct Collected {
  std::vector<std::string> events;
  size_t views_into_input = 0;
};

// Feeds `chunks` one after the other, each from a scratch copy that is scribbled over after the
// framer is done with it (so a view that outlives its input shows up as garbage).
Collected Collect(const std::vector<std::string_view>& chunks, size_t slack = 0) {
  SseFramer framer;
  Collected c;
  std::string buf;
  for (std::string_view chunk : chunks) {
    buf.assign(chunk);
    buf.append(slack, 'Z');
    framer.Feed(std::string_view(buf.data(), chunk.size()), slack);
    SseFramer::Event ev;
    while (framer.Next(&ev)) {
      EXPECT_GE(ev.readable, ev.data.size());
      bool in_input = ev.data.data() >= buf.data() && ev.data.data() <= buf.data() + chunk.size();
      if (in_input) {
        ++c.views_into_input;
        EXPECT_EQ(ev.readable,
                  static_cast<size_t>(buf.data() + chunk.size() - ev.data.data()) + slack);
      } else {
        EXPECT_GE(ev.readable, ev.data.size() + SseFramer::kJsonPadding);
      }
      c.events.emplace_back(ev.data);
    }
    std::fill(buf.begin(), buf.end(), 'X');
  }
  return c;
}

std::vector<std::string> Whole(std::string_view s) {
  return Collect({s}).events;
}

// Every way of cutting `s` in two, and byte by byte, gives `expected`.
void ExpectSplitInvariant(std::string_view s, const std::vector<std::string>& expected) {
  EXPECT_EQ(Whole(s), expected);
  for (size_t i = 0; i <= s.size(); ++i) {
    EXPECT_EQ(Collect({s.substr(0, i), s.substr(i)}).events, expected) << "split at " << i;
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < s.size(); ++i)
    bytes.push_back(s.substr(i, 1));
  EXPECT_EQ(Collect(bytes).events, expected) << "byte by byte";
}

TEST(SseFramer, LineEndings) {
  std::vector<std::string> expected = {"{\"a\":1}", "{\"b\":2}"};
  ExpectSplitInvariant("data: {\"a\":1}\n\ndata: {\"b\":2}\n\n", expected);
  ExpectSplitInvariant("data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\r\n\r\n", expected);
  ExpectSplitInvariant("data: {\"a\":1}\r\rdata: {\"b\":2}\r\r", expected);
  ExpectSplitInvariant("data: {\"a\":1}\r\n\ndata: {\"b\":2}\n\r\n", expected);
}

TEST(SseFramer, FieldSyntax) {
  // No space, one space stripped, second space kept, comments, other fields ignored.
  ExpectSplitInvariant("data:x\n\n", {"x"});
  ExpectSplitInvariant("data:  x\n\n", {" x"});
  ExpectSplitInvariant(": ping\n\n: another\ndata: y\n\n", {"y"});
  ExpectSplitInvariant("event: message\nid: 7\nretry: 10\nfoo: bar\ndata: z\n\n", {"z"});
  // Multi-line data joins with LF; a bare "data" line is an empty value.
  ExpectSplitInvariant("data: a\ndata: b\r\ndata\n\n", {"a\nb\n"});
  ExpectSplitInvariant("data\n\n", {""});
  // A blank line without data dispatches nothing.
  ExpectSplitInvariant("\n\n\r\n: c\n\nid: 1\n\n", {});
}

TEST(SseFramer, LeadingBomSkippedOnce) {
  ExpectSplitInvariant(
      "\xef\xbb\xbf"
      "data: a\n\n",
      {"a"});
  // Only at the very start; a partial BOM is ordinary bytes (here: an unknown field).
  ExpectSplitInvariant(
      "\xef\xbb"
      "data: a\n\ndata: b\n\n",
      {"b"});
}

TEST(SseFramer, UnfinishedEventAtEofIsNotDispatched) {
  SseFramer framer;
  framer.Feed("data: a\n\ndata: b\n");
  SseFramer::Event ev;
  ASSERT_TRUE(framer.Next(&ev));
  EXPECT_EQ(ev.data, "a");
  EXPECT_FALSE(framer.Next(&ev));
  EXPECT_TRUE(framer.has_partial());
  framer.Reset();
  EXPECT_FALSE(framer.has_partial());
}

TEST(SseFramer, ZeroCopyWhenContiguous) {
  Collected c = Collect({"data: one\r\n\r\ndata: two\r\n\r\n"});
  EXPECT_EQ(c.events, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(c.views_into_input, 2u);
  // Split inside the second event: the first is still a view, the second assembled.
  c = Collect({"data: one\r\n\r\ndata: t", "wo\r\n\r\n"});
  EXPECT_EQ(c.events, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(c.views_into_input, 1u);
  // Data line complete but the blank line comes in the next input: must not point at old input.
  c = Collect({"data: one\r\n", "\r\n"});
  EXPECT_EQ(c.events, (std::vector<std::string>{"one"}));
  EXPECT_EQ(c.views_into_input, 0u);
  // CR at the end of one input, LF at the start of the next: one line end.
  c = Collect({"data: one\r", "\n\r", "\ndata: two\r\n\r\n"});
  EXPECT_EQ(c.events, (std::vector<std::string>{"one", "two"}));
}

TEST(SseFramer, SlackCountsTowardsReadable) {
  Collected c = Collect({"data: {}\n\n"}, /*slack=*/64);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.views_into_input, 1u);  // readable checked in Collect
}

TEST(SseFramer, AssembledBufferIsReused) {
  SseFramer framer;
  std::string event = "data: " + std::string(1000, 'q') + "\n\n";
  const char* first = nullptr;
  for (int i = 0; i < 50; ++i) {
    framer.Feed(std::string_view(event).substr(0, 500));
    SseFramer::Event ev;
    EXPECT_FALSE(framer.Next(&ev));
    framer.Feed(std::string_view(event).substr(500));
    ASSERT_TRUE(framer.Next(&ev));
    EXPECT_EQ(ev.data.size(), 1000u);
    if (first == nullptr)
      first = ev.data.data();
    EXPECT_EQ(ev.data.data(), first) << "buffer reallocated at event " << i;
    EXPECT_FALSE(framer.Next(&ev));
  }
}

TEST(SseFramer, OverflowStops) {
  SseFramer framer(/*max_event_bytes=*/100);
  std::string big = "data: " + std::string(200, 'a');
  framer.Feed(big);
  SseFramer::Event ev;
  EXPECT_FALSE(framer.Next(&ev));
  EXPECT_TRUE(framer.overflowed());
  framer.Feed("\n\ndata: b\n\n");
  EXPECT_FALSE(framer.Next(&ev));
  framer.Reset();
  framer.Feed("data: b\n\n");
  ASSERT_TRUE(framer.Next(&ev));
  EXPECT_EQ(ev.data, "b");
}

TEST(SseFramer, Writers) {
  std::string out;
  AppendSseData(out, "{\"a\":1}");
  AppendSseComment(out, "ping");
  EXPECT_EQ(out, "data: {\"a\":1}\n\n: ping\n\n");
  EXPECT_EQ(Whole(out), (std::vector<std::string>{"{\"a\":1}"}));
}

}  // namespace
}  // namespace ringgate
