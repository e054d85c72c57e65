// The metrics layer (--metrics): the server's 5xx ratio, p99 latency and APF rejections.
#include <cstdio>
#include <optional>

#include "apicheck/run.h"
#include "core/kube/metrics.h"

namespace kp::apicheck::detail {

void metrics_layer(Run& run, core::HttpClient& http) {
  core::HttpRequest r = request_to(run, "/metrics");
  std::optional<core::HttpHeaders> creds = credential_headers(run, r);
  if (!creds) {
    return;
  }
  r.headers = *creds;
  core::HttpResult result = http.send(r);
  if (!result || result->status != 200) {
    run.add(make_check(
        "metrics.scrape", Layer::metrics, CheckStatus::warn,
        "/metrics: " + (result ? "HTTP " + std::to_string(result->status) : result.error().message),
        "reading /metrics needs get on the nonResourceURL /metrics (e.g. the "
        "system:monitoring ClusterRole)"));
    return;
  }
  auto m = core::summarize_apiserver_metrics(result->body);
  if (!m) {
    run.add(make_check("metrics.scrape", Layer::metrics, CheckStatus::warn,
                       "/metrics is not Prometheus text: " + m.error().message,
                       "check what answers /metrics"));
    return;
  }
  char text[160];
  Check errors = make_check("metrics.errors", Layer::metrics, CheckStatus::ok, {});
  const double ratio = m->ratio5xx.value_or(0);
  std::snprintf(text, sizeof text, "%.2f%% of %.0f requests answered 5xx since start", ratio * 100,
                m->requestsTotal);
  errors.message = text;
  if (ratio > 0.01) {
    errors.status = CheckStatus::warn;
    errors.hint =
        "more than 1% server errors: see apiserver_request_total by resource and the "
        "kube-apiserver logs (etcd latency, webhooks)";
  }
  run.add(std::move(errors));
  Check latency = make_check("metrics.latency", Layer::metrics, CheckStatus::ok, {});
  if (m->p99Seconds) {
    std::snprintf(text, sizeof text, "p99 request latency %.3f s (non-streaming verbs)",
                  *m->p99Seconds);
    latency.message = text;
    if (*m->p99Seconds > 1.0) {
      latency.status = CheckStatus::warn;
      latency.hint =
          "p99 above the 1 s SLO: look at slow resources in "
          "apiserver_request_duration_seconds and at etcd";
    }
  } else {
    latency.message = "no request latency histogram in /metrics";
  }
  run.add(std::move(latency));
  Check apf = make_check("metrics.apf", Layer::metrics, CheckStatus::ok, {});
  std::snprintf(text, sizeof text, "%.0f requests rejected by API Priority and Fairness",
                m->apfRejected);
  apf.message = text;
  if (m->apfRejected > 0) {
    apf.status = CheckStatus::warn;
    apf.hint =
        "clients are being throttled (429): see apiserver_flowcontrol_rejected_requests_"
        "total by priority level and flow schema";
  }
  run.add(std::move(apf));
}

}  // namespace kp::apicheck::detail
