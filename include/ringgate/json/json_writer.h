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

// Appends `text` escaped as the inside of a JSON string (no quotes).
void AppendJsonString(std::string& out, std::string_view text);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // Inside an object: the next value's key.
  void Key(std::string_view key) {
    BeforeValue();
    after_key_ = true;
    // Keys are nearly always short plain ASCII: write `"key":` with one append.
    if (key.size() <= kShortKey && IsPlainAscii(key)) {
      char buffer[kShortKey + 3];
      buffer[0] = '"';
      memcpy(buffer + 1, key.data(), key.size());
      buffer[key.size() + 1] = '"';
      buffer[key.size() + 2] = ':';
      out_.append(buffer, key.size() + 3);
      return;
    }
    out_.push_back('"');
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
    BeforeValue();
    after_key_ = true;
    char buffer[N + 2];
    buffer[0] = '"';
    memcpy(buffer + 1, key, N - 1);
    buffer[N] = '"';
    buffer[N + 1] = ':';
    out_.append(buffer, N + 2);
  }

  void String(std::string_view value) {
    BeforeValue();
    out_.push_back('"');
    AppendJsonString(out_, value);
    out_.push_back('"');
  }
  void Int(int64_t value);
  void Uint(uint64_t value);
  void Double(double value);  // shortest round-trip form; non-finite values become null
  void Bool(bool value) {
    BeforeValue();
    value ? out_.append("true", 4) : out_.append("false", 5);
  }
  void Null() {
    BeforeValue();
    out_.append("null", 4);
  }
  // A value that is already JSON (copied from the input, e.g. a tool's parameters schema).
  void Raw(std::string_view json) {
    BeforeValue();
    out_.append(json);
  }

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

  // Writes the comma a new member or element needs; the hot path is a couple of bit operations.
  void BeforeValue() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (depth_ == 0)
      return;
    int level = depth_ - 1;
    uint64_t bit = level < 64 ? (uint64_t{1} << level) : 0;
    if (has_member_ & bit)
      out_.push_back(',');
    has_member_ |= bit;
  }
  void Open(char bracket) {
    BeforeValue();
    out_.push_back(bracket);
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
