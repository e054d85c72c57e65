// An authenticated Kubernetes API client for the plugins that act on the cluster (certs
// secrets/node, netdebug, completion): the credential of the resolved kubeconfig (token, basic,
// client certificate, exec plugin, impersonation) on every request, JSON in and out, and watches
// streamed event by event. Requests go through core::HttpClient, so TLS is verified before any
// credential is sent, and tests swap the transport for a fake.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/kube/exec_credential.h"
#include "core/kube/kubeconfig.h"
#include "core/net/http.h"
#include "core/util/result.h"

namespace kp::core {

// Runs an exec credential plugin (run_exec_plugin with the process's terminal and environment in
// production; a fake in tests).
using ExecRunner = std::function<Result<ExecCredential, ExecError>(
    const ExecConfig&, const ClientConfig&, std::chrono::milliseconds)>;

// run_exec_plugin with stdin's terminal state, the process environment, the plugin's stderr
// to ours.
ExecRunner system_exec_runner();

// What authenticates and impersonates a request.
struct Credentials {
  HttpHeaders headers;  // Authorization and Impersonate-*
  std::string clientCertPem;
  std::string clientKeyPem;
  std::optional<ExecCredential> exec;  // set when an exec plugin supplied the credential
};

// The credential in effect for `config` (client-go's precedence, see ClientConfig::authMethod):
// the exec plugin runs (once) only when no token, client certificate or basic auth is configured.
Result<Credentials, ExecError> resolve_credentials(const ClientConfig& config,
                                                   const ExecRunner& exec,
                                                   std::chrono::milliseconds timeout);

// A request to `path` on the configured server: URL, CA, TLS name, proxy and the credential.
HttpRequest api_request(const ClientConfig& config, const Credentials& credentials,
                        std::string method, std::string_view path,
                        std::chrono::milliseconds timeout);

// A failed API call: a transport failure (status 0) or an HTTP error with the Status message.
struct ApiError {
  long status = 0;  // HTTP status; 0: the request did not get an answer
  TransportError transport = TransportError::other;
  std::string reason;   // Status reason ("NotFound", "Forbidden", "AlreadyExists"), or ""
  std::string message;  // says what failed, including the method and path
  TransferPhase phase = TransferPhase::unknown;  // how far a transport failure got
};

// The JSON answer of a successful (2xx) call.
using ApiResult = Result<nlohmann::json, ApiError>;

class ApiClient {
 public:
  using HttpFactory = std::function<std::unique_ptr<HttpClient>()>;

  ApiClient(ClientConfig config, Credentials credentials, HttpFactory http,
            std::chrono::milliseconds timeout);

  // A client for another thread: same server and credential, its own connection, the same
  // request counter and (unless `shareCancel` is false: for cleanup after a signal) the same
  // cancel function.
  ApiClient clone(bool shareCancel = true) const;

  ApiResult get(std::string_view path) const;
  ApiResult post(std::string_view path, const nlohmann::json& body) const;
  ApiResult del(std::string_view path, const nlohmann::json& body = nullptr) const;

  // Lists a collection page by page, as kubectl's --chunk-size does: GET `path` (a query in it
  // is kept, after limit=) with limit=`limit` and each page's continue token, calling `onPage`
  // with each page's JSON until a page has no token or `onPage` returns false. The result is
  // the number of pages read. A page refused as too large for the body cap is asked for again
  // with a tenth of the limit (down to 1). A token seen before ends the listing with an error
  // (status 200): a server or proxy that ignores `continue` would be paged for ever. The page is
  // `onPage`'s to keep: it may move it away (to check it on another thread while the next one
  // downloads).
  Result<std::size_t, ApiError> list_pages(
      std::string_view path, std::size_t limit,
      const std::function<bool(nlohmann::json&)>& onPage) const;

  // GET `path` with watch=1: calls `onEvent` with each event ({"type": ..., "object": ...})
  // until it returns false (result true), the server ends the watch or `deadline` passes
  // (result false). `cancelled` is polled while waiting. An ERROR event is passed on like any
  // other.
  Result<bool, ApiError> watch(std::string_view path,
                               const std::function<bool(const nlohmann::json&)>& onEvent,
                               std::chrono::milliseconds deadline,
                               const std::function<bool()>& cancelled = {}) const;

  // Requests sent by this client and every clone of it.
  std::size_t requests() const { return counter_->load(); }

  const ClientConfig& config() const { return config_; }
  const Credentials& credentials() const { return credentials_; }
  // Counts a request made outside call() (a pod exec's WebSocket).
  void count_request() const { ++*counter_; }
  // The cancel function set with set_cancel(), or an empty one.
  const std::function<bool()>& cancel() const { return *cancel_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  // Lowers this client's request timeout to `most` (a cleanup with a deadline of its own).
  void limit_timeout(std::chrono::milliseconds most) { timeout_ = std::min(timeout_, most); }

  // Cancels the requests of this client and its clones from now on (a signal arrived).
  void set_cancel(std::function<bool()> cancelled) { *cancel_ = std::move(cancelled); }

 private:
  ApiResult call(std::string method, std::string_view path, const nlohmann::json& body) const;

  ClientConfig config_;
  Credentials credentials_;
  HttpFactory factory_;
  std::shared_ptr<HttpClient> http_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<std::atomic<std::size_t>> counter_;
  std::shared_ptr<std::function<bool()>> cancel_;
};

// Loads the kubeconfig for `rules` and `overrides`, resolves the credential (running an exec
// plugin if configured) and returns a client over libcurl logging at `verbosity`.
Result<ApiClient> connect(const LoadingRules& rules, const ConfigOverrides& overrides,
                          std::chrono::milliseconds timeout, int verbosity = 0);

// "a%2Fb" for a query value or path segment.
std::string url_escape(std::string_view text);

}  // namespace kp::core
