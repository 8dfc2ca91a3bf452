// HeaderCollector: the header fields llhttp hands over in pieces (a name or a value may be split
// across reads), appended to the parser's storage string and remembered as (offset, length)
// spans. Once the head is complete, Views() gives name/value views into that storage (values
// without surrounding blanks). Shared by the request and the response parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/http/request.h"

namespace ringgate {

class HeaderCollector {
 public:
  void Clear() {
    spans_.clear();
    in_value_ = false;
  }
  void AppendName(std::string& storage, const char* at, size_t length) {
    if (spans_.empty() || in_value_) {
      spans_.push_back(Span{static_cast<uint32_t>(storage.size()), 0, 0, 0});
      in_value_ = false;
    }
    storage.append(at, length);
    spans_.back().name_length += static_cast<uint32_t>(length);
  }
  // The name is complete: the value (possibly empty) starts here.
  void NameComplete(const std::string& storage) {
    spans_.back().value_offset = static_cast<uint32_t>(storage.size());
    in_value_ = true;
  }
  void AppendValue(std::string& storage, const char* at, size_t length) {
    storage.append(at, length);
    spans_.back().value_length += static_cast<uint32_t>(length);
  }

  // Replaces `out` with views into `storage`, values trimmed of spaces and tabs.
  void Views(std::string_view storage, std::vector<HttpHeader>* out) const {
    out->clear();
    for (const Span& span : spans_) {
      std::string_view value = storage.substr(span.value_offset, span.value_length);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
      }
      out->push_back({storage.substr(span.name_offset, span.name_length), value});
    }
  }

  // Gives back memory an unusually large header block left behind.
  void ShrinkIfLarge(size_t keep) {
    if (spans_.capacity() > keep)
      std::vector<Span>().swap(spans_);
  }

 private:
  struct Span {
    uint32_t name_offset, name_length, value_offset, value_length;
  };
  std::vector<Span> spans_;
  bool in_value_ = false;
};

}  // namespace ringgate
