// Kubeconfig loading, merging and resolution, following client-go's clientcmd
// (K8S-CLIENT-SPEC.md section 1). Parsing takes file contents so tests need no files; only
// load_kubeconfig() and the final resolve step (CA/cert/key/token files) touch the disk.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace kp::core {

// A user's `exec` credential plugin, parsed only; running it is a later step.
struct ExecConfig {
  std::string command;  // absolute when the kubeconfig gave a path with a separator (spec 1.5)
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string apiVersion;
  std::string installHint;
  bool provideClusterInfo = false;
  std::string interactiveMode;
};

// One `clusters[].cluster` entry. File paths are already resolved against the defining file.
struct Cluster {
  std::string origin;  // "<file>: clusters[<i>].cluster", the prefix of every error about it
  std::string server;
  std::string tlsServerName;
  bool insecureSkipTlsVerify = false;
  std::string certificateAuthority;      // path
  std::string certificateAuthorityData;  // decoded bytes (PEM)
  std::string proxyUrl;
  bool disableCompression = false;
};

// One `users[].user` entry ("auth info" in client-go's messages).
struct AuthInfo {
  std::string origin;
  std::string clientCertificate;      // path
  std::string clientCertificateData;  // decoded bytes
  std::string clientKey;              // path
  std::string clientKeyData;          // decoded bytes
  std::string token;
  std::string tokenFile;  // path
  std::string username;
  std::string password;
  std::string impersonate;
  std::string impersonateUid;
  std::vector<std::string> impersonateGroups;
  std::map<std::string, std::vector<std::string>> impersonateUserExtra;
  std::optional<ExecConfig> exec;
  bool hasAuthProvider = false;  // legacy auth-provider; only its presence matters for now
};

// One `contexts[].context` entry.
struct Context {
  std::string origin;
  std::string cluster;
  std::string user;
  std::string namespaceName;
};

// A parsed (or merged) kubeconfig: maps keyed by entry name, like client-go's internal type.
struct Kubeconfig {
  std::string currentContext;
  std::map<std::string, Cluster> clusters;
  std::map<std::string, AuthInfo> users;
  std::map<std::string, Context> contexts;
  std::vector<std::string> sourceFiles;  // files read, in precedence order
  std::vector<std::string> warnings;     // e.g. every KUBECONFIG entry missing

  // True when no file defined anything (spec 1.19 then needs --server).
  bool empty() const {
    return currentContext.empty() && clusters.empty() && users.empty() && contexts.empty();
  }
};

// The standard kubectl flags that override kubeconfig values (spec 8.1); empty = not given.
struct ConfigOverrides {
  std::string context;
  std::string cluster;
  std::string user;
  std::string namespaceName;
  std::string server;
  std::string tlsServerName;
  bool insecureSkipTlsVerify = false;
  std::string certificateAuthority;  // path, relative to the working directory
  std::string clientCertificate;
  std::string clientKey;
  std::string token;
  std::string username;
  std::string password;
  std::string impersonate;
  std::string impersonateUid;
  std::vector<std::string> impersonateGroups;
  std::map<std::string, std::vector<std::string>> impersonateUserExtra;
  bool disableCompression = false;
};

// Everything needed to talk to one API server, with file references already read into bytes.
struct ClientConfig {
  std::string contextName;
  std::string clusterName;
  std::string userName;
  std::string server;  // normalized: scheme added, query and fragment stripped
  std::string caPem;   // empty: use the system trust store
  bool insecure = false;
  std::string tlsServerName;
  std::string proxyUrl;
  bool disableCompression = false;
  std::string clientCertPem;
  std::string clientKeyPem;
  std::string token;
  std::string tokenFile;  // kept so a later version can re-read it (spec 1.9)
  std::string username;
  std::string password;
  std::string impersonate;
  std::string impersonateUid;
  std::vector<std::string> impersonateGroups;
  std::map<std::string, std::vector<std::string>> impersonateUserExtra;
  std::optional<ExecConfig> exec;
  std::string namespaceName;
  std::vector<std::string> sourceFiles;
  std::vector<std::string> warnings;
};

// Where kubeconfig files come from (spec 1.1-1.3).
struct LoadingRules {
  std::string explicitPath;   // --kubeconfig: only this file, and it must exist
  std::string kubeconfigEnv;  // $KUBECONFIG, split on ':'
  std::string home;           // $HOME, for the default ~/.kube/config

  // Reads KUBECONFIG and HOME from the environment.
  static LoadingRules from_environment(std::string explicitPath);

  // The files to read, in precedence order, without empty entries or duplicates.
  std::vector<std::filesystem::path> precedence() const;
};

// Parses one file's contents. `path` names the file in errors and anchors relative paths.
Result<Kubeconfig> parse_kubeconfig(std::string_view contents, const std::filesystem::path& path);

// Merges in precedence order: the first file to define a name wins whole, and the first file
// to set current-context wins (spec 1.4).
Kubeconfig merge_kubeconfigs(std::vector<Kubeconfig> configs);

// Reads and merges the files named by `rules`; missing KUBECONFIG entries are skipped.
Result<Kubeconfig> load_kubeconfig(const LoadingRules& rules);

// Picks the context, cluster and user, applies the flag overrides (spec 1.6, 1.7, 1.13),
// validates (1.8, 1.10, 1.18) and reads the referenced CA, cert, key and token files.
Result<ClientConfig> resolve_client_config(const Kubeconfig& config,
                                           const ConfigOverrides& overrides);

// load_kubeconfig() then resolve_client_config(): what a plugin's complete() calls.
Result<ClientConfig> load_client_config(const LoadingRules& rules,
                                        const ConfigOverrides& overrides);

}  // namespace kp::core
