// RequestParser: every request must parse to the same result however its bytes are split, and the
// limits (431, 413) and protocol errors (400, 417) must hold whatever the split.
#include "ringgate/http/request_parser.h"

#include <gtest/gtest.h>
#include <llhttp.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringgate {
namespace {

using Kind = RequestParser::Kind;
using Limits = RequestParser::Limits;

// Everything a caller can observe about one parsed request, as owned copies.
struct Parsed {
  std::string method;
  std::string target;
  std::string path;
  std::string query;
  int version_major = 0;
  int version_minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = false;
  int expect_continue = 0;  // times TakeExpectContinue() returned true for this request

  bool operator==(const Parsed&) const = default;
};

// The result of feeding one byte stream, in whatever pieces.
struct Transcript {
  std::vector<Parsed> requests;
  bool error = false;
  int error_status = 0;
  std::string error_code;
  size_t consumed = 0;      // sum of Outcome::consumed over every Feed()
  bool consumed_ok = true;  // every Outcome::consumed was within its input (all for kNeedMore)
  size_t leftover = 0;      // bytes fed to no Feed() call at the end (unconsumed)
  int continues_before_headers = 0;  // TakeExpectContinue() true with no request in progress

  bool operator==(const Transcript&) const = default;
};

std::string Escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string Describe(const Transcript& t) {
  std::string out;
  for (size_t i = 0; i < t.requests.size(); ++i) {
    const Parsed& r = t.requests[i];
    out += "request " + std::to_string(i) + ": " + r.method + " target='" + Escape(r.target) +
           "' path='" + Escape(r.path) + "' query='" + Escape(r.query) + "' HTTP/" +
           std::to_string(r.version_major) + "." + std::to_string(r.version_minor) +
           " keep_alive=" + (r.keep_alive ? "1" : "0") +
           " expect_continue=" + std::to_string(r.expect_continue) + "\n";
    for (const auto& [name, value] : r.headers) {
      out += "  header '" + Escape(name) + "' = '" + Escape(value) + "'\n";
    }
    out +=
        "  body (" + std::to_string(r.body.size()) + ") '" + Escape(r.body.substr(0, 200)) + "'\n";
  }
  if (t.error) {
    out += "error " + std::to_string(t.error_status) + " " + t.error_code + "\n";
  }
  out += "consumed=" + std::to_string(t.consumed) + " consumed_ok=" + (t.consumed_ok ? "1" : "0") +
         " leftover=" + std::to_string(t.leftover) +
         " continues_before_headers=" + std::to_string(t.continues_before_headers) + "\n";
  return out;
}

Parsed Capture(const HttpRequest& req) {
  Parsed p;
  p.method = std::string(req.method_name);
  p.target = std::string(req.target);
  p.path = std::string(req.path);
  p.query = std::string(req.query);
  p.version_major = req.version_major;
  p.version_minor = req.version_minor;
  for (const HttpHeader& h : req.headers)
    p.headers.emplace_back(h.name, h.value);
  p.body = req.body;
  p.keep_alive = req.keep_alive;
  return p;
}

// Feeds `pieces` the way a connection does: bytes that arrive are appended to what is still
// unconsumed; Feed() is called until it needs more, handling each completed request before
// feeding the rest. Stops at the first error.
Transcript Run(const Limits& limits, const std::vector<std::string_view>& pieces) {
  RequestParser parser(limits);
  Transcript t;
  std::string pending;
  int continues_for_next = 0;  // TakeExpectContinue() hits for the request in progress
  for (std::string_view piece : pieces) {
    pending.append(piece);
    while (!pending.empty()) {
      RequestParser::Outcome out = parser.Feed(pending);
      if (out.consumed > pending.size()) {
        t.consumed_ok = false;
        out.consumed = pending.size();
      }
      t.consumed += out.consumed;
      if (out.kind == Kind::kError) {
        t.error = true;
        t.error_status = out.error_status;
        t.error_code = std::string(out.error_code);
        t.leftover = pending.size() - out.consumed;
        return t;
      }
      bool take = parser.TakeExpectContinue();
      if (out.kind == Kind::kNeedMore) {
        if (out.consumed != pending.size())
          t.consumed_ok = false;
        if (take) {
          if (parser.headers_done()) {
            ++continues_for_next;
          } else {
            ++t.continues_before_headers;
          }
        }
        pending.clear();
        break;
      }
      // kRequest
      Parsed p = Capture(parser.request());
      p.expect_continue = continues_for_next + (take ? 1 : 0);
      continues_for_next = 0;
      t.requests.push_back(std::move(p));
      pending.erase(0, out.consumed);
    }
  }
  t.leftover = pending.size();
  t.continues_before_headers += continues_for_next;
  return t;
}

Transcript RunWhole(const Limits& limits, std::string_view input) {
  return Run(limits, {input});
}

Transcript RunBytes(const Limits& limits, std::string_view input) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < input.size(); ++i)
    pieces.push_back(input.substr(i, 1));
  return Run(limits, pieces);
}

Transcript RunSplit(const Limits& limits, std::string_view input, size_t at) {
  return Run(limits, {input.substr(0, at), input.substr(at)});
}

using Headers = std::vector<std::pair<std::string, std::string>>;

Parsed Req(std::string method, std::string target, std::string path, std::string query,
           Headers headers, std::string body = "", bool keep_alive = true, int minor = 1,
           int expect_continue = 0) {
  Parsed p;
  p.method = std::move(method);
  p.target = std::move(target);
  p.path = std::move(path);
  p.query = std::move(query);
  p.version_major = 1;
  p.version_minor = minor;
  p.headers = std::move(headers);
  p.body = std::move(body);
  p.keep_alive = keep_alive;
  p.expect_continue = expect_continue;
  return p;
}

struct Case {
  std::string name;
  std::string input;
  std::vector<Parsed> expected;
};

std::string ManyHeadersInput() {
  std::string s = "GET /many HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) {
    s += "X-Header-" + std::to_string(i) + ": value-" + std::to_string(i) + "\r\n";
  }
  s += "\r\n";
  return s;
}

Headers ManyHeaders() {
  Headers h;
  for (int i = 0; i < 100; ++i) {
    h.emplace_back("X-Header-" + std::to_string(i), "value-" + std::to_string(i));
  }
  return h;
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  cases.push_back({"simple_get",
                   "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
                   {Req("GET", "/index.html", "/index.html", "", {{"Host", "example.com"}})}});
  cases.push_back(
      {"head",
       "HEAD /v1/models HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n",
       {Req("HEAD", "/v1/models", "/v1/models", "", {{"Host", "h"}, {"Accept", "*/*"}})}});
  cases.push_back(
      {"post_content_length",
       "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
       "Content-Length: 27\r\n\r\n{\"model\":\"x\",\"stream\":true}",
       {Req("POST", "/v1/chat/completions", "/v1/chat/completions", "",
            {{"Host", "h"}, {"Content-Type", "application/json"}, {"Content-Length", "27"}},
            "{\"model\":\"x\",\"stream\":true}")}});
  cases.push_back({"post_empty_body",
                   "POST /p HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                   {Req("POST", "/p", "/p", "", {{"Content-Length", "0"}})}});
  cases.push_back(
      {"chunked_extensions_trailers",
       "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5;name=value\r\nhello\r\n"
       "7;flag;c=\"quoted\"\r\n, world\r\n"
       "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
       "0;last\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n",
       {Req("POST", "/upload", "/upload", "", {{"Host", "h"}, {"Transfer-Encoding", "chunked"}},
            "hello, worldabcdefghijklmnopqrstuvwxyz")}});
  cases.push_back(
      {"many_headers", ManyHeadersInput(), {Req("GET", "/many", "/many", "", ManyHeaders())}});
  cases.push_back({"header_value_spaces",
                   "GET / HTTP/1.1\r\nX-A:   spaced value  \r\nX-B:\tTabbed\t\r\n"
                   "X-Empty:\r\nX-Spaces-Only:    \r\nHost:h\r\n\r\n",
                   {Req("GET", "/", "/", "",
                        {{"X-A", "spaced value"},
                         {"X-B", "Tabbed"},
                         {"X-Empty", ""},
                         {"X-Spaces-Only", ""},
                         {"Host", "h"}})}});
  cases.push_back({"http10_close",
                   "GET /old HTTP/1.0\r\nHost: h\r\n\r\n",
                   {Req("GET", "/old", "/old", "", {{"Host", "h"}}, "", false, 0)}});
  cases.push_back({"http10_keep_alive",
                   "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                   {Req("GET", "/old", "/old", "", {{"Connection", "keep-alive"}}, "", true, 0)}});
  cases.push_back(
      {"connection_close",
       "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
       {Req("GET", "/", "/", "", {{"Host", "h"}, {"Connection", "close"}}, "", false)}});
  cases.push_back(
      {"expect_continue",
       "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nabcd",
       {Req("POST", "/e", "/e", "", {{"Expect", "100-continue"}, {"Content-Length", "4"}}, "abcd",
            true, 1, 1)}});
  cases.push_back(
      {"expect_continue_chunked",
       "POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\nexpect: 100-Continue\r\n\r\n"
       "3\r\nabc\r\n0\r\n\r\n",
       {Req("POST", "/e", "/e", "", {{"Transfer-Encoding", "chunked"}, {"expect", "100-Continue"}},
            "abc", true, 1, 1)}});
  cases.push_back({"expect_continue_without_body",
                   "GET /e HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
                   {Req("GET", "/e", "/e", "", {{"Expect", "100-continue"}})}});
  cases.push_back(
      {"expect_continue_empty_body",
       "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
       {Req("POST", "/e", "/e", "", {{"Expect", "100-continue"}, {"Content-Length", "0"}})}});
  cases.push_back(
      {"query_string",
       "GET /v1beta/models?key=abc&alt=sse HTTP/1.1\r\n\r\n",
       {Req("GET", "/v1beta/models?key=abc&alt=sse", "/v1beta/models", "key=abc&alt=sse", {})}});
  cases.push_back({"query_empty",
                   "GET /search? HTTP/1.1\r\n\r\n",
                   {Req("GET", "/search?", "/search", "", {})}});
  cases.push_back({"query_with_question_marks",
                   "GET /a?b?c=d HTTP/1.1\r\n\r\n",
                   {Req("GET", "/a?b?c=d", "/a", "b?c=d", {})}});
  cases.push_back(
      {"pipelined_three",
       "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
       "POST /two?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
       "GET /three HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
       {Req("GET", "/one", "/one", "", {{"Host", "h"}}),
        Req("POST", "/two?x=1", "/two", "x=1", {{"Host", "h"}, {"Content-Length", "5"}}, "hello"),
        Req("GET", "/three", "/three", "", {{"Host", "h"}, {"Connection", "close"}}, "", false)}});
  cases.push_back({"pipelined_chunked_expect_head",
                   "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
                   "PUT /b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nxyz"
                   "HEAD /c HTTP/1.1\r\n\r\n",
                   {Req("POST", "/a", "/a", "", {{"Transfer-Encoding", "chunked"}}, "ab"),
                    Req("PUT", "/b", "/b", "",
                        {{"Expect", "100-continue"}, {"Content-Length", "3"}}, "xyz", true, 1, 1),
                    Req("HEAD", "/c", "/c", "", {})}});
  return cases;
}

class ParserSplitTest : public ::testing::TestWithParam<Case> {};

TEST_P(ParserSplitTest, WholeMatchesExpected) {
  const Case& c = GetParam();
  Transcript expected;
  expected.requests = c.expected;
  expected.consumed = c.input.size();
  Transcript whole = RunWhole(Limits{}, c.input);
  EXPECT_EQ(Describe(whole), Describe(expected));
}

TEST_P(ParserSplitTest, ByteByByteMatchesWhole) {
  const Case& c = GetParam();
  Transcript whole = RunWhole(Limits{}, c.input);
  Transcript bytes = RunBytes(Limits{}, c.input);
  EXPECT_EQ(Describe(bytes), Describe(whole));
  EXPECT_EQ(bytes.requests.size(), c.expected.size());
}

TEST_P(ParserSplitTest, EverySplitMatchesWhole) {
  const Case& c = GetParam();
  Transcript whole = RunWhole(Limits{}, c.input);
  std::string want = Describe(whole);
  int failures = 0;
  for (size_t at = 0; at <= c.input.size() && failures < 3; ++at) {
    Transcript split = RunSplit(Limits{}, c.input, at);
    std::string got = Describe(split);
    if (got != want) {
      ++failures;
      ADD_FAILURE() << "split at " << at << " of " << c.input.size() << "\n got:\n"
                    << got << " want:\n"
                    << want;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Requests, ParserSplitTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

// ---- Single-request checks of the Feed() contract ----

TEST(RequestParserTest, RequestFieldsAndHeaderLookup) {
  RequestParser parser(Limits{});
  std::string input =
      "DELETE /v1/files/abc?force=1 HTTP/1.1\r\nHost: example.com\r\nX-Api-Key: k\r\n\r\n";
  RequestParser::Outcome out = parser.Feed(input);
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_EQ(out.consumed, input.size());
  HttpRequest& req = parser.request();
  EXPECT_EQ(req.method, HTTP_DELETE);
  EXPECT_EQ(req.method_name, "DELETE");
  EXPECT_FALSE(req.is_get());
  EXPECT_FALSE(req.is_head());
  EXPECT_EQ(req.Header("x-api-key"), "k");
  EXPECT_EQ(req.Header("HOST"), "example.com");
  EXPECT_TRUE(req.HasHeader("x-API-key"));
  EXPECT_FALSE(req.HasHeader("x-api-ke"));
  EXPECT_EQ(req.Header("missing"), "");
}

TEST(RequestParserTest, PipelinedConsumedStopsAtEachRequest) {
  RequestParser parser(Limits{});
  std::string first = "GET /1 HTTP/1.1\r\n\r\n";
  std::string second = "POST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
  std::string third = "GET /3 HTTP/1.1\r\n\r\n";
  std::string all = first + second + third;
  std::string_view rest = all;

  RequestParser::Outcome out = parser.Feed(rest);
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_EQ(out.consumed, first.size());
  EXPECT_EQ(parser.request().path, "/1");
  rest.remove_prefix(out.consumed);

  out = parser.Feed(rest);
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_EQ(out.consumed, second.size());
  EXPECT_EQ(parser.request().path, "/2");
  EXPECT_EQ(parser.request().body, "ok");
  rest.remove_prefix(out.consumed);

  out = parser.Feed(rest);
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_EQ(out.consumed, third.size());
  EXPECT_EQ(parser.request().path, "/3");
  EXPECT_TRUE(parser.request().body.empty());
  EXPECT_TRUE(parser.request().headers.empty());
}

TEST(RequestParserTest, PartialRequestConsumesEverythingAndReportsProgress) {
  RequestParser parser(Limits{});
  EXPECT_FALSE(parser.in_request());
  EXPECT_FALSE(parser.headers_done());
  std::string_view part1 = "POST /x HTTP/1.1\r\nContent-Len";
  std::string_view part2 = "gth: 3\r\n\r\na";
  RequestParser::Outcome out = parser.Feed(part1);
  EXPECT_EQ(out.kind, Kind::kNeedMore);
  EXPECT_EQ(out.consumed, part1.size());
  EXPECT_TRUE(parser.in_request());
  EXPECT_FALSE(parser.headers_done());
  out = parser.Feed(part2);
  EXPECT_EQ(out.kind, Kind::kNeedMore);
  EXPECT_EQ(out.consumed, part2.size());
  EXPECT_TRUE(parser.in_request());
  EXPECT_TRUE(parser.headers_done());
  out = parser.Feed("bc");
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_EQ(out.consumed, 2u);
  EXPECT_EQ(parser.request().body, "abc");
}

// The header says in_request() is true only while bytes of a request that is not yet complete
// have been seen; an idle connection (last request answered, nothing new) has none.
TEST(RequestParserTest, NotInRequestAfterCompleteRequest) {
  RequestParser parser(Limits{});
  std::string input = "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nab";
  RequestParser::Outcome out = parser.Feed(input);
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_EQ(out.consumed, input.size());
  EXPECT_FALSE(parser.in_request()) << "a connection whose only request completed is idle";
}

TEST(RequestParserTest, UpgradeRequestIsAnsweredThenConnectionCloses) {
  RequestParser parser(Limits{});
  std::string input =
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  RequestParser::Outcome out = parser.Feed(input);
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_EQ(out.consumed, input.size());
  EXPECT_EQ(parser.request().path, "/ws");
  EXPECT_FALSE(parser.request().keep_alive) << "we speak no other protocol, so the connection ends";
}

// The request's views stay valid until the next Feed(), even when trailers arrive after them.
TEST(RequestParserTest, LongTrailerKeepsRequestViewsValid) {
  RequestParser parser(Limits{});
  std::string trailer_value(3000, 't');
  std::string input =
      "POST /upload/with/a/reasonably/long/path?and=query HTTP/1.1\r\n"
      "Host: example.com\r\nTransfer-Encoding: chunked\r\nX-Custom: custom-value\r\n\r\n"
      "3\r\nabc\r\n0\r\nX-Trailer: " +
      trailer_value + "\r\n\r\n";
  RequestParser::Outcome out = parser.Feed(input);
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_EQ(out.consumed, input.size());
  const HttpRequest& req = parser.request();
  EXPECT_EQ(req.body, "abc");
  EXPECT_EQ(req.target, "/upload/with/a/reasonably/long/path?and=query");
  EXPECT_EQ(req.path, "/upload/with/a/reasonably/long/path");
  EXPECT_EQ(req.query, "and=query");
  EXPECT_EQ(req.Header("host"), "example.com");
  EXPECT_EQ(req.Header("x-custom"), "custom-value");
}

// ---- Limits ----

// "GET /... HTTP/1.1\r\nX-Pad: ...\r\n\r\n" whose request line plus headers (through the final
// CRLF) is exactly `size` bytes.
std::string HeaderBlockOfSize(size_t size) {
  std::string head = "GET /limit HTTP/1.1\r\nX-Pad: ";
  std::string tail = "\r\n\r\n";
  EXPECT_GT(size, head.size() + tail.size());
  return head + std::string(size - head.size() - tail.size(), 'p') + tail;
}

void ExpectAllSplits(const Limits& limits, const std::string& input, const Transcript& want,
                     const char* what) {
  std::string want_text = Describe(want);
  EXPECT_EQ(Describe(RunWhole(limits, input)), want_text) << what << " (whole)";
  EXPECT_EQ(Describe(RunBytes(limits, input)), want_text) << what << " (byte by byte)";
  int failures = 0;
  for (size_t at = 0; at <= input.size() && failures < 3; ++at) {
    std::string got = Describe(RunSplit(limits, input, at));
    if (got != want_text) {
      ++failures;
      ADD_FAILURE() << what << ": split at " << at << "\n got:\n" << got << " want:\n" << want_text;
    }
  }
}

// Compares only the error part of a transcript (consumed counts differ between splits).
void ExpectErrorAllSplits(const Limits& limits, const std::string& input, int status,
                          const std::string& code, size_t requests_before = 0) {
  auto check = [&](const Transcript& t, const std::string& how) {
    EXPECT_TRUE(t.error) << how << "\n" << Describe(t);
    EXPECT_EQ(t.error_status, status) << how << "\n" << Describe(t);
    EXPECT_EQ(t.error_code, code) << how;
    EXPECT_EQ(t.requests.size(), requests_before) << how;
    EXPECT_TRUE(t.consumed_ok) << how;
  };
  check(RunWhole(limits, input), "whole");
  check(RunBytes(limits, input), "byte by byte");
  for (size_t at = 0; at <= input.size(); ++at) {
    Transcript t = RunSplit(limits, input, at);
    if (!t.error || t.error_status != status) {
      check(t, "split at " + std::to_string(at));
      break;
    }
  }
}

TEST(RequestParserLimitsTest, HeaderBlockExactlyAtLimitIsAccepted) {
  Limits limits;
  limits.max_header_bytes = 300;
  std::string input = HeaderBlockOfSize(300);
  ASSERT_EQ(input.size(), 300u);
  Transcript want;
  want.requests.push_back(
      Req("GET", "/limit", "/limit", "", {{"X-Pad", std::string(300 - 32, 'p')}}));
  want.consumed = input.size();
  ExpectAllSplits(limits, input, want, "header block at the limit");
}

TEST(RequestParserLimitsTest, HeaderBlockAtLimitFollowedByBodyIsAccepted) {
  Limits limits;
  limits.max_header_bytes = 300;
  std::string head = "POST /limit HTTP/1.1\r\nContent-Length: 10\r\nX-Pad: ";
  std::string input = head + std::string(300 - head.size() - 4, 'p') + "\r\n\r\n" + "0123456789";
  Transcript want;
  want.requests.push_back(
      Req("POST", "/limit", "/limit", "",
          {{"Content-Length", "10"}, {"X-Pad", std::string(300 - head.size() - 4, 'p')}},
          "0123456789"));
  want.consumed = input.size();
  ExpectAllSplits(limits, input, want, "header block at the limit with a body");
}

TEST(RequestParserLimitsTest, HeaderBlockOneByteOverLimitIs431) {
  Limits limits;
  limits.max_header_bytes = 300;
  std::string input = HeaderBlockOfSize(301);
  ExpectErrorAllSplits(limits, input, 431, "header_too_large");
}

TEST(RequestParserLimitsTest, HeaderBlockOverLimitWithBodyIs431) {
  Limits limits;
  limits.max_header_bytes = 256;
  std::string input =
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nX-Pad: " + std::string(400, 'x') + "\r\n\r\nhello";
  ExpectErrorAllSplits(limits, input, 431, "header_too_large");
}

TEST(RequestParserLimitsTest, EndlessHeaderBlockIs431WhateverTheSplit) {
  Limits limits;
  limits.max_header_bytes = 256;
  std::string input = "GET / HTTP/1.1\r\n";
  for (int i = 0; input.size() < 1000; ++i)
    input += "X-" + std::to_string(i) + ": abcdefgh\r\n";
  ExpectErrorAllSplits(limits, input, 431, "header_too_large");
  // The parser never takes in more than one byte past the limit.
  RequestParser parser(limits);
  RequestParser::Outcome out = parser.Feed(input);
  ASSERT_EQ(out.kind, Kind::kError);
  EXPECT_LE(out.consumed, 257u);
}

TEST(RequestParserLimitsTest, LongRequestLineIs431) {
  Limits limits;
  limits.max_header_bytes = 256;
  std::string input = "GET /" + std::string(1000, 'a') + " HTTP/1.1\r\n\r\n";
  ExpectErrorAllSplits(limits, input, 431, "header_too_large");
}

TEST(RequestParserLimitsTest, SecondPipelinedRequestGetsItsOwnHeaderBudget) {
  Limits limits;
  limits.max_header_bytes = 300;
  std::string one = HeaderBlockOfSize(300);
  std::string input = one + one + one;
  Transcript want;
  Parsed p = Req("GET", "/limit", "/limit", "", {{"X-Pad", std::string(300 - 32, 'p')}});
  want.requests = {p, p, p};
  want.consumed = input.size();
  ExpectAllSplits(limits, input, want, "three requests each at the limit");
}

TEST(RequestParserLimitsTest, ContentLengthOverLimitIs413BeforeAnyBodyByte) {
  Limits limits;
  limits.max_body_bytes = 100;
  std::string head = "POST /big HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
  // Only the header block arrives: the answer must not wait for the body.
  ExpectErrorAllSplits(limits, head, 413, "request_too_large");

  RequestParser parser(limits);
  RequestParser::Outcome out = parser.Feed(head + "x");
  ASSERT_EQ(out.kind, Kind::kError);
  EXPECT_EQ(out.error_status, 413);
  EXPECT_LE(out.consumed, head.size()) << "no body byte may be consumed";
  EXPECT_FALSE(out.error_message.empty());
}

TEST(RequestParserLimitsTest, HugeContentLengthIs413) {
  Limits limits;
  limits.max_body_bytes = 32ull << 20;
  std::string head = "POST /big HTTP/1.1\r\nContent-Length: 1099511627776\r\n\r\n";
  ExpectErrorAllSplits(limits, head, 413, "request_too_large");
}

TEST(RequestParserLimitsTest, ContentLengthAtLimitIsAccepted) {
  Limits limits;
  limits.max_body_bytes = 100;
  std::string body(100, 'b');
  std::string input = "POST /ok HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + body;
  Transcript want;
  want.requests.push_back(Req("POST", "/ok", "/ok", "", {{"Content-Length", "100"}}, body));
  want.consumed = input.size();
  ExpectAllSplits(limits, input, want, "body at the limit");
}

TEST(RequestParserLimitsTest, ZeroBodyLimitAcceptsBodilessRequests) {
  Limits limits;
  limits.max_body_bytes = 0;
  std::string input = "POST /ok HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  Transcript want;
  want.requests.push_back(Req("POST", "/ok", "/ok", "", {{"Content-Length", "0"}}));
  want.requests.push_back(Req("GET", "/", "/", "", {}));
  want.consumed = input.size();
  ExpectAllSplits(limits, input, want, "zero body limit");
  ExpectErrorAllSplits(limits, "POST /no HTTP/1.1\r\nContent-Length: 1\r\n\r\n", 413,
                       "request_too_large");
}

TEST(RequestParserLimitsTest, ChunkedBodyGrowingOverLimitIs413) {
  Limits limits;
  limits.max_body_bytes = 100;
  std::string input = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 12; ++i)
    input += "a\r\n0123456789\r\n";  // 120 bytes in 10-byte chunks
  input += "0\r\n\r\n";
  ExpectErrorAllSplits(limits, input, 413, "request_too_large");
}

TEST(RequestParserLimitsTest, SingleHugeChunkIs413) {
  Limits limits;
  limits.max_body_bytes = 100;
  std::string input = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" +
                      std::string(101, 'z') + "\r\n0\r\n\r\n";
  ExpectErrorAllSplits(limits, input, 413, "request_too_large");
}

TEST(RequestParserLimitsTest, ChunkedBodyAtLimitIsAccepted) {
  Limits limits;
  limits.max_body_bytes = 100;
  std::string input = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i)
    input += "a\r\n0123456789\r\n";
  input += "0\r\n\r\n";
  std::string body;
  for (int i = 0; i < 10; ++i)
    body += "0123456789";
  Transcript want;
  want.requests.push_back(Req("POST", "/c", "/c", "", {{"Transfer-Encoding", "chunked"}}, body));
  want.consumed = input.size();
  ExpectAllSplits(limits, input, want, "chunked body at the limit");
}

// Trailers are header lines too: an endless trailer section must hit a limit instead of being
// buffered without bound.
TEST(RequestParserLimitsTest, EndlessTrailerSectionIsRejected) {
  Limits limits;
  limits.max_header_bytes = 256;
  limits.max_body_bytes = 256;
  RequestParser parser(limits);
  RequestParser::Outcome out =
      parser.Feed("POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n");
  ASSERT_EQ(out.kind, Kind::kNeedMore);
  bool rejected = false;
  for (int i = 0; i < 1000 && !rejected; ++i) {
    out = parser.Feed("X-Trailer-" + std::to_string(i) + ": " + std::string(50, 'v') + "\r\n");
    if (out.kind == Kind::kError) {
      rejected = true;
      EXPECT_TRUE(out.error_status == 431 || out.error_status == 413) << out.error_status;
    } else {
      ASSERT_EQ(out.kind, Kind::kNeedMore);
    }
  }
  EXPECT_TRUE(rejected)
      << "60 KB of trailers accepted with limits of 256 header and 256 body bytes";
}

// ---- Protocol errors ----

TEST(RequestParserErrorTest, GarbageIs400) {
  ExpectErrorAllSplits(Limits{}, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage", 400,
                       "bad_request");
  ExpectErrorAllSplits(Limits{}, "HELLO THERE\r\n\r\n", 400, "bad_request");
  ExpectErrorAllSplits(Limits{}, "GET / HTTP/1.1\r\nX\x01Y: z\r\n\r\n", 400, "bad_request");
  ExpectErrorAllSplits(Limits{}, "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, "bad_request");
  ExpectErrorAllSplits(Limits{}, "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400, "bad_request");
  ExpectErrorAllSplits(Limits{}, "GET / HTTP/9.9\r\n\r\n", 400, "bad_request");
  ExpectErrorAllSplits(Limits{}, "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400,
                       "bad_request");
  ExpectErrorAllSplits(Limits{},
                       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n", 400,
                       "bad_request");
}

TEST(RequestParserErrorTest, GarbageAfterValidRequestIs400AfterTheRequest) {
  ExpectErrorAllSplits(Limits{}, "GET /ok HTTP/1.1\r\n\r\n\x01\x02\x03 nonsense\r\n\r\n", 400,
                       "bad_request", 1);
}

TEST(RequestParserErrorTest, ContentLengthWithChunkedIs400) {
  ExpectErrorAllSplits(
      Limits{},
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0"
      "\r\n\r\n",
      400, "bad_request");
  ExpectErrorAllSplits(
      Limits{},
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0"
      "\r\n\r\n",
      400, "bad_request");
}

TEST(RequestParserErrorTest, DuplicateContentLengthIs400) {
  ExpectErrorAllSplits(Limits{},
                       "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
                       400, "bad_request");
}

TEST(RequestParserErrorTest, UnsupportedExpectationIs417) {
  ExpectErrorAllSplits(Limits{},
                       "POST / HTTP/1.1\r\nExpect: something-else\r\nContent-Length: 2\r\n\r\n",
                       417, "expectation_failed");
  ExpectErrorAllSplits(Limits{}, "GET / HTTP/1.1\r\nExpect: 100-continue-please\r\n\r\n", 417,
                       "expectation_failed");
}

TEST(RequestParserErrorTest, ErrorStateIsSticky) {
  RequestParser parser(Limits{});
  RequestParser::Outcome out = parser.Feed("NOT HTTP AT ALL\r\n\r\n");
  ASSERT_EQ(out.kind, Kind::kError);
  EXPECT_EQ(out.error_status, 400);
  out = parser.Feed("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(out.kind, Kind::kError);
  EXPECT_EQ(out.error_status, 400);
}

// ---- Expect: 100-continue ----

TEST(RequestParserExpectTest, TakeExpectContinueTrueOnceAfterHeaders) {
  RequestParser parser(Limits{});
  EXPECT_FALSE(parser.TakeExpectContinue());
  RequestParser::Outcome out =
      parser.Feed("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n");
  ASSERT_EQ(out.kind, Kind::kNeedMore);
  EXPECT_FALSE(parser.TakeExpectContinue()) << "headers are not complete yet";
  out = parser.Feed("\r\n");
  ASSERT_EQ(out.kind, Kind::kNeedMore);
  EXPECT_TRUE(parser.TakeExpectContinue());
  EXPECT_FALSE(parser.TakeExpectContinue());
  out = parser.Feed("hel");
  ASSERT_EQ(out.kind, Kind::kNeedMore);
  EXPECT_FALSE(parser.TakeExpectContinue());
  out = parser.Feed("lo");
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_EQ(parser.request().body, "hello");
  EXPECT_FALSE(parser.TakeExpectContinue());

  // The next request on the connection without Expect does not inherit it.
  out = parser.Feed("POST /f HTTP/1.1\r\nContent-Length: 1\r\n\r\n");
  ASSERT_EQ(out.kind, Kind::kNeedMore);
  EXPECT_FALSE(parser.TakeExpectContinue());
}

TEST(RequestParserExpectTest, NoContinueWithoutBody) {
  RequestParser parser(Limits{});
  RequestParser::Outcome out =
      parser.Feed("GET /e HTTP/1.1\r\nExpect: 100-continue\r\n\r\nGET /f HTTP/1.1\r\n\r\n");
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_FALSE(parser.TakeExpectContinue());
}

TEST(RequestParserExpectTest, NoContinueWhenOverLimit) {
  Limits limits;
  limits.max_body_bytes = 3;
  RequestParser parser(limits);
  RequestParser::Outcome out =
      parser.Feed("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  ASSERT_EQ(out.kind, Kind::kError);
  EXPECT_EQ(out.error_status, 413);
  EXPECT_FALSE(parser.TakeExpectContinue()) << "a 413 is answered instead of 100 Continue";
}

// ---- Memory ----

TEST(RequestParserTest, ShrinkIfIdleReleasesLargeBodyBufferBetweenRequests) {
  RequestParser parser(Limits{});
  std::string body(1 << 20, 'b');
  std::string input =
      "POST /big HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  RequestParser::Outcome out = parser.Feed(input);
  ASSERT_EQ(out.kind, Kind::kRequest);
  ASSERT_EQ(parser.request().body.size(), body.size());
  // Partway through the next request the buffers are in use and must stay.
  out = parser.Feed("GET /next HTTP/1.1\r\nHost: h\r\n");
  ASSERT_EQ(out.kind, Kind::kNeedMore);
  parser.ShrinkIfIdle();
  out = parser.Feed("\r\n");
  ASSERT_EQ(out.kind, Kind::kRequest);
  EXPECT_EQ(parser.request().path, "/next");
  EXPECT_EQ(parser.request().Header("host"), "h");
  // Idle now: the 1 MiB body buffer goes back.
  parser.ShrinkIfIdle();
  EXPECT_LE(parser.request().body.capacity(), 64u * 1024);
}

}  // namespace
}  // namespace ringgate

namespace ringgate {
namespace {

TEST(RequestParserProtocolTest, HeaderNamesMustBeTokens) {
  Limits limits;
  // llhttp 8.1 lets these through; the parser refuses them (RFC 9112 5.1: smuggling vectors).
  ExpectErrorAllSplits(limits, "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "bad_request");
  ExpectErrorAllSplits(limits, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "bad_request");
  ExpectErrorAllSplits(limits, "GET / HTTP/1.1\r\nBad\"Quote: x\r\n\r\n", 400, "bad_request");
}

TEST(RequestParserProtocolTest, OnlyHttp1IsServed) {
  Limits limits;
  ExpectErrorAllSplits(limits, "GET /healthz\r\n\r\n", 505, "http_version_not_supported");
}

}  // namespace
}  // namespace ringgate
