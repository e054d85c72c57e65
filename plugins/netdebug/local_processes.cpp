// node.process: the kube-apiserver processes of the process list and their flags.
#include <nlohmann/json.hpp>

#include "core/kube/manifest.h"
#include "core/util/text.h"
#include "netdebug/local.h"
#include "netdebug/local_detail.h"

namespace kp::netdebug {

using detail::basename_of;
using detail::node_check;
using detail::set;

core::Check check_process(const std::vector<ProcessInfo>& processes, int port,
                          const std::optional<ApiServerFlags>& manifest) {
  core::Check check = node_check("node.process");
  std::vector<const ProcessInfo*> found;
  for (const ProcessInfo& process : processes) {
    std::string exe = basename_of(process.exe);
    if (exe.ends_with(" (deleted)")) {
      exe.resize(exe.size() - 10);
    }
    if ((!process.argv.empty() && basename_of(process.argv[0]) == "kube-apiserver") ||
        exe == "kube-apiserver") {
      found.push_back(&process);
    }
  }
  if (found.empty()) {
    set(check, core::CheckStatus::skip,
        "no kube-apiserver process: not a control-plane node, or it runs elsewhere");
    return check;
  }
  const auto flags_of = [](const ProcessInfo& process) {
    return apiserver_flags(std::vector<std::string>(
        process.argv.begin() + (process.argv.empty() ? 0 : 1), process.argv.end()));
  };
  const auto port_of = [](const ApiServerFlags& flags) {
    return flags.securePort.empty() ? std::string("6443") : flags.securePort;
  };
  const auto bind_of = [](const ApiServerFlags& flags) {
    return flags.bindAddress.empty() ? std::string("0.0.0.0") : flags.bindAddress;
  };
  // The one serving the port checked, in this network namespace if there is one.
  const ProcessInfo* chosen = found.front();
  int best = -1;
  for (const ProcessInfo* process : found) {
    const int score = (port_of(flags_of(*process)) == std::to_string(port) ? 2 : 0) +
                      (process->otherNetns ? 0 : 1);
    if (score > best) {
      best = score;
      chosen = process;
    }
  }
  const ApiServerFlags flags = flags_of(*chosen);
  std::string message = "kube-apiserver pid " + std::to_string(chosen->pid) + " (state " +
                        std::string(1, chosen->state) + "): --secure-port=" + port_of(flags) +
                        (flags.securePort.empty() ? " (default)" : "") +
                        ", --bind-address=" + bind_of(flags) +
                        (flags.bindAddress.empty() ? " (default)" : "");
  if (!flags.advertiseAddress.empty()) {
    message += ", --advertise-address=" + flags.advertiseAddress;
  }
  if (chosen->otherNetns) {
    message += " (in another network namespace than the one checked)";
  }
  nlohmann::ordered_json pids = nlohmann::ordered_json::array();
  std::vector<std::string> others;
  for (const ProcessInfo* process : found) {
    pids.push_back(process->pid);
    if (process != chosen) {
      others.push_back(std::to_string(process->pid));
    }
  }
  if (!others.empty()) {
    message += "; also pid " + core::join(others);
  }
  check.details = {{"pid", chosen->pid},
                   {"state", std::string(1, chosen->state)},
                   {"securePort", port_of(flags)},
                   {"bindAddress", bind_of(flags)},
                   {"advertiseAddress", flags.advertiseAddress},
                   {"otherNetns", chosen->otherNetns},
                   {"pids", pids}};
  if (chosen->state == 'Z' || chosen->state == 'T' || chosen->state == 't') {
    set(check, core::CheckStatus::fail,
        message + ": the process is " + (chosen->state == 'Z' ? "a zombie" : "stopped"),
        "restart it: kubelet restarts the static pod (journalctl -u kubelet, crictl ps -a "
        "--name kube-apiserver)");
    return check;
  }
  if (chosen->otherNetns) {
    // Not this namespace's API server: its flags say nothing about the port checked here.
    set(check, core::CheckStatus::ok, message);
    return check;
  }
  if (port_of(flags) != std::to_string(port)) {
    set(check, core::CheckStatus::warn, message + "; the port checked is " + std::to_string(port),
        "pass --port " + port_of(flags) +
            " to check kube-apiserver itself, or fix the kubeconfig's server port");
    return check;
  }
  if (manifest && (bind_of(*manifest) != bind_of(flags) || port_of(*manifest) != port_of(flags))) {
    set(check, core::CheckStatus::warn,
        message + "; the manifest says --bind-address=" + bind_of(*manifest) +
            ", --secure-port=" + port_of(*manifest),
        "kubelet restarts the static pod when its manifest changes: check journalctl -u "
        "kubelet and crictl ps -a --name kube-apiserver (or the manifest is not the one in "
        "use)");
    return check;
  }
  set(check, core::CheckStatus::ok, message);
  return check;
}

}  // namespace kp::netdebug
