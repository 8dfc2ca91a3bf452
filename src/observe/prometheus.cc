#include "ringgate/observe/prometheus.h"

#include <charconv>
#include <cstdio>

namespace ringgate {
namespace {

void AppendUnsigned(std::string& out, uint64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end);
}

void AppendSeconds(std::string& out, uint64_t micros) {
  char text[40];
  int n =
      snprintf(text, sizeof(text), "%llu.%06llu", static_cast<unsigned long long>(micros / 1000000),
               static_cast<unsigned long long>(micros % 1000000));
  out.append(text, static_cast<size_t>(n));
}

}  // namespace

void AppendPrometheusLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void PrometheusWriter::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  // HELP text escapes only backslash and line feed.
  for (char c : help) {
    if (c == '\\') {
      out_ += "\\\\";
    } else if (c == '\n') {
      out_ += "\\n";
    } else {
      out_ += c;
    }
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void PrometheusWriter::Head(std::string_view name, std::string_view suffix,
                            std::initializer_list<PromLabel> labels, PromLabel extra) {
  out_ += name;
  out_ += suffix;
  bool any = labels.size() > 0 || !extra.name.empty();
  if (any)
    out_ += '{';
  bool first = true;
  auto add = [&](const PromLabel& label) {
    if (!first)
      out_ += ',';
    first = false;
    out_ += label.name;
    out_ += "=\"";
    AppendPrometheusLabelValue(out_, label.value);
    out_ += '"';
  };
  for (const PromLabel& label : labels)
    add(label);
  if (!extra.name.empty())
    add(extra);
  if (any)
    out_ += '}';
  out_ += ' ';
}

void PrometheusWriter::Sample(std::string_view name, std::initializer_list<PromLabel> labels,
                              uint64_t value) {
  Head(name, "", labels);
  AppendUnsigned(out_, value);
  out_ += '\n';
}

void PrometheusWriter::Sample(std::string_view name, std::initializer_list<PromLabel> labels,
                              int64_t value) {
  Head(name, "", labels);
  if (value < 0) {
    out_ += '-';
    AppendUnsigned(out_, static_cast<uint64_t>(-(value + 1)) + 1);
  } else {
    AppendUnsigned(out_, static_cast<uint64_t>(value));
  }
  out_ += '\n';
}

void PrometheusWriter::Sample(std::string_view name, std::initializer_list<PromLabel> labels,
                              double value) {
  Head(name, "", labels);
  char text[40];
  int n = snprintf(text, sizeof(text), "%.17g", value);
  out_.append(text, static_cast<size_t>(n));
  out_ += '\n';
}

void PrometheusWriter::Histogram(std::string_view name, std::initializer_list<PromLabel> labels,
                                 BucketBounds bounds_us, const uint64_t* counts, uint64_t sum_us) {
  uint64_t cumulative = 0;
  std::string le;
  for (size_t i = 0; i <= bounds_us.size(); ++i) {
    cumulative += counts[i];
    le.clear();
    if (i < bounds_us.size()) {
      AppendSeconds(le, bounds_us[i]);
      // "0.005000" -> "0.005": the same number, the way Prometheus clients write it.
      while (le.back() == '0')
        le.pop_back();
      if (le.back() == '.')
        le.pop_back();
    } else {
      le = "+Inf";
    }
    Head(name, "_bucket", labels, PromLabel{"le", le});
    AppendUnsigned(out_, cumulative);
    out_ += '\n';
  }
  Head(name, "_sum", labels);
  AppendSeconds(out_, sum_us);
  out_ += '\n';
  Head(name, "_count", labels);
  AppendUnsigned(out_, cumulative);
  out_ += '\n';
}

}  // namespace ringgate
