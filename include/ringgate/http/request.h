// HttpRequest: one parsed request. The views point into storage owned by the RequestParser and
// stay valid until the parser is fed the next request's bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr;

namespace ringgate {

struct HttpHeader {
  std::string_view name;
  std::string_view value;
};

struct HttpRequest {
  uint8_t method = 0;  // llhttp_method_t
  std::string_view method_name;
  std::string_view target;  // as sent: "/v1/models?key=..."
  std::string_view path;    // target before '?'
  std::string_view query;   // after '?', without it
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  bool keep_alive = true;
  std::vector<HttpHeader> headers;
  std::string body;
  // The TCP peer (AF_INET or AF_INET6), owned by the connection and set by it before every
  // dispatch; null when unknown (getpeername failed, or a request built outside a connection).
  const sockaddr* peer = nullptr;

  // First header with this name (ASCII case-insensitive), or empty.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
  bool is_head() const;
  bool is_get() const;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// The first header with this name (ASCII case-insensitive); a view with a null data() when
// absent, an empty non-null view when present without a value.
std::string_view FindHeader(const std::vector<HttpHeader>& headers, std::string_view name);

}  // namespace ringgate
