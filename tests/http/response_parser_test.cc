// ResponseParser: every upstream response must parse to the same head and the same body however
// its bytes are split and however often the sink pauses, body pieces must point into the fed
// buffer, and framing errors (EOF mid-body, malformed heads, limits) must hold whatever the split.
#include "ringgate/http/response_parser.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringgate {
namespace {

using Kind = ResponseParser::Kind;
using Limits = ResponseParser::Limits;

// Everything a caller can observe about one response head, as owned copies.
struct Head {
  int status = 0;
  std::string reason;
  int version_major = 0;
  int version_minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = false;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool chunked = false;
  bool has_body = false;
  bool body_ends_at_eof = false;

  bool operator==(const Head&) const = default;
};

Head Copy(const HttpResponseHead& head) {
  Head out;
  out.status = head.status;
  out.reason = std::string(head.reason);
  out.version_major = head.version_major;
  out.version_minor = head.version_minor;
  for (const HttpHeader& header : head.headers) {
    out.headers.emplace_back(std::string(header.name), std::string(header.value));
  }
  out.keep_alive = head.keep_alive;
  out.has_content_length = head.has_content_length;
  out.content_length = head.content_length;
  out.chunked = head.chunked;
  out.has_body = head.has_body;
  out.body_ends_at_eof = head.body_ends_at_eof;
  return out;
}

// Records what the parser reports, checks the zero-copy and ordering promises, and pauses on
// every `pause_every`th body piece when asked.
class RecordingSink : public ResponseSink {
 public:
  void OnHead(const HttpResponseHead& head) override {
    ++heads;
    EXPECT_EQ(completes, 0);
    EXPECT_TRUE(body.empty());
    head_copy = Copy(head);
  }
  bool OnBody(std::string_view piece) override {
    EXPECT_EQ(heads, 1);
    EXPECT_EQ(completes, 0);
    EXPECT_FALSE(piece.empty());
    // Zero copy: the piece lies inside the bytes given to the current Feed().
    EXPECT_GE(piece.data(), fed.data());
    EXPECT_LE(piece.data() + piece.size(), fed.data() + fed.size());
    body.append(piece);
    ++pieces;
    return pause_every == 0 || pieces % pause_every != 0;
  }
  void OnComplete() override {
    EXPECT_EQ(heads, 1);
    ++completes;
  }

  int pause_every = 0;
  std::string_view fed;
  int heads = 0;
  int completes = 0;
  int pieces = 0;
  Head head_copy;
  std::string body;
};

struct Options {
  bool head_request = false;
  bool eof = false;  // call FinishOnEof() once every byte was fed (unless it ended earlier)
  Limits limits;
  uint64_t max_body_bytes = ResponseParser::kNoBodyLimit;
  int pause_every = 0;
};

// The result of feeding one byte stream, in whatever pieces.
struct Transcript {
  int heads = 0;
  int completes = 0;
  Head head;
  std::string body;
  Kind kind = Kind::kNeedMore;  // the last outcome that was not kPaused
  std::string error;
  size_t consumed = 0;   // sum of Outcome::consumed
  std::string leftover;  // bytes no Feed() consumed (after kComplete or kError)
  bool message_complete = false;
  bool keep_alive = false;
  bool body_unread = false;

  bool operator==(const Transcript&) const = default;
};

std::string Escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
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
  std::string out =
      "heads=" + std::to_string(t.heads) + " completes=" + std::to_string(t.completes) +
      " status=" + std::to_string(t.head.status) + " body='" + Escape(t.body) +
      "' kind=" + std::to_string(static_cast<int>(t.kind)) + " error='" + t.error +
      "' consumed=" + std::to_string(t.consumed) + " leftover='" + Escape(t.leftover) + "'";
  return out;
}

// Feeds `stream` cut at `cuts` (increasing offsets). Each piece lives in its own buffer, which is
// overwritten once the parser is done with it, so anything the parser kept pointing into fed
// bytes would show up as garbage in the head compared at the end.
Transcript Run(std::string_view stream, const std::vector<size_t>& cuts, const Options& options,
               int* pauses = nullptr) {
  RecordingSink sink;
  sink.pause_every = options.pause_every;
  ResponseParser parser(&sink, options.limits);
  parser.Reset(options.head_request, options.max_body_bytes);
  Transcript t;
  bool done = false;
  std::vector<size_t> bounds;
  bounds.push_back(0);
  for (size_t cut : cuts)
    bounds.push_back(cut);
  bounds.push_back(stream.size());
  for (size_t i = 0; i + 1 < bounds.size() && !done; ++i) {
    std::string buffer(stream.substr(bounds[i], bounds[i + 1] - bounds[i]));
    size_t offset = 0;
    for (int guard = 0;; ++guard) {
      EXPECT_LT(guard, 1000000) << "Feed() makes no progress";
      if (guard >= 1000000)
        return t;
      std::string_view rest = std::string_view(buffer).substr(offset);
      sink.fed = rest;
      ResponseParser::Outcome out = parser.Feed(rest);
      EXPECT_LE(out.consumed, rest.size());
      offset += out.consumed;
      t.consumed += out.consumed;
      if (out.kind == Kind::kPaused) {
        EXPECT_TRUE(parser.body_unread());
        if (pauses != nullptr)
          ++*pauses;
        continue;  // resume with the rest, even when it is empty
      }
      t.kind = out.kind;
      if (out.kind == Kind::kNeedMore) {
        EXPECT_EQ(out.consumed, rest.size());
        break;
      }
      t.error = out.error_message;
      t.leftover = std::string(stream.substr(bounds[i] + offset));
      done = true;
      break;
    }
    buffer.assign(buffer.size(), 'X');
  }
  if (!done && options.eof) {
    ResponseParser::Outcome out = parser.FinishOnEof();
    t.kind = out.kind;
    t.error = out.error_message;
    EXPECT_EQ(out.consumed, 0u);
  }
  t.heads = sink.heads;
  t.completes = sink.completes;
  t.head = sink.head_copy;
  t.body = sink.body;
  t.message_complete = parser.message_complete();
  t.keep_alive = parser.keep_alive();
  t.body_unread = parser.body_unread();
  if (sink.heads == 1) {
    // The head's views stay valid until Reset(), whatever happened to the fed buffers.
    EXPECT_TRUE(Copy(parser.head()) == sink.head_copy);
  }
  return t;
}

// Parses `stream` whole, byte by byte, split in two at every point and split in three at many
// points, each with and without a sink that pauses on every piece; all must agree. Returns the
// transcript of the whole-stream run.
Transcript ParseEverySplit(std::string_view stream, Options options = {}) {
  Transcript whole = Run(stream, {}, options);
  std::vector<size_t> bytes;
  for (size_t i = 1; i < stream.size(); ++i)
    bytes.push_back(i);
  for (int pause_every : {0, 1, 2}) {
    Options o = options;
    o.pause_every = pause_every;
    Transcript t = Run(stream, {}, o);
    EXPECT_TRUE(t == whole) << "whole, pause_every=" << pause_every << ": " << Describe(t)
                            << "\nexpected: " << Describe(whole);
    t = Run(stream, bytes, o);
    EXPECT_TRUE(t == whole) << "byte by byte, pause_every=" << pause_every << ": " << Describe(t)
                            << "\nexpected: " << Describe(whole);
    for (size_t cut = 1; cut < stream.size(); ++cut) {
      t = Run(stream, {cut}, o);
      EXPECT_TRUE(t == whole) << "cut at " << cut << ", pause_every=" << pause_every << ": "
                              << Describe(t) << "\nexpected: " << Describe(whole);
      if (::testing::Test::HasFailure())
        return whole;
    }
    for (size_t a = 1; a < stream.size(); a += 3) {
      for (size_t b = a + 1; b < stream.size(); b += 5) {
        t = Run(stream, {a, b}, o);
        EXPECT_TRUE(t == whole) << "cuts at " << a << "," << b << ", pause_every=" << pause_every
                                << ": " << Describe(t) << "\nexpected: " << Describe(whole);
        if (::testing::Test::HasFailure())
          return whole;
      }
    }
  }
  return whole;
}

Options Eof() {
  Options o;
  o.eof = true;
  return o;
}

Options Head() {
  Options o;
  o.head_request = true;
  return o;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(ResponseParserTest, ContentLengthBody) {
  std::string stream =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n"
      "X-Spaced:   padded value  \r\n\r\n{\"ok\": true }";
  Transcript t = ParseEverySplit(stream);
  EXPECT_EQ(t.kind, Kind::kComplete);
  EXPECT_EQ(t.heads, 1);
  EXPECT_EQ(t.completes, 1);
  EXPECT_EQ(t.head.status, 200);
  EXPECT_EQ(t.head.reason, "OK");
  EXPECT_EQ(t.head.version_major, 1);
  EXPECT_EQ(t.head.version_minor, 1);
  EXPECT_EQ(t.head.headers, (Headers{{"Content-Type", "application/json"},
                                     {"Content-Length", "13"},
                                     {"X-Spaced", "padded value"}}));
  EXPECT_TRUE(t.head.has_content_length);
  EXPECT_EQ(t.head.content_length, 13u);
  EXPECT_FALSE(t.head.chunked);
  EXPECT_TRUE(t.head.has_body);
  EXPECT_FALSE(t.head.body_ends_at_eof);
  EXPECT_TRUE(t.head.keep_alive);
  EXPECT_EQ(t.body, "{\"ok\": true }");
  EXPECT_EQ(t.consumed, stream.size());
  EXPECT_EQ(t.leftover, "");
  EXPECT_TRUE(t.message_complete);
  EXPECT_TRUE(t.keep_alive);
  EXPECT_FALSE(t.body_unread);
}

TEST(ResponseParserTest, HeaderLookupIgnoresCase) {
  RecordingSink sink;
  ResponseParser parser(&sink);
  std::string stream =
      "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n";
  ResponseParser::Outcome out = parser.Feed(stream);
  ASSERT_EQ(out.kind, Kind::kComplete);
  EXPECT_EQ(parser.head().status, 429);
  EXPECT_EQ(parser.head().reason, "Too Many Requests");
  EXPECT_EQ(parser.head().Header("retry-after"), "7");
  EXPECT_TRUE(parser.head().HasHeader("CONTENT-LENGTH"));
  EXPECT_FALSE(parser.head().HasHeader("Content-Type"));
  EXPECT_EQ(parser.head().Header("content-type"), "");
  EXPECT_FALSE(parser.head().has_body);
  EXPECT_EQ(sink.completes, 1);
}

TEST(ResponseParserTest, ChunkedBodyWithExtensionsAndTrailers) {
  std::string stream =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "7;a;b=\"q r\"\r\n, world\r\n"
      "A\r\n0123456789\r\n"
      "0\r\nX-Trailer: yes\r\nOther: 1\r\n\r\n";
  Transcript t = ParseEverySplit(stream);
  EXPECT_EQ(t.kind, Kind::kComplete);
  EXPECT_EQ(t.head.status, 200);
  EXPECT_TRUE(t.head.chunked);
  EXPECT_TRUE(t.head.has_body);
  EXPECT_FALSE(t.head.has_content_length);
  EXPECT_FALSE(t.head.body_ends_at_eof);
  // Trailers are not part of the head.
  EXPECT_EQ(t.head.headers,
            (Headers{{"Transfer-Encoding", "chunked"}, {"Content-Type", "text/event-stream"}}));
  EXPECT_EQ(t.body, "hello, world0123456789");
  EXPECT_EQ(t.consumed, stream.size());
  EXPECT_TRUE(t.keep_alive);
  EXPECT_EQ(t.completes, 1);
}

TEST(ResponseParserTest, EmptyChunkedBody) {
  Transcript t = ParseEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(t.kind, Kind::kComplete);
  EXPECT_EQ(t.body, "");
  EXPECT_TRUE(t.head.has_body);
  EXPECT_EQ(t.completes, 1);
}

TEST(ResponseParserTest, CloseDelimitedBodyEndsAtEof) {
  std::string stream =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\ndata: 2\n\n";
  Transcript t = ParseEverySplit(stream, Eof());
  EXPECT_EQ(t.kind, Kind::kComplete);
  EXPECT_TRUE(t.head.body_ends_at_eof);
  EXPECT_TRUE(t.head.has_body);
  EXPECT_FALSE(t.head.keep_alive);
  EXPECT_EQ(t.body, "data: 1\n\ndata: 2\n\n");
  EXPECT_EQ(t.consumed, stream.size());
  EXPECT_TRUE(t.message_complete);
  EXPECT_FALSE(t.keep_alive);
  EXPECT_EQ(t.completes, 1);

  // Until EOF it is still in progress.
  Transcript open = ParseEverySplit(stream);
  EXPECT_EQ(open.kind, Kind::kNeedMore);
  EXPECT_EQ(open.body, "data: 1\n\ndata: 2\n\n");
  EXPECT_EQ(open.completes, 0);
  EXPECT_TRUE(open.body_unread);
  EXPECT_FALSE(open.message_complete);

  // A body that is empty up to EOF.
  Transcript empty = ParseEverySplit("HTTP/1.0 200 OK\r\n\r\n", Eof());
  EXPECT_EQ(empty.kind, Kind::kComplete);
  EXPECT_EQ(empty.body, "");
  EXPECT_EQ(empty.completes, 1);
}

TEST(ResponseParserTest, NonChunkedTransferEncodingEndsAtEof) {
  Transcript t = ParseEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabcdef", Eof());
  EXPECT_EQ(t.kind, Kind::kComplete);
  EXPECT_TRUE(t.head.body_ends_at_eof);
  EXPECT_FALSE(t.head.chunked);
  EXPECT_EQ(t.body, "abcdef");
}

TEST(ResponseParserTest, HeadResponseHasNoBody) {
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  Transcript t = ParseEverySplit(head, Head());
  EXPECT_EQ(t.kind, Kind::kComplete);
  EXPECT_TRUE(t.head.has_content_length);
  EXPECT_EQ(t.head.content_length, 1234u);
  EXPECT_FALSE(t.head.has_body);
  EXPECT_EQ(t.body, "");
  EXPECT_EQ(t.consumed, head.size());
  EXPECT_TRUE(t.keep_alive);
  EXPECT_EQ(t.completes, 1);

  // Bytes after the head are not a body.
  std::string next = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
  Transcript pipelined = ParseEverySplit(head + next, Head());
  EXPECT_EQ(pipelined.kind, Kind::kComplete);
  EXPECT_EQ(pipelined.consumed, head.size());
  EXPECT_EQ(pipelined.leftover, next);

  Transcript chunked =
      ParseEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Head());
  EXPECT_EQ(chunked.kind, Kind::kComplete);
  EXPECT_FALSE(chunked.head.has_body);
  EXPECT_TRUE(chunked.keep_alive);

  // Without Content-Length a HEAD response still ends at its head, not at EOF.
  Transcript bare = ParseEverySplit("HTTP/1.1 200 OK\r\n\r\n", Head());
  EXPECT_EQ(bare.kind, Kind::kComplete);
  EXPECT_FALSE(bare.head.body_ends_at_eof);
  EXPECT_TRUE(bare.keep_alive);
}

TEST(ResponseParserTest, NoContentAndNotModifiedHaveNoBody) {
  for (std::string status : {"204 No Content", "304 Not Modified"}) {
    SCOPED_TRACE(status);
    std::string plain = "HTTP/1.1 " + status + "\r\nDate: today\r\n\r\n";
    Transcript t = ParseEverySplit(plain);
    EXPECT_EQ(t.kind, Kind::kComplete);
    EXPECT_FALSE(t.head.has_body);
    EXPECT_FALSE(t.head.body_ends_at_eof);
    EXPECT_EQ(t.consumed, plain.size());
    EXPECT_TRUE(t.keep_alive);
    EXPECT_EQ(t.completes, 1);

    // A 304's Content-Length describes the resource, not a body.
    std::string with_length = "HTTP/1.1 " + status + "\r\nContent-Length: 5\r\n\r\n";
    std::string next = "HTTP/1.1 200 OK\r\n\r\n";
    Transcript lengthy = ParseEverySplit(with_length + next);
    EXPECT_EQ(lengthy.kind, Kind::kComplete);
    EXPECT_FALSE(lengthy.head.has_body);
    EXPECT_EQ(lengthy.body, "");
    EXPECT_EQ(lengthy.leftover, next);
  }
}

TEST(ResponseParserTest, InterimResponsesAreSkipped) {
  std::string stream =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  Transcript t = ParseEverySplit(stream);
  EXPECT_EQ(t.kind, Kind::kComplete);
  EXPECT_EQ(t.heads, 1);
  EXPECT_EQ(t.head.status, 200);
  EXPECT_EQ(t.head.reason, "OK");
  EXPECT_EQ(t.head.headers, (Headers{{"Content-Length", "2"}}));
  EXPECT_EQ(t.body, "hi");
  EXPECT_EQ(t.consumed, stream.size());
  EXPECT_EQ(t.completes, 1);

  // Even an interim response that does not keep the connection alive.
  std::string old_style =
      "HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  Transcript o = ParseEverySplit(old_style);
  EXPECT_EQ(o.kind, Kind::kComplete);
  EXPECT_EQ(o.heads, 1);
  EXPECT_EQ(o.body, "ok");
  EXPECT_TRUE(o.keep_alive);

  // Only a 100 so far: nothing reported yet.
  Transcript waiting = ParseEverySplit("HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(waiting.kind, Kind::kNeedMore);
  EXPECT_EQ(waiting.heads, 0);
  EXPECT_FALSE(waiting.body_unread);
}

TEST(ResponseParserTest, SwitchingProtocolsIsAnError) {
  Transcript t = ParseEverySplit(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
  EXPECT_EQ(t.kind, Kind::kError);
  EXPECT_EQ(t.heads, 0);
  EXPECT_NE(t.error.find("101"), std::string::npos) << t.error;
}

TEST(ResponseParserTest, KeepAliveFollowsVersionAndConnection) {
  struct Case {
    std::string stream;
    bool keep_alive;
  };
  const Case cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", true},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", false},
      {"HTTP/1.1 200 OK\r\nConnection: Close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(Escape(c.stream));
    Transcript t = ParseEverySplit(c.stream);
    EXPECT_EQ(t.kind, Kind::kComplete);
    EXPECT_EQ(t.head.keep_alive, c.keep_alive);
    EXPECT_EQ(t.keep_alive, c.keep_alive);
    EXPECT_EQ(t.body, c.stream.back() == 'x' ? "x" : "");
  }
}

TEST(ResponseParserTest, PipelinedResponseIsLeftUnconsumed) {
  std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none";
  std::string second =
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n";
  Transcript t = ParseEverySplit(first + second);
  EXPECT_EQ(t.kind, Kind::kComplete);
  EXPECT_EQ(t.body, "one");
  EXPECT_EQ(t.consumed, first.size());
  EXPECT_EQ(t.leftover, second);
  EXPECT_EQ(t.completes, 1);

  // Until Reset() the parser stays complete; after it, it reads the next response.
  RecordingSink sink;
  ResponseParser parser(&sink);
  std::string both = first + second;
  sink.fed = both;
  ResponseParser::Outcome out = parser.Feed(both);
  ASSERT_EQ(out.kind, Kind::kComplete);
  ASSERT_EQ(out.consumed, first.size());
  std::string_view rest = std::string_view(both).substr(out.consumed);
  out = parser.Feed(rest);
  EXPECT_EQ(out.kind, Kind::kComplete);
  EXPECT_EQ(out.consumed, 0u);
  EXPECT_EQ(sink.completes, 1);
  parser.Reset(false);
  EXPECT_FALSE(parser.message_complete());
  EXPECT_FALSE(parser.head_done());
  sink = RecordingSink();
  sink.fed = rest;
  out = parser.Feed(rest);
  EXPECT_EQ(out.kind, Kind::kComplete);
  EXPECT_EQ(out.consumed, second.size());
  EXPECT_EQ(parser.head().status, 404);
  EXPECT_EQ(sink.body, "two");
  EXPECT_EQ(sink.completes, 1);
}

TEST(ResponseParserTest, EofMidBodyIsAnError) {
  Transcript length = ParseEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", Eof());
  EXPECT_EQ(length.kind, Kind::kError);
  EXPECT_EQ(length.error, "upstream closed mid-body");
  EXPECT_EQ(length.heads, 1);
  EXPECT_EQ(length.body, "abc");
  EXPECT_EQ(length.completes, 0);
  EXPECT_TRUE(length.body_unread);
  EXPECT_FALSE(length.keep_alive);

  // Even with no body byte yet.
  Transcript none = ParseEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", Eof());
  EXPECT_EQ(none.kind, Kind::kError);
  EXPECT_EQ(none.error, "upstream closed mid-body");

  Transcript chunked = ParseEverySplit(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab", Eof());
  EXPECT_EQ(chunked.kind, Kind::kError);
  EXPECT_EQ(chunked.error, "upstream closed mid-body");
  EXPECT_EQ(chunked.body, "helloab");
  EXPECT_EQ(chunked.completes, 0);

  // After the last chunk but before the final CRLF.
  Transcript trailer = ParseEverySplit(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", Eof());
  EXPECT_EQ(trailer.kind, Kind::kError);
  EXPECT_EQ(trailer.error, "upstream closed mid-body");

  Transcript head = ParseEverySplit("HTTP/1.1 200 OK\r\nContent-Le", Eof());
  EXPECT_EQ(head.kind, Kind::kError);
  EXPECT_EQ(head.error, "upstream closed mid-head");
  EXPECT_EQ(head.heads, 0);

  Transcript interim = ParseEverySplit("HTTP/1.1 100 Continue\r\n\r\n", Eof());
  EXPECT_EQ(interim.kind, Kind::kError);
  EXPECT_EQ(interim.error, "upstream closed mid-head");

  RecordingSink sink;
  ResponseParser parser(&sink);
  ResponseParser::Outcome out = parser.FinishOnEof();
  EXPECT_EQ(out.kind, Kind::kError);
  EXPECT_EQ(out.error_message, "upstream closed the connection without a response");
}

TEST(ResponseParserTest, EofAfterCompleteIsComplete) {
  RecordingSink sink;
  ResponseParser parser(&sink);
  std::string stream = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
  sink.fed = stream;
  ASSERT_EQ(parser.Feed(stream).kind, Kind::kComplete);
  EXPECT_EQ(parser.FinishOnEof().kind, Kind::kComplete);
  EXPECT_EQ(sink.completes, 1);
}

TEST(ResponseParserTest, MalformedHeadsAreErrors) {
  const std::string streams[] = {
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "HTTQ/1.1 200 OK\r\n\r\n",
      "garbage\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (const std::string& stream : streams) {
    SCOPED_TRACE(Escape(stream));
    Transcript t = ParseEverySplit(stream, Eof());
    EXPECT_EQ(t.kind, Kind::kError);
    EXPECT_FALSE(t.error.empty());
    EXPECT_FALSE(t.keep_alive);
    EXPECT_EQ(t.completes, 0);
  }
}

TEST(ResponseParserTest, ErrorsRepeatUntilReset) {
  RecordingSink sink;
  ResponseParser parser(&sink);
  ResponseParser::Outcome out = parser.Feed("HTTP/1.1 2x0 OK\r\n\r\n");
  ASSERT_EQ(out.kind, Kind::kError);
  EXPECT_TRUE(parser.failed());
  ResponseParser::Outcome again = parser.Feed("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(again.kind, Kind::kError);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_EQ(again.error_message, out.error_message);
  EXPECT_EQ(parser.FinishOnEof().kind, Kind::kError);
  parser.Reset(false);
  std::string good = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(parser.Feed(good).kind, Kind::kComplete);
  EXPECT_EQ(sink.completes, 1);
}

TEST(ResponseParserTest, HeadOverTheLimitIsAnError) {
  Options options;
  options.limits.max_header_bytes = 64;
  std::string at_limit = "HTTP/1.1 204 OK\r\nX-Fill: ";
  at_limit += std::string(64 - at_limit.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(at_limit.size(), 64u);
  Transcript ok = ParseEverySplit(at_limit + "extra", options);
  EXPECT_EQ(ok.kind, Kind::kComplete);
  EXPECT_EQ(ok.consumed, 64u);

  std::string over = "HTTP/1.1 204 OK\r\nX-Fill: ";
  over += std::string(64 - over.size() - 3, 'a') + "\r\n\r\n";
  ASSERT_EQ(over.size(), 65u);
  Transcript t = ParseEverySplit(over, options);
  EXPECT_EQ(t.kind, Kind::kError);
  EXPECT_EQ(t.heads, 0);
  EXPECT_NE(t.error.find("limit of 64 bytes"), std::string::npos) << t.error;

  // An endless head is stopped at the limit, not read on.
  std::string endless = "HTTP/1.1 200 OK\r\n" + std::string(1000, 'h');
  Transcript e = ParseEverySplit(endless, options);
  EXPECT_EQ(e.kind, Kind::kError);
  EXPECT_EQ(e.consumed, 65u);

  // Interim heads count toward the limit too.
  std::string interims;
  for (int i = 0; i < 4; ++i)
    interims += "HTTP/1.1 100 Continue\r\n\r\n";
  Transcript i = ParseEverySplit(interims + "HTTP/1.1 200 OK\r\n\r\n", options);
  EXPECT_EQ(i.kind, Kind::kError);
  EXPECT_EQ(i.heads, 0);

  // The default limit is 64 KiB.
  std::string big = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'b') + "\r\n\r\n";
  RecordingSink sink;
  ResponseParser parser(&sink);
  ResponseParser::Outcome out = parser.Feed(big);
  EXPECT_EQ(out.kind, Kind::kError);
  EXPECT_EQ(out.consumed, 64u * 1024 + 1);
}

TEST(ResponseParserTest, TrailersOverTheLimitAreAnError) {
  Options options;
  options.limits.max_header_bytes = 64;
  std::string stream = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n";
  for (int i = 0; i < 10; ++i)
    stream += "X-Trailer: " + std::string(10, 't') + "\r\n";
  stream += "\r\n";
  Transcript t = ParseEverySplit(stream, options);
  EXPECT_EQ(t.kind, Kind::kError);
  EXPECT_NE(t.error.find("trailers"), std::string::npos) << t.error;
  EXPECT_EQ(t.body, "x");
}

TEST(ResponseParserTest, BodyLimit) {
  Options options;
  options.max_body_bytes = 5;
  // Declared too large: stopped before the head is reported.
  Transcript declared =
      ParseEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef", options);
  EXPECT_EQ(declared.kind, Kind::kError);
  EXPECT_EQ(declared.heads, 0);
  EXPECT_EQ(declared.body, "");
  EXPECT_NE(declared.error.find("limit of 5 bytes"), std::string::npos) << declared.error;

  Transcript fits = ParseEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", options);
  EXPECT_EQ(fits.kind, Kind::kComplete);
  EXPECT_EQ(fits.body, "abcde");

  // Chunked: no piece crosses the limit.
  Transcript chunked = ParseEverySplit(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
      options);
  EXPECT_EQ(chunked.kind, Kind::kError);
  EXPECT_LE(chunked.body.size(), 5u);
  EXPECT_EQ(chunked.completes, 0);

  Options eof = options;
  eof.eof = true;
  Transcript close = ParseEverySplit("HTTP/1.1 200 OK\r\n\r\nabcdefgh", eof);
  EXPECT_EQ(close.kind, Kind::kError);
  EXPECT_LE(close.body.size(), 5u);

  // A HEAD response's Content-Length is no body.
  Options head = options;
  head.head_request = true;
  Transcript h = ParseEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n", head);
  EXPECT_EQ(h.kind, Kind::kComplete);

  // The limit is per response: Reset() without one falls back to the parser's (none).
  RecordingSink sink;
  ResponseParser parser(&sink);
  parser.Reset(false, 5);
  EXPECT_EQ(parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n").kind, Kind::kError);
  parser.Reset(false);
  std::string stream = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef";
  sink.fed = stream;
  EXPECT_EQ(parser.Feed(stream).kind, Kind::kComplete);
  EXPECT_EQ(sink.body, "abcdef");
}

TEST(ResponseParserTest, SinkPausesAndResumes) {
  std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string stream = head + "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  RecordingSink sink;
  sink.pause_every = 1;
  ResponseParser parser(&sink);
  sink.fed = stream;
  ResponseParser::Outcome out = parser.Feed(stream);
  ASSERT_EQ(out.kind, Kind::kPaused);
  // Stopped right after the first piece.
  size_t first_end = head.size() + std::string("5;ext=1\r\nhello").size();
  EXPECT_EQ(out.consumed, first_end);
  EXPECT_EQ(sink.body, "hello");
  EXPECT_TRUE(parser.head_done());
  EXPECT_TRUE(parser.body_unread());
  EXPECT_FALSE(parser.message_complete());

  std::string_view rest = std::string_view(stream).substr(out.consumed);
  sink.fed = rest;
  out = parser.Feed(rest);
  ASSERT_EQ(out.kind, Kind::kPaused);
  EXPECT_EQ(sink.body, "hello world");
  rest = rest.substr(out.consumed);
  sink.fed = rest;
  out = parser.Feed(rest);
  EXPECT_EQ(out.kind, Kind::kComplete);
  EXPECT_EQ(out.consumed, rest.size());
  EXPECT_EQ(sink.completes, 1);
  EXPECT_FALSE(parser.body_unread());

  // Paused on the last body byte: the completion waits for the next (empty) Feed().
  RecordingSink sink2;
  sink2.pause_every = 1;
  ResponseParser parser2(&sink2);
  std::string whole = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
  sink2.fed = whole;
  out = parser2.Feed(whole);
  ASSERT_EQ(out.kind, Kind::kPaused);
  EXPECT_EQ(out.consumed, whole.size());
  EXPECT_EQ(sink2.completes, 0);
  out = parser2.Feed({});
  EXPECT_EQ(out.kind, Kind::kComplete);
  EXPECT_EQ(out.consumed, 0u);
  EXPECT_EQ(sink2.completes, 1);

  // FinishOnEof() after a pause on a close-delimited body completes it.
  RecordingSink sink3;
  sink3.pause_every = 1;
  ResponseParser parser3(&sink3);
  std::string close = "HTTP/1.1 200 OK\r\n\r\nstream";
  sink3.fed = close;
  out = parser3.Feed(close);
  ASSERT_EQ(out.kind, Kind::kPaused);
  EXPECT_EQ(out.consumed, close.size());
  out = parser3.FinishOnEof();
  EXPECT_EQ(out.kind, Kind::kComplete);
  EXPECT_EQ(sink3.body, "stream");
  EXPECT_EQ(sink3.completes, 1);
}

}  // namespace
}  // namespace ringgate
