// kubectl-certs: certificates along the API-server path: the serving chain (server.h), the
// kubeconfig (kubeconfig.h), a PKI directory (pki.h), a node's PKI (node.h), TLS Secrets
// (secrets.h) and files; what they share is in certcheck.h.
#pragma once

#include <span>

#include "core/cli/cli.h"

namespace kp::certs {

// The command table from which --help and "did you mean" are generated.
std::span<const core::Subcommand> commands();

// The kubectl-certs entry point, called by cmd/kubectl-certs.cpp.
int main(int argc, char** argv);

}  // namespace kp::certs
