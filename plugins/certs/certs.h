// kubectl-certs: certificates along the API-server path (serving chain, kubeconfig, kubeadm
// PKI, node, TLS secrets, files). This version has the command table only.
#pragma once

#include <span>

#include "core/cli.h"

namespace kp::certs {

// The command table from which --help and "did you mean" are generated.
std::span<const core::Subcommand> commands();

// The kubectl-certs entry point, called by cmd/kubectl-certs.cpp.
int main(int argc, char** argv);

}  // namespace kp::certs
