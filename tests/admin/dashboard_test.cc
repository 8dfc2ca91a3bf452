// GET /api/dashboard-data: calls and tokens move after chat requests through ringgate and every
// core answers the same figures (each answers from its own view, kept in step by messages); the
// per-key list with health (resting with until and reason, quarantined), its paging and filter;
// available models; settings with their source; no whole key anywhere.
#include <set>
#include <string>
#include <thread>

#include "admin_client.h"

namespace ringgate::testing {
namespace {

int64_t SeriesSum(const Json& json, std::string_view pointer) {
  int64_t sum = 0;
  for (size_t i = 0; i < json.Size(pointer); ++i)
    sum += json.Int(std::string(pointer) + "/" + std::to_string(i) + "/value");
  return sum;
}

TEST(DashboardData, CountsMoveAfterChatRequestsOnBothCores) {
  std::unique_ptr<Gateway> gateway = StartGateway(AdminOptions(2));
  ASSERT_TRUE(gateway);
  std::string cookie = SignIn(*gateway);
  auto before = Dashboard(*gateway, cookie);
  ASSERT_TRUE(before->ok);
  EXPECT_EQ(before->Int("/minute_calls"), 0);
  EXPECT_EQ(before->Int("/last_24h_calls"), 0);
  EXPECT_EQ(before->Size("/calls_time_series"), 31u);
  EXPECT_EQ(before->Size("/calls_time_series_24h"), 24u);
  constexpr int kChats = 12;
  for (int i = 0; i < kChats; ++i)
    ASSERT_EQ(ChatOnce(*gateway), 200);
  std::this_thread::sleep_for(Millis(600));  // two publication ticks
  std::set<int> cores;
  int64_t tokens = -1;
  for (int i = 0; i < 16; ++i) {
    auto json = Dashboard(*gateway, cookie);
    ASSERT_TRUE(json->ok);
    cores.insert(static_cast<int>(json->Int("/core")));
    EXPECT_EQ(json->Int("/minute_calls") + 0, kChats);
    EXPECT_EQ(json->Int("/hourly_calls"), kChats);
    EXPECT_EQ(json->Int("/last_24h_calls"), kChats);
    EXPECT_EQ(SeriesSum(*json, "/calls_time_series"), kChats);
    EXPECT_EQ(SeriesSum(*json, "/calls_time_series_24h"), kChats);
    EXPECT_GT(json->Int("/last_24h_tokens"), 0);
    if (tokens < 0)
      tokens = json->Int("/last_24h_tokens");
    EXPECT_EQ(json->Int("/last_24h_tokens"), tokens) << "every core counts the same tokens";
    EXPECT_EQ(json->Int("/hourly_tokens"), tokens);
    EXPECT_EQ(SeriesSum(*json, "/tokens_time_series"), tokens);
    int64_t key_calls = 0;
    int64_t model_calls = 0;
    for (size_t k = 0; k < json->Size("/api_key_stats"); ++k) {
      std::string row = "/api_key_stats/" + std::to_string(k);
      key_calls += json->Int(row + "/calls_24h");
      if (json->Has(row + "/model_stats/" + kModel))
        model_calls += json->Int(row + "/model_stats/" + kModel + "/calls");
    }
    EXPECT_EQ(key_calls, kChats);
    EXPECT_EQ(model_calls, kChats);
  }
  EXPECT_EQ(cores, (std::set<int>{0, 1}));
}

struct KeysConfig {
  static GatewayOptions Options() {
    GatewayOptions options = AdminOptions(1, 4);
    options.env.push_back("INVALID_API_KEYS=" + TestKey(5));
    options.env.push_back("MAX_RETRY_NUM=7");
    return options;
  }
};
using KeysListTest = GatewayTest<KeysConfig>;

TEST_F(KeysListTest, HealthPagingFilterAndMasking) {
  std::string cookie = SignIn(gateway());
  gateway().KeyState(TestKey(3), "minute_quota");
  // Until a request has met key 3 (each picks a random key first; the 429 sends it on).
  bool resting = false;
  for (int i = 0; i < 40 && !resting; ++i) {
    ASSERT_EQ(ChatOnce(gateway()), 200);
    resting = Dashboard(gateway(), cookie)->Int("/key_state_counts/resting") == 1;
  }
  ASSERT_TRUE(resting);
  auto all = Dashboard(gateway(), cookie);
  EXPECT_EQ(all->Int("/key_count"), 4);
  EXPECT_EQ(all->Int("/key_state_counts/healthy"), 3);
  EXPECT_EQ(all->Int("/key_state_counts/quarantined"), 1);
  EXPECT_EQ(all->Size("/api_key_stats"), 5u);
  EXPECT_FALSE(all->Has("/api_key_page")) << "no paging asked for: HAJIMI's whole list";

  auto rest = Dashboard(gateway(), cookie, "key_state=resting");
  ASSERT_EQ(rest->Size("/api_key_stats"), 1u);
  EXPECT_EQ(rest->Str("/api_key_stats/0/health/state"), "resting");
  EXPECT_GT(rest->Int("/api_key_stats/0/health/until"), rest->Int("/now_ms"));
  EXPECT_NE(rest->Str("/api_key_stats/0/health/reason").find("429"), std::string::npos);
  EXPECT_EQ(rest->Str("/api_key_stats/0/health/models/0/model"), kModel);
  // INVALID_API_KEYS are added first: TestKey(5) is index 0, TestKey(3) index 3.
  EXPECT_EQ(rest->Int("/api_key_stats/0/index"), 3);

  auto off = Dashboard(gateway(), cookie, "key_state=quarantined");
  ASSERT_EQ(off->Size("/api_key_stats"), 1u);
  EXPECT_EQ(off->Str("/api_key_stats/0/health/state"), "quarantined");
  EXPECT_TRUE(off->IsNull("/api_key_stats/0/health/until"));
  EXPECT_NE(off->Str("/api_key_stats/0/health/reason").find("INVALID_API_KEYS"), std::string::npos);

  auto healthy = Dashboard(gateway(), cookie, "key_state=healthy&key_page=1&key_page_size=2");
  EXPECT_EQ(healthy->Size("/api_key_stats"), 2u);
  EXPECT_EQ(healthy->Int("/api_key_page/total"), 3);
  EXPECT_EQ(healthy->Int("/api_key_page/pages"), 2);
  EXPECT_EQ(healthy->Str("/api_key_stats/0/health/state"), "healthy");
  EXPECT_EQ(healthy->Str("/api_key_stats/0/health/reason"), "");

  auto page3 = Dashboard(gateway(), cookie, "key_page=3&key_page_size=2");
  EXPECT_EQ(page3->Size("/api_key_stats"), 1u);
  EXPECT_EQ(page3->Int("/api_key_page/page"), 3);
  EXPECT_EQ(page3->Int("/api_key_page/pages"), 3);
  auto past = Dashboard(gateway(), cookie, "key_page=9&key_page_size=2");
  EXPECT_EQ(past->Size("/api_key_stats"), 0u);
  EXPECT_EQ(past->Int("/api_key_page/pages"), 3);
  // The state counts are the whole pool's, whatever the filter.
  EXPECT_EQ(page3->Int("/key_state_counts/resting"), 1);

  for (const char* bad :
       {"key_page=0", "key_page=x", "key_page_size=0", "key_page_size=5000", "key_state=sleepy"}) {
    HttpResponse r = ApiGet(gateway(), std::string("/api/dashboard-data?") + bad, cookie);
    EXPECT_EQ(r.status, 400) << bad << ": " << r;
  }
}

TEST_F(KeysListTest, NoWholeKeyAndMaskedLabels) {
  std::string cookie = SignIn(gateway());
  HttpResponse r = ApiGet(gateway(), "/api/dashboard-data", cookie);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find(kTestKeyPrefix), std::string::npos) << "a whole key leaked";
  EXPECT_EQ(r.body.find(kWebPassword), std::string::npos);
  auto json = ParseJson(r.body);
  ASSERT_GE(json->Size("/api_key_stats"), 1u);
  for (size_t i = 0; i < json->Size("/api_key_stats"); ++i)
    EXPECT_EQ(json->Str("/api_key_stats/" + std::to_string(i) + "/api_key"), "AIzaSyFA");
}

TEST_F(KeysListTest, ModelsSettingsAndStatus) {
  std::string cookie = SignIn(gateway());
  auto json = Dashboard(gateway(), cookie);
  EXPECT_EQ(json->Str("/status"), "running");
  EXPECT_GE(json->Int("/uptime_seconds"), 0);
  EXPECT_GT(json->Int("/now_ms"), 1'600'000'000'000);
  EXPECT_EQ(json->Str("/current_time").size(), 8u);
  EXPECT_EQ(json->Int("/api_key_daily_limit"), 100);
  bool listed = false;
  for (size_t i = 0; i < json->Size("/available_models"); ++i)
    listed |= json->Str("/available_models/" + std::to_string(i)) == kModel;
  EXPECT_TRUE(listed);
  // The log ring as HAJIMI's entries (14.3): the start-up lines at least, at most 100.
  ASSERT_GT(json->Size("/logs"), 0u);
  EXPECT_LE(json->Size("/logs"), 100u);
  EXPECT_EQ(json->Str("/logs/0/timestamp").size(), 19u);  // "YYYY-MM-DD HH:MM:SS"
  EXPECT_FALSE(json->Str("/logs/0/level").empty());
  EXPECT_EQ(json->Int("/settings/max_retry_num/value"), 7);
  EXPECT_EQ(json->Str("/settings/max_retry_num/source"), "env");
  EXPECT_FALSE(json->Bool("/settings/fake_streaming/value"));
  EXPECT_EQ(json->Str("/settings/fake_streaming/source"), "env");
  EXPECT_TRUE(json->Bool("/settings/random_string/value"));
  EXPECT_EQ(json->Str("/settings/random_string/source"), "default");
  EXPECT_EQ(json->Num("/settings/fake_streaming_interval/value"), 1.0);
  EXPECT_EQ(json->Int("/max_retry_num"), 7) << "HAJIMI's top-level field";
  for (const char* vertex : {"enable_vertex", "enable_vertex_express", "vertex_express_api_key",
                             "google_credentials_json"}) {
    EXPECT_FALSE(json->Has(std::string("/settings/") + vertex)) << vertex;
    EXPECT_FALSE(json->Has(std::string("/") + vertex)) << vertex;
  }
}

}  // namespace
}  // namespace ringgate::testing
