// Upstream URLs and proxy settings: parsing GEMINI_BASE_URL and HTTPS_PROXY, NO_PROXY matching.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringgate/common/result.h"

namespace ringgate {

struct Url {
  std::string scheme;     // "http" or "https"
  std::string host;       // without brackets for IPv6
  uint16_t port = 0;      // defaulted from the scheme
  std::string base_path;  // "" or "/prefix" (no trailing slash)
  std::string userinfo;   // "user:pass" (proxies), still percent-encoded
  bool tls() const { return scheme == "https"; }
  // "host" or "host:port" when the port is not the scheme's default; IPv6 in brackets.
  std::string HostHeader() const;
  // "host:port", IPv6 in brackets: what CONNECT asks for.
  std::string Authority() const;
};

// http(s)://[user:pass@]host[:port][/path]. Query strings and fragments are refused.
Result<Url> ParseUrl(std::string_view text);

// NO_PROXY semantics as curl: comma-separated hosts or domain suffixes (".example.com" or
// "example.com" both match sub.example.com), "*" matches everything; ports are ignored.
bool NoProxyMatches(std::string_view no_proxy, std::string_view host);

// Base64 of "user:pass" after percent-decoding, for Proxy-Authorization: Basic.
std::string BasicAuthToken(std::string_view userinfo);

}  // namespace ringgate
