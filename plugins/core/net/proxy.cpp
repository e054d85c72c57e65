#include "core/net/proxy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "core/net/proxy_detail.h"
#include "core/net/socket.h"
#include "core/util/base64.h"
#include "core/util/text.h"
#include "core/util/url.h"

// The environment rules follow golang.org/x/net/http/httpproxy/proxy.go (what client-go gets
// through net/http.ProxyFromEnvironment, K8S-CLIENT-SPEC 4.1/4.2): ProxyFunc, useProxy,
// config.init and the matchers, read from github.com/golang/net. Two things differ on purpose
// and are noted where they happen: IDNA (non-ASCII host names) is not converted, and IP hosts
// follow the CVE-2025-22870 fix (x/net v0.36.0): domain entries never match an IP host, so an
// IPv6 zone ("[::1%25.example.com]") cannot pose as a domain suffix.

namespace kp::core {

using namespace detail;

namespace {

using Clock = std::chrono::steady_clock;

// Go's os.Getenv-based getEnvAny: the first name with a non-empty value.
std::pair<std::string, std::string> env_any(const EnvLookup& env,
                                            std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (auto value = env(name); value && !value->empty()) {
      return {name, *value};
    }
  }
  return {};
}

// ---- IP addresses the way Go's net.IP compares them: IPv4 as v4-mapped IPv6 ----

bool is_loopback(const Ip16& ip) {
  if (is_v4_mapped(ip)) {
    return ip[12] == 127;
  }
  static constexpr Ip16 kOne = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return ip == kOne;
}

struct Cidr {
  Ip16 network{};
  int bits = 0;  // over the 16-byte form (an IPv4 /8 is /104)
  bool v4 = false;

  // Go's IPNet.Contains: an IPv4 network only holds IPv4 addresses and vice versa.
  bool contains(const Ip16& ip) const {
    if (is_v4_mapped(ip) != v4) {
      return false;
    }
    for (int i = 0; i < 16; ++i) {
      const int left = bits - 8 * i;
      if (left <= 0) {
        break;
      }
      const std::uint8_t mask = left >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - left));
      if ((ip[i] & mask) != (network[i] & mask)) {
        return false;
      }
    }
    return true;
  }
};

// net.ParseCIDR: "addr/bits".
std::optional<Cidr> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  const auto ip = parse_ip(text.substr(0, slash));
  const std::string_view bitsText = text.substr(slash + 1);
  if (!ip || !all_digits(bitsText) || bitsText.size() > 3) {
    return std::nullopt;
  }
  Cidr out;
  out.network = *ip;
  out.v4 = is_v4_mapped(*ip);
  const int bits = std::atoi(std::string(bitsText).c_str());
  if (bits > (out.v4 ? 32 : 128)) {
    return std::nullopt;
  }
  out.bits = out.v4 ? bits + 96 : bits;
  return out;
}

// net.SplitHostPort: "host:port" or "[host]:port"; the port may be empty ("foo:").
std::optional<std::pair<std::string, std::string>> split_host_port(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;  // missing port
  }
  std::string_view host;
  std::size_t afterOpen = 0;
  std::size_t afterClose = 0;
  if (s.starts_with('[')) {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 != colon) {
      return std::nullopt;
    }
    host = s.substr(1, close - 1);
    afterOpen = 1;
    afterClose = close + 1;
  } else {
    host = s.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return std::nullopt;  // too many colons
    }
  }
  if (s.find('[', afterOpen) != std::string_view::npos ||
      s.find(']', afterClose) != std::string_view::npos) {
    return std::nullopt;
  }
  return std::pair{std::string(host), std::string(s.substr(colon + 1))};
}

// ---- NO_PROXY (httpproxy config.init and the matchers) ----

struct NoProxyEntry {
  enum class Kind { all, cidr, ip, domain };
  Kind kind = Kind::domain;
  std::string text;  // as written (trimmed, lower-case), for the report
  Cidr cidr;
  Ip16 ip{};
  std::string domain;  // with a leading '.'
  bool matchHost = false;
  std::string port;  // "" matches any port
};

std::vector<NoProxyEntry> parse_no_proxy(std::string_view noProxy) {
  std::vector<NoProxyEntry> out;
  while (true) {
    const auto comma = noProxy.find(',');
    const std::string p = ascii_lower(trim(noProxy.substr(0, comma)));
    noProxy = comma == std::string_view::npos ? std::string_view() : noProxy.substr(comma + 1);
    if (!p.empty()) {
      NoProxyEntry entry;
      entry.text = p;
      if (p == "*") {
        entry.kind = NoProxyEntry::Kind::all;
        return {entry};  // Go: "*" replaces every other entry
      }
      if (auto cidr = parse_cidr(p)) {
        entry.kind = NoProxyEntry::Kind::cidr;
        entry.cidr = *cidr;
        out.push_back(std::move(entry));
      } else {
        std::string host = p;
        if (auto split = split_host_port(p)) {
          host = split->first;
          entry.port = split->second;
        }
        if (!host.empty()) {  // ":1" and the like are malformed: ignored, as Go does
          if (auto ip = parse_ip(host)) {
            entry.kind = NoProxyEntry::Kind::ip;
            entry.ip = *ip;
          } else {
            if (host.starts_with("*.")) {
              host.erase(0, 1);
            }
            if (!host.starts_with('.')) {
              entry.matchHost = true;
              host.insert(0, ".");
            }
            entry.domain = host;
          }
          out.push_back(std::move(entry));
        }
      }
    }
    if (comma == std::string_view::npos) {
      break;
    }
  }
  return out;
}

bool entry_matches(const NoProxyEntry& e, const std::string& host, const std::string& port,
                   const std::optional<Ip16>& ip) {
  const bool portOk = e.port.empty() || e.port == port;
  switch (e.kind) {
    case NoProxyEntry::Kind::all:
      return true;
    case NoProxyEntry::Kind::cidr:
      return ip && e.cidr.contains(*ip);
    case NoProxyEntry::Kind::ip:
      return ip && *ip == e.ip && portOk;
    case NoProxyEntry::Kind::domain:
      if (ip) {
        return false;  // CVE-2025-22870 fix: domain entries are for names only
      }
      return (host.ends_with(e.domain) || (e.matchHost && host == e.domain.substr(1))) && portOk;
  }
  return false;
}

// httpproxy's parseProxy: a value without "scheme://host" is host[:port] of an http proxy.
std::string normalize_env_proxy(const std::string& value) {
  const auto sep = value.find("://");
  if (sep != std::string::npos && sep > 0 && std::isalpha(static_cast<unsigned char>(value[0]))) {
    const std::string_view rest = std::string_view(value).substr(sep + 3);
    if (!rest.empty() && rest.front() != '/') {
      return value;
    }
  }
  return "http://" + value;
}

// ---- proxy URLs ----

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// URL userinfo is percent-encoded ("p%40ss" for "p@ss"); the proxy wants the decoded bytes.
std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

namespace detail {

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_v4_mapped(const Ip16& ip) {
  static constexpr std::array<std::uint8_t, 12> kPrefix = {0, 0, 0, 0, 0,    0,
                                                           0, 0, 0, 0, 0xff, 0xff};
  return std::equal(kPrefix.begin(), kPrefix.end(), ip.begin());
}

// net.ParseIP: IPv4 or IPv6, no zone.
std::optional<Ip16> parse_ip(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  const std::string s(text);
  Ip16 out{};
  std::array<std::uint8_t, 4> v4{};
  if (inet_pton(AF_INET, s.c_str(), v4.data()) == 1) {
    out[10] = out[11] = 0xff;
    std::copy(v4.begin(), v4.end(), out.begin() + 12);
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) {
    return out;
  }
  return std::nullopt;
}

Result<ProxyUrl> parse_proxy_url(std::string_view url) {
  ProxyUrl out;
  const auto sep = url.find("://");
  std::string_view rest = url;
  if (sep == std::string_view::npos) {
    out.scheme = "http";
  } else {
    out.scheme = ascii_lower(url.substr(0, sep));
    rest = url.substr(sep + 3);
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    out.hasUserinfo = true;
    const std::string_view userinfo = authority.substr(0, at);
    const auto colon = userinfo.find(':');
    out.user = percent_decode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) {
      out.password = percent_decode(userinfo.substr(colon + 1));
    }
    authority.remove_prefix(at + 1);
  }
  std::string_view portText;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return Error{"missing ']' in host"};
    }
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) {
        return Error{"invalid host"};
      }
      portText = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      portText = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) {
    return Error{"no host"};
  }
  if (!portText.empty()) {
    if (!all_digits(portText) || portText.size() > 5 || std::stoi(std::string(portText)) < 1 ||
        std::stoi(std::string(portText)) > 65535) {
      return Error{"invalid port \"" + std::string(portText) + "\""};
    }
    out.port = std::stoi(std::string(portText));
  } else {
    // httpproxy's portMap: the defaults Go dials when the proxy URL names no port.
    out.port = out.scheme == "https" ? 443 : out.scheme == "socks5" ? 1080 : 80;
  }
  return out;
}

}  // namespace detail

std::string mask_proxy_url(std::string_view url) {
  const auto sep = url.find("://");
  const std::size_t authorityStart = sep == std::string_view::npos ? 0 : sep + 3;
  const auto authorityEnd = url.find_first_of("/?#", authorityStart);
  const std::string_view authority = url.substr(
      authorityStart, authorityEnd == std::string_view::npos ? std::string_view::npos
                                                             : authorityEnd - authorityStart);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string(url);
  }
  const auto colon = authority.substr(0, at).find(':');
  if (colon == std::string_view::npos) {
    return std::string(url);  // a user name alone is not a secret (Go's URL.Redacted agrees)
  }
  return std::string(url.substr(0, authorityStart + colon)) + ":***" +
         std::string(url.substr(authorityStart + at));
}

ProxyChoice choose_proxy(std::string_view serverUrl, std::string_view kubeconfigProxyUrl,
                         const EnvLookup& env) {
  ProxyChoice out;
  if (!kubeconfigProxyUrl.empty()) {
    // client-go: clientConfig.Proxy = http.ProxyURL(u): every request, no NO_PROXY, no
    // localhost exception.
    out.used = true;
    out.rawUrl = std::string(kubeconfigProxyUrl);
    out.url = mask_proxy_url(out.rawUrl);
    out.source = "proxy-url";
    return out;
  }
  const UrlParts request = split_url(serverUrl);
  std::pair<std::string, std::string> proxy;
  if (request.scheme == "https") {
    proxy = env_any(env, {"HTTPS_PROXY", "https_proxy"});
  } else if (request.scheme == "http") {
    proxy = env_any(env, {"HTTP_PROXY", "http_proxy"});
    const auto method = env("REQUEST_METHOD");
    if (!proxy.second.empty() && method && !method->empty()) {
      out.source = proxy.first;
      out.reason =
          "refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy";
      return out;
    }
  } else {
    out.reason = "no proxy for scheme \"" + request.scheme + "\"";
    return out;
  }
  if (proxy.second.empty()) {
    out.reason = "no proxy configured";
    return out;
  }
  const std::string proxyUrl = normalize_env_proxy(proxy.second);

  // useProxy(canonicalAddr(url)): Go compares "localhost" before lower-casing, so we do too.
  std::string host = request.host;
  std::optional<Ip16> ip;
  const auto percent = host.find('%');
  if (percent != std::string::npos) {
    // A zone ("fe80::1%25eth0" in the URL): the address without it is what matches.
    const auto v6 = parse_ip(std::string_view(host).substr(0, percent));
    if (v6 && !is_v4_mapped(*v6)) {
      ip = v6;
    }
  } else {
    ip = parse_ip(host);
  }
  if (host == "localhost") {
    out.reason = "localhost is never proxied";
    return out;
  }
  if (ip && is_loopback(*ip)) {
    out.reason = host + " is a loopback address, never proxied";
    return out;
  }
  host = ascii_lower(trim(host));
  const auto [noProxyName, noProxyValue] = env_any(env, {"NO_PROXY", "no_proxy"});
  for (const auto& entry : parse_no_proxy(noProxyValue)) {
    if (entry_matches(entry, host, request.port, ip)) {
      const std::string target = entry.port.empty() ? host : host + ":" + request.port;
      out.source = proxy.first;
      out.reason = noProxyName + " entry \"" + entry.text + "\" matches " + target;
      return out;
    }
  }
  out.used = true;
  out.rawUrl = proxyUrl;
  out.url = mask_proxy_url(proxyUrl);
  out.source = proxy.first;
  return out;
}

Status validate_proxy_url(std::string_view url) {
  // client-go's parseProxyURL: url.Parse, then the scheme. These are the url.Parse failures a
  // proxy URL runs into: control characters, a missing scheme before ':', "host:port" without
  // a scheme (Go reads "host" as the scheme only when it is made of scheme characters).
  const Error unparsable{"could not parse: " + std::string(url)};
  if (std::any_of(url.begin(), url.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return unparsable;
  }
  std::string scheme;
  for (std::size_t i = 0; i < url.size(); ++i) {
    const char c = url[i];
    if (std::isalpha(static_cast<unsigned char>(c))) {
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.') {
      if (i == 0) {
        break;  // no scheme
      }
      continue;
    }
    if (c == ':') {
      if (i == 0) {
        return unparsable;  // "missing protocol scheme"
      }
      scheme = ascii_lower(url.substr(0, i));
    }
    break;
  }
  if (scheme.empty()) {
    // A relative reference: a colon in its first segment cannot be parsed.
    const std::string_view firstSegment = url.substr(0, url.find('/'));
    if (firstSegment.find(':') != std::string_view::npos) {
      return unparsable;
    }
  } else {
    const std::string_view rest = url.substr(scheme.size() + 1);
    if (rest.starts_with("//")) {
      std::string_view authority = rest.substr(2);
      authority = authority.substr(0, authority.find_first_of("/?#"));
      authority = authority.substr(
          authority.rfind('@') == std::string_view::npos ? 0 : authority.rfind('@') + 1);
      std::string_view port;
      if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
          return unparsable;
        }
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty() && !after.starts_with(':')) {
          return unparsable;
        }
        port = after.empty() ? after : after.substr(1);
      } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        port = authority.substr(colon + 1);
      }
      if (!port.empty() && !all_digits(port)) {
        return unparsable;  // Go: invalid port ":x" after host
      }
    }
  }
  if (scheme != "http" && scheme != "https" && scheme != "socks5") {
    return Error{"unsupported scheme \"" + scheme + "\", must be http, https, or socks5"};
  }
  return {};
}

std::string chosen_proxy(std::string_view serverUrl, std::string_view kubeconfigProxyUrl,
                         const EnvLookup& env) {
  ProxyChoice choice = choose_proxy(serverUrl, kubeconfigProxyUrl, env);
  return choice.used ? std::move(choice.rawUrl) : std::string();
}

}  // namespace kp::core
