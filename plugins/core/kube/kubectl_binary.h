// The kubectl on PATH: what it is and which version it runs, learned without running it where
// that can be done. Running `kubectl version` costs a process the size of kubectl (more than a
// whole diagnosis), so a normal run reads the version from the binary's Go build info, follows
// shims and wrappers to the real binary, recognises version dispatchers, and runs kubectl only
// for a binary that says nothing, once: the answer is cached by the binary's identity.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/util/env.h"

namespace kp::core {

struct KubectlBinary {
  std::string path;    // as found: KUBECTL_PATH, else the first kubectl on PATH
  std::string target;  // the binary it leads to (symlinks, snap, shims, exec wrappers followed)
  std::string via;     // what was followed to get there: "", "snap", "asdf shim", "mise shim",
                       // "wrapper script"
  // The gitVersion it runs, from its build info or its shim; "" when only running it can tell.
  std::string gitVersion;
  // A shim that can run one of several installed versions (which one depends on the directory
  // it is run from): those versions, gitVersion being "".
  std::vector<std::string> candidates;
  // A version dispatcher (the Google Cloud SDK's kubectl): it asks the server for its version
  // and runs the kubectl.<major>.<minor> beside it (here: "1.33" -> its path), else itself.
  bool dispatcher = false;
  std::map<std::string, std::string> dispatches;
};

// Where inspect_kubectl looks for what it follows; the defaults are the real places.
struct KubectlLookup {
  EnvLookup env;                  // HOME, MISE_DATA_DIR, XDG_DATA_HOME
  std::string snapDir = "/snap";  // snap's mount root: /snap/kubectl/current/kubectl
};

// What the kubectl at `path` is, without running anything. Reads at most a few pages of
// scripts and the build info section of binaries.
KubectlBinary inspect_kubectl(const std::string& path, const KubectlLookup& lookup);

// The Go build info of a binary (Go >= 1.18): ELF's .go.buildinfo section (Linux) or Mach-O's
// __DATA,__go_buildinfo (macOS); the module and build lines after the Go version, "" when there
// is none.
std::string go_buildinfo(const std::string& path);

// kubectl's gitVersion from its build info: the -X ldflags of a release build when recorded,
// else the version of the k8s.io/kubernetes main module of a `go build`. "" when neither.
std::string kubectl_version_from_buildinfo(const std::string& path);

// "v1.33.2" / "1.33+" -> "1.33"; "" when it is not a version.
std::string major_minor_text(std::string_view gitVersion);

// The user's cache directory: $XDG_CACHE_HOME, else $HOME/.cache ("" when neither is set).
std::string user_cache_dir(const EnvLookup& env);

// The identity a cached answer is keyed by: a changed binary (an upgrade) is run again.
struct FileIdentity {
  std::uint64_t size = 0;
  std::int64_t mtimeNs = 0;
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  bool operator==(const FileIdentity&) const = default;
};
std::optional<FileIdentity> file_identity(const std::string& path);

// `run(binary)`'s answer (a gitVersion, "" for none), cached in `cacheFile` (JSON, at most 16
// binaries) by the binary's path and FileIdentity: `run` is called only when the binary is new
// or changed. A cache that cannot be read or written is no cache; it never fails the caller.
std::string cached_kubectl_version(const std::string& binary, const std::string& cacheFile,
                                   const std::function<std::string(const std::string&)>& run);

// `kubectl version --client -o json`'s clientVersion.gitVersion, bounded to 5 s; "" on failure.
std::string kubectl_version_by_running(const std::string& kubectl);

}  // namespace kp::core
