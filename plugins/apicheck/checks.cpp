// Options::check(): the layers in the order a request meets them. Each layer adds checks to the
// report; a layer that breaks the path ends the run, and the layers it hides are reported as
// skipped with the reason, so the report always says how far the request got.
#include <algorithm>
#include <cstdio>
#include <future>
#include <optional>

#include <openssl/sha.h>

#include "apicheck/apicheck.h"
#include "apicheck/run.h"
#include "core/kube/apiclient.h"
#include "core/kube/kube.h"
#include "core/kube/metrics.h"
#include "core/util/text.h"
#include "core/util/url.h"

namespace kp::apicheck {
namespace detail {
namespace {

using core::join;

// A short, non-reversible tag for a secret, so reports can tell two tokens apart.
std::string fingerprint(std::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest);
  char hex[17];
  for (int i = 0; i < 8; ++i) {
    std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  }
  return std::string("sha256:") + hex;
}

// One anonymous health endpoint (all four are public via system:public-info-viewer).
Check health_check(Run& run, const core::HttpResult& result, const std::string& id,
                   const std::string& path, bool first) {
  const std::string endpoint = run.timing.endpoint;
  if (!result) {
    Check c = transport_failure(id, Layer::health, result.error(), endpoint);
    // A connection that broke before the server had the request (a load balancer flapping
    // between backends) says nothing about the server: auth is still worth asking.
    run.serverBroken = run.serverBroken || c.layer == Layer::health;
    return c;
  }
  const core::HttpResponse& r = *result;
  if (first) {
    run.timing.firstByteMs = r.timings.firstByteMs;
  }
  Check c = make(id, Layer::health, CheckStatus::ok, {}, {}, endpoint);
  c.durationMs = r.timings.totalMs;
  c.details = {{"httpStatus", r.status}, {"httpVersion", r.httpVersion}};
  if (r.status == 200) {
    c.message = path + " ok (" + r.httpVersion + ")";
    return c;
  }
  if (r.status == 401 || r.status == 403) {
    c.status = CheckStatus::warn;
    c.message = path + " refused anonymous access (HTTP " + std::to_string(r.status) + ")";
    c.hint =
        "anonymous auth or the system:public-info-viewer binding is disabled; health is "
        "checked with credentials below";
    return c;
  }
  c.status = CheckStatus::fail;
  auto health = core::parse_health(r.body);
  std::vector<std::string> failed;
  if (health) {
    for (const core::HealthLine& line : health->checks) {
      if (!line.ok) {
        failed.push_back(line.name);
      }
    }
  }
  c.message = path + " HTTP " + std::to_string(r.status) +
              (failed.empty() ? ": " + snippet(r.body) : ": " + join(failed) + " failed");
  c.details["failed"] = failed;
  c.hint =
      failed.empty()
          ? "the endpoint does not answer like kube-apiserver: check what listens at " + endpoint
          : "kube-apiserver reports failing checks; see kubectl get --raw '" + path +
                "' and the kube-apiserver logs" +
                (std::find(failed.begin(), failed.end(), "etcd") != failed.end()
                     ? " (etcd: check etcd health, its endpoints in --etcd-servers and the "
                       "apiserver's etcd client certificates)"
                     : "");
  return c;
}

void health_layer(Run& run, core::HttpClient& http) {
  const std::pair<const char*, const char*> endpoints[] = {{"health.livez", "/livez"},
                                                           {"health.readyz", "/readyz?verbose"},
                                                           {"health.healthz", "/healthz"},
                                                           {"health.version", "/version"}};
  // /livez first: a server that lets it time out (accepts, then answers nothing, or one byte a
  // second) would make each of the others wait out the deadline too, so they are skipped.
  // The rest go as one batch on the same connection.
  std::vector<core::HttpRequest> requests;
  for (const auto& [id, path] : endpoints) {
    requests.push_back(request_to(run, path));
  }
  core::HttpResult first = http.send(requests.front());
  if (!first && (first.error().kind == core::TransportError::timeout ||
                 first.error().kind == core::TransportError::cancelled)) {
    run.add(health_check(run, first, endpoints[0].first, endpoints[0].second, true));
    for (std::size_t i = 1; i < std::size(endpoints); ++i) {
      run.add(make(endpoints[i].first, Layer::health, CheckStatus::skip,
                   "not checked: /livez got no answer within the deadline", {},
                   run.timing.endpoint));
    }
    run.serverBroken = true;
    return;
  }
  std::vector<core::HttpResult> results;
  results.push_back(std::move(first));
  for (core::HttpResult& result :
       http.send_batch(std::vector<core::HttpRequest>(requests.begin() + 1, requests.end()))) {
    results.push_back(std::move(result));
  }
  for (std::size_t i = 0; i + 1 < results.size(); ++i) {
    run.add(health_check(run, results[i], endpoints[i].first, endpoints[i].second, i == 0));
  }
  const core::HttpResult& result = results.back();
  if (!result) {
    Check c =
        transport_failure("health.version", Layer::health, result.error(), run.timing.endpoint);
    run.serverBroken = run.serverBroken || c.layer == Layer::health;
    run.add(std::move(c));
    return;
  }
  auto version = core::parse_version(result->body);
  if (result->status != 200 || !version) {
    // A 200 that is not a version object: whatever answers is not kube-apiserver.
    run.serverBroken = run.serverBroken || result->status == 200;
    run.add(make("health.version", Layer::health, CheckStatus::fail,
                 "/version HTTP " + std::to_string(result->status) + ": " + snippet(result->body),
                 "the address does not answer like kube-apiserver: check the server URL",
                 run.timing.endpoint));
    return;
  }
  Check c = make("health.version", Layer::health, CheckStatus::ok,
                 "server version " + version->gitVersion + " (" + version->goVersion + ", " +
                     version->platform + ")",
                 {}, run.timing.endpoint);
  c.durationMs = result->timings.totalMs;
  c.details = nlohmann::ordered_json::parse(result->body, nullptr, false);
  run.add(std::move(c));

  // The server's clock, from its Date header, against ours: skew breaks certificate checks.
  const std::string date = result->header("Date");
  struct tm tm {};
  if (!date.empty() && ::strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) != nullptr) {
    const std::int64_t server = ::timegm(&tm);
    const std::int64_t skew = run.options.deps.now() - server;
    Check clock = make("tls.clock", Layer::tls, CheckStatus::ok,
                       "local clock " + std::string(skew >= 0 ? "+" : "") + std::to_string(skew) +
                           " s from the server's Date header");
    if (std::llabs(skew) > 60) {
      clock.status = CheckStatus::warn;
      clock.hint =
          "clocks differ by more than a minute: certificates can look expired or not "
          "yet valid; check NTP (timedatectl, chronyc tracking) on both sides";
    }
    run.add(std::move(clock));
  }

  const std::string kubectl =
      run.options.deps.kubectlVersion ? run.options.deps.kubectlVersion() : std::string();
  if (!kubectl.empty()) {
    const std::optional<int> skew = core::minor_skew(kubectl, version->gitVersion);
    Check s = make("health.skew", Layer::health, CheckStatus::ok,
                   "kubectl " + kubectl + ", server " + version->gitVersion);
    if (skew && std::abs(*skew) > 1) {
      s.status = CheckStatus::warn;
      s.message += " (" + std::to_string(std::abs(*skew)) + " minor versions apart)";
      s.hint = "kubectl is supported within one minor version of the server: install kubectl " +
               version->major + "." + version->minor;
    }
    run.add(std::move(s));
  }
}

// ------------------------------------------------------------------------------- auth

std::string credential_description(const Run& run, const core::HttpRequest& r) {
  const core::ClientConfig& c = run.client;
  for (const auto& [name, value] : r.headers) {
    if (name == "Authorization" && value.starts_with("Bearer ")) {
      return std::string(c.exec ? "the exec plugin's token " : "the bearer token ") +
             fingerprint(value.substr(7));
    }
    if (name == "Authorization") {
      return "basic auth for user " + c.username;
    }
  }
  if (run.clientCert) {
    return "the client certificate " + run.clientCert->subject;
  }
  return "no credential";
}

Check unauthorized(const Run& run, const core::HttpRequest& r, const core::HttpResponse& resp) {
  Check c = make("auth.whoami", Layer::auth, CheckStatus::fail,
                 "the server rejected " + credential_description(run, r) + " (401 Unauthorized)",
                 {}, run.timing.endpoint);
  const core::ClientConfig& cfg = run.client;
  if (run.clientCert && !r.clientCertPem.empty()) {
    const std::int64_t left = run.clientCert->notAfterUnix - run.options.deps.now();
    if (left <= 0) {
      c.message += ": the client certificate expired " + days_text(-left) + " ago (" +
                   run.clientCert->notAfter + ")";
      c.hint =
          "issue a new client certificate: kubeadm kubeconfig user --client-name NAME "
          "(or kubeadm certs renew admin.conf for admin.conf), then update the kubeconfig";
      return c;
    }
    if (run.tls && !run.tls->acceptableClientCaNames.empty() &&
        std::find(run.tls->acceptableClientCaNames.begin(), run.tls->acceptableClientCaNames.end(),
                  run.clientCert->issuer) == run.tls->acceptableClientCaNames.end()) {
      c.message += ": it is issued by " + run.clientCert->issuer + ", the server trusts " +
                   join(run.tls->acceptableClientCaNames);
      c.hint = "get a client certificate signed by the cluster's client CA";
      return c;
    }
    c.hint =
        "the client certificate is not accepted: check it is signed by the server's "
        "--client-ca-file and not revoked";
    return c;
  }
  if (cfg.exec) {
    c.hint =
        "the exec plugin's token is not accepted: log in again with the plugin, or check "
        "the server's authenticator (OIDC issuer, webhook)";
  } else if (!cfg.username.empty()) {
    c.hint =
        "basic auth was removed from kube-apiserver in 1.19: use a token or client "
        "certificate";
  } else if (!cfg.token.empty() || !cfg.tokenFilePath.empty()) {
    c.hint =
        "the token is unknown, expired or revoked: get a new one (kubectl create token "
        "SA, or your identity provider's login)";
  } else {
    c.hint =
        "no credential in the kubeconfig user: add a token, client certificate or exec "
        "plugin";
  }
  if (auto status = core::parse_status(resp.body); status && !status->message.empty()) {
    c.details = {{"status", status->message}};
  }
  return c;
}

// Who am I: SelfSubjectReview (GA in 1.28), falling back to SelfSubjectAccessReview.
void auth_layer(Run& run, core::HttpClient& http) {
  if (run.clientKeyMismatch) {
    run.add(make("auth.whoami", Layer::auth, CheckStatus::skip,
                 "not checked: the client key does not match the client certificate (see "
                 "config.client-cert)"));
    return;
  }
  core::HttpRequest r = request_to(run, "/apis/authentication.k8s.io/v1/selfsubjectreviews");
  r.method = "POST";
  r.body = core::self_subject_review_request();
  std::optional<core::HttpHeaders> creds = credential_headers(run, r);
  if (!creds) {
    return;
  }
  r.headers = *creds;
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Accept", "application/json");
  const std::string endpoint = run.timing.endpoint;
  core::HttpResult result = http.send(r);
  if (!result) {
    run.add(transport_failure("auth.whoami", Layer::auth, result.error(), endpoint));
    return;
  }
  if (result->status == 401) {
    run.add(unauthorized(run, r, *result));
    return;
  }
  const std::optional<core::ApiStatus> status = core::parse_status(result->body);
  if (result->status == 403) {
    Check c = make("auth.whoami", Layer::auth, CheckStatus::fail,
                   "forbidden (403): " + (status ? status->message : snippet(result->body)), {},
                   endpoint);
    c.hint = run.client.impersonate.empty()
                 ? "the credential is valid but RBAC forbids even self-review: check the user's "
                   "bindings (kubectl auth can-i --list as an admin)"
                 : "the user may not impersonate \"" + run.client.impersonate +
                       "\": remove `as` from the kubeconfig user or grant impersonate on users "
                       "(and groups) to this user";
    run.add(std::move(c));
    return;
  }
  if (result->status == 404) {  // older servers: no SelfSubjectReview; ask an access review
    core::HttpRequest sar =
        request_to(run, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews");
    sar.method = "POST";
    sar.headers = r.headers;
    sar.clientCertPem = r.clientCertPem;
    sar.clientKeyPem = r.clientKeyPem;
    sar.body = core::self_subject_access_review_request("list", "pods", run.client.namespaceName);
    core::HttpResult answer = http.send(sar);
    if (answer && answer->status == 201) {
      auto review = core::parse_self_subject_access_review(answer->body);
      run.add(make("auth.whoami", Layer::auth, CheckStatus::ok,
                   "authenticated (this server has no SelfSubjectReview); list pods in " +
                       run.client.namespaceName + ": " +
                       (review && review->allowed ? "allowed" : "not allowed"),
                   {}, endpoint));
      return;
    }
    run.add(make("auth.whoami", Layer::auth, CheckStatus::warn,
                 "could not tell who the server takes us for (SelfSubjectReview 404)",
                 "the server is older than 1.28 and access reviews failed too", endpoint));
    return;
  }
  auto user = core::parse_self_subject_review(result->body);
  if (result->status != 201 || !user) {
    run.add(make(
        "auth.whoami", Layer::auth, CheckStatus::fail,
        "SelfSubjectReview HTTP " + std::to_string(result->status) + ": " + snippet(result->body),
        "unexpected answer to a self review: check the kube-apiserver logs", endpoint));
    return;
  }
  Check c = make("auth.whoami", Layer::auth, CheckStatus::ok,
                 "authenticated as " + user->username +
                     (user->groups.empty() ? "" : " (groups " + join(user->groups) + ")") +
                     " with " + credential_description(run, r),
                 {}, endpoint);
  c.durationMs = result->timings.totalMs;
  c.details = {{"username", user->username}, {"uid", user->uid}, {"groups", user->groups}};
  run.add(std::move(c));
}

// ------------------------------------------------------------------------------- ha

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
  Check c = make("ha.backend", Layer::ha, CheckStatus::fail, {}, {}, backend);
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
    run.add(
        make("ha.endpoints", Layer::ha, CheckStatus::skip, "not listed: authentication failed"));
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
    run.add(make("ha.endpoints", Layer::ha, CheckStatus::warn,
                 "could not list the kubernetes EndpointSlices: " +
                     (result ? "HTTP " + std::to_string(result->status) : result.error().message),
                 "list them needs get/list on endpointslices.discovery.k8s.io in default; or "
                 "pass --endpoints host:port,..."));
    return {};
  }
  auto endpoints = core::parse_kubernetes_endpoint_slices(result->body);
  if (!endpoints) {
    run.add(make("ha.endpoints", Layer::ha, CheckStatus::warn, endpoints.error().message,
                 "pass --endpoints host:port,... instead"));
    return {};
  }
  std::vector<std::string> out;
  for (const core::ApiEndpoint& e : *endpoints) {
    const std::string host =
        e.address.find(':') != std::string::npos ? "[" + e.address + "]" : e.address;
    out.push_back(host + ":" + std::to_string(e.port));
  }
  run.add(make("ha.endpoints", Layer::ha, CheckStatus::ok,
               "EndpointSlice default/kubernetes lists " + join(out)));
  return out;
}

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
  Check summary =
      make("ha.summary", Layer::ha, CheckStatus::ok,
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

// ------------------------------------------------------------------------------- metrics

void metrics_layer(Run& run, core::HttpClient& http) {
  core::HttpRequest r = request_to(run, "/metrics");
  std::optional<core::HttpHeaders> creds = credential_headers(run, r);
  if (!creds) {
    return;
  }
  r.headers = *creds;
  core::HttpResult result = http.send(r);
  if (!result || result->status != 200) {
    run.add(make(
        "metrics.scrape", Layer::metrics, CheckStatus::warn,
        "/metrics: " + (result ? "HTTP " + std::to_string(result->status) : result.error().message),
        "reading /metrics needs get on the nonResourceURL /metrics (e.g. the "
        "system:monitoring ClusterRole)"));
    return;
  }
  auto m = core::summarize_apiserver_metrics(result->body);
  if (!m) {
    run.add(make("metrics.scrape", Layer::metrics, CheckStatus::warn,
                 "/metrics is not Prometheus text: " + m.error().message,
                 "check what answers /metrics"));
    return;
  }
  char text[160];
  Check errors = make("metrics.errors", Layer::metrics, CheckStatus::ok, {});
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
  Check latency = make("metrics.latency", Layer::metrics, CheckStatus::ok, {});
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
  Check apf = make("metrics.apf", Layer::metrics, CheckStatus::ok, {});
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

// Every layer in turn; a layer that breaks the path returns early.
void run_layers(Run& run) {
  const Options& o = run.options;
  core::Report& report = run.report;
  config_layer(run);
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
  if (run.url.scheme == "https") {
    if (!tls_layer(run, fd->get())) {
      return;
    }
  } else {
    run.add(make("tls.handshake", Layer::tls, CheckStatus::warn,
                 "plain http: nothing is encrypted and client-go sends no credential",
                 "use the server's https:// URL"));
  }
  fd.reset();  // the diagnostic connection is done; HTTP gets its own, shared by every request

  std::unique_ptr<core::HttpClient> http = o.deps.http();
  health_layer(run, *http);
  run.timing.totalMs =
      run.timing.dnsMs + run.timing.connectMs + run.timing.tlsMs + run.timing.firstByteMs;
  report.timings.insert(report.timings.begin(), run.timing);
  if (run.serverBroken) {
    run.add(make("auth.whoami", Layer::auth, CheckStatus::skip,
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
  if (!o.endpoints.empty() || o.allEndpoints) {
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
  // Checks run in the order that gathers evidence best (the clock needs an HTTP answer, health
  // comes before auth); they are reported in the order a request meets the layers.
  std::stable_sort(report.checks.begin(), report.checks.end(),
                   [](const core::Check& a, const core::Check& b) { return a.layer < b.layer; });
  return report;
}

}  // namespace kp::apicheck
