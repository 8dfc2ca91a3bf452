// POST /api/update-config (HAJIMI 20.3): every type of setting is validated and applied on every
// core (the dashboard of each core shows it with source "runtime", and requests behave by it); a
// bad value is 422 {"errors": {key: message}} and changes nothing; a missing or unknown key is
// 400 {"detail"}; gemini_api_keys adds keys on every core, which are then used.
#include <set>
#include <string>
#include <thread>

#include "admin_client.h"

namespace ringgate::testing {
namespace {

struct ConfigConfig {
  static GatewayOptions Options() { return AdminOptions(2); }
};
using UpdateConfigTest = GatewayTest<ConfigConfig>;

// The setting as every core reports it (16 dashboard reads, both cores among them).
std::set<std::string> ValuesEverywhere(Gateway& gateway, std::string_view cookie,
                                       std::string_view key, std::set<int>* cores = nullptr) {
  std::set<std::string> values;
  for (int i = 0; i < 16; ++i) {
    auto json = Dashboard(gateway, cookie);
    values.insert(json->Raw("/settings/" + std::string(key) + "/value") + " " +
                  json->Str("/settings/" + std::string(key) + "/source"));
    if (cores != nullptr)
      cores->insert(static_cast<int>(json->Int("/core")));
  }
  return values;
}

TEST_F(UpdateConfigTest, EachTypeIsAppliedOnEveryCore) {
  std::string cookie = SignIn(gateway());
  struct Case {
    const char* key;
    const char* sent;
    const char* shown;
  } cases[] = {
      {"max_empty_responses", "3", "3"},
      {"random_string", "false", "false"},
      {"fake_streaming", "true", "true"},
      {"fake_streaming_interval", "0.5", "0.5"},
      {"search_prompt", R"("look it up")", R"("look it up")"},
      {"search_mode", "true", "true"},
      {"random_string_length", R"("7")", "7"},  // HAJIMI's int() takes numeric strings
      {"max_requests_per_minute", "1000000", "1000000"},
      {"concurrent_requests", "2.0", "2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    HttpResponse r = UpdateConfig(gateway(), cookie, c.key, c.sent);
    ASSERT_EQ(r.status, 200) << r;
    auto json = ParseJson(r.body);
    EXPECT_EQ(json->Str("/status"), "success");
    EXPECT_NE(json->Str("/message").find(c.key), std::string::npos);
    std::this_thread::sleep_for(Millis(20));
    std::set<int> cores;
    EXPECT_EQ(ValuesEverywhere(gateway(), cookie, c.key, &cores),
              (std::set<std::string>{std::string(c.shown) + " runtime"}));
    EXPECT_EQ(cores.size(), 2u);
  }
  // search_mode took effect: the -search variants are listed.
  auto json = Dashboard(gateway(), cookie);
  bool search_listed = false;
  for (size_t i = 0; i < json->Size("/available_models"); ++i)
    search_listed |=
        json->Str("/available_models/" + std::to_string(i)) == std::string(kModel) + "-search";
  EXPECT_TRUE(search_listed);
  UpdateConfig(gateway(), cookie, "search_mode", "false");
  UpdateConfig(gateway(), cookie, "concurrent_requests", "1");
}

TEST_F(UpdateConfigTest, InvalidValuesAre422AndChangeNothing) {
  std::string cookie = SignIn(gateway());
  struct Case {
    const char* key;
    const char* value;
  } cases[] = {
      {"max_retry_num", "0"},
      {"max_retry_num", "-1"},
      {"max_retry_num", "1.5"},
      {"max_retry_num", R"("abc")"},
      {"max_retry_num", "true"},
      {"max_retry_num", "null"},
      {"max_retry_num", "100001"},
      {"max_requests_per_minute", "0"},
      {"max_empty_responses", "-1"},
      {"fake_streaming", "1"},
      {"fake_streaming", R"("true")"},
      {"fake_streaming_interval", "0"},
      {"fake_streaming_interval", R"("x")"},
      {"fake_streaming_interval", "99999"},
      {"random_string_length", "5000"},
      {"search_prompt", "5"},
      {"concurrent_requests", "{}"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.key) + "=" + c.value);
    std::set<std::string> before = ValuesEverywhere(gateway(), cookie, c.key);
    HttpResponse r = UpdateConfig(gateway(), cookie, c.key, c.value);
    EXPECT_EQ(r.status, 422) << r;
    auto json = ParseJson(r.body);
    ASSERT_TRUE(json->ok) << r.body;
    EXPECT_TRUE(json->IsString(std::string("/errors/") + c.key)) << r.body;
    EXPECT_FALSE(json->Str(std::string("/errors/") + c.key).empty());
    EXPECT_EQ(ValuesEverywhere(gateway(), cookie, c.key), before);
  }
}

TEST_F(UpdateConfigTest, MissingOrUnknownKeyIs400) {
  std::string cookie = SignIn(gateway());
  for (const char* body :
       {"{}", R"({"value":1})", R"({"key":"","value":1})", R"({"key":"nope","value":1})",
        R"({"key":"enable_vertex","value":true})", R"({"key":"MAX_RETRY_NUM","value":3})"}) {
    SCOPED_TRACE(body);
    HttpResponse r = ApiPost(gateway(), "/api/update-config", body, cookie);
    EXPECT_EQ(r.status, 400) << r;
    EXPECT_TRUE(ParseJson(r.body)->IsString("/detail")) << r.body;
  }
  HttpResponse no_value =
      ApiPost(gateway(), "/api/update-config", R"({"key":"max_retry_num"})", cookie);
  EXPECT_EQ(no_value.status, 422) << no_value;
  EXPECT_EQ(ApiPost(gateway(), "/api/update-config", "[]", cookie).status, 422);
  EXPECT_EQ(ApiPost(gateway(), "/api/update-config", "nope", cookie).status, 422);
  EXPECT_EQ(ValuesEverywhere(gateway(), cookie, "max_retry_num"),
            (std::set<std::string>{"15 default"}));
}

// MAX_RETRY_NUM visibly changes the tries against the fake, whichever core takes the request.
TEST(UpdateConfigEffect, MaxRetryNumChangesRetriesOnBothCores) {
  std::unique_ptr<Gateway> gateway = StartGateway(AdminOptions(2, 3));
  ASSERT_TRUE(gateway);
  std::string cookie = SignIn(*gateway);
  gateway->Script("status=503");
  gateway->ClearRequests();
  constexpr int kChats = 10;
  for (int i = 0; i < kChats; ++i)
    EXPECT_GE(ChatOnce(*gateway), 500);
  EXPECT_EQ(gateway->Requests("generateContent").size(), 3u * kChats) << "every key once";
  ASSERT_EQ(UpdateConfig(*gateway, cookie, "max_retry_num", "1").status, 200);
  std::this_thread::sleep_for(Millis(20));
  gateway->ClearRequests();
  for (int i = 0; i < kChats; ++i)
    EXPECT_GE(ChatOnce(*gateway), 500);
  EXPECT_EQ(gateway->Requests("generateContent").size(), 1u * kChats) << "one try each";
}

TEST(UpdateConfigKeys, GeminiApiKeysAddsKeysOnEveryCore) {
  std::unique_ptr<Gateway> gateway = StartGateway(AdminOptions(2, 1));
  ASSERT_TRUE(gateway);
  std::string cookie = SignIn(*gateway);
  HttpResponse r = UpdateConfig(*gateway, cookie, "gemini_api_keys",
                                "\"" + TestKey(2) + ",\\n " + TestKey(3) + "\\r\\n\"");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(ParseJson(r.body)->Int("/added"), 2);
  EXPECT_EQ(r.body.find(kTestKeyPrefix), std::string::npos);
  std::this_thread::sleep_for(Millis(20));
  std::set<int> cores;
  for (int i = 0; i < 12; ++i) {
    auto json = Dashboard(*gateway, cookie);
    cores.insert(static_cast<int>(json->Int("/core")));
    EXPECT_EQ(json->Int("/key_count"), 3);
    EXPECT_EQ(json->Size("/api_key_stats"), 3u);
  }
  EXPECT_EQ(cores.size(), 2u);
  // The new keys are used, by every core (indices agree: the fake sees the right keys).
  gateway->ClearRequests();
  for (int i = 0; i < 24; ++i)
    ASSERT_EQ(ChatOnce(*gateway), 200);
  std::set<int> used;
  for (const RecordedRequest& request : gateway->Requests("generateContent"))
    used.insert(TestKeyIndex(request.key));
  EXPECT_EQ(used, (std::set<int>{1, 2, 3}));
  // Known keys are not added twice; empty input and a wrong type are refused.
  HttpResponse again = UpdateConfig(*gateway, cookie, "gemini_api_keys", "\"" + TestKey(2) + "\"");
  EXPECT_EQ(again.status, 200) << again;
  EXPECT_EQ(ParseJson(again.body)->Int("/added"), 0);
  HttpResponse empty = UpdateConfig(*gateway, cookie, "gemini_api_keys", R"(" , \n ")");
  EXPECT_EQ(empty.status, 400) << empty;
  HttpResponse typed = UpdateConfig(*gateway, cookie, "gemini_api_keys", "123");
  EXPECT_EQ(typed.status, 422) << typed;
  EXPECT_TRUE(ParseJson(typed.body)->IsString("/errors/gemini_api_keys"));
  HttpResponse junk = UpdateConfig(*gateway, cookie, "gemini_api_keys", R"("bad\u0001key")");
  EXPECT_EQ(junk.status, 422) << junk;
  EXPECT_EQ(Dashboard(*gateway, cookie)->Int("/key_count"), 3);
}

}  // namespace
}  // namespace ringgate::testing
