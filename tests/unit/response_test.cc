// Response formatting (status line, headers, JSON error bodies) and Router dispatch.
#include "ringgate/http/response.h"

#include <gtest/gtest.h>
#include <llhttp.h>

#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "ringgate/http/request.h"
#include "ringgate/http/request_parser.h"
#include "ringgate/http/router.h"

namespace ringgate {
namespace {

constexpr std::string_view kDate = "Tue, 01 Jul 2025 12:00:00 GMT";

TEST(AppendResponseHeadTest, KeepAliveWithContentType) {
  std::string out;
  ResponseHead head;
  head.status = 200;
  head.content_type = "application/json";
  head.content_length = 27;
  head.keep_alive = true;
  AppendResponseHead(out, head, kDate);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Server: ringgate\r\n"
            "Date: Tue, 01 Jul 2025 12:00:00 GMT\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 27\r\n"
            "\r\n");
}

TEST(AppendResponseHeadTest, CloseWithoutContentType) {
  std::string out;
  ResponseHead head;
  head.status = 204;
  head.content_length = 0;
  head.keep_alive = false;
  AppendResponseHead(out, head, kDate);
  // RFC 9110: a 204 carries no Content-Length.
  EXPECT_EQ(out,
            "HTTP/1.1 204 No Content\r\n"
            "Server: ringgate\r\n"
            "Date: Tue, 01 Jul 2025 12:00:00 GMT\r\n"
            "Connection: close\r\n"
            "\r\n");
}

TEST(AppendResponseHeadTest, ExtraHeadersKeepAlive) {
  std::string out;
  ResponseHead head;
  head.status = 405;
  head.content_type = "application/json";
  head.content_length = 1099511627776ull;
  head.extra_headers = "Allow: GET, HEAD\r\nX-Request-Id: abc\r\n";
  AppendResponseHead(out, head, kDate);
  EXPECT_EQ(out,
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Server: ringgate\r\n"
            "Date: Tue, 01 Jul 2025 12:00:00 GMT\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 1099511627776\r\n"
            "Allow: GET, HEAD\r\n"
            "X-Request-Id: abc\r\n"
            "\r\n");
}

TEST(AppendResponseHeadTest, ExtraHeadersWithClose) {
  std::string out = "previous response bytes|";
  ResponseHead head;
  head.status = 503;
  head.content_type = "text/plain";
  head.content_length = 5;
  head.keep_alive = false;
  head.extra_headers = "Retry-After: 1\r\n";
  AppendResponseHead(out, head, kDate);
  EXPECT_EQ(out,
            "previous response bytes|"
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Server: ringgate\r\n"
            "Date: Tue, 01 Jul 2025 12:00:00 GMT\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 5\r\n"
            "Connection: close\r\n"
            "Retry-After: 1\r\n"
            "\r\n");
}

TEST(AppendResponseHeadTest, UnknownStatus) {
  std::string out;
  ResponseHead head;
  head.status = 299;
  AppendResponseHead(out, head, kDate);
  EXPECT_EQ(out.substr(0, out.find("\r\n")), "HTTP/1.1 299 Unknown");
}

TEST(AppendResponseHeadTest, ChunkedOmitsLength) {
  std::string out;
  ResponseHead head;
  head.status = 200;
  head.content_type = "text/event-stream";
  head.chunked = true;
  head.omit_length = true;
  head.content_length = 99;  // ignored without a Content-Length header
  AppendResponseHead(out, head, kDate);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Server: ringgate\r\n"
            "Date: Tue, 01 Jul 2025 12:00:00 GMT\r\n"
            "Content-Type: text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\n"
            "\r\n");
}

TEST(AppendResponseHeadTest, CloseDelimitedOmitsLength) {
  std::string out;
  ResponseHead head;
  head.status = 200;
  head.content_type = "text/event-stream";
  head.omit_length = true;
  head.keep_alive = false;
  AppendResponseHead(out, head, kDate);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Server: ringgate\r\n"
            "Date: Tue, 01 Jul 2025 12:00:00 GMT\r\n"
            "Content-Type: text/event-stream\r\n"
            "Connection: close\r\n"
            "\r\n");
}

TEST(AppendChunkHeaderTest, HexSizeLine) {
  std::string out = "x";
  AppendChunkHeader(out, 0);
  AppendChunkHeader(out, 10);
  AppendChunkHeader(out, 0x1a2b);
  AppendChunkHeader(out, SIZE_MAX);
  EXPECT_EQ(out, "x0\r\na\r\n1a2b\r\nffffffffffffffff\r\n");
}

// A chunked response built from the head and chunk headers is one llhttp accepts, body intact.
TEST(AppendChunkHeaderTest, ChunkedResponseParses) {
  std::string out;
  ResponseHead head;
  head.chunked = true;
  head.omit_length = true;
  AppendResponseHead(out, head, kDate);
  std::string parts[] = {"data: one\n\n", std::string(300, 'z'), "x"};
  for (const std::string& part : parts) {
    AppendChunkHeader(out, part.size());
    out += part + "\r\n";
  }
  AppendChunkHeader(out, 0);
  out += "\r\n";
  struct State {
    std::string body;
    bool complete = false;
  } state;
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_body = [](llhttp_t* p, const char* at, size_t n) {
    static_cast<State*>(p->data)->body.append(at, n);
    return 0;
  };
  settings.on_message_complete = [](llhttp_t* p) {
    static_cast<State*>(p->data)->complete = true;
    return 0;
  };
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  parser.data = &state;
  ASSERT_EQ(llhttp_execute(&parser, out.data(), out.size()), HPE_OK)
      << llhttp_get_error_reason(&parser);
  EXPECT_TRUE(state.complete);
  EXPECT_EQ(state.body, parts[0] + parts[1] + parts[2]);
}

// The formatted head is a response llhttp itself accepts, with the values we put in.
TEST(AppendResponseHeadTest, ParsesAsHttp) {
  std::string out;
  ResponseHead head;
  head.status = 413;
  head.content_type = "application/json";
  head.content_length = 2;
  head.keep_alive = false;
  head.extra_headers = "X-A: 1\r\n";
  AppendResponseHead(out, head, kDate);
  out += "{}";
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  EXPECT_EQ(llhttp_execute(&parser, out.data(), out.size()), HPE_OK);
  EXPECT_EQ(llhttp_get_status_code(&parser), 413);
  EXPECT_EQ(llhttp_should_keep_alive(&parser), 0);
}

TEST(ReasonPhraseTest, KnownAndUnknown) {
  EXPECT_STREQ(ReasonPhrase(100), "Continue");
  EXPECT_STREQ(ReasonPhrase(200), "OK");
  EXPECT_STREQ(ReasonPhrase(204), "No Content");
  EXPECT_STREQ(ReasonPhrase(400), "Bad Request");
  EXPECT_STREQ(ReasonPhrase(404), "Not Found");
  EXPECT_STREQ(ReasonPhrase(405), "Method Not Allowed");
  EXPECT_STREQ(ReasonPhrase(408), "Request Timeout");
  EXPECT_STREQ(ReasonPhrase(413), "Content Too Large");
  EXPECT_STREQ(ReasonPhrase(417), "Expectation Failed");
  EXPECT_STREQ(ReasonPhrase(429), "Too Many Requests");
  EXPECT_STREQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_STREQ(ReasonPhrase(500), "Internal Server Error");
  EXPECT_STREQ(ReasonPhrase(501), "Not Implemented");
  EXPECT_STREQ(ReasonPhrase(502), "Bad Gateway");
  EXPECT_STREQ(ReasonPhrase(503), "Service Unavailable");
  EXPECT_STREQ(ReasonPhrase(504), "Gateway Timeout");
  EXPECT_STREQ(ReasonPhrase(0), "Unknown");
  EXPECT_STREQ(ReasonPhrase(418), "Unknown");
  EXPECT_STREQ(ReasonPhrase(-1), "Unknown");
}

TEST(ErrorTypeForStatusTest, Mapping) {
  EXPECT_EQ(ErrorTypeForStatus(400), "invalid_request_error");
  EXPECT_EQ(ErrorTypeForStatus(401), "authentication_error");
  EXPECT_EQ(ErrorTypeForStatus(403), "permission_error");
  EXPECT_EQ(ErrorTypeForStatus(404), "not_found_error");
  EXPECT_EQ(ErrorTypeForStatus(405), "invalid_request_error");
  EXPECT_EQ(ErrorTypeForStatus(413), "invalid_request_error");
  EXPECT_EQ(ErrorTypeForStatus(429), "rate_limit_error");
  EXPECT_EQ(ErrorTypeForStatus(500), "server_error");
  EXPECT_EQ(ErrorTypeForStatus(503), "server_error");
}

TEST(JsonErrorBodyTest, PlainText) {
  EXPECT_EQ(JsonErrorBody("no route for GET /x", "not_found_error", "not_found"),
            "{\"error\":{\"message\":\"no route for GET /x\",\"type\":\"not_found_error\","
            "\"code\":\"not_found\"}}");
}

TEST(JsonErrorBodyTest, EscapesQuotesBackslashesAndControls) {
  std::string message = "say \"hi\" \\ path C:\\dir\n\r\t\b\f";
  message.push_back('\0');
  message += "\x01\x1f end";
  EXPECT_EQ(JsonErrorBody(message, "t\"ype", "c\\ode"),
            "{\"error\":{\"message\":\"say \\\"hi\\\" \\\\ path C:\\\\dir\\n\\r\\t\\b\\f"
            "\\u0000\\u0001\\u001f end\",\"type\":\"t\\\"ype\",\"code\":\"c\\\\ode\"}}");
}

TEST(JsonErrorBodyTest, LeavesUtf8AndDelAlone) {
  EXPECT_EQ(JsonErrorBody("caf\xc3\xa9 \xe2\x9c\x93 \x7f", "t", "c"),
            "{\"error\":{\"message\":\"caf\xc3\xa9 \xe2\x9c\x93 \x7f\",\"type\":\"t\","
            "\"code\":\"c\"}}");
}

TEST(JsonErrorBodyTest, Empty) {
  EXPECT_EQ(JsonErrorBody("", "", ""),
            "{\"error\":{\"message\":\"\",\"type\":\"\",\"code\":\"\"}}");
}

TEST(AppendJsonEscapedTest, AppendsAndEscapesEveryControlCharacter) {
  std::string out = "x";
  AppendJsonEscaped(out, "");
  EXPECT_EQ(out, "x");
  for (int c = 0; c < 0x20; ++c) {
    std::string got;
    AppendJsonEscaped(got, std::string(1, static_cast<char>(c)));
    std::string want;
    switch (c) {
      case '\n':
        want = "\\n";
        break;
      case '\r':
        want = "\\r";
        break;
      case '\t':
        want = "\\t";
        break;
      case '\b':
        want = "\\b";
        break;
      case '\f':
        want = "\\f";
        break;
      default: {
        char buf[8];
        snprintf(buf, sizeof(buf), "\\u%04x", c);
        want = buf;
      }
    }
    EXPECT_EQ(got, want) << "byte " << c;
  }
  out.clear();
  AppendJsonEscaped(out, "ab\"");
  AppendJsonEscaped(out, "\"cd");
  EXPECT_EQ(out, "ab\\\"\\\"cd");
}

TEST(HttpDateTest, Format) {
  HttpDate date;
  std::string_view now = date.Now();
  EXPECT_EQ(now.size(), 29u);
  EXPECT_TRUE(std::regex_match(std::string(now),
                               std::regex("(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3][0-9] "
                                          "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                                          "20[0-9]{2} [0-2][0-9]:[0-5][0-9]:[0-6][0-9] GMT")))
      << now;
}

// ---- Router ----

struct Sent {
  int status;
  std::string content_type;
  std::string body;
  std::string extra_headers;
};

class FakeResponder : public Responder {
 public:
  void Send(int status, std::string_view content_type, std::string_view body,
            std::string_view extra_headers) override {
    sent.push_back(
        {status, std::string(content_type), std::string(body), std::string(extra_headers)});
  }
  std::vector<Sent> sent;
};

HttpRequest MakeRequest(uint8_t method, std::string_view method_name, std::string_view path) {
  HttpRequest req;
  req.method = method;
  req.method_name = method_name;
  req.target = path;
  req.path = path;
  return req;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/v1/models", [this](HttpRequest& req, Responder& r) {
      calls_.push_back("GET /v1/models" + std::string(req.is_head() ? " (head)" : ""));
      r.Send(200, "application/json", "{\"data\":[]}");
    });
    router_.Add("POST", "/v1/chat/completions", [this](HttpRequest&, Responder& r) {
      calls_.push_back("POST /v1/chat/completions");
      r.Send(200, "text/event-stream", "data: x\n\n");
    });
    router_.Add("GET", "/health", [this](HttpRequest&, Responder& r) {
      calls_.push_back("GET /health");
      r.Send(200, "text/plain", "ok");
    });
    router_.Add("POST", "/health", [this](HttpRequest&, Responder& r) {
      calls_.push_back("POST /health");
      r.Send(202, "text/plain", "");
    });
  }

  Router router_;
  std::vector<std::string> calls_;
};

TEST_F(RouterTest, ExactMatchRunsHandler) {
  FakeResponder responder;
  HttpRequest req = MakeRequest(HTTP_GET, "GET", "/v1/models");
  EXPECT_TRUE(router_.Dispatch(req, responder));
  EXPECT_EQ(calls_, std::vector<std::string>{"GET /v1/models"});
  ASSERT_EQ(responder.sent.size(), 1u);
  EXPECT_EQ(responder.sent[0].status, 200);
  EXPECT_EQ(responder.sent[0].body, "{\"data\":[]}");

  FakeResponder r2;
  HttpRequest post = MakeRequest(HTTP_POST, "POST", "/v1/chat/completions");
  EXPECT_TRUE(router_.Dispatch(post, r2));
  ASSERT_EQ(r2.sent.size(), 1u);
  EXPECT_EQ(r2.sent[0].content_type, "text/event-stream");
}

TEST_F(RouterTest, SamePathDifferentMethods) {
  FakeResponder get_r, post_r;
  HttpRequest get = MakeRequest(HTTP_GET, "GET", "/health");
  HttpRequest post = MakeRequest(HTTP_POST, "POST", "/health");
  EXPECT_TRUE(router_.Dispatch(get, get_r));
  EXPECT_TRUE(router_.Dispatch(post, post_r));
  EXPECT_EQ(calls_, (std::vector<std::string>{"GET /health", "POST /health"}));
  ASSERT_EQ(post_r.sent.size(), 1u);
  EXPECT_EQ(post_r.sent[0].status, 202);
}

TEST_F(RouterTest, HeadIsServedByGetRoute) {
  FakeResponder responder;
  HttpRequest req = MakeRequest(HTTP_HEAD, "HEAD", "/v1/models");
  EXPECT_TRUE(router_.Dispatch(req, responder));
  EXPECT_EQ(calls_, std::vector<std::string>{"GET /v1/models (head)"});
  ASSERT_EQ(responder.sent.size(), 1u);
  EXPECT_EQ(responder.sent[0].status, 200);
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  FakeResponder responder;
  HttpRequest req = MakeRequest(HTTP_POST, "POST", "/v1/models");
  EXPECT_FALSE(router_.Dispatch(req, responder));
  EXPECT_TRUE(calls_.empty());
  ASSERT_EQ(responder.sent.size(), 1u);
  const Sent& s = responder.sent[0];
  EXPECT_EQ(s.status, 405);
  EXPECT_EQ(s.content_type, "application/json");
  EXPECT_EQ(s.extra_headers, "Allow: GET, HEAD\r\n");
  EXPECT_NE(s.body.find("\"type\":\"invalid_request_error\""), std::string::npos) << s.body;
  EXPECT_NE(s.body.find("\"code\":\"method_not_allowed\""), std::string::npos) << s.body;
}

TEST_F(RouterTest, AllowListsEveryMethodOfThePath) {
  FakeResponder responder;
  HttpRequest req = MakeRequest(HTTP_DELETE, "DELETE", "/health");
  EXPECT_FALSE(router_.Dispatch(req, responder));
  ASSERT_EQ(responder.sent.size(), 1u);
  EXPECT_EQ(responder.sent[0].status, 405);
  EXPECT_EQ(responder.sent[0].extra_headers, "Allow: GET, HEAD, POST\r\n");
}

TEST_F(RouterTest, HeadOnPostOnlyRouteIs405) {
  FakeResponder responder;
  HttpRequest req = MakeRequest(HTTP_HEAD, "HEAD", "/v1/chat/completions");
  EXPECT_FALSE(router_.Dispatch(req, responder));
  ASSERT_EQ(responder.sent.size(), 1u);
  EXPECT_EQ(responder.sent[0].status, 405);
  EXPECT_EQ(responder.sent[0].extra_headers, "Allow: POST\r\n");
}

TEST_F(RouterTest, UnknownPathIs404) {
  for (const char* path : {"/nope", "/v1/models/", "/v1/model", "/V1/MODELS", "", "/"}) {
    FakeResponder responder;
    HttpRequest req = MakeRequest(HTTP_GET, "GET", path);
    EXPECT_FALSE(router_.Dispatch(req, responder)) << path;
    ASSERT_EQ(responder.sent.size(), 1u) << path;
    const Sent& s = responder.sent[0];
    EXPECT_EQ(s.status, 404) << path;
    EXPECT_EQ(s.content_type, "application/json");
    EXPECT_EQ(s.extra_headers, "");
    EXPECT_EQ(s.body, JsonErrorBody(std::string("no route for GET ") + path, "not_found_error",
                                    "not_found"));
  }
  EXPECT_TRUE(calls_.empty());
}

// Routing is by path: the query string plays no part.
TEST_F(RouterTest, DispatchesParsedRequestByPath) {
  RequestParser parser(RequestParser::Limits{});
  ASSERT_EQ(parser.Feed("HEAD /health?verbose=1 HTTP/1.1\r\nHost: h\r\n\r\n").kind,
            RequestParser::Kind::kRequest);
  FakeResponder responder;
  EXPECT_TRUE(router_.Dispatch(parser.request(), responder));
  EXPECT_EQ(calls_, std::vector<std::string>{"GET /health"});
}

class PrefixRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/v1beta/models", Handler("list"));
    router_.AddPrefix("POST", "/v1beta/models/", Handler("generate"));
    router_.Add("GET", "/v1beta/models/special", Handler("special"));
  }
  RouteHandler Handler(std::string name) {
    return [this, name](HttpRequest& req, Responder& r) {
      calls_.push_back(name + " " + std::string(req.path));
      r.Send(200, "text/plain", name);
    };
  }
  Router router_;
  std::vector<std::string> calls_;
};

TEST_F(PrefixRouterTest, PrefixMatchesLongerPaths) {
  FakeResponder responder;
  HttpRequest req =
      MakeRequest(HTTP_POST, "POST", "/v1beta/models/gemini-2.5-flash:generateContent");
  EXPECT_TRUE(router_.Dispatch(req, responder));
  EXPECT_EQ(calls_,
            std::vector<std::string>{"generate /v1beta/models/gemini-2.5-flash:generateContent"});
}

TEST_F(PrefixRouterTest, PrefixAloneDoesNotMatch) {
  FakeResponder responder;
  HttpRequest req = MakeRequest(HTTP_POST, "POST", "/v1beta/models/");
  EXPECT_FALSE(router_.Dispatch(req, responder));
  ASSERT_EQ(responder.sent.size(), 1u);
  EXPECT_EQ(responder.sent[0].status, 404);
  EXPECT_TRUE(calls_.empty());
}

TEST_F(PrefixRouterTest, ExactRouteWinsOverPrefix) {
  FakeResponder get_r;
  HttpRequest get = MakeRequest(HTTP_GET, "GET", "/v1beta/models/special");
  EXPECT_TRUE(router_.Dispatch(get, get_r));
  EXPECT_EQ(calls_, std::vector<std::string>{"special /v1beta/models/special"});
  // The exact path has only GET: POST is refused rather than handed to the prefix route.
  FakeResponder post_r;
  HttpRequest post = MakeRequest(HTTP_POST, "POST", "/v1beta/models/special");
  EXPECT_FALSE(router_.Dispatch(post, post_r));
  ASSERT_EQ(post_r.sent.size(), 1u);
  EXPECT_EQ(post_r.sent[0].status, 405);
  EXPECT_EQ(post_r.sent[0].extra_headers, "Allow: GET, HEAD\r\n");
}

TEST_F(PrefixRouterTest, WrongMethodOnPrefixIs405) {
  FakeResponder responder;
  HttpRequest req = MakeRequest(HTTP_GET, "GET", "/v1beta/models/gemini-pro");
  EXPECT_FALSE(router_.Dispatch(req, responder));
  ASSERT_EQ(responder.sent.size(), 1u);
  EXPECT_EQ(responder.sent[0].status, 405);
  EXPECT_EQ(responder.sent[0].extra_headers, "Allow: POST\r\n");
}

TEST_F(PrefixRouterTest, OtherPathsAre404) {
  for (const char* path : {"/v1beta/model/x", "/v1beta/modelsx", "/v1beta"}) {
    FakeResponder responder;
    HttpRequest req = MakeRequest(HTTP_POST, "POST", path);
    EXPECT_FALSE(router_.Dispatch(req, responder)) << path;
    ASSERT_EQ(responder.sent.size(), 1u);
    EXPECT_EQ(responder.sent[0].status, 404) << path;
  }
}

TEST(ResponderTest, DefaultDeferIsUnavailable) {
  FakeResponder responder;
  EXPECT_EQ(responder.Defer(nullptr), nullptr);
}

TEST(RouterEmptyTest, EverythingIs404) {
  Router router;
  FakeResponder responder;
  HttpRequest req = MakeRequest(HTTP_GET, "GET", "/");
  EXPECT_FALSE(router.Dispatch(req, responder));
  ASSERT_EQ(responder.sent.size(), 1u);
  EXPECT_EQ(responder.sent[0].status, 404);
}

TEST(ResponderTest, SendErrorUsesJsonBodyAndStatusType) {
  FakeResponder responder;
  responder.SendError(429, "slow \"down\"", "rate_limited", "Retry-After: 3\r\n");
  ASSERT_EQ(responder.sent.size(), 1u);
  const Sent& s = responder.sent[0];
  EXPECT_EQ(s.status, 429);
  EXPECT_EQ(s.content_type, "application/json");
  EXPECT_EQ(s.body,
            "{\"error\":{\"message\":\"slow \\\"down\\\"\",\"type\":\"rate_limit_error\","
            "\"code\":\"rate_limited\"}}");
  EXPECT_EQ(s.extra_headers, "Retry-After: 3\r\n");
}

}  // namespace
}  // namespace ringgate
