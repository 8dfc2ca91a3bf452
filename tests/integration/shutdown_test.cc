// Graceful shutdown: SIGTERM/SIGINT stop accepting, finish requests in flight, close idle
// connections, and exit 0 within --drain-timeout.
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace ringgate::testing {
namespace {

constexpr char kGetHealthz[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

::testing::AssertionResult ExitedZero(std::optional<int> status) {
  if (!status)
    return ::testing::AssertionFailure() << "still running";
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return ::testing::AssertionFailure() << DescribeWaitStatus(*status);
  }
  return ::testing::AssertionSuccess();
}

// Connecting to `port` fails with ECONNREFUSED: nothing listens there.
::testing::AssertionResult ConnectionRefused(uint16_t port) {
  HttpConnection connection = HttpConnection::Connect(port);
  if (connection.is_open())
    return ::testing::AssertionFailure() << "connect succeeded";
  if (connection.connect_errno() != ECONNREFUSED) {
    return ::testing::AssertionFailure() << connection.error();
  }
  return ::testing::AssertionSuccess();
}

// Same, allowing the kernel up to `grace` to tear the listener down.
::testing::AssertionResult ConnectionRefusedWithin(uint16_t port, Millis grace) {
  Clock::time_point start = Clock::now();
  for (;;) {
    ::testing::AssertionResult refused = ConnectionRefused(port);
    if (refused || ElapsedMs(start) > grace.count())
      return refused;
    std::this_thread::sleep_for(Millis(5));
  }
}

TEST(ShutdownTest, InFlightRequestsFinishThenExitZero) {
  constexpr int kConnections = 50;
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads", "2", "--drain-timeout", "10s"};
  ASSERT_TRUE(server.Start(options));
  uint16_t port = server.port();

  // Every connection is in the middle of a request body when SIGTERM arrives.
  std::vector<HttpConnection> connections;
  for (int i = 0; i < kConnections; ++i) {
    connections.push_back(HttpConnection::Connect(port));
    ASSERT_TRUE(connections.back().is_open()) << connections.back().error();
    ASSERT_TRUE(connections.back().Send(
        "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234"));
  }
  std::this_thread::sleep_for(Millis(300));  // let the server read the partial requests
  for (HttpConnection& connection : connections) {
    ASSERT_TRUE(connection.pending().empty() && !connection.WaitReadable(Millis(0)))
        << "answered before the body was complete";
  }

  server.Signal(SIGTERM);
  Clock::time_point sigterm = Clock::now();
  std::this_thread::sleep_for(Millis(200));
  ASSERT_TRUE(server.running()) << "exited with requests still in flight";
  EXPECT_FALSE(server.WaitExit(Millis(0)).has_value())
      << "exited with requests still in flight: " << DescribeWaitStatus(*server.exit_status());

  // The listeners are closed while draining: new connections are refused, not left waiting.
  EXPECT_TRUE(ConnectionRefused(port)) << "connecting 200 ms after SIGTERM";

  for (int i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(connections[i].Send("56789"))
        << "connection " << i << ": " << connections[i].error();
  }
  for (int i = 0; i < kConnections; ++i) {
    SCOPED_TRACE("connection " + std::to_string(i));
    HttpResponse response;
    ASSERT_EQ(connections[i].ReadResponse(&response), ReadStatus::kOk) << connections[i].error();
    EXPECT_EQ(response.status, 405) << response;
    EXPECT_TRUE(IsJsonError(response));
    EXPECT_TRUE(HasCommonHeaders(response));
    EXPECT_TRUE(response.ConnectionClose()) << response;
    EXPECT_EQ(connections[i].WaitForClose(Millis(3000)), ReadStatus::kClosed);
    connections[i].Close();  // as a client does after EOF
  }
  Clock::time_point answered = Clock::now();

  // Nothing is left in flight: the exit follows promptly, well before the drain timeout.
  EXPECT_TRUE(ExitedZero(server.WaitExit(Millis(3000))));
  EXPECT_LT(ElapsedMs(answered), 1000);
  EXPECT_LT(ElapsedMs(sigterm), 10000);
  EXPECT_TRUE(ConnectionRefusedWithin(port, Millis(1000)));
}

TEST(ShutdownTest, IdleConnectionsAreClosedPromptly) {
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads", "2", "--drain-timeout", "10s", "--idle-timeout", "60s"};
  ASSERT_TRUE(server.Start(options));
  uint16_t port = server.port();

  std::vector<HttpConnection> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(HttpConnection::Connect(port));
    ASSERT_TRUE(idle.back().is_open());
    ASSERT_TRUE(idle.back().Send(kGetHealthz));
    HttpResponse response;
    ASSERT_EQ(idle.back().ReadResponse(&response), ReadStatus::kOk);
    ASSERT_EQ(response.status, 200);
  }
  // And some that never sent a byte.
  for (int i = 0; i < 5; ++i) {
    idle.push_back(HttpConnection::Connect(port));
    ASSERT_TRUE(idle.back().is_open());
  }
  std::this_thread::sleep_for(Millis(300));  // let the server accept them

  server.Signal(SIGTERM);
  Clock::time_point sigterm = Clock::now();
  for (size_t i = 0; i < idle.size(); ++i) {
    std::string data;
    ReadStatus status = idle[i].WaitForClose(Millis(2000), &data);
    EXPECT_EQ(status, ReadStatus::kClosed) << "connection " << i << " bytes: " << data;
  }
  EXPECT_LT(ElapsedMs(sigterm), 2000);
  EXPECT_TRUE(ExitedZero(server.WaitExit(Millis(2000))));
  EXPECT_LT(ElapsedMs(sigterm), 3000) << "waited for the drain timeout with nothing in flight";
  EXPECT_TRUE(ConnectionRefusedWithin(port, Millis(1000)));
}

TEST(ShutdownTest, DrainDeadlineEndsStuckRequests) {
  constexpr int kDrainMs = 500;
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads",        "1",  "--drain-timeout", std::to_string(kDrainMs) + "ms",
                  "--header-timeout", "30s"};
  ASSERT_TRUE(server.Start(options));
  uint16_t port = server.port();

  // One client never finishes its body, another never finishes its headers.
  HttpConnection body_stuck = HttpConnection::Connect(port);
  ASSERT_TRUE(body_stuck.is_open());
  ASSERT_TRUE(body_stuck.Send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01"));
  HttpConnection head_stuck = HttpConnection::Connect(port);
  ASSERT_TRUE(head_stuck.is_open());
  ASSERT_TRUE(head_stuck.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  std::this_thread::sleep_for(Millis(100));

  server.Signal(SIGTERM);
  Clock::time_point sigterm = Clock::now();
  std::optional<int> status = server.WaitExit(Millis(kDrainMs + 4000));
  int64_t elapsed = ElapsedMs(sigterm);
  ASSERT_TRUE(status.has_value()) << "still running " << elapsed << " ms after SIGTERM";
  EXPECT_TRUE(ExitedZero(status));
  EXPECT_GE(elapsed, kDrainMs * 2 / 3) << "did not wait for the in-flight requests";
  EXPECT_LE(elapsed, kDrainMs + 2000);

  // Both connections are gone (closed or reset), not left hanging.
  for (HttpConnection* connection : {&body_stuck, &head_stuck}) {
    std::string data;
    ReadStatus read = connection->WaitForClose(Millis(1000), &data);
    EXPECT_NE(read, ReadStatus::kTimeout);
  }
  EXPECT_TRUE(ConnectionRefusedWithin(port, Millis(1000)));
}

TEST(ShutdownTest, SigintAlsoShutsDownGracefully) {
  ServerProcess server;
  ServerOptions options;
  options.args = {"--drain-timeout", "10s"};
  ASSERT_TRUE(server.Start(options));
  uint16_t port = server.port();
  ASSERT_TRUE(HealthzOk(port));
  server.Signal(SIGINT);
  Clock::time_point start = Clock::now();
  EXPECT_TRUE(ExitedZero(server.WaitExit(Millis(3000))));
  EXPECT_LT(ElapsedMs(start), 3000);
  EXPECT_TRUE(ConnectionRefusedWithin(port, Millis(1000)));
}

TEST(ShutdownTest, PortIsRefusedAsSoonAsTheProcessHasExited) {
  // Once waitpid() has reported the exit, nothing may accept on the port any more: a client
  // connecting then must be refused, not connected and then reset.
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ServerProcess server;
    ServerOptions options;
    options.args = {"--threads", "2"};
    ASSERT_TRUE(server.Start(options));
    uint16_t port = server.port();
    ASSERT_TRUE(HealthzOk(port));
    server.Signal(SIGTERM);
    ASSERT_TRUE(ExitedZero(server.WaitExit(Millis(3000))));
    ASSERT_TRUE(ConnectionRefused(port)) << "connecting right after the exit";
  }
}

TEST(ShutdownTest, PartialHeadersAtSigtermAreFinished) {
  // A request whose headers are still arriving at SIGTERM is in flight too: it is answered,
  // with Connection: close.
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads", "1", "--drain-timeout", "5s"};
  ASSERT_TRUE(server.Start(options));
  HttpConnection connection = HttpConnection::Connect(server.port());
  ASSERT_TRUE(connection.is_open());
  ASSERT_TRUE(connection.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  std::this_thread::sleep_for(Millis(100));
  server.Signal(SIGTERM);
  std::this_thread::sleep_for(Millis(150));
  ASSERT_TRUE(connection.Send("Accept: */*\r\n\r\n"));
  HttpResponse response;
  ASSERT_EQ(connection.ReadResponse(&response), ReadStatus::kOk) << connection.error();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "{\"status\":\"ok\"}");
  EXPECT_TRUE(response.ConnectionClose()) << response;
  EXPECT_EQ(connection.WaitForClose(Millis(3000)), ReadStatus::kClosed);
  connection.Close();
  Clock::time_point closed = Clock::now();
  EXPECT_TRUE(ExitedZero(server.WaitExit(Millis(3000))));
  EXPECT_LT(ElapsedMs(closed), 1000);
}

}  // namespace
}  // namespace ringgate::testing
