// HTTP over libcurl, behind a small interface so plugin logic can be tested with a fake.
// Transport failures are values (curl code + message), never exceptions: a refused connection
// is evidence for the report.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/util/result.h"

namespace kp::core {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// API responses are small; a bigger body is a misconfigured endpoint, not data to buffer.
inline constexpr std::size_t kMaxBodyBytes = 16 * 1024 * 1024;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;
  std::string body;
  std::string caPem;  // empty: the system trust store
  std::string clientCertPem;
  std::string clientKeyPem;
  bool insecure = false;
  // SNI and the name the certificate must carry, when not the URL's host (kubeconfig
  // tls-server-name). The connection still goes to the URL's host; Host stays the URL's.
  std::string tlsServerName;
  // "ip:port" to dial instead of the URL's host:port, keeping the URL's name for SNI and
  // verification: how one backend of a load-balanced API server is checked directly.
  std::string connectTo;
  // The proxy, as the caller chose it (choose_proxy(): proxy-url, else HTTPS_PROXY/NO_PROXY by
  // Go's rules); empty: none. libcurl's own reading of https_proxy/no_proxy is never used: its
  // rules are not client-go's (lowercase first, no CIDR entries, loopback proxied).
  std::string proxyUrl;
  std::chrono::milliseconds timeout{5000};
  std::size_t maxBodyBytes = kMaxBodyBytes;
  // HTTP/1.1 only, instead of HTTP/2 when the server offers it. For anonymous requests:
  // kube-apiserver closes an unauthenticated client's HTTP/2 connection after each request
  // (GOAWAY; the UnauthenticatedHTTP2DOSMitigation of k8s.io/apiserver's authentication
  // filter), while HTTP/1.1 keep-alive lets several share one connection and one handshake.
  bool http1 = false;
  // Streaming (a watch): when set, body bytes go here as they arrive instead of into
  // HttpResponse::body (maxBodyBytes does not apply); returning false ends the transfer, which
  // then counts as a success.
  std::function<bool(std::string_view)> onBody;
  // Polled about every 100 ms while the transfer runs; true aborts it (TransportError::cancelled).
  std::function<bool()> cancelled;
};

// Per-phase durations (a waterfall), not cumulative offsets; a phase that did not happen is 0.
struct HttpTimings {
  double dnsMs = 0;
  double connectMs = 0;
  double tlsMs = 0;
  double firstByteMs = 0;  // request sent -> first response byte
  double totalMs = 0;
};

struct HttpResponse {
  long status = 0;
  std::string httpVersion;    // "HTTP/2", "HTTP/1.1"
  bool newConnection = true;  // false when the transfer reused an open connection
  HttpHeaders headers;        // of the final response, names as the server sent them
  std::string body;
  HttpTimings timings;

  // The first header named `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

// What kind of transport failure, so callers can name the broken layer without curl.h.
enum class TransportError {
  badUrl,        // malformed URL or unsupported scheme
  proxy,         // the proxy could not be resolved or reached
  dns,           // the host name did not resolve
  connect,       // the TCP connection was refused or unreachable
  timeout,       // the deadline passed; see the timings for how far it got
  tlsVerify,     // the peer's certificate did not verify (chain or name)
  tlsCa,         // our CA bundle could not be loaded
  tlsHandshake,  // any other TLS failure (not TLS on the port, client cert rejected, ...)
  tooLarge,      // the body exceeded HttpRequest::maxBodyBytes
  cancelled,     // HttpRequest::cancelled said so
  other,         // reset, empty reply, ...
};

// Maps a CURLcode to its kind.
TransportError classify_curl_code(int curlCode);

// How far a failed transfer got, so a caller can name the layer that broke: libcurl says
// "Connection timed out" for a server that accepted TCP and then never finished TLS.
enum class TransferPhase {
  unknown,   // not measured (a fake client)
  dns,       // resolving the host name
  connect,   // the TCP connection
  tls,       // TCP connected, the TLS handshake did not finish
  response,  // the request could go out; the answer broke, was refused or did not come
};

// The response headers a client keeps (a hostile server can send header lines forever).
inline constexpr std::size_t kMaxHeaderBytes = 256 * 1024;

// A transport failure: libcurl's code (CURLcode) and a message with curl's details.
struct HttpError {
  TransportError kind = TransportError::other;
  int curlCode = 0;
  std::string message;
  HttpTimings timings;  // how far it got before failing
  TransferPhase phase = TransferPhase::unknown;
};

using HttpResult = Result<HttpResponse, HttpError>;

// The seam for tests: plugins depend on this, main() hands them a CurlHttpClient.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends one request; never throws for network or TLS failures.
  virtual HttpResult send(const HttpRequest& request) = 0;

  // Sends requests side by side (multiplexed on one HTTP/2 connection where the client can);
  // the results are in the order of the requests. By default, one after the other.
  virtual std::vector<HttpResult> send_batch(const std::vector<HttpRequest>& requests) {
    std::vector<HttpResult> results;
    for (const HttpRequest& request : requests) {
      results.push_back(send(request));
    }
    return results;
  }
};

// Where request logs go (kubectl -v levels: 6 the response line, 7 + request headers, 8 +
// response headers and bodies cut at 1024 bytes, 9 + a curl command and timings, bodies cut at
// 10240, 10 whole bodies). Authorization values are always masked.
struct HttpLog {
  int verbosity = 0;
  std::function<void(const std::string&)> sink;
};

// The real client. It keeps one easy handle, so consecutive requests to the same endpoint
// share one connection (and one TLS session, HTTP/2 when offered); not for concurrent use:
// give each thread its own client.
class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(HttpLog log = {});
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;
  HttpResult send(const HttpRequest& request) override;
  std::vector<HttpResult> send_batch(const std::vector<HttpRequest>& requests) override;

 private:
  // Runs the transfers concurrently on the multi handle (one connection, HTTP/2 streams).
  std::vector<HttpResult> perform_together(const std::vector<HttpRequest>& requests);
  struct Handle;
  std::unique_ptr<Handle> handle_;
  HttpLog log_;
};

// "Bearer <masked>" for a credential-bearing header value, the value itself otherwise.
std::string mask_header_value(std::string_view name, std::string_view value);

}  // namespace kp::core
