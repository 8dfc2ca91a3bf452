// UTF-8 validation shared by the JSON writer and the logger (both replace invalid bytes by
// U+FFFD so their output is always valid JSON text).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringgate {

// Length of the valid multi-byte UTF-8 sequence starting at s[i], or 0 when none starts there
// (an ASCII byte, a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, or a
// sequence cut by the end of s).
inline size_t Utf8SequenceLength(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t min;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size())
    return 0;
  uint32_t cp = c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

}  // namespace ringgate
