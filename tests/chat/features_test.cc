// HAJIMI's request features end to end (real ringgate in front of fake-gemini), counted from what
// the fake received: the MAX_EMPTY_RESPONSES budget, the RANDOM_STRING disguise turns and the
// SEARCH_PROMPT turn at HAJIMI's positions (hajimi-behaviour.md 7.1), fan-out
// (CONCURRENT_REQUESTS, INCREASE_CONCURRENT_ON_FAILURE, MAX_CONCURRENT_REQUESTS, 8.1) and the
// regenerate cache its spare answers fill (10.2, 10.3).
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "chat_harness.h"

namespace ringgate::testing {
namespace {

size_t UpstreamCalls(Gateway& gateway) {
  return gateway.Requests("generateContent").size();
}

// Waits until the fake has recorded `calls` generateContent requests and a moment more, so that
// the answers of the tries still running reach the gateway's cache.
void WaitForCalls(Gateway& gateway, size_t calls) {
  for (int i = 0; i < 200 && UpstreamCalls(gateway) < calls; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

// ---- MAX_EMPTY_RESPONSES ----

struct EmptyConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.keys = 8;
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "FAKE_STREAMING_INTERVAL=60",
                   "MAX_EMPTY_RESPONSES=3"};
    options.fake_args = {"--record", "1000"};
    return options;
  }
};
using EmptyAnswerTest = GatewayTest<EmptyConfig>;

void ExpectEmptyError(const HttpResponse& response) {
  EXPECT_EQ(response.status, 502) << response;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_EQ(json->Str("/error/code"), "empty_response") << response.body;
}

TEST_F(EmptyAnswerTest, EmptyAnswersAreRetriedUpToTheBudget) {
  gateway().Script("empty=parts");
  ExpectEmptyError(gateway().Chat(SimpleChat()));
  EXPECT_EQ(UpstreamCalls(gateway()), 3u) << "MAX_EMPTY_RESPONSES=3 tries, each on another key";
}

TEST_F(EmptyAnswerTest, BlockedPromptCountsAsEmptyInFakeStreaming) {
  gateway().Script("safety=prompt");
  ExpectEmptyError(gateway().Chat(SimpleChat(kModel, R"(,"stream":true)")));
  EXPECT_EQ(UpstreamCalls(gateway()), 3u);
}

TEST_F(EmptyAnswerTest, AnAnswerAfterEmptyOnesIsServed) {
  gateway().Script("empty=text;times=2");
  HttpResponse response = gateway().Chat(SimpleChat());
  EXPECT_EQ(response.status, 200) << response;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_FALSE(json->Str("/choices/0/message/content").empty()) << response.body;
  std::vector<RecordedRequest> calls = gateway().Requests("generateContent");
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_NE(calls[0].key, calls[1].key);
  EXPECT_NE(calls[1].key, calls[2].key);
}

// ---- RANDOM_STRING and SEARCH_PROMPT ----

struct DisguiseConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "SEARCH_MODE=true",
                   "SEARCH_PROMPT=SEARCH-NOW", "RANDOM_STRING_LENGTH=7"};
    return options;
  }
};
using DisguiseTest = GatewayTest<DisguiseConfig>;

constexpr char kConversation[] =
    R"([{"role":"system","content":"S"},{"role":"user","content":"U1"},)"
    R"({"role":"assistant","content":"A1"},{"role":"user","content":"U2"}])";

std::string ConversationChat(std::string_view model) {
  return std::string(R"({"model":")") + std::string(model) + R"(","messages":)" + kConversation +
         "}";
}

bool IsRandomString(const std::string& text, size_t length) {
  if (text.size() != length)
    return false;
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)))
      return false;
  }
  return true;
}

// "role:text|text" per turn of the upstream body's contents.
std::vector<std::string> Turns(const Json& body) {
  std::vector<std::string> out;
  for (size_t i = 0; i < body.Size("/contents"); ++i) {
    std::string prefix = "/contents/" + std::to_string(i);
    std::string turn = body.Str(prefix + "/role") + ":";
    for (size_t j = 0; j < body.Size(prefix + "/parts"); ++j) {
      if (j > 0)
        turn += "|";
      turn += body.Str(prefix + "/parts/" + std::to_string(j) + "/text");
    }
    out.push_back(turn);
  }
  return out;
}

TEST_F(DisguiseTest, DisguiseTurnsAtIndexOneAndBeforeTheLast) {
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(gateway().Chat(ConversationChat(kModel)).status, 200);
  std::vector<RecordedRequest> calls = gateway().Requests("generateContent");
  ASSERT_EQ(calls.size(), 2u);
  std::vector<std::string> first_strings;
  for (const RecordedRequest& call : calls) {
    auto body = ParseJson(call.body);
    ASSERT_TRUE(body->ok) << call.body;
    std::vector<std::string> turns = Turns(*body);
    ASSERT_EQ(turns.size(), 5u) << call.body;
    EXPECT_EQ(turns[0], "user:U1");  // S is the systemInstruction here
    EXPECT_TRUE(IsRandomString(turns[1].substr(5), 7)) << turns[1];
    EXPECT_EQ(turns[1].substr(0, 5), "user:");
    EXPECT_EQ(turns[2], "model:A1");
    EXPECT_TRUE(IsRandomString(turns[3].substr(5), 7)) << turns[3];
    EXPECT_EQ(turns[3].substr(0, 5), "user:");
    EXPECT_EQ(turns[4], "user:U2");
    EXPECT_NE(turns[1], turns[3]);
    first_strings.push_back(turns[1]);
  }
  EXPECT_NE(first_strings[0], first_strings[1]) << "fresh strings for every request";
}

TEST_F(DisguiseTest, SearchPromptBeforeTheLastModelTurn) {
  // HAJIMI 7.1's example: user[S,U1], user[R1], user[SEARCH_PROMPT], model[A1], user[R2], user[U2]
  // (ringgate sends S as the systemInstruction).
  ASSERT_EQ(gateway().Chat(ConversationChat(std::string(kModel) + "-search")).status, 200);
  std::vector<RecordedRequest> calls = gateway().Requests("generateContent");
  ASSERT_EQ(calls.size(), 1u);
  auto body = ParseJson(calls[0].body);
  ASSERT_TRUE(body->ok) << calls[0].body;
  std::vector<std::string> turns = Turns(*body);
  ASSERT_EQ(turns.size(), 6u) << calls[0].body;
  EXPECT_EQ(turns[0], "user:U1");  // S is the systemInstruction here
  EXPECT_TRUE(IsRandomString(turns[1].substr(5), 7)) << turns[1];
  EXPECT_EQ(turns[2], "user:SEARCH-NOW");
  EXPECT_EQ(turns[3], "model:A1");
  EXPECT_TRUE(IsRandomString(turns[4].substr(5), 7)) << turns[4];
  EXPECT_EQ(turns[5], "user:U2");
  EXPECT_TRUE(body->Has("/tools/0/googleSearch") || body->Has("/tools/0/google_search"))
      << calls[0].body;
}

// ---- Fan-out and the regenerate cache ----

struct FanOutConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.keys = 8;
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "FAKE_STREAMING=true",
                   "FAKE_STREAMING_INTERVAL=60", "CONCURRENT_REQUESTS=3"};
    options.fake_args = {"--record", "1000"};
    return options;
  }
};
using FanOutTest = GatewayTest<FanOutConfig>;

TEST_F(FanOutTest, SpareAnswersServeRegenerateRequestsWithoutUpstreamCalls) {
  std::string chat = SimpleChat(kModel, "", "fan out, then regenerate");
  ASSERT_EQ(gateway().Chat(chat).status, 200);
  WaitForCalls(gateway(), 3);
  std::vector<RecordedRequest> calls = gateway().Requests("generateContent");
  ASSERT_EQ(calls.size(), 3u) << "CONCURRENT_REQUESTS=3";
  EXPECT_NE(calls[0].key, calls[1].key);
  EXPECT_NE(calls[1].key, calls[2].key);
  EXPECT_NE(calls[0].key, calls[2].key);
  // Two spare answers: a regenerate request each, in either mode, and no upstream call.
  HttpResponse plain = gateway().Chat(chat);
  EXPECT_EQ(plain.status, 200) << plain;
  auto json = ParseJson(plain.body);
  ASSERT_TRUE(json->ok) << plain.body;
  EXPECT_FALSE(json->Str("/choices/0/message/content").empty()) << plain.body;
  HttpResponse stream =
      gateway().Chat(SimpleChat(kModel, R"(,"stream":true)", "fan out, then regenerate"));
  EXPECT_EQ(stream.status, 200) << stream;
  EXPECT_NE(stream.body.find("chat.completion.chunk"), std::string::npos) << stream.body;
  EXPECT_EQ(UpstreamCalls(gateway()), 3u) << "both served from the cache";
  // Single use: the next one goes upstream again.
  ASSERT_EQ(gateway().Chat(chat).status, 200);
  WaitForCalls(gateway(), 6);
  EXPECT_EQ(UpstreamCalls(gateway()), 6u);
}

TEST_F(FanOutTest, OtherConversationsDoNotHitTheCache) {
  ASSERT_EQ(gateway().Chat(SimpleChat(kModel, "", "one conversation")).status, 200);
  WaitForCalls(gateway(), 3);
  ASSERT_EQ(gateway().Chat(SimpleChat(kModel, "", "another conversation")).status, 200);
  WaitForCalls(gateway(), 6);
  EXPECT_EQ(UpstreamCalls(gateway()), 6u);
}

// Two cores: a fingerprint's answers live on its owner core, whichever core takes the request.
struct FanOutTwoCoresConfig {
  static GatewayOptions Options() {
    GatewayOptions options = FanOutConfig::Options();
    options.threads = 2;
    return options;
  }
};
using FanOutTwoCoresTest = GatewayTest<FanOutTwoCoresConfig>;

TEST_F(FanOutTwoCoresTest, RegenerateRequestsOnAnyCoreFindTheSpareAnswers) {
  for (int round = 0; round < 4; ++round) {
    gateway().ClearRequests();
    std::string chat = SimpleChat(kModel, "", "two cores, round " + std::to_string(round));
    ASSERT_EQ(gateway().Chat(chat).status, 200);
    WaitForCalls(gateway(), 3);
    ASSERT_EQ(UpstreamCalls(gateway()), 3u);
    // Each request on a new connection: either core.
    for (int i = 0; i < 2; ++i)
      EXPECT_EQ(gateway().Chat(chat).status, 200) << "round " << round;
    EXPECT_EQ(UpstreamCalls(gateway()), 3u) << "round " << round << ": served from the cache";
  }
}

struct EscalationConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.keys = 8;
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "FAKE_STREAMING=false",
                   "CONCURRENT_REQUESTS=1", "INCREASE_CONCURRENT_ON_FAILURE=1",
                   "MAX_CONCURRENT_REQUESTS=3"};
    options.fake_args = {"--record", "1000"};
    return options;
  }
};
using EscalationTest = GatewayTest<EscalationConfig>;

TEST_F(EscalationTest, FailedBatchesRaiseTheConcurrency) {
  // Batches of 1, 2 and 3 keys: the first two fail (3 errors), the third answers; its two spare
  // answers are cached.
  gateway().Script("status=503;times=3");
  std::string chat = SimpleChat(kModel, "", "escalate");
  ASSERT_EQ(gateway().Chat(chat).status, 200);
  WaitForCalls(gateway(), 6);
  EXPECT_EQ(UpstreamCalls(gateway()), 6u) << "1 + 2 + 3 keys";
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(gateway().Chat(chat).status, 200);
  EXPECT_EQ(UpstreamCalls(gateway()), 6u) << "the spare answers came from the cache";
}

TEST_F(EscalationTest, ConcurrencyStopsAtTheCeiling) {
  gateway().Script("status=503");
  EXPECT_EQ(gateway().Chat(SimpleChat(kModel, "", "ceiling")).status, 503);
  // 1 + 2 + 3 + 2 (the last batch is cut to the keys left: 8 keys in all).
  EXPECT_EQ(UpstreamCalls(gateway()), 8u);
}

TEST_F(EscalationTest, EmptyAnswersCountAcrossBatchesAndAreNotCached) {
  // Batches of 1, 2 and 3 keys; the 5th empty answer (MAX_EMPTY_RESPONSES) ends the request.
  gateway().Script("empty=parts");
  std::string chat = SimpleChat(kModel, "", "empty in batches");
  ExpectEmptyError(gateway().Chat(chat));
  WaitForCalls(gateway(), 6);
  EXPECT_EQ(UpstreamCalls(gateway()), 6u);
  gateway().Reset();
  ASSERT_EQ(gateway().Chat(chat).status, 200);
  EXPECT_EQ(UpstreamCalls(gateway()), 1u) << "no empty answer was cached";
}

TEST_F(EscalationTest, RealStreamingTriesOneKeyAtATime) {
  gateway().Script("status=503;times=2");
  HttpResponse response = gateway().Chat(SimpleChat(kModel, R"(,"stream":true)", "one by one"));
  EXPECT_EQ(response.status, 200) << response;
  EXPECT_EQ(gateway().Requests("streamGenerateContent").size(), 3u) << "no fan-out";
}

}  // namespace
}  // namespace ringgate::testing
