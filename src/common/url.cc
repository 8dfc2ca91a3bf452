#include "ringgate/common/url.h"

#include <cctype>

namespace ringgate {
namespace {

bool IsDefaultPort(const Url& url) {
  return (url.scheme == "https" && url.port == 443) || (url.scheme == "http" && url.port == 80);
}

std::string Bracketed(const std::string& host) {
  if (host.find(':') == std::string::npos) return host;
  std::string out;
  out.reserve(host.size() + 2);
  out.push_back('[');
  out.append(host);
  out.push_back(']');
  return out;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string Url::HostHeader() const {
  std::string out = Bracketed(host);
  if (!IsDefaultPort(*this)) {
    out.push_back(':');
    out.append(std::to_string(port));
  }
  return out;
}

std::string Url::Authority() const {
  std::string out = Bracketed(host);
  out.push_back(':');
  out.append(std::to_string(port));
  return out;
}

Result<Url> ParseUrl(std::string_view text) {
  Url url;
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return Status::Error("expected a URL such as https://host[:port], got '" + std::string(text) +
                         "'");
  }
  url.scheme = ToLower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    return Status::Error("unsupported URL scheme '" + url.scheme + "' (use http or https)");
  }
  std::string_view rest = text.substr(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Status::Error("a query string or fragment is not allowed in '" + std::string(text) +
                         "'");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    url.base_path = std::string(path);
  }
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    url.userinfo = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::Error("unclosed '[' in URL host");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::Error("unexpected text after IPv6 host in URL");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return Status::Error("missing host in URL '" + std::string(text) + "'");
  url.host = ToLower(url.host);
  if (port_text.empty()) {
    url.port = url.tls() ? 443 : 80;
  } else {
    unsigned port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) return Status::Error("bad port in URL");
      port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535) return Status::Error("bad port in URL");
    url.port = static_cast<uint16_t>(port);
  }
  return url;
}

bool NoProxyMatches(std::string_view no_proxy, std::string_view host) {
  std::string h = ToLower(host);
  size_t start = 0;
  while (start <= no_proxy.size()) {
    size_t comma = no_proxy.find(',', start);
    std::string_view item =
        no_proxy.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                               : comma - start);
    while (!item.empty() && isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
    while (!item.empty() && isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
    if (item == "*") return true;
    if (!item.empty() && item.front() == '[') {
      item.remove_prefix(1);
      if (size_t close = item.find(']'); close != std::string_view::npos) item = item.substr(0, close);
    } else if (size_t colon = item.rfind(':');
               colon != std::string_view::npos && item.find(':') == colon) {
      item = item.substr(0, colon);  // "host:port": the port does not matter
    }
    if (!item.empty() && item.front() == '.') item.remove_prefix(1);
    std::string entry = ToLower(item);
    if (!entry.empty()) {
      if (h == entry) return true;
      if (h.size() > entry.size() && h.compare(h.size() - entry.size(), entry.size(), entry) == 0 &&
          h[h.size() - entry.size() - 1] == '.') {
        return true;
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return false;
}

std::string BasicAuthToken(std::string_view userinfo) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string plain;
  size_t colon = userinfo.find(':');
  plain = PercentDecode(userinfo.substr(0, colon));
  plain += ':';
  if (colon != std::string_view::npos) plain += PercentDecode(userinfo.substr(colon + 1));
  std::string out;
  size_t i = 0;
  for (; i + 2 < plain.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(plain[i]) << 16) | (static_cast<uint8_t>(plain[i + 1]) << 8) |
                 static_cast<uint8_t>(plain[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == plain.size()) {
    uint32_t v = static_cast<uint8_t>(plain[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == plain.size()) {
    uint32_t v = (static_cast<uint8_t>(plain[i]) << 16) | (static_cast<uint8_t>(plain[i + 1]) << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace ringgate
