#include "support_server.h"

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support_posix.h"

namespace kp::testsupport {

LoopbackServer::LoopbackServer(Handler handler, Options options)
    : handler_(std::move(handler)), options_(options) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener_ >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  // Constructed on the test's thread, so the set-up is asserted like the test's own steps.
  REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
  REQUIRE(::listen(listener_, 16) == 0);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

void LoopbackServer::accept_loop() {
  std::size_t accepted = 0;
  auto deadline = std::chrono::steady_clock::now() + options_.acceptTimeout;
  while (!stop_ && (options_.maxConnections == 0 || accepted < options_.maxConnections)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return;  // no client came: do not hang the test run
    }
    pollfd entry{listener_, POLLIN, 0};
    if (::poll(&entry, 1, 50) <= 0) {
      continue;
    }
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    ++accepted;
    deadline = std::chrono::steady_clock::now() + options_.acceptTimeout;
    if (options_.ioTimeout.count() > 0) {
      timeval limit{static_cast<time_t>(options_.ioTimeout.count()), 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    }
    const std::lock_guard lock(mutex_);
    connections_.emplace_back([this, fd] {
      // OpenSSL's socket BIO writes with write(): a client that already left would raise
      // SIGPIPE. Blocked on this thread only, the write fails with EPIPE instead.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      handler_(fd, stop_);
      ::close(fd);
    });
  }
}

void LoopbackServer::join() {
  if (acceptor_.joinable()) {
    acceptor_.join();
  }
  const std::lock_guard lock(mutex_);
  for (std::thread& connection : connections_) {
    if (connection.joinable()) {
      connection.join();
    }
  }
}

LoopbackServer::~LoopbackServer() {
  stop_ = true;
  join();
  ::close(listener_);
}

std::string LoopbackServer::url(const std::string& scheme, const std::string& path) const {
  return scheme + "://127.0.0.1:" + std::to_string(port_) + path;
}

int LoopbackServer::connect_client() const {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port_));
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    throw std::runtime_error("connect to 127.0.0.1");
  }
  return fd;
}

}  // namespace kp::testsupport
