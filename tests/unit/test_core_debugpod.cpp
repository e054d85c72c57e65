#include <csignal>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/kube/apiclient.h"
#include "core/kube/debugpod.h"
#include "support_http.h"

using namespace kp::core;
using nlohmann::json;

namespace {

// The API server as the runner sees it: scripted answers by method, watches streamed through
// onBody, every request recorded in http.sent.
struct FakeApiServer {
  kp::testsupport::FakeHttp http;
  long createStatus = 201;
  json createBody = {{"metadata", {{"name", "kubectl-netdebug-abcde"}, {"resourceVersion", "7"}}},
                     {"status", {{"phase", "Pending"}}}};
  std::vector<json> watchEvents;  // streamed to a watch; then the watch "times out"
  long deleteStatus = 200;

  FakeApiServer() {
    http.hook([this](const HttpRequest& r, std::size_t) { return answer(r); });
  }

  std::optional<HttpResult> answer(const HttpRequest& r) const {
    if (r.method == "POST") {
      return kp::testsupport::http_answer(createStatus, createBody.dump());
    }
    if (r.method == "DELETE") {
      return kp::testsupport::http_answer(
          deleteStatus,
          deleteStatus == 404
              ? R"({"kind":"Status","status":"Failure","reason":"NotFound","code":404})"
              : "{}");
    }
    if (r.onBody) {
      for (const json& event : watchEvents) {
        if (!r.onBody(event.dump() + "\n")) {
          return kp::testsupport::http_answer(200);
        }
      }
      return HttpError{TransportError::timeout, 28, "Operation timed out", {}};
    }
    return kp::testsupport::http_answer(200, "{}");
  }
};

ApiClient client_for(FakeApiServer& server) {
  ClientConfig config;
  config.server = "https://api.example:6443";
  Credentials credentials;
  credentials.headers.emplace_back("Authorization", "Bearer secret-token");
  return ApiClient(config, credentials, server.http.factory(), std::chrono::milliseconds(1000));
}

json running_pod() {
  return {{"metadata", {{"name", "kubectl-netdebug-abcde"}}},
          {"status",
           {{"phase", "Running"},
            {"containerStatuses",
             {{{"name", "debug"}, {"state", {{"running", {{"startedAt", "x"}}}}}}}}}}};
}

DebugPodSpec spec() {
  DebugPodSpec s;
  s.tool = "netdebug";
  s.runId = "0123456789ab";
  s.namespaceName = "tools";
  s.nodeName = "node-1";
  s.image = "nicolaka/netshoot:v0.13";
  return s;
}

DebugPodTimeouts short_timeouts() {
  DebugPodTimeouts t;
  t.start = std::chrono::milliseconds(1500);
  t.exec = std::chrono::milliseconds(1000);
  return t;
}

DebugPodDeps exec_answering(std::string out, int* calls) {
  DebugPodDeps deps;
  deps.exec = [out, calls](const ApiClient&, const PodExecRequest& request) {
    ++*calls;
    CHECK(request.pod == "kubectl-netdebug-abcde");
    CHECK(request.namespaceName == "tools");
    CHECK(request.container == "debug");
    return Result<PodExecResult, ApiError>(PodExecResult{out, "", 0, ""});
  };
  return deps;
}

struct SignalReset {
  ~SignalReset() { StopSignals::set_for_test(0); }
};

}  // namespace

TEST_CASE("core::debug_pod_manifest labels, node, tolerations and each profile's security context",
          "[core][debugpod]") {
  DebugPodSpec s = spec();
  json pod = debug_pod_manifest(s, true);
  CHECK(pod["metadata"]["generateName"] == "kubectl-netdebug-");
  CHECK(pod["metadata"]["namespace"] == "tools");
  CHECK(pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kplugins");
  CHECK(pod["metadata"]["labels"]["kplugins.io/tool"] == "netdebug");
  CHECK(pod["metadata"]["labels"]["kplugins.io/run"] == "0123456789ab");
  CHECK(pod["spec"]["nodeName"] == "node-1");
  CHECK(pod["spec"]["restartPolicy"] == "Never");
  CHECK(pod["spec"]["tolerations"] == json::parse(R"([{"operator":"Exists"}])"));
  CHECK(pod["spec"]["activeDeadlineSeconds"] == 900);
  CHECK(pod["spec"]["automountServiceAccountToken"] == true);
  CHECK(pod["spec"]["containers"][0]["name"] == "debug");
  CHECK_FALSE(pod["spec"]["containers"][0].contains("securityContext"));
  CHECK_FALSE(pod["spec"].contains("volumes"));

  s.profile = PodProfile::restricted;
  s.hostNetwork = true;
  s.readOnlyHostPaths = {{"/etc/kubernetes", "/host/etc/kubernetes", "Directory"}};
  s.imagePullSecrets = {"mirror"};
  pod = debug_pod_manifest(s, false);
  const json& sc = pod["spec"]["containers"][0]["securityContext"];
  CHECK(sc["allowPrivilegeEscalation"] == false);
  CHECK(sc["runAsNonRoot"] == true);
  CHECK(sc["capabilities"]["drop"] == json::array({"ALL"}));
  CHECK(sc["seccompProfile"]["type"] == "RuntimeDefault");
  CHECK(pod["spec"]["hostNetwork"] == true);
  CHECK(pod["spec"]["dnsPolicy"] == "ClusterFirstWithHostNet");
  CHECK(pod["spec"]["volumes"][0]["hostPath"]["path"] == "/etc/kubernetes");
  CHECK(pod["spec"]["volumes"][0]["hostPath"]["type"] == "Directory");
  CHECK(pod["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] == true);
  CHECK(pod["spec"]["imagePullSecrets"][0]["name"] == "mirror");

  s.profile = PodProfile::netadmin;
  pod = debug_pod_manifest(s, false);
  CHECK(pod["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] ==
        json::array({"NET_ADMIN", "NET_RAW"}));

  CHECK(parse_profile("restricted").value() == PodProfile::restricted);
  CHECK_FALSE(parse_profile("root"));
  CHECK(parse_profile("root").error().message.find("--profile") != std::string::npos);
}

TEST_CASE("core::pod_state running, waiting with the kubelet's or scheduler's reason, ended",
          "[core][debugpod]") {
  CHECK(pod_state(running_pod()).kind == PodState::running);

  const json pulling = json::parse(R"({"status":{"phase":"Pending","containerStatuses":[
      {"name":"debug","state":{"waiting":{"reason":"ImagePullBackOff",
       "message":"Back-off pulling image \"x\""}}}]}})");
  PodState state = pod_state(pulling);
  CHECK(state.kind == PodState::waiting);
  CHECK(state.reason == "ImagePullBackOff");
  CHECK(state.message == "Back-off pulling image \"x\"");
  CHECK_FALSE(is_hopeless(state));

  const json unschedulable = json::parse(R"({"status":{"phase":"Pending","conditions":[
      {"type":"PodScheduled","status":"False","reason":"Unschedulable",
       "message":"0/3 nodes are available: 3 Insufficient cpu."}]}})");
  state = pod_state(unschedulable);
  CHECK(state.reason == "Unschedulable");
  CHECK(state.message == "0/3 nodes are available: 3 Insufficient cpu.");

  state = pod_state(json::parse(R"({"status":{"phase":"Failed","reason":"OutOfcpu",
      "message":"Node didn't have enough resource"}})"));
  CHECK(state.kind == PodState::failed);
  CHECK(state.reason == "OutOfcpu");
  CHECK(is_hopeless(state));

  state = pod_state(json::parse(R"({"status":{"phase":"Pending","containerStatuses":[
      {"name":"debug","state":{"waiting":{"reason":"InvalidImageName"}}}]}})"));
  CHECK(is_hopeless(state));
  CHECK(pod_state(json::parse("[]")).kind == PodState::waiting);
}

TEST_CASE("core::run_debug_pod create, watch until running, exec, delete", "[core][debugpod]") {
  FakeApiServer server;
  server.watchEvents = {{{"type", "MODIFIED"}, {"object", running_pod()}}};
  const ApiClient client = client_for(server);
  PodRegistry registry;
  int execs = 0;
  const DebugPodRun run =
      run_debug_pod(client, spec(), {"sh", "-c", "true"}, "", short_timeouts(), registry, false,
                    exec_answering("{\"id\":\"x\"}\n", &execs));
  CHECK(run.failure.empty());
  CHECK(run.started);
  CHECK(run.podName == "kubectl-netdebug-abcde");
  CHECK(run.exec.out == "{\"id\":\"x\"}\n");
  CHECK(execs == 1);
  REQUIRE(server.http.sent.size() == 3);
  CHECK(server.http.sent[0].method == "POST");
  CHECK(server.http.sent[0].url == "https://api.example:6443/api/v1/namespaces/tools/pods");
  CHECK(json::parse(server.http.sent[0].body)["spec"]["nodeName"] == "node-1");
  CHECK(server.http.sent[1].url.find("watch=1") != std::string::npos);
  CHECK(server.http.sent[1].url.find("fieldSelector=metadata.name%3Dkubectl-netdebug-abcde") !=
        std::string::npos);
  CHECK(server.http.sent[1].url.find("resourceVersion=7") != std::string::npos);
  CHECK(server.http.sent[2].method == "DELETE");
  CHECK(server.http.sent[2].url ==
        "https://api.example:6443/api/v1/namespaces/tools/pods/kubectl-netdebug-abcde");
  CHECK(json::parse(server.http.sent[2].body)["gracePeriodSeconds"] == 0);
  CHECK(registry.live().empty());
  CHECK(registry.peak() == 1);
  CHECK(client.requests() == 3);
}

TEST_CASE("core::run_debug_pod the pod is deleted on every path", "[core][debugpod]") {
  SignalReset reset;
  FakeApiServer server;
  const ApiClient client = client_for(server);
  PodRegistry registry;
  int execs = 0;

  SECTION("it never starts: the timeout quotes the last reason") {
    server.watchEvents = {
        {{"type", "MODIFIED"},
         {"object", json::parse(R"({"status":{"phase":"Pending","containerStatuses":[
            {"name":"debug","state":{"waiting":{"reason":"ImagePullBackOff",
             "message":"Back-off pulling image"}}}]}})")}}};
    const DebugPodRun run = run_debug_pod(client, spec(), {"true"}, "", short_timeouts(), registry,
                                          false, exec_answering("", &execs));
    CHECK_FALSE(run.started);
    CHECK(run.failure.find("did not start within 1 s: ImagePullBackOff: Back-off pulling image") !=
          std::string::npos);
    CHECK(run.failureHint.find("--image") != std::string::npos);
    CHECK(execs == 0);
  }
  SECTION("the exec fails") {
    server.watchEvents = {{{"type", "MODIFIED"}, {"object", running_pod()}}};
    DebugPodDeps deps;
    deps.exec = [](const ApiClient&, const PodExecRequest&) {
      return Result<PodExecResult, ApiError>(
          ApiError{403, TransportError::other, "Forbidden", "POST exec: forbidden (HTTP 403)"});
    };
    const DebugPodRun run =
        run_debug_pod(client, spec(), {"true"}, "", short_timeouts(), registry, false, deps);
    CHECK(run.failure.find("forbidden") != std::string::npos);
    CHECK(run.failureHint.find("pods/exec") != std::string::npos);
  }
  SECTION("the exec throws") {
    server.watchEvents = {{{"type", "MODIFIED"}, {"object", running_pod()}}};
    DebugPodDeps deps;
    deps.exec = [](const ApiClient&, const PodExecRequest&) -> Result<PodExecResult, ApiError> {
      throw std::runtime_error("boom");
    };
    CHECK_THROWS(
        run_debug_pod(client, spec(), {"true"}, "", short_timeouts(), registry, false, deps));
  }
  SECTION("a signal arrives while it starts") {
    StopSignals::set_for_test(SIGINT);
    const DebugPodRun run = run_debug_pod(client, spec(), {"true"}, "", short_timeouts(), registry,
                                          false, exec_answering("", &execs));
    CHECK(run.failure.find("interrupted") != std::string::npos);
    CHECK(execs == 0);
  }
  SECTION("the watch's version is too old: it watches again from now") {
    server.watchEvents = {{{"type", "ERROR"}, {"object", {{"code", 410}}}}};
    const DebugPodRun run = run_debug_pod(client, spec(), {"true"}, "", short_timeouts(), registry,
                                          false, exec_answering("", &execs));
    CHECK(run.failure.find("did not start within 1 s") != std::string::npos);
    REQUIRE(server.http.count("GET") >= 2);
    CHECK(server.http.count("GET") <= 20);  // paced, not a busy loop
    CHECK(server.http.sent[1].url.find("resourceVersion=7") != std::string::npos);
    CHECK(server.http.sent[2].url.find("resourceVersion") == std::string::npos);
  }
  SECTION("someone else deletes it") {
    server.watchEvents = {{{"type", "DELETED"}, {"object", json::object()}}};
    const DebugPodRun run = run_debug_pod(client, spec(), {"true"}, "", short_timeouts(), registry,
                                          false, exec_answering("", &execs));
    CHECK(run.failure.find("deleted by someone else") != std::string::npos);
  }
  CHECK(server.http.count("DELETE") == 1);
  CHECK(registry.live().empty());
}

TEST_CASE("core::run_debug_pod --keep keeps it; a failed create creates nothing to delete",
          "[core][debugpod]") {
  FakeApiServer server;
  server.watchEvents = {{{"type", "MODIFIED"}, {"object", running_pod()}}};
  const ApiClient client = client_for(server);
  PodRegistry registry;
  int execs = 0;
  DebugPodRun run = run_debug_pod(client, spec(), {"true"}, "", short_timeouts(), registry, true,
                                  exec_answering("", &execs));
  CHECK(run.failure.empty());
  CHECK(server.http.count("DELETE") == 0);
  CHECK(registry.live().empty());

  FakeApiServer rejecting;
  rejecting.createStatus = 403;
  rejecting.createBody = json::parse(
      R"({"kind":"Status","status":"Failure","reason":"Forbidden","code":403,"message":
      "pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": runAsNonRoot != true"})");
  run = run_debug_pod(client_for(rejecting), spec(), {"true"}, "", short_timeouts(), registry,
                      false, exec_answering("", &execs));
  CHECK(run.failure.find("violates PodSecurity \"restricted:latest\"") != std::string::npos);
  CHECK(run.failureHint.find("--profile restricted") != std::string::npos);
  CHECK(rejecting.http.count("DELETE") == 0);
}

TEST_CASE("core::delete_pod a pod already gone counts as deleted; a signal does not stop it",
          "[core][debugpod]") {
  SignalReset reset;
  FakeApiServer server;
  server.deleteStatus = 404;
  ApiClient client = client_for(server);
  client.set_cancel([] { return true; });
  StopSignals::set_for_test(SIGTERM);
  CHECK(delete_pod(client, "tools", "p"));
  server.deleteStatus = 500;
  const Status failed = delete_pod(client, "tools", "p");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message.find("pod tools/p may be left behind") != std::string::npos);
}
