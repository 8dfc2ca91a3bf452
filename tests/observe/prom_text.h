// A small parser of the Prometheus text exposition format (0.0.4) for the tests: every line must
// be a HELP, TYPE or sample line, names and labels well formed; histograms are checked for
// cumulative buckets ending in le="+Inf" equal to _count. Problems are collected, not thrown.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ringgate::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromScrape {
  std::vector<PromSample> samples;
  std::map<std::string, std::string> types;  // family name -> counter, gauge, histogram, ...
  std::map<std::string, std::string> help;
  std::vector<std::string> errors;

  // The sum of every sample named `name` whose labels include all of `labels`; -1 when none.
  double Sum(std::string_view name, const std::map<std::string, std::string>& labels = {}) const {
    double total = 0;
    bool any = false;
    for (const PromSample& s : samples) {
      if (s.name != name)
        continue;
      bool match = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v)
          match = false;
      }
      if (match) {
        total += s.value;
        any = true;
      }
    }
    return any ? total : -1;
  }
  // Like Sum, 0 when there is no such sample (a counter never incremented is left out).
  double Count(std::string_view name, const std::map<std::string, std::string>& labels = {}) const {
    double sum = Sum(name, labels);
    return sum < 0 ? 0 : sum;
  }
  size_t SeriesCount(std::string_view name) const {
    return static_cast<size_t>(std::count_if(samples.begin(), samples.end(),
                                             [&](const PromSample& s) { return s.name == name; }));
  }
};

inline bool IsMetricNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
inline bool IsMetricNameChar(char c) {
  return IsMetricNameStart(c) || (c >= '0' && c <= '9');
}
inline bool IsLabelNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
inline bool IsLabelNameChar(char c) {
  return IsLabelNameStart(c) || (c >= '0' && c <= '9');
}

inline bool ParsePromValue(std::string_view text, double* out) {
  if (text == "+Inf") {
    *out = INFINITY;
    return true;
  }
  if (text == "-Inf") {
    *out = -INFINITY;
    return true;
  }
  if (text == "NaN") {
    *out = NAN;
    return true;
  }
  if (text.empty())
    return false;
  std::string copy(text);
  char* end = nullptr;
  *out = strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size();
}

// name{label="value",...} value
inline bool ParsePromSample(std::string_view line, PromSample* sample, std::string* why) {
  size_t i = 0;
  if (line.empty() || !IsMetricNameStart(line[0])) {
    *why = "bad metric name";
    return false;
  }
  while (i < line.size() && IsMetricNameChar(line[i]))
    ++i;
  sample->name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t start = i;
      if (!IsLabelNameStart(line[i])) {
        *why = "bad label name";
        return false;
      }
      while (i < line.size() && IsLabelNameChar(line[i]))
        ++i;
      std::string name(line.substr(start, i - start));
      if (line.substr(i, 2) != "=\"") {
        *why = "label without =\"";
        return false;
      }
      i += 2;
      std::string value;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          if (i + 1 >= line.size()) {
            *why = "dangling escape";
            return false;
          }
          char next = line[i + 1];
          if (next == 'n') {
            value += '\n';
          } else if (next == '\\' || next == '"') {
            value += next;
          } else {
            *why = "bad escape in label value";
            return false;
          }
          i += 2;
          continue;
        }
        value += line[i++];
      }
      if (i >= line.size()) {
        *why = "unterminated label value";
        return false;
      }
      ++i;  // the closing quote
      if (sample->labels.count(name)) {
        *why = "duplicate label " + name;
        return false;
      }
      sample->labels[name] = value;
      if (i < line.size() && line[i] == ',')
        ++i;
    }
    if (i >= line.size()) {
      *why = "unterminated label set";
      return false;
    }
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') {
    *why = "no space before the value";
    return false;
  }
  ++i;
  std::string_view rest = line.substr(i);
  size_t space = rest.find(' ');
  std::string_view value = rest.substr(0, space);
  if (!ParsePromValue(value, &sample->value)) {
    *why = "bad value '" + std::string(value) + "'";
    return false;
  }
  if (space != std::string_view::npos) {
    double timestamp;
    if (!ParsePromValue(rest.substr(space + 1), &timestamp)) {
      *why = "bad timestamp";
      return false;
    }
  }
  return true;
}

inline std::string LabelsWithout(const std::map<std::string, std::string>& labels,
                                 std::string_view dropped) {
  std::string key;
  for (const auto& [k, v] : labels) {
    if (k != dropped)
      key += k + "=" + v + ";";
  }
  return key;
}

inline void CheckHistograms(PromScrape& scrape) {
  for (const auto& [family, type] : scrape.types) {
    if (type != "histogram")
      continue;
    // Per label set: (le, cumulative count) in order of appearance, and the _count.
    std::map<std::string, std::vector<std::pair<double, double>>> buckets;
    std::map<std::string, double> counts;
    std::map<std::string, bool> has_sum;
    for (const PromSample& s : scrape.samples) {
      if (s.name == family + "_bucket") {
        auto le = s.labels.find("le");
        double bound;
        if (le == s.labels.end() || !ParsePromValue(le->second, &bound)) {
          scrape.errors.push_back(family + ": bucket without a valid le");
          continue;
        }
        buckets[LabelsWithout(s.labels, "le")].push_back({bound, s.value});
      } else if (s.name == family + "_count") {
        counts[LabelsWithout(s.labels, "")] = s.value;
      } else if (s.name == family + "_sum") {
        has_sum[LabelsWithout(s.labels, "")] = true;
      }
    }
    if (buckets.empty())
      scrape.errors.push_back(family + ": histogram without buckets");
    for (const auto& [labels, list] : buckets) {
      for (size_t k = 1; k < list.size(); ++k) {
        if (!(list[k].first > list[k - 1].first))
          scrape.errors.push_back(family + ": le not increasing");
        if (list[k].second < list[k - 1].second)
          scrape.errors.push_back(family + ": buckets not cumulative");
      }
      if (list.empty() || !std::isinf(list.back().first))
        scrape.errors.push_back(family + ": last bucket is not +Inf");
      auto count = counts.find(labels);
      if (count == counts.end()) {
        scrape.errors.push_back(family + ": no _count");
      } else if (!list.empty() && list.back().second != count->second) {
        scrape.errors.push_back(family + ": +Inf bucket != _count");
      }
      if (!has_sum[labels])
        scrape.errors.push_back(family + ": no _sum");
    }
  }
}

inline PromScrape ParsePromText(std::string_view text) {
  PromScrape scrape;
  if (!text.empty() && text.back() != '\n')
    scrape.errors.push_back("the exposition does not end with a line feed");
  size_t start = 0;
  int number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    std::string where = "line " + std::to_string(number) + " '" + std::string(line) + "': ";
    if (line.empty())
      continue;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::string_view rest = line.substr(7);
      size_t space = rest.find(' ');
      std::string name(rest.substr(0, space));
      if (name.empty() || !IsMetricNameStart(name[0]) ||
          !std::all_of(name.begin(), name.end(), IsMetricNameChar) ||
          space == std::string_view::npos) {
        scrape.errors.push_back(where + "bad HELP/TYPE line");
        continue;
      }
      std::string value(rest.substr(space + 1));
      if (line[2] == 'T') {
        static const char* kTypes[] = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (std::find(std::begin(kTypes), std::end(kTypes), value) == std::end(kTypes))
          scrape.errors.push_back(where + "unknown type");
        if (scrape.types.count(name))
          scrape.errors.push_back(where + "second TYPE for " + name);
        scrape.types[name] = value;
      } else {
        scrape.help[name] = value;
      }
      continue;
    }
    if (line[0] == '#')
      continue;  // a comment
    PromSample sample;
    std::string why;
    if (!ParsePromSample(line, &sample, &why)) {
      scrape.errors.push_back(where + why);
      continue;
    }
    scrape.samples.push_back(std::move(sample));
  }
  // Every sample belongs to a declared family, and no series appears twice.
  std::map<std::string, int> seen;
  for (const PromSample& s : scrape.samples) {
    std::string family = s.name;
    for (std::string_view suffix : {"_bucket", "_count", "_sum"}) {
      if (!scrape.types.count(family) && family.size() > suffix.size() &&
          family.compare(family.size() - suffix.size(), suffix.size(), suffix) == 0) {
        family = family.substr(0, family.size() - suffix.size());
      }
    }
    if (!scrape.types.count(family))
      scrape.errors.push_back(s.name + ": no TYPE line");
    if (++seen[s.name + "|" + LabelsWithout(s.labels, "")] == 2)
      scrape.errors.push_back(s.name + ": the same series twice");
  }
  CheckHistograms(scrape);
  return scrape;
}

}  // namespace ringgate::testing
