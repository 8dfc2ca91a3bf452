// Small helpers for the persistence files' JSON text (start-up and the writer's side only).
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

namespace ringgate {

// `json` laid out as Python's json.dumps(value, indent=indent, ensure_ascii=False) lays it out
// (HAJIMI's settings.json): one member or element per line, ": " after keys, "{}" and "[]" for
// empty containers. Whitespace outside strings in the input is ignored; strings are copied as
// they are. The input must be valid JSON.
std::string IndentJson(std::string_view json, int indent = 4);

// The element as compact JSON text (numbers in simdjson's shortest round-trip form).
std::string CompactJson(simdjson::dom::element element);

// A JSON string literal for text (quotes included).
std::string JsonQuote(std::string_view text);

}  // namespace ringgate
