// Shared helpers for the chat API integration tests (tests/chat/*_test.cc): a Gateway runs the
// real build/fake-gemini and build/ringgate (pointed at it) on loopback ports, with fake-control
// helpers (/_fake/script, /_fake/requests, ...); a CannedUpstream is a tiny loopback HTTP server
// for upstream answers the fake cannot produce (several candidates, a stream that ends without a
// finishReason). Only numeric loopback addresses are used; only processes started here are
// stopped.
#pragma once

#include <simdjson.h>

#include <atomic>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "harness.h"

namespace ringgate::testing {

// A Gemini-shaped key (39 characters) for GEMINI_API_KEYS: TestKey(1).
inline constexpr char kApiKey[] = "AIzaSyFAKEkey0123456789abcdefghijklmnop";
static_assert(sizeof(kApiKey) - 1 == 39);
// What every TestKey starts with; an answer that contains it leaks a whole key (ringgate masks
// keys as "AIzaSyFA...").
inline constexpr char kTestKeyPrefix[] = "AIzaSyFAKEkey";
// The i-th test key, 1 <= i <= 99: kApiKey with its digits "01" replaced by i (two digits), so
// TestKey(1) == kApiKey and every key matches AIzaSy[A-Za-z0-9_-]{33}.
std::string TestKey(int i);
// "TestKey(first),...,TestKey(last)".
std::string TestKeyList(int first, int last);
// The TestKey number of a key as the fake recorded it, or 0 when it is none.
int TestKeyIndex(std::string_view key);
// ringgate's default PASSWORD.
inline constexpr char kDefaultPassword[] = "123";
inline constexpr char kModel[] = "gemini-2.5-flash";

// A parsed JSON document; lookups by JSON pointer ("/choices/0/message/content").
struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool ok = false;

  bool Has(std::string_view pointer) const;
  bool IsNull(std::string_view pointer) const;
  bool IsString(std::string_view pointer) const;
  // The string, or "<missing POINTER>".
  std::string Str(std::string_view pointer) const;
  // The integer, or -1.
  int64_t Int(std::string_view pointer) const;
  // The number (integer or not), or -1.
  double Num(std::string_view pointer) const;
  bool Bool(std::string_view pointer) const;
  // Array size, 0 when not an array.
  size_t Size(std::string_view pointer) const;
  // The value as compact JSON, or "<missing POINTER>".
  std::string Raw(std::string_view pointer) const;
  // Keys of an object, in order.
  std::vector<std::string> Keys(std::string_view pointer) const;
};

std::unique_ptr<Json> ParseJson(std::string_view text);

// Request builders (HTTP/1.1, Host: localhost).
std::string PostRequest(std::string_view target, std::string_view body,
                        std::string_view headers = "");
std::string GetRequest(std::string_view target, std::string_view headers = "");
// "Authorization: Bearer <password>\r\n".
std::string Bearer(std::string_view password = kDefaultPassword);

// {"model":model,"messages":[{"role":"user","content":text}]<extra>} where `extra` starts with
// a comma, e.g. R"(,"stream":true)".
std::string SimpleChat(std::string_view model = kModel, std::string_view extra = "",
                       std::string_view text = "Hello there");

// The payloads of an SSE body: every event must be one "data: X" line ended by a blank line;
// anything else is returned as "<bad event>..." so that a test sees it.
std::vector<std::string> SseData(std::string_view body);

// One request as the fake recorded it.
struct RecordedRequest {
  std::string method;
  std::string path;
  std::string key;
  std::string model;
  std::string api_method;
  std::map<std::string, std::string> headers;
  std::string body;
};

struct GatewayOptions {
  // ringgate's environment, on top of THREADS, GEMINI_BASE_URL (the fake), GEMINI_API_KEYS and
  // SKIP_CHECK_API_KEY=true (no start-up key check) and MAX_REQUESTS_PER_MINUTE /
  // MAX_REQUESTS_PER_DAY_PER_IP (raised out of the way); an entry replaces those of the same name.
  std::vector<std::string> env;
  // ringgate's THREADS.
  int threads = 1;
  std::vector<std::string> fake_args;
  // Start a fake-gemini and point GEMINI_BASE_URL at it; otherwise `base_url` is used.
  bool start_fake = true;
  std::string base_url;
  // GEMINI_API_KEYS=TestKey(1),...,TestKey(keys) (kApiKey first); 0: no GEMINI_API_KEYS. Several
  // keys by default: a failed try is retried with another key, as in production.
  int keys = 3;
  // What the startup wait sends to /v1/models.
  std::string password = kDefaultPassword;
  std::string user_agent;
  // Wait until /v1/models lists this model (the startup fetch is done); empty: do not wait.
  std::string probe_model = kModel;
};

// The fake and ringgate, started together.
class Gateway {
 public:
  ::testing::AssertionResult Start(const GatewayOptions& options = {});
  void Stop();

  uint16_t port() const { return ringgate_.port(); }
  // GEMINI_API_KEYS as started (TestKey(1..keys)).
  const std::vector<std::string>& keys() const { return keys_; }
  bool IsGatewayKey(std::string_view key) const;
  uint16_t fake_port() const { return fake_.port(); }
  ServerProcess& ringgate() { return ringgate_; }
  ServerProcess& fake() { return fake_; }
  bool running() const { return ringgate_.running(); }

  // One request to ringgate on a new connection; the status is 0 when no response was read.
  HttpResponse Call(const std::string& request, Millis timeout = kDefaultReadTimeout);
  // POST `body` to `path` with the default Bearer password plus `headers`.
  HttpResponse Chat(std::string_view body, std::string_view headers = "",
                    std::string_view path = "/v1/chat/completions",
                    Millis timeout = kDefaultReadTimeout);

  // ---- The fake's control endpoints ----
  HttpResponse FakeCall(const std::string& request);
  // POST /_fake/reset: script, keys, request log and stats back to the start.
  void Reset();
  // POST /_fake/script: "k=v;k=v" or a JSON object.
  void Script(std::string_view script);
  // POST /_fake/keys with a JSON object.
  void Keys(std::string_view json);
  // The fake's state of one key ("valid", "invalid", "minute_quota", ...), for every model or,
  // with `model`, for that model only.
  void KeyState(std::string_view key, std::string_view state, std::string_view model = "");
  // DELETE /_fake/requests.
  void ClearRequests();
  std::vector<RecordedRequest> Requests();
  // The recorded requests with this api_method ("generateContent", "streamGenerateContent").
  std::vector<RecordedRequest> Requests(std::string_view api_method);
  // GET /_fake/stats.
  std::unique_ptr<Json> Stats();

 private:
  ServerProcess fake_;
  ServerProcess ringgate_;
  std::vector<std::string> keys_;
};

// A fresh fake + ringgate for a test that rests or quarantines keys (a shared gateway would carry
// that state into the next test); null after an ADD_FAILURE when it could not start.
std::unique_ptr<Gateway> StartGateway(const GatewayOptions& options);

// A minimal HTTP/1.1 server on 127.0.0.1 that answers every request with a canned response chosen
// by the first registered substring of the request target, then closes the connection.
class CannedUpstream {
 public:
  CannedUpstream() = default;
  ~CannedUpstream();
  CannedUpstream(const CannedUpstream&) = delete;
  CannedUpstream& operator=(const CannedUpstream&) = delete;

  // `response` is the complete raw HTTP response.
  void Add(std::string target_substring, std::string response);
  bool Start();
  void Stop();
  uint16_t port() const { return port_; }
  // Targets received so far.
  std::vector<std::string> Targets();

  // Raw responses.
  static std::string JsonResponse(std::string_view body, int status = 200);
  static std::string SseResponse(const std::vector<std::string>& events);

 private:
  void Serve();
  void HandleConnection(int fd);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> responses_;
  std::vector<std::string> targets_;
};

// A Gemini models.list body with these chat models.
std::string GeminiModelList(const std::vector<std::string>& models);

// A fixture whose fake + ringgate are started once per test suite with Config::Options() and
// shared by its tests; the fake is reset before each test.
//   struct PlainConfig { static GatewayOptions Options() { ... } };
//   using PlainTest = GatewayTest<PlainConfig>;
//   TEST_F(PlainTest, Something) { gateway().Chat(...); }
template <typename Config>
class GatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = std::make_unique<Gateway>();
    ::testing::AssertionResult started = gateway_->Start(Config::Options());
    start_error_ = started ? "" : std::string("start failed: ") + started.message();
  }
  static void TearDownTestSuite() {
    gateway_->Stop();
    gateway_.reset();
  }
  void SetUp() override {
    ASSERT_TRUE(start_error_.empty()) << start_error_;
    ASSERT_TRUE(gateway_->running()) << "ringgate is not running:\n"
                                     << gateway_->ringgate().Stderr();
    if (gateway_->fake().running())
      gateway_->Reset();
  }
  void TearDown() override {
    if (HasFailure())
      std::cerr << "ringgate stderr:\n" << gateway_->ringgate().Stderr() << "\n";
  }
  static Gateway& gateway() { return *gateway_; }

  static inline std::unique_ptr<Gateway> gateway_;
  static inline std::string start_error_;
};

}  // namespace ringgate::testing
