// Options::check(): the layers in the order a request meets them. Each layer adds checks to the
// report; a layer that breaks the path ends the run, and the layers it hides are reported as
// skipped with the reason, so the report always says how far the request got.
#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apicheck/apicheck.h"
#include "apicheck/run.h"

namespace kp::apicheck {
namespace detail {
namespace {

// The health requests sent on their own thread from the moment the path is open. Leaving
// run_layers any other way than through answers() cancels them and waits for the thread.
class EarlyHealth {
 public:
  EarlyHealth(core::HttpClient& http, std::vector<core::HttpRequest> requests)
      : requests_(std::move(requests)) {
    for (core::HttpRequest& r : requests_) {
      r.cancelled = [this, stop = std::move(r.cancelled)] { return dropped_ || (stop && stop()); };
    }
    answers_ =
        std::async(std::launch::async, [this, &http] { return fetch_health(http, requests_); });
  }
  ~EarlyHealth() {
    if (answers_.valid()) {
      dropped_ = true;
      answers_.wait();
    }
  }
  EarlyHealth(const EarlyHealth&) = delete;
  EarlyHealth& operator=(const EarlyHealth&) = delete;

  std::vector<core::HttpResult> answers() { return answers_.get(); }

 private:
  std::vector<core::HttpRequest> requests_;
  std::atomic<bool> dropped_{false};
  std::future<std::vector<core::HttpResult>> answers_;
};

// Every layer in turn; a layer that breaks the path returns early.
void run_layers(Run& run) {
  const Options& o = run.options;
  core::Report& report = run.report;
  config_layer(run);
  if (o.nothingToDial) {
    run.skip_after(Layer::config, "kubectl stops at the kubeconfig (see config.kubeconfig)");
    return;
  }
  bool viaProxy = false;
  std::optional<core::UniqueFd> fd = proxy_layer(run, viaProxy);
  if (viaProxy && !fd) {
    return;
  }
  if (!viaProxy) {
    const std::vector<std::string> addresses = dns_layer(run);
    if (addresses.empty()) {
      return;
    }
    fd = tcp_layer(run, addresses);
    if (!fd) {
      blame_hosts_file(run);
      return;
    }
  }
  // The anonymous health requests need no verified server: they carry no credentials, and
  // libcurl verifies its own connection as kubectl does. So they go out now, beside the
  // diagnostic handshake instead of after it; if the diagnostic probe fails, they are
  // cancelled and their answers dropped (the probe's findings are the report's).
  std::unique_ptr<core::HttpClient> http = o.deps.http();
  EarlyHealth health(*http, health_requests(run));
  if (run.url.scheme == "https") {
    if (!tls_layer(run, fd->get())) {
      return;
    }
  } else {
    run.add(make_check("tls.handshake", Layer::tls, CheckStatus::warn,
                       "plain http: nothing is encrypted",
                       o.defaultServer ? "this is kubectl's default address, not a server a "
                                         "kubeconfig named: see config.kubeconfig"
                                       : "use the server's https:// URL"));
  }
  fd.reset();  // the diagnostic connection is done; HTTP has its own

  health_layer(run, health.answers());
  run.timing.totalMs =
      run.timing.dnsMs + run.timing.connectMs + run.timing.tlsMs + run.timing.firstByteMs;
  report.timings.insert(report.timings.begin(), run.timing);
  if (run.serverBroken) {
    run.add(make_check("auth.whoami", Layer::auth, CheckStatus::skip,
                       "not checked: the server does not answer like kube-apiserver (see health)"));
    return;
  }
  auth_layer(run, *http);
  const auto authOk = std::any_of(report.checks.begin(), report.checks.end(), [](const Check& c) {
    return c.id == "auth.whoami" && c.status == CheckStatus::ok;
  });
  const auto lbReady = std::any_of(report.checks.begin(), report.checks.end(), [](const Check& c) {
    return c.id == "health.readyz" && c.status == CheckStatus::ok;
  });
  if (!o.endpoints.empty() || o.allEndpoints || !o.haproxyStats.empty()) {
    ha_layer(run, *http, authOk, lbReady);
  }
  if (o.metrics && authOk) {
    metrics_layer(run, *http);
  }
}

}  // namespace
}  // namespace detail

core::Report Options::check() const {
  core::Report report;
  report.tool = "apicheck";
  report.target = {client.contextName, client.clusterName, client.server};
  detail::Run run{*this, client, report};
  detail::run_layers(run);
  detail::explain_clock(run);
  // Checks run in the order that gathers evidence best (the clock needs an HTTP answer, health
  // comes before auth); they are reported in the order a request meets the layers.
  std::stable_sort(report.checks.begin(), report.checks.end(),
                   [](const core::Check& a, const core::Check& b) { return a.layer < b.layer; });
  return report;
}

}  // namespace kp::apicheck
