// Request fingerprint: HAJIMI's response-cache key (hajimi-behaviour.md 10.1), an xxHash64
// (seed 0) over the model name and the last N messages, fed newest first. Two requests with the
// same fingerprint share cached answers and are coalesced while in flight.
//
// The bytes fed, in order (each string as UTF-8, no separators or lengths between pieces):
//
//   model
//   for each of the last N messages, newest first:
//     "role:" role
//     content is a string:  "text:" content
//     content is an array:  per item, in order:
//                             type "text":       "text:" text
//                             type "image_url":  "image_url:" url, cut to its first 32 characters
//                                                when it starts with "data:image/"
//                             any other type:    nothing
//     content null/absent:  nothing
//
// N = calculate_entries (CALCULATE_CACHE_ENTRIES, default 6), or 65536 when precise
// (PRECISE_CACHE). N <= 0 hashes the model alone. Parameters (temperature, tools, stream, ...),
// tool_calls and tool_call_id are not part of the key, as in HAJIMI.
//
// Deviations from HAJIMI, all on inputs HAJIMI answers with a 422 or 500 (documented in
// src/cache/README.md): a non-string role or text feeds nothing after its tag; "image_url" given
// as a bare string (not {"url": ...}) is accepted as the url. Malformed JSON is an error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringgate/common/result.h"

namespace ringgate {

struct Fingerprint {
  uint64_t value = 0;

  // 16 lower-case hex characters, as Python's xxhash hexdigest() (the big-endian digest).
  std::string ToHex() const;
  friend bool operator==(Fingerprint a, Fingerprint b) { return a.value == b.value; }
  friend bool operator!=(Fingerprint a, Fingerprint b) { return a.value != b.value; }
};

struct FingerprintHash {
  size_t operator()(Fingerprint f) const { return static_cast<size_t>(f.value); }
};

// HAJIMI's "all messages" when PRECISE_CACHE is on.
inline constexpr int kPreciseCacheEntries = 65536;

// The number of trailing messages hashed: 65536 when precise, else calculate_entries.
inline int EffectiveCacheEntries(int calculate_entries, bool precise) {
  return precise ? kPreciseCacheEntries : calculate_entries;
}

// `messages_json` is the JSON text of the OpenAI `messages` array (e.g. raw_json() of the field;
// it is copied into a padded buffer here). Errors: not an array, malformed JSON, a message that
// is not an object, invalid string escapes.
Result<Fingerprint> RequestFingerprint(std::string_view model, std::string_view messages_json,
                                       int calculate_entries, bool precise);

// The same key from a whole OpenAI request body: its "model" (a string; missing = "") and its
// "messages" (an array; missing = no messages).
Result<Fingerprint> OpenAiBodyFingerprint(std::string_view body, int calculate_entries,
                                          bool precise);

// The Gemini-format key (10.1 step 3) for native requests: `model` from the URL, `body` a
// generateContent request. Walks `contents` newest first, N of them; per content "role:" role
// when role is a string, then per part: "text:" text; "inline_data:" "data_prefix:" + the first
// 32 characters of data; "file_data:" "file_uri:" + file_uri. Both the snake_case (inline_data,
// file_data, file_uri) and the camelCase (inlineData, fileData, fileUri) spellings are read;
// HAJIMI only reads the snake_case ones.
Result<Fingerprint> GeminiBodyFingerprint(std::string_view model, std::string_view body,
                                          int calculate_entries, bool precise);

}  // namespace ringgate
