// Command line and environment: --help, bad values (one line on stderr, exit 2), env vs flags,
// the listening lines, several listen addresses, --threads.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace ringgate::testing {
namespace {

constexpr char kGetHealthz[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// A request with a header block of about `total` bytes.
std::string RequestWithHeaderBytes(size_t total) {
  std::string start = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  return start + std::string(total - start.size() - 4, 'p') + "\r\n\r\n";
}

int CountThreads(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr)
    return -1;
  int count = 0;
  while (dirent* entry = readdir(dir))
    count += entry->d_name[0] != '.' ? 1 : 0;
  closedir(dir);
  return count;
}

TEST(ConfigTest, HelpListsEveryOptionAndExitsZero) {
  ProcessResult result = RunBinary({"--help"});
  ASSERT_TRUE(result.exited) << DescribeWaitStatus(result.wait_status);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  for (const char* text :
       {"--listen", "--threads", "--max-header-bytes", "--max-body-bytes", "--header-timeout",
        "--idle-timeout", "--max-connections-per-core", "--drain-timeout", "--log-level", "LISTEN",
        "THREADS", "MAX_HEADER_BYTES", "MAX_BODY_BYTES", "HEADER_TIMEOUT", "IDLE_TIMEOUT",
        "MAX_CONNECTIONS_PER_CORE", "DRAIN_TIMEOUT", "LOG_LEVEL"}) {
    EXPECT_NE(result.out.find(text), std::string::npos)
        << "--help does not mention " << text << ":\n"
        << result.out;
  }
  EXPECT_EQ(result.out.find("listening on"), std::string::npos) << "--help started a server";
}

struct BadConfigCase {
  const char* name;
  std::vector<std::string> args;
  std::vector<std::string> env;
  const char* must_mention;  // what the error line has to name
};

void PrintTo(const BadConfigCase& c, std::ostream* os) {
  *os << c.name;
}

class BadConfigTest : public ::testing::TestWithParam<BadConfigCase> {};

TEST_P(BadConfigTest, PrintsOneLineAndExits2) {
  const BadConfigCase& c = GetParam();
  ProcessResult result = RunBinary(c.args, c.env, Millis(5000));
  ASSERT_FALSE(result.timed_out) << "still running after 5 s; stdout:\n" << result.out;
  ASSERT_TRUE(result.exited) << DescribeWaitStatus(result.wait_status);
  EXPECT_EQ(result.exit_code, 2) << "stderr:\n" << result.err;
  std::vector<std::string> lines = Lines(result.err);
  EXPECT_EQ(lines.size(), 1u) << "stderr:\n" << result.err;
  EXPECT_TRUE(!result.err.empty() && result.err.back() == '\n') << "stderr:\n" << result.err;
  EXPECT_NE(result.err.find(c.must_mention), std::string::npos)
      << "the error does not name '" << c.must_mention << "':\n"
      << result.err;
  EXPECT_EQ(result.out.find("listening on"), std::string::npos) << result.out;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfigTest,
    ::testing::Values(
        BadConfigCase{"ThreadsNotANumber", {"--threads", "abc"}, {}, "--threads"},
        BadConfigCase{"ListenNotAnAddress", {"--listen", "nope"}, {}, "--listen"},
        BadConfigCase{"ListenPortTooLarge", {"--listen", "127.0.0.1:99999"}, {}, "--listen"},
        BadConfigCase{"ListenIpv6WithoutBrackets", {"--listen", "::1:0"}, {}, "--listen"},
        BadConfigCase{
            "MaxHeaderBytesNotASize", {"--max-header-bytes", "lots"}, {}, "--max-header-bytes"},
        BadConfigCase{"MaxBodyBytesBadUnit", {"--max-body-bytes", "12XB"}, {}, "--max-body-bytes"},
        BadConfigCase{
            "HeaderTimeoutNotADuration", {"--header-timeout", "soon"}, {}, "--header-timeout"},
        BadConfigCase{"IdleTimeoutNegative", {"--idle-timeout", "-1s"}, {}, "--idle-timeout"},
        BadConfigCase{"MaxConnectionsZero",
                      {"--max-connections-per-core", "0"},
                      {},
                      "--max-connections-per-core"},
        BadConfigCase{
            "DrainTimeoutNotADuration", {"--drain-timeout", "forever"}, {}, "--drain-timeout"},
        BadConfigCase{"LogLevelUnknown", {"--log-level", "loud"}, {}, "--log-level"},
        BadConfigCase{"UnknownFlag", {"--bogus-flag", "1"}, {}, "--bogus-flag"},
        BadConfigCase{"MissingValue", {"--listen", "127.0.0.1:0", "--threads"}, {}, "--threads"},
        BadConfigCase{"PositionalArgument", {"serve"}, {}, "serve"},
        BadConfigCase{"EnvThreadsNotANumber", {}, {"THREADS=abc"}, "THREADS"},
        BadConfigCase{"EnvListenNotAnAddress", {}, {"LISTEN=nope"}, "LISTEN"},
        BadConfigCase{"EnvHeaderTimeoutNotADuration",
                      {"--listen", "127.0.0.1:0"},
                      {"HEADER_TIMEOUT=soon"},
                      "HEADER_TIMEOUT"},
        BadConfigCase{"EnvMaxBodyBytesNotASize",
                      {"--listen", "127.0.0.1:0"},
                      {"MAX_BODY_BYTES=big"},
                      "MAX_BODY_BYTES"}),
    [](const ::testing::TestParamInfo<BadConfigCase>& info) { return info.param.name; });

TEST(ConfigTest, ListeningLineFormat) {
  ServerProcess server;
  ASSERT_TRUE(server.Start());
  std::vector<std::string> matching;
  for (const std::string& line : Lines(server.Stdout())) {
    if (line.find("listening on") != std::string::npos)
      matching.push_back(line);
  }
  ASSERT_EQ(matching.size(), 1u) << server.Stdout();
  std::smatch match;
  ASSERT_TRUE(std::regex_match(matching[0], match,
                               std::regex(R"(listening on http://127\.0\.0\.1:([0-9]+))")))
      << "'" << matching[0] << "'";
  EXPECT_EQ(std::stoi(match[1].str()), server.port());
  EXPECT_NE(server.port(), 0);
  EXPECT_TRUE(HealthzOk(server.port()));
}

TEST(ConfigTest, ListenFromEnvironment) {
  ServerProcess server;
  ServerOptions options;
  options.listen = "";  // no --listen flag
  options.env = {"LISTEN=127.0.0.1:0"};
  ASSERT_TRUE(server.Start(options));
  EXPECT_EQ(server.host(), "127.0.0.1");
  EXPECT_TRUE(HealthzOk(server.port()));
}

TEST(ConfigTest, EnvironmentSetsLimits) {
  ServerProcess server;
  ServerOptions options;
  options.env = {"THREADS=1", "MAX_HEADER_BYTES=1KiB", "MAX_CONNECTIONS_PER_CORE=2"};
  ASSERT_TRUE(server.Start(options));

  // MAX_HEADER_BYTES applies.
  HttpResponse response;
  ASSERT_EQ(RoundTrip(server.port(), RequestWithHeaderBytes(2048), &response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 431) << response;
  // The 431's connection counts until the server has seen this side close it.
  std::this_thread::sleep_for(Millis(300));

  // THREADS=1 and MAX_CONNECTIONS_PER_CORE=2: a third open connection is refused.
  HttpConnection a = HttpConnection::Connect(server.port());
  HttpConnection b = HttpConnection::Connect(server.port());
  for (HttpConnection* c : {&a, &b}) {
    ASSERT_TRUE(c->Send(kGetHealthz));
    ASSERT_EQ(c->ReadResponse(&response), ReadStatus::kOk);
    ASSERT_EQ(response.status, 200);
  }
  HttpConnection third = HttpConnection::Connect(server.port());
  ASSERT_TRUE(third.is_open());
  if (!third.WaitReadable(Millis(300))) {
    ASSERT_TRUE(third.Send(kGetHealthz));
  }
  ASSERT_EQ(third.ReadResponse(&response), ReadStatus::kOk) << third.error();
  EXPECT_EQ(response.status, 503) << response;
}

TEST(ConfigTest, FlagsWinOverEnvironment) {
  ServerProcess server;
  ServerOptions options;
  options.env = {"MAX_HEADER_BYTES=512", "LISTEN=127.0.0.1:1", "THREADS=1",
                 "MAX_CONNECTIONS_PER_CORE=1"};
  options.args = {"--max-header-bytes", "64KiB", "--max-connections-per-core", "100"};
  ASSERT_TRUE(server.Start(options));  // --listen 127.0.0.1:0 wins over LISTEN
  EXPECT_NE(server.port(), 1);
  HttpResponse response;
  ASSERT_EQ(RoundTrip(server.port(), RequestWithHeaderBytes(2048), &response), ReadStatus::kOk);
  EXPECT_EQ(response.status, 200) << response;
  // Several connections at once: MAX_CONNECTIONS_PER_CORE=1 was overridden.
  std::vector<HttpConnection> connections;
  for (int i = 0; i < 5; ++i) {
    connections.push_back(HttpConnection::Connect(server.port()));
    ASSERT_TRUE(connections.back().Send(kGetHealthz));
  }
  for (HttpConnection& c : connections) {
    ASSERT_EQ(c.ReadResponse(&response), ReadStatus::kOk);
    EXPECT_EQ(response.status, 200);
  }
}

TEST(ConfigTest, EveryFlagAccepted) {
  ServerProcess server;
  ServerOptions options;
  options.args = {"--threads",
                  "2",
                  "--max-header-bytes",
                  "64KiB",
                  "--max-body-bytes",
                  "32MiB",
                  "--header-timeout",
                  "2s",
                  "--idle-timeout",
                  "1m",
                  "--max-connections-per-core",
                  "1000",
                  "--drain-timeout",
                  "300ms",
                  "--log-level",
                  "warning"};
  ASSERT_TRUE(server.Start(options));
  EXPECT_TRUE(HealthzOk(server.port()));
  int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWaitStatus(status);
}

TEST(ConfigTest, ThreadsFlagStartsThatManyReactors) {
  ServerProcess one;
  ServerOptions options;
  options.args = {"--threads", "1"};
  ASSERT_TRUE(one.Start(options));
  ASSERT_TRUE(HealthzOk(one.port()));
  ServerProcess three;
  options.args = {"--threads", "3"};
  ASSERT_TRUE(three.Start(options));
  ASSERT_TRUE(HealthzOk(three.port()));
  int threads_one = CountThreads(one.pid());
  int threads_three = CountThreads(three.pid());
  ASSERT_GT(threads_one, 0);
  EXPECT_GE(threads_three, threads_one + 2)
      << "--threads 1 runs " << threads_one << " threads, --threads 3 runs " << threads_three;
}

TEST(ConfigTest, TwoListenAddresses) {
  if (!Ipv6LoopbackAvailable())
    GTEST_SKIP() << "[::1] is not available";
  ServerProcess server;
  ServerOptions options;
  options.listen = "127.0.0.1:0,[::1]:0";
  ASSERT_TRUE(server.Start(options));
  ASSERT_EQ(server.endpoints().size(), 2u) << server.Stdout();
  std::vector<std::string> hosts;
  for (const Endpoint& e : server.endpoints()) {
    hosts.push_back(e.host);
    EXPECT_TRUE(HealthzOk(e.port, e.host)) << e.host;
  }
  std::sort(hosts.begin(), hosts.end());
  EXPECT_EQ(hosts, (std::vector<std::string>{"127.0.0.1", "::1"}));
  int lines = 0;
  for (const std::string& line : Lines(server.Stdout())) {
    lines += line.find("listening on") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(lines, 2) << server.Stdout();
}

TEST(ConfigTest, TwoIpv4ListenAddresses) {
  ServerProcess server;
  ServerOptions options;
  options.listen = "127.0.0.1:0,127.0.0.1:0";
  ASSERT_TRUE(server.Start(options));
  ASSERT_EQ(server.endpoints().size(), 2u) << server.Stdout();
  EXPECT_NE(server.endpoints()[0].port, server.endpoints()[1].port);
  for (const Endpoint& e : server.endpoints())
    EXPECT_TRUE(HealthzOk(e.port, e.host));
}

TEST(ConfigTest, Ipv6ListenLineUsesBrackets) {
  if (!Ipv6LoopbackAvailable())
    GTEST_SKIP() << "[::1] is not available";
  ServerProcess server;
  ServerOptions options;
  options.listen = "[::1]:0";
  ASSERT_TRUE(server.Start(options));
  EXPECT_NE(server.Stdout().find("listening on http://[::1]:" + std::to_string(server.port())),
            std::string::npos)
      << server.Stdout();
  EXPECT_TRUE(HealthzOk(server.port(), "::1"));
}

TEST(ConfigTest, PortHeldByAnotherSocketFailsToStart) {
  // A plain listening socket (no SO_REUSEPORT) holds the port.
  int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(holder, 16), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length), 0);
  uint16_t port = ntohs(address.sin_port);

  ProcessResult result =
      RunBinary({"--listen", "127.0.0.1:" + std::to_string(port)}, {}, Millis(5000));
  close(holder);
  EXPECT_FALSE(result.timed_out) << "kept running although the port is taken";
  EXPECT_TRUE(result.exited && result.exit_code != 0) << DescribeWaitStatus(result.wait_status);
  EXPECT_EQ(result.out.find("listening on"), std::string::npos) << result.out;
  EXPECT_NE(result.err.find(std::to_string(port)), std::string::npos)
      << "the error does not name the address:\n"
      << result.err;
}

}  // namespace
}  // namespace ringgate::testing
