// Loading the client config as kubectl does, and the answers to the set-up mistakes people hit
// most before any request is sent: no kubeconfig at all (kubectl then dials localhost:8080), a
// kubeconfig this user may not read, KUBECONFIG entries that are directories, hold a literal `~`
// or use the other platform's separator, an exec plugin apiVersion kubectl no longer accepts.
// Each becomes a config-layer check with the evidence and the fix; the run goes on with what
// kubectl would use (or with nothing to dial when kubectl itself stops).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/kube/kubeconfig.h"
#include "core/report/report.h"
#include "core/util/env.h"
#include "core/util/result.h"

namespace kp::apicheck {

// What this machine says about a path and the user running: a seam for tests.
struct HostView {
  struct File {
    bool directory = false;
    unsigned uid = 0, gid = 0;
    unsigned mode = 0;  // permission bits (0600)
    // stat failed with EACCES: a directory above it may not be searched (named here); the
    // file may well exist, so it is not "missing".
    std::string blockedBy;
  };
  std::function<std::optional<File>(const std::string& path)> stat;  // nullopt: not there
  std::function<bool(const std::string& path)> readable;             // access(path, R_OK)
  std::function<std::string(unsigned uid)> user_name;                // "uid 1000" if unknown
  std::function<std::string(unsigned gid)> group_name;
  std::function<bool(const std::string& program)> on_path;  // an executable of that name on PATH
  std::function<std::string(const std::string& user)> home_of;  // "" if unknown
  unsigned uid = 0;
  core::EnvLookup env;
  // Where client-go looks for an in-cluster config (the real one, or a fake for tests).
  core::InClusterEnvironment inCluster;

  static HostView system(core::EnvLookup env);
};

// The outcome of loading: the client config to run with (none when kubectl would stop before
// dialling), and the config-layer checks that explain what was wrong.
struct LoadedConfig {
  std::optional<core::ClientConfig> client;
  std::vector<core::Check> checks;
  // Why no authenticated request is made although there is a server to check ("" otherwise).
  std::string credentialsRefused;
  // The server is kubectl's default ($KUBERNETES_MASTER or http://localhost:8080), not one a
  // kubeconfig or --server gave.
  bool defaultServer = false;
};

// Loads as core::load_client_config() does. An error (exit 2) only for what these checks do not
// explain: a malformed kubeconfig keeps its file-and-field error.
core::Result<LoadedConfig> load_config(const core::LoadingRules& rules,
                                       const core::ConfigOverrides& overrides,
                                       const HostView& host);

// Checks of the KUBECONFIG variable itself (warnings: the loading goes on).
std::vector<core::Check> kubeconfig_env_checks(const core::LoadingRules& rules,
                                               const HostView& host);

// Kubeconfigs that exist at the well-known places of this machine (kubeadm, k3s, RKE2,
// MicroK8s), each "path (what wrote it)".
std::vector<std::string> well_known_kubeconfigs(const HostView& host);

// When `server` refuses connections and the context or address is a local development
// cluster's (minikube, kind, k3d, Docker Desktop, Rancher Desktop, colima, OrbStack, MicroK8s):
// what it is and how to start it; "" when it is none of them.
std::string local_cluster_hint(const std::string& contextName, const std::string& server);

}  // namespace kp::apicheck
