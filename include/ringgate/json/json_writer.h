// JsonWriter: append-only JSON output straight into a caller's std::string (a response buffer,
// an output queue's pending bytes), escape-correct, with commas placed automatically.
//
//   JsonWriter w(out);
//   w.BeginObject();
//   w.Key("model"); w.String("gemini-2.5-flash");
//   w.Key("n");     w.Int(2);
//   w.Key("parts"); w.BeginArray(); w.Raw(R"({"text":"hi"})"); w.EndArray();
//   w.EndObject();
//
// The writer does not validate nesting beyond what it needs for commas; callers build well-formed
// documents. Strings are escaped per RFC 8259 (quotes, backslash, control characters); other
// bytes, UTF-8 included, pass through unchanged. Invalid UTF-8 in input is replaced by U+FFFD so
// the output is always valid JSON text for strict parsers.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ringgate {

// Appends up to `max` bytes to `out` with one capacity check and no zero-filling: `write(at)`
// writes at `at` (the old end) and returns one past its last byte. The growth is geometric, as
// append's. Inlined, a fixed-size write becomes a few stores instead of an out-of-line append
// and a memcpy call per token.
void GrowForAppend(std::string& out, size_t needed);
template <typename Write>
inline void AppendWith(std::string& out, size_t max, Write&& write) {
  const size_t old = out.size();
  if (out.capacity() - old < max)
    GrowForAppend(out, old + max);
#if defined(__cpp_lib_string_resize_and_overwrite)
  out.resize_and_overwrite(
      old + max, [&](char* data, size_t) { return static_cast<size_t>(write(data + old) - data); });
#else
  out.resize(old + max);
  out.resize(static_cast<size_t>(write(out.data() + old) - out.data()));
#endif
}

// Appends `text` escaped as the inside of a JSON string (no quotes).
void AppendJsonString(std::string& out, std::string_view text);

// The length of the longest prefix of `text` that JSON needs no escape for and that is plain
// ASCII (so it needs no UTF-8 check either).
size_t PlainJsonPrefix(std::string_view text);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // Inside an object: the next value's key.
  void Key(std::string_view key) {
    // Keys are nearly always short plain ASCII: write `,"key":` at once.
    if (key.size() <= kShortKey && IsPlainAscii(key)) {
      bool comma = NeedComma();
      after_key_ = true;
      AppendWith(out_, key.size() + 4, [&](char* at) {
        *at = ',';
        at += comma;
        *at++ = '"';
        memcpy(at, key.data(), key.size());
        at += key.size();
        *at++ = '"';
        *at++ = ':';
        return at;
      });
      return;
    }
    bool comma = NeedComma();
    after_key_ = true;
    OpenString(comma);
    AppendJsonString(out_, key);
    out_.append("\":", 2);
  }

  // A key spelled in the source (a string literal): its length is a constant and, once inlined,
  // so is its plain-ASCII check, so this is a fixed-size copy.
  template <size_t N>
  void Key(const char (&key)[N]) {
    static_assert(N >= 1);
    if (N - 1 > kShortKey || !IsPlainAscii(std::string_view(key, N - 1))) {
      Key(std::string_view(key, N - 1));
      return;
    }
    bool comma = NeedComma();
    after_key_ = true;
    AppendWith(out_, N + 3, [&](char* at) {
      *at = ',';
      at += comma;
      *at++ = '"';
      memcpy(at, key, N - 1);
      at += N - 1;
      *at++ = '"';
      *at++ = ':';
      return at;
    });
  }

  void String(std::string_view value) {
    bool comma = NeedComma();
    size_t plain = PlainJsonPrefix(value);
    if (plain == value.size()) {
      // Nothing to escape (the usual case): comma, quotes and text in one write.
      AppendWith(out_, value.size() + 3, [&](char* at) {
        *at = ',';
        at += comma;
        *at++ = '"';
        memcpy(at, value.data(), value.size());
        at += value.size();
        *at++ = '"';
        return at;
      });
      return;
    }
    OpenString(comma);
    out_.append(value.data(), plain);
    AppendJsonString(out_, value.substr(plain));
    out_.push_back('"');
  }
  void Int(int64_t value);
  void Uint(uint64_t value);
  void Double(double value);  // shortest round-trip form; non-finite values become null
  void Bool(bool value) { Literal(value ? std::string_view("true") : std::string_view("false")); }
  void Null() { Literal("null"); }
  // A value that is already JSON (copied from the input, e.g. a tool's parameters schema).
  void Raw(std::string_view json) { Literal(json); }

  // Key + value in one call (literal keys take Key's literal path).
  void Field(std::string_view key, std::string_view value) { Key(key), String(value); }
  void FieldInt(std::string_view key, int64_t value) { Key(key), Int(value); }
  void FieldBool(std::string_view key, bool value) { Key(key), Bool(value); }
  void FieldRaw(std::string_view key, std::string_view json) { Key(key), Raw(json); }
  template <size_t N>
  void Field(const char (&key)[N], std::string_view value) {
    Key(key), String(value);
  }
  template <size_t N>
  void FieldInt(const char (&key)[N], int64_t value) {
    Key(key), Int(value);
  }
  template <size_t N>
  void FieldBool(const char (&key)[N], bool value) {
    Key(key), Bool(value);
  }
  template <size_t N>
  void FieldRaw(const char (&key)[N], std::string_view json) {
    Key(key), Raw(json);
  }

  std::string& out() { return out_; }

 private:
  static constexpr size_t kShortKey = 48;
  static bool IsPlainAscii(std::string_view s) {
    unsigned char bad = 0;
    for (char c : s) {
      unsigned char u = static_cast<unsigned char>(c);
      bad |= static_cast<unsigned char>((u < 0x20) | (u >= 0x80) | (u == '"') | (u == '\\'));
    }
    return bad == 0;
  }

  // Whether a new member or element needs a comma before it (and records that the container
  // now has one); a couple of bit operations.
  bool NeedComma() {
    if (after_key_) {
      after_key_ = false;
      return false;
    }
    if (depth_ == 0)
      return false;
    int level = depth_ - 1;
    uint64_t bit = level < 64 ? (uint64_t{1} << level) : 0;
    bool comma = (has_member_ & bit) != 0;
    has_member_ |= bit;
    return comma;
  }
  void OpenString(bool comma) {
    AppendWith(out_, 2, [&](char* at) {
      *at = ',';
      at += comma;
      *at++ = '"';
      return at;
    });
  }
  void Literal(std::string_view text) {
    bool comma = NeedComma();
    AppendWith(out_, text.size() + 1, [&](char* at) {
      *at = ',';
      at += comma;
      memcpy(at, text.data(), text.size());
      return at + text.size();
    });
  }
  void Open(char bracket) {
    bool comma = NeedComma();
    AppendWith(out_, 2, [&](char* at) {
      *at = ',';
      at += comma;
      *at++ = bracket;
      return at;
    });
    ++depth_;
    if (depth_ <= 64)
      has_member_ &= ~(uint64_t{1} << (depth_ - 1));
  }
  void Close(char bracket) {
    out_.push_back(bracket);
    --depth_;
  }

  std::string& out_;
  // One bit per nesting level (up to 64): whether that container already has a member. Deeper
  // nesting still writes correct commas; only the first 64 levels are tracked exactly.
  uint64_t has_member_ = 0;
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace ringgate
