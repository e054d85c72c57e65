// Internals shared by the files of core/net that do name resolution and sockets (net.cpp,
// dns.cpp, dns_wire.cpp); defined in net.cpp. Not a public header: only those files include it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

#include "core/net/net.h"

namespace kp::core::detail {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start);

// Milliseconds left for poll(), rounded up so a sub-millisecond remainder does not spin; 0 once
// the deadline has passed.
int remaining_ms(Deadline deadline);

// `text` with std::tolower applied to every character.
std::string lower(std::string_view text);

// strerror() capitalises; Go (and so kubectl) prints the lower-case form users search for.
std::string describe_errno(int err);

// A socket address for an IP literal; nullopt when `ip` is not one.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

std::optional<SockAddr> make_sockaddr(std::string_view ip, int port);

// "10.0.0.1:6443", "[::1]:6443".
std::string host_port(std::string_view ip, int port);

// Appends `value` unless `out` already holds it.
void append_unique(std::vector<std::string>& out, std::string value);

}  // namespace kp::core::detail
