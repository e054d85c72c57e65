// Test support: a listening socket on 127.0.0.1 (never anything else) with an ephemeral port,
// serving each accepted connection with a callback on its own thread. Its set-up is REQUIREd on
// the constructing test thread; Catch2 assertions are not thread-safe, so handlers record into
// atomics or guarded state and the test checks later.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kp::testsupport {

class LoopbackServer {
 public:
  // Serves one connection; `stop` turns true when the server is being destroyed. The server
  // closes `fd` after the handler returns.
  using Handler = std::function<void(int fd, const std::atomic<bool>& stop)>;

  struct Options {
    std::size_t maxConnections = 0;  // 0: until destroyed
    // The acceptor gives up when no client came for this long, so a broken test fails instead
    // of hanging.
    std::chrono::milliseconds acceptTimeout{5000};
    // Every blocking call on an accepted socket times out after this (0: never).
    std::chrono::seconds ioTimeout{0};
  };

  explicit LoopbackServer(Handler handler, Options options);
  explicit LoopbackServer(Handler handler) : LoopbackServer(std::move(handler), Options{}) {}
  // Stops accepting, tells the handlers and waits for them.
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  // "scheme://127.0.0.1:port" + path.
  std::string url(const std::string& scheme, const std::string& path = "") const;
  // A connected, blocking client socket; the caller closes it.
  int connect_client() const;
  // Waits until the acceptor is done (maxConnections served or no client came) and every
  // accepted connection has been handled.
  void join();

 private:
  void accept_loop();

  Handler handler_;
  Options options_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> connections_;
};

}  // namespace kp::testsupport
