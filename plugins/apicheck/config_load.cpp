#include "apicheck/config_load.h"

#include <cstdio>

#include "core/net/proxy.h"
#include "core/util/files.h"
#include "core/util/host.h"
#include "core/util/process.h"
#include "core/util/text.h"

namespace kp::apicheck {

using core::Check;
using core::CheckStatus;
using core::Layer;

namespace {

constexpr std::string_view kExecV1alpha1 = "client.authentication.k8s.io/v1alpha1";

std::string mode_text(unsigned mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

std::string env_or(const HostView& host, const std::string& name, std::string fallback = {}) {
  std::optional<std::string> value = core::env_value(host.env, name);
  return value && !value->empty() ? *value : fallback;
}

// "alice (uid 1000)".
std::string who(const HostView& host) {
  return host.user_name(host.uid) + " (uid " + std::to_string(host.uid) + ")";
}

// The copy every distribution's docs give: the file as the user's own kubeconfig.
std::string copy_command(const std::string& path) {
  return "mkdir -p ~/.kube && sudo cp " + path +
         " ~/.kube/config && sudo chown $(id -u):$(id -g) ~/.kube/config";
}

// The fix for a kubeconfig this user may not read, by what wrote it. `own`: the file is the
// default ~/.kube/config (a copy made with sudo and never chowned, kubeadm's usual trap).
std::string unreadable_hint(const std::string& path, const std::string& owner, bool own,
                            bool ownedByMe) {
  if (ownedByMe) {
    return "it is yours but not readable (mode above): chmod u+r " + path;
  }
  if (own) {
    return "it was copied with sudo and never given to you: sudo chown $(id -u):$(id -g) " + path;
  }
  const std::string copy = "use your own copy: " + copy_command(path) +
                           " (then drop --kubeconfig/KUBECONFIG, or point them there)";
  if (path == "/etc/rancher/k3s/k3s.yaml" || path == "/etc/rancher/rke2/rke2.yaml") {
    const std::string distro = path.find("k3s") != std::string::npos ? "k3s" : "rke2";
    return copy + "; or have " + distro +
           " write it for a group: write-kubeconfig-mode: \"0640\" " +
           "and write-kubeconfig-group: GROUP in /etc/rancher/" + distro + "/config.yaml " +
           "(--write-kubeconfig-mode/--write-kubeconfig-group), then restart " + distro;
  }
  if (path == "/etc/kubernetes/admin.conf" || path == "/etc/kubernetes/super-admin.conf") {
    return copy + " (what kubeadm init prints), or run as root";
  }
  return copy + ", or run as " + owner;
}

// A config-layer failure about the kubeconfig itself.
Check config_failure(std::string message, std::string hint, nlohmann::ordered_json details,
                     std::string id = "config.kubeconfig") {
  Check check = core::make_check(std::move(id), Layer::config, CheckStatus::fail,
                                 std::move(message), std::move(hint));
  check.details = std::move(details);
  return check;
}

// A file named by --kubeconfig or KUBECONFIG that kubectl cannot read: a directory, a file this
// user may not open, or (--kubeconfig only) a path with a literal ~ that does not exist.
std::optional<Check> unusable_file(const core::LoadingRules& rules, const std::string& path,
                                   const HostView& host) {
  const std::optional<HostView::File> file = host.stat(path);
  const bool defaultPath = rules.explicitPath.empty() && rules.kubeconfigEnv.empty();
  const std::string flag = !rules.explicitPath.empty() ? "--kubeconfig "
                           : defaultPath               ? ""
                                                       : "KUBECONFIG entry ";
  if (file && !file->blockedBy.empty()) {
    return config_failure(
        "cannot read " + path + ": permission denied: this is " + who(host) +
            ", who may not enter " + file->blockedBy + " (kubectl: \"open " + path +
            ": permission denied\")",
        "use a kubeconfig you may read: " + copy_command(path) +
            ", or run as a user who may enter " + file->blockedBy,
        {{"path", path}, {"blockedBy", file->blockedBy}, {"user", host.user_name(host.uid)}});
  }
  if (!file) {
    if (!rules.explicitPath.empty() && path.starts_with("~")) {
      const bool mine = path == "~" || path.starts_with("~/");
      return config_failure(
          "--kubeconfig " + core::quote(path) +
              " does not exist: the ~ was not expanded (the shell does not "
              "expand it after '=') and kubectl does not either",
          "write --kubeconfig " + path + " (a space, not '=')" +
              (mine ? " or $HOME" + path.substr(1) : " or the user's home directory in full"),
          {{"path", path}});
    }
    return std::nullopt;  // missing KUBECONFIG entries are skipped, as kubectl does
  }
  if (file->directory) {
    const std::string inside = path + (path.ends_with("/") ? "" : "/") + "config";
    const bool hasConfig = host.stat(inside) && !host.stat(inside)->directory;
    return config_failure(flag + path + " is a directory, not a kubeconfig file (kubectl: \"read " +
                              path + ": is a directory\")",
                          hasConfig ? "name the file inside it: " + inside
                                    : "name a kubeconfig file, not the directory that holds it",
                          {{"path", path}});
  }
  if (!host.readable(path)) {
    const std::string owner = host.user_name(file->uid);
    return config_failure("cannot read " + path + ": permission denied (owner " + owner + ":" +
                              host.group_name(file->gid) + ", mode " + mode_text(file->mode) +
                              "; this is " + who(host) + ")",
                          unreadable_hint(path, owner, defaultPath, file->uid == host.uid),
                          {{"path", path},
                           {"owner", owner},
                           {"mode", mode_text(file->mode)},
                           {"user", host.user_name(host.uid)}});
  }
  return std::nullopt;
}

// What to run to get a kubeconfig, from what this machine has.
std::string no_config_hint(const HostView& host, const std::vector<std::string>& found) {
  std::vector<std::string> ways;
  const std::string sudoUser = env_or(host, "SUDO_USER");
  if (host.uid == 0 && !sudoUser.empty()) {
    const std::string home = host.home_of(sudoUser);
    const std::string theirs = home.empty() ? "" : home + "/.kube/config";
    if (!theirs.empty() && host.stat(theirs)) {
      ways.push_back("sudo runs as root, whose kubeconfig this is not: run kubectl as " + sudoUser +
                     " (without sudo), or sudo KUBECONFIG=" + theirs + " kubectl ...");
    }
  }
  for (const std::string& path : found) {
    const std::string file = path.substr(0, path.find(' '));
    ways.push_back("this machine has " + path + ": " + copy_command(file) +
                   ", or export KUBECONFIG=" + file + " if you may read it");
  }
  if (ways.empty()) {
    const std::pair<const char*, const char*> clouds[] = {
        {"gcloud", "gcloud container clusters get-credentials CLUSTER --location LOCATION"},
        {"aws", "aws eks update-kubeconfig --name CLUSTER --region REGION"},
        {"az", "az aks get-credentials --resource-group GROUP --name CLUSTER"},
        {"doctl", "doctl kubernetes cluster kubeconfig save CLUSTER"}};
    for (const auto& [program, command] : clouds) {
      if (host.on_path(program)) {
        ways.push_back(command);
      }
    }
  }
  if (ways.empty()) {
    ways.push_back(
        "get the cluster's kubeconfig (from its admin or the tool that made the cluster) and put "
        "it at ~/.kube/config, or pass --kubeconfig FILE or --server URL");
  }
  return core::join(ways, "; ");
}

// Why client-go did not use the in-cluster config.
std::string in_cluster_reason(const HostView& host) {
  const core::InClusterEnvironment& env = host.inCluster;
  const auto variable = [&env](const char* name) {
    const std::optional<std::string> value = env.getenv ? env.getenv(name) : std::nullopt;
    return value.value_or("");
  };
  if (variable("KUBERNETES_SERVICE_HOST").empty() || variable("KUBERNETES_SERVICE_PORT").empty()) {
    return "in-cluster (KUBERNETES_SERVICE_HOST/PORT are not set: not in a pod)";
  }
  return "in-cluster (in a pod, but " + (env.serviceAccountDir / "token").string() +
         " is missing: automountServiceAccountToken is off)";
}

// No usable kubeconfig, no in-cluster config, no --server: where client-go looked, and what
// kubectl does then: dial $KUBERNETES_MASTER, else http://localhost:8080, with every other
// flag applied as usual (so --context NAME is refused as kubectl refuses it).
core::Result<LoadedConfig> no_configuration(const core::LoadingRules& rules,
                                            const core::ConfigOverrides& overrides,
                                            const HostView& host) {
  std::vector<std::string> looked;
  std::vector<std::string> empty;  // files that exist and define nothing
  for (const auto& file : rules.precedence()) {
    const bool there = host.stat(file.string()).has_value();
    looked.push_back(file.string() +
                     (there ? " (defines no context, cluster or user)" : " (no such file)"));
    if (there) {
      empty.push_back(file.string());
    }
  }
  if (rules.precedence().empty()) {
    looked.push_back("~/.kube/config (HOME is not set)");
  }
  looked.push_back(in_cluster_reason(host));
  core::ConfigOverrides o = overrides;
  o.server = core::kubectl_default_server(host.env);
  core::Result<core::Kubeconfig> config = core::load_kubeconfig(rules);
  core::Result<core::ClientConfig> client =
      core::resolve_client_config(config ? *config : core::Kubeconfig{}, o);
  if (!client) {
    return client.error();  // e.g. --context NAME with nothing defining it: kubectl refuses too
  }
  const std::string shown = core::mask_proxy_url(client->server);  // no userinfo in reports
  const std::vector<std::string> found = well_known_kubeconfigs(host);
  LoadedConfig out;
  out.checks.push_back(config_failure(
      "no kubeconfig: looked at " + core::join(looked, ", ") + "; kubectl then dials " + shown +
          " (\"The connection to the server ... was refused - did you specify the right host or "
          "port?\")",
      empty.empty() ? no_config_hint(host, found)
                    : "put a cluster, a user and a context (and current-context) in " +
                          core::join(empty, ", ") +
                          ", or use another kubeconfig: " + no_config_hint(host, found),
      {{"looked", looked}, {"found", found}, {"server", shown}}));
  out.client = std::move(client).value();
  out.defaultServer = true;
  return out;
}

// An exec plugin at client.authentication.k8s.io/v1alpha1: kubectl refuses it since 1.24 and
// sends nothing; the anonymous layers are still checked.
core::Result<LoadedConfig> refused_exec_version(const core::LoadingRules& rules,
                                                const core::ConfigOverrides& overrides) {
  core::Result<core::Kubeconfig> config = core::load_kubeconfig(rules);
  if (!config) {
    return config.error();
  }
  const std::string contextName =
      overrides.context.empty() ? config->currentContext : overrides.context;
  const auto context = config->contexts.find(contextName);
  const std::string userName = !overrides.user.empty()             ? overrides.user
                               : context != config->contexts.end() ? context->second.user
                                                                   : std::string();
  const auto user = config->users.find(userName);
  if (user == config->users.end() || !user->second.exec ||
      user->second.exec->apiVersion != kExecV1alpha1) {
    return core::Error{"not a v1alpha1 exec plugin"};
  }
  const std::string command = user->second.exec->command;
  user->second = core::AuthInfo{};  // kubectl sends nothing at all: no token, no certificate
  core::Result<core::ClientConfig> client = core::resolve_client_config(*config, overrides);
  if (!client) {
    return client.error();
  }
  LoadedConfig out;
  out.checks.push_back(config_failure(
      "user " + core::quote(userName) + " runs exec plugin " + command + " with apiVersion " +
          std::string(kExecV1alpha1) +
          ", which kubectl no longer accepts (removed in Kubernetes 1.24): kubectl fails with "
          "\"exec plugin: invalid apiVersion\" and sends no request",
      command.find("aws") != std::string::npos
          ? "update the AWS CLI and run aws eks update-kubeconfig --name CLUSTER (it writes "
            "client.authentication.k8s.io/v1beta1)"
          : "set users[].user.exec.apiVersion to client.authentication.k8s.io/v1beta1 (or v1) "
            "if the plugin supports it, or update the plugin and regenerate the kubeconfig",
      {{"user", userName}, {"command", command}, {"apiVersion", kExecV1alpha1}}, "config.exec"));
  out.client = std::move(client).value();
  out.credentialsRefused = "kubectl refuses the exec plugin's apiVersion (see config.exec)";
  return out;
}

// What the resolution tolerated as kubectl does (a context naming a user or cluster defined
// nowhere, a cluster without a server): config-layer checks, and no credential sent for a user
// defined nowhere.
void add_problems(LoadedConfig& out) {
  const core::ClientConfig& client = *out.client;
  for (const core::ConfigProblem& problem : client.problems) {
    Check check = config_failure(problem.message, problem.hint,
                                 nlohmann::ordered_json(problem.details), problem.id);
    if (!problem.failure) {
      check.status = CheckStatus::warn;
    }
    out.checks.push_back(std::move(check));
  }
  // kubectl still sends what flags give (--token, --client-certificate ...) for a user defined
  // nowhere; only with nothing at all is there no credentialed request to make.
  if (client.userMissing && client.authMethod == "none" && out.credentialsRefused.empty()) {
    out.credentialsRefused = "the context's user " + core::quote(client.userName) +
                             " is defined nowhere (see config.user)";
  }
  out.defaultServer = out.defaultServer || client.serverIsDefault;
}

// Under sudo, kubectl reads root's kubeconfig, not the invoking user's: a warning when the
// user has one (the run goes on with root's, as kubectl does).
std::optional<Check> sudo_kubeconfig(const core::LoadingRules& rules, const HostView& host) {
  const std::string sudoUser = env_or(host, "SUDO_USER");
  if (host.uid != 0 || sudoUser.empty() || !rules.explicitPath.empty() ||
      !rules.kubeconfigEnv.empty()) {
    return std::nullopt;
  }
  const std::string home = host.home_of(sudoUser);
  const std::string theirs = home.empty() ? "" : home + "/.kube/config";
  const std::string ours = rules.home + "/.kube/config";
  if (theirs.empty() || theirs == ours || !host.stat(theirs) || !host.stat(ours)) {
    return std::nullopt;
  }
  Check check =
      core::make_check("config.sudo", Layer::config, CheckStatus::warn,
                       "running as root through sudo: kubectl reads root's kubeconfig (" + ours +
                           "), not " + sudoUser + "'s (" + theirs + ")",
                       "run kubectl as " + sudoUser +
                           " (without sudo), or sudo KUBECONFIG=" + theirs + " kubectl ...");
  check.details = {{"sudoUser", sudoUser}, {"used", ours}, {"theirs", theirs}};
  return check;
}

}  // namespace

HostView HostView::system(core::EnvLookup env) {
  HostView host;
  host.stat = [](const std::string& path) -> std::optional<File> {
    const std::optional<core::FileMode> st = core::file_mode(path);
    if (!st) {
      return std::nullopt;  // ENOENT, ENOTDIR: not there
    }
    if (st->denied) {
      // A directory on the way may not be searched: name the first one.
      File blocked;
      for (std::size_t at = path.find('/', 1); at != std::string::npos;
           at = path.find('/', at + 1)) {
        if (const std::string dir = path.substr(0, at); !core::may_search(dir)) {
          blocked.blockedBy = dir;
          break;
        }
      }
      if (blocked.blockedBy.empty()) {
        blocked.blockedBy = path.substr(0, path.rfind('/'));
      }
      return blocked;
    }
    return File{st->directory, st->uid, st->gid, st->mode, {}};
  };
  host.readable = [](const std::string& path) { return core::may_read(path); };
  host.user_name = [](unsigned uid) { return core::user_name(uid); };
  host.group_name = [](unsigned gid) { return core::group_name(gid); };
  host.on_path = [env](const std::string& program) {
    return core::find_executable(program, core::env_value(env, "PATH").value_or("")).has_value();
  };
  host.home_of = [](const std::string& user) { return core::home_of_user(user); };
  host.uid = core::current_uid();
  host.env = std::move(env);
  host.inCluster = core::InClusterEnvironment::system();
  return host;
}

std::vector<std::string> well_known_kubeconfigs(const HostView& host) {
  static const std::pair<const char*, const char*> kPlaces[] = {
      {"/etc/kubernetes/admin.conf", "kubeadm"},
      {"/etc/rancher/k3s/k3s.yaml", "k3s"},
      {"/etc/rancher/rke2/rke2.yaml", "RKE2"},
      {"/var/snap/microk8s/current/credentials/client.config", "MicroK8s"}};
  std::vector<std::string> found;
  for (const auto& [path, writer] : kPlaces) {
    if (const auto file = host.stat(path); file && !file->directory) {
      found.push_back(std::string(path) + " (" + writer + "'s)");
    }
  }
  return found;
}

std::vector<Check> kubeconfig_env_checks(const core::LoadingRules& rules, const HostView& host) {
  std::vector<Check> checks;
  if (!rules.explicitPath.empty() || rules.kubeconfigEnv.empty()) {
    return checks;  // --kubeconfig wins: KUBECONFIG is not read
  }
  // The whole list with ~ and ~/ spelled $HOME, for the fix (the other entries kept; on
  // Windows one holding ';' in quotes again, as it was written).
  std::vector<std::string> expanded;
  const std::vector<std::string> entries = core::split_path_list(rules.kubeconfigEnv);
  for (const std::string& entry : entries) {
    std::string fixed = entry == "~" || entry.starts_with("~/") ? "$HOME" + entry.substr(1) : entry;
    if (fixed.find(core::kPathListSeparator) != std::string::npos) {
      fixed = "\"" + fixed + "\"";
    }
    expanded.push_back(std::move(fixed));
  }
  for (const std::string& entry : entries) {
    if (entry.starts_with("~") && !host.stat(entry)) {
      const bool otherUser = entry != "~" && !entry.starts_with("~/");
      Check check = core::make_check(
          "config.kubeconfig-env", Layer::config, CheckStatus::warn,
          "KUBECONFIG entry " + core::quote(entry) +
              " starts with a literal ~: the shell did not expand it (it was quoted) and client-go "
              "does not, so kubectl skips it as a missing file",
          otherUser ? "write that user's home directory in full instead of ~USER"
                    : "write $HOME instead of ~: export KUBECONFIG=" +
                          core::join(expanded, std::string(1, core::kPathListSeparator)));
      check.details = {{"entry", entry}};
      checks.push_back(std::move(check));
    }
    // On Windows ';' is the separator itself.
    if (core::kPathListSeparator == ':' && entry.find(';') != std::string::npos) {
      Check check = core::make_check(
          "config.kubeconfig-env", Layer::config, CheckStatus::warn,
          "KUBECONFIG holds ';', the Windows separator: on Linux and macOS client-go splits on "
          "':' only, so " +
              core::quote(entry) + " is one path",
          "separate the files with ':'");
      check.details = {{"entry", entry}};
      checks.push_back(std::move(check));
    }
  }
  return checks;
}

core::Result<LoadedConfig> load_config(const core::LoadingRules& rules,
                                       const core::ConfigOverrides& overrides,
                                       const HostView& host) {
  std::vector<Check> warnings = kubeconfig_env_checks(rules, host);
  for (const auto& file : rules.precedence()) {
    if (std::optional<Check> failure = unusable_file(rules, file.string(), host)) {
      LoadedConfig out;
      out.checks = std::move(warnings);
      out.checks.push_back(std::move(*failure));
      return out;  // kubectl stops here too: nothing to dial
    }
  }
  core::ConfigOverrides withDefault = overrides;
  if (withDefault.clusterDefaultServer.empty()) {
    withDefault.clusterDefaultServer = core::kubectl_default_server(host.env);
  }
  core::Result<core::ClientConfig> client =
      core::load_client_config(rules, withDefault, host.inCluster);
  LoadedConfig out;
  if (client) {
    out.client = std::move(client).value();
    if (std::optional<Check> sudo = sudo_kubeconfig(rules, host)) {
      out.checks.push_back(std::move(*sudo));
    }
  } else if (client.error().message == core::kNoConfigurationError) {
    core::Result<LoadedConfig> fallback = no_configuration(rules, withDefault, host);
    if (!fallback) {
      return fallback.error();
    }
    out = std::move(fallback).value();
  } else if (client.error().message.find("exec plugin: invalid apiVersion \"" +
                                         std::string(kExecV1alpha1)) != std::string::npos) {
    core::Result<LoadedConfig> refused = refused_exec_version(rules, withDefault);
    if (!refused) {
      return client.error();
    }
    out = std::move(refused).value();
  } else {
    return client.error();
  }
  if (out.client) {
    add_problems(out);
  }
  out.checks.insert(out.checks.begin(), warnings.begin(), warnings.end());
  return out;
}

std::string local_cluster_hint(const std::string& contextName, const std::string& server) {
  const auto named = [&contextName](std::string_view prefix) {
    return contextName.starts_with(prefix) ? contextName.substr(prefix.size()) : std::string();
  };
  if (contextName == "minikube" || server.find("192.168.49.2:8443") != std::string::npos) {
    return "this is minikube's cluster and it looks stopped: minikube start (minikube status "
           "shows its state)";
  }
  if (const std::string name = named("kind-"); !name.empty()) {
    return "this is kind cluster " + core::quote(name) +
           " and its node container looks stopped: docker start " + name +
           "-control-plane (kind get clusters lists the clusters; a deleted one needs kind "
           "create cluster --name " +
           name + ")";
  }
  if (const std::string name = named("k3d-"); !name.empty()) {
    return "this is k3d cluster " + core::quote(name) +
           " and it looks stopped: k3d cluster start " + name +
           " (k3d cluster list shows its state)";
  }
  if (contextName == "docker-desktop") {
    return "this is Docker Desktop's cluster: start Docker Desktop and check that Kubernetes is "
           "enabled (Settings > Kubernetes)";
  }
  if (contextName == "rancher-desktop") {
    return "this is Rancher Desktop's cluster: start Rancher Desktop (rdctl start) and check "
           "that Kubernetes is enabled";
  }
  if (contextName == "colima" || contextName.starts_with("colima-")) {
    return "this is colima's cluster and it looks stopped: colima start --kubernetes" +
           (contextName == "colima" ? std::string() : " --profile " + named("colima-")) +
           " (colima status shows its state)";
  }
  if (contextName == "orbstack") {
    return "this is OrbStack's cluster: start OrbStack and check that Kubernetes is enabled "
           "(orb start k8s)";
  }
  if (contextName == "microk8s" || server.ends_with(":16443")) {
    return "this is MicroK8s and it looks stopped: microk8s start (microk8s status --wait-ready "
           "shows its state)";
  }
  return {};
}

}  // namespace kp::apicheck
