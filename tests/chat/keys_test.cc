// The API-key pool end to end (real ringgate in front of fake-gemini with scripted keys), counted
// from what the fake received (GET /_fake/requests names the key of every upstream request): an
// invalid key is quarantined for good, a per-minute 429 rests exactly that (key, model) for the
// advised retryDelay, a per-day 429 parks the key, a 503 moves on without blame, a client error is
// not retried, MAX_RETRY_NUM is exact, an IP-wide 429 storm turns into a server-level backoff
// (and a few 429s among many healthy keys do not), INVALID_API_KEYS and GEMINI_API_KEYS_N, and
// health changes reaching every core. Every test has a gateway of its own: keys rest or leave.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat_harness.h"

namespace ringgate::testing {
namespace {

constexpr char kOtherModel[] = "gemini-2.0-flash";

GatewayOptions Options(int keys, std::vector<std::string> env = {},
                       std::vector<std::string> fake_args = {}) {
  GatewayOptions options;
  options.keys = keys;
  options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "FAKE_STREAMING=false"};
  for (std::string& entry : env)
    options.env.push_back(std::move(entry));
  options.fake_args = {"--record", "1000"};
  for (std::string& arg : fake_args)
    options.fake_args.push_back(std::move(arg));
  return options;
}

// The TestKey number of each generateContent request the fake received, oldest first (0: a key
// that is no test key).
std::vector<int> KeyUses(Gateway& gateway, std::string_view model = "") {
  std::vector<int> out;
  for (const RecordedRequest& r : gateway.Requests("generateContent")) {
    if (model.empty() || r.model == model)
      out.push_back(TestKeyIndex(r.key));
  }
  return out;
}

size_t Count(const std::vector<int>& uses, int key) {
  return static_cast<size_t>(std::count(uses.begin(), uses.end(), key));
}

std::set<int> Distinct(const std::vector<int>& uses) {
  return std::set<int>(uses.begin(), uses.end());
}

void ExpectOpenAiError(const HttpResponse& response, int status, std::string_view code) {
  EXPECT_EQ(response.status, status) << response;
  EXPECT_EQ(response.Header("content-type").value_or(""), "application/json") << response;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_EQ(json->Str("/error/code"), code) << response.body;
  EXPECT_FALSE(json->Str("/error/message").empty()) << response.body;
  EXPECT_EQ(response.body.find(kTestKeyPrefix), std::string::npos) << response.body;
}

TEST(KeyPoolTest, InvalidKeyIsQuarantinedAndNeverUsedAgain) {
  auto gateway = StartGateway(Options(4));
  ASSERT_NE(gateway, nullptr);
  gateway->KeyState(TestKey(2), "invalid");
  for (int i = 0; i < 40; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i;
  std::vector<int> uses = KeyUses(*gateway);
  EXPECT_EQ(uses.size(), 41u) << "40 answers and one retry";
  EXPECT_EQ(Count(uses, 2), 1u) << "the invalid key answered 400 once and left the rotation";
  for (int key : {1, 3, 4})
    EXPECT_GE(Count(uses, key), 10u) << "key " << key;
  // Other models do not bring it back either.
  gateway->ClearRequests();
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat(kOtherModel)).status, 200);
  EXPECT_EQ(Count(KeyUses(*gateway), 2), 0u);
}

// The startup model list does not depend on the key it happens to pick: a bad key leaves the
// rotation and the next one lists the models (the gateway waits for the list to start).
TEST(KeyPoolTest, ModelListSkipsInvalidKeys) {
  auto gateway = StartGateway(
      Options(4, {}, {"--invalid-keys", TestKeyList(1, 3), "--valid-keys", TestKey(4)}));
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i;
  std::map<int, int> uses;
  for (const RecordedRequest& r : gateway->Requests())
    ++uses[TestKeyIndex(r.key)];
  for (int key : {1, 2, 3})
    EXPECT_LE(uses[key], 1) << "key " << key << " was used after its 400";
  EXPECT_GE(uses[4], 8);
}

TEST(KeyPoolTest, MinuteQuotaRestsThatKeyForThatModelForTheRetryDelay) {
  auto gateway = StartGateway(Options(3, {}, {"--retry-delay", "2s"}));
  ASSERT_NE(gateway, nullptr);
  const std::string key = TestKey(1);
  gateway->KeyState(key, "minute_quota", kModel);
  // Until key 1 has had its turn on kModel (at most one rotation): the 429 is retried.
  Clock::time_point sent_429{};
  Clock::time_point got_429{};
  for (int i = 0; i < 3 && Count(KeyUses(*gateway, kModel), 1) == 0; ++i) {
    sent_429 = Clock::now();
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
    got_429 = Clock::now();
  }
  ASSERT_EQ(Count(KeyUses(*gateway, kModel), 1), 1u) << "key 1 never had its turn";
  gateway->KeyState(key, "valid", kModel);  // the fake would serve it now; ringgate waits
  gateway->ClearRequests();

  // The other model still uses the key.
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat(kOtherModel)).status, 200);
  EXPECT_EQ(Count(KeyUses(*gateway, kOtherModel), 1), 1u) << "one turn per rotation of 3 keys";

  // kModel: not before the advised 2 s, soon after.
  Clock::time_point back{};
  while (ElapsedMs(sent_429) < 4000) {
    gateway->ClearRequests();
    Clock::time_point sent = Clock::now();
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
    std::vector<int> uses = KeyUses(*gateway, kModel);
    ASSERT_EQ(uses.size(), 1u);
    if (uses[0] == 1) {
      back = sent;
      break;
    }
    std::this_thread::sleep_for(Millis(40));
  }
  ASSERT_NE(back, Clock::time_point{}) << "key 1 did not come back for " << kModel;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration_cast<Millis>(b - a).count();
  };
  EXPECT_GE(ms(sent_429, back), 2000 - 20) << "back before the retryDelay";
  EXPECT_LE(ms(got_429, back), 2000 + 700) << "one rotation after the rest at most";
}

TEST(KeyPoolTest, DayQuotaParksTheKey) {
  auto gateway = StartGateway(Options(3));
  ASSERT_NE(gateway, nullptr);
  gateway->KeyState(TestKey(3), "day_quota");
  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i;
  gateway->KeyState(TestKey(3), "valid");
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i;
  std::vector<int> uses = KeyUses(*gateway);
  EXPECT_EQ(uses.size(), 41u);
  EXPECT_EQ(Count(uses, 3), 1u) << "parked until the daily reset after its 429";
}

TEST(KeyPoolTest, OverloadedMovesToAnotherKeyWithoutBlame) {
  auto gateway = StartGateway(Options(3));
  ASSERT_NE(gateway, nullptr);
  gateway->Script("status=503;times=1");
  ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  std::vector<int> first = KeyUses(*gateway);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_NE(first[0], first[1]);
  int overloaded = first[0];
  gateway->ClearRequests();
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  std::vector<int> later = KeyUses(*gateway);
  EXPECT_EQ(later.size(), 6u) << "no more retries";
  EXPECT_GE(Count(later, overloaded), 1u) << "key " << overloaded << " was blamed for a 503";
}

TEST(KeyPoolTest, ClientErrorIsNotRetried) {
  auto gateway = StartGateway(Options(3));
  ASSERT_NE(gateway, nullptr);
  gateway->Script("status=400");
  HttpResponse response = gateway->Chat(SimpleChat());
  ExpectOpenAiError(response, 400, "invalid_argument");
  EXPECT_EQ(KeyUses(*gateway).size(), 1u) << "exactly one upstream request";
  gateway->Script("status=200");
  gateway->ClearRequests();
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  EXPECT_EQ(Distinct(KeyUses(*gateway)), (std::set<int>{1, 2, 3})) << "no key was blamed";
}

TEST(KeyPoolTest, MaxRetryNumIsExact) {
  auto gateway = StartGateway(Options(10, {"MAX_RETRY_NUM=3"}));
  ASSERT_NE(gateway, nullptr);
  gateway->Script("status=503");
  HttpResponse response = gateway->Chat(SimpleChat());
  ExpectOpenAiError(response, 503, "upstream_unavailable");
  std::vector<int> uses = KeyUses(*gateway);
  EXPECT_EQ(uses.size(), 3u);
  EXPECT_EQ(Distinct(uses).size(), 3u);
  EXPECT_EQ(Count(uses, 0), 0u);
  // The next request again: three more, within the budget.
  gateway->ClearRequests();
  EXPECT_EQ(gateway->Chat(SimpleChat()).status, 503);
  EXPECT_EQ(Distinct(KeyUses(*gateway)).size(), 3u);
}

TEST(KeyPoolTest, IpWide429StormBacksOffTheWholeServer) {
  auto gateway = StartGateway(Options(10, {}, {"--minute-quota-keys", TestKeyList(1, 10)}));
  ASSERT_NE(gateway, nullptr);
  HttpResponse response = gateway->Chat(SimpleChat());
  ExpectOpenAiError(response, 429, "rate_limit_exceeded");
  int retry_after = atoi(response.Header("retry-after").value_or("0").c_str());
  EXPECT_GE(retry_after, 17) << "at least the advised retryDelay: " << response;
  EXPECT_LE(retry_after, 120) << response;
  std::vector<int> uses = KeyUses(*gateway);
  EXPECT_GE(uses.size(), 5u);
  EXPECT_LT(uses.size(), 10u) << "stopped before burning every key";
  EXPECT_EQ(Distinct(uses).size(), uses.size());

  // While the backoff lasts nothing goes upstream, whatever the model, even with healthy keys.
  for (int i = 1; i <= 10; ++i)
    gateway->KeyState(TestKey(i), "valid");
  gateway->ClearRequests();
  for (const char* model : {kModel, kOtherModel, kModel}) {
    HttpResponse refused = gateway->Chat(SimpleChat(model));
    ExpectOpenAiError(refused, 429, "rate_limit_exceeded");
    int later = atoi(refused.Header("retry-after").value_or("0").c_str());
    EXPECT_GT(later, 0) << refused;
    EXPECT_LE(later, retry_after) << refused;
  }
  EXPECT_TRUE(gateway->Requests("generateContent").empty());
}

// The detector weighs 429s against every key that answered: five per-minute 429s among twenty busy
// keys are normal and must not stop the server.
TEST(KeyPoolTest, FewQuotaKeysAmongManyHealthyOnesDoNotBackOff) {
  auto gateway = StartGateway(Options(20));
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  EXPECT_EQ(Distinct(KeyUses(*gateway)).size(), 20u) << "one rotation";
  for (int i = 1; i <= 5; ++i)
    gateway->KeyState(TestKey(i), "minute_quota");
  gateway->ClearRequests();
  for (int i = 0; i < 30; ++i) {
    HttpResponse response = gateway->Chat(SimpleChat());
    ASSERT_EQ(response.status, 200) << "request " << i << ": " << response;
  }
  std::vector<int> uses = KeyUses(*gateway);
  for (int i = 1; i <= 5; ++i)
    EXPECT_EQ(Count(uses, i), 1u) << "key " << i << " answered 429 once, then rested";
}

TEST(KeyPoolTest, InvalidApiKeysAreNeverUsed) {
  auto gateway = StartGateway(
      Options(4, {"INVALID_API_KEYS=" + TestKey(2) + ", " + TestKey(3) + ",AIzaSyUNUSED"}));
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  std::vector<RecordedRequest> all = gateway->Requests();
  ASSERT_FALSE(all.empty());
  std::set<int> used;
  for (const RecordedRequest& r : all)
    used.insert(TestKeyIndex(r.key));  // models.list too
  EXPECT_EQ(used, (std::set<int>{1, 4}));
  EXPECT_EQ(KeyUses(*gateway).size(), 20u);
}

TEST(KeyPoolTest, NumberedKeyVariablesAreReadAndOtherTextIgnored) {
  GatewayOptions options =
      Options(0, {"GEMINI_API_KEYS=not-a-key, AIzaSyTooShort, " + TestKey(1),
                  "GEMINI_API_KEYS_1=junk " + TestKey(2) + ";" + TestKey(3) + " trailing words",
                  "GEMINI_API_KEYS_2=" + TestKey(4) + "," + TestKey(1),
                  // _3 is missing: _4 is not read.
                  "GEMINI_API_KEYS_4=" + TestKey(5)});
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 24; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  std::vector<RecordedRequest> all = gateway->Requests();
  std::map<std::string, int> by_key;
  for (const RecordedRequest& r : all) {
    if (r.api_method == "generateContent")
      ++by_key[r.key];
  }
  std::map<std::string, int> expected;
  for (int i = 1; i <= 4; ++i)
    expected[TestKey(i)] = 6;  // four keys, each once per rotation
  EXPECT_EQ(by_key, expected);
  for (const RecordedRequest& r : all)
    EXPECT_NE(TestKeyIndex(r.key), 0) << "not a configured key: " << r.key;
}

// THREADS=2: a key quarantined through one connection (one core) is never used by the other core.
TEST(KeyPoolTest, QuarantineReachesEveryCore) {
  GatewayOptions options = Options(4);
  options.threads = 2;
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  gateway->KeyState(TestKey(3), "invalid");
  HttpConnection connection = HttpConnection::Connect(gateway->port());
  ASSERT_TRUE(connection.is_open()) << connection.error();
  for (int i = 0; i < 5 && Count(KeyUses(*gateway), 3) == 0; ++i) {
    ASSERT_TRUE(connection.Send(PostRequest("/v1/chat/completions", SimpleChat(), Bearer())));
    HttpResponse response;
    ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
    ASSERT_EQ(response.status, 200) << response;
  }
  ASSERT_EQ(Count(KeyUses(*gateway), 3), 1u) << "one core tried key 3";
  connection.Close();
  std::this_thread::sleep_for(Millis(50));  // the cross-core message is on its way
  gateway->ClearRequests();
  // New connections: SO_REUSEPORT spreads them over both cores.
  for (int i = 0; i < 60; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i;
  std::vector<int> uses = KeyUses(*gateway);
  EXPECT_EQ(uses.size(), 60u) << "no retries: no core tried key 3 again";
  EXPECT_EQ(Count(uses, 3), 0u);
  EXPECT_EQ(Distinct(uses), (std::set<int>{1, 2, 4}));
}

// A stream request answered at once (every key rests for its model) must not leave its keep-alive
// timer behind: the next request on the same exchange object would get keep-alive output.
TEST(KeyPoolTest, AnswerWithoutUpstreamLeavesNoKeepAliveBehind) {
  GatewayOptions options = Options(2);
  options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "FAKE_STREAMING=true",
                 "FAKE_STREAMING_INTERVAL=0.1"};
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  for (int i = 1; i <= 2; ++i)
    gateway->KeyState(TestKey(i), "minute_quota", kModel);
  std::string stream = SimpleChat(kModel, R"(,"stream":true)");
  EXPECT_EQ(gateway->Chat(stream).status, 429);
  HttpResponse at_once = gateway->Chat(stream);  // no upstream call: both keys rest
  ExpectOpenAiError(at_once, 429, "rate_limit_exceeded");
  EXPECT_TRUE(at_once.HasHeader("retry-after"));
  EXPECT_EQ(KeyUses(*gateway).size(), 2u);
  // A plain request on another model, slower than the interval.
  gateway->Script("delay_first_ms=400");
  HttpResponse plain = gateway->Chat(SimpleChat(kOtherModel));
  EXPECT_EQ(plain.status, 200) << plain;
  EXPECT_FALSE(plain.chunked) << plain;
  EXPECT_EQ(plain.Header("content-type").value_or(""), "application/json") << plain;
  EXPECT_EQ(ParseJson(plain.body)->Str("/object"), "chat.completion") << plain.body;
}

}  // namespace
}  // namespace ringgate::testing
