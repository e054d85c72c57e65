// libFuzzer target: the Prometheus text parser (core/metrics.h) and the API server summary built
// on it, as apicheck's metrics layer runs them on a /metrics answer; and HAProxy's CSV
// statistics (apicheck --haproxy-stats), another text a load balancer's endpoint answers.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "apicheck/run.h"
#include "core/kube/metrics.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = kp::fuzz::as_text(data, size);
  const auto samples = kp::core::parse_prometheus_text(text);
  if (samples) {
    std::vector<std::pair<double, double>> buckets;
    for (const kp::core::MetricSample& sample : *samples) {
      KP_FUZZ_ASSERT(!sample.name.empty());
      const std::string le = sample.label("le");
      if (!le.empty()) {
        buckets.emplace_back(le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr),
                             sample.value);
      }
    }
    for (const double q : {0.0, 0.5, 0.99, 1.0, -1.0, 2.0, std::nan("")}) {
      const auto quantile = kp::core::histogram_quantile(q, buckets);
      (void)quantile;
    }
  }
  const auto summary = kp::core::summarize_apiserver_metrics(text);
  if (summary) {
    KP_FUZZ_ASSERT(!summary->ratio5xx || summary->requestsTotal != 0);
    KP_FUZZ_ASSERT(!samples || summary->samples == samples->size());
  }
  if (const auto servers = kp::apicheck::detail::parse_haproxy_stats(text); servers) {
    for (const kp::apicheck::detail::HaproxyServer& server : *servers) {
      KP_FUZZ_ASSERT(server.server != "FRONTEND" && server.server != "BACKEND");
      KP_FUZZ_ASSERT(!server.check_kind().empty());
    }
  }
  return 0;
}
