// Routes, response headers, keep-alive, pipelining, request bodies and Expect: 100-continue.
#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace ringgate::testing {
namespace {

constexpr char kGetHealthz[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
constexpr char kHealthzBody[] = "{\"status\":\"ok\"}";

class BasicsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.args = {"--threads", "1"};
    ASSERT_TRUE(server_.Start(options));
  }

  HttpConnection Connect() {
    HttpConnection connection = HttpConnection::Connect(server_.port());
    EXPECT_TRUE(connection.is_open()) << connection.error();
    return connection;
  }

  ServerProcess server_;
};

TEST_F(BasicsTest, GetHealthzAnswersOkJson) {
  HttpResponse response;
  ASSERT_EQ(RoundTrip(server_.port(), kGetHealthz, &response), ReadStatus::kOk);
  EXPECT_EQ(response.version, "HTTP/1.1");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("content-type"), "application/json");
  EXPECT_EQ(response.body, kHealthzBody);
  EXPECT_TRUE(HasCommonHeaders(response));
  EXPECT_FALSE(response.ConnectionClose()) << response;
  EXPECT_TRUE(IsValidJson(response.body));
}

TEST_F(BasicsTest, HeadHealthzSendsHeadersWithoutBody) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send("HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  HttpResponse head;
  ASSERT_EQ(connection.ReadResponse(&head, kDefaultReadTimeout, /*head_request=*/true),
            ReadStatus::kOk);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-type"), "application/json");
  // Same Content-Length a GET gets, but no body bytes follow.
  EXPECT_EQ(head.Header("content-length"), std::to_string(sizeof(kHealthzBody) - 1));
  EXPECT_TRUE(HasCommonHeaders(head, /*head_request=*/true));
  EXPECT_TRUE(head.body.empty());
  EXPECT_TRUE(connection.pending().empty())
      << "bytes after a HEAD response: " << connection.pending();

  // The next response on the connection must start right away: no body bytes in between.
  ASSERT_TRUE(connection.Send(kGetHealthz));
  std::string first;
  ASSERT_EQ(connection.ReadExactly(12, &first), ReadStatus::kOk);
  EXPECT_EQ(first, "HTTP/1.1 200");
}

TEST_F(BasicsTest, OtherMethodsOnHealthzGet405WithAllow) {
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    SCOPED_TRACE(method);
    HttpResponse response;
    std::string request =
        std::string(method) + " /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n";
    ASSERT_EQ(RoundTrip(server_.port(), request, &response), ReadStatus::kOk);
    EXPECT_EQ(response.status, 405);
    std::optional<std::string> allow = response.Header("allow");
    ASSERT_TRUE(allow.has_value()) << response;
    EXPECT_NE(allow->find("GET"), std::string::npos) << *allow;
    EXPECT_EQ(allow->find(method), std::string::npos) << *allow;
    EXPECT_TRUE(IsJsonError(response));
    EXPECT_TRUE(HasCommonHeaders(response));
  }
}

TEST_F(BasicsTest, UnknownPathGets404JsonError) {
  // "/" is the dashboard page (tests/admin/page_test.cc).
  for (const char* target : {"/index.html", "/nope", "/healthz/extra", "/HEALTHZ"}) {
    SCOPED_TRACE(target);
    HttpResponse response;
    std::string request = std::string("GET ") + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    ASSERT_EQ(RoundTrip(server_.port(), request, &response), ReadStatus::kOk);
    EXPECT_EQ(response.status, 404);
    EXPECT_TRUE(IsJsonError(response));
    EXPECT_TRUE(HasCommonHeaders(response));
  }
}

TEST_F(BasicsTest, HeadOnUnknownPathGets404WithoutBody) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send("HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response, kDefaultReadTimeout, /*head_request=*/true),
            ReadStatus::kOk);
  EXPECT_EQ(response.status, 404);
  EXPECT_TRUE(HasCommonHeaders(response, /*head_request=*/true));
  EXPECT_NE(response.Header("content-length"), "0") << response;
  ASSERT_TRUE(connection.Send(kGetHealthz));
  std::string first;
  ASSERT_EQ(connection.ReadExactly(12, &first), ReadStatus::kOk);
  EXPECT_EQ(first, "HTTP/1.1 200") << "body bytes followed the HEAD response";
}

TEST_F(BasicsTest, KeepAliveIsTheDefaultForHttp11) {
  HttpConnection connection = Connect();
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(connection.Send(kGetHealthz));
    HttpResponse response;
    ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
    EXPECT_EQ(response.status, 200);
    EXPECT_FALSE(response.ConnectionClose()) << response;
  }
  // And the connection stays open afterwards (nothing arrives, no EOF).
  EXPECT_EQ(connection.WaitForClose(Millis(200)), ReadStatus::kTimeout);
}

TEST_F(BasicsTest, ErrorResponsesKeepTheConnectionAlive) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send("GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 404);
  ASSERT_TRUE(connection.Send("DELETE /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 405);
  ASSERT_TRUE(connection.Send(kGetHealthz));
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 200);
}

TEST_F(BasicsTest, Http10ClosesByDefault) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, kHealthzBody);
  EXPECT_EQ(connection.WaitForClose(Millis(2000)), ReadStatus::kClosed);
}

TEST_F(BasicsTest, Http10KeepAliveOnRequest) {
  HttpConnection connection = Connect();
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(connection.Send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    HttpResponse response;
    ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
    EXPECT_EQ(response.status, 200);
    EXPECT_FALSE(response.ConnectionClose()) << response;
  }
}

TEST_F(BasicsTest, ConnectionCloseIsHonoured) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(
      connection.Send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.ConnectionClose()) << response;
  EXPECT_TRUE(HasCommonHeaders(response));
  EXPECT_EQ(connection.WaitForClose(Millis(2000)), ReadStatus::kClosed);
}

TEST_F(BasicsTest, PipelinedRequestsAnsweredInOrder) {
  struct Step {
    std::string request;
    int status;
    bool head;
  };
  std::vector<Step> steps;
  for (int i = 0; i < 30; ++i) {
    switch (i % 4) {
      case 0:
        steps.push_back({kGetHealthz, 200, false});
        break;
      case 1:
        steps.push_back({"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200, true});
        break;
      case 2:
        steps.push_back(
            {"GET /missing-" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n", 404, false});
        break;
      case 3:
        steps.push_back(
            {"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 405, false});
        break;
    }
  }
  steps.push_back({"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, false});
  std::string all;
  for (const Step& step : steps)
    all += step.request;

  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(all));  // one write
  for (size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE(i);
    HttpResponse response;
    ASSERT_EQ(connection.ReadResponse(&response, kDefaultReadTimeout, steps[i].head),
              ReadStatus::kOk)
        << connection.error();
    EXPECT_EQ(response.status, steps[i].status) << response;
    if (steps[i].status == 404) {
      // The 404 message names the path, which proves the order.
      EXPECT_NE(response.body.find("/missing-" + std::to_string(i)), std::string::npos) << response;
    }
  }
  EXPECT_EQ(connection.WaitForClose(Millis(2000)), ReadStatus::kClosed);
}

TEST_F(BasicsTest, ManyPipelinedRequestsInOneWrite) {
  constexpr int kCount = 500;
  std::string all;
  for (int i = 0; i < kCount; ++i)
    all += kGetHealthz;
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(all));
  for (int i = 0; i < kCount; ++i) {
    HttpResponse response;
    ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << "response " << i;
    ASSERT_EQ(response.status, 200) << "response " << i;
    ASSERT_EQ(response.body, kHealthzBody) << "response " << i;
  }
  EXPECT_EQ(connection.WaitForClose(Millis(100)), ReadStatus::kTimeout);
}

TEST_F(BasicsTest, ContentLengthBodyIsReadAndConnectionReused) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(
      connection.Send("POST /v1/unknown HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 18\r\n\r\n"));
  // The body arrives later, in two pieces.
  std::this_thread::sleep_for(Millis(50));
  ASSERT_TRUE(connection.Send("{\"model\":"));
  std::this_thread::sleep_for(Millis(50));
  ASSERT_TRUE(connection.Send("\"gemini\"}"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 404);
  EXPECT_TRUE(IsJsonError(response));
  EXPECT_FALSE(response.ConnectionClose()) << response;

  ASSERT_TRUE(connection.Send(kGetHealthz));
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 200);
}

TEST_F(BasicsTest, ResponseWaitsForTheWholeBody) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send("POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234"));
  // Half the body: no response yet.
  EXPECT_FALSE(connection.WaitReadable(Millis(200)))
      << "server answered before the body was complete: " << connection.pending();
  ASSERT_TRUE(connection.Send("56789"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 404);
}

TEST_F(BasicsTest, ChunkedBodyIsReadAndConnectionReused) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(
      connection.Send("POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n"));
  std::this_thread::sleep_for(Millis(50));
  ASSERT_TRUE(connection.Send("1;ext=1\r\n \r\nA\r\n0123456789\r\n"));
  EXPECT_FALSE(connection.WaitReadable(Millis(100)))
      << "server answered before the last chunk: " << connection.pending();
  ASSERT_TRUE(connection.Send("0\r\nX-Trailer: yes\r\n\r\n"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 404);
  EXPECT_TRUE(IsJsonError(response));

  // Pipelined chunked request followed by a GET, in one write.
  ASSERT_TRUE(
      connection.Send("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n0\r\n\r\n" +
                      std::string(kGetHealthz)));
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 405);
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, kHealthzBody);
}

TEST_F(BasicsTest, LargeBodiesAreReadCompletely) {
  // Bodies far larger than any receive buffer, by Content-Length and chunked; after each the
  // connection must be positioned exactly at the next request.
  constexpr size_t kSize = 4 * 1024 * 1024;
  std::string body(kSize, 'x');
  for (size_t i = 0; i < body.size(); i += 997)
    body[i] = static_cast<char>('a' + i % 26);
  std::string chunked;
  for (size_t pos = 0; pos < body.size(); pos += 10000) {
    size_t n = std::min<size_t>(10000, body.size() - pos);
    char size_line[32];
    snprintf(size_line, sizeof(size_line), "%zx\r\n", n);
    chunked += size_line + body.substr(pos, n) + "\r\n";
  }
  chunked += "0\r\n\r\n";

  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                              std::to_string(kSize) + "\r\n\r\n" + body + kGetHealthz));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
  EXPECT_EQ(response.status, 404);
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
  EXPECT_EQ(response.status, 200);

  ASSERT_TRUE(
      connection.Send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                      chunked + kGetHealthz));
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
  EXPECT_EQ(response.status, 404);
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
  EXPECT_EQ(response.status, 200);
}

TEST_F(BasicsTest, ExpectContinueGets100BeforeTheBody) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(
      "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  // The interim response, exactly, before any body byte is sent.
  std::string interim;
  ASSERT_EQ(connection.ReadExactly(25, &interim), ReadStatus::kOk)
      << "no '100 Continue' before the body was sent";
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  // Nothing else until the body arrives.
  EXPECT_FALSE(connection.WaitReadable(Millis(100))) << connection.pending();
  ASSERT_TRUE(connection.Send("hello"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 404);
  EXPECT_TRUE(IsJsonError(response));

  // The connection is still usable.
  ASSERT_TRUE(connection.Send(kGetHealthz));
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 200);
}

TEST_F(BasicsTest, ExpectContinueWithChunkedBody) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(
      connection.Send("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      "Expect: 100-continue\r\n\r\n"));
  HttpResponse interim;
  ASSERT_EQ(connection.ReadResponse(&interim), ReadStatus::kOk);
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(connection.Send("4\r\nbody\r\n0\r\n\r\n"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 405);
}

TEST_F(BasicsTest, UnsupportedExpectationGets417) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(
      "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 200-ok\r\n\r\n"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
  EXPECT_EQ(response.status, 417);
  EXPECT_TRUE(IsJsonError(response));
  EXPECT_TRUE(HasCommonHeaders(response));
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(BasicsTest, QueryStringDoesNotChangeTheRoute) {
  HttpResponse response;
  ASSERT_EQ(
      RoundTrip(server_.port(), "GET /healthz?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n", &response),
      ReadStatus::kOk);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, kHealthzBody);
}

TEST_F(BasicsTest, RequestSplitIntoSingleBytes) {
  HttpConnection connection = Connect();
  std::string request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
  for (char c : request)
    ASSERT_TRUE(connection.Send(std::string(1, c)));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 200);
}

TEST_F(BasicsTest, ClientHalfCloseStillGetsResponse) {
  HttpConnection connection = Connect();
  ASSERT_TRUE(connection.Send(kGetHealthz));
  connection.ShutdownWrite();
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(connection.WaitForClose(Millis(2000)), ReadStatus::kClosed);
  EXPECT_TRUE(HealthzOk(server_.port()));
}

TEST_F(BasicsTest, AbruptClientCloseDoesNotHurtTheServer) {
  for (int i = 0; i < 20; ++i) {
    HttpConnection connection = Connect();
    ASSERT_TRUE(connection.Send(i % 2 == 0 ? "GET /heal" : kGetHealthz));
    connection.Close();
  }
  EXPECT_TRUE(HealthzOk(server_.port()));
}

}  // namespace
}  // namespace ringgate::testing
