#include "core/kube/exec_credential.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/kube/kube.h"
#include "core/util/base64.h"
#include "core/util/env.h"
#include "core/util/host.h"
#include "core/util/process.h"
#include "core/util/text.h"

namespace kp::core {
namespace {

constexpr std::string_view kInstallHintVerboseHelp =
    "\n\nIt looks like you are trying to use a client-go credential plugin that is not "
    "installed.\n\nTo learn more about this feature, consult the documentation available at:\n"
    "      https://kubernetes.io/docs/reference/access-authn-authz/authentication/"
    "#client-go-credential-plugins";

constexpr std::size_t kStderrTailBytes = 4096;

ExecError make_error(ExecFailure kind, std::string message) {
  ExecError error;
  error.kind = kind;
  error.message = std::move(message);
  return error;
}

ExecError bad_output(std::string message) {
  return make_error(ExecFailure::badOutput, std::move(message));
}

// Go's Duration.String() for whole milliseconds: "500ms", "2s", "1.5s".
std::string format_duration(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms < 1000) {
    return std::to_string(ms) + "ms";
  }
  std::string text = std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    std::string fraction = std::to_string(1000 + ms % 1000).substr(1);
    while (fraction.ends_with('0')) {
      fraction.pop_back();
    }
    text += "." + fraction;
  }
  return text + "s";
}

}  // namespace

namespace {

// An optional string field of `status`; a present non-string is a decoding error.
Result<std::string, ExecError> status_string(const nlohmann::json& status, const char* key) {
  const auto found = status.find(key);
  if (found == status.end() || found->is_null()) {
    return std::string();
  }
  if (!found->is_string()) {
    return bad_output(std::string("decoding stdout: status.") + key + ": expected a string");
  }
  return found->get<std::string>();
}

}  // namespace

std::string describe(const ExecError& error) {
  std::string text = error.message;
  if (error.kind == ExecFailure::notFound) {
    text += kInstallHintVerboseHelp;
    if (!error.installHint.empty()) {
      text += "\n\n" + error.installHint;
    }
  }
  return text;
}

ExecEnvironment ExecEnvironment::system() {
  ExecEnvironment env;
  env.stdinIsTerminal = is_terminal(0);
  env.getenv = process_env();
  env.pluginStderr = &std::cerr;
  return env;
}

std::string exec_info_json(const ExecConfig& exec, const ClientConfig& cluster, bool interactive) {
  // ordered_json keeps client-go's field order, which makes -v logs compare line for line.
  nlohmann::ordered_json spec = nlohmann::ordered_json::object();
  if (exec.provideClusterInfo) {
    nlohmann::ordered_json c = nlohmann::ordered_json::object();
    c["server"] = cluster.host.empty() ? cluster.server : cluster.host;
    if (!cluster.tlsServerName.empty()) {
      c["tls-server-name"] = cluster.tlsServerName;
    }
    if (cluster.insecure) {
      c["insecure-skip-tls-verify"] = true;
    }
    if (!cluster.caPem.empty()) {
      c["certificate-authority-data"] = encode_base64(cluster.caPem);
    }
    if (!cluster.proxyUrl.empty()) {
      c["proxy-url"] = cluster.proxyUrl;
    }
    if (cluster.disableCompression) {
      c["disable-compression"] = true;
    }
    // A RawExtension is a struct to encoding/json, so omitempty keeps it: null when unset.
    c["config"] = nlohmann::ordered_json::parse(cluster.execClusterConfig.dump());
    spec["cluster"] = std::move(c);
  }
  spec["interactive"] = interactive;
  nlohmann::ordered_json info = nlohmann::ordered_json::object();
  info["kind"] = "ExecCredential";
  info["apiVersion"] = exec.apiVersion;
  info["spec"] = std::move(spec);
  return info.dump();
}

Result<ExecCredential, ExecError> parse_exec_credential(std::string_view json,
                                                        std::string_view expectedApiVersion) {
  Result<nlohmann::json> parsed = parse_json(json);
  if (!parsed) {
    return bad_output("decoding stdout: " + parsed.error().message);
  }
  const nlohmann::json& doc = *parsed;
  if (!doc.is_object()) {
    return bad_output("decoding stdout: expected a JSON object");
  }
  const auto kind = doc.find("kind");
  if (kind == doc.end() || !kind->is_string() || kind->get<std::string>().empty()) {
    return bad_output("decoding stdout: Object 'Kind' is missing");
  }
  const auto apiVersion = doc.find("apiVersion");
  if (apiVersion == doc.end() || !apiVersion->is_string() ||
      apiVersion->get<std::string>().empty()) {
    return bad_output("decoding stdout: Object 'apiVersion' is missing");
  }
  ExecCredential credential;
  credential.apiVersion = apiVersion->get<std::string>();
  if (credential.apiVersion != expectedApiVersion) {
    ExecError error = bad_output("exec plugin is configured to use API version " +
                                 std::string(expectedApiVersion) + ", plugin returned version " +
                                 credential.apiVersion);
    error.returnedApiVersion = credential.apiVersion;
    return error;
  }
  if (kind->get<std::string>() != "ExecCredential") {
    return bad_output("decoding stdout: no kind " + quote(kind->get<std::string>()) +
                      " is registered for version " + quote(credential.apiVersion));
  }
  const auto status = doc.find("status");
  if (status == doc.end() || status->is_null()) {
    return bad_output("exec plugin didn't return a status field");
  }
  if (!status->is_object()) {
    return bad_output("decoding stdout: status: expected an object");
  }
  std::string expiration;
  const std::pair<const char*, std::string*> fields[] = {
      {"token", &credential.token},
      {"clientCertificateData", &credential.clientCertPem},
      {"clientKeyData", &credential.clientKeyPem},
      {"expirationTimestamp", &expiration}};
  for (const auto& [field, into] : fields) {
    Result<std::string, ExecError> value = status_string(*status, field);
    if (!value) {
      return value.error();
    }
    *into = std::move(value).value();
  }
  if (credential.token.empty() && credential.clientCertPem.empty() &&
      credential.clientKeyPem.empty()) {
    return bad_output("exec plugin didn't return a token or cert/key pair");
  }
  if (credential.clientCertPem.empty() != credential.clientKeyPem.empty()) {
    return bad_output("exec plugin returned only certificate or key, not both");
  }
  // metav1.Time: an empty string is the zero time, which client-go treats as no expiry.
  if (!expiration.empty()) {
    credential.expirationUnix = parse_rfc3339(expiration);
    if (!credential.expirationUnix) {
      return bad_output("decoding stdout: parsing time " + quote(expiration) +
                        " as \"2006-01-02T15:04:05Z07:00\": not RFC 3339");
    }
  }
  return credential;
}

Result<ExecCredential, ExecError> run_exec_plugin(const ExecConfig& exec,
                                                  const ClientConfig& cluster,
                                                  const ExecEnvironment& env,
                                                  std::chrono::milliseconds timeout) {
  // isInteractive() in exec.go (../shared/K8S-CLIENT-SPEC.md 3.4).
  bool interactive = false;
  if (exec.interactiveMode == "Always") {
    if (!env.stdinIsTerminal) {
      ExecError error = make_error(ExecFailure::interactiveRequired,
                                   "exec plugin cannot support interactive mode: standard input "
                                   "is not a terminal");
      error.installHint = exec.installHint;
      return error;
    }
    interactive = true;
  } else if (exec.interactiveMode == "IfAvailable") {
    interactive = env.stdinIsTerminal;
  } else if (exec.interactiveMode != "Never") {
    return make_error(ExecFailure::failed,
                      "exec plugin cannot support interactive mode: unknown "
                      "interactiveMode: " +
                          quote(exec.interactiveMode));
  }

  // exec.Command: a bare name is looked up on PATH, a path is used as given.
  // cmd.Env = os.Environ() + exec.env + KUBERNETES_EXEC_INFO; later entries win, as in Go.
  ProcessSpec spec;
  spec.argv.push_back(exec.command);
  spec.argv.insert(spec.argv.end(), exec.args.begin(), exec.args.end());
  spec.searchPath = env_value(env.getenv, "PATH").value_or("");
  spec.env = exec.env;
  spec.env.emplace_back("KUBERNETES_EXEC_INFO", exec_info_json(exec, cluster, interactive));
  // An interactive plugin reads our terminal: our stdin and our process group.
  spec.inheritStdin = interactive;
  spec.ownProcessGroup = !interactive;
  spec.timeout = timeout;
  spec.stdoutLimit = kMaxExecOutputBytes;
  spec.killOverStdoutLimit = true;
  spec.stderrLimit = kStderrTailBytes;
  spec.stderrKeepsTail = true;
  if (env.pluginStderr != nullptr) {
    spec.onStderr = [&env](std::string_view chunk) {
      env.pluginStderr->write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      env.pluginStderr->flush();
    };
  }
  Result<ProcessResult, SpawnFailure> ran = run_process(spec);
  if (!ran) {
    const SpawnFailure& failure = ran.error();
    ExecError error =
        failure.notFound && failure.errorNumber == 0
            ? make_error(ExecFailure::notFound, "exec: executable " + exec.command + " not found")
            : make_error(failure.notFound ? ExecFailure::notFound : ExecFailure::failed,
                         "exec: fork/exec " + failure.executable + ": " +
                             describe_errno(failure.errorNumber));
    error.installHint = exec.installHint;
    return error;
  }
  const ProcessResult& plugin = *ran;
  const std::string& stdoutText = plugin.out;
  const std::string& stderrText = plugin.err;
  if (plugin.timedOut) {
    ExecError error = make_error(ExecFailure::timeout,
                                 "exec: executable " + exec.command + " did not finish within " +
                                     format_duration(timeout) + " and was killed");
    error.installHint = exec.installHint;
    error.stderrTail = stderrText;
    return error;
  }
  if (plugin.stdoutOverLimit) {
    ExecError error = bad_output("exec: executable " + exec.command + " wrote more than " +
                                 std::to_string(kMaxExecOutputBytes) + " bytes to stdout");
    error.stderrTail = stderrText;
    return error;
  }
  const int exitCode = plugin.exitCode;
  if (exitCode != 0) {
    ExecError error =
        make_error(ExecFailure::failed, "exec: executable " + exec.command +
                                            " failed with exit code " + std::to_string(exitCode));
    error.installHint = exec.installHint;
    error.exitCode = exitCode;
    error.stderrTail = stderrText;
    return error;
  }
  Result<ExecCredential, ExecError> credential = parse_exec_credential(stdoutText, exec.apiVersion);
  if (!credential) {
    ExecError error = std::move(credential).error();
    error.stderrTail = stderrText;
    return error;
  }
  return credential;
}

}  // namespace kp::core
