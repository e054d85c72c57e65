#include "certs/node.h"

#include <algorithm>
#include <iostream>
#include <optional>

#include "certs/layout.h"
#include "certs/node_script.h"
#include "core/kube/apiclient.h"
#include "core/kube/debugpod.h"
#include "core/util/base64.h"
#include "core/util/text.h"

namespace kp::certs {
namespace {

constexpr std::string_view kTool = "certs";

core::Check node_failure(const std::string& node, std::string message, std::string hint) {
  return core::make_check("cert.node", core::Layer::cert, core::CheckStatus::fail,
                          std::move(message), std::move(hint), node);
}

}  // namespace

core::Result<NodeFiles> parse_node_output(std::string_view text) {
  NodeFiles out;
  bool done = false;
  std::size_t lineNumber = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end;
    const std::string_view line = core::trim(text.substr(start, end - start));
    start = end + 1;
    ++lineNumber;
    if (line.empty()) {
      continue;
    }
    if (line.starts_with("done ")) {
      done = true;
      continue;
    }
    const auto first = line.find(' ');
    const auto second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    const std::string_view kind = line.substr(0, first);
    if (second == std::string_view::npos || (kind != "file" && kind != "error")) {
      return core::Error{"line " + std::to_string(lineNumber) +
                         " of the node script's output is not \"file|error PATH BASE64\""};
    }
    const std::string path(line.substr(first + 1, second - first - 1));
    core::Result<std::string> bytes = core::decode_base64(line.substr(second + 1));
    if (!bytes) {
      return core::Error{"line " + std::to_string(lineNumber) + " (" + path +
                         "): " + bytes.error().message};
    }
    if (kind == "file") {
      out.files.insert_or_assign(path, std::move(*bytes));
    } else {
      out.files.insert_or_assign(path, core::Error{path + ": " + *bytes + " (on the node)"});
    }
  }
  if (!done) {
    return core::Error{"the node script's output ends early (no \"done\" line)"};
  }
  return out;
}

PkiFiles node_pki_files(const NodeFiles& node) {
  PkiFiles files;
  const auto* map = &node.files;
  files.exists = [map](const std::string& path) { return map->count(path) > 0; };
  files.isDirectory = [map](const std::string& path) {
    const std::string prefix = path + "/";
    return std::any_of(map->begin(), map->end(),
                       [&](const auto& entry) { return entry.first.starts_with(prefix); });
  };
  files.read = [map](const std::string& path) -> core::Result<std::string> {
    auto found = map->find(path);
    if (found == map->end()) {
      return core::Error{path + ": no such file on the node"};
    }
    return found->second;
  };
  // Only the public half left the node; comparing public halves is all pairing needs.
  files.parseKey = [](const std::string& pem) { return core::parse_public_key(pem); };
  files.list = [map](const std::string& dir) {
    const std::string prefix = dir + "/";
    std::vector<std::string> names;
    for (auto it = map->lower_bound(prefix); it != map->end() && it->first.starts_with(prefix);
         ++it) {
      const std::string name = it->first.substr(prefix.size());
      if (name.find('/') == std::string::npos) {
        names.push_back(name);
      }
    }
    return names;
  };
  return files;
}

int node_command(const core::Invocation& invocation) {
  cxxopts::Options cli = core::command_options(
      invocation,
      ": the pki checks on a node (its distribution detected as pki does: kubeadm, k3s, RKE2, "
      "MicroK8s, OpenShift), through a short-lived debug pod on it that mounts the node's /etc "
      "and /var read-only and prints only the distributions' certificate files; private keys "
      "never leave the node (the pod prints only their public halves). The pod is deleted on "
      "every exit path.",
      "NODE [flags]");
  cli.add_options("")  //
      ("image", "The debug image (needs sh, openssl and base64)",
       cxxopts::value<std::string>()->default_value(std::string(core::kDebugImage)),
       "IMAGE")  //
      ("timeout", "How long the pod may take to start (e.g. 2m)",
       cxxopts::value<std::string>()->default_value("2m"), "DURATION");
  core::Result<ParsedCommand, int> command = parse_command(invocation, cli, true);
  if (!command) {
    return command.error();
  }
  const cxxopts::ParseResult& parsed = command->parsed;
  const std::vector<std::string>& positional = parsed.unmatched();
  if (positional.size() != 1 || positional.front().starts_with("-")) {
    return core::print_error(invocation.err, kTool,
                             positional.empty() ? "give the node: " + command->usage + " NODE"
                                                : "unexpected argument \"" + positional.back() +
                                                      "\"; usage: " + command->usage + " NODE");
  }
  const std::string node = positional.front();
  core::Result<std::chrono::milliseconds> startTimeout =
      core::parse_duration(parsed["timeout"].as<std::string>());
  if (!startTimeout) {
    return core::print_error(invocation.err, kTool,
                             startTimeout.error().prefixed("--timeout").message);
  }
  const core::KubeFlags& kube = command->kube;
  // kubectl's --request-timeout bounds each API request (read_from validated it; "0": ours).
  std::chrono::milliseconds requestTimeout = std::chrono::seconds(10);
  if (!kube.requestTimeout.empty() && kube.requestTimeout != "0") {
    requestTimeout = *core::parse_duration(kube.requestTimeout);
  }
  core::Result<core::ApiClient, int> client = core::connect_api(invocation, kube, requestTimeout);
  if (!client) {
    return client.error();
  }
  core::ApiResult found = client->get("/api/v1/nodes/" + core::url_escape(node));
  if (!found && found.error().status == 404) {
    return core::print_error(invocation.err, kTool,
                             "node \"" + node + "\" not found (kubectl get nodes lists them)");
  }
  // No answer at all: the pod's requests would each wait out the deadline the same way (a 403
  // is fine: the user may create pods without reading nodes). A signal is answered below.
  if (!found && found.error().status == 0 && !core::StopSignals::raised()) {
    core::print_error(invocation.err, kTool,
                      "cannot reach the API server: " + found.error().message);
    return 1;
  }

  core::DebugPodSpec spec;
  spec.tool = std::string(kTool);
  spec.runId = core::new_run_id();
  spec.namespaceName = core::namespace_for(kube, *client);
  spec.nodeName = node;
  spec.image = parsed["image"].as<std::string>();
  // /etc and /var hold every distribution's files (/etc/kubernetes, /etc/rancher,
  // /var/lib/rancher, /var/snap/microk8s) and exist on every node, so nothing is created on it.
  spec.readOnlyHostPaths = {{"/etc", "/host/etc", "Directory"}, {"/var", "/host/var", "Directory"}};
  spec.activeDeadlineSeconds = startTimeout->count() / 1000 + 180;
  core::DebugPodTimeouts timeouts;
  timeouts.start = *startTimeout;
  timeouts.exec = std::chrono::seconds(60);
  core::PodRegistry registry;
  const core::DebugPodRun run = core::run_debug_pod(
      *client, spec, {"sh", "-c", std::string(kNodeScript), "kubectl-certs-node"}, "", timeouts,
      registry, false);
  for (const std::string& left : core::delete_all(*client, registry)) {
    invocation.err << "kubectl-certs: warning: " << left << '\n';
  }
  if (core::StopSignals::raised()) {
    invocation.err << "kubectl-certs: interrupted (signal " << core::StopSignals::signal()
                   << "); the debug pod was deleted\n";
    return 128 + core::StopSignals::signal();
  }

  core::Report report;
  report.tool = std::string(kTool);
  report.target = {client->config().contextName, client->config().clusterName,
                   client->config().server};
  std::optional<NodeFiles> files;
  if (!run.failure.empty()) {
    report.checks.push_back(node_failure(node, run.failure, run.failureHint));
  } else if (run.exec.exitCode != 0) {
    report.checks.push_back(node_failure(
        node,
        "the PKI script failed on the node (exit " + std::to_string(run.exec.exitCode) + "): " +
            std::string(core::trim(run.exec.err.empty() ? run.exec.statusMessage : run.exec.err))
                .substr(0, 300),
        "the image needs sh, openssl and base64 (--image)"));
  } else if (core::Result<NodeFiles> parsedFiles = parse_node_output(run.exec.out); !parsedFiles) {
    report.checks.push_back(node_failure(node, parsedFiles.error().message,
                                         "run it again; with --image, use netshoot"));
  } else {
    files = std::move(*parsedFiles);
    RootOptions options;
    options.common = command->common;
    options.files = node_pki_files(*files);
    core::Result<core::Report> found = check_root(options);
    report = found ? std::move(*found) : core::Report{};
    report.tool = std::string(kTool);
    if (!found) {
      report.checks.push_back(node_failure(
          node, found.error().message,
          "the node holds none of the layouts kubectl certs knows; check its files with "
          "kubectl debug node/" +
              node));
    }
    report.target = {client->config().contextName, client->config().clusterName,
                     client->config().server};
    for (core::Check& check : report.checks) {
      check.endpoint = node;
      if (check.details.is_object() && check.details.contains("source") &&
          check.details["source"].is_string()) {
        check.details["source"] = node + ":" + check.details["source"].get<std::string>();
      }
    }
  }
  return finish(invocation.out, report, command->common);
}

}  // namespace kp::certs
