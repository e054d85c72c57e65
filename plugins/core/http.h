// HTTP over libcurl, behind a small interface so plugin logic can be tested with a fake.
// Transport failures are values (curl code + message), never exceptions: a refused connection
// is evidence for the report.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

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
  // TODO: SNI/verification name override. libcurl has no direct option for it; it needs
  // either CURLOPT_CONNECT_TO with a matching URL host or an OpenSSL verify callback.
  std::string tlsServerName;
  std::string proxyUrl;  // empty: libcurl's environment handling (https_proxy, no_proxy)
  std::chrono::milliseconds timeout{5000};
  std::size_t maxBodyBytes = kMaxBodyBytes;
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
  HttpHeaders headers;  // of the final response, names as the server sent them
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
  other,         // reset, empty reply, ...
};

// Maps a CURLcode to its kind.
TransportError classify_curl_code(int curlCode);

// A transport failure: libcurl's code (CURLcode) and a message with curl's details.
struct HttpError {
  TransportError kind = TransportError::other;
  int curlCode = 0;
  std::string message;
  HttpTimings timings;  // how far it got before failing
};

using HttpResult = Result<HttpResponse, HttpError>;

// The seam for tests: plugins depend on this, main() hands them a CurlHttpClient.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends one request; never throws for network or TLS failures.
  virtual HttpResult send(const HttpRequest& request) = 0;
};

// The real client: one easy handle per request, all C resources owned by RAII holders.
class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient();
  HttpResult send(const HttpRequest& request) override;
};

}  // namespace kp::core
