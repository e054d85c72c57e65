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

// kubectl's version against the server's, learned without running kubectl where the binary
// tells (build info, shims, a dispatcher's versioned binaries); nullopt without a kubectl.
std::optional<Check> skew_check(const Deps& deps, const core::VersionInfo& server) {
  const core::KubectlBinary kubectl = deps.kubectl();
  if (kubectl.path.empty()) {
    return std::nullopt;
  }
  const std::string serverMinor = core::major_minor_text(server.gitVersion);
  // "(asdf shim)" and the like: what the version was learned through.
  const std::string via = kubectl.via.empty() ? "" : " (" + kubectl.via + ")";
  Check s = make_check("health.skew", Layer::health, CheckStatus::ok);
  s.details = {{"kubectl", kubectl.path}, {"runs", kubectl.target}};
  auto against = [&](const std::string& client, const std::string& note) {
    s.message = "kubectl " + client + note + ", server " + server.gitVersion;
    const std::optional<int> skew = core::minor_skew(client, server.gitVersion);
    if (skew && !core::skew_supported(*skew)) {
      s.status = CheckStatus::warn;
      s.message += " (" + std::to_string(std::abs(*skew)) + " minor versions apart)";
      s.hint = "kubectl is supported within one minor version of the server: install kubectl " +
               serverMinor;
    }
  };
  auto run_version = [&] {
    return deps.kubectlVersion ? deps.kubectlVersion(kubectl.target) : std::string();
  };
  if (kubectl.dispatcher) {
    // It asks the server for its version and runs the kubectl.<major>.<minor> beside it, else
    // its own built-in kubectl.
    std::vector<std::string> minors;
    for (const auto& entry : kubectl.dispatches) {
      minors.push_back(entry.first);
    }
    s.details["dispatches"] = minors;
    if (auto match = kubectl.dispatches.find(serverMinor); match != kubectl.dispatches.end()) {
      s.message = "kubectl on PATH is a version dispatcher: for server " + server.gitVersion +
                  " it runs " + match->second + ", so there is no skew";
      return s;
    }
    const std::string missing = " (version dispatcher without kubectl." + serverMinor +
                                " beside it" +
                                (minors.empty() ? std::string() : ": it has " + join(minors)) + ")";
    const std::string own = run_version();
    if (own.empty()) {
      s.status = CheckStatus::skip;
      s.message = "kubectl of unknown version" + missing + ", server " + server.gitVersion;
      return s;
    }
    against(own, missing);
    return s;
  }
  if (!kubectl.candidates.empty()) {
    // A shim over several installed versions: which one runs depends on the directory.
    std::vector<std::string> unsupported;
    for (const std::string& candidate : kubectl.candidates) {
      if (auto skew = core::minor_skew(candidate, server.gitVersion);
          skew && !core::skew_supported(*skew)) {
        unsupported.push_back(candidate);
      }
    }
    s.details["candidates"] = kubectl.candidates;
    s.message = "kubectl " + join(kubectl.candidates, " or ") + via +
                " (the one that runs depends on the directory), server " + server.gitVersion;
    if (!unsupported.empty()) {
      s.status = CheckStatus::warn;
      s.message += ": " + join(unsupported) + " more than one minor version apart";
      s.hint = "kubectl is supported within one minor version of the server: select kubectl " +
               serverMinor + " where you work with this cluster";
    }
    return s;
  }
  const std::string client = kubectl.gitVersion.empty() ? run_version() : kubectl.gitVersion;
  if (client.empty()) {
    s.status = CheckStatus::skip;
    s.message = "kubectl " + kubectl.target + via + " does not say its version, server " +
                server.gitVersion + ": the skew is unknown";
    return s;
  }
  against(client, via);
  return s;
}

constexpr std::pair<const char*, const char*> kEndpoints[] = {{"health.livez", "/livez"},
                                                              {"health.readyz", "/readyz?verbose"},
                                                              {"health.healthz", "/healthz"},
                                                              {"health.version", "/version"}};

bool no_answer_in_time(const core::HttpResult& result) {
  return !result && (result.error().kind == core::TransportError::timeout ||
                     result.error().kind == core::TransportError::cancelled);
}

}  // namespace

std::vector<core::HttpRequest> health_requests(const Run& run) {
  std::vector<core::HttpRequest> requests;
  for (const auto& [id, path] : kEndpoints) {
    requests.push_back(request_to(run, path));
    requests.back().http1 = true;  // anonymous: one keep-alive connection for all four
  }
  return requests;
}

std::vector<core::HttpResult> fetch_health(core::HttpClient& http,
                                           const std::vector<core::HttpRequest>& requests) {
  // /livez first: a server that lets it time out (accepts, then answers nothing, or one byte a
  // second) would make each of the others wait out the deadline too, so they are not sent.
  // The rest go as one batch on the same connection.
  std::vector<core::HttpResult> results;
  results.push_back(http.send(requests.front()));
  if (no_answer_in_time(results.front())) {
    return results;
  }
  for (core::HttpResult& result :
       http.send_batch(std::vector<core::HttpRequest>(requests.begin() + 1, requests.end()))) {
    results.push_back(std::move(result));
  }
  return results;
}

void health_layer(Run& run, std::vector<core::HttpResult> results) {
  const auto& endpoints = kEndpoints;
  if (results.size() < std::size(endpoints)) {
    run.add(health_check(run, results.front(), endpoints[0].first, endpoints[0].second, true));
    for (std::size_t i = 1; i < std::size(endpoints); ++i) {
      run.add(make_check(endpoints[i].first, Layer::health, CheckStatus::skip,
                         "not checked: /livez got no answer within the deadline", {},
                         run.timing.endpoint));
    }
    run.serverBroken = true;
    return;
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

  if (run.options.deps.kubectl) {
    if (std::optional<Check> skew = skew_check(run.options.deps, *version)) {
      run.add(std::move(*skew));
    }
  }
}

}  // namespace kp::apicheck::detail
