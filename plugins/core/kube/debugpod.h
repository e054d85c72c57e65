// Short-lived debug pods, shared by `kubectl netdebug` and `kubectl certs node`: create a pod
// pinned to a node, watch it until it runs (or explain why it does not), exec a script in it,
// and delete it on every exit path (return, error, exception, SIGINT, SIGTERM, SIGHUP). Every
// pod carries labels that `cleanup` finds and an activeDeadlineSeconds after which the kubelet
// stops it even if this process was killed with SIGKILL.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/kube/apiclient.h"
#include "core/kube/podexec.h"
#include "core/util/result.h"
#include "core/util/signals.h"

namespace kp::core {

// The labels every debug pod carries; `cleanup` selects on the first.
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedByValue = "kplugins";
inline constexpr std::string_view kToolLabel = "kplugins.io/tool";
inline constexpr std::string_view kRunLabel = "kplugins.io/run";
inline constexpr std::string_view kDebugContainer = "debug";

// The default debug image, pinned: netshoot has sh, curl, openssl, base64, dig, ip and ping.
inline constexpr std::string_view kDebugImage = "nicolaka/netshoot:v0.13";

// Pod security: default (the image's user), restricted (passes the restricted Pod Security
// level: non-root, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp),
// netadmin (root with NET_ADMIN and NET_RAW, for ping, tcpdump and iptables).
enum class PodProfile { standard, restricted, netadmin };
Result<PodProfile> parse_profile(std::string_view text);
std::string_view to_string(PodProfile profile);

struct HostPathMount {
  std::string hostPath;
  std::string mountPath;
  std::string type = "Directory";  // the hostPath type: must exist, never created
};

struct DebugPodSpec {
  std::string tool;   // "netdebug", "certs": the generateName prefix and kToolLabel
  std::string runId;  // kRunLabel: one value per invocation
  std::string namespaceName = "default";
  std::string nodeName;  // pinned with spec.nodeName (no scheduler); "" lets the scheduler pick
  std::string image;
  std::vector<std::string> imagePullSecrets;
  bool hostNetwork = false;
  PodProfile profile = PodProfile::standard;
  std::vector<HostPathMount> readOnlyHostPaths;
  std::int64_t activeDeadlineSeconds = 900;
};

// The Pod object to create: generateName "kubectl-<tool>-", the labels, tolerating every taint,
// `sleep` as the command (the work arrives by exec), restartPolicy Never, no service-account
// token unless `mountServiceAccountToken`.
nlohmann::json debug_pod_manifest(const DebugPodSpec& spec, bool mountServiceAccountToken);

// A random run id (12 lowercase hex characters).
std::string new_run_id();

// What a watched pod's status says: running, ended, or still waiting (and why).
struct PodState {
  enum Kind { waiting, running, failed } kind = waiting;
  std::string reason;   // ImagePullBackOff, Unschedulable, ...
  std::string message;  // the kubelet's or scheduler's words
};

// Reads a Pod object: Running with the debug container running -> running; phase Failed or
// Succeeded, or a terminal waiting reason (ErrImagePull after retries is not terminal:
// ImagePullBackOff, ErrImagePull, InvalidImageName, CreateContainerConfigError,
// CreateContainerError are reported as `waiting` with their reason so the caller can decide)
// -> failed; else waiting with the PodScheduled=False reason when there is one.
PodState pod_state(const nlohmann::json& pod);

// Reasons that will not fix themselves within a debug pod's patience.
bool is_hopeless(const PodState& state);

// The pods this process created and has not yet deleted, so every exit path can delete them.
class PodRegistry {
 public:
  void add(const std::string& ns, const std::string& name);
  void remove(const std::string& ns, const std::string& name);
  std::vector<std::pair<std::string, std::string>> live() const;
  std::size_t peak() const;  // the most pods alive at once

 private:
  mutable std::mutex mutex_;
  std::set<std::pair<std::string, std::string>> live_;
  std::size_t peak_ = 0;
};

struct DebugPodTimeouts {
  std::chrono::milliseconds start{120000};  // create -> running
  std::chrono::milliseconds exec{60000};
};

// What happened to one debug pod.
struct DebugPodRun {
  std::string podName;
  std::string nodeName;
  bool started = false;     // the pod reached Running
  std::string failure;      // why the pod did not run or the exec failed; "" on success
  std::string failureHint;  // what to do about it
  PodExecResult exec;       // when started and the exec ran
  double startMs = 0;       // create -> running
  double execMs = 0;
};

struct DebugPodDeps {
  PodExecutor exec = exec_in_pod;
  std::function<std::chrono::steady_clock::time_point()> clock = std::chrono::steady_clock::now;
};

// Creates the pod, waits up to `startTimeout` for it to run, calls `action` (only when it runs;
// the action fills run.exec or run.failure), then deletes the pod (unless `keep`) on every path,
// exceptions included. Never throws for API failures: they land in DebugPodRun::failure.
DebugPodRun with_debug_pod(const ApiClient& client, const DebugPodSpec& spec,
                           std::chrono::milliseconds startTimeout, PodRegistry& registry, bool keep,
                           const std::function<void(DebugPodRun&)>& action,
                           const DebugPodDeps& deps = {});

// with_debug_pod() whose action execs `command` (stdin `stdinData`) in the debug container.
// `client` must be this thread's own clone.
DebugPodRun run_debug_pod(const ApiClient& client, const DebugPodSpec& spec,
                          const std::vector<std::string>& command, const std::string& stdinData,
                          const DebugPodTimeouts& timeouts, PodRegistry& registry, bool keep,
                          const DebugPodDeps& deps = {});

// Deletes a pod at once (gracePeriodSeconds 0) with a client that ignores cancellation; a pod
// already gone counts as deleted. The error says why the pod may be left behind.
Status delete_pod(const ApiClient& client, const std::string& ns, const std::string& name);

// Deletes every pod still in `registry` (each once); returns the ones that could not be deleted.
std::vector<std::string> delete_all(const ApiClient& client, PodRegistry& registry);

// Pods labelled kManagedByLabel=kManagedByValue (and kToolLabel=tool when `tool` is not empty),
// in every namespace or in `ns`.
struct LeftoverPod {
  std::string namespaceName;
  std::string name;
  std::string node;
  std::string phase;
  std::int64_t createdUnix = 0;
};
Result<std::vector<LeftoverPod>, ApiError> list_debug_pods(const ApiClient& client,
                                                           const std::string& ns,
                                                           const std::string& tool);

}  // namespace kp::core
