// PrometheusWriter: the text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), appended to a string.
//
//   PrometheusWriter w(out);
//   w.Family("ringgate_requests_total", "counter", "Requests answered, by route and status.");
//   w.Sample("ringgate_requests_total", {{"route", "/healthz"}, {"status", "200"}}, 12);
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "ringgate/observe/metrics.h"

namespace ringgate {

struct PromLabel {
  std::string_view name;
  std::string_view value;
};

// The content type of a scrape answer.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

class PrometheusWriter {
 public:
  explicit PrometheusWriter(std::string& out) : out_(out) {}

  // The # HELP and # TYPE lines; once per metric name, before its samples.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, std::initializer_list<PromLabel> labels, uint64_t value);
  void Sample(std::string_view name, std::initializer_list<PromLabel> labels, int64_t value);
  void Sample(std::string_view name, std::initializer_list<PromLabel> labels, double value);
  // name_bucket{le=...} (cumulative, ending in +Inf), name_sum (seconds) and name_count, from
  // non-cumulative bucket counts in microseconds: counts[i] for bounds[i], counts[size] above.
  void Histogram(std::string_view name, std::initializer_list<PromLabel> labels,
                 BucketBounds bounds_us, const uint64_t* counts, uint64_t sum_us);

 private:
  void Head(std::string_view name, std::string_view suffix, std::initializer_list<PromLabel> labels,
            PromLabel extra = {});

  std::string& out_;
};

// A label value escaped: backslash, double quote and line feed.
void AppendPrometheusLabelValue(std::string& out, std::string_view value);

}  // namespace ringgate
