// kubectl-certs: certificates along the API-server path (serving chain, kubeconfig, kubeadm
// PKI, node, TLS secrets, files). server, kubeconfig, pki and file are implemented (see
// certcheck.h, server.h, kubeconfig.h, pki.h); node and secrets are not yet.
#pragma once

#include <span>

#include "core/cli/cli.h"

namespace kp::certs {

// The command table from which --help and "did you mean" are generated.
std::span<const core::Subcommand> commands();

// The kubectl-certs entry point, called by cmd/kubectl-certs.cpp.
int main(int argc, char** argv);

}  // namespace kp::certs
