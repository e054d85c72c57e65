// Which proxy a request goes through (client-go's rules, K8S-CLIENT-SPEC section 4) and a
// probe that checks the proxy answers and tunnels, so "the proxy" can be named as the broken
// layer instead of a vague timeout.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/net/net.h"
#include "core/util/env.h"
#include "core/util/result.h"

namespace kp::core {

struct ProxyChoice {
  bool used = false;
  std::string url;     // the proxy URL, credentials masked as "user:***@" for display
  std::string rawUrl;  // unmasked, for actually connecting (never printed)
  std::string source;  // "proxy-url", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", ""
  // Why not used: "no proxy configured", "NO_PROXY entry \".lab.test\" matches api.lab.test",
  // "localhost is never proxied", "127.0.0.1 is a loopback address, never proxied", ...
  std::string reason;
};

// Which proxy a request to serverUrl goes through. A kubeconfig proxy-url (non-empty) wins over
// the environment and applies to every host, localhost included (client-go installs it with
// http.ProxyURL). Otherwise golang.org/x/net/http/httpproxy's rules: HTTPS_PROXY/https_proxy
// for https URLs, HTTP_PROXY/http_proxy for http (uppercase first, empty counts as unset;
// REQUEST_METHOD set refuses HTTP_PROXY as in CGI); a value without "scheme://" means http://;
// localhost and loopback IPs are never proxied; NO_PROXY/no_proxy entries: "*", "foo.com"
// (itself and subdomains), ".foo.com" and "*.foo.com" (subdomains only), IP, CIDR (IP hosts),
// each with an optional ":port".
ProxyChoice choose_proxy(std::string_view serverUrl, std::string_view kubeconfigProxyUrl,
                         const EnvLookup& env);

// choose_proxy()'s URL to connect through (unmasked), or "" when no proxy applies: what an
// HttpRequest's proxyUrl takes.
std::string chosen_proxy(std::string_view serverUrl, std::string_view kubeconfigProxyUrl,
                         const EnvLookup& env);

// Validates a kubeconfig proxy-url like client-go's parseProxyURL: schemes http, https, socks5
// only, else `unsupported scheme "x", must be http, https, or socks5`
// (../shared/K8S-CLIENT-SPEC.md 1.15); an unparsable URL is `could not parse: <url>`.
Status validate_proxy_url(std::string_view url);

// The proxy URL with the password replaced by "***" ("http://user:***@proxy:3128").
std::string mask_proxy_url(std::string_view url);

struct ProxyProbe {
  double connectMs = 0;
  int connectStatus = 0;   // HTTP status of the CONNECT answer (200 = tunnel up); 0 if none
  std::string statusLine;  // e.g. "HTTP/1.1 403 Forbidden", or "SOCKS5 reply 5 (...)"
  double tunnelMs = 0;
};

enum class ProxyFailure { resolve, connect, timeout, rejected, malformed, unsupported };

struct ProxyError {
  ProxyFailure kind = ProxyFailure::connect;
  std::string message;
  ProxyProbe probe;  // how far it got
};

struct ProxyTunnel {
  ProxyProbe probe;
  UniqueFd fd;  // the open tunnel: the next byte written reaches targetHost:targetPort
};

// Tests that the proxy answers and tunnels, all within one deadline: resolve and TCP-connect to
// the proxy (through `net`), then
// - http://: "CONNECT host:port HTTP/1.1" with Host (and Proxy-Authorization: Basic when the URL
//   has user:password), status line and headers read with the deadline; only 200 succeeds, as
//   in Go's Transport;
// - socks5://: RFC 1928 CONNECT with the domain name (username/password of RFC 1929 when the
//   URL has them);
// - https://: TLS to the proxy is not implemented: the TCP connect is reported and the tunnel
//   test is `unsupported`.
// On success the open tunnel is returned, so a caller can continue with TLS over it.
Result<ProxyTunnel, ProxyError> probe_proxy(Network& net, std::string_view proxyRawUrl,
                                            std::string_view targetHost, int targetPort,
                                            std::chrono::milliseconds timeout);

}  // namespace kp::core
