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
#include "core/util/text.h"
#include "core/util/url.h"

namespace kp::core::detail {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start);

// Milliseconds left for poll(), rounded up so a sub-millisecond remainder does not spin; 0 once
// the deadline has passed.
int remaining_ms(Deadline deadline);

// A socket address for an IP literal; nullopt when `ip` is not one.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

std::optional<SockAddr> make_sockaddr(std::string_view ip, int port);

// Appends `value` unless `out` already holds it.
void append_unique(std::vector<std::string>& out, std::string value);

}  // namespace kp::core::detail
