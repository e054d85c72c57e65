#include "core/kube/metrics.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/util/text.h"

namespace kp::core {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

bool name_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':';
}

bool name_char(char c) {
  return name_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// Go's strconv.ParseFloat as the Prometheus parsers use it: decimal or exponent forms, an
// optional sign, and NaN / Inf / Infinity in any case.
std::optional<double> parse_float(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  const std::string special = ascii_lower(text);
  if (special == "nan") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (special == "inf" || special == "+inf" || special == "infinity" || special == "+infinity") {
    return kInf;
  }
  if (special == "-inf" || special == "-infinity") {
    return -kInf;
  }
  if (text.front() == '+') {
    text.remove_prefix(1);
    if (text.empty() || text.front() == '-' || text.front() == '+') {
      return std::nullopt;
    }
  }
  double value = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error == std::errc::result_out_of_range) {
    return text.front() == '-' ? -kInf : kInf;  // Go rounds to ±Inf as well
  }
  if (error != std::errc() || stop != end) {
    return std::nullopt;
  }
  return value;
}

std::string excerpt(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out += c < 0x20 || c == 0x7F ? '?' : static_cast<char>(c);
  }
  if (text.size() > kMax) {
    out += "...";
  }
  return "\"" + out + "\"";
}

// Reads one line; the cursor-and-first-error style keeps the grammar readable.
class LineParser {
 public:
  explicit LineParser(std::string_view line) : line_(line) {}

  // Parses a sample line into `sample`; returns an error text or "".
  std::string parse(MetricSample& sample) {
    sample.name.clear();
    sample.labels.clear();
    skip_blanks();
    if (peek() != '{') {
      sample.name = read_name();
      if (sample.name.empty()) {
        return "expected a metric name, found " + excerpt(line_.substr(pos_));
      }
    }
    std::size_t separator = skip_blanks();
    if (peek() == '{') {
      ++pos_;
      if (std::string error = parse_labels(sample); !error.empty()) {
        return error;
      }
      separator = skip_blanks();
    }
    if (sample.name.empty()) {
      return "the sample has no metric name";
    }
    if (separator == 0 && !at_end()) {
      return "expected a space before the value, found " + excerpt(line_.substr(pos_));
    }
    const std::string_view valueText = read_token();
    if (valueText.empty()) {
      return "expected a value after " + sample.name;
    }
    const std::optional<double> value = parse_float(valueText);
    if (!value) {
      return "invalid value " + excerpt(valueText);
    }
    sample.value = *value;
    // An optional timestamp, then an optional OpenMetrics exemplar ("# {...} 1.0"), ignored.
    skip_blanks();
    if (at_end() || peek() == '#') {
      return {};
    }
    const std::string_view timestamp = read_token();
    if (!parse_float(timestamp)) {
      return "invalid timestamp " + excerpt(timestamp);
    }
    skip_blanks();
    if (!at_end() && peek() != '#') {
      return "unexpected text after the value: " + excerpt(line_.substr(pos_));
    }
    return {};
  }

 private:
  bool at_end() const { return pos_ >= line_.size(); }
  char peek() const { return at_end() ? '\0' : line_[pos_]; }

  std::size_t skip_blanks() {
    const std::size_t start = pos_;
    while (!at_end() && is_blank(line_[pos_])) {
      ++pos_;
    }
    return pos_ - start;
  }

  std::string read_name() {
    const std::size_t start = pos_;
    if (!at_end() && name_start(line_[pos_])) {
      while (!at_end() && name_char(line_[pos_])) {
        ++pos_;
      }
    }
    return std::string(line_.substr(start, pos_ - start));
  }

  std::string_view read_token() {
    const std::size_t start = pos_;
    while (!at_end() && !is_blank(line_[pos_])) {
      ++pos_;
    }
    return line_.substr(start, pos_ - start);
  }

  // A double-quoted string with the format's escapes (\\, \", \n); sets `error` when open.
  std::string read_quoted(std::string& error) {
    ++pos_;  // the opening quote
    std::string out;
    while (!at_end()) {
      const char c = line_[pos_++];
      if (c == '"') {
        return out;
      }
      if (c == '\\' && !at_end()) {
        const char escaped = line_[pos_++];
        out += escaped == 'n' ? '\n' : escaped;
        continue;
      }
      out += c;
    }
    error = "unterminated quoted string";
    return out;
  }

  std::string parse_labels(MetricSample& sample) {
    for (;;) {
      skip_blanks();
      if (peek() == '}') {
        ++pos_;
        return {};
      }
      if (at_end()) {
        return "unterminated label set";
      }
      std::string name;
      std::string error;
      if (peek() == '"') {
        // Prometheus 3 quotes names that are not legacy identifiers; a quoted string without
        // "=" is the metric name itself.
        name = read_quoted(error);
        if (!error.empty()) {
          return error;
        }
        skip_blanks();
        if (peek() != '=') {
          if (!sample.name.empty()) {
            return "a second metric name inside the labels";
          }
          sample.name = std::move(name);
          if (std::string next = after_label(); !next.empty()) {
            return next == "}" ? std::string() : next;
          }
          continue;
        }
      } else {
        name = read_name();
        if (name.empty()) {
          return "expected a label name, found " + excerpt(line_.substr(pos_));
        }
        skip_blanks();
      }
      if (peek() != '=') {
        return "expected '=' after the label " + name;
      }
      ++pos_;
      skip_blanks();
      if (peek() != '"') {
        return "expected a quoted value for the label " + name;
      }
      std::string value = read_quoted(error);
      if (!error.empty()) {
        return error + " in the label " + name;
      }
      sample.labels.emplace_back(std::move(name), std::move(value));
      if (std::string next = after_label(); !next.empty()) {
        return next == "}" ? std::string() : next;
      }
    }
  }

  // After a label: "," continues (""), "}" ends ("}"), anything else is an error.
  std::string after_label() {
    skip_blanks();
    if (peek() == ',') {
      ++pos_;
      return {};
    }
    if (peek() == '}') {
      ++pos_;
      return "}";
    }
    if (at_end()) {
      return "unterminated label set";
    }
    return "expected ',' or '}' after a label, found " + excerpt(line_.substr(pos_));
  }

  std::string_view line_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string MetricSample::label(std::string_view label) const {
  for (const auto& [name, value] : labels) {
    if (name == label) {
      return value;
    }
  }
  return {};
}

Status for_each_metric_sample(std::string_view text,
                              const std::function<void(const MetricSample&)>& visit) {
  MetricSample sample;
  std::size_t lineNumber = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    ++lineNumber;
    const auto end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? end : end - start);
    start = end == std::string_view::npos ? text.size() : end + 1;
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') {
      continue;
    }
    LineParser parser(line);
    const std::string error = parser.parse(sample);
    if (!error.empty()) {
      return Error{"line " + std::to_string(lineNumber) + ": " + error};
    }
    visit(sample);
  }
  return {};
}

Result<std::vector<MetricSample>> parse_prometheus_text(std::string_view text) {
  std::vector<MetricSample> samples;
  Status parsed =
      for_each_metric_sample(text, [&](const MetricSample& sample) { samples.push_back(sample); });
  if (!parsed) {
    return parsed.error();
  }
  return samples;
}

std::optional<double> histogram_quantile(double q, std::vector<std::pair<double, double>> buckets) {
  if (std::isnan(q) || buckets.empty()) {
    return std::nullopt;
  }
  if (q < 0) {
    return -kInf;
  }
  if (q > 1) {
    return kInf;
  }
  std::sort(buckets.begin(), buckets.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (!std::isinf(buckets.back().first) || buckets.back().first < 0) {
    return std::nullopt;
  }
  // coalesceBuckets: one bucket per upper bound.
  std::vector<std::pair<double, double>> merged;
  for (const auto& bucket : buckets) {
    if (!merged.empty() && merged.back().first == bucket.first) {
      merged.back().second += bucket.second;
    } else {
      merged.push_back(bucket);
    }
  }
  // ensureMonotonic: scrapes are not atomic, so a later bucket can read lower; clamp upwards.
  double highest = -kInf;
  for (auto& bucket : merged) {
    highest = std::max(highest, bucket.second);
    bucket.second = highest;
  }
  if (merged.size() < 2) {
    return std::nullopt;
  }
  const double observations = merged.back().second;
  if (observations == 0 || std::isnan(observations)) {
    return std::nullopt;
  }
  double rank = q * observations;
  // sort.Search over all but the +Inf bucket: the first bucket whose count reaches the rank.
  std::size_t b = 0;
  while (b < merged.size() - 1 && merged[b].second < rank) {
    ++b;
  }
  if (b == merged.size() - 1) {
    return merged[merged.size() - 2].first;
  }
  if (b == 0 && merged[0].first <= 0) {
    return merged[0].first;
  }
  double bucketStart = 0;
  const double bucketEnd = merged[b].first;
  double count = merged[b].second;
  if (b > 0) {
    bucketStart = merged[b - 1].first;
    count -= merged[b - 1].second;
    rank -= merged[b - 1].second;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

Result<ApiserverMetrics> summarize_apiserver_metrics(std::string_view text) {
  ApiserverMetrics metrics;
  std::map<double, double> latencyBuckets;  // le -> cumulative count, summed over series
  Status parsed = for_each_metric_sample(text, [&](const MetricSample& sample) {
    ++metrics.samples;
    if (std::isnan(sample.value)) {
      return;
    }
    if (sample.name == "apiserver_request_total") {
      metrics.requestsTotal += sample.value;
      if (sample.label("code").starts_with('5')) {
        metrics.requests5xx += sample.value;
      }
    } else if (sample.name == "apiserver_request_duration_seconds_bucket") {
      const std::string verb = sample.label("verb");
      if (verb == "WATCH" || verb == "WATCHLIST" || verb == "CONNECT") {
        return;  // long-running requests last as long as the client wants
      }
      const std::optional<double> le = parse_float(sample.label("le"));
      if (le && !std::isnan(*le)) {
        latencyBuckets[*le] += sample.value;
      }
    } else if (sample.name == "apiserver_flowcontrol_rejected_requests_total") {
      metrics.apfRejected += sample.value;
      metrics.apfRejectedByReason[sample.label("reason")] += sample.value;
    }
  });
  if (!parsed) {
    return parsed.error();
  }
  if (metrics.requestsTotal > 0) {
    metrics.ratio5xx = metrics.requests5xx / metrics.requestsTotal;
  }
  metrics.p99Seconds = histogram_quantile(
      0.99, std::vector<std::pair<double, double>>(latencyBuckets.begin(), latencyBuckets.end()));
  return metrics;
}

}  // namespace kp::core
