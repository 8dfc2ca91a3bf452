// The chat API's routes and access control end to end (real ringgate in front of fake-gemini):
// every chat and model route, the API password from each source and its precedence, PASSWORD,
// WHITELIST_USER_AGENT, ALLOWED_ORIGINS (preflights and CORS headers on answers and errors), and
// the model list with SEARCH_MODE, EXTRA_MODELS, BLOCKED_MODELS and WHITELIST_MODELS.
#include <algorithm>
#include <string>
#include <vector>

#include "chat_harness.h"

namespace ringgate::testing {
namespace {

// {"error":{"message","type","param","code"}} with this status and code.
void ExpectOpenAiError(const HttpResponse& response, int status, std::string_view code) {
  EXPECT_EQ(response.status, status) << response;
  EXPECT_EQ(response.Header("content-type").value_or(""), "application/json") << response;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_TRUE(json->IsString("/error/message")) << response.body;
  EXPECT_FALSE(json->Str("/error/message").empty()) << response.body;
  EXPECT_TRUE(json->IsString("/error/type")) << response.body;
  EXPECT_TRUE(json->Has("/error/param")) << response.body;
  EXPECT_EQ(json->Str("/error/code"), code) << response.body;
}

void ExpectUnauthorized(const HttpResponse& response) {
  ExpectOpenAiError(response, 401, "invalid_api_key");
  auto json = ParseJson(response.body);
  EXPECT_EQ(json->Str("/error/type"), "authentication_error");
  // HAJIMI's FastAPI body is {"detail": ...}; ours carries it next to the OpenAI error.
  EXPECT_EQ(json->Str("/detail"), "Unauthorized: Invalid token") << response.body;
}

std::vector<std::string> ModelIds(const HttpResponse& response) {
  std::vector<std::string> ids;
  auto json = ParseJson(response.body);
  EXPECT_TRUE(json->ok) << response.body;
  for (size_t i = 0; i < json->Size("/data"); ++i)
    ids.push_back(json->Str("/data/" + std::to_string(i) + "/id"));
  return ids;
}

bool Contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// ---------------------------------------------------------------------------------------------
// Default settings (PASSWORD 123, no CORS, no UA list), plain non-stream answers.

struct PlainConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false"};
    return options;
  }
};
using AccessTest = GatewayTest<PlainConfig>;

TEST_F(AccessTest, EveryChatRouteAnswersACompletion) {
  for (const char* path :
       {"/v1/chat/completions", "/chat/completions", "/aistudio/chat/completions"}) {
    HttpResponse response = gateway().Chat(SimpleChat(), "", path);
    EXPECT_EQ(response.status, 200) << path << "\n" << response;
    auto json = ParseJson(response.body);
    EXPECT_EQ(json->Str("/object"), "chat.completion") << path << ": " << response.body;
    EXPECT_EQ(json->Str("/model"), kModel);
  }
  EXPECT_EQ(gateway().Requests("generateContent").size(), 3u);
}

TEST_F(AccessTest, EveryModelsRouteAnswersTheSameList) {
  std::vector<std::string> first;
  for (const char* path : {"/v1/models", "/models", "/aistudio/models"}) {
    HttpResponse response = gateway().Call(GetRequest(path, Bearer()));
    ASSERT_EQ(response.status, 200) << path << "\n" << response;
    EXPECT_EQ(response.Header("content-type").value_or(""), "application/json");
    std::vector<std::string> ids = ModelIds(response);
    EXPECT_FALSE(ids.empty());
    if (first.empty()) {
      first = ids;
    } else {
      EXPECT_EQ(ids, first) << path;
    }
  }
}

TEST_F(AccessTest, ModelsListIsTheUpstreamChatModels) {
  HttpResponse upstream = gateway().FakeCall(GetRequest(
      "/v1beta/models?pageSize=1000", std::string("x-goog-api-key: ") + kApiKey + "\r\n"));
  ASSERT_EQ(upstream.status, 200);
  auto up = ParseJson(upstream.body);
  std::vector<std::string> chat_models;
  std::vector<std::string> other_models;
  for (size_t i = 0; i < up->Size("/models"); ++i) {
    std::string base = "/models/" + std::to_string(i);
    std::string id = up->Str(base + "/name").substr(strlen("models/"));
    bool chat = up->Raw(base + "/supportedGenerationMethods").find("\"generateContent\"") !=
                std::string::npos;
    (chat ? chat_models : other_models).push_back(id);
  }
  ASSERT_FALSE(chat_models.empty());
  ASSERT_FALSE(other_models.empty()) << "the fake lists embedding models";

  HttpResponse response = gateway().Call(GetRequest("/v1/models", Bearer()));
  ASSERT_EQ(response.status, 200) << response;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  EXPECT_EQ(json->Str("/object"), "list");
  EXPECT_EQ(ModelIds(response), chat_models) << "in upstream order, chat models only";
  for (const std::string& other : other_models)
    EXPECT_FALSE(Contains(ModelIds(response), other)) << other;
  for (size_t i = 0; i < json->Size("/data"); ++i) {
    std::string base = "/data/" + std::to_string(i);
    EXPECT_EQ(json->Str(base + "/object"), "model");
    EXPECT_GT(json->Int(base + "/created"), 0);
    EXPECT_TRUE(json->IsString(base + "/owned_by"));
  }
  // No -search variants without SEARCH_MODE.
  EXPECT_FALSE(Contains(ModelIds(response), "gemini-2.5-flash-search"));
}

TEST_F(AccessTest, UnknownModelIs404AndNeverReachesUpstream) {
  for (const char* model : {"gpt-4o", "gemini-2.5-flash-search", "gemini-embedding-001"}) {
    HttpResponse response = gateway().Chat(SimpleChat(model));
    ExpectOpenAiError(response, 404, "model_not_found");
  }
  EXPECT_TRUE(gateway().Requests("generateContent").empty());
}

TEST_F(AccessTest, PasswordFromEachSourceIsAccepted) {
  std::string body = SimpleChat();
  HttpResponse by_header =
      gateway().Call(PostRequest("/v1/chat/completions", body, "x-goog-api-key: 123\r\n"));
  EXPECT_EQ(by_header.status, 200) << by_header;
  HttpResponse by_query = gateway().Call(PostRequest("/v1/chat/completions?key=123", body));
  EXPECT_EQ(by_query.status, 200) << by_query;
  HttpResponse by_bearer = gateway().Call(PostRequest("/v1/chat/completions", body, Bearer()));
  EXPECT_EQ(by_bearer.status, 200) << by_bearer;
  for (const char* source : {"x-goog-api-key: 123\r\n", "Authorization: Bearer 123\r\n"}) {
    EXPECT_EQ(gateway().Call(GetRequest("/v1/models", source)).status, 200) << source;
  }
  EXPECT_EQ(gateway().Call(GetRequest("/v1/models?key=123")).status, 200);
}

TEST_F(AccessTest, WrongOrMissingPasswordIs401WithDetail) {
  std::string body = SimpleChat();
  ExpectUnauthorized(gateway().Call(PostRequest("/v1/chat/completions", body)));
  ExpectUnauthorized(
      gateway().Call(PostRequest("/v1/chat/completions", body, "x-goog-api-key: 1234\r\n")));
  ExpectUnauthorized(gateway().Call(PostRequest("/v1/chat/completions?key=12", body)));
  ExpectUnauthorized(gateway().Call(PostRequest("/v1/chat/completions", body, Bearer("wrong"))));
  // "Bearer" is required; a Basic credential is no password.
  ExpectUnauthorized(
      gateway().Call(PostRequest("/v1/chat/completions", body, "Authorization: Basic 123\r\n")));
  ExpectUnauthorized(gateway().Call(GetRequest("/v1/models")));
  ExpectUnauthorized(gateway().Call(GetRequest("/models", Bearer("nope"))));
  ExpectUnauthorized(gateway().Call(PostRequest("/aistudio/chat/completions", body)));
  EXPECT_TRUE(gateway().Requests("generateContent").empty()) << "refused requests went upstream";
}

TEST_F(AccessTest, XGoogApiKeyWinsOverQueryWhichWinsOverBearer) {
  std::string body = SimpleChat();
  auto call = [&](std::string_view target, std::string_view headers) {
    return gateway().Call(PostRequest(target, body, headers)).status;
  };
  EXPECT_EQ(call("/v1/chat/completions", "x-goog-api-key: 123\r\n" + Bearer("wrong")), 200);
  EXPECT_EQ(call("/v1/chat/completions", "x-goog-api-key: wrong\r\n" + Bearer()), 401);
  EXPECT_EQ(call("/v1/chat/completions?key=wrong", "x-goog-api-key: 123\r\n"), 200);
  EXPECT_EQ(call("/v1/chat/completions?key=123", "x-goog-api-key: wrong\r\n"), 401);
  EXPECT_EQ(call("/v1/chat/completions?key=123", Bearer("wrong")), 200);
  EXPECT_EQ(call("/v1/chat/completions?key=wrong", Bearer()), 401);
}

TEST_F(AccessTest, ClientPasswordAndHeadersAreNotForwarded) {
  HttpResponse response = gateway().Call(
      PostRequest("/v1/chat/completions?key=123", SimpleChat(),
                  "Authorization: Bearer 123\r\nx-fake-script: status=500\r\nCookie: a=b\r\n"));
  // x-fake-script would make the fake answer 500: it must not travel upstream.
  EXPECT_EQ(response.status, 200) << response;
  std::vector<RecordedRequest> sent = gateway().Requests("generateContent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(gateway().IsGatewayKey(sent[0].key)) << sent[0].key;
  EXPECT_EQ(sent[0].headers["x-goog-api-key"], sent[0].key);
  EXPECT_EQ(sent[0].headers.count("authorization"), 0u);
  EXPECT_EQ(sent[0].headers.count("x-fake-script"), 0u);
  EXPECT_EQ(sent[0].headers.count("cookie"), 0u);
  EXPECT_EQ(sent[0].path.find("key="), std::string::npos) << sent[0].path;
  EXPECT_EQ(sent[0].path.find("123"), std::string::npos) << sent[0].path;
}

TEST_F(AccessTest, NoCorsWithoutAllowedOrigins) {
  HttpResponse response = gateway().Chat(SimpleChat(), "Origin: https://app.example.com\r\n");
  EXPECT_EQ(response.status, 200);
  EXPECT_FALSE(response.HasHeader("access-control-allow-origin")) << response;
  // HAJIMI without CORS middleware: a preflight is just an OPTIONS request, 405.
  HttpResponse preflight = gateway().Call(
      "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nOrigin: "
      "https://app.example.com\r\nAccess-Control-Request-Method: POST\r\n\r\n");
  EXPECT_EQ(preflight.status, 405) << preflight;
  EXPECT_FALSE(preflight.HasHeader("access-control-allow-origin")) << preflight;
}

// ---------------------------------------------------------------------------------------------
// PASSWORD, WHITELIST_USER_AGENT and ALLOWED_ORIGINS set.

constexpr char kPassword[] = "s3cret+x";
constexpr char kOrigin[] = "https://app.example.com";

struct PolicyConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false",
                   // HAJIMI strips surrounding double quotes.
                   std::string("PASSWORD=\"") + kPassword + "\"",
                   "WHITELIST_USER_AGENT=MyTool/1.0, curl/8.5.0",
                   std::string("ALLOWED_ORIGINS=") + kOrigin + ",http://localhost:3000"};
    options.password = kPassword;
    options.user_agent = "curl/8.5.0";
    return options;
  }
};
using PolicyTest = GatewayTest<PolicyConfig>;

std::string Ua(std::string_view ua) {
  return "User-Agent: " + std::string(ua) + "\r\n";
}

TEST_F(PolicyTest, PasswordEnvReplacesTheDefault) {
  std::string body = SimpleChat();
  std::string ua = Ua("curl/8.5.0");
  ExpectUnauthorized(gateway().Call(PostRequest("/v1/chat/completions", body, Bearer("123") + ua)));
  EXPECT_EQ(
      gateway().Call(PostRequest("/v1/chat/completions", body, Bearer(kPassword) + ua)).status,
      200);
  EXPECT_EQ(gateway()
                .Call(PostRequest("/v1/chat/completions", body,
                                  std::string("x-goog-api-key: ") + kPassword + "\r\n" + ua))
                .status,
            200);
  // ?key= is form-decoded: %2B is '+', a bare '+' is a space.
  EXPECT_EQ(gateway().Call(PostRequest("/v1/chat/completions?key=s3cret%2Bx", body, ua)).status,
            200);
  EXPECT_EQ(gateway().Call(PostRequest("/v1/chat/completions?key=s3cret+x", body, ua)).status, 401);
  // The quotes were stripped, not kept.
  EXPECT_EQ(gateway().Call(GetRequest("/v1/models", Bearer("\"s3cret+x\"") + ua)).status, 401);
}

TEST_F(PolicyTest, UserAgentWhitelistRefusesOtherClients) {
  std::string body = SimpleChat();
  std::string auth = Bearer(kPassword);
  for (const char* ua : {"curl/8.5.0", "MyTool/1.0", "mytool/1.0"}) {
    HttpResponse response =
        gateway().Call(PostRequest("/v1/chat/completions", body, auth + Ua(ua)));
    EXPECT_EQ(response.status, 200) << ua << "\n" << response;
  }
  for (const char* ua : {"python-requests/2.31", "curl/8.5.0 extra", "MyTool/1.0x"}) {
    HttpResponse response =
        gateway().Call(PostRequest("/v1/chat/completions", body, auth + Ua(ua)));
    ExpectOpenAiError(response, 403, "client_not_allowed");
    EXPECT_EQ(ParseJson(response.body)->Str("/detail"), "Not allowed client") << response.body;
  }
  ExpectOpenAiError(gateway().Call(PostRequest("/v1/chat/completions", body, auth)), 403,
                    "client_not_allowed");
  ExpectOpenAiError(gateway().Call(GetRequest("/v1/models", auth + Ua("other"))), 403,
                    "client_not_allowed");
  // The password is checked first.
  ExpectUnauthorized(
      gateway().Call(PostRequest("/v1/chat/completions", body, Bearer("bad") + Ua("other"))));
  EXPECT_EQ(gateway().Requests("generateContent").size(), 3u);
}

std::string Preflight(std::string_view path, std::string_view origin, std::string_view method,
                      std::string_view extra = "") {
  return "OPTIONS " + std::string(path) +
         " HTTP/1.1\r\nHost: localhost\r\nOrigin: " + std::string(origin) +
         "\r\nAccess-Control-Request-Method: " + std::string(method) + "\r\n" + std::string(extra) +
         "\r\n";
}

TEST_F(PolicyTest, PreflightFromAnAllowedOriginIs204) {
  for (const char* path : {"/v1/chat/completions", "/chat/completions", "/v1/models"}) {
    // No password and no User-Agent: browsers send neither on a preflight.
    HttpResponse response = gateway().Call(Preflight(
        path, kOrigin, "POST", "Access-Control-Request-Headers: authorization, content-type\r\n"));
    EXPECT_EQ(response.status, 204) << path << "\n" << response;
    EXPECT_EQ(response.Header("access-control-allow-origin").value_or(""), kOrigin) << response;
    EXPECT_EQ(response.Header("access-control-allow-credentials").value_or(""), "true");
    EXPECT_NE(response.Header("access-control-allow-methods").value_or("").find("POST"),
              std::string::npos)
        << response;
    EXPECT_EQ(response.Header("access-control-allow-headers").value_or(""),
              "authorization, content-type");
    EXPECT_EQ(response.Header("access-control-max-age").value_or(""), "600");
    EXPECT_TRUE(response.body.empty());
  }
  // The second listed origin, and without Access-Control-Request-Headers.
  HttpResponse other =
      gateway().Call(Preflight("/v1/chat/completions", "http://localhost:3000", "POST"));
  EXPECT_EQ(other.status, 204) << other;
  EXPECT_EQ(other.Header("access-control-allow-origin").value_or(""), "http://localhost:3000");
  EXPECT_TRUE(other.HasHeader("access-control-allow-headers"));
}

TEST_F(PolicyTest, PreflightFromAnotherOriginIsRefused) {
  HttpResponse response =
      gateway().Call(Preflight("/v1/chat/completions", "https://evil.example.net", "POST"));
  EXPECT_EQ(response.status, 403) << response;
  EXPECT_FALSE(response.HasHeader("access-control-allow-origin")) << response;
  EXPECT_TRUE(ParseJson(response.body)->Has("/error/message")) << response.body;
  // A method browsers may not ask for.
  HttpResponse bad_method = gateway().Call(Preflight("/v1/chat/completions", kOrigin, "TRACE"));
  EXPECT_EQ(bad_method.status, 403) << bad_method;
  EXPECT_FALSE(bad_method.HasHeader("access-control-allow-origin")) << bad_method;
  // An OPTIONS that is no preflight (no Access-Control-Request-Method).
  HttpResponse plain = gateway().Call(
      std::string("OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nOrigin: ") +
      kOrigin + "\r\n\r\n");
  EXPECT_EQ(plain.status, 405) << plain;
}

TEST_F(PolicyTest, AnswersAndErrorsCarryCorsHeadersForAllowedOrigins) {
  std::string origin = std::string("Origin: ") + kOrigin + "\r\n";
  std::string ok_headers = Bearer(kPassword) + Ua("curl/8.5.0") + origin;
  auto expect_cors = [](const HttpResponse& response, std::string_view what) {
    EXPECT_EQ(response.Header("access-control-allow-origin").value_or(""), kOrigin) << what << "\n"
                                                                                    << response;
    EXPECT_EQ(response.Header("access-control-allow-credentials").value_or(""), "true") << what;
    EXPECT_NE(response.Header("vary").value_or("").find("Origin"), std::string::npos) << what;
  };
  HttpResponse ok = gateway().Call(PostRequest("/v1/chat/completions", SimpleChat(), ok_headers));
  EXPECT_EQ(ok.status, 200);
  expect_cors(ok, "200 completion");
  HttpResponse stream = gateway().Call(
      PostRequest("/v1/chat/completions", SimpleChat(kModel, R"(,"stream":true)"), ok_headers));
  EXPECT_EQ(stream.status, 200);
  expect_cors(stream, "200 stream");
  HttpResponse models = gateway().Call(GetRequest("/v1/models", ok_headers));
  EXPECT_EQ(models.status, 200);
  expect_cors(models, "models");

  HttpResponse unauthorized =
      gateway().Call(PostRequest("/v1/chat/completions", SimpleChat(), Ua("curl/8.5.0") + origin));
  EXPECT_EQ(unauthorized.status, 401);
  expect_cors(unauthorized, "401");
  HttpResponse ua_refused =
      gateway().Call(PostRequest("/v1/chat/completions", SimpleChat(), Bearer(kPassword) + origin));
  EXPECT_EQ(ua_refused.status, 403);
  expect_cors(ua_refused, "403");
  HttpResponse bad_body = gateway().Call(PostRequest("/v1/chat/completions", "{", ok_headers));
  EXPECT_EQ(bad_body.status, 400);
  expect_cors(bad_body, "400");
  HttpResponse unknown_model =
      gateway().Call(PostRequest("/v1/chat/completions", SimpleChat("gpt-4"), ok_headers));
  EXPECT_EQ(unknown_model.status, 404);
  expect_cors(unknown_model, "404");
  // Gemini's client error, passed through.
  gateway().Script("status=400");
  HttpResponse upstream_error =
      gateway().Call(PostRequest("/v1/chat/completions", SimpleChat(), ok_headers));
  EXPECT_EQ(upstream_error.status, 400);
  expect_cors(upstream_error, "upstream 400");
  // Every key failed (503 blames no key): the final error, built by ringgate.
  gateway().Script("status=503");
  HttpResponse all_failed =
      gateway().Call(PostRequest("/v1/chat/completions", SimpleChat(), ok_headers));
  EXPECT_EQ(all_failed.status, 503);
  expect_cors(all_failed, "all keys 503");
}

// Every key over its quota: 429 with Retry-After next to the CORS headers. A gateway of its own:
// its keys rest afterwards.
TEST(PolicyQuotaTest, QuotaErrorCarriesRetryAfterAndCorsHeaders) {
  auto gateway = StartGateway(PolicyConfig::Options());
  ASSERT_NE(gateway, nullptr);
  gateway->Script("status=429_minute;retry_delay=20s");
  HttpResponse response = gateway->Call(
      PostRequest("/v1/chat/completions", SimpleChat(),
                  Bearer(kPassword) + Ua("curl/8.5.0") + "Origin: " + kOrigin + "\r\n"));
  EXPECT_EQ(response.status, 429) << response;
  EXPECT_EQ(response.Header("retry-after").value_or(""), "20") << response;
  EXPECT_EQ(response.Header("access-control-allow-origin").value_or(""), kOrigin) << response;
  EXPECT_EQ(response.Header("access-control-allow-credentials").value_or(""), "true");
  EXPECT_EQ(ParseJson(response.body)->Str("/error/code"), "rate_limit_exceeded") << response.body;
}

TEST_F(PolicyTest, OtherOriginsGetNoCorsHeadersButAreServed) {
  HttpResponse response = gateway().Call(
      PostRequest("/v1/chat/completions", SimpleChat(),
                  Bearer(kPassword) + Ua("curl/8.5.0") + "Origin: https://evil.example.net\r\n"));
  EXPECT_EQ(response.status, 200) << response;
  EXPECT_FALSE(response.HasHeader("access-control-allow-origin")) << response;
  EXPECT_FALSE(response.HasHeader("access-control-allow-credentials")) << response;
}

// ---------------------------------------------------------------------------------------------
// SEARCH_MODE, EXTRA_MODELS and BLOCKED_MODELS.

struct SearchConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "SEARCH_MODE=true",
                   "EXTRA_MODELS=my-extra-model, gemini-exp-1206",
                   "BLOCKED_MODELS=gemini-2.0-flash,gemini-2.5-pro"};
    return options;
  }
};
using SearchModelsTest = GatewayTest<SearchConfig>;

TEST_F(SearchModelsTest, ListHasSearchVariantsExtrasAndNoBlockedModels) {
  HttpResponse response = gateway().Call(GetRequest("/v1/models", Bearer()));
  ASSERT_EQ(response.status, 200);
  std::vector<std::string> ids = ModelIds(response);
  auto flash = std::find(ids.begin(), ids.end(), "gemini-2.5-flash");
  ASSERT_NE(flash, ids.end()) << response.body;
  ASSERT_NE(flash + 1, ids.end());
  EXPECT_EQ(*(flash + 1), "gemini-2.5-flash-search") << "the variant follows its model";
  EXPECT_TRUE(Contains(ids, "gemini-3-pro-preview-search"));
  EXPECT_FALSE(Contains(ids, "gemma-3-27b-it-search")) << "only gemini-2+ get -search";
  EXPECT_TRUE(Contains(ids, "gemma-3-27b-it"));
  for (const char* blocked :
       {"gemini-2.0-flash", "gemini-2.0-flash-search", "gemini-2.5-pro", "gemini-2.5-pro-search"}) {
    EXPECT_FALSE(Contains(ids, blocked)) << blocked;
  }
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[ids.size() - 2], "my-extra-model");
  EXPECT_EQ(ids[ids.size() - 1], "gemini-exp-1206");
  EXPECT_FALSE(Contains(ids, "my-extra-model-search"));
}

TEST_F(SearchModelsTest, BlockedModelsAreRefusedAtChatTime) {
  for (const char* blocked :
       {"gemini-2.0-flash", "gemini-2.5-pro", "gemini-2.5-pro-search", "models/gemini-2.5-pro"}) {
    HttpResponse response = gateway().Chat(SimpleChat(blocked));
    ExpectOpenAiError(response, 404, "model_not_found");
  }
  EXPECT_TRUE(gateway().Requests("generateContent").empty());
}

TEST_F(SearchModelsTest, SearchModelCallsTheBaseModelWithGoogleSearch) {
  HttpResponse response = gateway().Chat(SimpleChat("gemini-2.5-flash-search"));
  ASSERT_EQ(response.status, 200) << response;
  EXPECT_EQ(ParseJson(response.body)->Str("/model"), "gemini-2.5-flash-search")
      << "the requested name is echoed";
  std::vector<RecordedRequest> sent = gateway().Requests("generateContent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].path, "/v1beta/models/gemini-2.5-flash:generateContent");
  auto body = ParseJson(sent[0].body);
  ASSERT_TRUE(body->ok) << sent[0].body;
  EXPECT_NE(body->Raw("/tools").find("\"googleSearch\":{}"), std::string::npos) << sent[0].body;

  // Without the suffix: no search tool.
  gateway().Reset();
  ASSERT_EQ(gateway().Chat(SimpleChat("gemini-2.5-flash")).status, 200);
  sent = gateway().Requests("generateContent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].body.find("googleSearch"), std::string::npos) << sent[0].body;
}

TEST_F(SearchModelsTest, ExtraModelsAreServedThroughTheUpstream) {
  HttpResponse response = gateway().Chat(SimpleChat("my-extra-model"));
  // The fake does not know it: Gemini's 404 comes back as an OpenAI error.
  ExpectOpenAiError(response, 404, "not_found");
  EXPECT_NE(ParseJson(response.body)->Str("/error/message").find("models/my-extra-model"),
            std::string::npos)
      << response.body;
  std::vector<RecordedRequest> sent = gateway().Requests("generateContent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].path, "/v1beta/models/my-extra-model:generateContent");
}

// ---------------------------------------------------------------------------------------------
// WHITELIST_MODELS (BLOCKED_MODELS is then ignored).

struct WhitelistConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false",
                   "WHITELIST_MODELS=gemini-2.0-flash,gemini-2.5-flash",
                   "BLOCKED_MODELS=gemini-2.0-flash"};
    return options;
  }
};
using WhitelistModelsTest = GatewayTest<WhitelistConfig>;

TEST_F(WhitelistModelsTest, OnlyWhitelistedModelsAreListedAndServed) {
  HttpResponse response = gateway().Call(GetRequest("/v1/models", Bearer()));
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(ModelIds(response), (std::vector<std::string>{"gemini-2.5-flash", "gemini-2.0-flash"}))
      << "upstream order, whitelist only";
  EXPECT_EQ(gateway().Chat(SimpleChat("gemini-2.0-flash")).status, 200);
  EXPECT_EQ(gateway().Chat(SimpleChat("gemini-2.5-flash")).status, 200);
  ExpectOpenAiError(gateway().Chat(SimpleChat("gemini-2.5-pro")), 404, "model_not_found");
  EXPECT_EQ(gateway().Requests("generateContent").size(), 2u);
}

}  // namespace
}  // namespace ringgate::testing
