// Sign-in and auth of every /api/* route: without a session cookie or the web password each one
// answers 401 {"detail"}; the cookie from /api/login works (HttpOnly, SameSite=Strict, Path=/), as
// do HAJIMI's "password" in the JSON body and "Authorization: Bearer <web password>"; PASSWORD
// (the client password) is not the web password when WEB_PASSWORD is set; wrong passwords are
// slowed down per client IP (429 + Retry-After + retry_after) on every core; logout revokes the
// session on every core before it answers.
#include <set>
#include <string>
#include <thread>

#include "admin_client.h"

namespace ringgate::testing {
namespace {

struct Route {
  const char* method;
  const char* path;
};

constexpr Route kProtected[] = {
    {"GET", "/api/dashboard-data"},
    {"POST", "/api/update-config"},
    {"POST", "/api/test-api-keys"},
    {"GET", "/api/test-api-keys/progress"},
    {"POST", "/api/clear-invalid-api-keys"},
    {"POST", "/api/export-valid-api-keys"},
    {"POST", "/api/reset-stats"},
    {"POST", "/api/logout"},
};

HttpResponse CallRoute(Gateway& gateway, const Route& route, std::string_view body,
                       std::string_view headers) {
  if (std::string_view(route.method) == "GET")
    return ApiGet(gateway, route.path, headers);
  return ApiPost(gateway, route.path, body, headers);
}

void ExpectDetail(const HttpResponse& response, int status) {
  EXPECT_EQ(response.status, status) << response;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_TRUE(json->IsString("/detail")) << response.body;
  EXPECT_FALSE(json->Str("/detail").empty());
}

// The core that answered a dashboard-data request (ringgate's "core" field).
int CoreOf(Gateway& gateway, std::string_view cookie) {
  auto json = Dashboard(gateway, cookie);
  return json->ok ? static_cast<int>(json->Int("/core")) : -1;
}

struct AuthConfig {
  static GatewayOptions Options() { return AdminOptions(2); }
};
using AuthTest = GatewayTest<AuthConfig>;

TEST_F(AuthTest, EveryApiRouteNeedsAuth) {
  for (const Route& route : kProtected) {
    SCOPED_TRACE(route.path);
    ExpectDetail(CallRoute(gateway(), route, "{}", ""), 401);
    // A forged or garbled cookie is nobody's (and is no password attempt).
    ExpectDetail(CallRoute(gateway(), route, "{}",
                           "Cookie: ringgate_session=" + std::string(130, 'a') + "\r\n"),
                 401);
  }
  // The client PASSWORD is not the web password (two wrong attempts: under the slow-down).
  ExpectDetail(ApiGet(gateway(), "/api/dashboard-data", Bearer(kDefaultPassword)), 401);
  ExpectDetail(ApiPost(gateway(), "/api/reset-stats",
                       std::string("{\"password\":\"") + kDefaultPassword + "\"}"),
               401);
  EXPECT_FALSE(SignIn(gateway()).empty()) << "the right password clears the count";
}

TEST_F(AuthTest, LoginSetsAStrictHttpOnlyCookie) {
  HttpResponse response =
      ApiPost(gateway(), "/api/login", std::string("{\"password\":\"") + kWebPassword + "\"}");
  ASSERT_EQ(response.status, 200) << response;
  std::string cookie = response.Header("set-cookie").value_or("");
  EXPECT_EQ(cookie.rfind("ringgate_session=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("Path=/"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "plain HTTP: " << cookie;
  EXPECT_EQ(response.body.find(kWebPassword), std::string::npos);
  auto json = ParseJson(response.body);
  EXPECT_EQ(json->Str("/status"), "success");
}

TEST_F(AuthTest, LoginRefusesBadBodies) {
  ExpectDetail(ApiPost(gateway(), "/api/login", "not json"), 422);
  ExpectDetail(ApiPost(gateway(), "/api/login", "[1]"), 422);
  ExpectDetail(ApiPost(gateway(), "/api/login", "{}"), 400);
  ExpectDetail(ApiPost(gateway(), "/api/login", R"({"password":""})"), 400);
  ExpectDetail(ApiPost(gateway(), "/api/login", R"({"password":123})"), 422);
}

TEST_F(AuthTest, CookieWorksOnEveryRouteAndEveryCore) {
  std::string cookie = SignIn(gateway());
  ASSERT_FALSE(cookie.empty());
  std::set<int> cores;
  for (int i = 0; i < 24 && cores.size() < 2; ++i)
    cores.insert(CoreOf(gateway(), cookie));
  EXPECT_EQ(cores, (std::set<int>{0, 1}));
  EXPECT_EQ(ApiGet(gateway(), "/api/test-api-keys/progress", cookie).status, 200);
  EXPECT_EQ(ApiPost(gateway(), "/api/export-valid-api-keys", "{}", cookie).status, 200);
}

TEST_F(AuthTest, HajimiBodyPasswordAndBearerWork) {
  std::string body = std::string("{\"password\":\"") + kWebPassword + "\"}";
  HttpResponse progress = ApiPost(gateway(), "/api/export-valid-api-keys", body);
  EXPECT_EQ(progress.status, 200) << progress;
  HttpResponse data = ApiGet(gateway(), "/api/dashboard-data", Bearer(kWebPassword));
  EXPECT_EQ(data.status, 200) << data;
  EXPECT_EQ(data.Header("cache-control").value_or(""), "no-store");
  HttpResponse update = ApiPost(
      gateway(), "/api/update-config",
      std::string(R"({"key":"max_retry_num","value":15,"password":")") + kWebPassword + "\"}");
  EXPECT_EQ(update.status, 200) << update;
}

TEST_F(AuthTest, LogoutRevokesTheSessionOnEveryCore) {
  std::string cookie = SignIn(gateway());
  ASSERT_FALSE(cookie.empty());
  std::set<int> cores;
  for (int i = 0; i < 24 && cores.size() < 2; ++i)
    cores.insert(CoreOf(gateway(), cookie));
  ASSERT_EQ(cores.size(), 2u) << "the cookie should have been used on both cores";
  std::string other = SignIn(gateway());
  HttpResponse out = ApiPost(gateway(), "/api/logout", "{}", cookie);
  ASSERT_EQ(out.status, 200) << out;
  std::string expire = out.Header("set-cookie").value_or("");
  EXPECT_NE(expire.find("Max-Age=0"), std::string::npos) << expire;
  // Right after the answer: refused everywhere, while another session still works.
  for (int i = 0; i < 16; ++i) {
    ExpectDetail(ApiGet(gateway(), "/api/dashboard-data", cookie), 401);
    EXPECT_EQ(ApiGet(gateway(), "/api/dashboard-data", other).status, 200);
  }
}

// A gateway of its own: the failures it counts would slow the other tests down.
TEST(LoginThrottle, WrongPasswordsAreSlowedOnEveryCore) {
  std::unique_ptr<Gateway> gateway = StartGateway(AdminOptions(2));
  ASSERT_TRUE(gateway);
  for (uint32_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    // Each source counts: login, body password, Bearer.
    if (i % 3 == 0) {
      ExpectDetail(ApiPost(*gateway, "/api/login", R"({"password":"nope"})"), 401);
    } else if (i % 3 == 1) {
      ExpectDetail(ApiPost(*gateway, "/api/reset-stats", R"({"password":"nope"})"), 401);
    } else {
      ExpectDetail(ApiGet(*gateway, "/api/dashboard-data", Bearer("nope")), 401);
    }
  }
  std::this_thread::sleep_for(Millis(50));  // the last failure reaches the other core
  for (int i = 0; i < 6; ++i) {
    // The right password too, on whichever core.
    HttpResponse refused =
        ApiPost(*gateway, "/api/login", std::string("{\"password\":\"") + kWebPassword + "\"}");
    ASSERT_EQ(refused.status, 429) << refused;
    EXPECT_EQ(refused.Header("retry-after").value_or(""), "1");
    auto json = ParseJson(refused.body);
    EXPECT_EQ(json->Int("/retry_after"), 1) << refused.body;
    EXPECT_FALSE(json->Str("/detail").empty());
    EXPECT_FALSE(refused.HasHeader("set-cookie"));
  }
  // No password at all is not an attempt: still 401.
  ExpectDetail(ApiGet(*gateway, "/api/dashboard-data"), 401);
  std::this_thread::sleep_for(Millis(1100));
  // One more failure doubles the wait.
  ExpectDetail(ApiPost(*gateway, "/api/login", R"({"password":"nope"})"), 401);
  std::this_thread::sleep_for(Millis(50));
  HttpResponse longer = ApiGet(*gateway, "/api/dashboard-data", Bearer(kWebPassword));
  EXPECT_EQ(longer.status, 429) << longer;
  EXPECT_EQ(longer.Header("retry-after").value_or(""), "2");
  std::this_thread::sleep_for(Millis(2100));
  // The right password clears the count everywhere.
  EXPECT_FALSE(SignIn(*gateway).empty());
  std::this_thread::sleep_for(Millis(50));
  ExpectDetail(ApiPost(*gateway, "/api/login", R"({"password":"nope"})"), 401);
  ExpectDetail(ApiPost(*gateway, "/api/login", R"({"password":"nope"})"), 401);
}

}  // namespace
}  // namespace ringgate::testing
