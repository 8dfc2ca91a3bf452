// Limits and malformed input: 431, 413, 408, idle close, 400, 503. Every case checks the error
// response (JSON body, Connection: close), the clean close after it, and that the server still
// answers /healthz on a new connection.
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace ringgate::testing {
namespace {

constexpr char kGetHealthz[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

// Server limits used throughout this file.
constexpr int kMaxHeaderBytes = 1024;
constexpr int kMaxBodyBytes = 1024;
constexpr int kHeaderTimeoutMs = 300;
constexpr int kIdleTimeoutMs = 400;

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.args = {"--threads",          "1",
                    "--max-header-bytes", "1KiB",
                    "--max-body-bytes",   std::to_string(kMaxBodyBytes),
                    "--header-timeout",   std::to_string(kHeaderTimeoutMs) + "ms",
                    "--idle-timeout",     std::to_string(kIdleTimeoutMs) + "ms"};
    ASSERT_TRUE(server_.Start(options));
  }

  HttpConnection Connect() {
    HttpConnection connection = HttpConnection::Connect(server_.port());
    EXPECT_TRUE(connection.is_open()) << connection.error();
    return connection;
  }

  // A request whose request line plus headers total exactly `total` bytes.
  static std::string RequestWithHeaderBytes(size_t total) {
    std::string start = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    std::string end = "\r\n\r\n";
    return start + std::string(total - start.size() - end.size(), 'a') + end;
  }

  ServerProcess server_;
};

// ---- 431 --------------------------------------------------------------------------------------

TEST_F(LimitsTest, HeadersWithinLimitAreAccepted) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(RequestWithHeaderBytes(kMaxHeaderBytes - 64)));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 200);
}

TEST_F(LimitsTest, HeaderBlockOverLimitGets431) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(RequestWithHeaderBytes(2 * kMaxHeaderBytes)));
  EXPECT_TRUE(ReadErrorThenClose(connection, 431));
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, ManySmallHeadersOverLimitGet431) {
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; request.size() < 2 * kMaxHeaderBytes; ++i) {
    request += "X-H" + std::to_string(i) + ": v\r\n";
  }
  request += "\r\n";
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(request));
  EXPECT_TRUE(ReadErrorThenClose(connection, 431));
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, EndlessHeaderGets431WithoutWaitingForTheEnd) {
  // A header that never ends: the server must answer once the limit is crossed, without
  // waiting for a blank line (a server that waited would answer 408 after the header timeout).
  HttpConnection connection = Connect();
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: ";
  request += std::string(kMaxHeaderBytes * 3, 'z');
  ASSERT_TRUE(connection.Send(request));
  EXPECT_TRUE(ReadErrorThenClose(connection, 431));
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, HeaderFloodStillGetsACleanClose) {
  // 256 KiB of header bytes in one go: far more than the server reads before answering. The
  // client must still get the whole 431 and then EOF (no reset that could eat the response).
  HttpConnection connection = Connect();
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  while (request.size() < 256 * 1024)
    request += "X-Flood: " + std::string(100, 'f') + "\r\n";
  request += "\r\n";
  connection.Send(request, Millis(2000));  // may stop early once the server closes
  EXPECT_TRUE(ReadErrorThenClose(connection, 431));
  EXPECT_TRUE(HealthzOk(server_.port()));
}

// ---- 413 --------------------------------------------------------------------------------------

TEST_F(LimitsTest, BodyAtLimitIsAccepted) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(
      "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kMaxBodyBytes) +
      "\r\n\r\n" + std::string(kMaxBodyBytes, 'b')));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 404);
  ASSERT_TRUE(connection.Send(kGetHealthz));
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 200);
}

TEST_F(LimitsTest, ContentLengthOverLimitGets413BeforeTheBody) {
  HttpConnection connection = Connect();
  // Only the headers: the decision must come from Content-Length alone.
  ASSERT_TRUE(connection.Send("POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                              std::to_string(kMaxBodyBytes + 1) + "\r\n\r\n"));
  EXPECT_TRUE(ReadErrorThenClose(connection, 413));
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, ContentLengthOverLimitWithExpectContinueGets413Without100) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(
      "POST /nope HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1048576\r\n\r\n"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
  EXPECT_EQ(response.status, 413) << "expected 413 and no '100 Continue':\n" << response;
  EXPECT_TRUE(IsJsonError(response));
  EXPECT_TRUE(response.ConnectionClose()) << response;
  EXPECT_EQ(connection.WaitForClose(Millis(2000)), ReadStatus::kClosed);
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, ChunkedBodyOverLimitGets413WhenCrossed) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(
      connection.Send("POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  // 600 bytes: under the limit, so no answer yet.
  ASSERT_TRUE(connection.Send("258\r\n" + std::string(600, 'c') + "\r\n"));
  EXPECT_FALSE(connection.WaitReadable(Millis(100))) << connection.pending();
  // Another 600 crosses the limit; the body has not ended (no 0-size chunk is ever sent).
  ASSERT_TRUE(connection.Send("258\r\n" + std::string(600, 'c') + "\r\n"));
  EXPECT_TRUE(ReadErrorThenClose(connection, 413));
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, ChunkedBodyAtLimitIsAccepted) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(
      "POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" +
      std::string(512, 'c') + "\r\n200\r\n" + std::string(512, 'c') + "\r\n0\r\n\r\n"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 404);
  EXPECT_FALSE(response.ConnectionClose()) << response;
}

TEST_F(LimitsTest, OversizedBodySentAnywayStillGetsACleanClose) {
  // A client that sends a declared-too-large body without waiting: the 413 must survive.
  HttpConnection connection = Connect();
  std::string body(200 * 1024, 'x');
  connection.Send("POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body,
                  Millis(2000));
  EXPECT_TRUE(ReadErrorThenClose(connection, 413));
  EXPECT_TRUE(HealthzOk(server_.port()));
}

// ---- 408 and idle -----------------------------------------------------------------------------

TEST_F(LimitsTest, StalledRequestHeadGets408) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // no blank line
  Clock::time_point start = Clock::now();
  EXPECT_TRUE(ReadErrorThenClose(connection, 408, Millis(kHeaderTimeoutMs * 10)));
  int64_t elapsed = ElapsedMs(start);
  EXPECT_GE(elapsed, kHeaderTimeoutMs * 2 / 3);
  EXPECT_LE(elapsed, kHeaderTimeoutMs * 10);
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, TricklingHeadersGet408AfterTheHeaderTimeout) {
  // One byte every 50 ms: every gap is short, but the header block as a whole takes too long.
  HttpConnection connection = Connect();
  std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(100, 's');
  Clock::time_point start = Clock::now();
  bool answered = false;
  for (char c : head) {
    if (!connection.Send(std::string(1, c)))
      break;
    if (connection.WaitReadable(Millis(50))) {
      answered = true;
      break;
    }
    if (ElapsedMs(start) > kHeaderTimeoutMs * 10)
      break;
  }
  ASSERT_TRUE(answered) << "no response while headers trickled in for " << ElapsedMs(start)
                        << " ms";
  EXPECT_TRUE(ReadErrorThenClose(connection, 408));
  int64_t elapsed = ElapsedMs(start);
  EXPECT_GE(elapsed, kHeaderTimeoutMs * 2 / 3);
  EXPECT_LE(elapsed, kHeaderTimeoutMs * 10);
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, StalledBodyGets408) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send("POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n012"));
  Clock::time_point start = Clock::now();
  EXPECT_TRUE(ReadErrorThenClose(connection, 408, Millis(kHeaderTimeoutMs * 10)));
  EXPECT_GE(ElapsedMs(start), kHeaderTimeoutMs * 2 / 3);
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, IdleKeepAliveConnectionIsClosedWithoutResponse) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(kGetHealthz));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  ASSERT_EQ(response.status, 200);
  Clock::time_point start = Clock::now();
  std::string data;
  EXPECT_EQ(connection.WaitForClose(Millis(kIdleTimeoutMs * 10), &data), ReadStatus::kClosed)
      << "bytes: " << data;
  int64_t elapsed = ElapsedMs(start);
  EXPECT_GE(elapsed, kIdleTimeoutMs * 2 / 3);
  EXPECT_LE(elapsed, kIdleTimeoutMs * 10);
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, SilentNewConnectionIsClosedWithoutResponse) {
  // A client that connects and never sends a byte must not hold the connection forever.
  HttpConnection connection = Connect();
  Clock::time_point start = Clock::now();
  std::string data;
  EXPECT_EQ(connection.WaitForClose(Millis(kIdleTimeoutMs * 10), &data), ReadStatus::kClosed)
      << "bytes: " << data;
  EXPECT_GE(ElapsedMs(start), std::min(kIdleTimeoutMs, kHeaderTimeoutMs) * 2 / 3);
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(LimitsTest, ActivityResetsTheIdleTimer) {
  // Requests every quarter idle timeout keep the connection open well past one idle timeout.
  HttpConnection connection = Connect();
  Clock::time_point start = Clock::now();
  for (int i = 0; i < 7; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(connection.Send(kGetHealthz));
    HttpResponse response;
    ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
    EXPECT_EQ(response.status, 200);
    std::this_thread::sleep_for(Millis(kIdleTimeoutMs / 4));
  }
  EXPECT_GE(ElapsedMs(start), kIdleTimeoutMs * 3 / 2);
}

// ---- 400 --------------------------------------------------------------------------------------

struct MalformedCase {
  const char* name;
  std::string bytes;
};

void PrintTo(const MalformedCase& c, std::ostream* os) {
  *os << c.name;
}

class MalformedRequestTest : public LimitsTest,
                             public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(MalformedRequestTest, Gets400ThenClose) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(GetParam().bytes));
  EXPECT_TRUE(ReadErrorThenClose(connection, 400));
  EXPECT_TRUE(HealthzOk(server_.port()));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedRequestTest,
    ::testing::Values(
        MalformedCase{"Garbage", std::string("\x01\x02\x03garbage\xff\r\n\r\n")},
        MalformedCase{"BadVersion", "GET /healthz HTTP/1.x\r\nHost: x\r\n\r\n"},
        MalformedCase{"SpaceInHeaderName", "GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n"},
        MalformedCase{"WhitespaceBeforeColon", "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"},
        MalformedCase{"QuoteInHeaderName", "GET /healthz HTTP/1.1\r\nBad\"Name: x\r\n\r\n"},
        MalformedCase{"ControlCharInHeaderName", "GET /healthz HTTP/1.1\r\nBad\x01Name: x\r\n\r\n"},
        MalformedCase{"ControlCharInHeaderValue", "GET /healthz HTTP/1.1\r\nX-Bad: a\x01z\r\n\r\n"},
        MalformedCase{"HeaderWithoutColon", "GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n"},
        MalformedCase{"BadChunkSize",
                      "POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "zz\r\nhello\r\n0\r\n\r\n"},
        MalformedCase{"ContentLengthAndTransferEncoding",
                      "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        MalformedCase{"NonNumericContentLength",
                      "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: five\r\n\r\nhello"},
        MalformedCase{"ConflictingContentLengths",
                      "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      "Content-Length: 6\r\n\r\nhello!"}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

// ---- 503 --------------------------------------------------------------------------------------

TEST(ConnectionLimitTest, ConnectionOverLimitGets503ThenClose) {
  constexpr int kLimit = 4;
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads", "1", "--max-connections-per-core", std::to_string(kLimit)};
  ASSERT_TRUE(server.Start(options));

  // Fill every slot with a live keep-alive connection.
  std::vector<HttpConnection> held;
  for (int i = 0; i < kLimit; ++i) {
    held.push_back(HttpConnection::Connect(server.port()));
    ASSERT_TRUE(held.back().is_open());
    ASSERT_TRUE(held.back().Send(kGetHealthz));
    HttpResponse response;
    ASSERT_EQ(held.back().ReadResponse(&response), ReadStatus::kOk) << "connection " << i;
    ASSERT_EQ(response.status, 200) << "connection " << i;
  }

  // One more: 503 (sent at once, or in answer to a request), then a clean close.
  HttpConnection extra = HttpConnection::Connect(server.port());
  ASSERT_TRUE(extra.is_open()) << extra.error();
  if (!extra.WaitReadable(Millis(300))) {
    ASSERT_TRUE(extra.Send(kGetHealthz));
  }
  EXPECT_TRUE(ReadErrorThenClose(extra, 503));

  // The held connections are unaffected.
  for (int i = 0; i < kLimit; ++i) {
    ASSERT_TRUE(held[i].Send(kGetHealthz));
    HttpResponse response;
    ASSERT_EQ(held[i].ReadResponse(&response), ReadStatus::kOk) << "connection " << i;
    EXPECT_EQ(response.status, 200) << "connection " << i;
  }

  // Once they are closed, new connections are served again.
  held.clear();
  Clock::time_point start = Clock::now();
  ::testing::AssertionResult healthy = ::testing::AssertionFailure();
  while (!(healthy = HealthzOk(server.port())) && ElapsedMs(start) < 3000) {
    std::this_thread::sleep_for(Millis(20));
  }
  EXPECT_TRUE(healthy);
}

TEST(ConnectionLimitTest, SlotsAreReleasedWhenConnectionsClose) {
  // Far more sequential connections than slots: a slot leaked on any close path shows up as 503.
  constexpr int kLimit = 8;
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads", "1", "--max-connections-per-core", std::to_string(kLimit)};
  ASSERT_TRUE(server.Start(options));
  for (int i = 0; i < 300; ++i) {
    HttpConnection connection = HttpConnection::Connect(server.port());
    ASSERT_TRUE(connection.is_open());
    HttpResponse response;
    switch (i % 3) {
      case 0:  // server closes (Connection: close)
        ASSERT_TRUE(connection.Send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"));
        break;
      case 1:  // client closes after a keep-alive response
        ASSERT_TRUE(connection.Send(kGetHealthz));
        break;
      case 2:  // server closes after an error
        ASSERT_TRUE(connection.Send("BOGUS\r\n\r\n"));
        break;
    }
    ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << "connection " << i;
    ASSERT_NE(response.status, 503) << "connection " << i << " refused: slots leaked";
    if (i % 3 != 1) {
      ASSERT_EQ(connection.WaitForClose(Millis(2000)), ReadStatus::kClosed);
    }
  }
  // A connection closed by the client is noticed asynchronously; allow a moment.
  Clock::time_point start = Clock::now();
  ::testing::AssertionResult healthy = ::testing::AssertionFailure();
  while (!(healthy = HealthzOk(server.port())) && ElapsedMs(start) < 3000) {
    std::this_thread::sleep_for(Millis(20));
  }
  EXPECT_TRUE(healthy);
}

}  // namespace
}  // namespace ringgate::testing
