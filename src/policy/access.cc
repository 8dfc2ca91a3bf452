#include "ringgate/policy/access.h"

#include <openssl/mem.h>
#include <openssl/sha.h>

#include <utility>

#include "ringgate/json/json_writer.h"

#include <cstring>

namespace ringgate {
namespace {

// HAJIMI's exact texts (FastAPI HTTPException details).
constexpr std::string_view kUnauthorizedDetail = "Unauthorized: Invalid token";
constexpr std::string_view kClientNotAllowedDetail = "Not allowed client";

// What a preflight may ask for: HAJIMI (Starlette's CORSMiddleware, allow_methods=["*"]) allows
// these.
constexpr std::string_view kAllowMethods = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";
constexpr std::string_view kDefaultAllowHeaders =
    "Authorization, Content-Type, x-goog-api-key, x-goog-api-client";
constexpr std::string_view kMaxAge = "600";  // seconds, as Starlette
constexpr size_t kMaxEchoedHeaders = 2048;   // longer Access-Control-Request-Headers: use defaults

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back()))
    s.remove_suffix(1);
  return s;
}

char ToLowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = ToLowerAscii(c);
  return out;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding, as Starlette's query parser: '+' is a space,
// %XX a byte; a malformed escape stays as it is.
std::string FormDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The value of the last `key=` parameter (Starlette's query_params.get returns the last one);
// nullopt when there is none.
std::optional<std::string_view> LastQueryValue(std::string_view query, std::string_view name) {
  std::optional<std::string_view> found;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key == name)
      found = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
  }
  return found;
}

// Header values we echo must be visible ASCII so they can never break the response head.
bool IsVisibleAscii(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e)
      return false;
  }
  return true;
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// A comma-separated list of header names, as Access-Control-Request-Headers carries.
bool IsHeaderNameList(std::string_view s) {
  bool any = false;
  for (char c : s) {
    if (IsTokenChar(c)) {
      any = true;
    } else if (c != ',' && c != ' ' && c != '\t') {
      return false;
    }
  }
  return any;
}

std::string NormaliseOrigin(std::string_view origin) {
  origin = Trim(origin);
  while (!origin.empty() && origin.back() == '/')
    origin.remove_suffix(1);
  return ToLowerAscii(origin);
}

bool IsAllowedPreflightMethod(std::string_view method) {
  // Method names are case-sensitive (RFC 9110), but browsers upper-case the standard ones.
  for (std::string_view m : {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}) {
    if (method == m)
      return true;
  }
  return false;
}

void AppendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

std::string ErrorJson(std::string_view message, std::string_view type, std::string_view code,
                      std::string_view detail) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("error");
  w.BeginObject();
  w.Field("message", message);
  w.Field("type", type);
  w.Key("param");
  w.Null();
  w.Field("code", code);
  w.EndObject();
  if (!detail.empty())
    w.Field("detail", detail);
  w.EndObject();
  return out;
}

}  // namespace

std::vector<std::string> ParseHajimiList(std::string_view value) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = value.find(',');
    std::string_view item = Trim(value.substr(0, comma));
    if (!item.empty())
      out.emplace_back(item);
    if (comma == std::string_view::npos)
      break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

bool ParseHajimiBool(std::string_view value) {
  value = Trim(value);
  return EqualsIgnoreCase(value, "true") || value == "1" || EqualsIgnoreCase(value, "yes");
}

std::string StripDoubleQuotes(std::string_view value) {
  while (!value.empty() && value.front() == '"')
    value.remove_prefix(1);
  while (!value.empty() && value.back() == '"')
    value.remove_suffix(1);
  return std::string(value);
}

AccessSettings AccessSettingsFromEnv(std::optional<std::string_view> password,
                                     std::optional<std::string_view> whitelist_user_agent,
                                     std::optional<std::string_view> allowed_origins) {
  AccessSettings settings;
  if (password.has_value())
    settings.password = StripDoubleQuotes(*password);
  if (whitelist_user_agent.has_value()) {
    // HAJIMI lower-cases the entries; we compare case-insensitively anyway.
    for (std::string& ua : ParseHajimiList(*whitelist_user_agent))
      settings.user_agent_whitelist.push_back(ToLowerAscii(ua));
  }
  if (allowed_origins.has_value())
    settings.allowed_origins = ParseHajimiList(*allowed_origins);
  return settings;
}

int AuthResult::status() const {
  switch (outcome) {
    case AuthOutcome::kOk:
      return 200;
    case AuthOutcome::kMissingPassword:
    case AuthOutcome::kWrongPassword:
      return 401;
    case AuthOutcome::kClientNotAllowed:
      return 403;
  }
  return 401;
}

std::string AuthResult::ErrorBody() const {
  switch (outcome) {
    case AuthOutcome::kOk:
      return {};
    case AuthOutcome::kMissingPassword:
      return ErrorJson(
          "Unauthorized: no API password given; send it as the x-goog-api-key header, the key "
          "query parameter or Authorization: Bearer",
          "authentication_error", "invalid_api_key", kUnauthorizedDetail);
    case AuthOutcome::kWrongPassword:
      return ErrorJson(kUnauthorizedDetail, "authentication_error", "invalid_api_key",
                       kUnauthorizedDetail);
    case AuthOutcome::kClientNotAllowed:
      return ErrorJson("Not allowed client: this User-Agent is not on WHITELIST_USER_AGENT",
                       "permission_error", "client_not_allowed", kClientNotAllowedDetail);
  }
  return {};
}

namespace {

// The token as a view into the request, or into `scratch` when the query value needed decoding:
// no allocation for the common header sources.
std::string_view FindClientToken(const HttpRequest& request, std::string& scratch) {
  std::string_view header = request.Header("x-goog-api-key");
  if (!header.empty())
    return header;
  if (std::optional<std::string_view> key = LastQueryValue(request.query, "key");
      key.has_value() && !key->empty()) {
    if (key->find_first_of("%+") == std::string_view::npos)
      return *key;
    scratch = FormDecode(*key);
    if (!scratch.empty())
      return scratch;
  }
  std::string_view auth = request.Header("authorization");
  if (StartsWithIgnoreCase(auth, "Bearer "))
    return auth.substr(7);
  return {};
}

}  // namespace

std::string ExtractClientToken(const HttpRequest& request) {
  std::string scratch;
  return std::string(FindClientToken(request, scratch));
}

AccessPolicy::AccessPolicy(AccessSettings settings) : settings_(std::move(settings)) {
  password_set_ = !settings_.password.empty();
  SHA256(reinterpret_cast<const uint8_t*>(settings_.password.data()), settings_.password.size(),
         password_digest_);
  memcpy(password_padded_, settings_.password.data(),
         std::min(settings_.password.size(), kPaddedPasswordBytes));
  for (std::string& ua : settings_.user_agent_whitelist)
    ua = ToLowerAscii(Trim(ua));
  for (const std::string& origin : settings_.allowed_origins) {
    std::string normalised = NormaliseOrigin(origin);
    if (normalised.empty())
      continue;
    if (normalised == "*")
      any_origin_ = true;
    origins_.push_back(std::move(normalised));
  }
}

AuthResult AccessPolicy::Authenticate(const HttpRequest& request) const {
  std::string scratch;
  std::string_view token = FindClientToken(request, scratch);
  if (token.empty())
    return {AuthOutcome::kMissingPassword};
  bool match;
  if (settings_.password.size() <= kPaddedPasswordBytes) {
    // Every request compares the same fixed number of bytes, whatever the token and password
    // lengths (both shorter than the pad), so time tells nothing about either; no hash needed.
    uint8_t diff = token.size() == settings_.password.size() ? 0 : 1;
    for (size_t i = 0; i < kPaddedPasswordBytes; ++i) {
      uint8_t t = i < token.size() ? static_cast<uint8_t>(token[i]) : 0;
      diff |= static_cast<uint8_t>(t ^ password_padded_[i]);
    }
    match = diff == 0;
  } else {
    // Fixed-size digests: the comparison time depends on neither the password's length nor its
    // content.
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const uint8_t*>(token.data()), token.size(), digest);
    match = CRYPTO_memcmp(digest, password_digest_, sizeof(digest)) == 0;
  }
  if (!scratch.empty())
    OPENSSL_cleanse(scratch.data(), scratch.size());
  if (!match || !password_set_)
    return {AuthOutcome::kWrongPassword};
  if (!settings_.user_agent_whitelist.empty()) {
    std::string_view ua = request.Header("user-agent");
    bool allowed = false;
    if (!ua.empty()) {
      for (const std::string& entry : settings_.user_agent_whitelist) {
        if (EqualsIgnoreCase(ua, entry)) {
          allowed = true;
          break;
        }
      }
    }
    if (!allowed)
      return {AuthOutcome::kClientNotAllowed};
  }
  return {AuthOutcome::kOk};
}

bool AccessPolicy::OriginAllowed(std::string_view origin) const {
  if (origins_.empty() || origin.empty() || !IsVisibleAscii(origin))
    return false;
  if (any_origin_)
    return true;
  std::string_view o = origin;
  while (!o.empty() && o.back() == '/')
    o.remove_suffix(1);
  for (const std::string& allowed : origins_) {
    if (EqualsIgnoreCase(o, allowed))
      return true;
  }
  return false;
}

bool AccessPolicy::IsPreflight(const HttpRequest& request) const {
  return cors_enabled() && request.method_name == "OPTIONS" && request.HasHeader("origin") &&
         request.HasHeader("access-control-request-method");
}

PreflightResponse AccessPolicy::Preflight(const HttpRequest& request) const {
  PreflightResponse response;
  std::string_view origin = request.Header("origin");
  std::string_view method = Trim(request.Header("access-control-request-method"));
  AppendHeader(response.headers, "Vary",
               "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  if (!OriginAllowed(origin)) {
    response.status = 403;
    response.content_type = "application/json";
    response.body = ErrorJson("CORS: this origin is not in ALLOWED_ORIGINS", "permission_error",
                              "cors_origin_not_allowed", {});
    return response;
  }
  if (!IsAllowedPreflightMethod(method)) {
    response.status = 403;
    response.content_type = "application/json";
    response.body = ErrorJson("CORS: this method is not allowed", "permission_error",
                              "cors_method_not_allowed", {});
    return response;
  }
  AppendHeader(response.headers, "Access-Control-Allow-Origin", origin);
  AppendHeader(response.headers, "Access-Control-Allow-Credentials", "true");
  AppendHeader(response.headers, "Access-Control-Allow-Methods", kAllowMethods);
  // HAJIMI allows all headers: echo what the browser asks for (Starlette does the same).
  std::string_view requested = Trim(request.Header("access-control-request-headers"));
  if (!requested.empty() && requested.size() <= kMaxEchoedHeaders && IsHeaderNameList(requested)) {
    AppendHeader(response.headers, "Access-Control-Allow-Headers", requested);
  } else {
    AppendHeader(response.headers, "Access-Control-Allow-Headers", kDefaultAllowHeaders);
  }
  AppendHeader(response.headers, "Access-Control-Max-Age", kMaxAge);
  // Chrome's Private Network Access: a public page calling a proxy on localhost or the LAN.
  if (EqualsIgnoreCase(Trim(request.Header("access-control-request-private-network")), "true"))
    AppendHeader(response.headers, "Access-Control-Allow-Private-Network", "true");
  return response;
}

void AccessPolicy::AppendCorsHeaders(const HttpRequest& request, std::string& out) const {
  if (!cors_enabled())
    return;
  AppendHeader(out, "Vary", "Origin");
  std::string_view origin = request.Header("origin");
  if (!OriginAllowed(origin))
    return;
  AppendHeader(out, "Access-Control-Allow-Origin", origin);
  AppendHeader(out, "Access-Control-Allow-Credentials", "true");
}

std::string AccessPolicy::CorsHeaders(const HttpRequest& request) const {
  std::string out;
  AppendCorsHeaders(request, out);
  return out;
}

}  // namespace ringgate
