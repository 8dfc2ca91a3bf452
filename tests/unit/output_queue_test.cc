// OutputQueue: batching, in-flight stability, partial sends, watermarks and idle shrinking.
#include "ringgate/io/output_queue.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

// Counts the bytes handed back through operator delete, so a test can see memory being freed.
namespace {
std::atomic<size_t> g_freed_bytes{0};
}  // namespace

void* operator new(size_t size) {
  void* p = malloc(size == 0 ? 1 : size);
  if (p == nullptr)
    throw std::bad_alloc();
  return p;
}
void* operator new[](size_t size) {
  return operator new(size);
}
void operator delete(void* p) noexcept {
  if (p == nullptr)
    return;
  g_freed_bytes += malloc_usable_size(p);
  free(p);
}
void operator delete[](void* p) noexcept {
  operator delete(p);
}
void operator delete(void* p, size_t) noexcept {
  operator delete(p);
}
void operator delete[](void* p, size_t) noexcept {
  operator delete(p);
}

namespace ringgate {
namespace {

using Watermark = OutputQueue::Watermark;

TEST(OutputQueueTest, StartsEmpty) {
  OutputQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.unsent(), 0u);
  EXPECT_FALSE(q.send_in_flight());
  EXPECT_FALSE(q.above_high());
  EXPECT_TRUE(q.StartSend().empty());
  EXPECT_FALSE(q.send_in_flight()) << "nothing to send puts nothing in flight";
}

TEST(OutputQueueTest, AppendsBatchIntoOneSend) {
  OutputQueue q;
  EXPECT_EQ(q.Append("HTTP/1.1 200 OK\r\n\r\n"), Watermark::kNone);
  EXPECT_EQ(q.Append("second"), Watermark::kNone);
  EXPECT_EQ(q.Append(""), Watermark::kNone);
  EXPECT_EQ(q.Append("third"), Watermark::kNone);
  EXPECT_EQ(q.unsent(), 19u + 6 + 5);
  std::string_view block = q.StartSend();
  EXPECT_EQ(block, "HTTP/1.1 200 OK\r\n\r\nsecondthird");
  EXPECT_TRUE(q.send_in_flight());
  EXPECT_EQ(q.unsent(), block.size());
  EXPECT_EQ(q.Sent(block.size()), Watermark::kNone);
  EXPECT_FALSE(q.send_in_flight());
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(q.StartSend().empty());
}

TEST(OutputQueueTest, NoSecondSendWhileInFlight) {
  OutputQueue q;
  q.Append("first");
  std::string_view block = q.StartSend();
  EXPECT_EQ(block, "first");
  q.Append("second");
  EXPECT_TRUE(q.StartSend().empty()) << "a send is already in flight";
  EXPECT_TRUE(q.send_in_flight());
  EXPECT_EQ(q.unsent(), 11u);
  q.Sent(5);
  EXPECT_EQ(q.StartSend(), "second");
  q.Sent(6);
  EXPECT_TRUE(q.empty());
}

TEST(OutputQueueTest, PartialSendResendsTheRemainderFirst) {
  OutputQueue q;
  q.Append("0123456789");
  std::string_view block = q.StartSend();
  ASSERT_EQ(block, "0123456789");
  const char* base = block.data();
  q.Append("abc");  // pending: must wait until the whole in-flight block is gone
  EXPECT_EQ(q.Sent(4), Watermark::kNone);
  EXPECT_FALSE(q.send_in_flight());
  EXPECT_EQ(q.unsent(), 9u);
  std::string_view rest = q.StartSend();
  EXPECT_EQ(rest, "456789");
  EXPECT_EQ(rest.data(), base + 4) << "the remainder is sent from where it was";
  q.Sent(0);  // the kernel took nothing
  rest = q.StartSend();
  EXPECT_EQ(rest, "456789");
  q.Sent(5);
  EXPECT_EQ(q.StartSend(), "9");
  q.Sent(1);
  EXPECT_EQ(q.StartSend(), "abc");
  q.Sent(3);
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(q.StartSend().empty());
}

TEST(OutputQueueTest, AppendsDuringSendDoNotMoveInFlightBytes) {
  OutputQueue q;
  std::string first(1000, 'a');
  for (int i = 0; i < 1000; ++i)
    first[i] = static_cast<char>('a' + i % 26);
  q.Append(first);
  std::string_view block = q.StartSend();
  const char* data = block.data();
  size_t size = block.size();
  ASSERT_EQ(size, first.size());
  // Lots of appends, enough to reallocate any buffer several times over.
  std::string chunk(4096, 'z');
  for (int i = 0; i < 512; ++i)
    q.Append(chunk);
  q.AppendWith([](std::string& out) { out.append(100000, 'y'); });
  EXPECT_EQ(std::string_view(data, size), first) << "in-flight bytes changed";
  EXPECT_TRUE(q.StartSend().empty());

  // The same after a partial send of the in-flight block.
  q.Sent(100);
  std::string_view rest = q.StartSend();
  EXPECT_EQ(rest.data(), data + 100);
  for (int i = 0; i < 512; ++i)
    q.Append(chunk);
  EXPECT_EQ(std::string_view(data + 100, size - 100), std::string_view(first).substr(100));
  q.Sent(rest.size());
  std::string_view next = q.StartSend();
  EXPECT_EQ(next.size(), 1024u * 4096 + 100000);
  EXPECT_EQ(next.substr(0, 4096), chunk);
  EXPECT_EQ(next.substr(512 * 4096, 100000), std::string(100000, 'y'));
}

TEST(OutputQueueTest, HighWatermarkReportedOnceOnCrossingAppend) {
  OutputQueue q(100, 20);
  EXPECT_EQ(q.Append(std::string(60, 'a')), Watermark::kNone);
  EXPECT_FALSE(q.above_high());
  EXPECT_EQ(q.Append(std::string(39, 'b')), Watermark::kNone);  // 99
  EXPECT_EQ(q.Append("c"), Watermark::kCrossedHigh);            // 100: reaching high counts
  EXPECT_TRUE(q.above_high());
  EXPECT_EQ(q.Append(std::string(50, 'd')), Watermark::kNone);  // already above
  EXPECT_EQ(q.AppendWith([](std::string& s) { s += "more"; }), Watermark::kNone);
  EXPECT_TRUE(q.above_high());
}

TEST(OutputQueueTest, LowWatermarkReportedOnceWhenUnsentFallsToLow) {
  OutputQueue q(100, 20);
  ASSERT_EQ(q.Append(std::string(150, 'a')), Watermark::kCrossedHigh);
  std::string_view block = q.StartSend();
  ASSERT_EQ(block.size(), 150u);
  EXPECT_EQ(q.Sent(100), Watermark::kNone);  // 50 left: below high but above low
  EXPECT_TRUE(q.above_high()) << "stays above until the low mark";
  ASSERT_EQ(q.StartSend().size(), 50u);
  EXPECT_EQ(q.Sent(29), Watermark::kNone);  // 21 left
  EXPECT_TRUE(q.above_high());
  ASSERT_EQ(q.StartSend().size(), 21u);
  EXPECT_EQ(q.Sent(1), Watermark::kCrossedLow);  // 20 == low
  EXPECT_FALSE(q.above_high());
  ASSERT_EQ(q.StartSend().size(), 20u);
  EXPECT_EQ(q.Sent(20), Watermark::kNone) << "reported once";
  EXPECT_TRUE(q.empty());
}

TEST(OutputQueueTest, PendingBytesCountTowardsLowWatermark) {
  OutputQueue q(100, 20);
  ASSERT_EQ(q.Append(std::string(100, 'a')), Watermark::kCrossedHigh);
  q.StartSend();
  q.Append(std::string(30, 'p'));  // pending while in flight
  EXPECT_EQ(q.Sent(100), Watermark::kNone) << "30 bytes are still unsent, above low";
  EXPECT_TRUE(q.above_high());
  ASSERT_EQ(q.StartSend().size(), 30u);
  EXPECT_EQ(q.Sent(30), Watermark::kCrossedLow);
}

TEST(OutputQueueTest, WatermarksCycle) {
  OutputQueue q(100, 20);
  for (int cycle = 0; cycle < 3; ++cycle) {
    EXPECT_EQ(q.Append(std::string(120, 'x')), Watermark::kCrossedHigh) << "cycle " << cycle;
    std::string_view block = q.StartSend();
    EXPECT_EQ(q.Sent(block.size()), Watermark::kCrossedLow) << "cycle " << cycle;
  }
}

TEST(OutputQueueTest, AppendWithCrossesHigh) {
  OutputQueue q(64, 8);
  Watermark w = q.AppendWith([](std::string& out) {
    out += "HTTP/1.1 200 OK\r\n";
    out.append(64, 'b');
  });
  EXPECT_EQ(w, Watermark::kCrossedHigh);
  EXPECT_TRUE(q.above_high());
  EXPECT_EQ(q.unsent(), 17u + 64);
}

TEST(OutputQueueTest, AppendWithWritesAfterPendingAndNotIntoFlight) {
  OutputQueue q;
  q.Append("in-flight");
  std::string_view block = q.StartSend();
  q.Append("one,");
  size_t seen_size = 0;
  q.AppendWith([&](std::string& out) {
    seen_size = out.size();
    out += "two";
  });
  EXPECT_EQ(seen_size, 4u) << "AppendWith gets the pending buffer, not the in-flight one";
  EXPECT_EQ(block, "in-flight");
  q.Sent(block.size());
  EXPECT_EQ(q.StartSend(), "one,two");
}

TEST(OutputQueueTest, ClearForgetsEverything) {
  OutputQueue q(100, 20);
  q.Append(std::string(150, 'a'));
  q.StartSend();
  q.Append("pending");
  q.Clear();
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.send_in_flight());
  EXPECT_FALSE(q.above_high());
  EXPECT_TRUE(q.StartSend().empty());
  q.Append("fresh");
  EXPECT_EQ(q.StartSend(), "fresh");
}

TEST(OutputQueueTest, ShrinkIfIdleFreesOnlyWhenIdle) {
  constexpr size_t kBig = 1 << 20;
  OutputQueue q(4 * kBig, kBig);
  q.Append(std::string(kBig, 'a'));

  // Pending bytes: nothing may be freed.
  size_t before = g_freed_bytes;
  q.ShrinkIfIdle(4096);
  EXPECT_EQ(g_freed_bytes - before, 0u);

  // In flight: nothing may be freed.
  std::string_view block = q.StartSend();
  ASSERT_EQ(block.size(), kBig);
  before = g_freed_bytes;
  q.ShrinkIfIdle(4096);
  EXPECT_EQ(g_freed_bytes - before, 0u);
  EXPECT_EQ(block[kBig - 1], 'a');

  // Partly sent, still not idle.
  q.Sent(kBig / 2);
  before = g_freed_bytes;
  q.ShrinkIfIdle(4096);
  EXPECT_EQ(g_freed_bytes - before, 0u);
  ASSERT_EQ(q.StartSend().size(), kBig / 2);
  q.Sent(kBig / 2);
  ASSERT_TRUE(q.empty());

  // Idle: the megabyte goes back.
  before = g_freed_bytes;
  q.ShrinkIfIdle(4096);
  EXPECT_GE(g_freed_bytes - before, kBig);

  // And the queue still works.
  q.Append("after");
  EXPECT_EQ(q.StartSend(), "after");
  q.Sent(5);
}

TEST(OutputQueueTest, ShrinkIfIdleKeepsSmallBuffers) {
  OutputQueue q;
  q.Append(std::string(1000, 'a'));
  q.Sent(q.StartSend().size());
  size_t before = g_freed_bytes;
  q.ShrinkIfIdle(4096);
  EXPECT_EQ(g_freed_bytes - before, 0u) << "buffers within `keep` are kept";
  before = g_freed_bytes;
  q.ShrinkIfIdle(16);
  EXPECT_GE(g_freed_bytes - before, 1000u);
}

}  // namespace
}  // namespace ringgate
