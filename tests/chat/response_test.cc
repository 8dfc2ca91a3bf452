// Non-stream answers end to end: the exact OpenAI chat.completion shape from fake-gemini's
// scripted answers (text, thoughts, function calls, finish reasons, usage), upstream errors (a
// client error with its real status, a failed try retried with another key, every key failing:
// the most telling status, Retry-After, masked keys), unreadable upstream answers, several
// candidates (from a canned upstream), and the newline keep-alive of NONSTREAM_KEEPALIVE_ENABLED.
#include <algorithm>
#include <ctime>
#include <string>
#include <vector>

#include "chat_harness.h"

namespace ringgate::testing {
namespace {

struct PlainConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    // MAX_EMPTY_RESPONSES=0: empty and blocked answers are passed on as they are, so that their
    // translation can be read (features_test.cc checks the retries).
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "MAX_EMPTY_RESPONSES=0"};
    return options;
  }
};
using CompletionTest = GatewayTest<PlainConfig>;

std::unique_ptr<Json> Completion(const HttpResponse& response) {
  EXPECT_EQ(response.status, 200) << response;
  EXPECT_EQ(response.Header("content-type").value_or(""), "application/json") << response;
  auto json = ParseJson(response.body);
  EXPECT_TRUE(json->ok) << response.body;
  return json;
}

void ExpectUpstreamError(const HttpResponse& response, int status, std::string_view code,
                         std::string_view message_part) {
  EXPECT_EQ(response.status, status) << response;
  EXPECT_EQ(response.Header("content-type").value_or(""), "application/json") << response;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_EQ(json->Str("/error/code"), code) << response.body;
  EXPECT_TRUE(json->IsString("/error/type")) << response.body;
  EXPECT_NE(json->Str("/error/message").find(message_part), std::string::npos) << response.body;
  EXPECT_EQ(response.body.find(kTestKeyPrefix), std::string::npos)
      << "unmasked key: " << response.body;
  EXPECT_EQ(response.head.find(kTestKeyPrefix), std::string::npos) << response.head;
}

// The number of distinct keys among these requests.
size_t DistinctKeys(const std::vector<RecordedRequest>& sent) {
  std::vector<std::string> keys;
  for (const RecordedRequest& r : sent) {
    if (std::find(keys.begin(), keys.end(), r.key) == keys.end())
      keys.push_back(r.key);
  }
  return keys.size();
}

TEST_F(CompletionTest, TextAnswerHasTheExactOpenAiShape) {
  gateway().Script(R"({"text":"Hello, \"world\" \\ ü!"})");
  int64_t before = static_cast<int64_t>(time(nullptr));
  HttpResponse response = gateway().Chat(SimpleChat());
  auto json = Completion(response);
  EXPECT_TRUE(HasCommonHeaders(response));
  EXPECT_FALSE(response.chunked);
  EXPECT_EQ(json->Str("/id").rfind("chatcmpl-", 0), 0u) << response.body;
  EXPECT_GT(json->Str("/id").size(), 9u);
  EXPECT_EQ(json->Str("/object"), "chat.completion");
  EXPECT_GE(json->Int("/created"), before - 1);
  EXPECT_LE(json->Int("/created"), static_cast<int64_t>(time(nullptr)) + 1);
  EXPECT_EQ(json->Str("/model"), kModel);
  ASSERT_EQ(json->Size("/choices"), 1u);
  EXPECT_EQ(json->Int("/choices/0/index"), 0);
  EXPECT_EQ(json->Str("/choices/0/message/role"), "assistant");
  EXPECT_EQ(json->Str("/choices/0/message/content"), "Hello, \"world\" \\ ü!");
  EXPECT_FALSE(json->Has("/choices/0/message/reasoning_content"));
  EXPECT_FALSE(json->Has("/choices/0/message/tool_calls"));
  EXPECT_EQ(json->Str("/choices/0/finish_reason"), "stop");
  int64_t prompt = json->Int("/usage/prompt_tokens");
  int64_t completion = json->Int("/usage/completion_tokens");
  EXPECT_GT(prompt, 0);
  EXPECT_GT(completion, 0);
  EXPECT_EQ(json->Int("/usage/total_tokens"), prompt + completion);
  EXPECT_EQ(json->Int("/usage/completion_tokens_details/reasoning_tokens"), 0);
  // Two answers have different ids.
  auto second = Completion(gateway().Chat(SimpleChat()));
  EXPECT_NE(second->Str("/id"), json->Str("/id"));
}

TEST_F(CompletionTest, ModelIsTheRequestedName) {
  for (const char* model : {"gemini-2.0-flash", "models/gemini-2.5-pro", "gemini-flash-latest"}) {
    auto json = Completion(gateway().Chat(SimpleChat(model)));
    EXPECT_EQ(json->Str("/model"), model);
  }
}

TEST_F(CompletionTest, ThoughtsBecomeReasoningContent) {
  gateway().Script("thoughts=2;text=The answer.");
  auto json = Completion(gateway().Chat(SimpleChat()));
  EXPECT_EQ(json->Str("/choices/0/message/content"), "The answer.");
  ASSERT_TRUE(json->IsString("/choices/0/message/reasoning_content")) << json->Raw("");
  EXPECT_FALSE(json->Str("/choices/0/message/reasoning_content").empty());
  EXPECT_EQ(json->Str("/choices/0/message/content")
                .find(json->Str("/choices/0/message/reasoning_content")),
            std::string::npos)
      << "thoughts leaked into content";
  EXPECT_EQ(json->Int("/usage/completion_tokens_details/reasoning_tokens"), 96);
  EXPECT_GE(json->Int("/usage/completion_tokens"), 96) << "completion includes thoughts";
  EXPECT_EQ(json->Str("/choices/0/finish_reason"), "stop");
}

TEST_F(CompletionTest, FunctionCallBecomesToolCall) {
  gateway().Script(
      R"({"function_call":"lookup","function_args":"{\"q\": \"cats\", \"n\": 3}","text_len":0})");
  auto json = Completion(gateway().Chat(SimpleChat()));
  EXPECT_TRUE(json->IsNull("/choices/0/message/content")) << json->Raw("");
  ASSERT_EQ(json->Size("/choices/0/message/tool_calls"), 1u) << json->Raw("");
  std::string call = "/choices/0/message/tool_calls/0";
  EXPECT_TRUE(json->IsString(call + "/id"));
  EXPECT_FALSE(json->Str(call + "/id").empty());
  EXPECT_EQ(json->Str(call + "/type"), "function");
  EXPECT_EQ(json->Str(call + "/function/name"), "lookup");
  ASSERT_TRUE(json->IsString(call + "/function/arguments")) << "arguments is a JSON string";
  auto args = ParseJson(json->Str(call + "/function/arguments"));
  ASSERT_TRUE(args->ok) << json->Str(call + "/function/arguments");
  EXPECT_EQ(args->Str("/q"), "cats");
  EXPECT_EQ(args->Int("/n"), 3);
  EXPECT_EQ(json->Str("/choices/0/finish_reason"), "tool_calls");

  // With text before the call, and the default args; ids differ between answers.
  gateway().Script("function_call=1;text=Let me check.");
  auto second = Completion(gateway().Chat(SimpleChat()));
  EXPECT_EQ(second->Str("/choices/0/message/content"), "Let me check.");
  EXPECT_EQ(second->Str(call + "/function/name"), "get_weather");
  EXPECT_EQ(ParseJson(second->Str(call + "/function/arguments"))->Str("/location"), "Paris");
  EXPECT_EQ(second->Str("/choices/0/finish_reason"), "tool_calls");
  EXPECT_NE(second->Str(call + "/id"), json->Str(call + "/id"));
}

TEST_F(CompletionTest, FinishReasonsAreMapped) {
  struct Case {
    const char* script;
    const char* finish_reason;
  };
  for (const Case& c :
       {Case{"finish=MAX_TOKENS", "length"}, Case{"max_tokens=1", "length"},
        Case{"safety=candidate", "content_filter"}, Case{"finish=RECITATION", "content_filter"},
        Case{"finish=PROHIBITED_CONTENT", "content_filter"}, Case{"finish=OTHER", "stop"},
        Case{"finish=STOP", "stop"}}) {
    gateway().Script(c.script);
    auto json = Completion(gateway().Chat(SimpleChat()));
    EXPECT_EQ(json->Str("/choices/0/finish_reason"), c.finish_reason)
        << c.script << ": " << json->Raw("");
  }
  // A blocked prompt: no candidates upstream, one content_filter choice here.
  gateway().Script("safety=prompt");
  auto blocked = Completion(gateway().Chat(SimpleChat()));
  ASSERT_EQ(blocked->Size("/choices"), 1u) << blocked->Raw("");
  EXPECT_EQ(blocked->Str("/choices/0/finish_reason"), "content_filter");
  EXPECT_EQ(blocked->Str("/choices/0/message/content"), "");
  EXPECT_EQ(blocked->Str("/choices/0/message/role"), "assistant");
}

TEST_F(CompletionTest, EmptyCandidatesGiveAnEmptyAnswer) {
  for (const char* script : {"empty=parts", "empty=text"}) {
    gateway().Script(script);
    auto json = Completion(gateway().Chat(SimpleChat()));
    EXPECT_EQ(json->Str("/choices/0/message/content"), "") << script << ": " << json->Raw("");
    EXPECT_EQ(json->Str("/choices/0/finish_reason"), "stop") << script;
  }
}

// Gemini's errors about the request itself come back at once with their status and an OpenAI
// body: no other key is tried.
TEST_F(CompletionTest, ClientErrorsKeepTheirStatusWithAnOpenAiBody) {
  struct Case {
    const char* script;
    int status;
    const char* code;
    const char* message_part;
  };
  for (const Case& c : {Case{"status=400", 400, "invalid_argument", "invalid argument"},
                        Case{"status=404", 404, "not_found", "is not found"}}) {
    SCOPED_TRACE(c.script);
    gateway().ClearRequests();
    gateway().Script(c.script);
    HttpResponse response = gateway().Chat(SimpleChat());
    ExpectUpstreamError(response, c.status, c.code, c.message_part);
    EXPECT_FALSE(response.HasHeader("retry-after")) << response;
    EXPECT_EQ(gateway().Requests("generateContent").size(), 1u) << "a client error is not retried";
  }
}

// One failed try is invisible to the client: the next key answers. Each case has a gateway of its
// own (a rejected key stays out, a 429 rests the key).
TEST(CompletionRetryTest, OneFailedTryIsRetriedWithAnotherKey) {
  for (const char* script :
       {"status=400_key", "status=403_suspended", "status=429_minute", "status=429_day",
        "status=500", "status=503", "status=504", "cut_after=0"}) {
    SCOPED_TRACE(script);
    auto gateway = StartGateway(PlainConfig::Options());
    ASSERT_NE(gateway, nullptr);
    gateway->Script(std::string(script) + ";times=1");
    HttpResponse response = gateway->Chat(SimpleChat());
    auto json = Completion(response);
    EXPECT_EQ(json->Str("/object"), "chat.completion") << response.body;
    EXPECT_FALSE(json->Str("/choices/0/message/content").empty()) << response.body;
    std::vector<RecordedRequest> sent = gateway->Requests("generateContent");
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(DistinctKeys(sent), 2u) << "the second try uses another key";
  }
}

// Every key failed: the most telling status (RetryBudget::Final), an OpenAI body whose message
// names the tries and the last upstream error with keys masked, Retry-After for quota.
TEST(CompletionRetryTest, EveryKeyFailingGivesTheMostTellingStatus) {
  struct Case {
    const char* script;
    int status;
    const char* code;
    const char* message_part;
    const char* retry_after;  // nullptr: no Retry-After
  };
  for (const Case& c :
       {Case{"status=429_minute;retry_delay=20s", 429, "rate_limit_exceeded", "quota", "20"},
        Case{"status=400_key", 503, "upstream_unavailable", "API key not valid", nullptr},
        Case{"status=403_suspended", 503, "upstream_unavailable", "has been suspended", nullptr},
        Case{"status=500", 502, "upstream_unavailable", "internal error", nullptr},
        Case{"status=503", 503, "upstream_unavailable", "overloaded", nullptr},
        Case{"status=504", 504, "upstream_unavailable", "Deadline", nullptr}}) {
    SCOPED_TRACE(c.script);
    auto gateway = StartGateway(PlainConfig::Options());
    ASSERT_NE(gateway, nullptr);
    gateway->Script(c.script);
    HttpResponse response = gateway->Chat(SimpleChat());
    ExpectUpstreamError(response, c.status, c.code, c.message_part);
    auto json = ParseJson(response.body);
    EXPECT_NE(json->Str("/error/message").find("all 3 upstream attempts failed"), std::string::npos)
        << response.body;
    if (c.retry_after != nullptr) {
      EXPECT_EQ(response.Header("retry-after").value_or(""), c.retry_after) << response;
    } else {
      EXPECT_FALSE(response.HasHeader("retry-after")) << response;
    }
    std::vector<RecordedRequest> sent = gateway->Requests("generateContent");
    EXPECT_EQ(sent.size(), 3u);
    EXPECT_EQ(DistinctKeys(sent), 3u) << "each key once";
  }
  // Per-day quota: Retry-After runs to the daily reset.
  auto gateway = StartGateway(PlainConfig::Options());
  ASSERT_NE(gateway, nullptr);
  gateway->Script("status=429_day");
  HttpResponse response = gateway->Chat(SimpleChat());
  ExpectUpstreamError(response, 429, "rate_limit_exceeded", "quota");
  int retry_after = atoi(response.Header("retry-after").value_or("0").c_str());
  EXPECT_GT(retry_after, 0) << response;
  EXPECT_LE(retry_after, 25 * 3600) << response;
}

TEST(CompletionRetryTest, KeyStatesUpstreamComeBackMasked) {
  // A suspended key's message names the whole key: it must come back masked.
  {
    auto gateway = StartGateway(PlainConfig::Options());
    ASSERT_NE(gateway, nullptr);
    for (const std::string& key : gateway->keys())
      gateway->KeyState(key, "suspended");
    ExpectUpstreamError(gateway->Chat(SimpleChat()), 503, "upstream_unavailable", "AIzaSyFA...");
    // Every key is out of rotation now: 503 without an upstream call.
    gateway->ClearRequests();
    ExpectUpstreamError(gateway->Chat(SimpleChat()), 503, "upstream_unavailable", "API key");
    EXPECT_TRUE(gateway->Requests("generateContent").empty());
  }
  // Rejected keys and one over its daily quota: 429, the key errors do not hide the quota.
  {
    auto gateway = StartGateway(PlainConfig::Options());
    ASSERT_NE(gateway, nullptr);
    gateway->KeyState(TestKey(1), "invalid");
    gateway->KeyState(TestKey(2), "day_quota");
    gateway->KeyState(TestKey(3), "suspended");
    HttpResponse response = gateway->Chat(SimpleChat());
    ExpectUpstreamError(response, 429, "rate_limit_exceeded", "quota");
    EXPECT_TRUE(response.HasHeader("retry-after")) << response;
    // Two keys are out, the third rests for the day: 429 without an upstream call.
    gateway->ClearRequests();
    HttpResponse resting = gateway->Chat(SimpleChat());
    ExpectUpstreamError(resting, 429, "rate_limit_exceeded", "quota");
    EXPECT_TRUE(resting.HasHeader("retry-after")) << resting;
    EXPECT_TRUE(gateway->Requests("generateContent").empty());
  }
  // One bad key among good ones: the client never sees it.
  {
    auto gateway = StartGateway(PlainConfig::Options());
    ASSERT_NE(gateway, nullptr);
    gateway->KeyState(TestKey(2), "suspended");
    for (int i = 0; i < 6; ++i)
      EXPECT_EQ(gateway->Chat(SimpleChat()).status, 200);
  }
}

TEST_F(CompletionTest, UnreadableUpstreamAnswersAre502) {
  for (const char* script : {"malformed=1", "cut_after=0", "drop=1"}) {
    SCOPED_TRACE(script);
    gateway().Script(script);
    HttpResponse response = gateway().Chat(SimpleChat());
    EXPECT_EQ(response.status, 502) << response;
    auto json = ParseJson(response.body);
    EXPECT_TRUE(json->IsString("/error/message")) << response.body;
    EXPECT_EQ(json->Str("/error/type"), "server_error") << response.body;
  }
  gateway().Script("status=200");
  EXPECT_EQ(gateway().Chat(SimpleChat()).status, 200) << "still serving";
}

// ---------------------------------------------------------------------------------------------
// Keep-alive on: newlines every 0.2 s until the answer.

struct KeepAliveConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=true", "NONSTREAM_KEEPALIVE_INTERVAL=0.2"};
    return options;
  }
};
using KeepAliveTest = GatewayTest<KeepAliveConfig>;

TEST_F(KeepAliveTest, SlowAnswerGetsLeadingNewlinesThenTheJson) {
  gateway().Script("delay_first_ms=700;text=Slow but sure.");
  Clock::time_point start = Clock::now();
  HttpResponse response = gateway().Chat(SimpleChat());
  int64_t elapsed = ElapsedMs(start);
  EXPECT_EQ(response.status, 200) << response;
  EXPECT_TRUE(response.chunked) << response;
  EXPECT_FALSE(response.HasHeader("content-length"));
  EXPECT_EQ(response.Header("content-type").value_or(""), "application/json");
  size_t newlines = response.body.find_first_not_of('\n');
  ASSERT_NE(newlines, std::string::npos) << response.body;
  EXPECT_GE(newlines, 2u) << "about one newline per 0.2 s of a 0.7 s wait";
  EXPECT_LE(newlines, 4u);
  EXPECT_GE(elapsed, 650);
  auto json = ParseJson(response.body);  // leading whitespace: still one JSON document
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_EQ(json->Str("/object"), "chat.completion");
  EXPECT_EQ(json->Str("/choices/0/message/content"), "Slow but sure.");
  EXPECT_EQ(json->Str("/choices/0/finish_reason"), "stop");
}

TEST_F(KeepAliveTest, FastAnswerIsAPlainResponse) {
  HttpResponse response = gateway().Chat(SimpleChat());
  EXPECT_EQ(response.status, 200) << response;
  EXPECT_FALSE(response.chunked) << response;
  EXPECT_TRUE(HasCommonHeaders(response));
  ASSERT_FALSE(response.body.empty());
  EXPECT_EQ(response.body[0], '{') << response.body;
  EXPECT_EQ(ParseJson(response.body)->Str("/object"), "chat.completion");
}

TEST_F(KeepAliveTest, FastUpstreamErrorsKeepTheirStatus) {
  gateway().Script("status=400");
  HttpResponse client_error = gateway().Chat(SimpleChat());
  ExpectUpstreamError(client_error, 400, "invalid_argument", "invalid argument");
  EXPECT_FALSE(client_error.chunked);
  gateway().Script("status=503");
  HttpResponse all_failed = gateway().Chat(SimpleChat());
  ExpectUpstreamError(all_failed, 503, "upstream_unavailable", "overloaded");
  EXPECT_FALSE(all_failed.chunked);
}

TEST(KeepAliveQuotaTest, FastQuotaErrorIs429WithRetryAfter) {
  auto gateway = StartGateway(KeepAliveConfig::Options());
  ASSERT_NE(gateway, nullptr);
  gateway->Script("status=429;retry_delay=30s");
  HttpResponse response = gateway->Chat(SimpleChat());
  ExpectUpstreamError(response, 429, "rate_limit_exceeded", "quota");
  EXPECT_FALSE(response.chunked) << response;
  EXPECT_EQ(response.Header("retry-after").value_or(""), "30") << response;
}

TEST_F(KeepAliveTest, SlowFailedTryIsRetriedBehindTheNewlines) {
  gateway().Script("delay_first_ms=700;status=503;times=1");
  HttpResponse response = gateway().Chat(SimpleChat());
  EXPECT_EQ(response.status, 200) << response;
  EXPECT_TRUE(response.chunked);
  EXPECT_GE(response.body.find_first_not_of('\n'), 2u) << response.body;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_EQ(json->Str("/object"), "chat.completion") << response.body;
  EXPECT_EQ(gateway().Requests("generateContent").size(), 2u);
}

TEST_F(KeepAliveTest, SlowUpstreamErrorArrivesAfterTheNewlines) {
  gateway().Script("delay_first_ms=700;status=503");
  HttpResponse response = gateway().Chat(SimpleChat());
  EXPECT_EQ(response.status, 200) << "the head was committed by the first newline";
  EXPECT_TRUE(response.chunked);
  EXPECT_GE(response.body.find_first_not_of('\n'), 2u) << response.body;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_NE(json->Str("/error/message").find("overloaded"), std::string::npos) << response.body;
  EXPECT_EQ(response.body.find(kTestKeyPrefix), std::string::npos);
  EXPECT_EQ(gateway().Requests("generateContent").size(), 3u) << "every key was tried";
}

// ---------------------------------------------------------------------------------------------
// Several candidates (the fake always answers one): a canned upstream.

TEST(CannedCompletionTest, TwoCandidatesBecomeTwoChoices) {
  CannedUpstream upstream;
  upstream.Add("/models?", CannedUpstream::JsonResponse(GeminiModelList({kModel})));
  upstream.Add(":generateContent", CannedUpstream::JsonResponse(R"({"candidates":[
      {"content":{"parts":[{"text":"First."}],"role":"model"},"finishReason":"STOP","index":0},
      {"content":{"parts":[{"text":"Second."}],"role":"model"},"finishReason":"MAX_TOKENS",
       "index":1}],
    "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":4,"totalTokenCount":9}})"));
  ASSERT_TRUE(upstream.Start());
  Gateway gateway;
  GatewayOptions options;
  options.start_fake = false;
  options.base_url = "http://127.0.0.1:" + std::to_string(upstream.port());
  options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false"};
  ASSERT_TRUE(gateway.Start(options));
  auto json = Completion(gateway.Chat(SimpleChat(kModel, R"(,"n":2)")));
  ASSERT_EQ(json->Size("/choices"), 2u) << json->Raw("");
  EXPECT_EQ(json->Int("/choices/0/index"), 0);
  EXPECT_EQ(json->Str("/choices/0/message/content"), "First.");
  EXPECT_EQ(json->Str("/choices/0/finish_reason"), "stop");
  EXPECT_EQ(json->Int("/choices/1/index"), 1);
  EXPECT_EQ(json->Str("/choices/1/message/content"), "Second.");
  EXPECT_EQ(json->Str("/choices/1/finish_reason"), "length");
  EXPECT_EQ(json->Int("/usage/prompt_tokens"), 5);
  EXPECT_EQ(json->Int("/usage/completion_tokens"), 4);
  EXPECT_EQ(json->Int("/usage/total_tokens"), 9);
  gateway.Stop();
}

}  // namespace
}  // namespace ringgate::testing
