// The start-up key check end to end (real ringgate in front of fake-gemini, or of a loopback
// upstream that holds the check's requests): core 0 sends one GET /v1beta/models?pageSize=1 per key
// (the key in x-goog-api-key, never in the URL), at most KEY_CHECK_CONCURRENCY at once; invalid and
// suspended keys leave the rotation on every core before any chat; SKIP_CHECK_API_KEY=true sends
// nothing; /healthz and chats are answered while the check runs; a transport failure is no verdict
// on the key. The harness turns the check off by default: these tests turn it on.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat_harness.h"

namespace ringgate::testing {
namespace {

constexpr char kCheckPath[] = "/v1beta/models?pageSize=1";
constexpr char kDone[] = "key check done:";

GatewayOptions CheckOptions(int keys, std::vector<std::string> env = {},
                            std::vector<std::string> fake_args = {}) {
  GatewayOptions options;
  options.keys = keys;
  options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "FAKE_STREAMING=false",
                 "SKIP_CHECK_API_KEY=false"};
  for (std::string& entry : env)
    options.env.push_back(std::move(entry));
  options.fake_args = {"--record", "1000"};
  for (std::string& arg : fake_args)
    options.fake_args.push_back(std::move(arg));
  return options;
}

// Waits until ringgate logged the check's summary line; returns that line ("" on timeout).
std::string WaitForSummary(Gateway& gateway, Millis timeout = Millis(5000)) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::string err = gateway.ringgate().Stderr();
    size_t at = err.find(kDone);
    if (at != std::string::npos) {
      size_t end = err.find('\n', at);
      if (end != std::string::npos)
        return err.substr(at, end - at);
    }
    std::this_thread::sleep_for(Millis(10));
  }
  return "";
}

std::vector<RecordedRequest> CheckRequests(Gateway& gateway) {
  std::vector<RecordedRequest> out;
  for (RecordedRequest& r : gateway.Requests()) {
    if (r.path == kCheckPath)
      out.push_back(std::move(r));
  }
  return out;
}

std::vector<int> GenerateKeyUses(Gateway& gateway) {
  std::vector<int> out;
  for (const RecordedRequest& r : gateway.Requests("generateContent"))
    out.push_back(TestKeyIndex(r.key));
  return out;
}

TEST(KeyValidationTest, RejectedKeysLeaveTheRotationOnEveryCoreBeforeAnyChat) {
  GatewayOptions options =
      CheckOptions(6, {},
                   {"--invalid-keys", TestKey(2), "--suspended-keys", TestKey(5), "--valid-keys",
                    TestKey(1) + "," + TestKey(3) + "," + TestKey(4) + "," + TestKey(6)});
  options.threads = 2;
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  std::string summary = WaitForSummary(*gateway);
  ASSERT_FALSE(summary.empty()) << gateway->ringgate().Stderr();
  EXPECT_NE(summary.find("6 keys, 4 valid, 2 invalid"), std::string::npos) << summary;
  EXPECT_NE(summary.find("AIzaSyFA..."), std::string::npos) << summary;
  EXPECT_EQ(gateway->ringgate().Stderr().find(kTestKeyPrefix), std::string::npos)
      << "a whole key in the log";

  // One check per key, the key in the header only.
  std::vector<RecordedRequest> checks = CheckRequests(*gateway);
  std::set<int> checked;
  for (const RecordedRequest& r : checks) {
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.path.find("key="), std::string::npos) << r.path;
    ASSERT_TRUE(r.headers.count("x-goog-api-key")) << r.path;
    EXPECT_EQ(r.headers.at("x-goog-api-key"), r.key);
    checked.insert(TestKeyIndex(r.key));
  }
  EXPECT_EQ(checks.size(), 6u);
  EXPECT_EQ(checked, (std::set<int>{1, 2, 3, 4, 5, 6}));

  // Neither core ever sends a chat with the rejected keys (new connections land on both cores).
  gateway->ClearRequests();
  for (int i = 0; i < 40; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i;
  std::vector<int> uses = GenerateKeyUses(*gateway);
  EXPECT_EQ(uses.size(), 40u) << "no try with a rejected key, so no retry";
  for (int key : {2, 5})
    EXPECT_EQ(std::count(uses.begin(), uses.end(), key), 0) << "key " << key;
  for (int key : {1, 3, 4, 6})
    EXPECT_GE(std::count(uses.begin(), uses.end(), key), 5) << "key " << key;
}

// Every check starts in the same loop iteration up to the bound, then reuses the connection that
// became free: the fake sees exactly min(N, keys) connections from the check (plus one for the
// model list; the harness's /healthz probe and the stats call are not counted).
void ExpectBoundedConcurrency(int keys, int bound, std::vector<std::string> env) {
  auto gateway = StartGateway(CheckOptions(keys, std::move(env)));
  ASSERT_NE(gateway, nullptr);
  std::string summary = WaitForSummary(*gateway);
  ASSERT_FALSE(summary.empty()) << gateway->ringgate().Stderr();
  EXPECT_NE(summary.find(std::to_string(keys) + " keys, " + std::to_string(keys) + " valid"),
            std::string::npos)
      << summary;
  EXPECT_EQ(CheckRequests(*gateway).size(), static_cast<size_t>(keys));
  auto stats = gateway->Stats();
  ASSERT_TRUE(stats->ok);
  int64_t connections =
      stats->Int("/connections_accepted") - 2;  // the start's /healthz probe, the stats call
  EXPECT_LE(connections, bound + 1) << "more checks in flight than " << bound;
  EXPECT_GE(connections, std::min(bound, keys));
}

TEST(KeyValidationTest, AtMostKeyCheckConcurrencyRequestsInFlight) {
  ExpectBoundedConcurrency(20, 3, {"KEY_CHECK_CONCURRENCY=3"});
}

TEST(KeyValidationTest, DefaultBoundIsEight) {
  ExpectBoundedConcurrency(20, 8, {});
}

TEST(KeyValidationTest, SkipCheckApiKeySendsNoCheck) {
  auto gateway = StartGateway(CheckOptions(4, {"SKIP_CHECK_API_KEY=true"},
                                           {"--invalid-keys", TestKey(2), "--valid-keys",
                                            TestKey(1) + "," + TestKey(3) + "," + TestKey(4)}));
  ASSERT_NE(gateway, nullptr);
  std::this_thread::sleep_for(Millis(300));
  EXPECT_TRUE(CheckRequests(*gateway).empty());
  EXPECT_EQ(gateway->ringgate().Stderr().find("key check"), std::string::npos);
  // The invalid key is found the usual way: by the first chat that uses it.
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200);
  for (const RecordedRequest& r : gateway->Requests())
    EXPECT_NE(r.path, kCheckPath);
}

// A loopback upstream that answers the model list and chats at once and holds the key check's
// requests until Release() closes them (a transport failure for ringgate).
class HoldingUpstream {
 public:
  ~HoldingUpstream() { Stop(); }

  bool Start() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0)
      return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 64) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return false;
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { Accept(); });
    return true;
  }

  void Stop() {
    stop_ = true;
    release_ = true;
    if (accept_thread_.joinable())
      accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads)
      t.join();
    if (listen_fd_ >= 0)
      close(listen_fd_);
    listen_fd_ = -1;
  }

  void Release() { release_ = true; }
  uint16_t port() const { return port_; }
  int held() const { return held_; }
  // TestKey numbers of the generateContent requests, in arrival order.
  std::vector<int> chat_keys() {
    std::lock_guard<std::mutex> lock(mutex_);
    return chat_keys_;
  }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0)
        continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        continue;
      std::lock_guard<std::mutex> lock(mutex_);
      threads_.emplace_back([this, fd] {
        Serve(fd);
        close(fd);
      });
    }
  }

  // Reads one request (head and Content-Length body); false when the connection ended first.
  bool ReadRequest(int fd, std::string* head) {
    std::string data;
    char buf[4096];
    size_t need = std::string::npos;
    while (!stop_) {
      size_t end = data.find("\r\n\r\n");
      if (end != std::string::npos && need == std::string::npos) {
        *head = data.substr(0, end);
        need = end + 4;
        std::string lower = *head;
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        size_t cl = lower.find("content-length:");
        if (cl != std::string::npos)
          need += std::stoul(lower.substr(cl + 15));
      }
      if (need != std::string::npos && data.size() >= need)
        return true;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0)
        continue;
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0)
        return false;
      data.append(buf, static_cast<size_t>(n));
    }
    return false;
  }

  void Serve(int fd) {
    std::string head;
    if (!ReadRequest(fd, &head))
      return;
    std::string target = head.substr(0, head.find("\r\n"));
    if (target.find(std::string(" ") + kCheckPath + " ") != std::string::npos) {
      ++held_;
      while (!release_)
        std::this_thread::sleep_for(Millis(5));
      shutdown(fd, SHUT_RDWR);
      return;
    }
    std::string response;
    if (target.find(":generateContent") != std::string::npos) {
      std::string lower = head;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      size_t at = lower.find("x-goog-api-key:");
      std::string key;
      if (at != std::string::npos) {
        size_t start = head.find_first_not_of(' ', at + 15);
        key = head.substr(start, head.find("\r\n", start) - start);
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        chat_keys_.push_back(TestKeyIndex(key));
      }
      response = CannedUpstream::JsonResponse(
          R"({"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},)"
          R"("finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1,)"
          R"("candidatesTokenCount":1,"totalTokenCount":2}})");
    } else if (target.find("/v1beta/models?") != std::string::npos) {
      response = CannedUpstream::JsonResponse(GeminiModelList({kModel}));
    } else {
      response = CannedUpstream::JsonResponse(
          R"({"error":{"code":404,"message":"not here","status":"NOT_FOUND"}})", 404);
    }
    size_t sent = 0;
    while (sent < response.size()) {
      ssize_t n = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0)
        return;
      sent += static_cast<size_t>(n);
    }
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> release_{false};
  std::atomic<int> held_{0};
  std::thread accept_thread_;
  std::mutex mutex_;
  std::vector<std::thread> threads_;
  std::vector<int> chat_keys_;
};

TEST(KeyValidationTest, ServesWhileTheCheckRunsAndTransportFailuresKeepTheKeys) {
  HoldingUpstream upstream;
  ASSERT_TRUE(upstream.Start());
  GatewayOptions options = CheckOptions(4);
  options.start_fake = false;
  options.base_url = "http://127.0.0.1:" + std::to_string(upstream.port());
  auto gateway = StartGateway(options);
  ASSERT_NE(gateway, nullptr);
  Clock::time_point deadline = Clock::now() + Millis(5000);
  while (upstream.held() < 4 && Clock::now() < deadline)
    std::this_thread::sleep_for(Millis(5));
  ASSERT_EQ(upstream.held(), 4) << "every key's check is held upstream";

  // The check is still running: the server answers meanwhile, with every key.
  HttpResponse health = gateway->Call(GetRequest("/healthz"));
  EXPECT_EQ(health.status, 200) << health;
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i;
  std::vector<int> before = upstream.chat_keys();
  EXPECT_EQ(std::set<int>(before.begin(), before.end()), (std::set<int>{1, 2, 3, 4}));
  EXPECT_EQ(gateway->ringgate().Stderr().find(kDone), std::string::npos)
      << "the check ended before the chats";

  // The held checks fail below HTTP: no verdict on any key, all stay in rotation.
  upstream.Release();
  std::string summary = WaitForSummary(*gateway);
  ASSERT_FALSE(summary.empty()) << gateway->ringgate().Stderr();
  EXPECT_NE(summary.find("4 keys, 0 valid, 0 invalid, 4 unchecked"), std::string::npos) << summary;
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(gateway->Chat(SimpleChat()).status, 200) << "request " << i;
  std::vector<int> all = upstream.chat_keys();
  std::vector<int> after(all.begin() + static_cast<std::ptrdiff_t>(before.size()), all.end());
  EXPECT_EQ(std::set<int>(after.begin(), after.end()), (std::set<int>{1, 2, 3, 4}));
  gateway->Stop();
  upstream.Stop();
}

}  // namespace
}  // namespace ringgate::testing
