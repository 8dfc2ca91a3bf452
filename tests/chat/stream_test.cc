// stream=true end to end: real streaming (streamGenerateContent transcoded chunk by chunk), fake
// streaming (keep-alive chunks, then the whole answer), upstream errors before and after the
// head, cut, malformed and unfinished streams, client disconnects cancelling the upstream, an
// unreachable upstream (502) and upstream timeouts (504).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "chat_harness.h"

namespace ringgate::testing {
namespace {

constexpr char kText[] = "One two three four five six seven eight nine ten.";

// A stream's events: `data` holds every payload; `chunks` the parsed JSON of all but [DONE].
struct Stream {
  std::vector<std::string> data;
  std::vector<std::unique_ptr<Json>> chunks;
  bool done = false;  // the last event is [DONE]

  std::string Content() const { return Concat("content"); }
  std::string Reasoning() const { return Concat("reasoning_content"); }
  std::string Concat(const std::string& field) const {
    std::string out;
    for (const auto& chunk : chunks) {
      if (chunk->IsString("/choices/0/delta/" + field))
        out += chunk->Str("/choices/0/delta/" + field);
    }
    return out;
  }
  // Index of the first chunk with an "error" member, or -1.
  int ErrorIndex() const {
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (chunks[i]->Has("/error"))
        return static_cast<int>(i);
    }
    return -1;
  }
};

Stream ParseStream(const HttpResponse& response) {
  Stream stream;
  EXPECT_EQ(response.status, 200) << response;
  EXPECT_EQ(response.Header("content-type").value_or(""), "text/event-stream") << response;
  EXPECT_TRUE(response.chunked) << response;
  EXPECT_EQ(response.Header("cache-control").value_or(""), "no-cache");
  stream.data = SseData(response.body);
  for (size_t i = 0; i < stream.data.size(); ++i) {
    const std::string& d = stream.data[i];
    if (d == "[DONE]") {
      EXPECT_EQ(i + 1, stream.data.size()) << "events after [DONE]:\n" << response.body;
      stream.done = true;
      continue;
    }
    auto json = ParseJson(d);
    EXPECT_TRUE(json->ok) << "event " << i << " is not JSON: " << d;
    stream.chunks.push_back(std::move(json));
  }
  EXPECT_TRUE(stream.done) << "no [DONE]:\n" << response.body;
  return stream;
}

// Every chunk: same id/created/model, object chat.completion.chunk.
void ExpectStableChunks(const Stream& stream, std::string_view model) {
  ASSERT_FALSE(stream.chunks.empty());
  std::string id = stream.chunks[0]->Str("/id");
  EXPECT_EQ(id.rfind("chatcmpl-", 0), 0u) << id;
  int64_t created = stream.chunks[0]->Int("/created");
  EXPECT_GT(created, 0);
  for (const auto& chunk : stream.chunks) {
    if (chunk->Has("/error"))
      continue;
    EXPECT_EQ(chunk->Str("/id"), id) << chunk->Raw("");
    EXPECT_EQ(chunk->Int("/created"), created);
    EXPECT_EQ(chunk->Str("/object"), "chat.completion.chunk");
    EXPECT_EQ(chunk->Str("/model"), model);
  }
}

void ExpectErrorResponse(const HttpResponse& response, int status, std::string_view code,
                         std::string_view message_part) {
  EXPECT_EQ(response.status, status) << response;
  EXPECT_EQ(response.Header("content-type").value_or(""), "application/json") << response;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  if (!code.empty()) {
    EXPECT_EQ(json->Str("/error/code"), code) << response.body;
  }
  EXPECT_TRUE(json->IsString("/error/type")) << response.body;
  EXPECT_NE(json->Str("/error/message").find(message_part), std::string::npos) << response.body;
  EXPECT_EQ(response.body.find(kTestKeyPrefix), std::string::npos) << response.body;
}

std::string StreamChat(std::string_view extra = "", std::string_view model = kModel) {
  return SimpleChat(model, std::string(R"(,"stream":true)") + std::string(extra));
}

// ---------------------------------------------------------------------------------------------
// Real streaming.

struct RealStreamConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.env = {"FAKE_STREAMING=false", "NONSTREAM_KEEPALIVE_ENABLED=false"};
    return options;
  }
};
using RealStreamTest = GatewayTest<RealStreamConfig>;

TEST_F(RealStreamTest, TextStreamIsTranscodedChunkByChunk) {
  gateway().Script(std::string("events=4;text=") + kText);
  HttpResponse response = gateway().Chat(StreamChat());
  Stream stream = ParseStream(response);
  ExpectStableChunks(stream, kModel);
  ASSERT_GE(stream.chunks.size(), 4u) << response.body;
  EXPECT_EQ(stream.chunks[0]->Str("/choices/0/delta/role"), "assistant") << stream.data[0];
  for (size_t i = 1; i < stream.chunks.size(); ++i)
    EXPECT_FALSE(stream.chunks[i]->Has("/choices/0/delta/role")) << stream.data[i];
  EXPECT_EQ(stream.Content(), kText);
  for (size_t i = 0; i + 1 < stream.chunks.size(); ++i) {
    EXPECT_TRUE(stream.chunks[i]->IsNull("/choices/0/finish_reason")) << stream.data[i];
    EXPECT_EQ(stream.chunks[i]->Int("/choices/0/index"), 0);
  }
  EXPECT_EQ(stream.chunks.back()->Str("/choices/0/finish_reason"), "stop") << response.body;
  EXPECT_FALSE(stream.chunks.back()->Has("/usage")) << "no usage without include_usage";
  EXPECT_EQ(stream.ErrorIndex(), -1);
  EXPECT_TRUE(response.body.size() >= 14 &&
              response.body.compare(response.body.size() - 14, 14, "data: [DONE]\n\n") == 0);

  std::vector<RecordedRequest> sent = gateway().Requests("streamGenerateContent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  EXPECT_TRUE(gateway().IsGatewayKey(sent[0].headers["x-goog-api-key"]))
      << sent[0].headers["x-goog-api-key"];
  EXPECT_TRUE(gateway().Requests("generateContent").empty());
}

TEST_F(RealStreamTest, ThoughtsStreamAsReasoningContent) {
  gateway().Script("thoughts=2;events=3;text=Final answer.");
  Stream stream = ParseStream(gateway().Chat(StreamChat()));
  ExpectStableChunks(stream, kModel);
  EXPECT_FALSE(stream.Reasoning().empty());
  EXPECT_EQ(stream.Content(), "Final answer.");
  // Reasoning comes before the answer.
  size_t last_reasoning = 0;
  size_t first_content = stream.chunks.size();
  for (size_t i = 0; i < stream.chunks.size(); ++i) {
    if (stream.chunks[i]->IsString("/choices/0/delta/reasoning_content"))
      last_reasoning = i;
    if (stream.chunks[i]->IsString("/choices/0/delta/content") &&
        !stream.chunks[i]->Str("/choices/0/delta/content").empty() && first_content > i)
      first_content = i;
  }
  EXPECT_LT(last_reasoning, first_content);
  EXPECT_EQ(stream.chunks.back()->Str("/choices/0/finish_reason"), "stop");
}

TEST_F(RealStreamTest, FunctionCallStreamsAsToolCallWithIndex) {
  gateway().Script("function_call=1;text_len=0");
  Stream stream = ParseStream(gateway().Chat(StreamChat()));
  ExpectStableChunks(stream, kModel);
  int found = 0;
  for (const auto& chunk : stream.chunks) {
    if (!chunk->Has("/choices/0/delta/tool_calls"))
      continue;
    ++found;
    std::string call = "/choices/0/delta/tool_calls/0";
    EXPECT_EQ(chunk->Int(call + "/index"), 0) << chunk->Raw("");
    EXPECT_FALSE(chunk->Str(call + "/id").empty());
    EXPECT_EQ(chunk->Str(call + "/type"), "function");
    EXPECT_EQ(chunk->Str(call + "/function/name"), "get_weather");
    ASSERT_TRUE(chunk->IsString(call + "/function/arguments"));
    EXPECT_EQ(ParseJson(chunk->Str(call + "/function/arguments"))->Str("/location"), "Paris");
  }
  EXPECT_EQ(found, 1);
  EXPECT_EQ(stream.chunks.back()->Str("/choices/0/finish_reason"), "tool_calls");
}

TEST_F(RealStreamTest, IncludeUsageAddsAUsageChunkBeforeDone) {
  gateway().Script("events=3;thoughts=1");
  Stream stream =
      ParseStream(gateway().Chat(StreamChat(R"(,"stream_options":{"include_usage":true})")));
  ExpectStableChunks(stream, kModel);
  ASSERT_GE(stream.chunks.size(), 2u);
  const Json& usage = *stream.chunks.back();
  EXPECT_EQ(usage.Size("/choices"), 0u) << usage.Raw("");
  EXPECT_TRUE(usage.Has("/choices")) << usage.Raw("");
  EXPECT_GT(usage.Int("/usage/prompt_tokens"), 0);
  EXPECT_GT(usage.Int("/usage/completion_tokens"), 0);
  EXPECT_EQ(usage.Int("/usage/total_tokens"),
            usage.Int("/usage/prompt_tokens") + usage.Int("/usage/completion_tokens"));
  EXPECT_EQ(usage.Int("/usage/completion_tokens_details/reasoning_tokens"), 48);
  for (size_t i = 0; i + 1 < stream.chunks.size(); ++i)
    EXPECT_TRUE(stream.chunks[i]->IsNull("/usage")) << stream.data[i];
  EXPECT_EQ(stream.chunks[stream.chunks.size() - 2]->Str("/choices/0/finish_reason"), "stop");
}

TEST_F(RealStreamTest, ClientErrorBeforeTheFirstByteKeepsItsStatus) {
  gateway().Script("status=400");
  HttpResponse response = gateway().Chat(StreamChat());
  ExpectErrorResponse(response, 400, "invalid_argument", "invalid argument");
  EXPECT_FALSE(response.HasHeader("retry-after")) << response;
  EXPECT_EQ(gateway().Requests("streamGenerateContent").size(), 1u) << "not retried";
}

// Before the first byte another key can still take over. Each case has a gateway of its own
// (a rejected key stays out, a 429 rests the key).
TEST(RealStreamRetryTest, FailedTryBeforeTheFirstByteIsRetriedWithAnotherKey) {
  for (const char* script : {"status=429_minute", "status=400_key", "status=403_suspended",
                             "status=500", "status=503", "cut_after=0"}) {
    SCOPED_TRACE(script);
    auto gateway = StartGateway(RealStreamConfig::Options());
    ASSERT_NE(gateway, nullptr);
    gateway->Script(std::string(script) + ";times=1");
    Stream stream = ParseStream(gateway->Chat(StreamChat()));
    ExpectStableChunks(stream, kModel);
    EXPECT_FALSE(stream.Content().empty());
    EXPECT_EQ(stream.ErrorIndex(), -1);
    std::vector<RecordedRequest> sent = gateway->Requests("streamGenerateContent");
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_NE(sent[0].key, sent[1].key);
  }
}

// Every key failed before the first byte: a plain JSON error with the most telling status.
TEST(RealStreamRetryTest, EveryKeyFailingBeforeTheFirstByteGivesTheMostTellingStatus) {
  struct Case {
    const char* script;
    int status;
    const char* code;
    const char* message_part;
  };
  for (const Case& c :
       {Case{"status=429_minute;retry_delay=20s", 429, "rate_limit_exceeded", "quota"},
        Case{"status=400_key", 503, "upstream_unavailable", "API key not valid"},
        Case{"status=403_suspended", 503, "upstream_unavailable", "AIzaSyFA..."},
        Case{"status=500", 502, "upstream_unavailable", "internal error"},
        Case{"status=503", 503, "upstream_unavailable", "overloaded"}}) {
    SCOPED_TRACE(c.script);
    auto gateway = StartGateway(RealStreamConfig::Options());
    ASSERT_NE(gateway, nullptr);
    gateway->Script(c.script);
    HttpResponse response = gateway->Chat(StreamChat());
    ExpectErrorResponse(response, c.status, c.code, c.message_part);
    EXPECT_FALSE(response.chunked) << response;
    EXPECT_EQ(response.HasHeader("retry-after"), c.status == 429) << response;
    EXPECT_EQ(gateway->Requests("streamGenerateContent").size(), 3u);
  }
  // The same from the key states: every key over its per-minute quota.
  auto gateway = StartGateway(RealStreamConfig::Options());
  ASSERT_NE(gateway, nullptr);
  for (const std::string& key : gateway->keys())
    gateway->KeyState(key, "minute_quota");
  HttpResponse response = gateway->Chat(StreamChat());
  ExpectErrorResponse(response, 429, "rate_limit_exceeded", "quota");
  EXPECT_EQ(response.Header("retry-after").value_or(""), "17") << "the fake's --retry-delay";
}

// An in-band error event followed by [DONE], and no successful finish.
void ExpectInBandError(const Stream& stream, std::string_view what) {
  int error = stream.ErrorIndex();
  ASSERT_GE(error, 0) << what << ": no error event";
  EXPECT_EQ(static_cast<size_t>(error), stream.chunks.size() - 1)
      << what << ": the error is the last chunk";
  EXPECT_TRUE(stream.chunks[error]->IsString("/error/message")) << stream.chunks[error]->Raw("");
  EXPECT_TRUE(stream.done) << what;
  for (const auto& chunk : stream.chunks) {
    EXPECT_NE(chunk->Str("/choices/0/finish_reason"), "stop")
        << what << ": a failed stream must not look finished: " << chunk->Raw("");
  }
}

TEST_F(RealStreamTest, StreamCutMidwayEndsWithAnErrorEvent) {
  gateway().Script("events=5;cut_after=2;text_len=100");
  HttpResponse response = gateway().Chat(StreamChat());
  Stream stream = ParseStream(response);
  ExpectStableChunks(stream, kModel);
  EXPECT_FALSE(stream.Content().empty()) << "the first events went through";
  ExpectInBandError(stream, "cut_after=2");
}

TEST_F(RealStreamTest, MalformedEventEndsWithAnErrorEvent) {
  gateway().Script("events=4;malformed=2;text_len=100");
  Stream stream = ParseStream(gateway().Chat(StreamChat()));
  ExpectInBandError(stream, "malformed=2");
  EXPECT_TRUE(HealthzOk(gateway().port()));
}

TEST_F(RealStreamTest, GeminiErrorEventInTheStreamBecomesAnErrorEvent) {
  gateway().Script("events=4;error_after=2;error_status=503;text_len=100");
  Stream stream = ParseStream(gateway().Chat(StreamChat()));
  ExpectInBandError(stream, "error_after=2");
  int error = stream.ErrorIndex();
  ASSERT_GE(error, 0);
  EXPECT_NE(stream.chunks[error]->Str("/error/message").find("overloaded"), std::string::npos)
      << stream.chunks[error]->Raw("");
}

// Reads raw bytes from `fd` until `needle` appears or `timeout` passes.
bool ReadUntil(int fd, std::string_view needle, std::string* data, Millis timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  char buffer[4096];
  while (data->find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    if (left <= 0)
      return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0)
      continue;
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0)
      return false;
    data->append(buffer, static_cast<size_t>(n));
  }
  return true;
}

TEST_F(RealStreamTest, ClientDisconnectCancelsTheUpstreamExchange) {
  gateway().Script("events=50;delay_ms=100;text_len=500");
  HttpConnection client = HttpConnection::Connect(gateway().port());
  ASSERT_TRUE(client.is_open()) << client.error();
  ASSERT_TRUE(client.Send(PostRequest("/v1/chat/completions", StreamChat(), Bearer())));
  std::string data;
  ASSERT_TRUE(ReadUntil(client.fd(), "\"content\"", &data, Millis(3000))) << data;
  int64_t open_while_streaming = gateway().Stats()->Int("/connections_open");
  ASSERT_GE(open_while_streaming, 2) << "ringgate's upstream connection and this stats call";
  Clock::time_point closed_at = Clock::now();
  client.Close();
  int64_t open_now = open_while_streaming;
  while (ElapsedMs(closed_at) < 1000) {
    open_now = gateway().Stats()->Int("/connections_open");
    if (open_now < open_while_streaming)
      break;
    std::this_thread::sleep_for(Millis(20));
  }
  EXPECT_LT(open_now, open_while_streaming)
      << "the upstream connection was still open 1 s after the client left";
  // The upstream stream was abandoned long before its 5 s: the fake's counters stay at one
  // stream request, and ringgate keeps serving.
  EXPECT_EQ(gateway().Requests("streamGenerateContent").size(), 1u);
  gateway().Script("status=200;events=1;delay_ms=0");
  Stream stream = ParseStream(gateway().Chat(StreamChat()));
  EXPECT_FALSE(stream.Content().empty());
}

// ---------------------------------------------------------------------------------------------
// Fake streaming (the default) with a 0.2 s keep-alive interval.

struct FakeStreamConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.env = {"FAKE_STREAMING=true", "FAKE_STREAMING_INTERVAL=0.2"};
    return options;
  }
};
using FakeStreamTest = GatewayTest<FakeStreamConfig>;

TEST_F(FakeStreamTest, KeepAliveChunksThenTheWholeAnswer) {
  gateway().Script(std::string("delay_first_ms=700;thoughts=1;text=") + kText);
  HttpResponse response = gateway().Chat(StreamChat(R"(,"stream_options":{"include_usage":true})"));
  Stream stream = ParseStream(response);
  ExpectStableChunks(stream, kModel);
  size_t keepalives = 0;
  while (keepalives < stream.chunks.size() &&
         stream.chunks[keepalives]->Raw("/choices/0/delta") == "{}") {
    EXPECT_TRUE(stream.chunks[keepalives]->IsNull("/choices/0/finish_reason"));
    ++keepalives;
  }
  EXPECT_GE(keepalives, 2u) << response.body;
  EXPECT_LE(keepalives, 4u) << response.body;
  // Then the whole answer at once (role first, reasoning, content, finish_reason on its last
  // chunk: a thought and the text are one chunk each), the usage chunk, [DONE].
  ASSERT_GE(stream.chunks.size(), keepalives + 2) << response.body;
  EXPECT_LE(stream.chunks.size(), keepalives + 3) << response.body;
  size_t usage_chunk = stream.chunks.size() - 1;
  EXPECT_EQ(stream.chunks[keepalives]->Str("/choices/0/delta/role"), "assistant")
      << stream.data[keepalives];
  std::string reasoning;
  std::string content;
  for (size_t i = keepalives; i < usage_chunk; ++i) {
    const Json& chunk = *stream.chunks[i];
    reasoning += chunk.IsString("/choices/0/delta/reasoning_content")
                     ? chunk.Str("/choices/0/delta/reasoning_content")
                     : "";
    content +=
        chunk.IsString("/choices/0/delta/content") ? chunk.Str("/choices/0/delta/content") : "";
    if (i + 1 < usage_chunk) {
      EXPECT_TRUE(chunk.IsNull("/choices/0/finish_reason")) << stream.data[i];
    }
  }
  EXPECT_EQ(content, kText);
  EXPECT_FALSE(reasoning.empty());
  EXPECT_EQ(stream.chunks[usage_chunk - 1]->Str("/choices/0/finish_reason"), "stop");
  EXPECT_EQ(stream.chunks[usage_chunk]->Size("/choices"), 0u);
  EXPECT_TRUE(stream.chunks[usage_chunk]->Has("/choices"));
  EXPECT_EQ(stream.chunks[usage_chunk]->Int("/usage/completion_tokens_details/reasoning_tokens"),
            48);
  EXPECT_GT(stream.chunks[usage_chunk]->Int("/usage/total_tokens"), 0);

  std::vector<RecordedRequest> sent = gateway().Requests("generateContent");
  ASSERT_EQ(sent.size(), 1u) << "fake streaming calls generateContent";
  EXPECT_EQ(sent[0].path, "/v1beta/models/gemini-2.5-flash:generateContent");
  EXPECT_TRUE(gateway().Requests("streamGenerateContent").empty());
}

// With include_usage every chunk carries "usage":null (wire-formats 1.4), keep-alives too.
TEST_F(FakeStreamTest, KeepAliveChunksCarryUsageNullWithIncludeUsage) {
  gateway().Script("delay_first_ms=500");
  Stream stream =
      ParseStream(gateway().Chat(StreamChat(R"(,"stream_options":{"include_usage":true})")));
  ASSERT_GE(stream.chunks.size(), 3u);
  for (size_t i = 0; i + 1 < stream.chunks.size(); ++i) {
    EXPECT_TRUE(stream.chunks[i]->IsNull("/usage"))
        << "chunk without usage:null: " << stream.data[i];
  }
}

TEST_F(FakeStreamTest, FastAnswerHasNoKeepAlives) {
  gateway().Script(std::string("text=") + kText);
  Stream stream = ParseStream(gateway().Chat(StreamChat()));
  ExpectStableChunks(stream, kModel);
  ASSERT_EQ(stream.chunks.size(), 1u);
  EXPECT_EQ(stream.chunks[0]->Str("/choices/0/delta/content"), kText);
  EXPECT_EQ(stream.chunks[0]->Str("/choices/0/finish_reason"), "stop");
}

TEST_F(FakeStreamTest, FastFunctionCallIsOneToolCallChunk) {
  gateway().Script("function_call=1;text_len=0");
  Stream stream = ParseStream(gateway().Chat(StreamChat()));
  ASSERT_EQ(stream.chunks.size(), 1u);
  EXPECT_EQ(stream.chunks[0]->Int("/choices/0/delta/tool_calls/0/index"), 0);
  EXPECT_EQ(stream.chunks[0]->Str("/choices/0/delta/tool_calls/0/function/name"), "get_weather");
  EXPECT_EQ(stream.chunks[0]->Str("/choices/0/finish_reason"), "tool_calls");
}

TEST_F(FakeStreamTest, FastErrorsKeepTheirStatus) {
  gateway().Script("status=400");
  ExpectErrorResponse(gateway().Chat(StreamChat()), 400, "invalid_argument", "invalid argument");
  gateway().Script("status=500");
  ExpectErrorResponse(gateway().Chat(StreamChat()), 502, "upstream_unavailable", "internal error");
  gateway().Script("status=500;times=1");
  Stream stream = ParseStream(gateway().Chat(StreamChat()));
  EXPECT_FALSE(stream.Content().empty()) << "the second key answered";
}

TEST(FakeStreamQuotaTest, FastQuotaErrorIs429WithRetryAfter) {
  auto gateway = StartGateway(FakeStreamConfig::Options());
  ASSERT_NE(gateway, nullptr);
  gateway->Script("status=429;retry_delay=20s");
  HttpResponse response = gateway->Chat(StreamChat());
  ExpectErrorResponse(response, 429, "rate_limit_exceeded", "quota");
  EXPECT_EQ(response.Header("retry-after").value_or(""), "20") << response;
}

TEST_F(FakeStreamTest, SlowErrorIsAnErrorEventAfterKeepAlives) {
  gateway().Script("delay_first_ms=700;status=503");
  Stream stream = ParseStream(gateway().Chat(StreamChat()));
  ExpectStableChunks(stream, kModel);
  EXPECT_GE(stream.chunks.size(), 3u);
  ExpectInBandError(stream, "slow 503");
  int error = stream.ErrorIndex();
  ASSERT_GE(error, 0);
  EXPECT_NE(stream.chunks[error]->Str("/error/message").find("overloaded"), std::string::npos);
  EXPECT_EQ(gateway().Requests("generateContent").size(), 3u) << "every key was tried";
}

// ---------------------------------------------------------------------------------------------
// Upstream timeouts.

struct TimeoutConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.env = {"FAKE_STREAMING=false", "NONSTREAM_KEEPALIVE_ENABLED=false",
                   "UPSTREAM_FIRST_BYTE_TIMEOUT=300ms", "UPSTREAM_IDLE_TIMEOUT=300ms"};
    return options;
  }
};
using TimeoutTest = GatewayTest<TimeoutConfig>;

TEST_F(TimeoutTest, FirstByteTimeoutIs504) {
  gateway().Script("delay_first_ms=3000");
  Clock::time_point start = Clock::now();
  HttpResponse plain = gateway().Chat(SimpleChat());
  EXPECT_LT(ElapsedMs(start), 2000);
  ExpectErrorResponse(plain, 504, "", "");
  start = Clock::now();
  HttpResponse stream = gateway().Chat(StreamChat());
  EXPECT_LT(ElapsedMs(start), 2000);
  ExpectErrorResponse(stream, 504, "", "");
}

TEST_F(TimeoutTest, StalledStreamEndsWithAnErrorEvent) {
  gateway().Script("events=4;stall_after=1;text_len=100");
  Clock::time_point start = Clock::now();
  Stream stream = ParseStream(gateway().Chat(StreamChat()));
  EXPECT_LT(ElapsedMs(start), 2000);
  EXPECT_FALSE(stream.Content().empty());
  ExpectInBandError(stream, "stall_after=1");
}

// ---------------------------------------------------------------------------------------------
// No upstream at all / no key.

TEST(UnreachableUpstreamTest, ChatIs502WithAnOpenAiBody) {
  // A bound socket that does not listen: connections to it are refused.
  int blocker = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(blocker, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(blocker, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(blocker, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Gateway gateway;
  GatewayOptions options;
  options.start_fake = false;
  options.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  options.probe_model.clear();
  options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false"};
  ASSERT_TRUE(gateway.Start(options));
  ExpectErrorResponse(gateway.Chat(SimpleChat()), 502, "", "");
  ExpectErrorResponse(gateway.Chat(StreamChat()), 502, "", "");
  // The model list could not be fetched: an empty list, not an error.
  HttpResponse models = gateway.Call(GetRequest("/v1/models", Bearer()));
  EXPECT_EQ(models.status, 200) << models;
  EXPECT_EQ(ParseJson(models.body)->Size("/data"), 0u) << models.body;
  gateway.Stop();
  close(blocker);
}

TEST(NoKeyTest, ChatIs503WithoutGeminiKeys) {
  Gateway gateway;
  GatewayOptions options;
  options.keys = 0;
  options.probe_model.clear();
  ASSERT_TRUE(gateway.Start(options));
  HttpResponse response = gateway.Chat(SimpleChat());
  ExpectErrorResponse(response, 503, "no_api_key", "GEMINI_API_KEYS");
  EXPECT_TRUE(gateway.Requests("generateContent").empty());
  gateway.Stop();
}

// ---------------------------------------------------------------------------------------------
// Streams the fake cannot produce: a canned upstream.

class CannedStreamTest : public ::testing::Test {
 protected:
  void StartWith(std::string stream_response) {
    upstream_.Add("/models?", CannedUpstream::JsonResponse(GeminiModelList({kModel})));
    upstream_.Add(":streamGenerateContent", std::move(stream_response));
    ASSERT_TRUE(upstream_.Start());
    GatewayOptions options;
    options.start_fake = false;
    options.base_url = "http://127.0.0.1:" + std::to_string(upstream_.port());
    options.env = {"FAKE_STREAMING=false"};
    ASSERT_TRUE(gateway_.Start(options));
  }
  void TearDown() override {
    gateway_.Stop();
    upstream_.Stop();
  }
  CannedUpstream upstream_;
  Gateway gateway_;
};

TEST_F(CannedStreamTest, CleanEndWithoutFinishReasonIsAnError) {
  StartWith(CannedUpstream::SseResponse(
      {R"({"candidates":[{"content":{"parts":[{"text":"Partial "}],"role":"model"},"index":0}]})",
       R"({"candidates":[{"content":{"parts":[{"text":"answer"}],"role":"model"},"index":0}]})"}));
  Stream stream = ParseStream(gateway_.Chat(StreamChat()));
  EXPECT_EQ(stream.Content(), "Partial answer");
  ExpectInBandError(stream, "no finishReason");
}

TEST_F(CannedStreamTest, TwoCandidatesStreamAsTwoChoiceIndexes) {
  StartWith(CannedUpstream::SseResponse(
      {R"({"candidates":[{"content":{"parts":[{"text":"A1 "}],"role":"model"},"index":0},)"
       R"({"content":{"parts":[{"text":"B1 "}],"role":"model"},"index":1}]})",
       R"({"candidates":[{"content":{"parts":[{"text":"A2"}],"role":"model"},)"
       R"("finishReason":"STOP","index":0},{"content":{"parts":[{"text":"B2"}],"role":"model"},)"
       R"("finishReason":"MAX_TOKENS","index":1}],)"
       R"("usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7}})"}));
  Stream stream = ParseStream(gateway_.Chat(StreamChat(R"(,"n":2)")));
  ExpectStableChunks(stream, kModel);
  std::string text[2];
  std::string finish[2];
  int roles[2] = {0, 0};
  for (const auto& chunk : stream.chunks) {
    for (size_t c = 0; c < chunk->Size("/choices"); ++c) {
      std::string base = "/choices/" + std::to_string(c);
      int64_t index = chunk->Int(base + "/index");
      ASSERT_TRUE(index == 0 || index == 1) << chunk->Raw("");
      if (chunk->IsString(base + "/delta/content"))
        text[index] += chunk->Str(base + "/delta/content");
      if (chunk->IsString(base + "/delta/role"))
        ++roles[index];
      if (chunk->IsString(base + "/finish_reason"))
        finish[index] = chunk->Str(base + "/finish_reason");
    }
  }
  EXPECT_EQ(text[0], "A1 A2");
  EXPECT_EQ(text[1], "B1 B2");
  EXPECT_EQ(roles[0], 1);
  EXPECT_EQ(roles[1], 1);
  EXPECT_EQ(finish[0], "stop");
  EXPECT_EQ(finish[1], "length");
  EXPECT_EQ(stream.ErrorIndex(), -1);
}

}  // namespace
}  // namespace ringgate::testing
