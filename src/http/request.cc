#include "ringgate/http/request.h"

#include <llhttp.h>

namespace ringgate {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x != y && (x | 0x20) != (y | 0x20))
      return false;
    if (x != y && !((x | 0x20) >= 'a' && (x | 0x20) <= 'z'))
      return false;
  }
  return true;
}

std::string_view FindHeader(const std::vector<HttpHeader>& headers, std::string_view name) {
  for (const HttpHeader& h : headers) {
    // A present header with an empty value still returns a non-null view.
    if (EqualsIgnoreCase(h.name, name))
      return h.value.data() != nullptr ? h.value : h.name.substr(0, 0);
  }
  return {};
}

std::string_view HttpRequest::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

bool HttpRequest::HasHeader(std::string_view name) const {
  return FindHeader(headers, name).data() != nullptr;
}

bool HttpRequest::is_head() const {
  return method == HTTP_HEAD;
}
bool HttpRequest::is_get() const {
  return method == HTTP_GET;
}

}  // namespace ringgate
