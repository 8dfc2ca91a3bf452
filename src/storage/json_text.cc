#include "ringgate/storage/json_text.h"

#include "ringgate/json/json_writer.h"

namespace ringgate {
namespace {

void NewLine(std::string& out, int depth, int indent) {
  out.push_back('\n');
  out.append(static_cast<size_t>(depth * indent), ' ');
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The next byte that is not whitespace, from i on (json.size() if none).
size_t SkipSpace(std::string_view json, size_t i) {
  while (i < json.size() && IsSpace(json[i]))
    ++i;
  return i;
}

}  // namespace

std::string IndentJson(std::string_view json, int indent) {
  std::string out;
  out.reserve(json.size() + json.size() / 4);
  int depth = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (IsSpace(c))
      continue;
    if (c == '"') {
      size_t start = i++;
      while (i < json.size() && json[i] != '"')
        i += json[i] == '\\' ? 2 : 1;
      out.append(json.substr(start, i + 1 - start));
      continue;
    }
    switch (c) {
      case '{':
      case '[': {
        size_t next = SkipSpace(json, i + 1);
        char close = c == '{' ? '}' : ']';
        if (next < json.size() && json[next] == close) {
          out.push_back(c);
          out.push_back(close);
          i = next;
        } else {
          out.push_back(c);
          NewLine(out, ++depth, indent);
        }
        break;
      }
      case '}':
      case ']':
        NewLine(out, --depth, indent);
        out.push_back(c);
        break;
      case ',':
        out.push_back(',');
        NewLine(out, depth, indent);
        break;
      case ':':
        out.append(": ");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string CompactJson(simdjson::dom::element element) {
  return simdjson::minify(element);
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  AppendJsonString(out, text);
  out.push_back('"');
  return out;
}

}  // namespace ringgate
