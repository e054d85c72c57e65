// kube-apiserver's static pod manifest (kubeadm writes /etc/kubernetes/manifests/
// kube-apiserver.yaml): the flags that decide where it listens, from the manifest's YAML or from
// an argument list (a process's argv).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/util/result.h"

namespace kp::core {

// kube-apiserver's flags that decide where it listens; "" when not given.
struct ApiServerFlags {
  std::string bindAddress;
  std::string securePort;
  std::string advertiseAddress;
};

// From an argument list: "--flag=value" or "--flag value".
ApiServerFlags apiserver_flags(const std::vector<std::string>& args);

// spec.containers[0].command followed by its args (the container named kube-apiserver when
// there is one). Errors: "invalid YAML: ...", "no spec.containers[0].command".
Result<ApiServerFlags> parse_manifest(std::string_view yaml);

}  // namespace kp::core
