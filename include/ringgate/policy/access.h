// AccessPolicy: who may use the proxy routes. The API password (HAJIMI's PASSWORD), the
// User-Agent allow-list (WHITELIST_USER_AGENT) and CORS (ALLOWED_ORIGINS). Pure logic: it reads a
// parsed HttpRequest and returns status codes, JSON bodies and preformatted header lines; the
// caller sends them through its Responder.
//
// Order a handler follows for a proxy route (HAJIMI runs the password check before the UA check):
//
//   if (policy.IsPreflight(req)) {                  // before auth: preflights carry no password
//     PreflightResponse p = policy.Preflight(req);
//     responder.Send(p.status, p.content_type, p.body, p.headers);
//     return;
//   }
//   std::string cors = policy.CorsHeaders(req);     // on every answer, errors included
//   AuthResult auth = policy.Authenticate(req);
//   if (!auth.ok()) {
//     responder.Send(auth.status(), "application/json", auth.ErrorBody(), cors);
//     return;
//   }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/http/request.h"

namespace ringgate {

struct AccessSettings {
  // PASSWORD. Clients send it as x-goog-api-key, ?key= or Authorization: Bearer. An empty
  // password matches no token (HAJIMI has no "no password" mode either).
  std::string password = "123";
  // WHITELIST_USER_AGENT: when non-empty, the User-Agent must equal one entry (ASCII
  // case-insensitive).
  std::vector<std::string> user_agent_whitelist;
  // ALLOWED_ORIGINS: empty = no CORS at all (no headers, OPTIONS preflights get the router's 405).
  // "*" allows every origin.
  std::vector<std::string> allowed_origins;
};

// HAJIMI's environment parsing rules (hajimi-behaviour.md 3.1).
// Comma-separated list: items trimmed (ASCII whitespace), empty items dropped, order kept.
std::vector<std::string> ParseHajimiList(std::string_view value);
// true iff the value is "true", "1" or "yes", ASCII case-insensitive, after trimming.
bool ParseHajimiBool(std::string_view value);
// Python's str.strip('"'): every leading and trailing double quote removed (not single quotes).
std::string StripDoubleQuotes(std::string_view value);

// From the raw environment values; std::nullopt = the variable is unset.
//   PASSWORD: default "123", double quotes stripped.
//   WHITELIST_USER_AGENT, ALLOWED_ORIGINS: lists as ParseHajimiList.
AccessSettings AccessSettingsFromEnv(std::optional<std::string_view> password,
                                     std::optional<std::string_view> whitelist_user_agent,
                                     std::optional<std::string_view> allowed_origins);

enum class AuthOutcome : uint8_t {
  kOk,
  kMissingPassword,   // no x-goog-api-key, no ?key=, no Authorization: Bearer
  kWrongPassword,     // a token that is not the password
  kClientNotAllowed,  // the password matched but the User-Agent is not on the allow-list
};

struct AuthResult {
  AuthOutcome outcome = AuthOutcome::kOk;

  bool ok() const { return outcome == AuthOutcome::kOk; }
  // 200 when ok, 401 for a missing or wrong password, 403 for a refused User-Agent.
  int status() const;
  // OpenAI-format error with HAJIMI's "detail" beside it, e.g.
  //   {"error":{"message":"...","type":"authentication_error","code":"invalid_api_key"},
  //    "detail":"Unauthorized: Invalid token"}
  // Empty when ok.
  std::string ErrorBody() const;
};

// The answer to a CORS preflight.
struct PreflightResponse {
  int status = 204;               // 204 allowed; 403 refused origin or method
  std::string_view content_type;  // "" for 204, "application/json" for 403
  std::string body;               // empty for 204; OpenAI-format error for 403
  std::string headers;            // "Name: value\r\n" lines for the Responder
};

class AccessPolicy {
 public:
  explicit AccessPolicy(AccessSettings settings);

  // Password first (x-goog-api-key, then ?key= URL-decoded, then Authorization: Bearer; the first
  // non-empty one is the token), compared in constant time; then the User-Agent allow-list.
  AuthResult Authenticate(const HttpRequest& request) const;

  bool cors_enabled() const { return !origins_.empty(); }
  bool OriginAllowed(std::string_view origin) const;

  // OPTIONS with Origin and Access-Control-Request-Method, while CORS is enabled. Answer it with
  // Preflight() before authentication and routing.
  bool IsPreflight(const HttpRequest& request) const;
  PreflightResponse Preflight(const HttpRequest& request) const;

  // Header lines for a normal (non-preflight) response: nothing when CORS is disabled;
  // "Vary: Origin" whenever it is enabled; plus Access-Control-Allow-Origin (the request's Origin,
  // echoed) and Access-Control-Allow-Credentials: true when the Origin is allowed.
  void AppendCorsHeaders(const HttpRequest& request, std::string& out) const;
  std::string CorsHeaders(const HttpRequest& request) const;

  const AccessSettings& settings() const { return settings_; }

 private:
  AccessSettings settings_;
  static constexpr size_t kPaddedPasswordBytes = 64;
  uint8_t password_digest_[32] = {};
  uint8_t password_padded_[kPaddedPasswordBytes] = {};  // zero-padded, for passwords <= 64 bytes
  bool password_set_ = false;
  bool any_origin_ = false;
  std::vector<std::string> origins_;  // normalised: lower case, no trailing '/'
};

// The token a request carries (x-goog-api-key, ?key=, Authorization: Bearer), URL-decoded when
// it came from the query. Empty when there is none. Exposed for tests and logging decisions;
// never log the value.
std::string ExtractClientToken(const HttpRequest& request);

}  // namespace ringgate
