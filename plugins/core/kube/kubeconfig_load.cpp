// Which kubeconfig files to read (LoadingRules), reading and merging them, and
// load_client_config: the kubeconfig, or the in-cluster configuration when it selects nothing.
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <system_error>
#include <vector>

#include "core/kube/kubeconfig.h"
#include "core/util/files.h"
#include "core/util/host.h"
#include "core/util/text.h"

namespace kp::core {
namespace fs = std::filesystem;

namespace {

#ifdef _WIN32
std::string home_directory() {
  const auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value != nullptr ? value : "");
  };
  const std::string drive = env("HOMEDRIVE");
  const std::string path = env("HOMEPATH");
  return windows_home_directory(env("HOME"), !drive.empty() && !path.empty() ? drive + path : "",
                                env("USERPROFILE"));
}
#else
std::string home_directory() {
  const char* home = std::getenv("HOME");
  return home != nullptr ? home : "";
}
#endif

}  // namespace

std::string windows_home_directory(const std::string& home, const std::string& homeDrivePath,
                                   const std::string& userProfile) {
  // Go's os.Stat: a path stat() refuses is one that is not there.
  const auto look = [](const std::string& path) {
    std::optional<FileMode> mode = file_mode(path);
    return mode && !mode->denied ? mode : std::nullopt;
  };
  for (const std::string& dir : {home, homeDrivePath, userProfile}) {
    if (!dir.empty() &&
        look(dir + kPathSeparator + ".kube" + kPathSeparator + "config").has_value()) {
      return dir;
    }
  }
  std::string firstSet;
  std::string firstExisting;
  for (const std::string& dir : {home, userProfile, homeDrivePath}) {
    if (dir.empty()) {
      continue;
    }
    if (firstSet.empty()) {
      firstSet = dir;
    }
    const std::optional<FileMode> mode = look(dir);
    if (!mode) {
      continue;
    }
    if (firstExisting.empty()) {
      firstExisting = dir;
    }
    // Go: info.Mode().Perm()&0200, on Windows a directory without the read-only attribute.
    if (mode->directory && (mode->mode & 0200u) != 0) {
      return dir;
    }
  }
  return !firstExisting.empty() ? firstExisting : firstSet;
}

LoadingRules LoadingRules::from_environment(std::string explicitPath) {
  LoadingRules rules;
  rules.explicitPath = std::move(explicitPath);
  const char* env = std::getenv("KUBECONFIG");
  rules.kubeconfigEnv = env != nullptr ? env : "";
  rules.home = home_directory();
  return rules;
}

std::vector<fs::path> LoadingRules::precedence() const {
  if (!explicitPath.empty()) {
    return {fs::path(explicitPath)};
  }
  if (!kubeconfigEnv.empty()) {
    std::vector<fs::path> files;
    std::set<std::string> seen;
    for (const auto& entry : split_path_list(kubeconfigEnv)) {
      if (!entry.empty() && seen.insert(entry).second) {
        files.emplace_back(entry);
      }
    }
    return files;
  }
  if (home.empty()) {
    return {};
  }
  return {fs::path(home) / ".kube" / "config"};
}

Kubeconfig merge_kubeconfigs(std::vector<Kubeconfig> configs) {
  Kubeconfig merged;
  for (Kubeconfig& config : configs) {
    if (merged.currentContext.empty()) {
      merged.currentContext = config.currentContext;
      merged.currentContextOrigin = config.currentContextOrigin;
    }
    // std::map::merge leaves a key already present in the target alone: first writer wins.
    merged.clusters.merge(config.clusters);
    merged.users.merge(config.users);
    merged.contexts.merge(config.contexts);
    merged.sourceFiles.insert(merged.sourceFiles.end(), config.sourceFiles.begin(),
                              config.sourceFiles.end());
    merged.warnings.insert(merged.warnings.end(), config.warnings.begin(), config.warnings.end());
  }
  return merged;
}

namespace {

// stat()'s errno, 0 when it succeeds. client-go's loader skips only os.IsNotExist (ENOENT); any
// other failure ("not a directory": a KUBECONFIG entry with a slash after a file name) is its
// "error loading config file", here too.
int stat_error(const fs::path& file) {
  struct stat st {};
  return ::stat(file.string().c_str(), &st) == 0 ? 0 : errno;  // a wide path on Windows
}

}  // namespace

Result<Kubeconfig> load_kubeconfig(const LoadingRules& rules) {
  std::vector<Kubeconfig> configs;
  std::vector<std::string> missing;
  for (const fs::path& file : rules.precedence()) {
    const int error = stat_error(file);
    if (error != 0 && error != ENOENT) {
      return Error{"error loading config file " + quote(file.string()) + ": open " + file.string() +
                   ": " + describe_errno(error)};
    }
    if (error == ENOENT) {
      if (!rules.explicitPath.empty()) {
        return Error{"--kubeconfig: stat " + file.string() + ": no such file or directory"};
      }
      missing.push_back(file.string());
      continue;
    }
    std::error_code ec;
    fs::path absolute = fs::absolute(file, ec);
    if (ec) {
      absolute = file;
    }
    Result<std::string> contents = read_file(absolute);
    if (!contents) {
      return contents.error();
    }
    Result<Kubeconfig> parsed = parse_kubeconfig(*contents, absolute);
    if (!parsed) {
      return parsed.error();
    }
    parsed->sourceFiles = {absolute.string()};
    configs.push_back(std::move(parsed).value());
  }
  Kubeconfig merged = merge_kubeconfigs(std::move(configs));
  // Like client-go: a missing KUBECONFIG entry is normal, all of them missing deserves a word.
  if (merged.sourceFiles.empty() && !missing.empty() && rules.explicitPath.empty() &&
      !rules.kubeconfigEnv.empty()) {
    merged.warnings.push_back("Config not found: " + join(missing, ", "));
  }
  return merged;
}

Result<ClientConfig> load_client_config(const LoadingRules& rules,
                                        const ConfigOverrides& overrides) {
  return load_client_config(rules, overrides, InClusterEnvironment::system());
}

Result<ClientConfig> load_client_config(const LoadingRules& rules, const ConfigOverrides& o,
                                        const InClusterEnvironment& inCluster) {
  Result<Kubeconfig> config = load_kubeconfig(rules);
  if (!config) {
    return config.error();
  }
  // client-go falls back to in-cluster when the kubeconfig yields only the default config:
  // nothing selected by current-context and no flag that picks a server or an entry.
  const bool selectsNothing = config->currentContext.empty() && o.server.empty() &&
                              o.context.empty() && o.cluster.empty() && o.user.empty();
  if (selectsNothing && in_cluster_possible(inCluster)) {
    Result<ClientConfig> client = in_cluster_config(o, inCluster);
    if (client) {
      client->warnings.insert(client->warnings.begin(), config->warnings.begin(),
                              config->warnings.end());
    }
    return client;
  }
  return resolve_client_config(*config, o);
}

}  // namespace kp::core
