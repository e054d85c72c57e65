// Winsock behind core/net/socket.h: errno set from WSAGetLastError(), select() for poll().
#include <algorithm>
#include <cerrno>
#include <mutex>
#include <winsock2.h>
#include <ws2tcpip.h>

#include "core/net/socket.h"

namespace kp::core::sock {
namespace {

SOCKET as_socket(int fd) {
  return static_cast<SOCKET>(fd);
}

}  // namespace

// Errors without an errno keep their WSA number (the message then says "Unknown error 100xx"
// rather than something wrong).
int errno_of(int wsa) {
  switch (wsa) {
    case WSAEINTR:
      return EINTR;
    case WSAEWOULDBLOCK:
      return EWOULDBLOCK;
    case WSAEINPROGRESS:
      return EINPROGRESS;
    case WSAEALREADY:
      return EALREADY;
    case WSAENOTSOCK:
      return ENOTSOCK;
    case WSAEMSGSIZE:
      return EMSGSIZE;
    case WSAEAFNOSUPPORT:
      return EAFNOSUPPORT;
    case WSAEADDRINUSE:
      return EADDRINUSE;
    case WSAEADDRNOTAVAIL:
      return EADDRNOTAVAIL;
    case WSAENETDOWN:
      return ENETDOWN;
    case WSAENETUNREACH:
      return ENETUNREACH;
    case WSAENETRESET:
      return ENETRESET;
    case WSAECONNABORTED:
      return ECONNABORTED;
    case WSAECONNRESET:
      return ECONNRESET;
    case WSAENOBUFS:
      return ENOBUFS;
    case WSAEISCONN:
      return EISCONN;
    case WSAENOTCONN:
      return ENOTCONN;
    case WSAETIMEDOUT:
      return ETIMEDOUT;
    case WSAECONNREFUSED:
      return ECONNREFUSED;
    case WSAEHOSTUNREACH:
      return EHOSTUNREACH;
    case WSAEHOSTDOWN:
      return EHOSTUNREACH;
    case WSAESHUTDOWN:
      return EPIPE;
    case WSAEACCES:
      return EACCES;
    case WSAEINVAL:
      return EINVAL;
    case WSAEMFILE:
      return EMFILE;
    case WSAENOPROTOOPT:
      return ENOPROTOOPT;
    case WSAEOPNOTSUPP:
      return EOPNOTSUPP;
    default:
      return wsa;
  }
}

namespace {

int fail() {
  errno = errno_of(::WSAGetLastError());
  return -1;
}

}  // namespace

void start() {
  static std::once_flag once;
  std::call_once(once, [] {
    WSADATA data;
    ::WSAStartup(MAKEWORD(2, 2), &data);
  });
}

int open(int family, int type) {
  start();
  // WSA_FLAG_NO_HANDLE_INHERIT: not inherited by a child (SOCK_CLOEXEC).
  const SOCKET s =
      ::WSASocketW(family, type, 0, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET) {
    return fail();
  }
  const int fd = static_cast<int>(s);
  if (!set_nonblocking(fd, true)) {
    const int err = errno;
    ::closesocket(s);
    errno = err;
    return -1;
  }
  return fd;
}

int connect(int fd, const sockaddr* address, Length length) {
  if (::connect(as_socket(fd), address, length) == 0) {
    return 0;
  }
  fail();
  // A non-blocking connect under way is WSAEWOULDBLOCK on Windows, EINPROGRESS on POSIX.
  if (errno == EWOULDBLOCK) {
    errno = EINPROGRESS;
  }
  return -1;
}

long send(int fd, const void* data, std::size_t size, int flags) {
  const int n = ::send(as_socket(fd), static_cast<const char*>(data),
                       static_cast<int>(std::min<std::size_t>(size, 1 << 30)), flags);
  return n == SOCKET_ERROR ? fail() : n;
}

long recv(int fd, void* buffer, std::size_t size, int flags) {
  const int n = ::recv(as_socket(fd), static_cast<char*>(buffer),
                       static_cast<int>(std::min<std::size_t>(size, 1 << 30)), flags);
  return n == SOCKET_ERROR ? fail() : n;
}

int poll(pollfd* fds, unsigned count, int timeoutMs) {
  fd_set readable;
  fd_set writable;
  fd_set failed;
  FD_ZERO(&readable);
  FD_ZERO(&writable);
  FD_ZERO(&failed);
  for (unsigned i = 0; i < count && i < FD_SETSIZE; ++i) {
    fds[i].revents = 0;
    if ((fds[i].events & POLLIN) != 0) {
      FD_SET(fds[i].fd, &readable);
    }
    if ((fds[i].events & POLLOUT) != 0) {
      FD_SET(fds[i].fd, &writable);
    }
    FD_SET(fds[i].fd, &failed);  // a failed non-blocking connect is reported here
  }
  timeval timeout{};
  timeval* wait = nullptr;
  if (timeoutMs >= 0) {
    timeout.tv_sec = timeoutMs / 1000;
    timeout.tv_usec = (timeoutMs % 1000) * 1000;
    wait = &timeout;
  }
  const int ready = ::select(0, &readable, &writable, &failed, wait);
  if (ready == SOCKET_ERROR) {
    return fail();
  }
  int count_ready = 0;
  for (unsigned i = 0; i < count && i < FD_SETSIZE; ++i) {
    if (FD_ISSET(fds[i].fd, &readable)) {
      fds[i].revents |= POLLIN;
    }
    if (FD_ISSET(fds[i].fd, &writable)) {
      fds[i].revents |= POLLOUT;
    }
    if (FD_ISSET(fds[i].fd, &failed)) {
      fds[i].revents |= POLLERR;
    }
    count_ready += fds[i].revents != 0 ? 1 : 0;
  }
  return count_ready;
}

int getsockopt(int fd, int level, int name, void* value, Length* length) {
  if (::getsockopt(as_socket(fd), level, name, static_cast<char*>(value), length) != 0) {
    return fail();
  }
  return 0;
}

int setsockopt(int fd, int level, int name, const void* value, Length length) {
  if (::setsockopt(as_socket(fd), level, name, static_cast<const char*>(value), length) != 0) {
    return fail();
  }
  return 0;
}

bool set_nonblocking(int fd, bool nonBlocking) {
  u_long mode = nonBlocking ? 1 : 0;
  if (::ioctlsocket(as_socket(fd), FIONBIO, &mode) != 0) {
    fail();
    return false;
  }
  return true;
}

}  // namespace kp::core::sock
