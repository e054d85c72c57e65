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
  bool connected = false;  // TCP reached it from here
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
  out.connected = true;
  auto tls = handshake(run, conn->fd.get(), run.options.timeout);
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

// HAProxy's servers for the API: with several proxies, those on the kubeconfig's port (or
// 6443) when any are.
std::vector<HaproxyServer> api_servers(const Run& run, std::vector<HaproxyServer> servers) {
  std::string port = core::split_url(run.client.server).port;
  port = port.empty() ? "443" : port;
  std::vector<HaproxyServer> onPort;
  for (const HaproxyServer& s : servers) {
    if (s.address.ends_with(":" + port) || s.address.ends_with(":6443")) {
      onPort.push_back(s);
    }
  }
  return onPort.empty() ? servers : onPort;
}

// The backends to check directly: --endpoints, or the EndpointSlices of default/kubernetes,
// or with only --haproxy-stats HAProxy's servers.
std::vector<std::string> ha_backends(Run& run, core::HttpClient& http, bool authOk,
                                     const std::vector<HaproxyServer>& lb) {
  if (!run.options.endpoints.empty()) {
    return run.options.endpoints;
  }
  if (!run.options.allEndpoints) {
    std::vector<std::string> out;
    for (const HaproxyServer& s : lb) {
      if (!s.address.empty()) {
        out.push_back(s.address);
      }
    }
    return out;
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

std::string shown(std::string_view outside) {
  return core::escape_bytes(outside, 80);
}

// ha.haproxy: HAProxy's state of each server against what its /readyz says from here. Returns
// how many unready backends HAProxy still sends requests to.
std::size_t compare_haproxy(Run& run, const std::vector<HaproxyServer>& lb,
                            const std::vector<std::string>& backends,
                            const std::vector<BackendResult>& results) {
  std::size_t fedUnready = 0;
  for (const HaproxyServer& s : lb) {
    const std::string name = "HAProxy server " + shown(s.proxy) + "/" + shown(s.server);
    const bool unchecked = s.status == "no check";
    const bool byOperator = s.status.starts_with("MAINT") || s.status.starts_with("DRAIN");
    const std::string state =
        unchecked
            ? std::string("in rotation without a health check")
            : shown(s.status) +
                  (byOperator
                       ? std::string(" (set by an operator)")
                       : " by " + s.check_kind() +
                             (s.checkStatus.empty() ? "" : " (" + shown(s.checkStatus) + ")"));
    Check c = make_check("ha.haproxy", Layer::ha, CheckStatus::ok, {}, {}, shown(s.address));
    c.details = {{"proxy", s.proxy},
                 {"server", s.server},
                 {"status", s.status},
                 {"checkStatus", s.checkStatus}};
    const auto at = std::find(backends.begin(), backends.end(), s.address);
    if (s.address.empty() || at == backends.end()) {
      c.status = CheckStatus::skip;
      c.message = name + " is " + state + "; not checked directly (" +
                  (s.address.empty() ? "HAProxy gives no address: its stats page shows them "
                                       "with `stats show-legends`, its stats socket always"
                                     : "not among the backends checked") +
                  ")";
      run.add(std::move(c));
      continue;
    }
    const BackendResult& direct = results[static_cast<std::size_t>(at - backends.begin())];
    const std::string seen =
        direct.checks.empty() ? std::string("not ready") : direct.checks.front().message;
    if (s.sends_traffic() && !direct.healthy && !direct.connected) {
      // Its check reaches the port, this machine does not: the paths differ.
      c.status = CheckStatus::warn;
      c.message = name + " is " + state + ", but from here: " + seen;
      c.hint =
          "HAProxy reaches this backend and this machine does not: a firewall or route between "
          "here and the backend, or HAProxy checks another address than the one dialled here; "
          "requests through the load balancer may still be served";
    } else if (s.sends_traffic() && !direct.healthy) {
      ++fedUnready;
      c.status = CheckStatus::fail;
      c.message = name + " is " + state +
                  ", so HAProxy may send it requests, but checked directly: " + seen;
      if (unchecked) {
        c.hint =
            "HAProxy sends requests to every server, ready or not: add a health check of "
            "/readyz over HTTPS: in the backend `option httpchk GET /readyz` and `http-check "
            "expect status 200`, and `check check-ssl verify none` on each server";
      } else if (s.checkStatus.starts_with("L7")) {
        c.hint =
            "HAProxy's HTTP check passes where /readyz fails from here: make it ask GET /readyz "
            "over HTTPS (check-ssl) and expect 200, not /healthz, /livez or any answer; or "
            "HAProxy reaches this backend by another path than this machine (compare curl -k "
            "https://" +
            shown(s.address) + "/readyz from the load balancer)";
      } else {
        c.hint =
            "HAProxy's check only sees that the port " +
            std::string(s.checkStatus.starts_with("L6") ? "completes a TLS handshake"
                                                        : "accepts connections") +
            ", so an API server that accepts them and answers nothing ready keeps getting "
            "requests: check /readyz over HTTPS: in the backend `option httpchk GET /readyz` and "
            "`http-check expect status 200`, and `check check-ssl verify none` on each server";
      }
    } else if (!s.sends_traffic() && direct.healthy && !byOperator) {
      c.status = CheckStatus::warn;
      c.message = name + " is " + state + (s.checkDesc.empty() ? "" : ": " + shown(s.checkDesc)) +
                  ", but checked directly it is ready";
      c.hint =
          "HAProxy's check fails where /readyz succeeds: the check may be wrong (plain HTTP to "
          "the TLS port needs check-ssl; a path or status kube-apiserver does not give), or "
          "the load balancer cannot reach this backend (routing or a firewall between them); "
          "until then its capacity is lost";
    } else if (byOperator) {
      c.message = name + " is " + state + "; checked directly it is " +
                  (direct.healthy ? "ready" : "not ready");
    } else {
      c.message = name + " is " + state + (direct.healthy ? ", ready" : ", not ready") +
                  " checked directly: they agree";
    }
    run.add(std::move(c));
  }
  return fedUnready;
}

}  // namespace

void ha_layer(Run& run, core::HttpClient& http, bool authOk, bool lbReady) {
  std::vector<HaproxyServer> lb;
  bool lbKnown = false;
  if (!run.options.haproxyStats.empty()) {
    core::Result<std::vector<HaproxyServer>> servers = read_haproxy_stats(run);
    if (servers) {
      lb = api_servers(run, std::move(*servers));
      lbKnown = true;
    } else {
      run.add(make_check("ha.haproxy", Layer::ha, CheckStatus::warn,
                         "could not read HAProxy's statistics: " + servers.error().message,
                         "give the stats socket's path (`stats socket PATH` in the global "
                         "section, readable by this user) or the stats page's URL (`stats uri`)"));
    }
  }
  const std::vector<std::string> backends = ha_backends(run, http, authOk, lb);
  if (backends.empty()) {
    compare_haproxy(run, lb, {}, {});  // HAProxy's view alone, each server named
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
    for (const Check& c : r.checks) {
      run.add(c);  // a copy: compare_haproxy reads them below
    }
    run.report.timings.push_back(r.timing);
  }
  const std::size_t fedUnready = lbKnown ? compare_haproxy(run, lb, backends, results) : 0;
  const std::size_t failing = backends.size() - healthy;
  Check summary = make_check(
      "ha.summary", Layer::ha, CheckStatus::ok,
      std::to_string(healthy) + " of " + std::to_string(backends.size()) + " backends ready");
  if (failing > 0) {
    summary.status = healthy == 0 ? CheckStatus::fail : CheckStatus::warn;
    const std::string through = "; through " + core::endpoint_of(run.client.server);
    if (fedUnready > 0) {
      summary.message += "; HAProxy still sends requests to " + std::to_string(fedUnready) +
                         " of them (ha.haproxy)";
    } else if (lbReady) {
      summary.message += through + " the API answers ready, so the load balancer hides " +
                         std::to_string(failing) + " failing backend" + (failing == 1 ? "" : "s");
    } else {
      summary.message += through + " the API is not ready either";
    }
    summary.hint =
        "fix the failing backends listed above; until then requests that land on "
        "them fail unless the load balancer health-checks /readyz";
  }
  run.add(std::move(summary));
}

}  // namespace kp::apicheck::detail
