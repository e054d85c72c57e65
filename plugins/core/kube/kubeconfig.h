// Kubeconfig loading, merging and resolution, following client-go's clientcmd
// (../shared/K8S-CLIENT-SPEC.md section 1). Parsing takes file contents so tests need no files;
// only load_kubeconfig() and the final resolve step (CA/cert/key/token files) touch the disk.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/env.h"
#include "core/util/result.h"

namespace kp::core {

// A user's `exec` credential plugin, parsed only; exec_credential.h runs it.
struct ExecConfig {
  std::string command;  // absolute when the kubeconfig gave a path with a separator
                        // (../shared/K8S-CLIENT-SPEC.md 1.5)
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string apiVersion;  // client.authentication.k8s.io/v1 or /v1beta1 once validated
  std::string installHint;
  bool provideClusterInfo = false;
  // Never, IfAvailable or Always; v1beta1 (and v1alpha1) default to IfAvailable, v1 has no
  // default (../shared/K8S-CLIENT-SPEC.md 3.3).
  std::string interactiveMode;
};

// A legacy `auth-provider` (../shared/K8S-CLIENT-SPEC.md 3.10): gcp and azure are removed upstream,
// oidc remains.
struct AuthProvider {
  std::string name;
  std::map<std::string, std::string> config;  // e.g. idp-issuer-url, client-id, id-token
};

// The cluster extension whose value becomes the exec plugin's spec.cluster.config
// (../shared/K8S-CLIENT-SPEC.md 1.17).
inline constexpr std::string_view kExecClusterExtension = "client.authentication.k8s.io/exec";

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
  std::map<std::string, nlohmann::json> extensions;  // `extensions[]` by name, values as JSON
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
  std::optional<AuthProvider> authProvider;
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
  std::string currentContextOrigin;  // "<file>: current-context" of the file that set it
  std::map<std::string, Cluster> clusters;
  std::map<std::string, AuthInfo> users;
  std::map<std::string, Context> contexts;
  std::vector<std::string> sourceFiles;  // files read, in precedence order
  std::vector<std::string> warnings;     // e.g. every KUBECONFIG entry missing

  // True when no file defined anything (../shared/K8S-CLIENT-SPEC.md 1.19 then needs --server).
  bool empty() const {
    return currentContext.empty() && clusters.empty() && users.empty() && contexts.empty();
  }
};

// The standard kubectl flags that override kubeconfig values (../shared/K8S-CLIENT-SPEC.md 8.1);
// empty = not given.
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
  // client-go's ConfigOverrides.ClusterDefaults server: what kubectl dials when the selected
  // cluster gives none (no context selected, a context without a cluster, a cluster defined
  // nowhere or without a server): $KUBERNETES_MASTER, else http://localhost:8080 (empty here =
  // that). KubeFlags fills it from the environment (kubectl_default_server()).
  std::string clusterDefaultServer;
};

// kubectl's default server: $KUBERNETES_MASTER (http:// added when it has no scheme, as kubectl
// dials it), else http://localhost:8080.
std::string kubectl_default_server(const EnvLookup& env = {});

// A configuration problem kubectl tolerates: it goes on with what the configuration gives (no
// credentials for a user defined nowhere; its default server for a cluster without one), and so
// does the resolution, which records the problem here instead of failing. Every plugin shows
// these: apicheck as config-layer checks, the others as warnings.
struct ConfigProblem {
  std::string id;       // the check it becomes: "config.user", "config.cluster"
  bool failure = true;  // false: a warning (kubectl's request still goes where it was meant to)
  std::string message;
  std::string hint;
  nlohmann::json details = nlohmann::json::object();
};

// Everything needed to talk to one API server, with file references already read into bytes.
struct ClientConfig {
  std::string contextName;
  std::string clusterName;
  std::string userName;
  std::string server;  // normalized: scheme added, query and fragment stripped
  std::string host;    // client-go's rest.Config.Host (client_go_host): told to exec plugins
  std::string caPem;   // empty: use the system trust store
  bool insecure = false;
  std::string tlsServerName;
  std::string proxyUrl;
  bool disableCompression = false;
  std::string clientCertPem;
  std::string clientKeyPem;
  std::string token;      // the bearer token in effect: static, from tokenFile, or oidc id-token
  std::string tokenFile;  // the configured path, kept so a caller can re-read it
                          // (../shared/K8S-CLIENT-SPEC.md 1.9)
  std::string username;
  std::string password;
  std::string impersonate;
  std::string impersonateUid;
  std::vector<std::string> impersonateGroups;
  std::map<std::string, std::vector<std::string>> impersonateUserExtra;
  std::optional<ExecConfig> exec;  // kept even when authMethod says another method wins
  std::optional<AuthProvider> authProvider;
  nlohmann::json execClusterConfig;  // cluster extension kExecClusterExtension; null when absent
  std::string namespaceName;
  std::vector<std::string> sourceFiles;
  std::vector<std::string> warnings;
  std::vector<ConfigProblem> problems;  // what kubectl tolerates and the config still gets wrong
  // The server is ConfigOverrides::clusterDefaultServer: no kubeconfig entry or flag gave one.
  bool serverIsDefault = false;
  // No credential is sent because the user entry the context names is defined nowhere.
  bool userMissing = false;

  // The credential that will authenticate requests, by client-go's precedence
  // (../shared/K8S-CLIENT-SPEC.md 1.11, 1.12): "none" over plain http; else "client-certificate";
  // else "token" or "token-file" (a --token flag beats tokenFile; a readable tokenFile beats a
  // kubeconfig token); else "basic"; else "exec" (client-go skips exec when a token, basic or
  // certificate is set); else "auth-provider:<name>"; else "none".
  std::string authMethod = "none";
  // Where secrets were read from, for permission warnings; "" when inline or not used.
  std::string clientCertificateFile;
  std::string clientKeyFile;
  std::string tokenFilePath;  // the file the token in effect came from
  std::string caFile;
  bool inCluster = false;  // built from the pod's service account (../shared/K8S-CLIENT-SPEC.md 2)
};

// Where kubeconfig files come from (../shared/K8S-CLIENT-SPEC.md 1.1-1.3).
struct LoadingRules {
  std::string explicitPath;   // --kubeconfig: only this file, and it must exist
  std::string kubeconfigEnv;  // $KUBECONFIG, a path list (split_path_list: ':', ';' on Windows)
  std::string home;           // $HOME, for the default ~/.kube/config

  // Reads KUBECONFIG and HOME from the environment.
  static LoadingRules from_environment(std::string explicitPath);

  // The files to read, in precedence order, without empty entries or duplicates.
  std::vector<std::filesystem::path> precedence() const;
};

// client-go's homedir.HomeDir() on Windows (util/homedir/homedir.go), given %HOME%,
// %HOMEDRIVE%%HOMEPATH% and %USERPROFILE%: the first of them holding .kube\config; else the
// first of %HOME%, %USERPROFILE%, %HOMEDRIVE%%HOMEPATH% that is a writable directory (on Windows:
// without the read-only attribute); else the first that exists; else the first that is set.
// LoadingRules::from_environment uses it on Windows (elsewhere the home is $HOME); it is
// portable, and tested everywhere.
std::string windows_home_directory(const std::string& home, const std::string& homeDrivePath,
                                   const std::string& userProfile);

// Parses one file's contents. `path` names the file in errors and anchors relative paths.
Result<Kubeconfig> parse_kubeconfig(std::string_view contents, const std::filesystem::path& path);

// Merges in precedence order: the first file to define a name wins whole, and the first file
// to set current-context wins (../shared/K8S-CLIENT-SPEC.md 1.4).
Kubeconfig merge_kubeconfigs(std::vector<Kubeconfig> configs);

// Reads and merges the files named by `rules`; missing KUBECONFIG entries are skipped.
Result<Kubeconfig> load_kubeconfig(const LoadingRules& rules);

// client-go's error when there is no kubeconfig, no in-cluster config and no --server
// (../shared/K8S-CLIENT-SPEC.md 1.19); kubectl itself then dials $KUBERNETES_MASTER, else
// http://localhost:8080.
inline constexpr std::string_view kNoConfigurationError =
    "invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER "
    "environment variable";

// Picks the context, cluster and user, applies the flag overrides
// (../shared/K8S-CLIENT-SPEC.md 1.6, 1.7, 1.13): a context, cluster or user named by a flag (or a
// current-context) that is defined nowhere is an error, as kubectl refuses it; a cluster or
// user named by the context and defined nowhere, and a cluster without a server, are
// `problems` with kubectl's way on (no credentials; clusterDefaultServer). Validates
// (1.8, 1.10, 1.18, 3.1, 3.3, 3.9), reads the referenced CA, cert, key and token files (only for
// https servers, 1.11) and picks the authentication method (1.12). Never in-cluster.
Result<ClientConfig> resolve_client_config(const Kubeconfig& config,
                                           const ConfigOverrides& overrides);

// Where a pod finds its service account and the API server (../shared/K8S-CLIENT-SPEC.md 2);
// injectable for tests.
struct InClusterEnvironment {
  std::filesystem::path serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
  // KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT, POD_NAMESPACE; null: the process env.
  EnvLookup getenv;

  // The real directory and process environment.
  static InClusterEnvironment system();
};

// client-go's inClusterClientConfig.Possible(): both service variables set and the token file
// present (and not a directory).
bool in_cluster_possible(const InClusterEnvironment& env);

// The service-account configuration (../shared/K8S-CLIENT-SPEC.md 2.2-2.4): https://host:port (IPv6
// in brackets), the CA from ca.crt (unreadable: a warning and the system trust store, as client-go
// logs and goes on), the token file, namespace from -n, POD_NAMESPACE, the namespace file, or
// "default". Only --server, --token and --certificate-authority apply
// (../shared/K8S-CLIENT-SPEC.md 2.3).
Result<ClientConfig> in_cluster_config(const ConfigOverrides& overrides,
                                       const InClusterEnvironment& env);

// load_kubeconfig() then resolve_client_config(): what a plugin's complete() calls. When the
// kubeconfig selects nothing (no current-context) and no --server/--context/--cluster/--user
// is given, and in_cluster_possible(), the in-cluster configuration is used instead
// (../shared/K8S-CLIENT-SPEC.md 2.1).
Result<ClientConfig> load_client_config(const LoadingRules& rules,
                                        const ConfigOverrides& overrides);
Result<ClientConfig> load_client_config(const LoadingRules& rules, const ConfigOverrides& overrides,
                                        const InClusterEnvironment& inCluster);

}  // namespace kp::core
