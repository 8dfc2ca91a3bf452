// Tests of build/fake-gemini (tools/fake_gemini): starts the binary ($FAKE_GEMINI_BINARY) on
// 127.0.0.1:0 with the integration harness and checks every feature over raw sockets.
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../integration/harness.h"

namespace ringgate::testing {
namespace {

constexpr char kChat[] = R"({"contents":[{"role":"user","parts":[{"text":"Hello there"}]}]})";
constexpr char kModelPath[] = "/v1beta/models/gemini-2.5-flash";

// The harness runs $RINGGATE_BINARY; point it at the fake.
void UseFakeBinary() {
  const char* fake = getenv("FAKE_GEMINI_BINARY");
  ASSERT_NE(fake, nullptr) << "FAKE_GEMINI_BINARY is not set";
  setenv("RINGGATE_BINARY", fake, 1);
}

// A parsed JSON document; lookups by JSON pointer ("/candidates/0/finishReason").
struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool ok = false;

  bool Has(std::string_view pointer) const {
    simdjson::dom::element e;
    return ok && root.at_pointer(pointer).get(e) == simdjson::SUCCESS;
  }
  std::string Str(std::string_view pointer) const {
    std::string_view s;
    if (!ok || root.at_pointer(pointer).get_string().get(s))
      return "<missing " + std::string(pointer) + ">";
    return std::string(s);
  }
  int64_t Int(std::string_view pointer) const {
    int64_t v = -1;
    if (!ok || root.at_pointer(pointer).get_int64().get(v))
      return -1;
    return v;
  }
  bool Bool(std::string_view pointer) const {
    bool v = false;
    if (!ok || root.at_pointer(pointer).get_bool().get(v))
      return false;
    return v;
  }
  size_t Size(std::string_view pointer) const {
    simdjson::dom::array a;
    if (!ok || root.at_pointer(pointer).get_array().get(a))
      return 0;
    return a.size();
  }
};

std::unique_ptr<Json> ParseJson(std::string_view text) {
  auto json = std::make_unique<Json>();
  json->ok = json->parser.parse(text.data(), text.size()).get(json->root) == simdjson::SUCCESS;
  return json;
}

std::string Post(std::string_view target, std::string_view body, std::string_view headers = "") {
  std::string r = "POST " + std::string(target) + " HTTP/1.1\r\nHost: fake\r\n";
  r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += headers;
  r += "\r\n";
  r += body;
  return r;
}

std::string Get(std::string_view target, std::string_view headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: fake\r\n" + std::string(headers) +
         "\r\n";
}

std::string Delete(std::string_view target) {
  return "DELETE " + std::string(target) + " HTTP/1.1\r\nHost: fake\r\nContent-Length: 0\r\n\r\n";
}

// The SSE events of a stream body: each must be "data: {json}\r\n\r\n".
std::vector<std::string> SseEvents(const std::string& body) {
  std::vector<std::string> events;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\r\n\r\n", pos);
    if (end == std::string::npos) {
      events.push_back("<unterminated>" + body.substr(pos));
      break;
    }
    std::string event = body.substr(pos, end - pos);
    if (event.rfind("data: ", 0) == 0) {
      events.push_back(event.substr(6));
    } else {
      events.push_back("<not data>" + event);
    }
    pos = end + 4;
  }
  return events;
}

// Reads raw bytes until the server closes (or `timeout`).
std::string ReadUntilClose(HttpConnection& connection, Millis timeout, ReadStatus* last) {
  std::string data;
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left.count() <= 0) {
      *last = ReadStatus::kTimeout;
      return data;
    }
    ReadStatus status = connection.WaitForClose(left, &data);
    if (status != ReadStatus::kUnexpectedData) {
      *last = status;
      return data;
    }
  }
}

class FakeGeminiTest : public ::testing::Test {
 protected:
  void SetUp() override { UseFakeBinary(); }

  void StartFake(std::vector<std::string> args = {}) {
    ServerOptions options;
    options.args = std::move(args);
    ASSERT_TRUE(server_.Start(options));
  }

  HttpResponse Call(const std::string& request, Millis timeout = kDefaultReadTimeout) {
    HttpResponse response;
    ReadStatus status = RoundTrip(server_.port(), request, &response, "127.0.0.1", false, timeout);
    EXPECT_EQ(status, ReadStatus::kOk) << request;
    return response;
  }

  HttpResponse Generate(std::string_view script, std::string_view key = "k1",
                        std::string_view body = kChat) {
    std::string headers = "x-goog-api-key: " + std::string(key) + "\r\n";
    if (!script.empty())
      headers += "x-fake-script: " + std::string(script) + "\r\n";
    return Call(Post(std::string(kModelPath) + ":generateContent", body, headers));
  }

  HttpResponse Stream(std::string_view script, std::string_view key = "k1") {
    std::string headers = "x-goog-api-key: " + std::string(key) + "\r\n";
    if (!script.empty())
      headers += "x-fake-script: " + std::string(script) + "\r\n";
    return Call(Post(std::string(kModelPath) + ":streamGenerateContent?alt=sse", kChat, headers));
  }

  // Checks {"error":{"code":status,"message":...,"status":name}}.
  void ExpectGoogleError(const HttpResponse& response, int status, std::string_view name) {
    EXPECT_EQ(response.status, status) << response.body;
    auto json = ParseJson(response.body);
    ASSERT_TRUE(json->ok) << response.body;
    EXPECT_EQ(json->Int("/error/code"), status);
    EXPECT_EQ(json->Str("/error/status"), name);
    EXPECT_FALSE(json->Str("/error/message").empty());
  }

  ServerProcess server_;
};

// ---------------------------------------------------------------------------------------------

TEST_F(FakeGeminiTest, PrintsListeningLineAndAnswersHealthz) {
  StartFake();
  EXPECT_NE(server_.Stdout().find("listening on http://127.0.0.1:"), std::string::npos);
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(FakeGeminiTest, ModelsListPaginates) {
  StartFake();
  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  for (;;) {
    std::string target = "/v1beta/models?pageSize=5&key=k1";
    if (!token.empty())
      target += "&pageToken=" + token;
    HttpResponse response = Call(Get(target));
    ASSERT_EQ(response.status, 200) << response.body;
    auto json = ParseJson(response.body);
    ASSERT_TRUE(json->ok);
    size_t count = json->Size("/models");
    EXPECT_LE(count, 5u);
    for (size_t i = 0; i < count; ++i) {
      names.push_back(json->Str("/models/" + std::to_string(i) + "/name"));
    }
    ++pages;
    ASSERT_LT(pages, 20);
    if (!json->Has("/nextPageToken"))
      break;
    token = json->Str("/nextPageToken");
    EXPECT_FALSE(token.empty());
  }
  EXPECT_GE(pages, 3);
  EXPECT_GE(names.size(), 12u);
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end()) << "duplicate models";

  // The default page size (50) covers the whole list in one page, without a token.
  HttpResponse all = Call(Get("/v1beta/models", "x-goog-api-key: k1\r\n"));
  auto json = ParseJson(all.body);
  EXPECT_EQ(json->Size("/models"), names.size());
  EXPECT_FALSE(json->Has("/nextPageToken"));
  bool thinking_flash = false;
  bool embedding = false;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string base = "/models/" + std::to_string(i);
    if (json->Str(base + "/name") == "models/gemini-2.5-flash") {
      thinking_flash = json->Bool(base + "/thinking");
      EXPECT_EQ(json->Str(base + "/supportedGenerationMethods/0"), "generateContent");
    }
    if (json->Str(base + "/name") == "models/gemini-embedding-001") {
      embedding = json->Str(base + "/supportedGenerationMethods/0") == "embedContent";
    }
  }
  EXPECT_TRUE(thinking_flash);
  EXPECT_TRUE(embedding);

  // v1alpha serves the same list; a bad token is a 400.
  EXPECT_EQ(Call(Get("/v1alpha/models?key=k1")).status, 200);
  ExpectGoogleError(Call(Get("/v1beta/models?key=k1&pageToken=bogus")), 400, "INVALID_ARGUMENT");
}

TEST_F(FakeGeminiTest, ModelsGet) {
  StartFake();
  HttpResponse response = Call(Get("/v1beta/models/gemini-2.5-pro?key=k1"));
  ASSERT_EQ(response.status, 200);
  auto json = ParseJson(response.body);
  EXPECT_EQ(json->Str("/name"), "models/gemini-2.5-pro");
  EXPECT_TRUE(json->Bool("/thinking"));
  ExpectGoogleError(Call(Get("/v1beta/models/gemini-0?key=k1")), 404, "NOT_FOUND");
}

TEST_F(FakeGeminiTest, GenerateContentAnswersRealisticJson) {
  StartFake();
  HttpResponse response = Generate("");
  ASSERT_EQ(response.status, 200);
  EXPECT_TRUE(HasCommonHeaders(response));
  EXPECT_NE(response.Header("content-type").value_or("").find("application/json"),
            std::string::npos);
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_EQ(json->Str("/candidates/0/content/role"), "model");
  EXPECT_EQ(json->Str("/candidates/0/content/parts/0/text").size(), 32u);
  EXPECT_EQ(json->Str("/candidates/0/finishReason"), "STOP");
  EXPECT_EQ(json->Int("/candidates/0/index"), 0);
  EXPECT_GT(json->Int("/usageMetadata/promptTokenCount"), 0);
  EXPECT_GT(json->Int("/usageMetadata/candidatesTokenCount"), 0);
  EXPECT_EQ(json->Int("/usageMetadata/totalTokenCount"),
            json->Int("/usageMetadata/promptTokenCount") +
                json->Int("/usageMetadata/candidatesTokenCount"));
  EXPECT_EQ(json->Str("/modelVersion"), "gemini-2.5-flash");
  EXPECT_EQ(json->Str("/responseId").size(), 16u);

  // The key may come in the query; text_len, text and echo shape the answer.
  response = Call(Post(std::string(kModelPath) + ":generateContent?key=k2", kChat,
                       "x-fake-script: text_len=100\r\n"));
  EXPECT_EQ(ParseJson(response.body)->Str("/candidates/0/content/parts/0/text").size(), 100u);
  response = Generate("text=fixed answer");
  EXPECT_EQ(ParseJson(response.body)->Str("/candidates/0/content/parts/0/text"), "fixed answer");
  response = Generate("echo=1");
  EXPECT_EQ(ParseJson(response.body)->Str("/candidates/0/content/parts/0/text"), "Hello there");

  // v1alpha too; an unknown model is a Google 404; a bad body a 400.
  EXPECT_EQ(Call(Post("/v1alpha/models/gemini-2.5-flash:generateContent?key=k", kChat)).status,
            200);
  HttpResponse missing = Call(Post("/v1beta/models/gemini-9:generateContent?key=k", kChat));
  ExpectGoogleError(missing, 404, "NOT_FOUND");
  EXPECT_NE(missing.body.find("models/gemini-9 is not found for API version v1beta"),
            std::string::npos);
  ExpectGoogleError(Generate("", "k1", "{not json"), 400, "INVALID_ARGUMENT");
  ExpectGoogleError(Generate("", "k1", "{\"contents\":[]}"), 400, "INVALID_ARGUMENT");
}

TEST_F(FakeGeminiTest, ThoughtsFunctionCallEmptySafetyAndMaxTokens) {
  StartFake();
  auto json = ParseJson(Generate("thoughts=2").body);
  EXPECT_TRUE(json->Bool("/candidates/0/content/parts/0/thought"));
  EXPECT_FALSE(json->Bool("/candidates/0/content/parts/1/thought"));
  EXPECT_GT(json->Int("/usageMetadata/thoughtsTokenCount"), 0);
  EXPECT_TRUE(json->Has("/candidates/0/content/parts/1/thoughtSignature"));

  json = ParseJson(Generate("function_call=lookup;text_len=0").body);
  EXPECT_EQ(json->Str("/candidates/0/content/parts/0/functionCall/name"), "lookup");
  EXPECT_EQ(json->Str("/candidates/0/content/parts/0/functionCall/args/location"), "Paris");
  EXPECT_EQ(json->Size("/candidates/0/content/parts"), 1u);

  json = ParseJson(Generate("empty=parts").body);
  EXPECT_TRUE(json->Has("/candidates/0/content"));
  EXPECT_FALSE(json->Has("/candidates/0/content/parts"));
  json = ParseJson(Generate("empty=text").body);
  EXPECT_EQ(json->Str("/candidates/0/content/parts/0/text"), "");

  json = ParseJson(Generate("safety=prompt").body);
  EXPECT_EQ(json->Str("/promptFeedback/blockReason"), "SAFETY");
  EXPECT_FALSE(json->Has("/candidates"));
  json = ParseJson(Generate("safety=candidate").body);
  EXPECT_EQ(json->Str("/candidates/0/finishReason"), "SAFETY");
  EXPECT_FALSE(json->Has("/candidates/0/content"));

  json = ParseJson(Generate("finish=MAX_TOKENS").body);
  EXPECT_EQ(json->Str("/candidates/0/finishReason"), "MAX_TOKENS");

  HttpResponse malformed = Generate("malformed=1");
  EXPECT_EQ(malformed.status, 200);
  EXPECT_FALSE(ParseJson(malformed.body)->ok);

  ExpectGoogleError(Generate("nonsense=1"), 400, "INVALID_ARGUMENT");
}

TEST_F(FakeGeminiTest, ScriptedErrorStatuses) {
  StartFake();
  ExpectGoogleError(Generate("status=500"), 500, "INTERNAL");
  HttpResponse overloaded = Generate("status=503");
  ExpectGoogleError(overloaded, 503, "UNAVAILABLE");
  EXPECT_NE(overloaded.body.find("The model is overloaded"), std::string::npos);
  HttpResponse minute = Generate("status=429_minute;retry_delay=5s");
  ExpectGoogleError(minute, 429, "RESOURCE_EXHAUSTED");
  auto json = ParseJson(minute.body);
  EXPECT_EQ(json->Str("/error/details/0/@type"), "type.googleapis.com/google.rpc.QuotaFailure");
  EXPECT_EQ(json->Str("/error/details/0/violations/0/quotaId"),
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
  EXPECT_EQ(json->Str("/error/details/0/violations/0/quotaDimensions/model"), "gemini-2.5-flash");
  EXPECT_EQ(json->Str("/error/details/2/@type"), "type.googleapis.com/google.rpc.RetryInfo");
  EXPECT_EQ(json->Str("/error/details/2/retryDelay"), "5s");
  json = ParseJson(Generate("status=429_day").body);
  EXPECT_EQ(json->Str("/error/details/0/violations/0/quotaId"),
            "GenerateRequestsPerDayPerProjectPerModel-FreeTier");
  EXPECT_EQ(json->Str("/error/details/1/retryDelay"), "17s");
  // Errors before a stream are ordinary HTTP errors too.
  ExpectGoogleError(Stream("status=503"), 503, "UNAVAILABLE");
}

TEST_F(FakeGeminiTest, KeysFromFlags) {
  StartFake({"--valid-keys", "good,good2", "--invalid-keys", "bad", "--suspended-keys", "susp",
             "--minute-quota-keys", "mq", "--day-quota-keys", "dq", "--retry-delay", "23s"});
  EXPECT_EQ(Generate("", "good").status, 200);
  EXPECT_EQ(Generate("", "good2").status, 200);

  HttpResponse missing = Call(Post(std::string(kModelPath) + ":generateContent", kChat));
  ExpectGoogleError(missing, 403, "PERMISSION_DENIED");
  EXPECT_NE(missing.body.find("Method doesn't allow unregistered callers"), std::string::npos);

  HttpResponse bad = Generate("", "bad");
  ExpectGoogleError(bad, 400, "INVALID_ARGUMENT");
  auto json = ParseJson(bad.body);
  EXPECT_EQ(json->Str("/error/details/0/reason"), "API_KEY_INVALID");
  EXPECT_EQ(json->Str("/error/message"), "API key not valid. Please pass a valid API key.");
  // Keys not listed are invalid once a key flag is given.
  ExpectGoogleError(Generate("", "stranger"), 400, "INVALID_ARGUMENT");

  HttpResponse suspended = Generate("", "susp");
  ExpectGoogleError(suspended, 403, "PERMISSION_DENIED");
  EXPECT_EQ(ParseJson(suspended.body)->Str("/error/details/0/reason"), "CONSUMER_SUSPENDED");

  json = ParseJson(Generate("", "mq").body);
  EXPECT_EQ(json->Int("/error/code"), 429);
  EXPECT_EQ(json->Str("/error/details/0/violations/0/quotaId"),
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
  EXPECT_EQ(json->Str("/error/details/2/retryDelay"), "23s");
  json = ParseJson(Generate("", "dq").body);
  EXPECT_EQ(json->Str("/error/details/0/violations/0/quotaId"),
            "GenerateRequestsPerDayPerProjectPerModel-FreeTier");
  // Quota does not stop models.list; a bad key does.
  EXPECT_EQ(Call(Get("/v1beta/models?key=dq")).status, 200);
  ExpectGoogleError(Call(Get("/v1beta/models?key=bad")), 400, "INVALID_ARGUMENT");
}

TEST_F(FakeGeminiTest, KeysFileAndRuntimeChanges) {
  char path[] = "/tmp/fake-gemini-keys-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string content = "# comment\nfile-good valid\nfile-bad invalid\nfile-day day_quota\n";
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  StartFake({"--keys-file", path, "--any-key-valid"});
  unlink(path);
  EXPECT_EQ(Generate("", "file-good").status, 200);
  EXPECT_EQ(Generate("", "anything").status, 200);  // --any-key-valid
  EXPECT_EQ(Generate("", "file-bad").status, 400);
  EXPECT_EQ(Generate("", "file-day").status, 429);

  HttpResponse set =
      Call(Post("/_fake/keys", R"({"file-good":"minute_quota","file-bad":"valid"})"));
  EXPECT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(Generate("", "file-good").status, 429);
  EXPECT_EQ(Generate("", "file-bad").status, 200);

  // Per (key, model): only that model is exhausted.
  set = Call(Post("/_fake/keys", R"({"key":"k9","model":"gemini-2.5-flash","state":"day_quota"})"));
  EXPECT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(Generate("", "k9").status, 429);
  EXPECT_EQ(Call(Post("/v1beta/models/gemini-2.5-pro:generateContent?key=k9", kChat)).status, 200);
  EXPECT_NE(Call(Get("/_fake/keys")).body.find("\"k9\":{\"gemini-2.5-flash\":\"day_quota\"}"),
            std::string::npos);

  ExpectGoogleError(Call(Post("/_fake/keys", R"({"x":"bogus"})")), 400, "INVALID_ARGUMENT");
  EXPECT_EQ(Call(Delete("/_fake/keys")).status, 200);
  EXPECT_EQ(Generate("", "file-good").status, 200);
  EXPECT_EQ(Generate("", "k9").status, 200);
}

TEST_F(FakeGeminiTest, StreamSseFraming) {
  StartFake();
  HttpResponse response = Stream("events=4;thoughts=1;text_len=40");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_TRUE(response.chunked);
  EXPECT_EQ(response.Header("content-type").value_or(""), "text/event-stream");
  std::vector<std::string> events = SseEvents(response.body);
  ASSERT_EQ(events.size(), 5u) << response.body;
  std::string text;
  std::string id;
  for (size_t i = 0; i < events.size(); ++i) {
    auto json = ParseJson(events[i]);
    ASSERT_TRUE(json->ok) << events[i];
    if (i == 0) {
      EXPECT_TRUE(json->Bool("/candidates/0/content/parts/0/thought"));
      id = json->Str("/responseId");
    } else {
      text += json->Str("/candidates/0/content/parts/0/text");
    }
    EXPECT_EQ(json->Str("/responseId"), id);
    EXPECT_EQ(json->Has("/candidates/0/finishReason"), i + 1 == events.size());
  }
  EXPECT_EQ(text.size(), 40u);
  auto last = ParseJson(events.back());
  EXPECT_EQ(last->Str("/candidates/0/finishReason"), "STOP");
  EXPECT_GT(last->Int("/usageMetadata/candidatesTokenCount"), 0);
  EXPECT_GT(last->Int("/usageMetadata/thoughtsTokenCount"), 0);
  EXPECT_EQ(response.body.find("[DONE]"), std::string::npos);

  // Function call in the last event; a prompt block is one event without candidates.
  events = SseEvents(Stream("events=2;function_call=get_weather").body);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(ParseJson(events[1])->Str("/candidates/0/content/parts/1/functionCall/name"),
            "get_weather");
  events = SseEvents(Stream("safety=prompt").body);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(ParseJson(events[0])->Str("/promptFeedback/blockReason"), "SAFETY");

  // Without alt=sse the same endpoint streams one JSON array.
  HttpResponse array = Call(Post(std::string(kModelPath) + ":streamGenerateContent?key=k", kChat,
                                 "x-fake-script: events=3\r\n"));
  auto json = ParseJson(array.body);
  ASSERT_TRUE(json->ok) << array.body;
  EXPECT_EQ(json->Size(""), 3u);
}

TEST_F(FakeGeminiTest, StreamMalformedEventAndInBandError) {
  StartFake();
  std::vector<std::string> events = SseEvents(Stream("events=3;malformed=2").body);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(ParseJson(events[0])->ok);
  EXPECT_FALSE(ParseJson(events[1])->ok);
  EXPECT_TRUE(ParseJson(events[2])->ok);

  events = SseEvents(Stream("events=3;error_after=1;error_status=503").body);
  ASSERT_EQ(events.size(), 2u);
  auto json = ParseJson(events[1]);
  EXPECT_EQ(json->Int("/error/code"), 503);
  EXPECT_EQ(json->Str("/error/status"), "UNAVAILABLE");
}

TEST_F(FakeGeminiTest, StreamDelays) {
  StartFake();
  HttpConnection connection = HttpConnection::Connect(server_.port());
  ASSERT_TRUE(connection.is_open());
  Clock::time_point start = Clock::now();
  ASSERT_TRUE(
      connection.Send(Post(std::string(kModelPath) + ":streamGenerateContent?alt=sse", kChat,
                           "x-goog-api-key: k\r\n"
                           "x-fake-script: events=3;delay_first_ms=300;delay_ms=100\r\n")));
  // Nothing arrives before the first delay.
  EXPECT_FALSE(connection.WaitReadable(Millis(200)));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  int64_t elapsed = ElapsedMs(start);
  EXPECT_GE(elapsed, 480);  // 300 + 2 * 100, less timer slack
  EXPECT_LT(elapsed, 3000);
  EXPECT_EQ(SseEvents(response.body).size(), 3u);

  // The same delay before a non-stream answer.
  start = Clock::now();
  EXPECT_EQ(Generate("delay_first_ms=250").status, 200);
  EXPECT_GE(ElapsedMs(start), 240);
  // A whole answer takes as long as its stream would: 100 + 2 * 100.
  start = Clock::now();
  EXPECT_EQ(Generate("events=3;delay_first_ms=100;delay_ms=100").status, 200);
  EXPECT_GE(ElapsedMs(start), 290);
}

TEST_F(FakeGeminiTest, StreamCutMidWay) {
  StartFake();
  HttpConnection connection = HttpConnection::Connect(server_.port());
  ASSERT_TRUE(
      connection.Send(Post(std::string(kModelPath) + ":streamGenerateContent?alt=sse", kChat,
                           "x-goog-api-key: k\r\nx-fake-script: events=5;cut_after=2\r\n")));
  ReadStatus last;
  std::string raw = ReadUntilClose(connection, Millis(3000), &last);
  EXPECT_TRUE(last == ReadStatus::kClosed || last == ReadStatus::kReset) << last;
  EXPECT_EQ(raw.rfind("HTTP/1.1 200", 0), 0u) << raw;
  size_t count = 0;
  for (size_t pos = raw.find("data: "); pos != std::string::npos;
       pos = raw.find("data: ", pos + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 2u) << raw;
  EXPECT_EQ(raw.find("\r\n0\r\n\r\n"), std::string::npos) << "the stream must not end cleanly";
  EXPECT_EQ(raw.find("finishReason"), std::string::npos);

  // A non-stream answer cut: a truncated body.
  HttpConnection second = HttpConnection::Connect(server_.port());
  ASSERT_TRUE(second.Send(Post(std::string(kModelPath) + ":generateContent", kChat,
                               "x-goog-api-key: k\r\nx-fake-script: cut_after=0\r\n")));
  HttpResponse response;
  EXPECT_EQ(second.ReadResponse(&response), ReadStatus::kTruncated);
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(FakeGeminiTest, StallHoldsUntilClientLeaves) {
  StartFake();
  HttpConnection connection = HttpConnection::Connect(server_.port());
  ASSERT_TRUE(connection.Send(Post(std::string(kModelPath) + ":streamGenerateContent?alt=sse",
                                   kChat, "x-goog-api-key: k\r\nx-fake-script: stall=1\r\n")));
  ReadStatus last;
  std::string raw = ReadUntilClose(connection, Millis(600), &last);
  EXPECT_EQ(last, ReadStatus::kTimeout);
  EXPECT_EQ(raw.rfind("HTTP/1.1 200", 0), 0u) << raw;
  EXPECT_EQ(raw.find("data: "), std::string::npos);
  connection.Close();

  // Stall after one event.
  HttpConnection second = HttpConnection::Connect(server_.port());
  ASSERT_TRUE(second.Send(Post(std::string(kModelPath) + ":streamGenerateContent?alt=sse", kChat,
                               "x-goog-api-key: k\r\nx-fake-script: events=3;stall_after=1\r\n")));
  raw = ReadUntilClose(second, Millis(600), &last);
  EXPECT_EQ(last, ReadStatus::kTimeout);
  EXPECT_NE(raw.find("data: "), std::string::npos);
  second.Close();
  // The fake is still fine (the stalled answers were freed when their clients left).
  EXPECT_TRUE(HealthzOk(server_.port()));
  EXPECT_EQ(Generate("").status, 200);
}

TEST_F(FakeGeminiTest, DropClosesWithoutAnswer) {
  StartFake();
  HttpConnection connection = HttpConnection::Connect(server_.port());
  ASSERT_TRUE(connection.Send(Post(std::string(kModelPath) + ":generateContent", kChat,
                                   "x-goog-api-key: k\r\nx-fake-script: drop=1\r\n")));
  ReadStatus last;
  std::string raw = ReadUntilClose(connection, Millis(3000), &last);
  EXPECT_TRUE(last == ReadStatus::kClosed || last == ReadStatus::kReset) << last;
  EXPECT_TRUE(raw.empty()) << raw;
}

TEST_F(FakeGeminiTest, DefaultScriptControlEndpoint) {
  StartFake();
  EXPECT_EQ(Call(Post("/_fake/script", R"({"status":"503","delay_first_ms":0})")).status, 200);
  ExpectGoogleError(Generate(""), 503, "UNAVAILABLE");
  // The header wins over the default.
  EXPECT_EQ(Generate("status=200").status, 200);
  EXPECT_NE(Call(Get("/_fake/script")).body.find("status=503"), std::string::npos);
  EXPECT_EQ(Call(Delete("/_fake/script")).status, 200);
  EXPECT_EQ(Generate("").status, 200);

  // key=value syntax, limited to a number of requests.
  EXPECT_EQ(Call(Post("/_fake/script", "status=429_minute;times=2")).status, 200);
  EXPECT_EQ(Generate("").status, 429);
  EXPECT_EQ(Generate("").status, 429);
  EXPECT_EQ(Generate("").status, 200);

  ExpectGoogleError(Call(Post("/_fake/script", "bogus=1")), 400, "INVALID_ARGUMENT");
}

TEST_F(FakeGeminiTest, RequestLogRecordsVerbatim) {
  StartFake();
  EXPECT_EQ(Call(Delete("/_fake/requests")).status, 200);
  std::string body = R"({"contents":[{"parts":[{"text":"quote \" and é"}]}]})";
  Call(Post(std::string(kModelPath) + ":generateContent?key=secret-key", body,
            "X-Custom: one\r\nx-custom: two\r\n"));
  Call(Get("/v1beta/models?pageSize=2", "x-goog-api-key: header-key\r\n"));
  HttpResponse log = Call(Get("/_fake/requests"));
  auto json = ParseJson(log.body);
  ASSERT_TRUE(json->ok) << log.body;
  ASSERT_EQ(json->Size("/requests"), 2u);
  EXPECT_EQ(json->Str("/requests/0/method"), "POST");
  EXPECT_EQ(json->Str("/requests/0/path"),
            "/v1beta/models/gemini-2.5-flash:generateContent?key=secret-key");
  EXPECT_EQ(json->Str("/requests/0/key"), "secret-key");
  EXPECT_EQ(json->Str("/requests/0/model"), "gemini-2.5-flash");
  EXPECT_EQ(json->Str("/requests/0/api_method"), "generateContent");
  EXPECT_EQ(json->Str("/requests/0/headers/x-custom"), "one, two");
  EXPECT_EQ(json->Str("/requests/0/headers/content-type"), "application/json");
  EXPECT_EQ(json->Str("/requests/0/body"), body);
  EXPECT_EQ(json->Str("/requests/1/key"), "header-key");
  EXPECT_EQ(json->Str("/requests/1/headers/x-goog-api-key"), "header-key");
  EXPECT_EQ(Call(Delete("/_fake/requests")).status, 200);
  EXPECT_EQ(ParseJson(Call(Get("/_fake/requests")).body)->Size("/requests"), 0u);
}

TEST_F(FakeGeminiTest, RequestLogKeepsTheLastN) {
  StartFake({"--record", "3"});
  for (int i = 0; i < 5; ++i)
    Call(Get("/v1beta/models?key=k" + std::to_string(i)));
  auto json = ParseJson(Call(Get("/_fake/requests")).body);
  ASSERT_EQ(json->Size("/requests"), 3u);
  EXPECT_EQ(json->Str("/requests/0/key"), "k2");
  EXPECT_EQ(json->Str("/requests/2/key"), "k4");
}

TEST_F(FakeGeminiTest, StatsCountConnections) {
  StartFake();
  EXPECT_EQ(Call(Delete("/_fake/stats")).status, 200);  // connection 1 (before the baseline)
  HttpConnection connection = HttpConnection::Connect(server_.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(connection.Send(Post(std::string(kModelPath) + ":generateContent?key=k", kChat)));
    HttpResponse response;
    ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
    EXPECT_EQ(response.status, 200);
  }
  auto json = ParseJson(Call(Get("/_fake/stats")).body);  // one more connection
  ASSERT_TRUE(json->ok);
  EXPECT_EQ(json->Int("/requests"), 3);
  EXPECT_EQ(json->Int("/by_method/generateContent"), 3);
  EXPECT_EQ(json->Int("/connections_accepted"), 2);
  EXPECT_EQ(json->Int("/threads"), 1);
}

TEST_F(FakeGeminiTest, CountTokensAndEmbeddings) {
  StartFake();
  HttpResponse count = Call(Post(std::string(kModelPath) + ":countTokens?key=k", kChat));
  ASSERT_EQ(count.status, 200);
  auto json = ParseJson(count.body);
  EXPECT_GT(json->Int("/totalTokens"), 0);
  EXPECT_EQ(json->Int("/promptTokensDetails/0/tokenCount"), json->Int("/totalTokens"));
  count =
      Call(Post(std::string(kModelPath) + ":countTokens?key=k",
                std::string(R"({"generateContentRequest":{"model":"models/gemini-2.5-flash",)") +
                    R"("contents":[{"parts":[{"text":"abcdefgh"}]}]}})"));
  EXPECT_EQ(ParseJson(count.body)->Int("/totalTokens"), 2);

  HttpResponse embed = Call(Post("/v1beta/models/gemini-embedding-001:embedContent?key=k",
                                 R"({"content":{"parts":[{"text":"hello"}]}})"));
  ASSERT_EQ(embed.status, 200) << embed.body;
  EXPECT_EQ(ParseJson(embed.body)->Size("/embedding/values"), 3072u);
  embed = Call(Post("/v1beta/models/gemini-embedding-001:embedContent?key=k",
                    R"({"content":{"parts":[{"text":"hello"}]},"outputDimensionality":768})"));
  EXPECT_EQ(ParseJson(embed.body)->Size("/embedding/values"), 768u);

  HttpResponse batch = Call(Post(
      "/v1beta/models/text-embedding-004:batchEmbedContents?key=k",
      R"({"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]}},)"
      R"({"model":"models/text-embedding-004","content":{"parts":[{"text":"b"}]},)"
      R"("outputDimensionality":16}]})"));
  ASSERT_EQ(batch.status, 200) << batch.body;
  json = ParseJson(batch.body);
  ASSERT_EQ(json->Size("/embeddings"), 2u);
  EXPECT_EQ(json->Size("/embeddings/0/values"), 768u);
  EXPECT_EQ(json->Size("/embeddings/1/values"), 16u);

  // A chat model does not embed; an embedding model does not chat.
  ExpectGoogleError(Call(Post(std::string(kModelPath) + ":embedContent?key=k",
                              R"({"content":{"parts":[{"text":"x"}]}})")),
                    404, "NOT_FOUND");
  ExpectGoogleError(Call(Post("/v1beta/models/gemini-embedding-001:generateContent?key=k", kChat)),
                    404, "NOT_FOUND");
}

TEST_F(FakeGeminiTest, BadTlsFlagsFailClearly) {
  UseFakeBinary();
  ProcessResult result =
      RunBinary({"--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"});
  EXPECT_TRUE(result.exited);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("/nonexistent/c.pem"), std::string::npos) << result.err;
  result = RunBinary({"--tls-cert", "/nonexistent/c.pem"});
  EXPECT_EQ(result.exit_code, 2);
  result = RunBinary({"--bogus"});
  EXPECT_NE(result.exit_code, 0);
  result = RunBinary({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("--keys-file"), std::string::npos);
}

TEST_F(FakeGeminiTest, SigtermExitsZeroEvenWithAStall) {
  StartFake({"--threads", "2", "--log-level", "info"});
  HttpConnection connection = HttpConnection::Connect(server_.port());
  ASSERT_TRUE(connection.Send(Post(std::string(kModelPath) + ":streamGenerateContent?alt=sse",
                                   kChat, "x-goog-api-key: k\r\nx-fake-script: stall=1\r\n")));
  ASSERT_TRUE(connection.WaitReadable(Millis(2000)));
  EXPECT_TRUE(HealthzOk(server_.port()));
  Clock::time_point start = Clock::now();
  int status = server_.Stop(Millis(5000));
  EXPECT_TRUE(WIFEXITED(status)) << DescribeWaitStatus(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(ElapsedMs(start), 4000);
}

}  // namespace
}  // namespace ringgate::testing
