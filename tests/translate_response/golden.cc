#include "golden.h"

#include <dirent.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "ringgate/json/json_writer.h"

namespace ringgate::testing {
namespace {

void Canonical(simdjson::dom::element e, std::string& out) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      std::vector<std::pair<std::string_view, simdjson::dom::element>> fields;
      for (auto field : simdjson::dom::object(e))
        fields.emplace_back(field.key, field.value);
      std::sort(fields.begin(), fields.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i)
          out.push_back(',');
        out.push_back('"');
        AppendJsonString(out, fields[i].first);
        out.append("\":");
        Canonical(fields[i].second, out);
      }
      out.push_back('}');
      break;
    }
    case simdjson::dom::element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (auto item : simdjson::dom::array(e)) {
        if (!first)
          out.push_back(',');
        first = false;
        Canonical(item, out);
      }
      out.push_back(']');
      break;
    }
    case simdjson::dom::element_type::STRING:
      out.push_back('"');
      AppendJsonString(out, std::string_view(e));
      out.push_back('"');
      break;
    default:
      out.append(simdjson::minify(e));
  }
}

}  // namespace

std::string TestdataPath(std::string_view name) {
  return std::string(RG_RESPONSE_TESTDATA) + "/" + std::string(name);
}

bool ReadFile(const std::string& path, std::string* contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *contents = ss.str();
  return true;
}

void WriteFile(const std::string& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
}

std::vector<std::string> ListGoldens(std::string_view suffix) {
  std::vector<std::string> names;
  DIR* dir = opendir(RG_RESPONSE_TESTDATA);
  if (dir == nullptr)
    return names;
  while (dirent* entry = readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      names.emplace_back(name.substr(0, name.size() - suffix.size()));
    }
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool UpdateGoldens() {
  const char* v = std::getenv("RG_UPDATE_GOLDENS");
  return v != nullptr && std::string_view(v) == "1";
}

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  if (from.empty())
    return text;
  size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

std::string CanonicalJson(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS)
    return "";
  std::string out;
  Canonical(root, out);
  return out;
}

}  // namespace ringgate::testing
