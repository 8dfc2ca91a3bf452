// AccessPolicy: password sources and their order, constant-time comparison results, the
// User-Agent allow-list, CORS headers and preflights, HAJIMI's env parsing rules.
#include "ringgate/policy/access.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

namespace ringgate {
namespace {

struct RequestSpec {
  std::string method = "GET";
  std::string path = "/v1/models";
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Owns the strings the HttpRequest's views point into.
class TestRequest {
 public:
  explicit TestRequest(RequestSpec spec) : spec_(std::move(spec)) {
    request_.method_name = spec_.method;
    request_.path = spec_.path;
    request_.query = spec_.query;
    for (const auto& [name, value] : spec_.headers)
      request_.headers.push_back({name, value});
  }
  const HttpRequest& get() const { return request_; }

 private:
  RequestSpec spec_;
  HttpRequest request_;
};

AccessPolicy Policy(std::string password = "s3cret", std::vector<std::string> uas = {},
                    std::vector<std::string> origins = {}) {
  AccessSettings settings;
  settings.password = std::move(password);
  settings.user_agent_whitelist = std::move(uas);
  settings.allowed_origins = std::move(origins);
  return AccessPolicy(std::move(settings));
}

AuthOutcome Auth(const AccessPolicy& policy, RequestSpec spec) {
  TestRequest request(std::move(spec));
  return policy.Authenticate(request.get()).outcome;
}

// Reads "/a/b" string fields of a small JSON document.
std::string JsonField(const std::string& json, const char* pointer) {
  simdjson::padded_string padded(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc))
    return "<invalid json>";
  std::string_view value;
  if (doc.at_pointer(pointer).get_string().get(value))
    return "<missing>";
  return std::string(value);
}

bool JsonIsNull(const std::string& json, const char* pointer) {
  simdjson::padded_string padded(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc))
    return false;
  bool is_null = false;
  return !doc.at_pointer(pointer).is_null().get(is_null) && is_null;
}

// ---------------------------------------------------------------------------------------------
// Env parsing (hajimi-behaviour 3.1)

TEST(HajimiEnvTest, ListsAreTrimmedAndEmptiesDropped) {
  EXPECT_EQ(ParseHajimiList(" a, b ,,c,  , "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(ParseHajimiList("").empty());
  EXPECT_TRUE(ParseHajimiList(" , ,").empty());
  EXPECT_EQ(ParseHajimiList("only"), (std::vector<std::string>{"only"}));
}

TEST(HajimiEnvTest, Booleans) {
  for (const char* yes : {"true", "TRUE", "True", "1", "yes", "YES", " yes "})
    EXPECT_TRUE(ParseHajimiBool(yes)) << yes;
  for (const char* no : {"", "false", "0", "no", "on", "y", "t", "2", "truee"})
    EXPECT_FALSE(ParseHajimiBool(no)) << no;
}

TEST(HajimiEnvTest, PasswordQuotesStripped) {
  EXPECT_EQ(StripDoubleQuotes("\"abc\""), "abc");
  EXPECT_EQ(StripDoubleQuotes("\"\"abc\""), "abc");
  EXPECT_EQ(StripDoubleQuotes("'abc'"), "'abc'");
  EXPECT_EQ(StripDoubleQuotes("a\"b"), "a\"b");
}

TEST(HajimiEnvTest, AccessSettingsFromEnv) {
  AccessSettings defaults = AccessSettingsFromEnv(std::nullopt, std::nullopt, std::nullopt);
  EXPECT_EQ(defaults.password, "123");
  EXPECT_TRUE(defaults.user_agent_whitelist.empty());
  EXPECT_TRUE(defaults.allowed_origins.empty());

  AccessSettings s = AccessSettingsFromEnv("\"pw\"", "SillyTavern/1.0, curl/8.0 ,",
                                           "https://a.example, http://localhost:8000");
  EXPECT_EQ(s.password, "pw");
  EXPECT_EQ(s.user_agent_whitelist, (std::vector<std::string>{"sillytavern/1.0", "curl/8.0"}));
  EXPECT_EQ(s.allowed_origins,
            (std::vector<std::string>{"https://a.example", "http://localhost:8000"}));
}

// ---------------------------------------------------------------------------------------------
// Password

TEST(AuthTest, DefaultPasswordIs123) {
  AccessPolicy policy{AccessSettings{}};
  EXPECT_EQ(Auth(policy, {.headers = {{"Authorization", "Bearer 123"}}}), AuthOutcome::kOk);
}

TEST(AuthTest, EachSourceAccepted) {
  AccessPolicy policy = Policy();
  EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", "s3cret"}}}), AuthOutcome::kOk);
  EXPECT_EQ(Auth(policy, {.headers = {{"X-Goog-Api-Key", "s3cret"}}}), AuthOutcome::kOk);
  EXPECT_EQ(Auth(policy, {.query = "key=s3cret"}), AuthOutcome::kOk);
  EXPECT_EQ(Auth(policy, {.query = "alt=sse&key=s3cret"}), AuthOutcome::kOk);
  EXPECT_EQ(Auth(policy, {.headers = {{"Authorization", "Bearer s3cret"}}}), AuthOutcome::kOk);
  EXPECT_EQ(Auth(policy, {.headers = {{"authorization", "bearer s3cret"}}}), AuthOutcome::kOk);
}

TEST(AuthTest, SourceOrderGoogHeaderThenQueryThenBearer) {
  AccessPolicy policy = Policy();
  // The first source present decides, even when a later one is right.
  EXPECT_EQ(Auth(policy, {.query = "key=s3cret", .headers = {{"x-goog-api-key", "wrong"}}}),
            AuthOutcome::kWrongPassword);
  EXPECT_EQ(Auth(policy, {.query = "key=wrong", .headers = {{"Authorization", "Bearer s3cret"}}}),
            AuthOutcome::kWrongPassword);
  EXPECT_EQ(Auth(policy, {.query = "key=s3cret", .headers = {{"Authorization", "Bearer wrong"}}}),
            AuthOutcome::kOk);
  EXPECT_EQ(
      Auth(policy, {.headers = {{"Authorization", "Bearer wrong"}, {"x-goog-api-key", "s3cret"}}}),
      AuthOutcome::kOk);
  // Empty values count as absent.
  EXPECT_EQ(Auth(policy, {.query = "key=",
                          .headers = {{"x-goog-api-key", ""}, {"Authorization", "Bearer s3cret"}}}),
            AuthOutcome::kOk);
}

TEST(AuthTest, QueryKeyIsUrlDecodedAndLastWins) {
  AccessPolicy policy = Policy("p@ss word+/=");
  EXPECT_EQ(Auth(policy, {.query = "key=p%40ss+word%2B%2F%3D"}), AuthOutcome::kOk);
  EXPECT_EQ(Auth(policy, {.query = "key=p%40ss%20word%2b%2f%3d"}), AuthOutcome::kOk);
  EXPECT_EQ(Auth(policy, {.query = "key=p@ss word+/="}), AuthOutcome::kWrongPassword);
  AccessPolicy simple = Policy();
  EXPECT_EQ(Auth(simple, {.query = "key=wrong&key=s3cret"}), AuthOutcome::kOk);
  EXPECT_EQ(Auth(simple, {.query = "akey=s3cret"}), AuthOutcome::kMissingPassword);
  EXPECT_EQ(Auth(simple, {.query = "key"}), AuthOutcome::kMissingPassword);
  EXPECT_EQ(Auth(Policy("a%zz"), {.query = "key=a%zz"}), AuthOutcome::kOk);  // bad escape kept
}

TEST(AuthTest, MissingAndWrong) {
  AccessPolicy policy = Policy();
  EXPECT_EQ(Auth(policy, {}), AuthOutcome::kMissingPassword);
  EXPECT_EQ(Auth(policy, {.headers = {{"Authorization", "Basic czNjcmV0"}}}),
            AuthOutcome::kMissingPassword);
  EXPECT_EQ(Auth(policy, {.headers = {{"Authorization", "Bearer"}}}),
            AuthOutcome::kMissingPassword);
  EXPECT_EQ(Auth(policy, {.headers = {{"Authorization", "Bearers3cret"}}}),
            AuthOutcome::kMissingPassword);
  // Bearer: the rest after the one space, untrimmed (HAJIMI).
  EXPECT_EQ(Auth(policy, {.headers = {{"Authorization", "Bearer  s3cret"}}}),
            AuthOutcome::kWrongPassword);
  EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", "s3cre"}}}), AuthOutcome::kWrongPassword);
  EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", "s3cret!"}}}),
            AuthOutcome::kWrongPassword);
  EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", "S3CRET"}}}), AuthOutcome::kWrongPassword);
  std::string long_token(100000, 'x');
  EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", long_token}}}),
            AuthOutcome::kWrongPassword);
  // A NUL inside the token must not truncate the comparison.
  EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", std::string("s3cret\0x", 8)}}}),
            AuthOutcome::kWrongPassword);
}

TEST(AuthTest, EmptyPasswordMatchesNothing) {
  AccessPolicy policy = Policy("");
  EXPECT_EQ(Auth(policy, {}), AuthOutcome::kMissingPassword);
  EXPECT_EQ(Auth(policy, {.query = "key="}), AuthOutcome::kMissingPassword);
  EXPECT_EQ(Auth(policy, {.headers = {{"Authorization", "Bearer x"}}}),
            AuthOutcome::kWrongPassword);
}

TEST(AuthTest, ExtractClientToken) {
  TestRequest r({.query = "key=a%2Bb"});
  EXPECT_EQ(ExtractClientToken(r.get()), "a+b");
  TestRequest none({.headers = {{"Authorization", "Token x"}}});
  EXPECT_EQ(ExtractClientToken(none.get()), "");
}

TEST(AuthTest, ErrorBodies) {
  AuthResult missing{AuthOutcome::kMissingPassword};
  EXPECT_EQ(missing.status(), 401);
  std::string body = missing.ErrorBody();
  EXPECT_EQ(JsonField(body, "/error/type"), "authentication_error");
  EXPECT_EQ(JsonField(body, "/error/code"), "invalid_api_key");
  EXPECT_TRUE(JsonIsNull(body, "/error/param"));
  EXPECT_EQ(JsonField(body, "/detail"), "Unauthorized: Invalid token");

  AuthResult wrong{AuthOutcome::kWrongPassword};
  EXPECT_EQ(wrong.status(), 401);
  EXPECT_EQ(wrong.ErrorBody(),
            R"({"error":{"message":"Unauthorized: Invalid token","type":"authentication_error",)"
            R"("param":null,"code":"invalid_api_key"},"detail":"Unauthorized: Invalid token"})");

  AuthResult ua{AuthOutcome::kClientNotAllowed};
  EXPECT_EQ(ua.status(), 403);
  EXPECT_EQ(JsonField(ua.ErrorBody(), "/error/type"), "permission_error");
  EXPECT_EQ(JsonField(ua.ErrorBody(), "/error/code"), "client_not_allowed");
  EXPECT_EQ(JsonField(ua.ErrorBody(), "/detail"), "Not allowed client");

  AuthResult ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.status(), 200);
  EXPECT_EQ(ok.ErrorBody(), "");
}

// ---------------------------------------------------------------------------------------------
// User-Agent allow-list (hajimi-behaviour 5.2)

TEST(UserAgentTest, EmptyListAllowsAll) {
  AccessPolicy policy = Policy();
  EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", "s3cret"}}}), AuthOutcome::kOk);
}

TEST(UserAgentTest, ExactMatchCaseInsensitive) {
  AccessPolicy policy = Policy("s3cret", {"sillytavern/1.12.0", "curl/8.0"});
  auto with_ua = [&](const std::string& ua) {
    return Auth(policy, {.headers = {{"x-goog-api-key", "s3cret"}, {"User-Agent", ua}}});
  };
  EXPECT_EQ(with_ua("curl/8.0"), AuthOutcome::kOk);
  // HAJIMI never matches a UA with capitals (its entries are lower-cased); we compare
  // case-insensitively, which keeps every UA HAJIMI accepted.
  EXPECT_EQ(with_ua("SillyTavern/1.12.0"), AuthOutcome::kOk);
  // Exact, not substring.
  EXPECT_EQ(with_ua("curl/8.0 extra"), AuthOutcome::kClientNotAllowed);
  EXPECT_EQ(with_ua("curl"), AuthOutcome::kClientNotAllowed);
  EXPECT_EQ(with_ua(""), AuthOutcome::kClientNotAllowed);
  EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", "s3cret"}}}),
            AuthOutcome::kClientNotAllowed);  // no User-Agent at all
}

TEST(UserAgentTest, PasswordIsCheckedFirst) {
  AccessPolicy policy = Policy("s3cret", {"curl/8.0"});
  EXPECT_EQ(Auth(policy, {.headers = {{"User-Agent", "evil"}}}), AuthOutcome::kMissingPassword);
  EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", "no"}, {"User-Agent", "evil"}}}),
            AuthOutcome::kWrongPassword);
}

// ---------------------------------------------------------------------------------------------
// CORS (hajimi-behaviour 5.4)

TEST(CorsTest, DisabledWithoutOrigins) {
  AccessPolicy policy = Policy();
  EXPECT_FALSE(policy.cors_enabled());
  TestRequest preflight(
      {.method = "OPTIONS",
       .headers = {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}}});
  EXPECT_FALSE(policy.IsPreflight(preflight.get()));  // the router answers 405, as HAJIMI
  EXPECT_EQ(policy.CorsHeaders(preflight.get()), "");
}

TEST(CorsTest, AllowedOriginEchoed) {
  AccessPolicy policy = Policy("s3cret", {}, {"https://app.example", "HTTP://LOCALHOST:8000/"});
  TestRequest request({.headers = {{"Origin", "https://app.example"}}});
  EXPECT_EQ(policy.CorsHeaders(request.get()),
            "Vary: Origin\r\n"
            "Access-Control-Allow-Origin: https://app.example\r\n"
            "Access-Control-Allow-Credentials: true\r\n");
  // Configured entries are normalised (case, trailing slash); the echo is the request's value.
  TestRequest local({.headers = {{"Origin", "http://localhost:8000"}}});
  EXPECT_EQ(policy.CorsHeaders(local.get()),
            "Vary: Origin\r\n"
            "Access-Control-Allow-Origin: http://localhost:8000\r\n"
            "Access-Control-Allow-Credentials: true\r\n");
}

TEST(CorsTest, DisallowedOrMissingOriginGetsOnlyVary) {
  AccessPolicy policy = Policy("s3cret", {}, {"https://app.example"});
  TestRequest other({.headers = {{"Origin", "https://evil.example"}}});
  EXPECT_EQ(policy.CorsHeaders(other.get()), "Vary: Origin\r\n");
  TestRequest prefix({.headers = {{"Origin", "https://app.example.evil.com"}}});
  EXPECT_EQ(policy.CorsHeaders(prefix.get()), "Vary: Origin\r\n");
  TestRequest none({});
  EXPECT_EQ(policy.CorsHeaders(none.get()), "Vary: Origin\r\n");
}

TEST(CorsTest, StarAllowsAnyOrigin) {
  AccessPolicy policy = Policy("s3cret", {}, {"*"});
  EXPECT_TRUE(policy.OriginAllowed("https://whatever.example"));
  EXPECT_TRUE(policy.OriginAllowed("null"));
  EXPECT_FALSE(policy.OriginAllowed(""));
  EXPECT_FALSE(policy.OriginAllowed("https://a.example\r\nX-Evil: 1"));  // never echoed
  TestRequest request({.headers = {{"Origin", "https://whatever.example"}}});
  EXPECT_EQ(policy.CorsHeaders(request.get()),
            "Vary: Origin\r\n"
            "Access-Control-Allow-Origin: https://whatever.example\r\n"
            "Access-Control-Allow-Credentials: true\r\n");
}

TEST(CorsTest, PreflightAllowed) {
  AccessPolicy policy = Policy("s3cret", {}, {"https://app.example"});
  TestRequest request({.method = "OPTIONS",
                       .path = "/v1/chat/completions",
                       .headers = {{"Origin", "https://app.example"},
                                   {"Access-Control-Request-Method", "POST"},
                                   {"Access-Control-Request-Headers",
                                    "authorization,content-type,x-stainless-os"}}});
  ASSERT_TRUE(policy.IsPreflight(request.get()));
  PreflightResponse p = policy.Preflight(request.get());
  EXPECT_EQ(p.status, 204);
  EXPECT_EQ(p.content_type, "");
  EXPECT_EQ(p.body, "");
  EXPECT_EQ(p.headers,
            "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n"
            "Access-Control-Allow-Origin: https://app.example\r\n"
            "Access-Control-Allow-Credentials: true\r\n"
            "Access-Control-Allow-Methods: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT\r\n"
            "Access-Control-Allow-Headers: authorization,content-type,x-stainless-os\r\n"
            "Access-Control-Max-Age: 600\r\n");
}

TEST(CorsTest, PreflightDefaultHeadersAndPrivateNetwork) {
  AccessPolicy policy = Policy("s3cret", {}, {"*"});
  TestRequest request({.method = "OPTIONS",
                       .headers = {{"Origin", "https://app.example"},
                                   {"Access-Control-Request-Method", "GET"},
                                   {"Access-Control-Request-Private-Network", "true"}}});
  PreflightResponse p = policy.Preflight(request.get());
  EXPECT_EQ(p.status, 204);
  EXPECT_NE(p.headers.find("Access-Control-Allow-Headers: Authorization, Content-Type, "
                           "x-goog-api-key, x-goog-api-client\r\n"),
            std::string::npos);
  EXPECT_NE(p.headers.find("Access-Control-Allow-Private-Network: true\r\n"), std::string::npos);

  // Requested header names that are not a clean token list are not echoed.
  TestRequest odd({.method = "OPTIONS",
                   .headers = {{"Origin", "https://app.example"},
                               {"Access-Control-Request-Method", "POST"},
                               {"Access-Control-Request-Headers", "a:b"}}});
  p = policy.Preflight(odd.get());
  EXPECT_EQ(p.headers.find("a:b"), std::string::npos);
}

TEST(CorsTest, PreflightRefused) {
  AccessPolicy policy = Policy("s3cret", {}, {"https://app.example"});
  TestRequest evil(
      {.method = "OPTIONS",
       .headers = {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}}});
  ASSERT_TRUE(policy.IsPreflight(evil.get()));
  PreflightResponse p = policy.Preflight(evil.get());
  EXPECT_EQ(p.status, 403);
  EXPECT_EQ(p.content_type, "application/json");
  EXPECT_EQ(JsonField(p.body, "/error/code"), "cors_origin_not_allowed");
  EXPECT_EQ(p.headers.find("Access-Control-Allow-Origin"), std::string::npos);

  TestRequest method({.method = "OPTIONS",
                      .headers = {{"Origin", "https://app.example"},
                                  {"Access-Control-Request-Method", "PROPFIND"}}});
  p = policy.Preflight(method.get());
  EXPECT_EQ(p.status, 403);
  EXPECT_EQ(JsonField(p.body, "/error/code"), "cors_method_not_allowed");
}

TEST(CorsTest, NotAPreflight) {
  AccessPolicy policy = Policy("s3cret", {}, {"*"});
  TestRequest plain_options({.method = "OPTIONS", .headers = {{"Origin", "https://a.example"}}});
  EXPECT_FALSE(policy.IsPreflight(plain_options.get()));
  TestRequest no_origin(
      {.method = "OPTIONS", .headers = {{"Access-Control-Request-Method", "POST"}}});
  EXPECT_FALSE(policy.IsPreflight(no_origin.get()));
  TestRequest post(
      {.method = "POST",
       .headers = {{"Origin", "https://a.example"}, {"Access-Control-Request-Method", "POST"}}});
  EXPECT_FALSE(policy.IsPreflight(post.get()));
}

}  // namespace
}  // namespace ringgate

namespace ringgate {
namespace {

// Passwords up to 64 bytes are compared against a zero-padded copy; longer ones by SHA-256.
// Both paths must accept exactly the password.
TEST(AuthTest, PaddedAndDigestComparisonsAcceptExactlyThePassword) {
  for (size_t length : {1, 63, 64, 65, 200}) {
    std::string password(length, 'p');
    password.back() = 'z';
    AccessPolicy policy = Policy(password);
    EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", password}}}), AuthOutcome::kOk)
        << length;
    std::string shorter = password.substr(0, length - 1);
    if (!shorter.empty()) {
      EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", shorter}}}),
                AuthOutcome::kWrongPassword)
          << length;
    }
    EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", password + "z"}}}),
              AuthOutcome::kWrongPassword)
        << length;
    // A token that equals the password followed by NULs up to the pad must not match.
    EXPECT_EQ(Auth(policy, {.headers = {{"x-goog-api-key", password + std::string(3, '\0')}}}),
              AuthOutcome::kWrongPassword)
        << length;
  }
}

}  // namespace
}  // namespace ringgate
