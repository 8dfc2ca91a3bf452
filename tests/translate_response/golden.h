// Helpers for the response-side golden tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringgate::testing {

std::string TestdataPath(std::string_view name);
bool ReadFile(const std::string& path, std::string* contents);
void WriteFile(const std::string& path, std::string_view contents);
// Names (without the suffix) of the files in the testdata folder ending in `suffix`, sorted.
std::vector<std::string> ListGoldens(std::string_view suffix);
// RG_UPDATE_GOLDENS=1: write outputs as the new expected files instead of comparing.
bool UpdateGoldens();
// Replaces every occurrence of `from` in `text` with `to`.
std::string ReplaceAll(std::string text, std::string_view from, std::string_view to);
// The JSON text with object keys sorted, no insignificant whitespace; "" if it does not parse.
std::string CanonicalJson(std::string_view json);

}  // namespace ringgate::testing
