// Persistence end to end: the real ringgate (ENABLE_STORAGE, a temporary STORAGE_DIR, two
// cores) in front of fake-gemini. What the key pool learnt before a SIGTERM holds after the
// restart, seen from what the fake receives: a quarantined key gets no call at all, a rested
// (key, model) pair none for that model, and the day's usage keeps the keys over
// API_KEY_DAILY_LIMIT behind the one under it. Also: with ENABLE_STORAGE off nothing is read or
// written; a corrupt settings.json is kept aside and replaced; a settings.json of the user's wins
// over the environment.
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include "chat_harness.h"
#include "storage_test_util.h"

namespace ringgate::testing {
namespace {

constexpr char kOtherModel[] = "gemini-2.0-flash";
constexpr int kDailyLimit = 12;

GatewayOptions Options(const std::string& directory) {
  GatewayOptions options;
  options.keys = 4;
  options.threads = 2;
  options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "FAKE_STREAMING=false", "ENABLE_STORAGE=true",
                 "STORAGE_DIR=" + directory, "API_KEY_DAILY_LIMIT=" + std::to_string(kDailyLimit)};
  options.fake_args = {"--record", "1000", "--retry-delay", "300s"};
  return options;
}

// A second ringgate in front of the first gateway's fake.
GatewayOptions Restarted(const GatewayOptions& first, const Gateway& with_fake) {
  GatewayOptions options = first;
  options.start_fake = false;
  options.base_url = "http://127.0.0.1:" + std::to_string(with_fake.fake_port());
  return options;
}

std::vector<RecordedRequest> Generations(Gateway& gateway, std::string_view model = "") {
  std::vector<RecordedRequest> out;
  for (RecordedRequest& r : gateway.Requests("generateContent")) {
    if (model.empty() || r.model == model)
      out.push_back(std::move(r));
  }
  return out;
}

int Uses(const std::vector<RecordedRequest>& requests, int key) {
  return static_cast<int>(std::count_if(requests.begin(), requests.end(),
                                        [&](const auto& r) { return TestKeyIndex(r.key) == key; }));
}

std::unique_ptr<Json> ReadJsonFile(const std::string& path) {
  return ParseJson(ReadText(path));
}

TEST(PersistenceTest, KeyHealthAndUsageSurviveARestart) {
  TempDir dir;
  GatewayOptions options = Options(dir.path());
  auto first = StartGateway(options);
  ASSERT_NE(first, nullptr);
  first->KeyState(TestKey(2), "invalid");
  first->KeyState(TestKey(1), "minute_quota", kModel);
  first->KeyState(TestKey(4), "minute_quota", kOtherModel);

  // Key 2 answers 400 once (quarantined), key 1 answers 429 on kModel once (rests 300 s).
  for (int i = 0; i < 30; ++i) {
    std::vector<RecordedRequest> sent = Generations(*first, kModel);
    if (Uses(sent, 1) > 0 && Uses(sent, 2) > 0)
      break;
    ASSERT_EQ(first->Chat(SimpleChat()).status, 200) << "request " << i;
  }
  std::vector<RecordedRequest> on_model = Generations(*first, kModel);
  ASSERT_EQ(Uses(on_model, 1), 1);
  ASSERT_EQ(Uses(on_model, 2), 1);
  // Key 4 succeeded only on kModel so far; on kOtherModel it answers 429 once and rests. Keys 1
  // and 3 serve kOtherModel until key 3 is past the daily limit.
  for (int i = 0; i < 60 && Uses(Generations(*first), 3) <= kDailyLimit; ++i)
    ASSERT_EQ(first->Chat(SimpleChat(kOtherModel)).status, 200) << "request " << i;
  std::vector<RecordedRequest> all = Generations(*first);
  ASSERT_GT(Uses(all, 3), kDailyLimit);
  EXPECT_EQ(Uses(Generations(*first, kOtherModel), 4), 1);
  int key4_successes = Uses(Generations(*first, kModel), 4);
  ASSERT_LE(key4_successes, kDailyLimit - 5) << "the test needs key 4 well under the limit";

  std::this_thread::sleep_for(Millis(600));  // core 1's usage reaches core 0 (every 250 ms)
  int status = first->ringgate().Stop();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWaitStatus(status);

  // The files as the user finds them.
  std::unique_ptr<Json> state = ReadJsonFile(dir.File("ringgate-state.json"));
  ASSERT_TRUE(state->ok) << ReadText(dir.File("ringgate-state.json"));
  EXPECT_EQ(state->Int("/version"), 1);
  EXPECT_EQ(state->Raw("/quarantined_keys"), "[\"" + TestKey(2) + "\"]");
  EXPECT_EQ(state->Size("/resting"), 2u) << state->Raw("/resting");
  EXPECT_GE(state->Size("/usage/by_key_model"), 3u);
  std::unique_ptr<Json> settings = ReadJsonFile(dir.File("settings.json"));
  ASSERT_TRUE(settings->ok) << ReadText(dir.File("settings.json"));
  EXPECT_EQ(settings->Str("/INVALID_API_KEYS"), TestKey(2));
  EXPECT_EQ(settings->Str("/GEMINI_API_KEYS").find(TestKey(2)), std::string::npos);
  // Values from the environment stay out of the file: a later environment change still counts.
  EXPECT_FALSE(settings->Has("/API_KEY_DAILY_LIMIT")) << ReadText(dir.File("settings.json"));
  EXPECT_FALSE(settings->Has("/MAX_RETRY_NUM")) << ReadText(dir.File("settings.json"));
  EXPECT_EQ(ReadText(dir.File("settings.json")).rfind("{\n    \"GEMINI_API_KEYS\": ", 0), 0u);

  first->ClearRequests();
  auto second = StartGateway(Restarted(options, *first));
  ASSERT_NE(second, nullptr);
  // kModel: key 1 rests, key 2 is out, key 3 is over the daily limit: key 4 alone is ready. (Were
  // key 3 ready too, each core's shuffled cycle would give it a turn within 4 requests.)
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(second->Chat(SimpleChat()).status, 200);
  EXPECT_EQ(Uses(Generations(*first, kModel), 4), 4)
      << "the usage was lost: key 3 would have had its turn";
  // Past key 4's limit every key left is soft (picked at random); key 1 still rests for kModel.
  for (int i = 0; i < kDailyLimit; ++i)
    ASSERT_EQ(second->Chat(SimpleChat()).status, 200);
  EXPECT_EQ(Uses(Generations(*first, kModel), 1), 0) << "key 1's rest was lost";
  // kOtherModel: key 4 still rests there.
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(second->Chat(SimpleChat(kOtherModel)).status, 200);
  EXPECT_EQ(Uses(Generations(*first, kOtherModel), 4), 0) << "key 4's rest was lost";
  for (const RecordedRequest& r : first->Requests())
    EXPECT_NE(TestKeyIndex(r.key), 2) << "the quarantined key was used: " << r.api_method;
  EXPECT_NE(second->ringgate().Stderr().find("1 quarantined keys, 2 resting"), std::string::npos)
      << second->ringgate().Stderr();
}

TEST(PersistenceTest, WithoutEnableStorageNothingIsReadOrWritten) {
  TempDir dir;
  std::string settings = "{\"INVALID_API_KEYS\": \"" + TestKey(1) + "\"}";
  std::string state = "{\"version\": 1, \"quarantined_keys\": [\"" + TestKey(1) + "\"]}";
  WriteText(dir.File("settings.json"), settings);
  WriteText(dir.File("ringgate-state.json"), state);
  GatewayOptions options = Options(dir.path());
  options.keys = 1;
  options.env.erase(std::find(options.env.begin(), options.env.end(), "ENABLE_STORAGE=true"));
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "key 1 is not quarantined";
  EXPECT_EQ(Uses(Generations(*gateway), 1), 3);
  gateway->ringgate().Stop();
  EXPECT_EQ(dir.List(), (std::vector<std::string>{"ringgate-state.json", "settings.json"}));
  EXPECT_EQ(ReadText(dir.File("settings.json")), settings);
  EXPECT_EQ(ReadText(dir.File("ringgate-state.json")), state);
}

TEST(PersistenceTest, TheUsersSettingsFileWinsOverTheEnvironment) {
  TempDir dir;
  // Key 1 listed invalid in the file: out of rotation although GEMINI_API_KEYS has it.
  WriteText(dir.File("settings.json"),
            "{\"INVALID_API_KEYS\": \"" + TestKey(1) + "\", \"ENABLE_VERTEX\": false}");
  GatewayOptions options = Options(dir.path());
  options.keys = 2;
  options.threads = 1;
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  EXPECT_EQ(Uses(Generations(*gateway), 1), 0);
  EXPECT_EQ(Uses(Generations(*gateway), 2), 4);
  gateway->ringgate().Stop();
  std::unique_ptr<Json> saved = ReadJsonFile(dir.File("settings.json"));
  ASSERT_TRUE(saved->ok);
  std::vector<std::string> names = saved->Keys("");
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names[0], "INVALID_API_KEYS") << "the file's order is kept";
  EXPECT_EQ(saved->Raw("/ENABLE_VERTEX"), "false") << "unknown names survive";
  EXPECT_EQ(saved->Str("/INVALID_API_KEYS"), TestKey(1));
  EXPECT_EQ(saved->Str("/GEMINI_API_KEYS"), TestKey(2));
}

// A setting edited on the dashboard outlives the environment (HAJIMI's precedence), and its
// source stays "runtime" after the restart; the minute statistics survive too.
TEST(PersistenceTest, ARunTimeEditAndTheStatisticsSurviveARestart) {
  TempDir dir;
  GatewayOptions options = Options(dir.path());
  options.keys = 1;
  options.env.push_back("WEB_PASSWORD=dash");
  options.env.push_back("MAX_RETRY_NUM=9");
  auto first = StartGateway(options);
  ASSERT_NE(first, nullptr);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(first->Chat(SimpleChat()).status, 200);
  HttpResponse edit = first->Call(PostRequest(
      "/api/update-config", R"({"password": "dash", "key": "max_retry_num", "value": 4})"));
  ASSERT_EQ(edit.status, 200) << edit;
  std::this_thread::sleep_for(Millis(600));  // core 1's counts reach core 0
  int status = first->ringgate().Stop();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWaitStatus(status);
  std::unique_ptr<Json> settings = ReadJsonFile(dir.File("settings.json"));
  ASSERT_TRUE(settings->ok) << ReadText(dir.File("settings.json"));
  EXPECT_EQ(settings->Int("/MAX_RETRY_NUM"), 4);
  std::unique_ptr<Json> state = ReadJsonFile(dir.File("ringgate-state.json"));
  ASSERT_TRUE(state->ok);
  EXPECT_EQ(state->Int("/stats/version"), 1) << state->Raw("/stats");

  auto second = StartGateway(Restarted(options, *first));  // MAX_RETRY_NUM=9 in the env again
  ASSERT_NE(second, nullptr);
  HttpResponse data = second->Call(GetRequest("/api/dashboard-data", Bearer("dash")));
  ASSERT_EQ(data.status, 200) << data;
  std::unique_ptr<Json> json = ParseJson(data.body);
  EXPECT_EQ(json->Int("/settings/max_retry_num/value"), 4);
  EXPECT_EQ(json->Str("/settings/max_retry_num/source"), "runtime");
  EXPECT_EQ(json->Int("/hourly_calls"), 3) << "the minute buckets were lost";
}

TEST(PersistenceTest, ACorruptSettingsFileIsKeptAsideAndReplaced) {
  TempDir dir;
  WriteText(dir.File("settings.json"), "{\"MAX_RETRY_NUM\": ");
  GatewayOptions options = Options(dir.path());
  options.threads = 1;
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  gateway->ringgate().Stop();
  std::string log = gateway->ringgate().Stderr();
  EXPECT_NE(log.find("settings.json is corrupt"), std::string::npos) << log;
  EXPECT_NE(log.find("starting from the environment"), std::string::npos) << log;
  std::vector<std::string> names = dir.List();
  ASSERT_EQ(names.size(), 3u) << ::testing::PrintToString(names);
  EXPECT_EQ(names[0], "ringgate-state.json");
  EXPECT_EQ(names[1], "settings.json");
  EXPECT_EQ(names[2].rfind("settings.json.corrupt-", 0), 0u) << names[2];
  EXPECT_EQ(ReadText(dir.File(names[2])), "{\"MAX_RETRY_NUM\": ");
  std::unique_ptr<Json> fresh = ReadJsonFile(dir.File("settings.json"));
  ASSERT_TRUE(fresh->ok);
  EXPECT_TRUE(fresh->Has("/GEMINI_API_KEYS"));
  EXPECT_FALSE(fresh->Has("/MAX_RETRY_NUM")) << "the bad value is not carried over";
}

// A STORAGE_DIR that cannot exist (below a regular file): the errors are logged, the requests are
// served, and the shutdown is clean.
TEST(PersistenceTest, AnUnusableStorageDirectoryIsLoggedAndServingGoesOn) {
  TempDir dir;
  WriteText(dir.File("plain-file"), "x");
  GatewayOptions options = Options(dir.File("plain-file/storage"));
  options.threads = 1;
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  int status = gateway->ringgate().Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWaitStatus(status);
  std::string log = gateway->ringgate().Stderr();
  EXPECT_NE(log.find("cannot save"), std::string::npos) << log;
  EXPECT_NE(log.find("the last changes could not be saved"), std::string::npos) << log;
  EXPECT_EQ(dir.List(), std::vector<std::string>{"plain-file"});
}

}  // namespace
}  // namespace ringgate::testing
