#include "ringgate/json/json_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "ringgate/common/utf8.h"

namespace ringgate {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Bytes that need attention: '"', '\\', control characters and every non-ASCII byte (to check
// UTF-8). Everything else is copied in runs.
constexpr bool IsPlain(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

// True when none of the 8 bytes needs attention (SWAR: no byte < 0x20, >= 0x80, '"' or '\\').
inline bool EightPlain(const char* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  uint64_t below_space = (v - kOnes * 0x20) & ~v;
  uint64_t quote = v ^ (kOnes * '"');
  uint64_t backslash = v ^ (kOnes * '\\');
  uint64_t is_quote = (quote - kOnes) & ~quote;
  uint64_t is_backslash = (backslash - kOnes) & ~backslash;
  return ((below_space | is_quote | is_backslash | v) & kHigh) == 0;
}

}  // namespace

void GrowForAppend(std::string& out, size_t needed) {
  out.reserve(std::max(needed, 2 * out.capacity()));
}

size_t PlainJsonPrefix(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i + 8 <= n && EightPlain(text.data() + i))
    i += 8;
  while (i < n && IsPlain(static_cast<unsigned char>(text[i])))
    ++i;
  return i;
}

void AppendJsonString(std::string& out, std::string_view text) {
  size_t run = 0;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    while (i + 8 <= n && EightPlain(text.data() + i))
      i += 8;
    while (i < n && IsPlain(static_cast<unsigned char>(text[i])))
      ++i;
    if (i >= n)
      break;
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t length = Utf8SequenceLength(text, i);
      if (length != 0) {
        i += length;
        continue;
      }
      out.append(text.data() + run, i - run);
      out.append("\xef\xbf\xbd");  // U+FFFD for a byte that is not valid UTF-8
      run = ++i;
      continue;
    }
    out.append(text.data() + run, i - run);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, 6);
      }
    }
    run = ++i;
  }
  out.append(text.data() + run, n - run);
}

void JsonWriter::Int(int64_t value) {
  bool comma = NeedComma();
  AppendWith(out_, 21, [&](char* at) {
    *at = ',';
    at += comma;
    return std::to_chars(at, at + 20, value).ptr;
  });
}

void JsonWriter::Uint(uint64_t value) {
  bool comma = NeedComma();
  AppendWith(out_, 21, [&](char* at) {
    *at = ',';
    at += comma;
    return std::to_chars(at, at + 20, value).ptr;
  });
}

void JsonWriter::Double(double value) {
  if (!std::isfinite(value)) {
    Null();
    return;
  }
  bool comma = NeedComma();
  // The shortest round-trip form of a double is at most 24 characters.
  AppendWith(out_, 33, [&](char* at) {
    *at = ',';
    at += comma;
    return std::to_chars(at, at + 32, value).ptr;
  });
}

}  // namespace ringgate
