// The upstream client (UpstreamPool over the reactor) against small scripted servers on
// loopback: reuse, body framings, failures and their typed errors, TLS, a CONNECT proxy,
// cancel, pause and resume.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "ringgate/common/clock.h"
#include "ringgate/common/url.h"
#include "ringgate/config/config.h"
#include "ringgate/io/reactor.h"
#include "ringgate/net/resolver.h"
#include "ringgate/tls/tls_context.h"
#include "ringgate/upstream/upstream_pool.h"
#include "harness.h"
#include "test_servers.h"

namespace ringgate {
namespace {

using testing::GetTestPki;
using testing::ScriptedServer;
using testing::ServerConn;

const std::string kOkResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";

// Records everything an exchange reports.
class RecordingHandler : public UpstreamHandler {
 public:
  void OnUpstreamHead(const HttpResponseHead& head) override {
    status = head.status;
    ++heads;
  }
  bool OnUpstreamBody(std::string_view piece) override {
    body.append(piece);
    ++pieces;
    return !pause_on_next;
  }
  void OnUpstreamComplete() override {
    complete = true;
    if (on_complete) on_complete();
  }
  void OnUpstreamError(const UpstreamError& e) override {
    failed = true;
    error = e;
  }
  bool done() const { return complete || failed; }

  int status = 0;
  int heads = 0;
  int pieces = 0;
  std::string body;
  bool complete = false;
  bool failed = false;
  bool pause_on_next = false;
  UpstreamError error{UpstreamErrorKind::kDns, "", false};
  std::function<void()> on_complete;
};

class LoopDriver : public Reactor::Handler {
 public:
  LoopDriver(Reactor& reactor, UpstreamPool*& pool) : reactor_(reactor), pool_(pool) {}
  void OnCompletion(const io_uring_cqe& cqe) override { pool_->OnCompletion(cqe); }
  void OnLoopEnd() override {
    pool_->OnLoopEnd();
    if (until_ && until_()) reactor_.Stop();
  }
  std::function<bool()> until_;

 private:
  Reactor& reactor_;
  UpstreamPool*& pool_;
};

class UpstreamClientTest : public ::testing::Test {
 protected:
  void SetUpPool(const std::string& base_url, const std::string& proxy = "",
                 bool trust_test_ca = true) {
    Config config;
    config.gemini_base_url = base_url;
    config.https_proxy = proxy;
    config.upstream_connect_timeout_ms = connect_timeout_ms_;
    config.upstream_tls_timeout_ms = 500;
    config.upstream_first_byte_timeout_ms = first_byte_timeout_ms_;
    config.upstream_idle_timeout_ms = idle_timeout_ms_;
    Result<UpstreamSettings> settings = UpstreamSettingsFromConfig(config);
    ASSERT_TRUE(settings.ok()) << settings.status().message();
    settings_ = std::move(*settings);
    if (settings_.base.tls()) {
      TlsClientOptions options;
      options.ca_bundle_file = "";  // only the throwaway CA
      if (trust_test_ca) options.extra_ca_file = GetTestPki().ca_cert;
      Result<std::unique_ptr<TlsContext>> tls = TlsContext::NewClient(options);
      ASSERT_TRUE(tls.ok()) << tls.status().message();
      tls_ = std::move(*tls);
    }
    const ringgate::Url& target = settings_.proxy ? *settings_.proxy : settings_.base;
    resolver_.Watch(target.host, target.port);
    Result<std::unique_ptr<Reactor>> reactor = Reactor::Create(ReactorOptions{});
    ASSERT_TRUE(reactor.ok()) << reactor.status().message();
    reactor_ = std::move(*reactor);
    pool_owner_ = std::make_unique<UpstreamPool>(*reactor_, settings_, resolver_, tls_.get(), 16);
    pool_ = pool_owner_.get();
    driver_ = std::make_unique<LoopDriver>(*reactor_, pool_);
  }

  void TearDown() override {
    pool_owner_.reset();
    driver_.reset();
    reactor_.reset();
  }

  // Runs the loop until `done` holds or `timeout_ms` passes; returns whether `done` held.
  bool RunUntil(std::function<bool()> done, uint64_t timeout_ms = 5000) {
    bool timed_out = false;
    Timer deadline;
    deadline.set_callback([](Timer*, void* flag) { *static_cast<bool*>(flag) = true; },
                          &timed_out);
    reactor_->timers().Schedule(&deadline, MonotonicMillis() + timeout_ms);
    driver_->until_ = [&] { return timed_out || done(); };
    reactor_->Run(*driver_);
    reactor_->timers().Cancel(&deadline);
    return done();
  }

  UpstreamExchange* Get(RecordingHandler* handler, std::string_view path = "/v1beta/models") {
    UpstreamRequest request;
    request.method = "GET";
    request.path = path;
    request.api_key = "test-key";
    return pool_->Start(request, handler);
  }

  std::string BaseUrl(uint16_t port, bool tls = false, const std::string& host = "127.0.0.1") {
    return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port);
  }

  uint32_t connect_timeout_ms_ = 1000;
  uint32_t first_byte_timeout_ms_ = 2000;
  uint32_t idle_timeout_ms_ = 2000;
  UpstreamSettings settings_;
  Resolver resolver_;
  std::unique_ptr<TlsContext> tls_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<UpstreamPool> pool_owner_;
  UpstreamPool* pool_ = nullptr;
  std::unique_ptr<LoopDriver> driver_;
};

void AnswerEveryRequest(ServerConn& conn, int) {
  std::string request;
  while (conn.ReadRequest(&request)) {
    if (!conn.Write(kOkResponse)) return;
  }
}

TEST_F(UpstreamClientTest, SequentialRequestsReuseOneConnection) {
  ScriptedServer server(AnswerEveryRequest);
  SetUpPool(BaseUrl(server.port()));
  for (int i = 0; i < 5; ++i) {
    RecordingHandler handler;
    Get(&handler);
    ASSERT_TRUE(RunUntil([&] { return handler.done(); })) << "request " << i;
    ASSERT_TRUE(handler.complete) << handler.error.message;
    EXPECT_EQ(handler.status, 200);
    EXPECT_EQ(handler.body, "{\"ok\":true}");
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(pool_->stats().connections_opened, 1u);
  EXPECT_EQ(pool_->stats().reused, 4u);
  EXPECT_EQ(pool_->idle_connections(), 1u);
}

TEST_F(UpstreamClientTest, SendsKeyInHeaderNeverInUrl) {
  ScriptedServer server(AnswerEveryRequest);
  SetUpPool(BaseUrl(server.port()) + "/prefix");
  RecordingHandler handler;
  UpstreamRequest request;
  request.path = "/v1beta/models/m:generateContent";
  request.api_key = "AIzaSECRET";
  request.body = "{\"contents\":[]}";
  pool_->Start(request, &handler);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_EQ(server.requests().size(), 1u);
  const std::string sent = server.requests()[0];
  EXPECT_EQ(sent.rfind("POST /prefix/v1beta/models/m:generateContent HTTP/1.1\r\n", 0), 0u) << sent;
  EXPECT_NE(sent.find("\r\nx-goog-api-key: AIzaSECRET\r\n"), std::string::npos);
  EXPECT_EQ(sent.find("key="), std::string::npos);
  EXPECT_NE(sent.find("\r\nContent-Length: 15\r\n"), std::string::npos);
  EXPECT_NE(sent.find("\r\nHost: 127.0.0.1:"), std::string::npos);
  EXPECT_EQ(sent.substr(sent.size() - 15), "{\"contents\":[]}");
}

TEST_F(UpstreamClientTest, ChunkedBodyArrivesWholeAndConnectionIsReused) {
  ScriptedServer server([](ServerConn& conn, int) {
    std::string request;
    while (conn.ReadRequest(&request)) {
      conn.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      conn.Write("6\r\n world\r\n0\r\n\r\n");
    }
  });
  SetUpPool(BaseUrl(server.port()));
  for (int i = 0; i < 2; ++i) {
    RecordingHandler handler;
    Get(&handler);
    ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
    ASSERT_TRUE(handler.complete) << handler.error.message;
    EXPECT_EQ(handler.body, "hello world");
    EXPECT_GE(handler.pieces, 2);
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(UpstreamClientTest, CloseDelimitedBodyEndsAtEofAndIsNotReused) {
  ScriptedServer server([](ServerConn& conn, int) {
    std::string request;
    if (!conn.ReadRequest(&request)) return;
    conn.Write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
  });
  SetUpPool(BaseUrl(server.port()));
  for (int i = 0; i < 2; ++i) {
    RecordingHandler handler;
    Get(&handler);
    ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
    ASSERT_TRUE(handler.complete) << handler.error.message;
    EXPECT_EQ(handler.body, "until the end");
  }
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(pool_->idle_connections(), 0u);
}

TEST_F(UpstreamClientTest, UpstreamClosingMidBodyIsAnErrorAfterTheHead) {
  ScriptedServer server([](ServerConn& conn, int) {
    std::string request;
    if (!conn.ReadRequest(&request)) return;
    conn.Write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
  });
  SetUpPool(BaseUrl(server.port()));
  RecordingHandler handler;
  Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.failed);
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kReset);
  EXPECT_TRUE(handler.error.response_started);
  EXPECT_EQ(handler.body, "only part");
  EXPECT_EQ(pool_->idle_connections(), 0u);
}

TEST_F(UpstreamClientTest, ConnectionRefusedIsTyped) {
  uint16_t port;
  {
    ScriptedServer closed(AnswerEveryRequest);
    port = closed.port();
  }  // nothing listens there any more
  SetUpPool(BaseUrl(port));
  RecordingHandler handler;
  Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.failed);
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kConnectRefused) << handler.error.message;
}

TEST_F(UpstreamClientTest, ConnectTimeoutWhenTheListenQueueIsFull) {
  // A listener that never accepts, with its queue already full: further SYNs are dropped.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 0), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  uint16_t port = ntohs(addr.sin_port);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    fillers.push_back(c);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  connect_timeout_ms_ = 300;
  SetUpPool(BaseUrl(port));
  RecordingHandler handler;
  Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }, 5000));
  ASSERT_TRUE(handler.failed);
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kConnectTimeout) << handler.error.message;
  for (int c : fillers) close(c);
  close(fd);
}

TEST_F(UpstreamClientTest, FirstByteTimeout) {
  ScriptedServer server([](ServerConn& conn, int) {
    std::string request;
    if (conn.ReadRequest(&request)) conn.WaitForClose(5000);
  });
  first_byte_timeout_ms_ = 200;
  SetUpPool(BaseUrl(server.port()));
  RecordingHandler handler;
  uint64_t start = MonotonicMillis();
  Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.failed);
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kFirstByteTimeout);
  EXPECT_GE(MonotonicMillis() - start, 190u);
}

TEST_F(UpstreamClientTest, IdleGapTimeoutInsideAStartedResponse) {
  ScriptedServer server([](ServerConn& conn, int) {
    std::string request;
    if (!conn.ReadRequest(&request)) return;
    conn.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    conn.WaitForClose(5000);
  });
  idle_timeout_ms_ = 200;
  SetUpPool(BaseUrl(server.port()));
  RecordingHandler handler;
  Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.failed);
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kIdleTimeout);
  EXPECT_TRUE(handler.error.response_started);
  EXPECT_EQ(handler.body, "abc");
}

TEST_F(UpstreamClientTest, StaleReusedConnectionIsRetriedOnAFreshOne) {
  // The first connection answers once, then reads the next request and closes without an
  // answer, as a server closing an idle keep-alive connection at the same moment would.
  ScriptedServer server([](ServerConn& conn, int index) {
    std::string request;
    if (!conn.ReadRequest(&request)) return;
    conn.Write(kOkResponse);
    if (index == 0) {
      conn.ReadRequest(&request);
      return;
    }
    while (conn.ReadRequest(&request)) conn.Write(kOkResponse);
  });
  SetUpPool(BaseUrl(server.port()));
  RecordingHandler first;
  Get(&first);
  ASSERT_TRUE(RunUntil([&] { return first.done(); }));
  ASSERT_TRUE(first.complete);
  RecordingHandler second;
  Get(&second);
  ASSERT_TRUE(RunUntil([&] { return second.done(); }));
  ASSERT_TRUE(second.complete) << second.error.message;
  EXPECT_EQ(second.body, "{\"ok\":true}");
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(pool_->stats().stale_retries, 1u);
}

TEST_F(UpstreamClientTest, CancelMidStreamClosesTheConnection) {
  std::atomic<bool> closed_by_client{false};
  ScriptedServer server([&](ServerConn& conn, int) {
    std::string request;
    if (!conn.ReadRequest(&request)) return;
    conn.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    closed_by_client = conn.WaitForClose(3000);
  });
  SetUpPool(BaseUrl(server.port()));
  RecordingHandler handler;
  UpstreamExchange* exchange = Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.pieces > 0 || handler.done(); }));
  ASSERT_EQ(handler.body, "first");
  exchange->Cancel();
  RunUntil([&] { return closed_by_client.load(); }, 3000);
  EXPECT_TRUE(closed_by_client.load());
  EXPECT_FALSE(handler.complete);
  EXPECT_FALSE(handler.failed);  // no callbacks after Cancel
  EXPECT_EQ(pool_->idle_connections(), 0u);
  EXPECT_EQ(pool_->open_connections(), 0u);
}

TEST_F(UpstreamClientTest, PauseStopsDeliveryUntilResume) {
  ScriptedServer server([](ServerConn& conn, int) {
    std::string request;
    if (!conn.ReadRequest(&request)) return;
    conn.Write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    conn.Write("56789");
    conn.WaitForClose(3000);
  });
  SetUpPool(BaseUrl(server.port()));
  RecordingHandler handler;
  handler.pause_on_next = true;
  UpstreamExchange* exchange = Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.pieces > 0; }));
  EXPECT_EQ(handler.body, "01234");
  // Everything else has arrived by now, but nothing is delivered while paused.
  RunUntil([] { return false; }, 200);
  EXPECT_EQ(handler.body, "01234");
  EXPECT_FALSE(handler.done());
  handler.pause_on_next = false;
  exchange->Resume();
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  EXPECT_TRUE(handler.complete);
  EXPECT_EQ(handler.body, "0123456789");
}

TEST_F(UpstreamClientTest, UnresolvedNameIsReportedFromTheLoop) {
  // The fixture never starts the resolver's thread, so a name stays unresolved and no DNS
  // query leaves the machine.
  SetUpPool("http://upstream-not-resolved.test:1");
  RecordingHandler handler;
  Get(&handler);
  EXPECT_FALSE(handler.done());  // never synchronously from Start
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kDns);
}

// ---- TLS ----

class UpstreamTlsTest : public UpstreamClientTest {
 protected:
  std::unique_ptr<TlsContext> ServerContext(const std::string& cert, const std::string& key) {
    TlsServerOptions options;
    options.cert_chain_file = cert;
    options.key_file = key;
    Result<std::unique_ptr<TlsContext>> ctx = TlsContext::NewServer(options);
    EXPECT_TRUE(ctx.ok()) << ctx.status().message();
    return ctx.ok() ? std::move(*ctx) : nullptr;
  }
};

TEST_F(UpstreamTlsTest, OneHandshakePerPooledConnection) {
  ASSERT_TRUE(GetTestPki().ok);
  auto server_tls = ServerContext(GetTestPki().localhost_cert, GetTestPki().localhost_key);
  ScriptedServer server(AnswerEveryRequest, server_tls.get());
  SetUpPool(BaseUrl(server.port(), true));
  for (int i = 0; i < 5; ++i) {
    RecordingHandler handler;
    Get(&handler);
    ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
    ASSERT_TRUE(handler.complete) << handler.error.message;
    EXPECT_EQ(handler.body, "{\"ok\":true}");
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(pool_->stats().tls_handshakes, 1u);
}

TEST_F(UpstreamTlsTest, SessionIsResumedOnTheNextConnection) {
  ASSERT_TRUE(GetTestPki().ok);
  auto server_tls = ServerContext(GetTestPki().localhost_cert, GetTestPki().localhost_key);
  ScriptedServer server(
      [](ServerConn& conn, int) {
        std::string request;
        if (!conn.ReadRequest(&request)) return;
        conn.Write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
      },
      server_tls.get());
  SetUpPool(BaseUrl(server.port(), true));
  for (int i = 0; i < 3; ++i) {
    RecordingHandler handler;
    Get(&handler);
    ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
    ASSERT_TRUE(handler.complete) << handler.error.message;
  }
  EXPECT_EQ(pool_->stats().tls_handshakes, 3u);
  EXPECT_GE(pool_->stats().tls_resumed, 1u);
}

TEST_F(UpstreamTlsTest, CertificateForAnotherHostIsRejected) {
  ASSERT_TRUE(GetTestPki().ok);
  auto server_tls = ServerContext(GetTestPki().wrong_host_cert, GetTestPki().wrong_host_key);
  ScriptedServer server(AnswerEveryRequest, server_tls.get());
  SetUpPool(BaseUrl(server.port(), true));
  RecordingHandler handler;
  Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.failed);
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kTlsVerify) << handler.error.message;
}

TEST_F(UpstreamTlsTest, UnknownCaIsRejected) {
  ASSERT_TRUE(GetTestPki().ok);
  auto server_tls = ServerContext(GetTestPki().rogue_cert, GetTestPki().rogue_key);
  ScriptedServer server(AnswerEveryRequest, server_tls.get());
  SetUpPool(BaseUrl(server.port(), true));
  RecordingHandler handler;
  Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.failed);
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kTlsVerify) << handler.error.message;
}

TEST_F(UpstreamTlsTest, HandshakeTimeoutWhenTheServerNeverSpeaksTls) {
  ScriptedServer server([](ServerConn& conn, int) { conn.WaitForClose(3000); });
  SetUpPool(BaseUrl(server.port(), true));
  RecordingHandler handler;
  Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.failed);
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kTlsTimeout) << handler.error.message;
}

// ---- CONNECT proxy ----

TEST_F(UpstreamTlsTest, TlsThroughAConnectProxyWithBasicAuth) {
  ASSERT_TRUE(GetTestPki().ok);
  auto server_tls = ServerContext(GetTestPki().localhost_cert, GetTestPki().localhost_key);
  ScriptedServer server(AnswerEveryRequest, server_tls.get());
  testing::ConnectProxy proxy("Basic dXNlcjpwQHNz");  // user:p@ss
  // The upstream host must be numeric for the test proxy; the certificate carries its IP.
  SetUpPool(BaseUrl(server.port(), true),
            "http://user:p%40ss@127.0.0.1:" + std::to_string(proxy.port()));
  for (int i = 0; i < 2; ++i) {
    RecordingHandler handler;
    Get(&handler);
    ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
    ASSERT_TRUE(handler.complete) << handler.error.message;
  }
  EXPECT_EQ(proxy.tunnels(), 1);
  EXPECT_EQ(proxy.last_connect_line(),
            "CONNECT 127.0.0.1:" + std::to_string(server.port()) + " HTTP/1.1");
}

TEST_F(UpstreamClientTest, ProxyRefusalIsTyped) {
  ScriptedServer server(AnswerEveryRequest);
  testing::ConnectProxy proxy("Basic c29tZW9uZTplbHNl");
  SetUpPool(BaseUrl(server.port()), "http://wrong:creds@127.0.0.1:" + std::to_string(proxy.port()));
  RecordingHandler handler;
  Get(&handler);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.failed);
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kProxy);
  EXPECT_NE(handler.error.message.find("407"), std::string::npos) << handler.error.message;
}

TEST_F(UpstreamClientTest, NoProxyBypassesTheProxy) {
  Config config;
  config.gemini_base_url = "https://generativelanguage.googleapis.com";
  config.https_proxy = "http://127.0.0.1:3128";
  config.no_proxy = "localhost,.googleapis.com";
  Result<UpstreamSettings> settings = UpstreamSettingsFromConfig(config);
  ASSERT_TRUE(settings.ok());
  EXPECT_FALSE(settings->proxy.has_value());
  config.no_proxy = "example.com";
  settings = UpstreamSettingsFromConfig(config);
  ASSERT_TRUE(settings.ok());
  ASSERT_TRUE(settings->proxy.has_value());
  EXPECT_EQ(settings->proxy->port, 3128);
}

// ---- Against build/fake-gemini (plain and TLS) ----

class FakeGeminiUpstreamTest : public UpstreamClientTest {
 protected:
  void StartFake(bool tls, const std::string& script = "") {
    const char* fake = getenv("FAKE_GEMINI_BINARY");
    ASSERT_NE(fake, nullptr) << "FAKE_GEMINI_BINARY is not set";
    setenv("RINGGATE_BINARY", fake, 1);
    testing::ServerOptions options;
    if (tls) {
      ASSERT_TRUE(GetTestPki().ok);
      options.args = {"--tls-cert", GetTestPki().localhost_cert, "--tls-key",
                      GetTestPki().localhost_key};
    }
    if (!script.empty()) options.args.insert(options.args.end(), {"--script", script});
    ASSERT_TRUE(fake_.Start(options));
    SetUpPool(BaseUrl(fake_.port(), tls));
  }

  UpstreamExchange* Generate(RecordingHandler* handler, bool stream,
                             std::string_view extra_headers = "") {
    UpstreamRequest request;
    request.path = stream ? "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
                          : "/v1beta/models/gemini-2.5-flash:generateContent";
    request.api_key = "AIza-fake-key";
    request.body = R"({"contents":[{"role":"user","parts":[{"text":"hello"}]}]})";
    request.extra_headers = extra_headers;
    return pool_->Start(request, handler);
  }

  testing::ServerProcess fake_;
};

TEST_F(FakeGeminiUpstreamTest, PlainRequestsShareOneConnection) {
  StartFake(false);
  for (int i = 0; i < 10; ++i) {
    RecordingHandler handler;
    Generate(&handler, false);
    ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
    ASSERT_TRUE(handler.complete) << handler.error.message;
    EXPECT_EQ(handler.status, 200);
    EXPECT_NE(handler.body.find("\"candidates\""), std::string::npos) << handler.body;
  }
  EXPECT_EQ(pool_->stats().connections_opened, 1u);
  EXPECT_EQ(pool_->stats().reused, 9u);
}

TEST_F(FakeGeminiUpstreamTest, TlsRequestsNeedOneHandshake) {
  StartFake(true);
  for (int i = 0; i < 10; ++i) {
    RecordingHandler handler;
    Generate(&handler, false);
    ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
    ASSERT_TRUE(handler.complete) << handler.error.message;
    EXPECT_NE(handler.body.find("\"candidates\""), std::string::npos);
  }
  EXPECT_EQ(pool_->stats().tls_handshakes, 1u);
  EXPECT_EQ(pool_->stats().connections_opened, 1u);
}

TEST_F(FakeGeminiUpstreamTest, StreamEventsArriveOverTls) {
  StartFake(true);
  RecordingHandler handler;
  Generate(&handler, true, "x-fake-script: events=5;delay_ms=5\r\n");
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.complete) << handler.error.message;
  size_t events = 0;
  for (size_t at = 0; (at = handler.body.find("data: ", at)) != std::string::npos; ++at) ++events;
  EXPECT_EQ(events, 5u) << handler.body;
  EXPECT_NE(handler.body.find("\"finishReason\":\"STOP\""), std::string::npos);
}

TEST_F(FakeGeminiUpstreamTest, StreamCutMidwayIsAnErrorAfterTheHead) {
  StartFake(false);
  RecordingHandler handler;
  Generate(&handler, true, "x-fake-script: events=5;cut_after=2\r\n");
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.failed);
  EXPECT_EQ(handler.error.kind, UpstreamErrorKind::kReset);
  EXPECT_TRUE(handler.error.response_started);
  EXPECT_EQ(handler.status, 200);
}

TEST_F(FakeGeminiUpstreamTest, KeyTravelsInTheHeaderOnly) {
  StartFake(false);
  RecordingHandler handler;
  Generate(&handler, false);
  ASSERT_TRUE(RunUntil([&] { return handler.done(); }));
  ASSERT_TRUE(handler.complete);
  RecordingHandler log;
  Get(&log, "/_fake/requests");
  ASSERT_TRUE(RunUntil([&] { return log.done(); }));
  EXPECT_NE(log.body.find("\"key\":\"AIza-fake-key\""), std::string::npos) << log.body;
  EXPECT_NE(log.body.find("\"x-goog-api-key\":\"AIza-fake-key\""), std::string::npos);
  EXPECT_EQ(log.body.find("key=AIza"), std::string::npos);
}

}  // namespace
}  // namespace ringgate
