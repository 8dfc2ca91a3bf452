// The upstream client's vocabulary: settings, one request, the typed errors, and the interface
// through which a caller receives the response as it arrives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ringgate/http/response_parser.h"
#include "ringgate/common/result.h"
#include "ringgate/common/url.h"

namespace ringgate {

struct UpstreamSettings {
  Url base;                  // GEMINI_BASE_URL
  std::optional<Url> proxy;  // HTTPS_PROXY, unless NO_PROXY names the upstream host
  std::string ca_file;       // UPSTREAM_CA_FILE: trusted on top of the system bundle
  std::string ca_bundle = "/etc/ssl/certs/ca-certificates.crt";
  uint32_t connect_timeout_ms = 10'000;
  uint32_t tls_handshake_timeout_ms = 10'000;
  // From the request's last byte to the response's first: long, models think (HAJIMI: 600 s).
  uint32_t first_byte_timeout_ms = 600'000;
  // Longest silence between two pieces of a response once it started.
  uint32_t idle_gap_timeout_ms = 300'000;
  uint32_t max_idle_per_core = 64;
  // Idle pooled connections older than this are closed, before the server's own idle cut.
  uint32_t max_idle_age_ms = 50'000;
  std::string user_agent = "ringgate/0.1";
};

enum class UpstreamErrorKind : uint8_t {
  kDns,                // the host has no address (yet)
  kConnectRefused,     // ECONNREFUSED
  kConnectTimeout,
  kConnectFailed,      // unreachable network and other connect errors
  kProxy,              // the CONNECT proxy refused or broke the tunnel
  kTlsVerify,          // certificate chain or host name did not verify
  kTlsHandshake,       // other handshake failures
  kTlsTimeout,
  kReset,              // the connection was reset or closed before the response ended
  kFirstByteTimeout,
  kIdleTimeout,        // a started response went silent
  kProtocol,           // the upstream sent something that is not HTTP/1.1
};

const char* UpstreamErrorName(UpstreamErrorKind kind);

struct Config;
// The upstream settings a Config describes (base URL, proxy unless NO_PROXY names the host,
// CA file, timeouts, pool limits).
Result<UpstreamSettings> UpstreamSettingsFromConfig(const Config& config);

struct UpstreamError {
  UpstreamErrorKind kind;
  std::string message;
  bool response_started = false;  // the head had been delivered
};

// One request. Views must stay valid until Start() returns: the connection serialises them.
struct UpstreamRequest {
  std::string_view method = "POST";
  std::string_view path;  // "/v1beta/models/gemini-2.5-flash:generateContent" (+ query)
  std::string_view api_key;  // sent as x-goog-api-key, never in the URL
  std::string_view content_type = "application/json";
  std::string_view body;
  std::string_view extra_headers;  // preformatted lines ending in "\r\n"
  bool head = false;
  // Limit for a non-stream body; kNoBodyLimit for streams.
  uint64_t max_body_bytes = ResponseParser::kNoBodyLimit;
};

class UpstreamHandler {
 public:
  virtual ~UpstreamHandler() = default;
  virtual void OnUpstreamHead(const HttpResponseHead& head) = 0;
  // A piece of the body, a view valid during the call. Return false to pause reading (the
  // upstream's window fills, TCP pushes back); UpstreamExchange::Resume() continues.
  virtual bool OnUpstreamBody(std::string_view piece) = 0;
  virtual void OnUpstreamComplete() = 0;
  // Exactly one of Complete or Error ends an exchange; the handle is invalid afterwards.
  virtual void OnUpstreamError(const UpstreamError& error) = 0;
};

// The caller's handle on an exchange in progress.
class UpstreamExchange {
 public:
  virtual ~UpstreamExchange() = default;
  virtual void Resume() = 0;
  // Ends the exchange without further callbacks; its connection is closed, never pooled.
  virtual void Cancel() = 0;
};

}  // namespace ringgate
