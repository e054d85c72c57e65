// Internals shared by the files of core/net that do name resolution and sockets (net.cpp,
// dns.cpp, dns_wire.cpp, tls.cpp); defined in net.cpp. Not a public header: only those files
// include it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/net.h"
#include "core/net/socket.h"
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

// A socket (SOCK_STREAM, SOCK_DGRAM) that is non-blocking, closed on exec and never raises
// SIGPIPE when sent kNoSigPipe; -1 with errno set. Linux says it all with flags (SOCK_NONBLOCK,
// SOCK_CLOEXEC, MSG_NOSIGNAL on each send); macOS has none of them: there the socket gets
// O_NONBLOCK and FD_CLOEXEC right after socket() (run_process spawns with
// POSIX_SPAWN_CLOEXEC_DEFAULT, so no child inherits it in between) and SO_NOSIGPIPE. Windows
// has no SIGPIPE: sock::open (socket_win.cpp), a non-inheritable socket in non-blocking mode.
int open_socket(int family, int type);
#if defined(__APPLE__) || defined(_WIN32)
inline constexpr int kNoSigPipe = 0;
#else
inline constexpr int kNoSigPipe = MSG_NOSIGNAL;
#endif
// Makes sends on `fd` (a socket from elsewhere) never raise SIGPIPE: SO_NOSIGPIPE on macOS; a
// no-op on Linux, where every send says MSG_NOSIGNAL, and on Windows.
void no_sigpipe(int fd);

// Appends `value` unless `out` already holds it.
void append_unique(std::vector<std::string>& out, std::string value);

}  // namespace kp::core::detail
