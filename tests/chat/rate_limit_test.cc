// Per-IP rate limits end to end (real ringgate in front of fake-gemini): MAX_REQUESTS_PER_MINUTE
// and MAX_REQUESTS_PER_DAY_PER_IP on the chat routes (429, Retry-After, OpenAI error body, CORS),
// TRUSTED_PROXIES and X-Forwarded-For (other clients counted apart, spoofing ignored), the routes
// that are not limited, 0 as "no limit", and the count shared across cores (--threads 2).
//
// Every test starts its own gateway (fresh counts) and then, when fewer than 12 s of the current
// clock minute remain, waits for the next minute, so no window boundary (a UTC day ends on a
// minute boundary too) falls inside the test (each takes a few seconds at most).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "chat_harness.h"

namespace ringgate::testing {
namespace {

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void WaitForFreshMinute() {
  int64_t into = UnixNow() % 60;
  if (into > 48)
    std::this_thread::sleep_for(std::chrono::milliseconds((60 - into) * 1000 + 200));
}

std::unique_ptr<Gateway> Start(std::vector<std::string> env, int threads = 1) {
  GatewayOptions options;
  options.threads = threads;
  options.env = std::move(env);
  options.env.push_back("NONSTREAM_KEEPALIVE_ENABLED=false");
  auto gateway = StartGateway(options);
  WaitForFreshMinute();
  return gateway;
}

std::string Xff(std::string_view value) {
  return "X-Forwarded-For: " + std::string(value) + "\r\n";
}

// 429 with Retry-After in [lo, hi] and the limiter's OpenAI body with this limit.
void ExpectRefused(const HttpResponse& response, int64_t lo, int64_t hi, int64_t limit,
                   std::string_view message) {
  EXPECT_EQ(response.status, 429) << response;
  EXPECT_EQ(response.Header("content-type").value_or(""), "application/json") << response;
  std::string retry = response.Header("retry-after").value_or("-1");
  int64_t seconds = std::stoll(retry);
  EXPECT_GE(seconds, lo) << response;
  EXPECT_LE(seconds, hi) << response;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_EQ(json->Str("/error/message"), message) << response.body;
  EXPECT_EQ(json->Str("/error/type"), "rate_limit_error") << response.body;
  EXPECT_TRUE(json->IsNull("/error/param")) << response.body;
  EXPECT_EQ(json->Str("/error/code"), "rate_limit_exceeded") << response.body;
  EXPECT_EQ(json->Int("/detail/limit"), limit) << response.body;
}

TEST(RateLimitTest, PerMinuteLimitRefusesThe31stRequest) {
  // HAJIMI's defaults, stated because the harness raises them for every other test.
  auto gateway =
      Start({"MAX_REQUESTS_PER_MINUTE=30", "MAX_REQUESTS_PER_DAY_PER_IP=600", "ALLOWED_ORIGINS=*"});
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i + 1;
  int64_t left = 60 - UnixNow() % 60;
  HttpResponse refused = gateway->Chat(SimpleChat(), "Origin: https://app.example\r\n");
  ExpectRefused(refused, std::max<int64_t>(1, left - 2), std::min<int64_t>(60, left + 1), 30,
                "Too many requests per minute");
  EXPECT_TRUE(refused.HasHeader("access-control-allow-origin")) << refused;
  // Every chat route shares the count; a refused request never reaches Google.
  EXPECT_EQ(gateway->Chat(SimpleChat(), "", "/chat/completions").status, 429);
  EXPECT_EQ(gateway->Chat(SimpleChat(), "", "/aistudio/chat/completions").status, 429);
  EXPECT_EQ(gateway->Requests("generateContent").size(), 30u);
}

TEST(RateLimitTest, ClientsBehindATrustedProxyAreCountedApart) {
  auto gateway = Start({"MAX_REQUESTS_PER_MINUTE=3", "TRUSTED_PROXIES=127.0.0.1"});
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat(), Xff("203.0.113.1")).status, 200) << i;
  ExpectRefused(gateway->Chat(SimpleChat(), Xff("203.0.113.1")), 1, 60, 3,
                "Too many requests per minute");
  // A client's own X-Forwarded-For left of the proxy's entry does not make it someone else.
  EXPECT_EQ(gateway->Chat(SimpleChat(), Xff("198.51.100.9, 203.0.113.1")).status, 429);
  // Other clients, and the proxy itself, have counts of their own.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(gateway->Chat(SimpleChat(), Xff("203.0.113.2")).status, 200) << i;
    EXPECT_EQ(gateway->Chat(SimpleChat(), Xff("2001:db8::7")).status, 200) << i;
    EXPECT_EQ(gateway->Chat(SimpleChat()).status, 200) << i;
  }
  EXPECT_EQ(gateway->Chat(SimpleChat(), Xff("203.0.113.2")).status, 429);
  EXPECT_EQ(gateway->Chat(SimpleChat()).status, 429);
}

// The peer (127.0.0.1) is not a trusted proxy: its X-Forwarded-For is ignored and every request
// counts against 127.0.0.1, whatever address it claims.
TEST(RateLimitTest, UntrustedPeerCannotSpoofItsAddress) {
  for (const char* trusted : {"", "10.0.0.0/8,::1"}) {
    SCOPED_TRACE(std::string("TRUSTED_PROXIES=") + trusted);
    auto gateway = Start({"MAX_REQUESTS_PER_MINUTE=3", std::string("TRUSTED_PROXIES=") + trusted});
    ASSERT_NE(gateway, nullptr);
    for (int i = 0; i < 3; ++i) {
      std::string ip = "203.0.113." + std::to_string(i + 1);
      ASSERT_EQ(gateway->Chat(SimpleChat(), Xff(ip)).status, 200) << i;
    }
    EXPECT_EQ(gateway->Chat(SimpleChat(), Xff("203.0.113.99")).status, 429);
    EXPECT_EQ(gateway->Chat(SimpleChat()).status, 429);
  }
}

TEST(RateLimitTest, ModelListsAndHealthAreNotLimited) {
  auto gateway = Start({"MAX_REQUESTS_PER_MINUTE=1", "MAX_REQUESTS_PER_DAY_PER_IP=1"});
  ASSERT_NE(gateway, nullptr);
  ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  ASSERT_EQ(gateway->Chat(SimpleChat()).status, 429);
  for (int i = 0; i < 5; ++i) {
    for (const char* path : {"/v1/models", "/models", "/aistudio/models"})
      EXPECT_EQ(gateway->Call(GetRequest(path, Bearer())).status, 200) << path;
    EXPECT_TRUE(HealthzOk(gateway->port()));
  }
  EXPECT_EQ(gateway->Chat(SimpleChat()).status, 429);
}

// A wrong password is refused before it is counted.
TEST(RateLimitTest, UnauthorizedRequestsAreNotCounted) {
  auto gateway = Start({"MAX_REQUESTS_PER_MINUTE=2"});
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 5; ++i) {
    HttpResponse r =
        gateway->Call(PostRequest("/v1/chat/completions", SimpleChat(), Bearer("wrong")));
    EXPECT_EQ(r.status, 401) << r;
  }
  EXPECT_EQ(gateway->Chat(SimpleChat()).status, 200);
  EXPECT_EQ(gateway->Chat(SimpleChat()).status, 200);
  EXPECT_EQ(gateway->Chat(SimpleChat()).status, 429);
}

TEST(RateLimitTest, PerDayLimit) {
  auto gateway = Start({"MAX_REQUESTS_PER_MINUTE=0", "MAX_REQUESTS_PER_DAY_PER_IP=5"});
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i + 1;
  int64_t left = 86400 - UnixNow() % 86400;
  ExpectRefused(gateway->Chat(SimpleChat()), left - 3, left + 1, 5,
                "Too many requests per day from this IP");
  EXPECT_EQ(gateway->Requests("generateContent").size(), 5u);
}

TEST(RateLimitTest, ZeroMeansNoLimit) {
  auto gateway = Start({"MAX_REQUESTS_PER_MINUTE=0", "MAX_REQUESTS_PER_DAY_PER_IP=0"});
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 40; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i + 1;
}

// Sends `count` chat requests from `threads` threads, each on a new connection (so both cores
// take some); returns how many were answered 200 and checks the rest were 429.
int Burst(Gateway& gateway, int threads, int count, std::string_view headers) {
  std::atomic<int> next{0};
  std::atomic<int> ok{0};
  std::atomic<int> other{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      while (next.fetch_add(1) < count) {
        int status = gateway.Chat(SimpleChat(), headers).status;
        if (status == 200) {
          ++ok;
        } else if (status != 429) {
          ++other;
        }
      }
    });
  }
  for (std::thread& t : pool)
    t.join();
  EXPECT_EQ(other.load(), 0) << "answers other than 200 and 429";
  return ok.load();
}

// Across cores (documented in rate_limit.h and the README): each core decides with its own counts
// plus what the other cores sent at their last exchange (every 250 ms). So
//   * a client is never refused before it has sent more than the limit (exact);
//   * once the counts are exchanged, every core refuses the client (exact after ~250 ms);
//   * in a burst faster than the exchange, at most limit x cores requests are admitted
//     (each core admits at most `limit` on its own counts), the tolerance asserted here.
TEST(RateLimitTest, AcrossCoresWithinTheExchangeTolerance) {
  constexpr int kLimit = 20;
  constexpr int kCores = 2;
  auto gateway = Start(
      {"MAX_REQUESTS_PER_MINUTE=" + std::to_string(kLimit), "TRUSTED_PROXIES=127.0.0.1"}, kCores);
  ASSERT_NE(gateway, nullptr);

  // Up to the limit, spread over both cores: all admitted.
  EXPECT_EQ(Burst(*gateway, 4, kLimit, Xff("192.0.2.1")), kLimit);
  // After two exchange periods every core knows the client is at its limit.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(Burst(*gateway, 4, 2 * kLimit, Xff("192.0.2.1")), 0);

  // A burst of 8 x limit from one new client: between limit and limit x cores admitted.
  int admitted = Burst(*gateway, 8, 8 * kLimit, Xff("192.0.2.2"));
  EXPECT_GE(admitted, kLimit);
  EXPECT_LE(admitted, kLimit * kCores);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(Burst(*gateway, 4, 2 * kLimit, Xff("192.0.2.2")), 0);
  // Another client is unaffected.
  EXPECT_EQ(Burst(*gateway, 4, kLimit, Xff("192.0.2.3")), kLimit);
}

}  // namespace
}  // namespace ringgate::testing
