// Request coalescing (hajimi-behaviour.md 10.4) end to end: unless PUBLIC_MODE, identical plain
// non-stream requests that arrive while the first one is upstream wait for its answer instead of
// calling Gemini themselves. The fake's delay_first_ms keeps the first request in flight; the
// upstream calls are counted from what the fake recorded. Two cores, so that the requests meet
// on the fingerprint's owner core whichever core takes them.
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "chat_harness.h"

namespace ringgate::testing {
namespace {

size_t UpstreamCalls(Gateway& gateway) {
  return gateway.Requests("generateContent").size();
}

GatewayOptions CoalescingOptions(bool public_mode) {
  GatewayOptions options;
  options.threads = 2;
  options.keys = 3;
  options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false",
                 std::string("PUBLIC_MODE=") + (public_mode ? "true" : "false")};
  options.fake_args = {"--record", "1000"};
  return options;
}

struct CoalescingConfig {
  static GatewayOptions Options() { return CoalescingOptions(false); }
};
using CoalescingTest = GatewayTest<CoalescingConfig>;

struct PublicModeConfig {
  static GatewayOptions Options() { return CoalescingOptions(true); }
};
using PublicModeTest = GatewayTest<PublicModeConfig>;

// `n` identical requests at once (each on its own connection), the first `lead_ms` ahead.
std::vector<HttpResponse> SendTogether(Gateway& gateway, const std::vector<std::string>& bodies,
                                       int lead_ms = 150) {
  std::vector<std::future<HttpResponse>> futures;
  for (size_t i = 0; i < bodies.size(); ++i) {
    futures.push_back(std::async(std::launch::async,
                                 [&gateway, body = bodies[i]] { return gateway.Chat(body); }));
    if (i == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(lead_ms));
  }
  std::vector<HttpResponse> responses;
  for (std::future<HttpResponse>& f : futures)
    responses.push_back(f.get());
  return responses;
}

std::string Content(const HttpResponse& response) {
  auto json = ParseJson(response.body);
  return json->ok ? json->Str("/choices/0/message/content") : "<not JSON>";
}

TEST_F(CoalescingTest, IdenticalRequestsShareOneUpstreamCall) {
  gateway().Script("delay_first_ms=1000;text_len=64");
  std::string chat = SimpleChat(kModel, "", "one question, asked five times");
  std::vector<HttpResponse> responses = SendTogether(gateway(), std::vector<std::string>(5, chat));
  for (const HttpResponse& response : responses) {
    ASSERT_EQ(response.status, 200) << response;
    EXPECT_EQ(Content(response), Content(responses[0])) << response.body;
    auto json = ParseJson(response.body);
    EXPECT_EQ(json->Str("/model"), kModel) << response.body;
  }
  EXPECT_FALSE(Content(responses[0]).empty());
  EXPECT_EQ(UpstreamCalls(gateway()), 1u) << "four followers waited for the leader";
  // Done: the next identical request goes upstream again.
  gateway().Script("delay_first_ms=0");
  ASSERT_EQ(gateway().Chat(chat).status, 200);
  EXPECT_EQ(UpstreamCalls(gateway()), 2u);
}

TEST_F(CoalescingTest, DifferentLastMessagesAreNotCoalesced) {
  gateway().Script("delay_first_ms=800");
  std::vector<HttpResponse> responses =
      SendTogether(gateway(), {SimpleChat(kModel, "", "first conversation"),
                               SimpleChat(kModel, "", "second conversation"),
                               SimpleChat(kModel, "", "third conversation")});
  for (const HttpResponse& response : responses)
    EXPECT_EQ(response.status, 200) << response;
  EXPECT_EQ(UpstreamCalls(gateway()), 3u);
}

// HAJIMI's coalescing has an effect on the plain handler only: a streamed request identical to a
// running plain one makes its own call.
TEST_F(CoalescingTest, StreamRequestsAreNotCoalesced) {
  gateway().Script("delay_first_ms=800");
  std::string text = "plain first, then streamed";
  std::vector<HttpResponse> responses = SendTogether(
      gateway(), {SimpleChat(kModel, "", text), SimpleChat(kModel, R"(,"stream":true)", text)});
  EXPECT_EQ(responses[0].status, 200) << responses[0];
  EXPECT_EQ(responses[1].status, 200) << responses[1];
  EXPECT_NE(responses[1].body.find("chat.completion.chunk"), std::string::npos)
      << responses[1].body;
  EXPECT_EQ(UpstreamCalls(gateway()), 2u);
}

TEST_F(CoalescingTest, FollowersGoUpstreamThemselvesWhenTheLeaderFails) {
  // Only the first call fails (400: the leader answers it at once, without another key).
  gateway().Script("status=400;delay_first_ms=800;times=1");
  std::string chat = SimpleChat(kModel, "", "the leader will fail");
  std::vector<HttpResponse> responses = SendTogether(gateway(), std::vector<std::string>(3, chat));
  EXPECT_EQ(responses[0].status, 400) << responses[0];
  for (size_t i = 1; i < responses.size(); ++i) {
    EXPECT_EQ(responses[i].status, 200) << responses[i];
    EXPECT_FALSE(Content(responses[i]).empty()) << responses[i].body;
  }
  EXPECT_EQ(UpstreamCalls(gateway()), 3u) << "the leader's call and one per follower";
}

TEST_F(CoalescingTest, AFollowerThatLeavesDoesNotDisturbTheLeader) {
  gateway().Script("delay_first_ms=1000");
  std::string chat = SimpleChat(kModel, "", "a follower will leave");
  std::future<HttpResponse> leader =
      std::async(std::launch::async, [&] { return gateway().Chat(chat); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  {
    HttpConnection follower = HttpConnection::Connect(gateway().port());
    ASSERT_TRUE(follower.is_open()) << follower.error();
    ASSERT_TRUE(follower.Send(PostRequest("/v1/chat/completions", chat, Bearer())));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    follower.Close();
  }
  std::future<HttpResponse> second =
      std::async(std::launch::async, [&] { return gateway().Chat(chat); });
  HttpResponse answer = leader.get();
  EXPECT_EQ(answer.status, 200) << answer;
  EXPECT_FALSE(Content(answer).empty()) << answer.body;
  HttpResponse other = second.get();
  EXPECT_EQ(other.status, 200) << other;
  EXPECT_EQ(Content(other), Content(answer));
  EXPECT_EQ(UpstreamCalls(gateway()), 1u);
}

TEST_F(CoalescingTest, ALeaderThatLeavesHandsTheLeadToAFollower) {
  gateway().Script("delay_first_ms=800");
  std::string chat = SimpleChat(kModel, "", "the leader will leave");
  HttpConnection leader = HttpConnection::Connect(gateway().port());
  ASSERT_TRUE(leader.is_open()) << leader.error();
  ASSERT_TRUE(leader.Send(PostRequest("/v1/chat/completions", chat, Bearer())));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::future<HttpResponse> follower =
      std::async(std::launch::async, [&] { return gateway().Chat(chat); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  leader.Close();
  HttpResponse answer = follower.get();
  EXPECT_EQ(answer.status, 200) << answer;
  EXPECT_FALSE(Content(answer).empty()) << answer.body;
  EXPECT_EQ(UpstreamCalls(gateway()), 2u) << "the leader's cancelled call and the follower's own";
}

TEST_F(PublicModeTest, IdenticalRequestsEachGoUpstream) {
  gateway().Script("delay_first_ms=800");
  std::string chat = SimpleChat(kModel, "", "one question, asked four times");
  std::vector<HttpResponse> responses = SendTogether(gateway(), std::vector<std::string>(4, chat));
  for (const HttpResponse& response : responses)
    EXPECT_EQ(response.status, 200) << response;
  EXPECT_EQ(UpstreamCalls(gateway()), 4u);
}

}  // namespace
}  // namespace ringgate::testing
