// The Secrets a distribution keeps its own control-plane certificates in, named as such by
// `certs secrets` with the distribution's way of renewing them:
//  - k3s and RKE2: kube-system/k3s-serving and kube-system/rke2-serving, the supervisor's and API
//    server's listener certificate (rancher/dynamiclistener, signed by <program>-server-ca).
//    k3s-io/k3s pkg/cli/cert/cert.go: `certificate rotate --service <program>-server` writes
//    server/tls/dynamic-cert-regenerate so the next start makes a new one.
//  - OpenShift 4: the Secrets of the control-plane operators' namespaces (openshift/origin tls/
//    ownership: openshift-kube-apiserver(-operator), -kube-controller-manager(-operator),
//    -kube-scheduler(-operator), -etcd(-operator)), rotated by those operators.
#include <array>

#include "certs/layout.h"
#include "certs/secrets.h"
#include "core/util/json.h"

namespace kp::certs {
namespace {

struct ServingSecret {
  std::string_view name;  // in kube-system
  Distro distro;
};

constexpr std::array<ServingSecret, 2> kServingSecrets{{
    {"k3s-serving", Distro::k3s},
    {"rke2-serving", Distro::rke2},
}};

// OpenShift's control-plane components, by the namespaces their certificates live in.
constexpr std::array<std::string_view, 4> kOpenShiftComponents{
    {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}};

}  // namespace

std::optional<DistroSecret> distro_secret(const nlohmann::json& secret) {
  const nlohmann::json& metadata = core::json_member(secret, "metadata");
  const std::string ns = core::json_string(metadata, "namespace");
  const std::string name = core::json_string(metadata, "name");
  if (ns == "kube-system") {
    for (const ServingSecret& serving : kServingSecrets) {
      if (name != serving.name) {
        continue;
      }
      const std::string program(distro_name(serving.distro));
      return DistroSecret{
          program,
          program +
              "'s listener certificate for the supervisor and API server (dynamiclistener, "
              "signed by " +
              program + "-server-ca)",
          program + " renews it itself when it starts; to force a new one: " + program +
              " certificate rotate --service " + program +
              "-server on each server, then "
              "restart " +
              program};
    }
    return std::nullopt;
  }
  for (std::string_view component : kOpenShiftComponents) {
    const std::string own = "openshift-" + std::string(component);
    if (ns == own || ns == own + "-operator") {
      return DistroSecret{"openshift",
                          "OpenShift " + std::string(component) + " control-plane certificate",
                          openshift_operator_hint(std::string(component))};
    }
  }
  return std::nullopt;
}

}  // namespace kp::certs
