// The dashboard page and its assets: served by ringgate itself at / (or /{DASHBOARD_URL}) and
// /assets/*, without auth, with a strong ETag answered 304 on If-None-Match, Cache-Control
// no-cache, the strict CSP and the other headers docs/dashboard-api.md recommends; HEAD works.
#include <string>

#include "admin_client.h"

namespace ringgate::testing {
namespace {

struct PageConfig {
  static GatewayOptions Options() { return AdminOptions(1); }
};
using PageTest = GatewayTest<PageConfig>;

void ExpectPageHeaders(const HttpResponse& response) {
  EXPECT_EQ(response.Header("cache-control").value_or(""), "no-cache") << response;
  std::string csp = response.Header("content-security-policy").value_or("");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(response.Header("x-content-type-options").value_or(""), "nosniff");
  EXPECT_EQ(response.Header("referrer-policy").value_or(""), "no-referrer");
}

TEST_F(PageTest, IndexIsServedWithoutAuth) {
  HttpResponse page = ApiGet(gateway(), "/");
  ASSERT_EQ(page.status, 200) << page;
  EXPECT_EQ(page.Header("content-type").value_or(""), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("/assets/app.js"), std::string::npos);
  EXPECT_TRUE(HasCommonHeaders(page));
  ExpectPageHeaders(page);
  std::string etag = page.Header("etag").value_or("");
  ASSERT_GE(etag.size(), 3u);
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag.back(), '"');
}

TEST_F(PageTest, AssetsCarryTheirTypesAndEtags) {
  HttpResponse js = ApiGet(gateway(), "/assets/app.js");
  ASSERT_EQ(js.status, 200) << js;
  EXPECT_EQ(js.Header("content-type").value_or(""), "text/javascript; charset=utf-8");
  EXPECT_NE(js.body.find("/api/dashboard-data"), std::string::npos);
  ExpectPageHeaders(js);
  HttpResponse css = ApiGet(gateway(), "/assets/app.css");
  ASSERT_EQ(css.status, 200) << css;
  EXPECT_EQ(css.Header("content-type").value_or(""), "text/css; charset=utf-8");
  EXPECT_NE(js.Header("etag"), css.Header("etag"));
  // A query string (cache busting) is ignored.
  EXPECT_EQ(ApiGet(gateway(), "/assets/app.css?v=2").status, 200);
}

TEST_F(PageTest, MatchingIfNoneMatchGets304WithoutBody) {
  HttpResponse first = ApiGet(gateway(), "/assets/app.js");
  std::string etag = first.Header("etag").value_or("");
  ASSERT_FALSE(etag.empty());
  HttpResponse again = ApiGet(gateway(), "/assets/app.js", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(again.status, 304) << again;
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(again.Header("etag").value_or(""), etag);
  EXPECT_FALSE(again.HasHeader("content-length"));
  ExpectPageHeaders(again);
  // A list that names it matches too; another ETag does not.
  EXPECT_EQ(ApiGet(gateway(), "/assets/app.js", "If-None-Match: \"x\", " + etag + "\r\n").status,
            304);
  HttpResponse stale = ApiGet(gateway(), "/assets/app.js", "If-None-Match: \"0000\"\r\n");
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(stale.body, first.body);
}

TEST_F(PageTest, HeadAnswersTheHeadOnly) {
  HttpResponse head;
  ASSERT_EQ(RoundTrip(gateway().port(), "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n", &head,
                      "127.0.0.1", /*head_request=*/true),
            ReadStatus::kOk);
  EXPECT_EQ(head.status, 200) << head;
  EXPECT_TRUE(head.body.empty());
  HttpResponse get = ApiGet(gateway(), "/");
  EXPECT_EQ(head.Header("content-length"), get.Header("content-length"));
  EXPECT_EQ(head.Header("etag"), get.Header("etag"));
}

TEST_F(PageTest, UnknownAssetIs404AndNothingRemoteIsReferenced) {
  EXPECT_EQ(ApiGet(gateway(), "/assets/nope.js").status, 404);
  EXPECT_EQ(ApiGet(gateway(), "/assets/").status, 404);
  for (const char* path : {"/", "/assets/app.js", "/assets/app.css"}) {
    HttpResponse r = ApiGet(gateway(), path);
    EXPECT_EQ(r.body.find("http://"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("https://"), std::string::npos) << path;
  }
}

TEST(DashboardUrl, MovesThePage) {
  GatewayOptions options = AdminOptions(1);
  options.env.push_back("DASHBOARD_URL=/panel/");
  std::unique_ptr<Gateway> gateway = StartGateway(options);
  ASSERT_TRUE(gateway);
  HttpResponse page = ApiGet(*gateway, "/panel");
  EXPECT_EQ(page.status, 200) << page;
  EXPECT_NE(page.body.find("/assets/app.js"), std::string::npos);
  EXPECT_EQ(ApiGet(*gateway, "/").status, 404);
  EXPECT_EQ(ApiGet(*gateway, "/assets/app.css").status, 200);
}

}  // namespace
}  // namespace ringgate::testing
