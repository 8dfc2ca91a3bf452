// GET /metrics and the logs of the real binary in front of fake-gemini: who may scrape, a scrape
// that parses and whose counters move with the requests (two cores), the access log, JSON and
// text log lines, and no whole key in the log after requests with a bad key.
#include <simdjson.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "chat_harness.h"
#include "prom_text.h"

namespace ringgate::testing {
namespace {

constexpr char kToken[] = "scrape-token-42";

std::string BearerHeader(std::string_view secret) {
  return "Authorization: Bearer " + std::string(secret) + "\r\n";
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string ScrapeErrors(const PromScrape& scrape) {
  std::string out;
  for (const std::string& e : scrape.errors)
    out += e + "\n";
  return out;
}

struct MetricsConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.threads = 2;
    // debug: the per-request "request answered" line is written out only at debug.
    options.env = {"METRICS_TOKEN=" + std::string(kToken), "ACCESS_LOG=true", "LOG_LEVEL=debug"};
    return options;
  }
};
using MetricsTest = GatewayTest<MetricsConfig>;

PromScrape Scrape(Gateway& gateway, std::string* text = nullptr) {
  HttpResponse response = gateway.Call(GetRequest("/metrics", BearerHeader(kToken)));
  EXPECT_EQ(response.status, 200) << response;
  EXPECT_EQ(response.Header("content-type").value_or(""),
            "text/plain; version=0.0.4; charset=utf-8");
  if (text != nullptr)
    *text = response.body;
  PromScrape scrape = ParsePromText(response.body);
  EXPECT_TRUE(scrape.errors.empty()) << ScrapeErrors(scrape) << response.body;
  return scrape;
}

TEST_F(MetricsTest, NeedsTheTokenOrTheWebPassword) {
  HttpResponse none = gateway().Call(GetRequest("/metrics"));
  EXPECT_EQ(none.status, 401) << none;
  EXPECT_GE(none.HeaderCount("www-authenticate"), 1) << none;
  EXPECT_EQ(none.body.find("ringgate_"), std::string::npos);
  HttpResponse wrong = gateway().Call(GetRequest("/metrics", BearerHeader("nope")));
  EXPECT_EQ(wrong.status, 401) << wrong;
  HttpResponse token = gateway().Call(GetRequest("/metrics", BearerHeader(kToken)));
  EXPECT_EQ(token.status, 200) << token;
  HttpResponse password = gateway().Call(GetRequest("/metrics", BearerHeader(kDefaultPassword)));
  EXPECT_EQ(password.status, 200) << password;
  // HTTP Basic, any user, the web password: "prometheus:123".
  HttpResponse basic =
      gateway().Call(GetRequest("/metrics", "Authorization: Basic cHJvbWV0aGV1czoxMjM=\r\n"));
  EXPECT_EQ(basic.status, 200) << basic;
  HttpResponse post = gateway().Call(PostRequest("/metrics", "", BearerHeader(kToken)));
  EXPECT_EQ(post.status, 405) << post;
}

TEST_F(MetricsTest, CountersMoveWithChatRequests) {
  const std::map<std::string, std::string> chat_ok = {
      {"route", "/v1/chat/completions"}, {"method", "POST"}, {"status", "200"}};
  PromScrape before = Scrape(gateway());
  // Held open across the scrape: at least one open client connection besides the scrape's.
  HttpConnection idle = HttpConnection::Connect(gateway().port());
  ASSERT_TRUE(idle.is_open());
  ASSERT_TRUE(idle.Send(GetRequest("/healthz")));
  HttpResponse health;
  ASSERT_EQ(idle.ReadResponse(&health), ReadStatus::kOk);

  constexpr int kChats = 8;
  for (int i = 0; i < kChats; ++i)
    ASSERT_EQ(gateway().Chat(SimpleChat()).status, 200) << "request " << i;
  ASSERT_EQ(gateway().Chat(SimpleChat(kModel, R"(,"stream":true)")).status, 200);
  ASSERT_EQ(gateway().Call(GetRequest("/no/such/route")).status, 404);

  std::string text;
  PromScrape after = Scrape(gateway(), &text);
  EXPECT_EQ(after.Count("ringgate_requests_total", chat_ok) -
                before.Count("ringgate_requests_total", chat_ok),
            kChats + 1);
  EXPECT_EQ(
      after.Count("ringgate_requests_total", {{"route", "unmatched"}, {"status", "404"}}) -
          before.Count("ringgate_requests_total", {{"route", "unmatched"}, {"status", "404"}}),
      1);
  EXPECT_GE(after.Count("ringgate_requests_total", {{"route", "/metrics"}, {"status", "200"}}), 1);
  EXPECT_GT(after.Sum("ringgate_tokens_total", {{"kind", "prompt"}}),
            before.Sum("ringgate_tokens_total", {{"kind", "prompt"}}));
  EXPECT_GT(after.Sum("ringgate_tokens_total", {{"kind", "completion"}}),
            before.Sum("ringgate_tokens_total", {{"kind", "completion"}}));
  EXPECT_GE(after.Sum("ringgate_upstream_request_duration_seconds_count") -
                before.Sum("ringgate_upstream_request_duration_seconds_count"),
            kChats + 1);
  EXPECT_GE(after.Sum("ringgate_upstream_time_to_first_byte_seconds_count") -
                before.Sum("ringgate_upstream_time_to_first_byte_seconds_count"),
            kChats + 1);
  EXPECT_GE(after.Count("ringgate_upstream_responses_total", {{"status", "200"}}) -
                before.Count("ringgate_upstream_responses_total", {{"status", "200"}}),
            kChats + 1);
  EXPECT_EQ(after.Sum("ringgate_gateway_overhead_seconds_count") -
                before.Sum("ringgate_gateway_overhead_seconds_count"),
            kChats + 1);
  EXPECT_GE(after.Sum("ringgate_open_connections"), 1);
  EXPECT_EQ(after.SeriesCount("ringgate_open_connections"), 2u) << "one per core";
  EXPECT_GE(after.Sum("ringgate_upstream_open_connections"), 1) << "keep-alive pool";
  EXPECT_EQ(after.Sum("ringgate_cores"), 2);
  EXPECT_EQ(after.Sum("ringgate_keys", {{"state", "healthy"}}), 3);
  EXPECT_EQ(after.SeriesCount("ringgate_key_health"), 3u);
  // Usage reaches the scraping core within a publication interval.
  PromScrape usage = after;
  for (int i = 0; i < 40 && usage.Count("ringgate_key_calls_today") < kChats + 1; ++i) {
    std::this_thread::sleep_for(Millis(50));
    usage = Scrape(gateway());
  }
  EXPECT_GE(usage.Count("ringgate_key_calls_today"), kChats + 1);
  EXPECT_EQ(text.find(kTestKeyPrefix), std::string::npos) << "a whole key in the scrape";
}

TEST_F(MetricsTest, AccessLogHasOneLinePerRequestWithoutQuery) {
  ASSERT_EQ(gateway().Chat(SimpleChat()).status, 200);
  std::string secret_query = std::string("/missing/page?key=") + kApiKey;
  ASSERT_EQ(gateway().Call(GetRequest(secret_query)).status, 404);
  std::string err = gateway().ringgate().Stderr();
  EXPECT_EQ(err.find(kTestKeyPrefix), std::string::npos) << "a whole key in the log:\n" << err;
  EXPECT_EQ(err.find("key=AIza"), std::string::npos) << "a query string in the log";
  simdjson::dom::parser parser;
  bool saw_chat = false;
  bool saw_missing = false;
  for (const std::string& line : Lines(err)) {
    simdjson::dom::element root;
    if (parser.parse(line).get(root) != simdjson::SUCCESS)
      continue;  // checked by the JSON test
    std::string_view msg;
    if (root["msg"].get_string().get(msg) || msg != "access")
      continue;
    std::string_view method, path, ip;
    int64_t status = 0, bytes = 0, core = -1;
    double duration = -1;
    ASSERT_FALSE(root["method"].get_string().get(method)) << line;
    ASSERT_FALSE(root["path"].get_string().get(path)) << line;
    ASSERT_FALSE(root["status_code"].get_int64().get(status)) << line;
    ASSERT_FALSE(root["bytes"].get_int64().get(bytes)) << line;
    ASSERT_FALSE(root["duration_ms"].get_double().get(duration)) << line;
    ASSERT_FALSE(root["client_ip"].get_string().get(ip)) << line;
    ASSERT_FALSE(root["core"].get_int64().get(core)) << line;
    EXPECT_EQ(ip, "127.0.0.1");
    EXPECT_TRUE(core == 0 || core == 1) << line;
    EXPECT_GE(duration, 0) << line;
    if (path == "/v1/chat/completions" && method == "POST" && status == 200) {
      saw_chat = true;
      EXPECT_GT(bytes, 100) << line;
    }
    if (path == "/missing/page") {
      saw_missing = true;
      EXPECT_EQ(status, 404) << line;
      EXPECT_EQ(method, "GET");
    }
  }
  EXPECT_TRUE(saw_chat) << err;
  EXPECT_TRUE(saw_missing) << err;
}

TEST_F(MetricsTest, EveryLogLineIsOneJsonObject) {
  ASSERT_EQ(gateway().Chat(SimpleChat()).status, 200);
  std::string err = gateway().ringgate().Stderr();
  std::vector<std::string> lines = Lines(err);
  ASSERT_GE(lines.size(), 3u) << err;
  simdjson::dom::parser parser;
  bool saw_request_line = false;
  for (const std::string& line : lines) {
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(line).get(root), simdjson::SUCCESS) << "not JSON: " << line;
    std::string_view ts, level, msg;
    EXPECT_FALSE(root["ts"].get_string().get(ts)) << line;
    EXPECT_FALSE(root["level"].get_string().get(level)) << line;
    EXPECT_FALSE(root["msg"].get_string().get(msg)) << line;
    EXPECT_FALSE(root["core"].error()) << line;
    // HAJIMI's per-request line: masked key, request type, model, status.
    std::string_view key, type, model;
    if (msg == "request answered" && !root["key"].get_string().get(key)) {
      saw_request_line = true;
      EXPECT_EQ(key, std::string_view(kApiKey).substr(0, 8)) << line;  // the key that answered
      EXPECT_FALSE(root["request_type"].get_string().get(type)) << line;
      EXPECT_TRUE(type == "non-stream" || type == "fake-stream") << line;
      EXPECT_FALSE(root["model"].get_string().get(model)) << line;
      EXPECT_EQ(model, kModel);
    }
  }
  EXPECT_TRUE(saw_request_line) << err;
}

TEST(ObserveLogTest, TextFormatLines) {
  GatewayOptions options;
  options.env = {"LOG_FORMAT=text", "LOG_LEVEL=debug"};
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  std::string err = gateway->ringgate().Stderr();
  std::vector<std::string> lines = Lines(err);
  ASSERT_FALSE(lines.empty());
  bool saw_request_line = false;
  for (const std::string& line : lines) {
    EXPECT_NE(line.front(), '{') << line;
    EXPECT_TRUE(line.size() > 25 && line[4] == '-' && line[10] == 'T' && line[23] == 'Z') << line;
    if (line.find(" request answered key=AIzaSyFA") != std::string::npos &&
        line.find("status_code=200") != std::string::npos)
      saw_request_line = true;
  }
  EXPECT_TRUE(saw_request_line) << err;
}

TEST(ObserveLogTest, BadKeysNeverReachTheLogWhole) {
  GatewayOptions options;
  options.keys = 3;
  options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false"};
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  // Turned bad after the model list was fetched: the chats meet them.
  gateway->KeyState(TestKey(1), "invalid");
  gateway->KeyState(TestKey(2), "invalid");
  for (int i = 0; i < 4; ++i)
    gateway->Chat(SimpleChat());
  // A key in the client's path and body too.
  gateway->Call(GetRequest(std::string("/v1beta/models/") + kApiKey));
  gateway->Chat(SimpleChat(kModel, "", std::string("my key is ") + TestKey(2)));
  std::string err = gateway->ringgate().Stderr();
  EXPECT_EQ(err.find(kTestKeyPrefix), std::string::npos) << "a whole key in the log:\n" << err;
  EXPECT_NE(err.find("\"status_code\":400"), std::string::npos)
      << "the invalid keys' answers are logged:\n"
      << err;
  EXPECT_NE(err.find("\"key\":\"AIzaSyFA\""), std::string::npos) << err;
}

}  // namespace
}  // namespace ringgate::testing
