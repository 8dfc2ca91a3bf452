// TlsContext, TlsSessionCache and TlsStream: a client and a server stream talk through in-memory
// buffers (no sockets). A throwaway CA and certificates are made with the openssl command.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ringgate/tls/tls_context.h"
#include "ringgate/tls/tls_session_cache.h"
#include "ringgate/tls/tls_stream.h"

namespace ringgate {
namespace {

namespace fs = std::filesystem;
using HS = TlsStream::HandshakeStatus;
using RS = TlsStream::ReadStatus;

// ---- Certificates ----

std::string g_dir;  // Temporary directory with the generated PEM files; empty if none.
std::string g_setup_error;

std::string Path(const std::string& name) {
  return g_dir + "/" + name;
}

bool Run(const std::string& command) {
  return std::system(("(" + command + ") >/dev/null 2>&1").c_str()) == 0;
}

void MakeCertificates() {
  const char* env = std::getenv("RINGGATE_OPENSSL");
  const std::string openssl = env != nullptr && *env != '\0' ? env : "openssl";
  if (!Run(openssl + " version")) {
    g_setup_error = "the openssl command is not available";
    return;
  }
  char tmpl[] = "/tmp/ringgate-tls-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    g_setup_error = "mkdtemp failed";
    return;
  }
  g_dir = tmpl;
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string cd = "cd '" + g_dir + "' && ";
  std::vector<std::string> steps = {
      // The test CA.
      openssl + " req -x509" + ec +
          " -keyout ca.key -out ca.pem -days 3 -subj '/CN=ringgate test CA'"
          " -addext 'basicConstraints=critical,CA:TRUE'"
          " -addext 'keyUsage=critical,keyCertSign,cRLSign'",
      // A self-signed certificate for localhost from a CA nobody trusts.
      openssl + " req -x509" + ec +
          " -keyout rogue.key -out rogue.pem -days 3 -subj '/CN=localhost'"
          " -addext 'subjectAltName=DNS:localhost'",
  };
  const std::vector<std::pair<std::string, std::string>> leaves = {
      {"localhost", "DNS:localhost,IP:127.0.0.1"},
      {"wrong.example", "DNS:wrong.example"},
  };
  for (const auto& [name, san] : leaves) {
    steps.push_back("printf 'subjectAltName=" + san +
                    "\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > " + name +
                    ".ext");
    steps.push_back(openssl + " req -new" + ec + " -keyout " + name + ".key -out " + name +
                    ".csr -subj '/CN=" + name + "'");
    steps.push_back(openssl + " x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key" +
                    " -CAcreateserial -days 2 -out " + name + ".pem -extfile " + name + ".ext");
  }
  steps.push_back("cat localhost.pem ca.pem > localhost-chain.pem");
  steps.push_back("printf 'not a certificate\\n' > garbage.pem");
  for (const std::string& step : steps) {
    if (!Run(cd + step)) {
      g_setup_error = "certificate generation failed: " + step;
      return;
    }
  }
}

class TlsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { MakeCertificates(); }
  void TearDown() override {
    if (!g_dir.empty()) {
      std::error_code ec;
      fs::remove_all(g_dir, ec);
    }
  }
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new TlsEnvironment);

// ---- Helpers ----

TlsClientOptions ClientOptions(TlsVersion max = TlsVersion::kTls13) {
  TlsClientOptions o;
  o.ca_bundle_file.clear();  // Only the test CA: results must not depend on the machine.
  o.extra_ca_file = Path("ca.pem");
  o.max_version = max;
  return o;
}

TlsServerOptions ServerOptions(const std::string& name = "localhost",
                               TlsVersion max = TlsVersion::kTls13) {
  TlsServerOptions o;
  o.cert_chain_file = Path(name + ".pem");
  o.key_file = Path(name + ".key");
  o.max_version = max;
  return o;
}

// Setup that must work for the test to mean anything: stops the binary with the reason if not.
template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s failed: %s\n", what, r.status().message().c_str());
    std::abort();
  }
  return std::move(r.value());
}

std::unique_ptr<TlsContext> MustClientCtx(const TlsClientOptions& o) {
  return Must(TlsContext::NewClient(o), "TlsContext::NewClient");
}

std::unique_ptr<TlsContext> MustServerCtx(const TlsServerOptions& o) {
  return Must(TlsContext::NewServer(o), "TlsContext::NewServer");
}

std::unique_ptr<TlsStream> MustClient(TlsContext& ctx, const std::string& host,
                                      TlsSessionCache* cache = nullptr, uint16_t port = 443) {
  return Must(TlsStream::Client(ctx, host, cache, port), "TlsStream::Client");
}

std::unique_ptr<TlsStream> MustServer(TlsContext& ctx) {
  return Must(TlsStream::Server(ctx), "TlsStream::Server");
}

// Moves at most `limit` bytes of pending ciphertext from `from` to `to`; returns how many.
// Uses the view + consume API (the zero-copy PrepareInput path when `zero_copy`).
size_t Transfer(TlsStream& from, TlsStream& to, size_t limit = SIZE_MAX, bool zero_copy = false) {
  std::string_view pending = from.PendingCiphertext();
  const size_t n = std::min(pending.size(), limit);
  if (n == 0)
    return 0;
  if (zero_copy) {
    std::span<char> space = to.PrepareInput(n);
    EXPECT_GE(space.size(), n);
    std::copy_n(pending.data(), n, space.data());
    to.CommitInput(n);
  } else {
    to.FeedCiphertext(pending.substr(0, n));
  }
  from.ConsumeCiphertext(n);
  return n;
}

// Runs both handshakes to completion or failure, moving up to `chunk` bytes per step.
bool HandshakeBoth(TlsStream& client, TlsStream& server, size_t chunk = SIZE_MAX) {
  for (int i = 0; i < 200000; ++i) {
    const HS c = client.Handshake();
    const HS s = server.Handshake();
    if (c == HS::kError || s == HS::kError)
      return false;
    const size_t moved = Transfer(client, server, chunk) + Transfer(server, client, chunk);
    if (c == HS::kDone && s == HS::kDone && moved == 0)
      return true;
    if (moved == 0 && c != HS::kDone && s != HS::kDone) {
      ADD_FAILURE() << "handshake stalled";
      return false;
    }
  }
  ADD_FAILURE() << "handshake did not finish";
  return false;
}

// Reads everything decryptable; returns the status that ended the loop.
RS ReadAll(TlsStream& s, std::string& out) {
  for (;;) {
    const RS r = s.ReadPlaintext(out);
    if (r != RS::kData)
      return r;
  }
}

// Sends `data` from one stream to the other, delivering `chunk` bytes at a time.
std::string Send(TlsStream& from, TlsStream& to, const std::string& data, size_t chunk = SIZE_MAX) {
  EXPECT_TRUE(from.WritePlaintext(data)) << from.error_message();
  std::string got;
  while (from.has_pending_ciphertext()) {
    Transfer(from, to, chunk, /*zero_copy=*/chunk % 2 == 1);
    EXPECT_EQ(ReadAll(to, got), RS::kWantRead) << to.error_message();
    Transfer(to, from);  // Anything the reader produced (tickets, key updates).
  }
  return got;
}

std::string Pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!g_setup_error.empty())
      GTEST_SKIP() << g_setup_error;
  }
};

// ---- Contexts ----

TEST_F(TlsTest, ContextErrorsAreClear) {
  TlsServerOptions missing = ServerOptions();
  missing.cert_chain_file = Path("nope.pem");
  auto r = TlsContext::NewServer(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot read certificate chain file"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("nope.pem"), std::string::npos);

  TlsServerOptions garbage = ServerOptions();
  garbage.cert_chain_file = Path("garbage.pem");
  r = TlsContext::NewServer(garbage);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad PEM"), std::string::npos) << r.status().message();

  TlsServerOptions bad_key = ServerOptions();
  bad_key.key_file = Path("garbage.pem");
  r = TlsContext::NewServer(bad_key);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad PEM in private key"), std::string::npos)
      << r.status().message();

  TlsServerOptions mismatch = ServerOptions();
  mismatch.key_file = Path("wrong.example.key");
  r = TlsContext::NewServer(mismatch);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not match"), std::string::npos) << r.status().message();

  TlsClientOptions no_bundle = ClientOptions();
  no_bundle.ca_bundle_file = Path("missing-bundle.crt");
  r = TlsContext::NewClient(no_bundle);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot read CA bundle file"), std::string::npos)
      << r.status().message();

  TlsClientOptions bad_ca = ClientOptions();
  bad_ca.extra_ca_file = Path("garbage.pem");
  r = TlsContext::NewClient(bad_ca);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad PEM in extra CA file"), std::string::npos)
      << r.status().message();

  TlsClientOptions no_roots = ClientOptions();
  no_roots.extra_ca_file.clear();
  EXPECT_FALSE(TlsContext::NewClient(no_roots).ok());

  TlsClientOptions bad_alpn = ClientOptions();
  bad_alpn.alpn = {""};
  EXPECT_FALSE(TlsContext::NewClient(bad_alpn).ok());
}

TEST_F(TlsTest, SystemBundleLoadsWhenPresent) {
  TlsClientOptions o;  // Defaults: the system bundle.
  if (access(o.ca_bundle_file.c_str(), R_OK) != 0)
    GTEST_SKIP() << "no system CA bundle";
  o.extra_ca_file = Path("ca.pem");
  auto ctx = MustClientCtx(o);
  ASSERT_NE(ctx, nullptr);
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*ctx, "localhost");
  auto server = MustServer(*server_ctx);
  EXPECT_TRUE(HandshakeBoth(*client, *server)) << client->error_message();
}

TEST_F(TlsTest, StreamKindMustMatchContext) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions());
  EXPECT_FALSE(TlsStream::Client(*server_ctx, "localhost", nullptr).ok());
  EXPECT_FALSE(TlsStream::Server(*client_ctx).ok());
  EXPECT_FALSE(TlsStream::Client(*client_ctx, "", nullptr).ok());
}

// ---- Handshake and data ----

TEST_F(TlsTest, HandshakeThenDataBothWays) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server))
      << client->error_message() << " / " << server->error_message();
  EXPECT_TRUE(client->handshake_done());
  EXPECT_TRUE(server->handshake_done());
  EXPECT_EQ(client->verify_result(), X509_V_OK);
  EXPECT_EQ(client->error(), TlsError::kNone);
  EXPECT_TRUE(client->status().ok());
  EXPECT_FALSE(client->session_reused());
  EXPECT_EQ(SSL_version(client->native()), TLS1_3_VERSION);

  EXPECT_EQ(Send(*client, *server, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(Send(*server, *client, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  std::string nothing;
  EXPECT_EQ(client->ReadPlaintext(nothing), RS::kWantRead);
  EXPECT_TRUE(nothing.empty());
}

TEST_F(TlsTest, Tls12HandshakeAndData) {
  auto client_ctx = MustClientCtx(ClientOptions(TlsVersion::kTls12));
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server)) << client->error_message();
  EXPECT_EQ(SSL_version(client->native()), TLS1_2_VERSION);
  EXPECT_EQ(Send(*client, *server, "ping"), "ping");
  EXPECT_EQ(Send(*server, *client, "pong"), "pong");
}

TEST_F(TlsTest, ChainFileWithIntermediatesAndIpHost) {
  TlsServerOptions so = ServerOptions();
  so.cert_chain_file = Path("localhost-chain.pem");
  auto server_ctx = MustServerCtx(so);
  auto client_ctx = MustClientCtx(ClientOptions());
  auto client = MustClient(*client_ctx, "127.0.0.1");
  auto server = MustServer(*server_ctx);
  EXPECT_TRUE(HandshakeBoth(*client, *server)) << client->error_message();

  auto client2 = MustClient(*client_ctx, "127.0.0.2");
  auto server2 = MustServer(*server_ctx);
  EXPECT_FALSE(HandshakeBoth(*client2, *server2));
  EXPECT_EQ(client2->error(), TlsError::kHostnameMismatch) << client2->error_message();
}

TEST_F(TlsTest, LargeDataBothWays) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server));
  const std::string up = Pattern(1 << 20, 1);
  const std::string down = Pattern(1 << 20, 2);
  EXPECT_EQ(Send(*client, *server, up), up);
  EXPECT_EQ(Send(*server, *client, down), down);
  // Odd-sized deliveries that split records everywhere.
  EXPECT_EQ(Send(*client, *server, up, 7919), up);
  EXPECT_EQ(Send(*server, *client, down, 4096), down);

  // Whole output moved with DrainCiphertextTo (the OutputQueue path).
  ASSERT_TRUE(server->WritePlaintext(down));
  std::string wire = "prefix";
  server->DrainCiphertextTo(wire);
  EXPECT_FALSE(server->has_pending_ciphertext());
  EXPECT_GT(wire.size(), down.size());
  client->FeedCiphertext(std::string_view(wire).substr(6));
  std::string got;
  EXPECT_EQ(ReadAll(*client, got), RS::kWantRead);
  EXPECT_EQ(got, down);
}

TEST_F(TlsTest, ByteAtATime) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server, 1))
      << client->error_message() << " / " << server->error_message();
  EXPECT_EQ(Send(*client, *server, "hello, byte by byte", 1), "hello, byte by byte");
  EXPECT_EQ(Send(*server, *client, Pattern(3000, 3), 1), Pattern(3000, 3));
}

TEST_F(TlsTest, ByteAtATimeTls12) {
  auto client_ctx = MustClientCtx(ClientOptions(TlsVersion::kTls12));
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server, 1)) << client->error_message();
  EXPECT_EQ(Send(*client, *server, "twelve", 1), "twelve");
}

TEST_F(TlsTest, ReadPlaintextDrivesTheHandshake) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  std::string c_out, s_out;
  for (int i = 0; i < 20 && !(client->handshake_done() && server->handshake_done()); ++i) {
    EXPECT_EQ(client->ReadPlaintext(c_out), RS::kWantRead);
    Transfer(*client, *server);
    EXPECT_EQ(server->ReadPlaintext(s_out), RS::kWantRead);
    Transfer(*server, *client);
  }
  EXPECT_TRUE(client->handshake_done());
  EXPECT_TRUE(server->handshake_done());
}

// ---- Verification ----

TEST_F(TlsTest, WrongHostnameRejected) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions("wrong.example"));
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  EXPECT_FALSE(HandshakeBoth(*client, *server));
  EXPECT_EQ(client->error(), TlsError::kHostnameMismatch);
  EXPECT_EQ(client->verify_result(), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_NE(client->error_message().find("certificate verify failed"), std::string::npos)
      << client->error_message();
  EXPECT_FALSE(client->status().ok());
  EXPECT_NE(client->status().message().find("hostname mismatch"), std::string::npos)
      << client->status().message();
  // The alert reaches the server, which fails its handshake too.
  Transfer(*client, *server);
  EXPECT_EQ(server->Handshake(), HS::kError);
  EXPECT_EQ(server->error(), TlsError::kHandshake) << server->error_message();
  // The stream stays failed.
  EXPECT_EQ(client->Handshake(), HS::kError);
  std::string out;
  EXPECT_EQ(client->ReadPlaintext(out), RS::kError);
  EXPECT_FALSE(client->WritePlaintext("x"));
}

TEST_F(TlsTest, UnknownCaRejected) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions("rogue"));
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  EXPECT_FALSE(HandshakeBoth(*client, *server));
  EXPECT_EQ(client->error(), TlsError::kCertificateVerify) << client->error_message();
  EXPECT_NE(client->verify_result(), X509_V_OK);
  EXPECT_NE(client->error_message().find("certificate verify failed: "), std::string::npos)
      << client->error_message();
}

// ---- ALPN ----

TEST_F(TlsTest, AlpnHttp11Negotiated) {
  TlsClientOptions co = ClientOptions();
  co.alpn = {"h2", "http/1.1"};
  auto client_ctx = MustClientCtx(co);
  TlsServerOptions so = ServerOptions();
  so.alpn = {"http/1.1", "h2"};  // The server prefers http/1.1.
  auto server_ctx = MustServerCtx(so);
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server));
  EXPECT_EQ(client->alpn(), "http/1.1");
  EXPECT_EQ(server->alpn(), "http/1.1");

  // Default options on both sides.
  auto client_ctx2 = MustClientCtx(ClientOptions());
  auto server_ctx2 = MustServerCtx(ServerOptions());
  auto client2 = MustClient(*client_ctx2, "localhost");
  auto server2 = MustServer(*server_ctx2);
  ASSERT_TRUE(HandshakeBoth(*client2, *server2));
  EXPECT_EQ(client2->alpn(), "http/1.1");

  // No common protocol: no ALPN, the connection still works.
  TlsClientOptions only_h2 = ClientOptions();
  only_h2.alpn = {"h2"};
  auto client_ctx3 = MustClientCtx(only_h2);
  auto client3 = MustClient(*client_ctx3, "localhost");
  auto server3 = MustServer(*server_ctx2);
  ASSERT_TRUE(HandshakeBoth(*client3, *server3));
  EXPECT_EQ(client3->alpn(), "");
}

TEST_F(TlsTest, ServerStreamOutlivesItsContext) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  server_ctx.reset();
  client_ctx.reset();
  ASSERT_TRUE(HandshakeBoth(*client, *server));
  EXPECT_EQ(server->alpn(), "http/1.1");
}

// ---- Session resumption ----

void ExpectResumption(TlsVersion version) {
  auto client_ctx = MustClientCtx(ClientOptions(version));
  auto server_ctx = MustServerCtx(ServerOptions());
  TlsSessionCache cache;
  const std::string key = TlsSessionCache::Key("localhost", 443);
  {
    auto client = MustClient(*client_ctx, "localhost", &cache);
    auto server = MustServer(*server_ctx);
    ASSERT_TRUE(HandshakeBoth(*client, *server));
    EXPECT_FALSE(client->session_reused());
    // TLS 1.3 tickets arrive after the handshake; reading processes them.
    EXPECT_EQ(Send(*server, *client, "first"), "first");
  }
  const size_t cached = cache.size(key);
  ASSERT_GE(cached, 1u);
  {
    auto client = MustClient(*client_ctx, "localhost", &cache);
    if (version == TlsVersion::kTls13) {
      EXPECT_EQ(cache.size(key), cached - 1);  // Single-use: taken when offered.
    } else {
      EXPECT_EQ(cache.size(key), cached);  // Reusable: stays.
    }
    auto server = MustServer(*server_ctx);
    ASSERT_TRUE(HandshakeBoth(*client, *server)) << client->error_message();
    EXPECT_TRUE(client->session_reused());
    EXPECT_TRUE(server->session_reused());
    EXPECT_EQ(SSL_version(client->native()), static_cast<int>(version));
    EXPECT_EQ(client->alpn(), "http/1.1");
    EXPECT_EQ(Send(*client, *server, "second"), "second");
    EXPECT_EQ(Send(*server, *client, "reply"), "reply");
  }
  // A different port is a different peer: nothing to offer.
  {
    auto other = MustClient(*client_ctx, "localhost", &cache, 8443);
    auto server = MustServer(*server_ctx);
    ASSERT_TRUE(HandshakeBoth(*other, *server));
    EXPECT_FALSE(other->session_reused());
  }
}

TEST_F(TlsTest, SessionResumptionTls12) {
  ExpectResumption(TlsVersion::kTls12);
}
TEST_F(TlsTest, SessionResumptionTls13) {
  ExpectResumption(TlsVersion::kTls13);
}

TEST_F(TlsTest, SessionCacheDropsExpiredAndCaps) {
  auto client_ctx = MustClientCtx(ClientOptions());
  TlsServerOptions so = ServerOptions();
  so.num_tickets = 4;
  auto server_ctx = MustServerCtx(so);
  TlsSessionCache cache(/*max_per_peer=*/3);
  const std::string key = TlsSessionCache::Key("localhost", 443);
  auto client = MustClient(*client_ctx, "localhost", &cache);
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server));
  EXPECT_EQ(Send(*server, *client, "x"), "x");
  EXPECT_EQ(cache.size(key), 3u);  // Four tickets, capped at three.
  EXPECT_EQ(cache.peers(), 1u);

  // Far in the future every session has expired: nothing offered, the peer is forgotten.
  EXPECT_EQ(cache.Take(key, /*now_unix=*/uint64_t{1} << 40), nullptr);
  EXPECT_EQ(cache.size(key), 0u);
  EXPECT_EQ(cache.peers(), 0u);
  EXPECT_EQ(cache.Take("nobody:443"), nullptr);
  EXPECT_EQ(TlsSessionCache::Key("::1", 443), "[::1]:443");

  // Null and non-resumable sessions are not stored.
  cache.Put(key, nullptr);
  cache.Put(key, SslSessionPtr(SSL_SESSION_new(client_ctx->native())));
  EXPECT_EQ(cache.size(key), 0u);
}

TEST_F(TlsTest, SessionCacheEvictsPeersBeyondLimit) {
  auto client_ctx = MustClientCtx(ClientOptions(TlsVersion::kTls12));
  auto server_ctx = MustServerCtx(ServerOptions());
  TlsSessionCache cache(/*max_per_peer=*/2, /*max_peers=*/2);
  for (uint16_t port : {1, 2, 3}) {
    auto client = MustClient(*client_ctx, "localhost", &cache, port);
    auto server = MustServer(*server_ctx);
    ASSERT_TRUE(HandshakeBoth(*client, *server));
  }
  EXPECT_EQ(cache.peers(), 2u);
}

// ---- Closing ----

TEST_F(TlsTest, CloseNotifyIsCleanClose) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server));

  // Data then close_notify in the same flight: data first, then kClosed.
  ASSERT_TRUE(server->WritePlaintext("last words"));
  server->Shutdown();
  EXPECT_TRUE(server->shutdown_sent());
  EXPECT_FALSE(server->WritePlaintext("more"));
  EXPECT_EQ(server->error(), TlsError::kClosed);
  Transfer(*server, *client);
  std::string got;
  EXPECT_EQ(client->ReadPlaintext(got), RS::kData);
  EXPECT_EQ(got, "last words");
  EXPECT_EQ(client->ReadPlaintext(got), RS::kClosed);
  EXPECT_TRUE(client->peer_closed());
  EXPECT_EQ(client->error(), TlsError::kNone);
  // A socket EOF after close_notify is still a clean close.
  client->OnSocketEof();
  EXPECT_EQ(client->ReadPlaintext(got), RS::kClosed);
  EXPECT_EQ(got, "last words");

  // The client answers with its own close_notify.
  client->Shutdown();
  Transfer(*client, *server);
  std::string server_got;
  EXPECT_EQ(server->ReadPlaintext(server_got), RS::kClosed);
}

TEST_F(TlsTest, TruncationIsAbruptEof) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server));

  // Whole records but no close_notify, then the socket ends.
  ASSERT_TRUE(server->WritePlaintext("partial body"));
  Transfer(*server, *client);
  std::string got;
  EXPECT_EQ(ReadAll(*client, got), RS::kWantRead);
  EXPECT_EQ(got, "partial body");
  client->OnSocketEof();
  EXPECT_EQ(client->ReadPlaintext(got), RS::kAbruptEof);
  EXPECT_EQ(client->error(), TlsError::kUnexpectedEof);
  EXPECT_NE(client->error_message().find("close_notify"), std::string::npos);
  EXPECT_EQ(client->ReadPlaintext(got), RS::kAbruptEof);
}

TEST_F(TlsTest, TruncationMidRecordIsAbruptEof) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server));
  ASSERT_TRUE(server->WritePlaintext(Pattern(1000, 9)));
  const size_t total = server->PendingCiphertext().size();
  Transfer(*server, *client, total - 10);  // The record's last bytes never arrive.
  std::string got;
  EXPECT_EQ(client->ReadPlaintext(got), RS::kWantRead);
  client->OnSocketEof();
  EXPECT_EQ(client->ReadPlaintext(got), RS::kAbruptEof);
  EXPECT_TRUE(got.empty());
}

TEST_F(TlsTest, EofDuringHandshake) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto client = MustClient(*client_ctx, "localhost");
  EXPECT_EQ(client->Handshake(), HS::kWantIO);
  EXPECT_TRUE(client->has_pending_ciphertext());  // The ClientHello.
  client->OnSocketEof();
  EXPECT_EQ(client->Handshake(), HS::kError);
  EXPECT_EQ(client->error(), TlsError::kUnexpectedEof);
  std::string out;
  EXPECT_EQ(client->ReadPlaintext(out), RS::kAbruptEof);
}

TEST_F(TlsTest, GarbageFromPeerIsAnError) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto server_ctx = MustServerCtx(ServerOptions());
  auto client = MustClient(*client_ctx, "localhost");
  auto server = MustServer(*server_ctx);
  ASSERT_TRUE(HandshakeBoth(*client, *server));
  client->FeedCiphertext(std::string(64, '\x17'));
  std::string out;
  EXPECT_EQ(client->ReadPlaintext(out), RS::kError);
  EXPECT_EQ(client->error(), TlsError::kProtocol) << client->error_message();
  EXPECT_FALSE(client->error_message().empty());
  EXPECT_TRUE(client->has_pending_ciphertext());  // The alert for the peer.
}

TEST_F(TlsTest, WriteBeforeHandshakeFails) {
  auto client_ctx = MustClientCtx(ClientOptions());
  auto client = MustClient(*client_ctx, "localhost");
  EXPECT_FALSE(client->WritePlaintext("early"));
  EXPECT_EQ(client->error(), TlsError::kInternal);
}

TEST(TlsErrorNameTest, Names) {
  EXPECT_STREQ(TlsErrorName(TlsError::kNone), "none");
  EXPECT_STREQ(TlsErrorName(TlsError::kCertificateVerify), "certificate verify");
  EXPECT_STREQ(TlsErrorName(TlsError::kHostnameMismatch), "hostname mismatch");
  EXPECT_STREQ(TlsErrorName(TlsError::kUnexpectedEof), "unexpected eof");
}

}  // namespace
}  // namespace ringgate
