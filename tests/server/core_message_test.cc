// Cross-core messages: a request on one core is answered after a round trip through another
// core's event loop (MSG_RING carrying the message), on an in-process Server with two shards.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "ringgate/server/server.h"

namespace ringgate {
namespace {

struct Trip {
  AsyncResponder* responder = nullptr;
  int origin = -1;
  int visited = -1;
};

// Visits another core, then goes home and answers there.
class GoHome final : public CoreMessage {
 public:
  explicit GoHome(Trip* trip) : trip_(trip) {}
  void Deliver(Shard& shard) override {
    std::string body = "origin=" + std::to_string(trip_->origin) +
                       " visited=" + std::to_string(trip_->visited) +
                       " answered=" + std::to_string(shard.index());
    trip_->responder->Send(200, "text/plain", body);
    delete trip_;
  }

 private:
  Trip* trip_;
};

class Visit final : public CoreMessage {
 public:
  explicit Visit(Trip* trip) : trip_(trip) {}
  void Deliver(Shard& shard) override {
    trip_->visited = shard.index();
    shard.Post(trip_->origin, std::make_unique<GoHome>(trip_));
  }

 private:
  Trip* trip_;
};

class NoObserver final : public ResponseObserver {
 public:
  void OnClientGone() override {}
};

std::string Get(uint16_t port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return "";
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  send(fd, request.data(), request.size(), 0);
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, n);
  close(fd);
  return response;
}

TEST(CoreMessageTest, RequestIsAnsweredAfterARoundTripThroughTheOtherCore) {
  static NoObserver observer;
  Config config;
  config.listen = {{"127.0.0.1", 0}};
  config.threads = 2;
  Server server(config, [](Router& router, Shard& shard) {
    router.Add("GET", "/trip", [&shard](HttpRequest&, Responder& responder) {
      auto* trip = new Trip;
      trip->origin = shard.index();
      trip->responder = responder.Defer(&observer);
      shard.Post((shard.index() + 1) % shard.core_count(), std::make_unique<Visit>(trip));
    });
  });
  ASSERT_TRUE(server.Start().ok());
  uint16_t port = server.listeners()[0].address.port;
  // Enough connections that both cores (SO_REUSEPORT spreads them) take some.
  int seen_origin[2] = {0, 0};
  for (int i = 0; i < 40; ++i) {
    std::string response = Get(port, "/trip");
    ASSERT_NE(response.find("HTTP/1.1 200"), std::string::npos) << response;
    size_t at = response.find("origin=");
    ASSERT_NE(at, std::string::npos);
    int origin = response[at + 7] - '0';
    ASSERT_TRUE(origin == 0 || origin == 1);
    ++seen_origin[origin];
    std::string expected = "origin=" + std::to_string(origin) +
                           " visited=" + std::to_string(1 - origin) +
                           " answered=" + std::to_string(origin);
    EXPECT_NE(response.find(expected), std::string::npos) << response;
  }
  EXPECT_GT(seen_origin[0] + seen_origin[1], 0);
  server.RequestDrain();
  server.Join();
}

TEST(CoreMessageTest, MessageToOwnCoreRunsFromTheLoop) {
  static NoObserver observer;
  Config config;
  config.listen = {{"127.0.0.1", 0}};
  config.threads = 1;
  Server server(config, [](Router& router, Shard& shard) {
    router.Add("GET", "/self", [&shard](HttpRequest&, Responder& responder) {
      auto* trip = new Trip;
      trip->origin = shard.index();
      trip->visited = shard.index();
      trip->responder = responder.Defer(&observer);
      shard.Post(shard.index(), std::make_unique<GoHome>(trip));
    });
  });
  ASSERT_TRUE(server.Start().ok());
  std::string response = Get(server.listeners()[0].address.port, "/self");
  EXPECT_NE(response.find("origin=0 visited=0 answered=0"), std::string::npos) << response;
  server.RequestDrain();
  server.Join();
}

}  // namespace
}  // namespace ringgate
