// The socket calls that differ between POSIX and Winsock, in one place: the core's socket code
// calls these (sock::poll, sock::send, ...) and reads errno after a failure as on Linux. On
// POSIX they are the system calls themselves; on Windows (socket_win.cpp) they start Winsock
// once, translate WSAGetLastError() into the errno value it stands for (WSAECONNREFUSED is
// ECONNREFUSED, WSAEWOULDBLOCK is EWOULDBLOCK...) and wait with select(), which, unlike WSAPoll
// on older Windows, reports a failed non-blocking connect. A socket is kept in an int
// (UniqueFd, core/util/fd.h).
#pragma once

#include <cstddef>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#ifndef TCP_MAXSEG
// ws2ipdef.h's value (mingw lacks it). Windows only reads it: setting it fails, so
// connect_clamped (apicheck's path-MTU retry) reports that it cannot ask for small segments.
#define TCP_MAXSEG 4
#endif
#else
#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#endif

namespace kp::core::sock {

#ifdef _WIN32

// Winsock has no SIGPIPE (net_detail.h's kNoSigPipe is 0 there) and no per-call MSG_DONTWAIT:
// every caller waits for readiness before a call, which then does not block.
inline constexpr int kDontWait = 0;
using Length = int;

// WSAStartup, once per process; open() calls it.
void start();
// The errno value a Winsock error (WSAGetLastError(), SO_ERROR) stands for.
int errno_of(int wsaError);
// A socket (SOCK_STREAM or SOCK_DGRAM) in non-blocking mode, not inherited by children; -1
// with errno set.
int open(int family, int type);
int connect(int fd, const sockaddr* address, Length length);
long send(int fd, const void* data, std::size_t size, int flags);
long recv(int fd, void* buffer, std::size_t size, int flags);
// poll() of sockets (POLLIN, POLLOUT; POLLERR when a connect failed).
int poll(pollfd* fds, unsigned count, int timeoutMs);
int getsockopt(int fd, int level, int name, void* value, Length* length);
int setsockopt(int fd, int level, int name, const void* value, Length length);
// Blocking or not (Winsock cannot tell which a socket is); false with errno set.
bool set_nonblocking(int fd, bool nonBlocking);

#else

inline constexpr int kDontWait = MSG_DONTWAIT;
using Length = socklen_t;

inline void start() {}
inline int connect(int fd, const sockaddr* address, Length length) {
  return ::connect(fd, address, length);
}
inline long send(int fd, const void* data, std::size_t size, int flags) {
  return ::send(fd, data, size, flags);
}
inline long recv(int fd, void* buffer, std::size_t size, int flags) {
  return ::recv(fd, buffer, size, flags);
}
inline int poll(pollfd* fds, unsigned count, int timeoutMs) {
  return ::poll(fds, count, timeoutMs);
}
inline int getsockopt(int fd, int level, int name, void* value, Length* length) {
  return ::getsockopt(fd, level, name, value, length);
}
inline int setsockopt(int fd, int level, int name, const void* value, Length length) {
  return ::setsockopt(fd, level, name, value, length);
}
inline bool set_nonblocking(int fd, bool nonBlocking) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 &&
         ::fcntl(fd, F_SETFL, nonBlocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0;
}

#endif

// One entry for poll() (a SOCKET on Windows, an int elsewhere).
inline pollfd poll_entry(int fd, short events) {
  pollfd entry{};
  entry.fd = fd;
  entry.events = events;
  return entry;
}

}  // namespace kp::core::sock
