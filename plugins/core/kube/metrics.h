// The Prometheus text exposition format (what kube-apiserver serves on /metrics) and the few
// numbers apicheck reports from it: the 5xx ratio, the request latency p99 and APF rejections.
// The scrape is one snapshot of counters since the server started, so the figures are lifetime
// values, not rates.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/util/result.h"

namespace kp::core {

// One sample line: `name{label="value",...} value [timestamp] [# exemplar]`.
struct MetricSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in line order, values unescaped
  double value = 0;

  // The value of `label`, or "" when the sample has none.
  std::string label(std::string_view label) const;
};

// Calls `visit` for every sample, in order, without keeping them: a /metrics body is megabytes.
// Comments (# HELP, # TYPE, # EOF, anything after '#'), blank lines, timestamps and OpenMetrics
// exemplars are skipped; values take NaN, +Inf, -Inf. Errors name the line: "line 12: ...".
Status for_each_metric_sample(std::string_view text,
                              const std::function<void(const MetricSample&)>& visit);

// All samples of `text`; for tests and small inputs.
Result<std::vector<MetricSample>> parse_prometheus_text(std::string_view text);

// PromQL's histogram_quantile over cumulative buckets (upper bound `le`, count), with its edge
// rules: needs a +Inf bucket and observations, interpolates linearly inside the bucket, returns
// the second-highest bound when the quantile falls in +Inf. nullopt where PromQL gives NaN.
std::optional<double> histogram_quantile(double q, std::vector<std::pair<double, double>> buckets);

struct ApiserverMetrics {
  double requestsTotal = 0;        // sum of apiserver_request_total
  double requests5xx = 0;          // ... with a code label of 5xx
  std::optional<double> ratio5xx;  // requests5xx / requestsTotal, when there were requests
  // p99 of apiserver_request_duration_seconds over every series except long-running verbs
  // (WATCH, WATCHLIST, CONNECT), as the apiserver SLO dashboards do.
  std::optional<double> p99Seconds;
  double apfRejected = 0;  // apiserver_flowcontrol_rejected_requests_total
  std::map<std::string, double> apfRejectedByReason;  // by its reason label
  std::size_t samples = 0;                            // sample lines read
};

// Reads a kube-apiserver /metrics body; malformed input is an error naming the line.
Result<ApiserverMetrics> summarize_apiserver_metrics(std::string_view text);

}  // namespace kp::core
