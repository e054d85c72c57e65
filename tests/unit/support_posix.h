// Test support: the Linux socket flags the tests spell (SOCK_CLOEXEC, MSG_NOSIGNAL, accept4), for
// the unit test binary cross-built for macOS (scripts/platform/darwin.sh --tests), which has none
// of them. On Linux this adds nothing.
#pragma once

#include <sys/socket.h>

#ifdef __APPLE__
#include <csignal>

// A test's own sockets are closed on exec or not: no test spawns while holding one.
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif
// No per-send flag on macOS: the test binary ignores SIGPIPE instead, so a send to a peer that
// hung up fails with EPIPE as it does with MSG_NOSIGNAL on Linux.
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
inline const bool kp_test_sigpipe_ignored = (std::signal(SIGPIPE, SIG_IGN), true);

inline int accept4(int fd, sockaddr* address, socklen_t* length, int /*flags*/) {
  return ::accept(fd, address, length);
}
#endif
