// kubectl-netdebug: checks the path to the API server from inside the cluster with netshoot
// pods (run, shell, cleanup: run.h), plus node-local checks (local.h).
#pragma once

#include <span>

#include "core/cli/cli.h"

namespace kp::netdebug {

// The command table from which --help and "did you mean" are generated.
std::span<const core::Subcommand> commands();

// The kubectl-netdebug entry point, called by cmd/kubectl-netdebug.cpp.
int main(int argc, char** argv);

}  // namespace kp::netdebug
