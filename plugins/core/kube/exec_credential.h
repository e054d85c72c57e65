// Exec credential plugins (../shared/K8S-CLIENT-SPEC.md 3.4-3.8): runs the kubeconfig's `exec`
// command the way client-go's plugin/pkg/client/auth/exec does, and reads its ExecCredential
// answer. Unlike client-go it puts a deadline on the plugin, so a hung `aws eks get-token` is a
// finding, not a hang. Nothing here logs or returns the plugin's stdout text: it carries the token.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "core/kube/kubeconfig.h"
#include "core/util/env.h"
#include "core/util/result.h"
#include "core/util/time.h"

namespace kp::core {

// What the plugin returned in `status`.
struct ExecCredential {
  std::string token;
  std::string clientCertPem;
  std::string clientKeyPem;
  std::optional<std::int64_t> expirationUnix;  // status.expirationTimestamp; none = no expiry
  std::string apiVersion;
};

enum class ExecFailure {
  notFound,             // the executable does not exist (PATH lookup or the given path)
  failed,               // it could not be started, or it exited non-zero / was killed
  timeout,              // it outlived the deadline and was killed
  badOutput,            // stdout is not a valid ExecCredential for the configured apiVersion
  interactiveRequired,  // interactiveMode Always, but stdin is not a terminal
};

struct ExecError {
  ExecFailure kind = ExecFailure::failed;
  std::string message;      // client-go's words, e.g. "exec: executable aws not found"
  std::string installHint;  // the kubeconfig's installHint (escape codes neutralised), or ""
  int exitCode = 0;         // for `failed`: the exit code, -1 when killed by a signal
  std::string stderrTail;   // the last few KiB the plugin wrote to stderr
  // badOutput because the plugin answered another apiVersion than configured: that version.
  std::string returnedApiVersion;
};

// client-go's full text for an error: for notFound the message, its "It looks like you are
// trying to use a client-go credential plugin that is not installed." paragraph and the
// installHint on its own paragraph; otherwise just the message.
std::string describe(const ExecError& error);

// The outside world the plugin runs in; tests replace all of it.
struct ExecEnvironment {
  bool stdinIsTerminal = false;
  // Looks up variables for PATH resolution; null: the process environment. The child's
  // environment is always this process's environment plus exec.env (as client-go does).
  EnvLookup getenv;
  std::ostream* pluginStderr =
      nullptr;  // the plugin's stderr goes here (the user's); null: dropped

  // stdin from isatty(0), getenv from the process, stderr to std::cerr.
  static ExecEnvironment system();
};

// The largest stdout accepted from a plugin; a credential is a few KiB.
inline constexpr std::size_t kMaxExecOutputBytes = 1024 * 1024;

// Runs the plugin: the command is looked up on PATH unless it contains a '/'; the environment
// is the parent's plus exec.env plus KUBERNETES_EXEC_INFO (exec_info_json()). stdin: Never ->
// /dev/null; IfAvailable -> inherited only when it is a terminal; Always -> an
// interactiveRequired error unless it is a terminal. At `timeout` the plugin (and, when it is
// not interactive, its whole process group) is killed and reaped. stdout is bounded by
// kMaxExecOutputBytes. `cluster` supplies spec.cluster when exec.provideClusterInfo is set.
Result<ExecCredential, ExecError> run_exec_plugin(const ExecConfig& exec,
                                                  const ClientConfig& cluster,
                                                  const ExecEnvironment& env,
                                                  std::chrono::milliseconds timeout);

// Checks a plugin's stdout against the configured apiVersion (../shared/K8S-CLIENT-SPEC.md 3.6):
// kind ExecCredential, the same apiVersion, a status with a token or a certificate and key pair,
// and an RFC 3339 expirationTimestamp. Errors never quote the input (it may hold a token).
Result<ExecCredential, ExecError> parse_exec_credential(std::string_view json,
                                                        std::string_view expectedApiVersion);

// The KUBERNETES_EXEC_INFO value: {"kind":"ExecCredential","apiVersion":...,"spec":{...}} with
// spec.cluster only when exec.provideClusterInfo (server, tls-server-name,
// insecure-skip-tls-verify, certificate-authority-data in base64, proxy-url,
// disable-compression, config). Holds no user credential, so it may appear in -v logs.
std::string exec_info_json(const ExecConfig& exec, const ClientConfig& cluster, bool interactive);

}  // namespace kp::core
