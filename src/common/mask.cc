#include "ringgate/common/mask.h"

#include <cstring>

namespace ringgate {
namespace {

constexpr size_t kShortestApiKey = 30;  // real keys have 39 characters
constexpr std::string_view kKeyStart = "AIza";
constexpr std::string_view kMaskTail = "...";
constexpr size_t kKeptPrefix = 8;

bool IsKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// The length of the key starting at text[i], or 0 when none starts there.
size_t KeyAt(const char* text, size_t size, size_t i) {
  if (size - i < kShortestApiKey || memcmp(text + i, kKeyStart.data(), kKeyStart.size()) != 0)
    return 0;
  if (i > 0 && IsKeyChar(text[i - 1]))
    return 0;  // inside a longer token
  size_t end = i + kKeyStart.size();
  while (end < size && IsKeyChar(text[end]))
    ++end;
  return end - i >= kShortestApiKey ? end - i : 0;
}

}  // namespace

bool MayHoldApiKey(std::string_view text) {
  // Too short to hold one (model names, request types), or no key start in it.
  return text.size() >= kShortestApiKey &&
         memmem(text.data(), text.size(), kKeyStart.data(), kKeyStart.size()) != nullptr;
}

size_t MaskApiKeysInPlace(char* text, size_t size) {
  if (!MayHoldApiKey(std::string_view(text, size)))
    return size;
  // Nearly every line has no key: start at the first one before moving anything.
  const void* first = memmem(text, size, kKeyStart.data(), kKeyStart.size());
  size_t read = static_cast<const char*>(first) - text;
  size_t write = read;
  while (read < size) {
    size_t key = text[read] == 'A' ? KeyAt(text, size, read) : 0;
    if (key == 0) {
      text[write++] = text[read++];
      continue;
    }
    // The prefix is already in place when nothing has been removed yet; memmove handles both.
    memmove(text + write, text + read, kKeptPrefix);
    write += kKeptPrefix;
    memcpy(text + write, kMaskTail.data(), kMaskTail.size());
    write += kMaskTail.size();
    read += key;
  }
  return write;
}

std::string MaskApiKeys(std::string_view text) {
  std::string out(text);
  out.resize(MaskApiKeysInPlace(out.data(), out.size()));
  return out;
}

}  // namespace ringgate
