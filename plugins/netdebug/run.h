// `kubectl netdebug run`, `shell` and `cleanup`: the in-cluster checks through netshoot debug
// pods (core/debugpod.h), one node or all of them, and the pods' lifecycle.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cli/cli.h"
#include "core/kube/apiclient.h"
#include "core/kube/debugpod.h"
#include "core/report/report.h"

namespace kp::netdebug {

inline constexpr std::string_view kDefaultImage = core::kDebugImage;

// The suite's stdout, one JSON object per line, as checks of layer incluster with `endpoint`
// set to the node. A line that is not a check object becomes a warn check quoting it (cut,
// control characters replaced); an empty output is a fail.
std::vector<core::Check> parse_suite_output(std::string_view stdoutText, const std::string& node);

// The environment the suite reads (KP_ENDPOINTS, KP_PROFILE, KP_TIMEOUT, KP_CLUSTER_DOMAIN) as
// the `env` command's arguments, then `sh -c SCRIPT`.
std::vector<std::string> suite_command(std::string_view script,
                                       const std::vector<std::string>& endpoints,
                                       core::PodProfile profile, int timeoutSeconds,
                                       const std::string& clusterDomain);

// For many nodes: a node x check matrix (ok, WARN, FAIL, skip, - when absent), then every
// failing or warning cell explained, then the verdict line.
void render_matrix(std::ostream& out, const core::Report& report,
                   const std::vector<std::string>& nodes);

// A node as `run` picks them: its name, the Ready condition and spec.unschedulable.
struct NodeInfo {
  std::string name;
  bool ready = false;
  bool unschedulable = false;
};

// Every node, page by page, sorted by name (what `run` without --node runs on).
core::Result<std::vector<NodeInfo>, core::ApiError> list_nodes(const core::ApiClient& client);

int run_command(const core::Invocation& invocation);
int shell_command(const core::Invocation& invocation);
int cleanup_command(const core::Invocation& invocation);

}  // namespace kp::netdebug
