// Many connections at once, several reactor threads, slow clients next to fast ones.
#include <sys/wait.h>

#include <atomic>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace ringgate::testing {
namespace {

constexpr char kGetHealthz[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
constexpr char kHealthzBody[] = "{\"status\":\"ok\"}";

// Counts outcomes other than a 200 with the healthz body; describes the first few.
std::string SummarizeFailures(const std::vector<ConcurrentResult>& results, int* failures) {
  std::map<std::string, int> kinds;
  *failures = 0;
  for (const ConcurrentResult& r : results) {
    std::string kind;
    if (r.connect_errno != 0) {
      kind = std::string("connect: ") + strerror(r.connect_errno);
    } else if (r.read_status != ReadStatus::kOk) {
      kind = std::string("read: ") + ReadStatusName(r.read_status);
    } else if (r.response.status != 200 || r.response.body != kHealthzBody) {
      kind = "status " + std::to_string(r.response.status);
    } else {
      continue;
    }
    ++*failures;
    ++kinds[kind];
  }
  std::ostringstream out;
  for (const auto& [kind, count] : kinds)
    out << "  " << count << " x " << kind << "\n";
  return out.str();
}

TEST(ConcurrencyTest, TwoThousandConcurrentConnections) {
  constexpr size_t kConnections = 2000;
  uint64_t limit = RaiseFdLimit(8192);
  if (limit < kConnections + 200) {
    GTEST_SKIP() << "RLIMIT_NOFILE is only " << limit << "; need " << kConnections + 200;
  }
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads", "2"};
  ASSERT_TRUE(server.Start(options));

  Clock::time_point start = Clock::now();
  std::vector<ConcurrentResult> results =
      RunConcurrentRequests(server.port(), kConnections, kGetHealthz, Millis(30000));
  int failures = 0;
  std::string summary = SummarizeFailures(results, &failures);
  EXPECT_EQ(failures, 0) << "of " << kConnections << " connections:\n" << summary;
  RecordProperty("elapsed_ms", static_cast<int>(ElapsedMs(start)));
  EXPECT_TRUE(HealthzOk(server.port()));
  int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWaitStatus(status);
}

TEST(ConcurrencyTest, TwoThreadsServeManyClientThreads) {
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads", "2"};
  ASSERT_TRUE(server.Start(options));

  constexpr int kClientThreads = 8;
  constexpr int kConnectionsPerThread = 40;
  constexpr int kRequestsPerConnection = 5;
  std::atomic<int> ok{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClientThreads; ++t) {
    threads.emplace_back([&] {
      for (int c = 0; c < kConnectionsPerThread; ++c) {
        HttpConnection connection = HttpConnection::Connect(server.port());
        if (!connection.is_open()) {
          bad += kRequestsPerConnection;
          continue;
        }
        for (int r = 0; r < kRequestsPerConnection; ++r) {
          HttpResponse response;
          if (connection.Send(kGetHealthz) &&
              connection.ReadResponse(&response) == ReadStatus::kOk && response.status == 200 &&
              response.body == kHealthzBody) {
            ++ok;
          } else {
            ++bad;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(ok.load(), kClientThreads * kConnectionsPerThread * kRequestsPerConnection);
}

TEST(ConcurrencyTest, SlowClientsDoNotBlockOthers) {
  // One reactor thread: connections stalled mid-request must not delay anybody else.
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads", "1", "--header-timeout", "20s"};
  ASSERT_TRUE(server.Start(options));

  std::vector<HttpConnection> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(HttpConnection::Connect(server.port()));
    ASSERT_TRUE(slow.back().is_open());
    ASSERT_TRUE(slow.back().Send(i % 2 == 0
                                     ? "GET /healthz HTTP/1.1\r\nHo"
                                     : "POST /healthz HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"));
  }
  Clock::time_point start = Clock::now();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(HealthzOk(server.port())) << "request " << i;
  }
  EXPECT_LT(ElapsedMs(start), 5000);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(slow[i].Send(i % 2 == 0 ? "st: x\r\n\r\n" : "cd"));
    HttpResponse response;
    ASSERT_EQ(slow[i].ReadResponse(&response), ReadStatus::kOk) << "slow client " << i;
    EXPECT_EQ(response.status, i % 2 == 0 ? 200 : 405) << "slow client " << i;
  }
}

TEST(ConcurrencyTest, ConcurrentPipelinedConnections) {
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads", "2"};
  ASSERT_TRUE(server.Start(options));
  // 200 connections, each pipelining 20 requests in one write; responses checked in order.
  constexpr int kPipelineDepth = 20;
  std::string request;
  for (int i = 0; i < kPipelineDepth - 1; ++i) {
    request += i % 2 == 0 ? kGetHealthz : "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  request += "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::vector<HttpConnection> connections;
  for (int c = 0; c < 200; ++c) {
    connections.push_back(HttpConnection::Connect(server.port()));
    ASSERT_TRUE(connections.back().is_open());
    ASSERT_TRUE(connections.back().Send(request));
  }
  for (int c = 0; c < 200; ++c) {
    for (int i = 0; i < kPipelineDepth; ++i) {
      HttpResponse response;
      ASSERT_EQ(connections[c].ReadResponse(&response), ReadStatus::kOk)
          << "connection " << c << " response " << i;
      ASSERT_EQ(response.status, (i % 2 == 0 || i == kPipelineDepth - 1) ? 200 : 404)
          << "connection " << c << " response " << i;
    }
    EXPECT_EQ(connections[c].WaitForClose(Millis(2000)), ReadStatus::kClosed);
  }
}

}  // namespace
}  // namespace ringgate::testing
