// HAJIMI's cache key (hajimi-behaviour.md 10.1). One forward pass over the JSON collects, per
// message, the string pieces HAJIMI would feed (views into the input or into simdjson's string
// buffer, never copies); the last N messages' pieces are then fed to XXH64 newest message first.
#include "ringgate/cache/fingerprint.h"

#include <simdjson.h>
#define XXH_STATIC_LINKING_ONLY  // XXH64_state_t on the stack
#include <xxhash.h>

#include <cstdio>
#include <string>
#include <vector>

namespace ringgate {
namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view kRole = "role:";
constexpr std::string_view kText = "text:";
constexpr std::string_view kImageUrl = "image_url:";
constexpr std::string_view kInlineData = "inline_data:";
constexpr std::string_view kDataPrefix = "data_prefix:";
constexpr std::string_view kFileData = "file_data:";
constexpr std::string_view kFileUri = "file_uri:";
constexpr size_t kPrefixChars = 32;
constexpr size_t kKeepParserCapacity = 4u << 20;

// Python's s[:n] on a str: the first n code points. Counts UTF-8 lead bytes.
std::string_view FirstCodePoints(std::string_view s, size_t n) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == n)
        return s.substr(0, i);
      ++seen;
    }
  }
  return s;
}

// Per-thread scratch: a parser (its buffers are reused across calls) and the piece lists.
struct Scratch {
  od::parser parser;
  std::vector<std::string_view> pieces;
  std::vector<uint32_t> starts;  // index of each message's first piece
};

Scratch& GetScratch() {
  thread_local Scratch scratch;
  // A huge body (inline images) grows the parser; do not keep that memory for the thread's life.
  if (scratch.parser.capacity() > kKeepParserCapacity)
    scratch.parser = od::parser();
  scratch.pieces.clear();
  scratch.starts.clear();
  return scratch;
}

Status JsonError(simdjson::error_code error) {
  return Status::Error(std::string("invalid JSON: ") + simdjson::error_message(error));
}

// A string value, or an empty view when the value has another type. Errors other than a type
// mismatch are returned.
simdjson::error_code StringOrEmpty(od::value value, std::string_view& out) {
  out = {};
  od::json_type type;
  if (auto error = value.type().get(type))
    return error;
  if (type != od::json_type::string)
    return simdjson::SUCCESS;
  return value.get_string().get(out);
}

// One OpenAI content item: {"type":"text","text":...} or {"type":"image_url","image_url":...}.
simdjson::error_code OpenAiContentItem(od::value item, std::vector<std::string_view>& pieces) {
  od::json_type type;
  if (auto error = item.type().get(type))
    return error;
  if (type != od::json_type::object)
    return simdjson::SUCCESS;  // HAJIMI would fail on item.get(); we skip the item
  od::object obj;
  if (auto error = item.get_object().get(obj))
    return error;
  std::string_view item_type, text, url;
  for (auto field : obj) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key))
      return error;
    od::value v;
    if (auto error = field.value().get(v))
      return error;
    if (key == "type") {
      if (auto error = StringOrEmpty(v, item_type))
        return error;
    } else if (key == "text") {
      if (auto error = StringOrEmpty(v, text))
        return error;
    } else if (key == "image_url") {
      od::json_type vt;
      if (auto error = v.type().get(vt))
        return error;
      url = {};
      if (vt == od::json_type::string) {
        if (auto error = v.get_string().get(url))
          return error;
      } else if (vt == od::json_type::object) {
        od::object io;
        if (auto error = v.get_object().get(io))
          return error;
        for (auto f : io) {
          std::string_view k;
          if (auto error = f.unescaped_key().get(k))
            return error;
          od::value uv;
          if (auto error = f.value().get(uv))
            return error;
          if (k == "url") {
            if (auto error = StringOrEmpty(uv, url))
              return error;
          }
        }
      }
    }
  }
  if (item_type == "text") {
    pieces.push_back(kText);
    pieces.push_back(text);
  } else if (item_type == "image_url") {
    pieces.push_back(kImageUrl);
    pieces.push_back(url.starts_with("data:image/") ? FirstCodePoints(url, kPrefixChars) : url);
  }
  return simdjson::SUCCESS;
}

// One OpenAI message: pieces "role:", role, then the content's pieces.
simdjson::error_code OpenAiMessage(od::value message, std::vector<std::string_view>& pieces) {
  od::object obj;
  if (auto error = message.get_object().get(obj))
    return error;  // a message that is not an object is an error (HAJIMI: 422)
  size_t start = pieces.size();
  pieces.push_back(kRole);
  pieces.push_back({});  // the role, filled in when seen (keys come in any order)
  for (auto field : obj) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key))
      return error;
    od::value v;
    if (auto error = field.value().get(v))
      return error;
    if (key == "role") {
      std::string_view role;
      if (auto error = StringOrEmpty(v, role))
        return error;
      pieces[start + 1] = role;
    } else if (key == "content") {
      pieces.resize(start + 2);  // a repeated key replaces the earlier value, as in Python
      od::json_type type;
      if (auto error = v.type().get(type))
        return error;
      if (type == od::json_type::string) {
        std::string_view text;
        if (auto error = v.get_string().get(text))
          return error;
        pieces.push_back(kText);
        pieces.push_back(text);
      } else if (type == od::json_type::array) {
        od::array items;
        if (auto error = v.get_array().get(items))
          return error;
        for (auto item : items) {
          od::value iv;
          if (auto error = item.get(iv))
            return error;
          if (auto error = OpenAiContentItem(iv, pieces))
            return error;
        }
      }
    }
  }
  return simdjson::SUCCESS;
}

// Reads an object's "data" (inline_data) or "file_uri"/"fileUri" (file_data) string.
simdjson::error_code NestedString(od::value v, std::string_view name1, std::string_view name2,
                                  bool& present, std::string_view& out) {
  od::json_type type;
  if (auto error = v.type().get(type))
    return error;
  if (type != od::json_type::object)
    return simdjson::SUCCESS;
  present = true;
  out = {};
  od::object obj;
  if (auto error = v.get_object().get(obj))
    return error;
  for (auto f : obj) {
    std::string_view k;
    if (auto error = f.unescaped_key().get(k))
      return error;
    od::value fv;
    if (auto error = f.value().get(fv))
      return error;
    if (k == name1 || k == name2) {
      if (auto error = StringOrEmpty(fv, out))
        return error;
    }
  }
  return simdjson::SUCCESS;
}

simdjson::error_code GeminiPart(od::value part, std::vector<std::string_view>& pieces) {
  od::json_type type;
  if (auto error = part.type().get(type))
    return error;
  if (type != od::json_type::object)
    return simdjson::SUCCESS;
  od::object obj;
  if (auto error = part.get_object().get(obj))
    return error;
  bool has_text = false, has_inline = false, has_file = false;
  std::string_view text, data, uri;
  for (auto field : obj) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key))
      return error;
    od::value v;
    if (auto error = field.value().get(v))
      return error;
    if (key == "text") {
      has_text = true;
      if (auto error = StringOrEmpty(v, text))
        return error;
    } else if (key == "inline_data" || key == "inlineData") {
      if (auto error = NestedString(v, "data", "data", has_inline, data))
        return error;
    } else if (key == "file_data" || key == "fileData") {
      if (auto error = NestedString(v, "file_uri", "fileUri", has_file, uri))
        return error;
    }
  }
  if (has_text) {
    pieces.push_back(kText);
    pieces.push_back(text);
  }
  if (has_inline) {
    pieces.push_back(kInlineData);
    pieces.push_back(kDataPrefix);
    pieces.push_back(FirstCodePoints(data, kPrefixChars));
  }
  if (has_file) {
    pieces.push_back(kFileData);
    pieces.push_back(kFileUri);
    pieces.push_back(uri);
  }
  return simdjson::SUCCESS;
}

simdjson::error_code GeminiContent(od::value content, std::vector<std::string_view>& pieces) {
  od::json_type type;
  if (auto error = content.type().get(type))
    return error;
  if (type != od::json_type::object)
    return simdjson::SUCCESS;
  od::object obj;
  if (auto error = content.get_object().get(obj))
    return error;
  // Role first, parts after, whatever the key order: collect parts after a placeholder.
  size_t start = pieces.size();
  pieces.push_back({});
  pieces.push_back({});
  for (auto field : obj) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key))
      return error;
    od::value v;
    if (auto error = field.value().get(v))
      return error;
    if (key == "role") {
      std::string_view role;
      od::json_type rt;
      if (auto error = v.type().get(rt))
        return error;
      pieces[start] = {};
      pieces[start + 1] = {};
      if (rt == od::json_type::string) {
        if (auto error = v.get_string().get(role))
          return error;
        pieces[start] = kRole;
        pieces[start + 1] = role;
      }
    } else if (key == "parts") {
      pieces.resize(start + 2);
      od::json_type pt;
      if (auto error = v.type().get(pt))
        return error;
      if (pt != od::json_type::array)
        continue;
      od::array parts;
      if (auto error = v.get_array().get(parts))
        return error;
      for (auto part : parts) {
        od::value pv;
        if (auto error = part.get(pv))
          return error;
        if (auto error = GeminiPart(pv, pieces))
          return error;
      }
    }
  }
  return simdjson::SUCCESS;
}

using MessageFn = simdjson::error_code (*)(od::value, std::vector<std::string_view>&);

// Walks `array`, collecting pieces for its last `n` elements only (earlier ones are skipped
// without unescaping anything).
simdjson::error_code CollectLast(od::array array, int n, MessageFn fn, Scratch& s) {
  if (n <= 0)
    return simdjson::SUCCESS;
  size_t count = 0;
  if (auto error = array.count_elements().get(count))  // rewinds the array afterwards
    return error;
  size_t skip = count > static_cast<size_t>(n) ? count - static_cast<size_t>(n) : 0;
  size_t index = 0;
  for (auto element : array) {
    od::value v;
    if (auto error = element.get(v))
      return error;
    if (index++ < skip)
      continue;
    s.starts.push_back(static_cast<uint32_t>(s.pieces.size()));
    if (auto error = fn(v, s.pieces))
      return error;
  }
  return simdjson::SUCCESS;
}

// 3.0.1 has no document::at_end(): past the last token current_location() is OUT_OF_BOUNDS.
bool AtEnd(od::document& doc) {
  const char* location = nullptr;
  return doc.current_location().get(location) == simdjson::OUT_OF_BOUNDS;
}

Fingerprint Digest(std::string_view model, const Scratch& s) {
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  XXH64_update(&state, model.data(), model.size());
  for (size_t m = s.starts.size(); m-- > 0;) {
    size_t end = m + 1 < s.starts.size() ? s.starts[m + 1] : s.pieces.size();
    for (size_t i = s.starts[m]; i < end; ++i) {
      if (!s.pieces[i].empty())
        XXH64_update(&state, s.pieces[i].data(), s.pieces[i].size());
    }
  }
  return Fingerprint{XXH64_digest(&state)};
}

Fingerprint ModelOnly(std::string_view model) {
  return Fingerprint{XXH64(model.data(), model.size(), 0)};
}

}  // namespace

std::string Fingerprint::ToHex() const {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(value));
  return std::string(buf, 16);
}

Result<Fingerprint> RequestFingerprint(std::string_view model, std::string_view messages_json,
                                       int calculate_entries, bool precise) {
  int n = EffectiveCacheEntries(calculate_entries, precise);
  Scratch& s = GetScratch();
  simdjson::padded_string json(messages_json);
  od::document doc;
  if (auto error = s.parser.iterate(json).get(doc))
    return JsonError(error);
  od::array array;
  if (auto error = doc.get_array().get(array))
    return JsonError(error);
  if (n <= 0) {
    // Still validate the structure, as the other paths do.
    size_t count;
    if (auto error = array.count_elements().get(count))
      return JsonError(error);
    return ModelOnly(model);
  }
  if (auto error = CollectLast(array, n, OpenAiMessage, s))
    return JsonError(error);
  if (!AtEnd(doc))
    return JsonError(simdjson::TRAILING_CONTENT);
  return Digest(model, s);
}

namespace {

// Shared body walk: finds `model` (when wanted) and the array named `list`.
Result<Fingerprint> BodyFingerprint(std::string_view body, std::string_view url_model,
                                    bool model_from_body, std::string_view list, int n,
                                    MessageFn fn) {
  Scratch& s = GetScratch();
  simdjson::padded_string json(body);
  od::document doc;
  if (auto error = s.parser.iterate(json).get(doc))
    return JsonError(error);
  od::object obj;
  if (auto error = doc.get_object().get(obj))
    return JsonError(error);
  std::string_view model = url_model;
  bool have_list = false;
  for (auto field : obj) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key))
      return JsonError(error);
    od::value v;
    if (auto error = field.value().get(v))
      return JsonError(error);
    if (model_from_body && key == "model") {
      if (auto error = StringOrEmpty(v, model))
        return JsonError(error);
    } else if (key == list) {
      s.pieces.clear();
      s.starts.clear();
      have_list = false;
      od::json_type type;
      if (auto error = v.type().get(type))
        return JsonError(error);
      if (type != od::json_type::array)
        continue;
      od::array array;
      if (auto error = v.get_array().get(array))
        return JsonError(error);
      have_list = true;
      if (auto error = CollectLast(array, n, fn, s))
        return JsonError(error);
    }
  }
  if (!AtEnd(doc))
    return JsonError(simdjson::TRAILING_CONTENT);
  if (!have_list || n <= 0)
    return ModelOnly(model);
  // `model` may point into simdjson's string buffer; it stays valid until the next parse.
  return Digest(model, s);
}

}  // namespace

Result<Fingerprint> OpenAiBodyFingerprint(std::string_view body, int calculate_entries,
                                          bool precise) {
  return BodyFingerprint(body, {}, true, "messages",
                         EffectiveCacheEntries(calculate_entries, precise), OpenAiMessage);
}

Result<Fingerprint> GeminiBodyFingerprint(std::string_view model, std::string_view body,
                                          int calculate_entries, bool precise) {
  return BodyFingerprint(body, model, false, "contents",
                         EffectiveCacheEntries(calculate_entries, precise), GeminiContent);
}

}  // namespace ringgate
