// Test support: the Linux socket flags the tests spell (SOCK_CLOEXEC, MSG_NOSIGNAL, accept4), for
// the unit test binary cross-built for macOS (scripts/platform/darwin.sh --tests), which has none
// of them; and for Windows (scripts/platform/windows_amd64.sh --tests) the few POSIX calls the
// portable tests spell (mkdtemp, gmtime_r, setenv, O_CLOEXEC). On Linux this adds nothing.
#pragma once

#ifdef _WIN32
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <direct.h>
#include <fcntl.h>
#include <io.h>
#include <string>

#ifndef O_CLOEXEC
#define O_CLOEXEC O_NOINHERIT
#endif

inline char* mkdtemp(char* pattern) {
  // Under wine, "/tmp/..." is Z:\tmp\... (the Unix /tmp): the tests' paths work unchanged.
  if (::_mktemp_s(pattern, std::char_traits<char>::length(pattern) + 1) != 0 ||
      ::_mkdir(pattern) != 0) {
    return nullptr;
  }
  return pattern;
}

inline std::tm* gmtime_r(const std::time_t* time, std::tm* out) {
  return ::gmtime_s(out, time) == 0 ? out : nullptr;
}

inline int setenv(const char* name, const char* value, int overwrite) {
  if (overwrite == 0 && std::getenv(name) != nullptr) {
    return 0;
  }
  return ::_putenv_s(name, value) == 0 ? 0 : -1;
}

inline int unsetenv(const char* name) {
  return ::_putenv_s(name, "") == 0 ? 0 : -1;  // "" removes it on Windows
}
#else
#include <sys/socket.h>
#endif

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
