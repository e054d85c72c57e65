// The HA layer: every API server backend (--endpoints or the kubernetes EndpointSlices) probed
// directly, in parallel, and a summary against what the load balancer answers.
#include <algorithm>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apicheck/run.h"
#include "core/kube/kube.h"
#include "core/util/text.h"
#include "core/util/url.h"

namespace kp::apicheck::detail {

using core::join;

namespace {

struct BackendResult {
  std::vector<Check> checks;
  core::EndpointTiming timing;
  bool healthy = false;
};

BackendResult probe_backend(const Run& run, const std::string& backend) {
  BackendResult out;
  out.timing.endpoint = backend;
  const auto colon = backend.rfind(':');
  std::string host = backend.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  const int port = std::atoi(backend.substr(colon + 1).c_str());
  Check c = make_check("ha.backend", Layer::ha, CheckStatus::fail, {}, {}, backend);
  auto conn = run.options.deps.net->connect(host, port, run.options.timeout);
  if (!conn) {
    c.message = "connection " + std::string(core::to_string(conn.error().kind)) + " after " +
                fmt_ms(conn.error().ms);
    c.hint = "this API server backend is down or not listening: check kube-apiserver on " + host;
    out.checks.push_back(std::move(c));
    return out;
  }
  out.timing.connectMs = conn->ms;
  core::TlsProbeOptions opts;
  opts.serverName = run.nameHost;
  opts.caPem = run.client.caPem;
  opts.timeout = run.options.timeout;
  auto tls = run.options.deps.tls(conn->fd.get(), opts);
  if (!tls) {
    c.message = "TLS: " + tls.error().message;
    c.hint = "this backend does not complete TLS: check kube-apiserver on " + host;
    out.checks.push_back(std::move(c));
    return out;
  }
  out.timing.tlsMs = tls->handshakeMs;
  if (!(tls->verify.ok && tls->nameMatches) && !run.client.insecure) {
    c.message = "TLS: " + (tls->verify.ok ? tls->nameMismatch : tls->verify.reason);
    c.hint = "this backend's serving certificate differs from the others: it must carry \"" +
             run.nameHost + "\" and chain to the cluster CA";
    out.checks.push_back(std::move(c));
    return out;
  }
  std::unique_ptr<core::HttpClient> http = run.options.deps.http();
  core::HttpRequest r = request_to(run, "/readyz?verbose");
  r.connectTo = backend;
  const core::HttpResult ready = http->send(r);
  if (!ready) {
    c.message = "/readyz: " + ready.error().message;
    c.hint = "this backend accepts connections but does not answer: check its load and logs";
    out.checks.push_back(std::move(c));
    return out;
  }
  out.timing.firstByteMs = ready->timings.firstByteMs;
  out.timing.totalMs = out.timing.connectMs + out.timing.tlsMs + ready->timings.firstByteMs;
  if (ready->status != 200) {
    std::vector<std::string> failed;
    if (auto health = core::parse_health(ready->body)) {
      for (const core::HealthLine& line : health->checks) {
        if (!line.ok) {
          failed.push_back(line.name);
        }
      }
    }
    c.message = "not ready (HTTP " + std::to_string(ready->status) + ")" +
                (failed.empty() ? "" : ": " + join(failed) + " failed");
    c.hint =
        "a load balancer should not send traffic here; fix the backend (see its "
        "/readyz?verbose and logs) and check the load balancer's health check uses /readyz";
    c.details = {{"failed", failed}};
    out.checks.push_back(std::move(c));
    return out;
  }
  c.status = CheckStatus::ok;
  c.message = "ready (connect " + fmt_ms(out.timing.connectMs) + ", TLS " +
              fmt_ms(out.timing.tlsMs) + ", " + ready->httpVersion + ")";
  out.healthy = true;
  out.checks.push_back(std::move(c));
  return out;
}

// The backends to check directly: --endpoints, or the EndpointSlices of default/kubernetes.
std::vector<std::string> ha_backends(Run& run, core::HttpClient& http, bool authOk) {
  if (!run.options.endpoints.empty()) {
    return run.options.endpoints;
  }
  if (!authOk) {
    run.add(make_check("ha.endpoints", Layer::ha, CheckStatus::skip,
                       "not listed: authentication failed"));
    return {};
  }
  core::HttpRequest r = request_to(
      run,
      "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%"
      "2Fservice-name%3Dkubernetes");
  std::optional<core::HttpHeaders> creds = credential_headers(run, r);
  if (!creds) {
    return {};
  }
  r.headers = *creds;
  core::HttpResult result = http.send(r);
  if (!result || result->status != 200) {
    run.add(
        make_check("ha.endpoints", Layer::ha, CheckStatus::warn,
                   "could not list the kubernetes EndpointSlices: " +
                       (result ? "HTTP " + std::to_string(result->status) : result.error().message),
                   "list them needs get/list on endpointslices.discovery.k8s.io in default; or "
                   "pass --endpoints host:port,..."));
    return {};
  }
  auto endpoints = core::parse_kubernetes_endpoint_slices(result->body);
  if (!endpoints) {
    run.add(make_check("ha.endpoints", Layer::ha, CheckStatus::warn, endpoints.error().message,
                       "pass --endpoints host:port,... instead"));
    return {};
  }
  std::vector<std::string> out;
  for (const core::ApiEndpoint& e : *endpoints) {
    out.push_back(core::host_port(e.address, e.port));
  }
  run.add(make_check("ha.endpoints", Layer::ha, CheckStatus::ok,
                     "EndpointSlice default/kubernetes lists " + join(out)));
  return out;
}

}  // namespace

void ha_layer(Run& run, core::HttpClient& http, bool authOk, bool lbReady) {
  const std::vector<std::string> backends = ha_backends(run, http, authOk);
  if (backends.empty()) {
    return;
  }
  // Every backend at once (bounded), so the whole layer costs about the slowest backend.
  constexpr std::size_t kParallel = 64;
  std::vector<BackendResult> results(backends.size());
  for (std::size_t start = 0; start < backends.size(); start += kParallel) {
    std::vector<std::future<BackendResult>> running;
    const std::size_t end = std::min(backends.size(), start + kParallel);
    for (std::size_t i = start; i < end; ++i) {
      running.push_back(std::async(std::launch::async,
                                   [&run, b = backends[i]] { return probe_backend(run, b); }));
    }
    for (std::size_t i = start; i < end; ++i) {
      results[i] = running[i - start].get();
    }
  }
  std::size_t healthy = 0;
  for (BackendResult& r : results) {
    healthy += r.healthy ? 1 : 0;
    for (Check& c : r.checks) {
      run.add(std::move(c));
    }
    run.report.timings.push_back(r.timing);
  }
  const std::size_t failing = backends.size() - healthy;
  Check summary = make_check(
      "ha.summary", Layer::ha, CheckStatus::ok,
      std::to_string(healthy) + " of " + std::to_string(backends.size()) + " backends ready");
  if (failing > 0) {
    summary.status = healthy == 0 ? CheckStatus::fail : CheckStatus::warn;
    summary.message +=
        lbReady
            ? "; through " + core::endpoint_of(run.client.server) +
                  " the API answers ready, so the load balancer hides " + std::to_string(failing) +
                  " failing backend" + (failing == 1 ? "" : "s")
            : "; through " + core::endpoint_of(run.client.server) + " the API is not ready either";
    summary.hint =
        "fix the failing backends listed above; until then requests that land on "
        "them fail unless the load balancer health-checks /readyz";
  }
  run.add(std::move(summary));
}

}  // namespace kp::apicheck::detail
