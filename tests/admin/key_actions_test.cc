// The key actions and the stats reset: test-api-keys (core 0's KeyValidator over every key, 409
// while a run is in progress) with its progress, clear-invalid-api-keys, export-valid-api-keys
// (whole keys, only there), reset-stats (every core's usage and minute statistics), each asked
// from either core.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>

#include "admin_client.h"

namespace ringgate::testing {
namespace {

std::unique_ptr<Json> Progress(Gateway& gateway, std::string_view cookie) {
  HttpResponse r = ApiGet(gateway, "/api/test-api-keys/progress", cookie);
  EXPECT_EQ(r.status, 200) << r;
  return ParseJson(r.body);
}

// A listening socket nobody accepts from: connections complete in the backlog and every request
// waits forever, so a key check against it stays running.
class Blackhole {
 public:
  Blackhole() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0 && listen(fd_, 64) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~Blackhole() { close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// Started with no key in front of an upstream named by host name: ringgate sends no DNS query
// then. A key added on the dashboard must make the name resolve, or no call could ever go out.
TEST(AddKeys, KeysAddedToAKeylessServerReachAnUpstreamNamedByHost) {
  std::unique_ptr<Gateway> upstream = StartGateway(AdminOptions(1, 1));  // for its fake
  ASSERT_TRUE(upstream);
  GatewayOptions options = AdminOptions(2, 0);
  options.start_fake = false;
  options.base_url = "http://localhost:" + std::to_string(upstream->fake_port());
  options.probe_model = "";
  std::unique_ptr<Gateway> gateway = StartGateway(options);
  ASSERT_TRUE(gateway);
  EXPECT_NE(ChatOnce(*gateway), 200) << "no key yet";
  std::string cookie = SignIn(*gateway);
  HttpResponse added = UpdateConfig(*gateway, cookie, "gemini_api_keys", "\"" + TestKey(5) + "\"");
  ASSERT_EQ(added.status, 200) << added;
  int status = 0;
  for (int i = 0; i < 200 && status != 200; ++i) {  // the name resolves on its own thread
    status = ChatOnce(*gateway);
    if (status != 200)
      std::this_thread::sleep_for(Millis(20));
  }
  EXPECT_EQ(status, 200);
}

TEST(TestApiKeys, SecondStartWhileRunningIs409) {
  Blackhole upstream;
  ASSERT_NE(upstream.port(), 0);
  GatewayOptions options = AdminOptions(2, 3);
  options.start_fake = false;
  options.base_url = "http://127.0.0.1:" + std::to_string(upstream.port());
  options.probe_model = "";
  std::unique_ptr<Gateway> gateway = StartGateway(options);
  ASSERT_TRUE(gateway);
  std::string cookie = SignIn(*gateway);
  auto idle = Progress(*gateway, cookie);
  EXPECT_FALSE(idle->Bool("/is_running"));
  HttpResponse started = ApiPost(*gateway, "/api/test-api-keys", "{}", cookie);
  ASSERT_EQ(started.status, 200) << started;
  EXPECT_EQ(ParseJson(started.body)->Str("/status"), "success");
  for (int i = 0; i < 6; ++i) {  // from either core
    HttpResponse again = ApiPost(*gateway, "/api/test-api-keys", "{}", cookie);
    EXPECT_EQ(again.status, 409) << again;
    EXPECT_TRUE(ParseJson(again.body)->IsString("/detail"));
    auto progress = Progress(*gateway, cookie);
    EXPECT_TRUE(progress->Bool("/is_running"));
    EXPECT_EQ(progress->Int("/total"), 3);
    EXPECT_EQ(progress->Int("/completed"), 0);
  }
}

TEST(TestApiKeys, RunClearInvalidExportAndReAdd) {
  std::unique_ptr<Gateway> gateway = StartGateway(AdminOptions(2, 3));
  ASSERT_TRUE(gateway);
  std::string cookie = SignIn(*gateway);
  gateway->KeyState(TestKey(2), "invalid");
  ASSERT_EQ(ApiPost(*gateway, "/api/test-api-keys", "{}", cookie).status, 200);
  std::unique_ptr<Json> progress;
  for (int i = 0; i < 200; ++i) {
    progress = Progress(*gateway, cookie);
    if (!progress->Bool("/is_running"))
      break;
    std::this_thread::sleep_for(Millis(10));
  }
  ASSERT_FALSE(progress->Bool("/is_running"));
  EXPECT_TRUE(progress->Bool("/is_completed"));
  EXPECT_EQ(progress->Int("/total"), 3);
  EXPECT_EQ(progress->Int("/completed"), 3);
  EXPECT_EQ(progress->Int("/valid"), 2);
  EXPECT_EQ(progress->Int("/invalid"), 1);
  for (int i = 0; i < 6; ++i) {
    auto json = Dashboard(*gateway, cookie);
    EXPECT_EQ(json->Int("/key_state_counts/quarantined"), 1);
    EXPECT_EQ(json->Int("/key_count"), 2);
  }
  auto off = Dashboard(*gateway, cookie, "key_state=quarantined");
  EXPECT_EQ(off->Str("/api_key_stats/0/health/reason"), "API_KEY_INVALID");

  for (int i = 0; i < 4; ++i) {  // from either core
    HttpResponse exported = ApiPost(*gateway, "/api/export-valid-api-keys", "{}", cookie);
    ASSERT_EQ(exported.status, 200) << exported;
    EXPECT_EQ(exported.Header("cache-control").value_or(""), "no-store");
    auto json = ParseJson(exported.body);
    EXPECT_EQ(json->Str("/status"), "success");
    EXPECT_EQ(json->Int("/count"), 2);
    EXPECT_EQ(json->Raw("/keys"), "[\"" + TestKey(1) + "\",\"" + TestKey(3) + "\"]");
    EXPECT_FALSE(json->Str("/message").empty());
  }

  HttpResponse cleared = ApiPost(*gateway, "/api/clear-invalid-api-keys", "{}", cookie);
  ASSERT_EQ(cleared.status, 200) << cleared;
  EXPECT_EQ(ParseJson(cleared.body)->Str("/message"), "已成功清除 1 个失效的API密钥");
  std::this_thread::sleep_for(Millis(20));
  for (int i = 0; i < 6; ++i) {
    auto json = Dashboard(*gateway, cookie);
    EXPECT_EQ(json->Int("/key_state_counts/quarantined"), 0);
    EXPECT_EQ(json->Size("/api_key_stats"), 2u);
  }
  HttpResponse nothing = ApiPost(*gateway, "/api/clear-invalid-api-keys", "{}", cookie);
  EXPECT_EQ(ParseJson(nothing.body)->Str("/message"), "没有失效的API密钥需要清除");
  // A cleared key is not tested again.
  ASSERT_EQ(ApiPost(*gateway, "/api/test-api-keys", "{}", cookie).status, 200);
  for (int i = 0; i < 200 && Progress(*gateway, cookie)->Bool("/is_running"); ++i)
    std::this_thread::sleep_for(Millis(10));
  EXPECT_EQ(Progress(*gateway, cookie)->Int("/total"), 2);

  // Given again, a cleared key comes back into rotation.
  HttpResponse added = UpdateConfig(*gateway, cookie, "gemini_api_keys", "\"" + TestKey(2) + "\"");
  ASSERT_EQ(added.status, 200) << added;
  EXPECT_EQ(ParseJson(added.body)->Int("/added"), 1);
  std::this_thread::sleep_for(Millis(20));
  auto back = Dashboard(*gateway, cookie);
  EXPECT_EQ(back->Int("/key_count"), 3);
  EXPECT_EQ(back->Int("/key_state_counts/healthy"), 3);
}

TEST(ResetStats, ZeroesEveryCore) {
  std::unique_ptr<Gateway> gateway = StartGateway(AdminOptions(2, 3));
  ASSERT_TRUE(gateway);
  std::string cookie = SignIn(*gateway);
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(ChatOnce(*gateway), 200);
  std::this_thread::sleep_for(Millis(600));
  ASSERT_EQ(Dashboard(*gateway, cookie)->Int("/last_24h_calls"), 8);
  HttpResponse reset = ApiPost(*gateway, "/api/reset-stats", "{}", cookie);
  ASSERT_EQ(reset.status, 200) << reset;
  EXPECT_EQ(ParseJson(reset.body)->Str("/status"), "success");
  std::this_thread::sleep_for(Millis(50));
  std::set<int> cores;
  for (int i = 0; i < 12; ++i) {
    auto json = Dashboard(*gateway, cookie);
    cores.insert(static_cast<int>(json->Int("/core")));
    EXPECT_EQ(json->Int("/last_24h_calls"), 0);
    EXPECT_EQ(json->Int("/minute_calls"), 0);
    EXPECT_EQ(json->Int("/hourly_tokens"), 0);
    for (size_t k = 0; k < json->Size("/api_key_stats"); ++k)
      EXPECT_EQ(json->Int("/api_key_stats/" + std::to_string(k) + "/calls_24h"), 0);
  }
  EXPECT_EQ(cores.size(), 2u);
  // Counting goes on afterwards.
  ASSERT_EQ(ChatOnce(*gateway), 200);
  std::this_thread::sleep_for(Millis(600));
  EXPECT_EQ(Dashboard(*gateway, cookie)->Int("/last_24h_calls"), 1);
}

}  // namespace
}  // namespace ringgate::testing
