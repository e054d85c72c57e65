// `kubectl certs kubeconfig`: the CAs (clusters) and client certificates (users) of the merged
// kubeconfig, inline data and files alike; a client certificate is also checked against the CA
// of every cluster a context pairs it with.
#pragma once

#include <iosfwd>
#include <string>

#include "certs/certcheck.h"
#include "core/kube/kubeconfig.h"

namespace kp::certs {

struct KubeconfigOptions {
  CommonOptions common;
  core::LoadingRules rules;
  std::string context;   // --context: the context --current means; "" = current-context
  bool current = false;  // --current: only the current context's cluster and user
};

// The checks for an already loaded kubeconfig; an error only for --current without a context.
core::Result<core::Report> check_kubeconfig(const core::Kubeconfig& config,
                                            const KubeconfigOptions& options);

// Loads the kubeconfig (a bad one is exit 2), checks and renders.
int run_kubeconfig(const KubeconfigOptions& options, std::ostream& out, std::ostream& err);

// The subcommand entry point from the command table.
int kubeconfig_command(const core::Invocation& invocation);

}  // namespace kp::certs
