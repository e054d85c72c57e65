#include "certs/certs.h"

#include <array>
#include <iostream>

#include "certs/certcheck.h"
#include "certs/kubeconfig.h"
#include "certs/node.h"
#include "certs/pki.h"
#include "certs/secrets.h"
#include "certs/server.h"

namespace kp::certs {

std::span<const core::Subcommand> commands() {
  static const std::array<core::Subcommand, 6> kCommands{{
      {"server", "Inspect the API server's live serving certificate chain", server_command},
      {"kubeconfig", "Inspect the CAs and client certificates in the kubeconfig",
       kubeconfig_command},
      {"pki", "Inspect the PKI of kubeadm, k3s, RKE2, MicroK8s or OpenShift on this machine",
       pki_command},
      {"node", "Inspect a node's PKI (any of those distributions) through a debug pod",
       node_command},
      {"secrets", "Inspect TLS secrets in the cluster", secrets_command},
      {"file", "Inspect certificate and key files", file_command},
  }};
  return kCommands;
}

int main(int argc, char** argv) {
  return core::subcommand_main(
      "certs",
      "Inspect the certificates on the path to the Kubernetes API server: expiry, SANs, chains "
      "and key pairing.",
      commands(), argc, argv);
}

}  // namespace kp::certs
