#include "netdebug/run.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>
#include <unordered_map>

#include "core/cli/command.h"
#include "core/kube/apiclient.h"
#include "core/kube/kube.h"
#include "core/report/stream.h"
#include "core/util/process.h"
#include "core/util/text.h"
#include "core/util/url.h"
#include "netdebug/suite_script.h"

namespace kp::netdebug {
namespace {

using core::Check;
using core::CheckStatus;
using core::Layer;

constexpr std::string_view kTool = "netdebug";

// The flags every netdebug command that talks to the cluster shares, besides the kubectl ones.
core::CommonFlags common_flags(bool report) {
  core::CommonFlags flags;
  flags.verbosity = "Log level: 1 prints progress and API request counts, 6+ the requests";
  if (!report) {
    flags.output.clear();
    flags.failOn = false;
  }
  return flags;
}

// kubectl's --request-timeout bounds each API request; -v 6 and up logs them.
core::Result<core::ApiClient, int> connect(const core::Command& command) {
  return command.connect(command.request_timeout(std::chrono::seconds(10)),
                         command.verbosity() >= 6 ? command.verbosity() : 0);
}

// The pod flags `run` and `shell` share.
void add_pod_flags(cxxopts::Options& cli, const std::string& nodeHelp,
                   const std::string& defaultProfile) {
  cli.add_options("")                                            //
      ("node", nodeHelp, cxxopts::value<std::string>(), "NAME")  //
      ("image", "The debug image (needs sh; netshoot's tools for every check)",
       cxxopts::value<std::string>()->default_value(std::string(kDefaultImage)), "IMAGE")  //
      ("image-pull-secret", "A secret in the namespace for pulling the image (repeatable)",
       cxxopts::value<std::vector<std::string>>(), "NAME")             //
      ("host-network", "Run the pod in the node's network namespace")  //
      ("profile", "Pod security profile: default, restricted or netadmin",
       cxxopts::value<std::string>()->default_value(defaultProfile), "PROFILE")  //
      ("timeout", "How long a pod may take to start (e.g. 2m)",
       cxxopts::value<std::string>()->default_value("2m"), "DURATION");
}

struct PodFlags {
  core::DebugPodSpec spec;  // without namespace and node
  std::chrono::milliseconds startTimeout{120000};
};

core::Result<PodFlags> read_pod_flags(const cxxopts::ParseResult& p) {
  PodFlags flags;
  flags.spec.tool = std::string(kTool);
  flags.spec.runId = core::new_run_id();
  flags.spec.image = p["image"].as<std::string>();
  if (flags.spec.image.empty()) {
    return core::Error{"--image: must not be empty"};
  }
  if (p.count("image-pull-secret") > 0) {
    flags.spec.imagePullSecrets = p["image-pull-secret"].as<std::vector<std::string>>();
  }
  flags.spec.hostNetwork = p.count("host-network") > 0;
  core::Result<core::PodProfile> profile = core::parse_profile(p["profile"].as<std::string>());
  if (!profile) {
    return profile.error();
  }
  flags.spec.profile = *profile;
  core::Result<std::chrono::milliseconds> timeout =
      core::parse_duration(p["timeout"].as<std::string>());
  if (!timeout) {
    return timeout.error().prefixed("--timeout");
  }
  flags.startTimeout = *timeout;
  return flags;
}

}  // namespace

core::Result<std::vector<NodeInfo>, core::ApiError> list_nodes(const core::ApiClient& client) {
  // Pages of 100, not kubectl's 500: a page is parsed whole, and the memory a parsed page took
  // stays with the process. 500 kwok nodes (2 MB of JSON) parsed into 14 MiB; a real node, with
  // its images, is three times the size. 100 costs 8 more requests for 1,000 nodes.
  constexpr std::size_t kPage = 100;
  std::vector<NodeInfo> nodes;
  core::Result<std::size_t, core::ApiError> listed =
      client.list_pages("/api/v1/nodes", kPage, [&](const nlohmann::json& page) {
        const nlohmann::json& items = core::json_member(page, "items");
        if (!items.is_array()) {
          return true;  // read as an empty page
        }
        for (const nlohmann::json& item : items) {
          NodeInfo node;
          node.name = core::json_string(core::json_member(item, "metadata"), "name");
          const nlohmann::json& unschedulable =
              core::json_member(core::json_member(item, "spec"), "unschedulable");
          node.unschedulable = unschedulable.is_boolean() && unschedulable.get<bool>();
          const nlohmann::json& conditions =
              core::json_member(core::json_member(item, "status"), "conditions");
          if (conditions.is_array()) {
            for (const nlohmann::json& c : conditions) {
              if (core::json_string(c, "type") == "Ready") {
                node.ready = core::json_string(c, "status") == "True";
              }
            }
          }
          nodes.push_back(std::move(node));
        }
        return true;
      });
  if (!listed) {
    return listed.error();
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const NodeInfo& a, const NodeInfo& b) { return a.name < b.name; });
  return nodes;
}

namespace {

// After a signal: what every command says, and 128 + the signal's number.
int interrupted(std::ostream& err) {
  err << "kubectl-netdebug: interrupted (signal " << core::StopSignals::signal()
      << "); the debug pods were deleted\n";
  return 128 + core::StopSignals::signal();
}

// The nodes to run on: `requested` (which must exist; exit 2 otherwise), every node with
// `allNodes`, else the first Ready, schedulable node. An int is the exit code, the error printed.

core::Result<std::vector<std::string>, int> choose_nodes(const core::ApiClient& client,
                                                         const std::string& requested,
                                                         bool allNodes, std::ostream& err) {
  if (!requested.empty()) {
    core::ApiResult node = client.get("/api/v1/nodes/" + core::url_escape(requested));
    if (!node && node.error().status == 404) {
      return core::print_error(
          err, kTool,
          "--node: node \"" + requested + "\" not found (kubectl get nodes lists them)");
    }
    if (!node && core::StopSignals::raised()) {
      return interrupted(err);
    }
    // No answer at all: every later request would wait out its deadline the same way, so stop
    // here (a 403 is fine: the user may create pods without reading nodes).
    if (!node && node.error().status == 0) {
      err << "kubectl-netdebug: error: cannot reach the API server: " << node.error().message
          << '\n';
      return 1;
    }
    return std::vector<std::string>{requested};
  }
  auto listed = list_nodes(client);
  if (!listed && core::StopSignals::raised()) {
    return interrupted(err);
  }
  if (!listed) {
    err << "kubectl-netdebug: error: cannot list nodes: " << listed.error().message << '\n';
    return 1;
  }
  std::vector<std::string> nodes;
  for (const NodeInfo& n : *listed) {
    if (allNodes || (n.ready && !n.unschedulable)) {
      nodes.push_back(n.name);
    }
    if (!allNodes && !nodes.empty()) {
      break;
    }
  }
  if (nodes.empty()) {
    err << "kubectl-netdebug: error: no Ready node to run on; pass --node\n";
    return 1;
  }
  return nodes;
}

// The API server's endpoints as the suite dials them (ip:port), from default/kubernetes.
core::Result<std::vector<std::string>, std::string> api_endpoints(const core::ApiClient& client) {
  core::ApiResult slices =
      client.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=" +
                 core::url_escape("kubernetes.io/service-name=kubernetes"));
  if (!slices) {
    return slices.error().message;
  }
  core::Result<std::vector<core::ApiEndpoint>> parsed =
      core::parse_kubernetes_endpoint_slices(slices->dump());
  if (!parsed) {
    return parsed.error().message;
  }
  std::vector<std::string> out;
  for (const core::ApiEndpoint& e : *parsed) {
    out.push_back(core::host_port(e.address, e.port));
  }
  return out;
}

Check make(std::string id, CheckStatus status, std::string message, std::string hint,
           std::string node) {
  return core::make_check(std::move(id), core::Layer::incluster, status, std::move(message),
                          std::move(hint), std::move(node));
}

std::string printable(std::string_view text, std::size_t limit) {
  std::string out(text.substr(0, limit));
  for (char& ch : out) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte < 0x20 || byte == 0x7f) {
      ch = '?';
    }
  }
  return out + (text.size() > limit ? "..." : "");
}

// The checks of one node's run, from the pod's fate and the suite's output.
std::vector<Check> node_checks(const core::DebugPodRun& run, const core::DebugPodSpec& spec) {
  std::vector<Check> checks;
  if (!run.started || !run.failure.empty()) {
    Check c = make("incluster.pod", CheckStatus::fail, run.failure, run.failureHint, run.nodeName);
    c.details = {{"pod", run.podName}, {"namespace", spec.namespaceName}};
    checks.push_back(std::move(c));
    return checks;
  }
  Check pod = make("incluster.pod", CheckStatus::ok,
                   "pod " + run.podName + " ran the suite (" +
                       std::to_string(static_cast<long>(run.startMs)) + " ms to start, " +
                       std::to_string(static_cast<long>(run.execMs)) + " ms to run)",
                   {}, run.nodeName);
  pod.durationMs = run.startMs + run.execMs;
  pod.details = {{"pod", run.podName},
                 {"namespace", spec.namespaceName},
                 {"image", spec.image},
                 {"profile", core::to_string(spec.profile)},
                 {"hostNetwork", spec.hostNetwork}};
  checks.push_back(std::move(pod));
  std::vector<Check> suite = parse_suite_output(run.exec.out, run.nodeName);
  if (run.exec.exitCode != 0 && suite.size() <= 1) {
    checks.push_back(make("incluster.suite", CheckStatus::fail,
                          "the check script exited with code " + std::to_string(run.exec.exitCode) +
                              ": " + printable(core::trim(run.exec.err), 300),
                          "the image needs a POSIX sh; with --image, use one based on netshoot",
                          run.nodeName));
    return checks;
  }
  checks.insert(checks.end(), suite.begin(), suite.end());
  return checks;
}

// A matrix cell: a check's status, or -1 when the node has no such check.
using Cell = signed char;
constexpr Cell kAbsent = -1;

std::string cell_text(Cell cell) {
  if (cell == kAbsent) {
    return "-";
  }
  switch (static_cast<CheckStatus>(cell)) {
    case CheckStatus::ok:
      return "ok";
    case CheckStatus::warn:
      return "WARN";
    case CheckStatus::fail:
      return "FAIL";
    case CheckStatus::skip:
      break;
  }
  return "skip";
}

// The column a check belongs to: its id, plus the API-server endpoint it dialled.
std::string column_of(const Check& check) {
  std::string column = check.id;
  if (column.starts_with("incluster.")) {
    column.erase(0, 10);
  }
  if (check.details.is_object() && check.details.contains("endpoint") &&
      check.details["endpoint"].is_string()) {
    column += "@" + check.details["endpoint"].get<std::string>();
  }
  return column;
}

}  // namespace

std::vector<Check> parse_suite_output(std::string_view stdoutText, const std::string& node) {
  std::vector<Check> checks;
  std::size_t start = 0;
  while (start < stdoutText.size()) {
    std::size_t end = stdoutText.find('\n', start);
    if (end == std::string_view::npos) {
      end = stdoutText.size();
    }
    const std::string_view line = core::trim(stdoutText.substr(start, end - start));
    start = end + 1;
    if (line.empty()) {
      continue;
    }
    core::Result<nlohmann::json> json = core::parse_json(line, 16);
    const std::optional<CheckStatus> status =
        json && json->is_object() ? core::parse_check_status(core::json_string(*json, "status"))
                                  : std::nullopt;
    if (!status || core::json_string(*json, "id").empty()) {
      checks.push_back(
          make("incluster.suite", CheckStatus::warn,
               "the check script printed a line that is not a check: " + printable(line, 160),
               "run the pod with --keep and run the script by hand", node));
      continue;
    }
    Check c = make(core::json_string(*json, "id"), *status, core::json_string(*json, "message"),
                   core::json_string(*json, "hint"), node);
    if (!c.id.starts_with("incluster.")) {
      c.id = "incluster." + c.id;
    }
    if ((c.status == CheckStatus::warn || c.status == CheckStatus::fail) && c.hint.empty()) {
      c.hint = "see the details";
    }
    if (json->contains("durationMs") && (*json)["durationMs"].is_number()) {
      c.durationMs = (*json)["durationMs"].get<double>();
    }
    if (json->contains("details") && (*json)["details"].is_object()) {
      c.details = nlohmann::ordered_json::parse((*json)["details"].dump());
    }
    const std::string endpoint = core::json_string(*json, "endpoint");
    if (!endpoint.empty()) {
      if (!c.details.is_object()) {
        c.details = nlohmann::ordered_json::object();
      }
      c.details["endpoint"] = endpoint;
    }
    checks.push_back(std::move(c));
  }
  if (checks.empty()) {
    checks.push_back(make("incluster.suite", CheckStatus::fail, "the check script printed nothing",
                          "run the pod with --keep and run the script by hand", node));
  }
  return checks;
}

std::vector<std::string> suite_command(std::string_view script,
                                       const std::vector<std::string>& endpoints,
                                       core::PodProfile profile, int timeoutSeconds,
                                       const std::string& clusterDomain) {
  return {"env",
          "KP_ENDPOINTS=" + core::join(endpoints, " "),
          "KP_PROFILE=" + std::string(core::to_string(profile)),
          "KP_TIMEOUT=" + std::to_string(timeoutSeconds),
          "KP_CLUSTER_DOMAIN=" + clusterDomain,
          "sh",
          "-c",
          std::string(script),
          "kubectl-netdebug-suite"};
}

namespace {

// Calls its argument with every check of a report, in order; may be called more than once.
using EachCheck = std::function<void(const std::function<void(const Check&)>&)>;

// render_matrix() over the checks `each` visits (twice: the matrix, then the failures), keeping
// a status per node and column rather than the checks.
void render_matrix_of(std::ostream& out, const EachCheck& each, CheckStatus verdict,
                      const std::vector<std::string>& nodes) {
  std::unordered_map<std::string, std::size_t> rowOf;
  for (const std::string& node : nodes) {
    rowOf.emplace(node, rowOf.size());
  }
  std::vector<std::string> columns;
  std::unordered_map<std::string, std::size_t> columnOf;
  std::vector<std::vector<Cell>> rows(rowOf.size());
  std::vector<bool> failed(rowOf.size(), false);
  each([&](const Check& c) {
    const std::string column = column_of(c);
    const std::size_t col = columnOf.emplace(column, columns.size()).first->second;
    if (col == columns.size()) {
      columns.push_back(column);
    }
    const auto row = rowOf.find(c.endpoint);
    if (row == rowOf.end()) {
      return;  // a check of the run itself: a column, in no row
    }
    std::vector<Cell>& cells = rows[row->second];
    if (cells.size() <= col) {
      cells.resize(col + 1, kAbsent);
    }
    cells[col] = static_cast<Cell>(c.status);  // a node's last check of a column shows
    if (c.status == CheckStatus::fail) {
      failed[row->second] = true;
    }
  });
  std::size_t nodeWidth = 4;
  for (const std::string& n : nodes) {
    nodeWidth = std::max(nodeWidth, n.size());
  }
  std::string header = "NODE";
  header.resize(nodeWidth + 2, ' ');
  for (const std::string& column : columns) {
    header += column + "  ";
  }
  out << core::trim(header) << '\n';
  std::size_t failedNodes = 0;
  for (const std::string& node : nodes) {
    const std::size_t index = rowOf.at(node);
    const std::vector<Cell>& cells = rows[index];
    failedNodes += failed[index] ? 1 : 0;
    std::string row = node;
    row.resize(nodeWidth + 2, ' ');
    for (std::size_t col = 0; col < columns.size(); ++col) {
      std::string text = cell_text(col < cells.size() ? cells[col] : kAbsent);
      text.resize(columns[col].size() + 2, ' ');
      row += text;
    }
    out << core::trim(row) << '\n';
  }
  bool first = true;
  each([&](const Check& c) {
    if (c.status != CheckStatus::fail && c.status != CheckStatus::warn) {
      return;
    }
    if (first) {
      out << '\n';
      first = false;
    }
    out << (c.status == CheckStatus::fail ? "FAIL " : "WARN ") << c.endpoint << ' ' << column_of(c)
        << ": " << c.message << '\n';
    if (!c.hint.empty()) {
      out << "     fix: " << c.hint << '\n';
    }
  });
  out << '\n'
      << "verdict: " << core::to_string(verdict) << " (" << nodes.size() << " nodes, "
      << failedNodes << " with failures)\n";
}

std::optional<Layer> layer_named(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Layer::node); ++i) {
    if (core::to_string(static_cast<Layer>(i)) == name) {
      return static_cast<Layer>(i);
    }
  }
  return std::nullopt;
}

}  // namespace

void render_matrix(std::ostream& out, const core::Report& report,
                   const std::vector<std::string>& nodes) {
  render_matrix_of(
      out,
      [&](const std::function<void(const Check&)>& visit) {
        for (const Check& c : report.checks) {
          visit(c);
        }
      },
      core::verdict(report), nodes);
}

CompactChecks::CompactChecks(std::size_t slots) : packed_(slots), seen_(slots, 0) {}

void CompactChecks::set(std::size_t slot, std::vector<Check> checks) {
  static_assert(static_cast<int>(Layer::node) * 4 + 3 < 64, "a status bit per layer");
  std::uint64_t seen = 0;
  for (const Check& c : checks) {
    seen |= std::uint64_t{1} << (static_cast<int>(c.layer) * 4 + static_cast<int>(c.status));
  }
  core::Report report;
  report.checks = std::move(checks);
  const std::vector<std::uint8_t> packed =
      nlohmann::ordered_json::to_msgpack(core::to_json(report)["checks"]);
  packed_[slot].assign(packed.begin(), packed.end());  // no spare capacity kept
  seen_[slot] = seen;
}

std::vector<Check> CompactChecks::get(std::size_t slot) const {
  std::vector<Check> checks;
  if (packed_[slot].empty()) {
    return checks;
  }
  // Bytes this class wrote: reading them cannot fail. Read as char: nlohmann-json 3.11's reader
  // of unsigned char input needs std::char_traits<unsigned char>, which libc++ (macOS) lacks.
  const char* bytes = reinterpret_cast<const char*>(packed_[slot].data());
  const nlohmann::ordered_json items =
      nlohmann::ordered_json::from_msgpack(bytes, bytes + packed_[slot].size());
  for (const nlohmann::ordered_json& item : items) {
    Check c = core::make_check(
        item.value("id", std::string()),
        layer_named(item.value("layer", std::string())).value_or(Layer::incluster),
        core::parse_check_status(item.value("status", std::string())).value_or(CheckStatus::fail),
        item.value("message", std::string()), item.value("hint", std::string()),
        item.value("endpoint", std::string()));
    c.durationMs = item.value("durationMs", 0.0);
    if (const auto details = item.find("details"); details != item.end()) {
      c.details = *details;
    }
    checks.push_back(std::move(c));
  }
  return checks;
}

std::vector<Check> CompactChecks::summary() const {
  std::uint64_t seen = 0;
  for (const std::uint64_t s : seen_) {
    seen |= s;
  }
  std::vector<Check> checks;
  for (int bit = 0; bit < 64; ++bit) {
    if ((seen >> bit & 1) != 0) {
      checks.push_back(
          core::make_check({}, static_cast<Layer>(bit / 4), static_cast<CheckStatus>(bit % 4)));
    }
  }
  return checks;
}

std::size_t CompactChecks::bytes() const {
  std::size_t total = 0;
  for (const std::vector<std::uint8_t>& p : packed_) {
    total += p.size();
  }
  return total;
}

namespace {

core::Report summary_of(const core::Report& head, const CompactChecks& checks) {
  core::Report summary = head;
  for (Check& c : checks.summary()) {
    summary.checks.push_back(std::move(c));
  }
  return summary;
}

}  // namespace

void render_run_report(std::ostream& out, const core::Report& head, const CompactChecks& checks,
                       const std::vector<std::string>& nodes, core::OutputFormat format,
                       bool colour) {
  const EachCheck each = [&](const std::function<void(const Check&)>& visit) {
    for (const Check& c : head.checks) {
      visit(c);
    }
    for (std::size_t slot = 0; slot < checks.slots(); ++slot) {
      for (const Check& c : checks.get(slot)) {
        visit(c);
      }
    }
  };
  const core::Report summary = summary_of(head, checks);
  if (format == core::OutputFormat::text && nodes.size() > 1) {
    render_matrix_of(out, each, core::verdict(summary), nodes);
    return;
  }
  if (format != core::OutputFormat::text) {
    // JSON and YAML a check at a time (core::ReportStream), byte for byte render()'s.
    core::ReportStream stream(out, format, head.tool, head.target, head.schemaVersion);
    each([&](const Check& c) { stream.add(c); });
    stream.finish(head.timings);
    return;
  }
  // One node's text: the whole report.
  core::Report whole = head;
  whole.checks.clear();
  each([&](const Check& c) { whole.checks.push_back(c); });
  core::render(out, whole, format, colour);
}

int run_exit_code(const core::Report& head, const CompactChecks& checks, core::FailOn failOn) {
  return core::exit_code(summary_of(head, checks), failOn);
}

int run_command(const core::Invocation& invocation) {
  cxxopts::Options cli = core::command_options(
      invocation,
      ": creates a netshoot pod on the node (or one per node), runs the in-cluster checks in it "
      "(resolv.conf, cluster DNS, the kubernetes service and every API-server endpoint with the "
      "pod's service account, default route, MTU) and deletes it.",
      "[--node NAME | --all-nodes] [flags]");
  add_pod_flags(cli, "The node to check from (default: the first Ready node)", "default");
  cli.add_options("")                                           //
      ("all-nodes", "Check from every node, one pod per node")  //
      ("concurrency", "Pods alive at once with --all-nodes",
       cxxopts::value<int>()->default_value("10"), "N")  //
      ("check-timeout", "The time each in-pod check may take",
       cxxopts::value<std::string>()->default_value("5s"), "DURATION")  //
      ("cluster-domain", "The cluster's DNS domain",
       cxxopts::value<std::string>()->default_value("cluster.local"), "DOMAIN")  //
      ("keep", "Keep the pods (delete them later with cleanup)");
  core::Command command(invocation, std::move(cli));
  if (std::optional<int> done = command.parse(common_flags(true))) {
    return *done;
  }
  const cxxopts::ParseResult& p = command.flags();
  std::ostream& err = invocation.err;
  const core::Result<PodFlags> pod = read_pod_flags(p);
  const core::Result<std::chrono::milliseconds> checkTimeout =
      core::parse_duration(p["check-timeout"].as<std::string>());
  for (const core::Error* e :
       {pod ? nullptr : &pod.error(), checkTimeout ? nullptr : &checkTimeout.error()}) {
    if (e != nullptr) {
      return core::print_error(err, kTool, e->message);
    }
  }
  const bool allNodes = p.count("all-nodes") > 0;
  const int concurrency = p["concurrency"].as<int>();
  if (concurrency < 1 || concurrency > 500) {
    return core::print_error(err, kTool, "--concurrency: must be between 1 and 500");
  }
  if (allNodes && p.count("node") > 0) {
    return core::print_error(err, kTool, "--node and --all-nodes exclude each other");
  }
  core::Result<core::ApiClient, int> connected = connect(command);
  if (!connected) {
    return connected.error();
  }
  core::ApiClient& client = *connected;
  const auto log = [&](const std::string& line) {
    if (command.verbosity() >= 1) {
      err << "netdebug: " << line << '\n';
    }
  };

  core::Result<std::vector<std::string>, int> chosen =
      choose_nodes(client, p.count("node") > 0 ? p["node"].as<std::string>() : "", allNodes, err);
  if (!chosen) {
    return chosen.error();
  }
  const std::vector<std::string>& nodes = *chosen;

  core::Report report;
  report.tool = std::string(kTool);
  report.target = {client.config().contextName, client.config().clusterName,
                   client.config().server};
  std::vector<std::string> endpoints;
  if (auto listed = api_endpoints(client); listed) {
    endpoints = *listed;
  } else {
    report.checks.push_back(make("incluster.endpoints", CheckStatus::warn,
                                 "cannot list the API server's endpoints: " + listed.error(),
                                 "grant get on endpointslices in default, or check the "
                                 "kubernetes service; only the service IP is checked",
                                 ""));
  }

  core::DebugPodSpec base = pod->spec;
  base.namespaceName = command.namespace_for(client);
  const int checkSeconds = std::max<int>(1, static_cast<int>(checkTimeout->count() / 1000));
  core::DebugPodTimeouts timeouts;
  timeouts.start = pod->startTimeout;
  // The suite runs a dozen checks plus a few per endpoint, each bounded by its timeout.
  timeouts.exec = std::chrono::milliseconds(
      (15 + 4 * static_cast<std::int64_t>(endpoints.size())) * checkSeconds * 1000 + 10000);
  base.activeDeadlineSeconds =
      static_cast<std::int64_t>((timeouts.start + timeouts.exec).count() / 1000) + 60;
  const std::vector<std::string> suite = suite_command(
      kSuiteScript, endpoints, base.profile, checkSeconds, p["cluster-domain"].as<std::string>());
  const bool keep = p.count("keep") > 0;

  log("checking from " + std::to_string(nodes.size()) + " node(s) in namespace " +
      base.namespaceName + ", " + std::to_string(std::min<std::size_t>(nodes.size(), concurrency)) +
      " at a time");
  core::PodRegistry registry;
  CompactChecks perNode(nodes.size());
  std::atomic<std::size_t> nextNode{0};
  std::mutex logMutex;
  const auto worker = [&] {
    const core::ApiClient mine = client.clone();
    for (std::size_t i = nextNode++; i < nodes.size() && !core::StopSignals::raised();
         i = nextNode++) {
      core::DebugPodSpec spec = base;
      spec.nodeName = nodes[i];
      core::DebugPodRun run;
      run.nodeName = nodes[i];
      try {  // an exception must not end the process (std::terminate) with pods alive
        run = core::run_debug_pod(mine, spec, suite, "", timeouts, registry, keep);
      } catch (const std::exception& e) {
        run.failure = std::string("internal error: ") + e.what();
        run.failureHint = "please report it; cleanup deletes any pod left behind";
      }
      perNode.set(i, node_checks(run, spec));
      std::lock_guard lock(logMutex);
      log(nodes[i] + ": " + (run.failure.empty() ? "done" : run.failure));
    }
  };
  const std::size_t threads = std::min<std::size_t>(nodes.size(), concurrency);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  worker();
  for (std::thread& t : pool) {
    t.join();
  }
  // Whatever a worker could not delete (the API server hiccuped), once more.
  for (const std::string& left : core::delete_all(client, registry)) {
    err << "kubectl-netdebug: warning: " << left << '\n';
  }
  log(std::to_string(client.requests()) + " API requests for " + std::to_string(nodes.size()) +
      " node(s), at most " + std::to_string(registry.peak()) + " pod(s) alive at once");
  if (core::StopSignals::raised()) {
    return interrupted(err);
  }
  render_run_report(invocation.out, report, perNode, nodes, command.output(),
                    core::colour_enabled(STDOUT_FILENO));
  return run_exit_code(report, perNode, command.fail_on());
}

int shell_command(const core::Invocation& invocation) {
  cxxopts::Options cli = core::command_options(
      invocation,
      ": an interactive shell in a netshoot pod on the node (kubectl exec -it); the pod is "
      "deleted when the shell ends.",
      "[--node NAME] [flags]");
  add_pod_flags(cli, "The node to open the shell on (default: the first Ready node)", "netadmin");
  core::Command command(invocation, std::move(cli));
  if (std::optional<int> done = command.parse(common_flags(false))) {
    return *done;
  }
  const cxxopts::ParseResult& p = command.flags();
  std::ostream& err = invocation.err;
  const core::Result<PodFlags> pod = read_pod_flags(p);
  if (!pod) {
    return core::print_error(err, kTool, pod.error().message);
  }
  core::Result<core::ApiClient, int> connected = connect(command);
  if (!connected) {
    return connected.error();
  }
  core::ApiClient& client = *connected;

  core::DebugPodSpec spec = pod->spec;
  spec.namespaceName = command.namespace_for(client);
  spec.activeDeadlineSeconds = 4 * 3600;  // a long session, but not forever
  core::Result<std::vector<std::string>, int> chosen =
      choose_nodes(client, p.count("node") > 0 ? p["node"].as<std::string>() : "", false, err);
  if (!chosen) {
    return chosen.error();
  }
  spec.nodeName = chosen->front();

  // kubectl beside us (KUBECTL_PATH when kubectl dispatched us), with the same kubectl flags.
  const char* kubectlPath = std::getenv("KUBECTL_PATH");
  const std::string kubectl =
      kubectlPath != nullptr && *kubectlPath != '\0'
          ? std::string(kubectlPath)
          : core::find_executable("kubectl", core::process_search_path()).value_or("");
  if (kubectl.empty()) {
    return core::print_error(err, kTool, "kubectl not found on PATH: the shell runs kubectl exec");
  }
  const core::ConfigOverrides& o = command.kube().overrides;
  std::vector<std::string> args;
  const std::pair<const char*, const std::string*> passed[] = {
      {"--kubeconfig", &command.kube().kubeconfig},
      {"--context", &o.context},
      {"--cluster", &o.cluster},
      {"--user", &o.user},
      {"--server", &o.server},
      {"--tls-server-name", &o.tlsServerName},
      {"--certificate-authority", &o.certificateAuthority},
      {"--client-certificate", &o.clientCertificate},
      {"--client-key", &o.clientKey},
      {"--token", &o.token},
      {"--as", &o.impersonate}};
  for (const auto& [flag, value] : passed) {
    if (!value->empty()) {
      args.push_back(std::string(flag) + "=" + *value);
    }
  }
  int shellExit = 0;
  core::PodRegistry registry;
  err << "kubectl-netdebug: starting a debug pod on node " << spec.nodeName << "...\n";
  const core::DebugPodRun run = core::with_debug_pod(
      client, spec, pod->startTimeout, registry, false, [&](core::DebugPodRun& started) {
        std::vector<std::string> exec = args;
        const std::vector<std::string> tail{
            "exec",
            "-it",
            "-n",
            spec.namespaceName,
            started.podName,
            "-c",
            std::string(core::kDebugContainer),
            "--",
            "sh",
            "-c",
            "if command -v zsh >/dev/null; then exec zsh; elif command -v bash >/dev/null; then "
            "exec bash; else exec sh; fi"};
        exec.insert(exec.end(), tail.begin(), tail.end());
        // The user's terminal, in our process group (kubectl puts it in raw mode).
        core::ProcessSpec shell;
        shell.argv.push_back(kubectl);
        shell.argv.insert(shell.argv.end(), exec.begin(), exec.end());
        shell.io = core::ProcessSpec::Io::inherit;
        shell.ownProcessGroup = false;
        const core::Result<core::ProcessResult, core::SpawnFailure> ran = core::run_process(shell);
        if (!ran) {
          // errorNumber 0: a bare KUBECTL_PATH that is not on PATH.
          started.failure =
              ran.error().errorNumber != 0
                  ? "cannot run " + kubectl + ": " + core::describe_errno(ran.error().errorNumber)
                  : "cannot run " + ran.error().message;
          return;
        }
        shellExit = ran->exitCode < 0 ? 1 : ran->exitCode;  // -1: kubectl died of a signal
      });
  for (const std::string& left : core::delete_all(client, registry)) {
    err << "kubectl-netdebug: warning: " << left << '\n';
  }
  if (!run.failure.empty()) {
    err << "kubectl-netdebug: error: " << run.failure << '\n';
    if (!run.failureHint.empty()) {
      err << "  fix: " << run.failureHint << '\n';
    }
    return 1;
  }
  err << "kubectl-netdebug: pod " << run.podName << " deleted\n";
  return shellExit;
}

int cleanup_command(const core::Invocation& invocation) {
  cxxopts::Options cli = core::command_options(
      invocation,
      ": deletes the debug pods earlier runs left behind (interrupted with SIGKILL, or --keep), "
      "found by their app.kubernetes.io/managed-by=kplugins label in every namespace (or -n).",
      "[--older-than DURATION] [flags]");
  cli.add_options("")  //
      ("older-than", "Only pods created at least this long ago (e.g. 1h)",
       cxxopts::value<std::string>()->default_value("0"), "DURATION")  //
      ("dry-run", "List the pods without deleting them");
  core::Command command(invocation, std::move(cli));
  if (std::optional<int> done = command.parse(common_flags(false))) {
    return *done;
  }
  const cxxopts::ParseResult& p = command.flags();
  const core::Result<std::chrono::milliseconds> olderThan =
      core::parse_duration(p["older-than"].as<std::string>());
  if (!olderThan) {
    return core::print_error(invocation.err, kTool,
                             olderThan.error().prefixed("--older-than").message);
  }
  core::Result<core::ApiClient, int> connected = connect(command);
  if (!connected) {
    return connected.error();
  }
  const core::ApiClient& client = *connected;
  auto pods = core::list_debug_pods(client, command.kube().overrides.namespaceName, "");
  if (!pods) {
    invocation.err << "kubectl-netdebug: error: cannot list debug pods: " << pods.error().message
                   << '\n';
    return 1;
  }
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  const std::int64_t minAge = olderThan->count() / 1000;
  const bool dryRun = p.count("dry-run") > 0;
  int failed = 0;
  std::size_t matched = 0;
  for (const core::LeftoverPod& pod : *pods) {
    const std::int64_t age = now - pod.createdUnix;
    if (age < minAge) {
      continue;
    }
    ++matched;
    const std::string what = "pod/" + pod.name + " -n " + pod.namespaceName + " (node " +
                             (pod.node.empty() ? std::string("none") : pod.node) + ", " +
                             pod.phase + ", " + std::to_string(age / 60) + " min old)";
    if (dryRun) {
      invocation.out << "would delete " << what << '\n';
      continue;
    }
    core::Status deleted = core::delete_pod(client, pod.namespaceName, pod.name);
    if (deleted) {
      invocation.out << "deleted " << what << '\n';
    } else {
      ++failed;
      invocation.err << "kubectl-netdebug: error: " << deleted.error().message << '\n';
    }
  }
  invocation.out << (dryRun ? "found " : "deleted ") << matched - failed << " debug pod(s)"
                 << (failed > 0 ? ", " + std::to_string(failed) + " could not be deleted" : "")
                 << '\n';
  return failed > 0 ? 1 : 0;
}

}  // namespace kp::netdebug
