// What the two halves of the proxy code share: proxy.cpp (which proxy client-go would use, and
// the proxy URL) and proxy_tunnel.cpp (the CONNECT and SOCKS5 tunnels through it).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace kp::core::detail {

// An IP address the way Go's net.IP compares them: IPv4 as v4-mapped IPv6.
using Ip16 = std::array<std::uint8_t, 16>;

bool all_digits(std::string_view text);
bool is_v4_mapped(const Ip16& ip);
// An IPv4 or IPv6 literal; nullopt for anything else.
std::optional<Ip16> parse_ip(std::string_view text);

struct ProxyUrl {
  std::string scheme;
  std::string user;
  std::string password;
  bool hasUserinfo = false;
  std::string host;
  int port = 0;
};

// A proxy URL as Go's url.Parse and httpproxy read it, with the default port of its scheme.
Result<ProxyUrl> parse_proxy_url(std::string_view url);

}  // namespace kp::core::detail
