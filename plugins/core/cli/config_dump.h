// The hidden `__config` entry point every plugin answers (like `__complete`): the kubectl flags
// resolved through Command::client_config(), exactly as a subcommand resolves them, printed as
// one JSON object, without secrets (no token, password, key or certificate bytes). It exists
// for tests/differential, which compares the three plugins' resolution with kubectl's.
//
//   kubectl-certs __config [kubectl flags]   -> {"context": ..., "server": ..., ...}, exit 0
//                                            -> kubectl-certs: error: <message>, exit 2
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/kube/kubeconfig.h"
#include "core/util/env.h"

namespace kp::core {

// True for the entry point's name, "__config".
bool is_config_entry(std::string_view arg);

// The resolved fields of `config`, secrets left out: context, cluster, user, namespace, server,
// tlsServerName, insecure, caSource ("file:<path>", "data" or "system"), proxy (the choice for
// `config.server` under `env`, masked), authMethod and where its credential comes from,
// impersonation, exec (command, args, env names, apiVersion, interactiveMode,
// provideClusterInfo), inCluster, sourceFiles, warnings.
nlohmann::json client_config_json(const ClientConfig& config, const EnvLookup& env);

// `kubectl-<tool> __config ARGS...`: parses ARGS as a Command (kubectl flags only), resolves
// and prints client_config_json(); 0, or 2 with the error printed.
int config_command(std::string_view tool, const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err);

}  // namespace kp::core
