// `kubectl certs pki`: a kubeadm PKI directory (/etc/kubernetes/pki) and the client
// certificates embedded in the kubeconfig files next to it (/etc/kubernetes/*.conf), as
// `kubeadm certs check-expiration` sees them, plus key pairing and who signed what.
#pragma once

#include <iosfwd>
#include <string>

#include "certs/certcheck.h"

namespace kp::certs {

struct PkiOptions {
  CommonOptions common;
  std::string dir = "/etc/kubernetes/pki";
  std::string kubeconfigDir = "/etc/kubernetes";
};

core::Report check_pki(const PkiOptions& options);
int run_pki(const PkiOptions& options, std::ostream& out, std::ostream& err);

// The subcommand entry point from the command table.
int pki_command(const core::Invocation& invocation);

}  // namespace kp::certs
