// `kubectl netdebug run`, `shell` and `cleanup`: the in-cluster checks through netshoot debug
// pods (core/debugpod.h), one node or all of them, and the pods' lifecycle.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
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

// The checks of `run` while it runs, kept small until the report is printed. Each slot (one per
// node, filled by the thread that ran it) holds its checks as one MessagePack string of their
// report form (to_json's objects; the bytes as they were, invalid UTF-8 too): 3.9 KiB for a
// node's 13 checks in the lab, in one allocation, where its Check objects with their details
// trees took 14 KiB (and rendering them whole as JSON another 35 KiB).
class CompactChecks {
 public:
  explicit CompactChecks(std::size_t slots = 0);
  std::size_t slots() const { return packed_.size(); }
  // Replaces the checks of `slot`; threads may call it at the same time for different slots.
  void set(std::size_t slot, std::vector<core::Check> checks);
  // The checks of `slot` as they were set (durations rounded as the report rounds them).
  std::vector<core::Check> get(std::size_t slot) const;
  // One check of each status seen in each layer, in no order: the same verdict(),
  // failed_layer() and exit_code() as all the checks together.
  std::vector<core::Check> summary() const;
  // The bytes the slots hold.
  std::size_t bytes() const;

 private:
  std::vector<std::vector<std::uint8_t>> packed_;
  std::vector<std::uint64_t> seen_;  // bit layer * 4 + status
};

// The report of `run`: `head` (tool, target and the run's own checks) followed by the checks of
// every slot in order, written as core::render() writes that whole report (for text with more
// than one node, render_matrix()), the same bytes, but one slot at a time: -o json never holds
// the report whole, as a tree or as a string.
void render_run_report(std::ostream& out, const core::Report& head, const CompactChecks& checks,
                       const std::vector<std::string>& nodes, core::OutputFormat format,
                       bool colour);

// core::exit_code() of that whole report.
int run_exit_code(const core::Report& head, const CompactChecks& checks, core::FailOn failOn);

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
