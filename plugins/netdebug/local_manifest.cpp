// node.manifest: kube-apiserver's static pod manifest, read through LocalSystem and parsed by
// core::parse_manifest (core/kube/manifest.h).
#include "core/kube/manifest.h"
#include "netdebug/local.h"
#include "netdebug/local_detail.h"

namespace kp::netdebug {

using detail::node_check;
using detail::parse_number;
using detail::set;

ManifestState check_manifest(const LocalSystem& sys, const std::string& path, bool explicitPath,
                             int port) {
  ManifestState state;
  state.path = path;
  state.explicitPath = explicitPath;
  core::Check& check = state.check;
  check = node_check("node.manifest");
  check.details = {{"path", path}};
  if (!sys.fileExists(path)) {
    if (explicitPath) {
      set(check, core::CheckStatus::fail, path + ": no such file",
          "check the --manifest path (kubeadm writes /etc/kubernetes/manifests/"
          "kube-apiserver.yaml)");
    } else {
      set(check, core::CheckStatus::skip,
          "no static pod manifest at " + path +
              ": not a kubeadm control-plane node (give --manifest for another path)");
    }
    return state;
  }
  core::Result<std::string> contents = sys.readFile(path);
  if (!contents) {
    set(check, core::CheckStatus::fail, contents.error().message,
        "run as root: the manifest is readable by root only");
    return state;
  }
  core::Result<ApiServerFlags> flags = parse_manifest(*contents);
  if (!flags) {
    set(check, core::CheckStatus::fail, path + ": " + flags.error().message,
        "fix the manifest: kubelet cannot run kube-apiserver from it (journalctl -u kubelet "
        "shows the same error)");
    return state;
  }
  state.flags = *flags;
  check.details["bindAddress"] = flags->bindAddress;
  check.details["securePort"] = flags->securePort;
  check.details["advertiseAddress"] = flags->advertiseAddress;
  std::string message = path + ": ";
  message += flags->bindAddress.empty() ? "--bind-address unset (default 0.0.0.0)"
                                        : "--bind-address=" + flags->bindAddress;
  message += flags->securePort.empty() ? ", --secure-port unset (default 6443)"
                                       : ", --secure-port=" + flags->securePort;
  if (!flags->advertiseAddress.empty()) {
    message += ", --advertise-address=" + flags->advertiseAddress;
  }
  const std::string securePort = flags->securePort.empty() ? "6443" : flags->securePort;
  const std::optional<std::int64_t> number = parse_number(securePort, 65535);
  if (!number || *number == 0) {
    set(check, core::CheckStatus::fail, message + ": --secure-port is not a port number",
        "fix --secure-port in the manifest");
    return state;
  }
  if (*number != port) {
    set(check, core::CheckStatus::warn,
        message + "; the port checked is " + std::to_string(port) + ", not " + securePort,
        "the kubeconfig may point at a load balancer or another port: pass --port " + securePort +
            " to check kube-apiserver itself, or fix --secure-port");
    return state;
  }
  set(check, core::CheckStatus::ok, message);
  return state;
}

}  // namespace kp::netdebug
