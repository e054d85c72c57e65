#include "core/kube/debugpod.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "core/kube/kube.h"
#include "core/util/signals.h"
#include "core/util/text.h"
#include "core/util/time.h"

namespace kp::core {
namespace {

constexpr NameTable<PodProfile> kProfileNames[] = {{"default", PodProfile::standard},
                                                   {"restricted", PodProfile::restricted},
                                                   {"netadmin", PodProfile::netadmin}};

double ms_between(std::chrono::steady_clock::time_point a,
                  std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// What to do about a pod that did not start, by reason.
std::string start_hint(const PodState& state, const DebugPodSpec& spec) {
  const std::string& r = state.reason;
  if (r == "ImagePullBackOff" || r == "ErrImagePull" || r == "InvalidImageName" ||
      r == "ErrImageNeverPull") {
    return "the node cannot pull " + spec.image +
           ": mirror it to a registry the nodes can reach and pass --image (and "
           "--image-pull-secret for a private registry)";
  }
  if (r == "Unschedulable") {
    return "the scheduler will not place the pod: check the node's taints, cordon state and "
           "resources (kubectl describe node " +
           spec.nodeName + ")";
  }
  if (r == "CreateContainerConfigError" || r == "CreateContainerError") {
    return "the kubelet cannot create the container: see kubectl describe pod -n " +
           spec.namespaceName;
  }
  if (r == "DeadlineExceeded") {
    return "the pod ran out of its activeDeadlineSeconds; run again";
  }
  return "see kubectl describe pod -n " + spec.namespaceName +
         " and the node's kubelet logs; --timeout waits longer";
}

std::string describe_state(const PodState& state) {
  std::string text = state.reason.empty() ? std::string("no status yet") : state.reason;
  if (!state.message.empty()) {
    text += ": " + state.message;
  }
  return text;
}

}  // namespace

Result<PodProfile> parse_profile(std::string_view text) {
  if (std::optional<PodProfile> profile = value_named(kProfileNames, text)) {
    return *profile;
  }
  return Error{"--profile: unknown profile \"" + std::string(text) +
               "\": use default, restricted or netadmin"};
}

std::string_view to_string(PodProfile profile) {
  return name_of(kProfileNames, profile, "default");
}

nlohmann::json debug_pod_manifest(const DebugPodSpec& spec, bool mountServiceAccountToken) {
  nlohmann::json container = {
      {"name", kDebugContainer},
      {"image", spec.image},
      {"imagePullPolicy", "IfNotPresent"},
      // The work arrives by exec; the sleep only keeps the container alive, and ends by itself.
      {"command", {"sleep", std::to_string(spec.activeDeadlineSeconds)}},
      {"resources",
       {{"requests", {{"cpu", "10m"}, {"memory", "32Mi"}}},
        {"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}}}},
  };
  nlohmann::json podSecurity = nlohmann::json::object();
  switch (spec.profile) {
    case PodProfile::restricted:
      container["securityContext"] = {
          {"allowPrivilegeEscalation", false},
          {"runAsNonRoot", true},
          {"runAsUser", 65534},
          {"runAsGroup", 65534},
          {"capabilities", {{"drop", {"ALL"}}}},
          {"seccompProfile", {{"type", "RuntimeDefault"}}},
      };
      podSecurity = {{"runAsNonRoot", true}, {"seccompProfile", {{"type", "RuntimeDefault"}}}};
      break;
    case PodProfile::netadmin:
      container["securityContext"] = {
          {"runAsUser", 0},
          {"capabilities", {{"add", {"NET_ADMIN", "NET_RAW"}}}},
      };
      break;
    case PodProfile::standard:
      break;
  }
  nlohmann::json volumes = nlohmann::json::array();
  nlohmann::json mounts = nlohmann::json::array();
  for (std::size_t i = 0; i < spec.readOnlyHostPaths.size(); ++i) {
    const HostPathMount& m = spec.readOnlyHostPaths[i];
    const std::string name = "host-" + std::to_string(i);
    volumes.push_back({{"name", name}, {"hostPath", {{"path", m.hostPath}, {"type", m.type}}}});
    mounts.push_back({{"name", name}, {"mountPath", m.mountPath}, {"readOnly", true}});
  }
  if (!mounts.empty()) {
    container["volumeMounts"] = mounts;
  }
  nlohmann::json podSpec = {
      {"containers", {container}},
      {"restartPolicy", "Never"},
      {"terminationGracePeriodSeconds", 0},
      {"activeDeadlineSeconds", spec.activeDeadlineSeconds},
      {"automountServiceAccountToken", mountServiceAccountToken},
      {"enableServiceLinks", false},
      // Every taint, so a cordoned or control-plane node is checked too.
      {"tolerations", {{{"operator", "Exists"}}}},
      {"hostNetwork", spec.hostNetwork},
  };
  if (spec.hostNetwork) {
    podSpec["dnsPolicy"] = "ClusterFirstWithHostNet";
  }
  if (!spec.nodeName.empty()) {
    podSpec["nodeName"] = spec.nodeName;
  }
  if (!podSecurity.empty()) {
    podSpec["securityContext"] = podSecurity;
  }
  if (!volumes.empty()) {
    podSpec["volumes"] = volumes;
  }
  if (!spec.imagePullSecrets.empty()) {
    nlohmann::json secrets = nlohmann::json::array();
    for (const std::string& name : spec.imagePullSecrets) {
      secrets.push_back({{"name", name}});
    }
    podSpec["imagePullSecrets"] = secrets;
  }
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"generateName", "kubectl-" + spec.tool + "-"},
        {"namespace", spec.namespaceName},
        {"labels",
         {{std::string(kManagedByLabel), std::string(kManagedByValue)},
          {std::string(kToolLabel), spec.tool},
          {std::string(kRunLabel), spec.runId}}},
        {"annotations",
         {{"kplugins.io/purpose", "short-lived debug pod of kubectl " + spec.tool +
                                      "; safe to delete (kubectl netdebug cleanup)"}}}}},
      {"spec", podSpec},
  };
}

std::string new_run_id() {
  std::random_device device;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string id;
  for (int i = 0; i < 12; ++i) {
    id += "0123456789abcdef"[hex(device)];
  }
  return id;
}

PodState pod_state(const nlohmann::json& pod) {
  const nlohmann::json& status = json_member(pod, "status");
  const std::string phase = json_string(status, "phase");
  PodState state;
  if (phase == "Failed" || phase == "Succeeded") {
    state.kind = PodState::failed;
    state.reason = json_string(status, "reason").empty() ? phase : json_string(status, "reason");
    state.message = json_string(status, "message");
  }
  for (const nlohmann::json& c : json_member(status, "containerStatuses").is_array()
                                     ? json_member(status, "containerStatuses")
                                     : nlohmann::json::array()) {
    if (json_string(c, "name") != kDebugContainer) {
      continue;
    }
    const nlohmann::json& s = json_member(c, "state");
    if (s.contains("running") && phase == "Running") {
      state.kind = PodState::running;
      state.reason.clear();
      state.message.clear();
      return state;
    }
    if (s.contains("waiting")) {
      state.reason = json_string(s["waiting"], "reason");
      state.message = json_string(s["waiting"], "message");
    }
    if (s.contains("terminated")) {
      state.kind = PodState::failed;
      state.reason = json_string(s["terminated"], "reason");
      state.message = json_string(s["terminated"], "message");
    }
  }
  if (state.kind == PodState::waiting && state.reason.empty()) {
    for (const nlohmann::json& condition : json_member(status, "conditions").is_array()
                                               ? json_member(status, "conditions")
                                               : nlohmann::json::array()) {
      if (json_string(condition, "type") == "PodScheduled" &&
          json_string(condition, "status") == "False") {
        state.reason = json_string(condition, "reason");
        state.message = json_string(condition, "message");
      }
    }
  }
  return state;
}

bool is_hopeless(const PodState& state) {
  static const std::set<std::string> kHopeless{"InvalidImageName", "ErrImageNeverPull",
                                               "CreateContainerConfigError"};
  return state.kind == PodState::failed || kHopeless.count(state.reason) > 0;
}

void PodRegistry::add(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mutex_);
  live_.emplace(ns, name);
  peak_ = std::max(peak_, live_.size());
}

void PodRegistry::remove(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mutex_);
  live_.erase({ns, name});
}

std::vector<std::pair<std::string, std::string>> PodRegistry::live() const {
  std::lock_guard lock(mutex_);
  return {live_.begin(), live_.end()};
}

std::size_t PodRegistry::peak() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

Status delete_pod(const ApiClient& client, const std::string& ns, const std::string& name) {
  ApiClient deleter = client.clone(false);  // a signal must not stop the cleanup it triggered
  if (const auto budget = StopSignals::cleanup_budget()) {
    deleter.limit_timeout(*budget);  // the console was closed: Windows ends us in ~5 s
  }
  const nlohmann::json options = {{"apiVersion", "v1"},
                                  {"kind", "DeleteOptions"},
                                  {"gracePeriodSeconds", 0},
                                  {"propagationPolicy", "Background"}};
  const std::string path = "/api/v1/namespaces/" + url_escape(ns) + "/pods/" + url_escape(name);
  ApiResult result = deleter.del(path, options);
  if (!result && result.error().status == 404) {
    return {};
  }
  if (!result) {
    return Error{"pod " + ns + "/" + name + " may be left behind: " + result.error().message};
  }
  return {};
}

std::vector<std::string> delete_all(const ApiClient& client, PodRegistry& registry) {
  std::vector<std::string> failed;
  for (const auto& [ns, name] : registry.live()) {
    Status deleted = delete_pod(client, ns, name);
    if (deleted) {
      registry.remove(ns, name);
    } else {
      failed.push_back(deleted.error().message);
    }
  }
  return failed;
}

DebugPodRun with_debug_pod(const ApiClient& client, const DebugPodSpec& spec,
                           std::chrono::milliseconds startTimeout, PodRegistry& registry, bool keep,
                           const std::function<void(DebugPodRun&)>& action,
                           const DebugPodDeps& deps) {
  DebugPodRun run;
  run.nodeName = spec.nodeName;
  const auto started = deps.clock();
  const std::string podsPath = "/api/v1/namespaces/" + url_escape(spec.namespaceName) + "/pods";
  // Not cancelled by a signal: the server may already have made the pod (its name is
  // generated), and only the answer names it for the cleanup below.
  ApiResult created = client.clone(false).post(podsPath, debug_pod_manifest(spec, false));
  if (!created) {
    const ApiError& e = created.error();
    run.failure =
        "cannot create the debug pod in namespace " + spec.namespaceName + ": " + e.message;
    if (e.status == 403 && e.message.find("PodSecurity") != std::string::npos) {
      run.failureHint =
          "the namespace's Pod Security level rejects this pod: use --profile restricted, or a "
          "namespace whose pod-security.kubernetes.io/enforce label allows it";
    } else if (e.status == 403) {
      run.failureHint =
          "you need create, get, watch and delete on pods and create on "
          "pods/exec in namespace " +
          spec.namespaceName + " (kubectl auth can-i create pods/exec -n " + spec.namespaceName +
          ")";
    } else if (e.status == 404) {
      run.failureHint = "namespace " + spec.namespaceName + " does not exist: pass -n";
    } else {
      run.failureHint = "check that the API server accepts writes (kubectl apicheck)";
    }
    return run;
  }
  run.podName = json_string(json_member(*created, "metadata"), "name");
  registry.add(spec.namespaceName, run.podName);

  // From here on, the pod is deleted whatever happens (unless --keep).
  struct Cleanup {
    const ApiClient& client;
    PodRegistry& registry;
    std::string ns;  // copies: `run` may be moved from when the destructor runs
    std::string name;
    bool keep;
    ~Cleanup() {
      if (keep) {
        registry.remove(ns, name);
        return;
      }
      if (delete_pod(client, ns, name)) {
        registry.remove(ns, name);
      }
    }
  } cleanup{client, registry, spec.namespaceName, run.podName, keep};

  // Watch (not poll) from the version we created; the first event is the pod as it is.
  PodState state = pod_state(*created);
  // Each watch resumes after the last version seen; after an ERROR event (the version is too
  // old) it starts over without one, which begins with the pod as it is now.
  std::string resourceVersion = json_string(json_member(*created, "metadata"), "resourceVersion");
  const auto deadline = started + startTimeout;
  while (state.kind == PodState::waiting && !StopSignals::raised() && deps.clock() < deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - deps.clock());
    Result<bool, ApiError> watched = client.watch(
        podsPath + "?fieldSelector=" + url_escape("metadata.name=" + run.podName) +
            (resourceVersion.empty() ? "" : "&resourceVersion=" + url_escape(resourceVersion)),
        [&](const nlohmann::json& event) {
          const std::string type = json_string(event, "type");
          if (type == "DELETED") {
            state = {PodState::failed, "Deleted", "the pod was deleted by someone else"};
            return false;
          }
          if (type == "ERROR") {
            resourceVersion.clear();
            return false;
          }
          const nlohmann::json& object = json_member(event, "object");
          const std::string seen = json_string(json_member(object, "metadata"), "resourceVersion");
          if (!seen.empty()) {
            resourceVersion = seen;
          }
          state = pod_state(object);
          return state.kind == PodState::waiting && !is_hopeless(state);
        },
        std::max(left, std::chrono::milliseconds(1000)), [] { return StopSignals::raised(); });
    if (!watched) {
      run.failure = "watching pod " + run.podName + " failed: " + watched.error().message;
      run.failureHint = "check that the API server is reachable (kubectl apicheck)";
      return run;
    }
    if (is_hopeless(state)) {
      break;
    }
    if (state.kind == PodState::waiting) {
      // The watch ended early (an ERROR event, a server closing it): do not spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  run.startMs = ms_between(started, deps.clock());
  if (StopSignals::raised()) {
    run.failure = "interrupted while pod " + run.podName + " was starting";
    return run;
  }
  if (state.kind != PodState::running) {
    run.failure =
        "pod " + run.podName + " on " +
        (spec.nodeName.empty() ? std::string("its node") : "node " + spec.nodeName) +
        (state.kind == PodState::failed
             ? " ended: "
             : " did not start within " + std::to_string(startTimeout.count() / 1000) + " s: ") +
        describe_state(state);
    run.failureHint = start_hint(state, spec);
    return run;
  }
  run.started = true;
  action(run);
  return run;
}

DebugPodRun run_debug_pod(const ApiClient& client, const DebugPodSpec& spec,
                          const std::vector<std::string>& command, const std::string& stdinData,
                          const DebugPodTimeouts& timeouts, PodRegistry& registry, bool keep,
                          const DebugPodDeps& deps) {
  const auto action = [&](DebugPodRun& run) {
    const auto execStart = deps.clock();
    PodExecRequest request;
    request.namespaceName = spec.namespaceName;
    request.pod = run.podName;
    request.container = std::string(kDebugContainer);
    request.command = command;
    request.stdinData = stdinData;
    request.timeout = timeouts.exec;
    request.cancelled = [] { return StopSignals::raised(); };
    Result<PodExecResult, ApiError> executed = deps.exec(client, request);
    run.execMs = ms_between(execStart, deps.clock());
    if (!executed) {
      run.failure = "exec in pod " + run.podName + " failed: " + executed.error().message;
      run.failureHint =
          executed.error().status == 403
              ? "you need create on pods/exec in namespace " + spec.namespaceName
              : "the API server could not reach the kubelet on the node (port 10250): check the "
                "node's kubelet and the control plane's route to it";
      return;
    }
    run.exec = std::move(*executed);
  };
  return with_debug_pod(client, spec, timeouts.start, registry, keep, action, deps);
}

Result<std::vector<LeftoverPod>, ApiError> list_debug_pods(const ApiClient& client,
                                                           const std::string& ns,
                                                           const std::string& tool) {
  std::string selector = std::string(kManagedByLabel) + "=" + std::string(kManagedByValue);
  if (!tool.empty()) {
    selector += "," + std::string(kToolLabel) + "=" + tool;
  }
  const std::string path =
      (ns.empty() ? "/api/v1/pods" : "/api/v1/namespaces/" + url_escape(ns) + "/pods") +
      "?labelSelector=" + url_escape(selector);
  std::vector<LeftoverPod> pods;
  Result<std::size_t, ApiError> listed =
      client.list_pages(path, 500, [&pods](const nlohmann::json& page) {
        const nlohmann::json& items = json_member(page, "items");
        if (!items.is_array()) {
          return true;  // read as an empty page
        }
        for (const nlohmann::json& item : items) {
          const nlohmann::json& meta = json_member(item, "metadata");
          LeftoverPod pod;
          pod.namespaceName = json_string(meta, "namespace");
          pod.name = json_string(meta, "name");
          pod.node = json_string(json_member(item, "spec"), "nodeName");
          pod.phase = json_string(json_member(item, "status"), "phase");
          pod.createdUnix = parse_rfc3339(json_string(meta, "creationTimestamp")).value_or(0);
          pods.push_back(std::move(pod));
        }
        return true;
      });
  if (!listed) {
    return listed.error();
  }
  return pods;
}

}  // namespace kp::core
