// The in-cluster configuration (../shared/K8S-CLIENT-SPEC.md 2): is it possible, and the
// ClientConfig built from the pod's service account, its environment and the few flags that apply.
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "core/kube/kubeconfig.h"
#include "core/kube/kubeconfig_detail.h"
#include "core/util/env.h"
#include "core/util/files.h"
#include "core/util/text.h"
#include "core/util/url.h"

namespace kp::core {
namespace fs = std::filesystem;
using detail::validate_namespace;
namespace {

std::string env_or_empty(const InClusterEnvironment& env, const std::string& name) {
  return env_value(env.getenv, name).value_or("");
}

}  // namespace

InClusterEnvironment InClusterEnvironment::system() {
  InClusterEnvironment env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
  return env;
}

bool in_cluster_possible(const InClusterEnvironment& env) {
  if (env_or_empty(env, "KUBERNETES_SERVICE_HOST").empty() ||
      env_or_empty(env, "KUBERNETES_SERVICE_PORT").empty()) {
    return false;
  }
  std::error_code ec;
  const fs::file_status token = fs::status(env.serviceAccountDir / "token", ec);
  return !ec && fs::exists(token) && !fs::is_directory(token);
}

Result<ClientConfig> in_cluster_config(const ConfigOverrides& o, const InClusterEnvironment& env) {
  const std::string host = env_or_empty(env, "KUBERNETES_SERVICE_HOST");
  const std::string port = env_or_empty(env, "KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Error{
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT must be defined"};
  }
  ClientConfig out;
  out.inCluster = true;
  out.server =
      o.server.empty() ? "https://" + host_port(host, port) : normalize_server_url(o.server);

  if (!o.token.empty()) {
    out.token = o.token;
    out.authMethod = "token";
  } else {
    const fs::path tokenPath = env.serviceAccountDir / "token";
    Result<std::string> token = read_file(tokenPath);
    if (!token) {
      return token.error().prefixed("in-cluster configuration");
    }
    out.token = std::string(trim(*token));
    if (out.token.empty()) {
      return Error{"in-cluster configuration: read " + tokenPath.string() + ": empty token file"};
    }
    out.tokenFile = tokenPath.string();
    out.tokenFilePath = out.tokenFile;
    out.authMethod = "token-file";
  }

  if (!o.certificateAuthority.empty()) {
    Result<std::string> ca = read_file(o.certificateAuthority);
    if (!ca) {
      return ca.error().prefixed("--certificate-authority");
    }
    out.caPem = std::move(ca).value();
    out.caFile = o.certificateAuthority;
  } else {
    // rest.InClusterConfig logs an unreadable CA and goes on with the system roots.
    const fs::path caPath = env.serviceAccountDir / "ca.crt";
    Result<std::string> ca = read_file(caPath);
    if (ca) {
      out.caPem = std::move(ca).value();
      out.caFile = caPath.string();
    } else {
      out.warnings.push_back("in-cluster configuration: " + ca.error().message +
                             "; using the system trust store");
    }
  }

  // -n still wins: client-go's deferred loader asks the in-cluster namespace only when the
  // flags and the kubeconfig set none.
  out.namespaceName = o.namespaceName;
  if (out.namespaceName.empty()) {
    out.namespaceName = env_or_empty(env, "POD_NAMESPACE");
  }
  if (out.namespaceName.empty()) {
    Result<std::string> ns = read_file(env.serviceAccountDir / "namespace");
    if (ns) {
      out.namespaceName = std::string(trim(*ns));
    }
  }
  if (out.namespaceName.empty()) {
    out.namespaceName = "default";
  }
  Status valid = validate_namespace(out.namespaceName);
  if (!valid) {
    return valid.error();
  }
  return out;
}

}  // namespace kp::core
