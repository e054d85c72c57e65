// Just enough URL handling for API-server addresses; not a general URL parser.
#pragma once

#include <string>
#include <string_view>

namespace kp::core {

// The parts of an http(s) URL the tools need; `port` is filled from the scheme when absent.
struct UrlParts {
  std::string scheme;  // lower-case, e.g. "https"
  std::string host;    // without IPv6 brackets
  std::string port;    // e.g. "6443", or "443" by default for https
  std::string path;    // "" or starting with '/'
};

// Splits `url`; a missing scheme means https, as kubectl does for `--server=host:6443`.
UrlParts split_url(std::string_view url);

// Drops the query and fragment and adds "https://" when there is no scheme
// (../shared/K8S-CLIENT-SPEC.md 1.14).
std::string normalize_server_url(std::string_view server);

// client-go's rest.Config.Host for a server URL with a scheme: the URL as written, except that
// when it has a path longer than "/" the query and fragment are cut (client_config.go, as
// url.ParseRequestURI sees it: a '#' before any '?' is part of that path, written %23). What an
// exec plugin is told in spec.cluster.server (../shared/K8S-CLIENT-SPEC.md 1.14).
std::string client_go_host(std::string_view server);

// The host as it stands in a URL or before ":port": bracketed when it holds a ':' (IPv6).
std::string bracket_host(std::string_view host);

// Go's net.JoinHostPort: "host:port", "[::1]:6443" for IPv6.
std::string host_port(std::string_view host, std::string_view port);
std::string host_port(std::string_view host, int port);

// host:port for reports ("[::1]:6443" for IPv6).
std::string endpoint_of(std::string_view url);

// Appends `path` (starting with '/') to a server URL that may carry a path prefix.
std::string join_url(std::string_view server, std::string_view path);

}  // namespace kp::core
