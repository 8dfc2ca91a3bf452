// TlsContext: one BoringSSL SSL_CTX configured either as an upstream client (verification against
// the system roots plus an optional extra CA, TLS 1.2 minimum, ALPN, client session cache hook)
// or as a server (certificate chain + key, ALPN selection).
//
// A context is immutable after creation; SSL_CTX is reference counted and thread-safe, so one
// context may be shared by all cores, and streams made from it keep the SSL_CTX alive (they may
// outlive the TlsContext object). Per-core state (sessions) lives in TlsSessionCache.
#pragma once

#include <openssl/base.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ringgate/common/result.h"

namespace ringgate {

enum class TlsVersion : uint16_t { kTls12 = 0x0303, kTls13 = 0x0304 };

struct TlsClientOptions {
  // PEM bundle of trusted roots; empty means "no system roots" (tests use only extra_ca_file).
  std::string ca_bundle_file = "/etc/ssl/certs/ca-certificates.crt";
  // Optional additional PEM file of trusted CAs (UPSTREAM_CA_FILE), trusted on top of the bundle.
  std::string extra_ca_file;
  // ALPN protocols offered, most preferred first. Empty: no ALPN extension.
  std::vector<std::string> alpn = {"http/1.1"};
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
};

struct TlsServerOptions {
  std::string cert_chain_file;  // PEM: leaf first, then intermediates.
  std::string key_file;         // PEM private key matching the leaf.
  // ALPN protocols the server accepts, most preferred first. Empty: ALPN is not acknowledged.
  std::vector<std::string> alpn = {"http/1.1"};
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
  // TLS 1.3 tickets sent after each full handshake (BoringSSL's default is 2).
  int num_tickets = 2;
};

class TlsContext {
 public:
  // Errors name the file and the reason: "file not found", "bad PEM", "key does not match".
  static Result<std::unique_ptr<TlsContext>> NewClient(const TlsClientOptions& options);
  static Result<std::unique_ptr<TlsContext>> NewServer(const TlsServerOptions& options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool is_server() const { return is_server_; }
  SSL_CTX* native() const { return ctx_; }
  // The configured ALPN list in wire format (length-prefixed names).
  const std::string& alpn_wire() const { return alpn_wire_; }

 private:
  TlsContext(SSL_CTX* ctx, bool is_server) : ctx_(ctx), is_server_(is_server) {}

  SSL_CTX* ctx_;
  bool is_server_;
  std::string alpn_wire_;
};

}  // namespace ringgate
