// The health layer: /livez, /readyz, /healthz and /version without credentials, the clock skew
// from the Date header and the kubectl version skew.
#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "apicheck/run.h"
#include "core/kube/kube.h"
#include "core/util/text.h"

namespace kp::apicheck::detail {

using core::join;

namespace {

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
  Check c = make_check(id, Layer::health, CheckStatus::ok, {}, {}, endpoint);
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

}  // namespace

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
      run.add(make_check(endpoints[i].first, Layer::health, CheckStatus::skip,
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
  // The server's clock, from the first answer's Date header (refusals carry one too).
  for (const core::HttpResult& answer : results) {
    if (answer) {
      note_server_clock(run, *answer);
    }
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
    run.add(
        make_check("health.version", Layer::health, CheckStatus::fail,
                   "/version HTTP " + std::to_string(result->status) + ": " + snippet(result->body),
                   "the address does not answer like kube-apiserver: check the server URL",
                   run.timing.endpoint));
    return;
  }
  Check c = make_check("health.version", Layer::health, CheckStatus::ok,
                       "server version " + version->gitVersion + " (" + version->goVersion + ", " +
                           version->platform + ")",
                       {}, run.timing.endpoint);
  c.durationMs = result->timings.totalMs;
  c.details = nlohmann::ordered_json::parse(result->body, nullptr, false);
  run.add(std::move(c));

  const std::string kubectl =
      run.options.deps.kubectlVersion ? run.options.deps.kubectlVersion() : std::string();
  if (!kubectl.empty()) {
    const std::optional<int> skew = core::minor_skew(kubectl, version->gitVersion);
    Check s = make_check("health.skew", Layer::health, CheckStatus::ok,
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

}  // namespace kp::apicheck::detail
