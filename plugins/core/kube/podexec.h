// Runs a command in a pod's container through the API server's exec subresource over
// WebSocket (the v5.channel.k8s.io subprotocol kubectl uses since 1.30, falling back to
// v4.channel.k8s.io): stdin sent and closed, stdout and stderr collected, the exit code read
// from the status channel. Same TLS and credential rules as ApiClient; no kubectl needed.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/kube/apiclient.h"
#include "core/util/result.h"

namespace kp::core {

struct PodExecRequest {
  std::string namespaceName;
  std::string pod;
  std::string container;             // "" when the pod has one container
  std::vector<std::string> command;  // argv; no shell unless the command is one
  std::string stdinData;             // written to stdin, which is then closed; "" = no stdin
  std::chrono::milliseconds timeout{30000};  // the whole exec, connect to exit
  std::function<bool()> cancelled;           // polled; true ends the exec (ApiError, cancelled)
  std::size_t maxOutputBytes = 16 * 1024 * 1024;  // stdout and stderr each
};

struct PodExecResult {
  std::string out;
  std::string err;
  // From the status channel: 0 on Success; N for a Failure with reason NonZeroExitCode (cause
  // ExitCode "N"); -1 for any other Failure (the command could not be started, ...), which
  // statusMessage explains. A server that closes normally without a status means 0, as in
  // client-go.
  int exitCode = 0;
  std::string statusMessage;  // the Status message for a non-zero exit or an exec failure
};

// Errors: transport (status 0, TransportError kind), an HTTP answer instead of the upgrade
// (status, reason and Status message: 403 Forbidden, 404 pod not found, 400 container not
// found), timeout (request.timeout covers DNS, connect, TLS, upgrade and reading), cancelled
// (request.cancelled or client.cancel(), polled every 100 ms), tooLarge (output over the
// limit), badUrl (no namespace, pod or command; not an http(s) server).
// TLS as ApiClient: the kubeconfig CA (or the system store) unless insecure, SNI and the
// certificate checked against tls-server-name or the URL's host (IP SANs for an IP); the
// credential headers are sent only after the handshake verified. A proxy (proxy-url, then
// HTTPS_PROXY/NO_PROXY) is used through an http:// CONNECT or socks5:// tunnel (opened within
// the deadline but not polled for cancellation); an https:// proxy is an error (proxy).
// When the server picks v4.channel.k8s.io, stdin cannot be closed: a command reading stdin to
// its end then runs into the timeout. Counts one request on `client`; never throws.
Result<PodExecResult, ApiError> exec_in_pod(const ApiClient& client, const PodExecRequest& request);

// The seam for code that execs in pods (debug pods): production passes exec_in_pod.
using PodExecutor =
    std::function<Result<PodExecResult, ApiError>(const ApiClient&, const PodExecRequest&)>;

}  // namespace kp::core
