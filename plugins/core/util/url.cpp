#include "core/util/url.h"

#include <algorithm>
#include <cctype>

#include "core/util/text.h"

namespace kp::core {
namespace {

std::string_view strip_query_and_fragment(std::string_view url) {
  return url.substr(0, url.find_first_of("?#"));
}

}  // namespace

UrlParts split_url(std::string_view url) {
  UrlParts parts;
  url = strip_query_and_fragment(url);
  const auto schemeEnd = url.find("://");
  parts.scheme =
      schemeEnd == std::string_view::npos ? "https" : ascii_lower(url.substr(0, schemeEnd));
  std::string_view rest = schemeEnd == std::string_view::npos ? url : url.substr(schemeEnd + 3);
  const auto pathStart = rest.find('/');
  std::string_view authority = rest.substr(0, pathStart);
  if (pathStart != std::string_view::npos) {
    parts.path = std::string(rest.substr(pathStart));
  }
  // userinfo@ never belongs in a server address, but it must not be mistaken for the host.
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view portText;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    parts.host =
        std::string(authority.substr(1, close == std::string_view::npos ? close : close - 1));
    if (close != std::string_view::npos && close + 1 < authority.size() &&
        authority[close + 1] == ':') {
      portText = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    parts.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      portText = authority.substr(colon + 1);
    }
  }
  parts.port = !portText.empty() ? std::string(portText) : parts.scheme == "http" ? "80" : "443";
  return parts;
}

std::string normalize_server_url(std::string_view server) {
  server = strip_query_and_fragment(server);
  if (server.empty() || server.find("://") != std::string_view::npos) {
    return std::string(server);
  }
  return "https://" + std::string(server);
}

std::string client_go_host(std::string_view server) {
  const auto schemeEnd = server.find("://");
  if (schemeEnd == std::string_view::npos) {
    return std::string(server);
  }
  // ParseRequestURI splits off the query only; the path runs from the first '/' after the
  // authority to the '?'.
  const std::string_view beforeQuery = server.substr(0, server.find('?'));
  const auto pathStart = beforeQuery.find('/', schemeEnd + 3);
  if (pathStart == std::string_view::npos || beforeQuery.size() - pathStart <= 1) {
    return std::string(server);
  }
  std::string host(beforeQuery.substr(0, pathStart));
  for (char c : beforeQuery.substr(pathStart)) {
    host += c == '#' ? std::string("%23") : std::string(1, c);
  }
  return host;
}

std::string bracket_host(std::string_view host) {
  return host.find(':') != std::string_view::npos ? "[" + std::string(host) + "]"
                                                  : std::string(host);
}

std::string host_port(std::string_view host, std::string_view port) {
  return bracket_host(host) + ":" + std::string(port);
}

std::string host_port(std::string_view host, int port) {
  return host_port(host, std::to_string(port));
}

std::string endpoint_of(std::string_view url) {
  const UrlParts parts = split_url(url);
  return host_port(parts.host, parts.port);
}

std::string join_url(std::string_view server, std::string_view path) {
  while (server.ends_with('/')) {
    server.remove_suffix(1);
  }
  return std::string(server) + std::string(path);
}

}  // namespace kp::core
