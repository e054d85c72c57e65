#include "core/net/net.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "core/net/socket.h"
#ifndef _WIN32
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#endif

#include "core/net/net_detail.h"
#include "core/util/files.h"
#include "core/util/text.h"

namespace kp::core {
namespace detail {

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int remaining_ms(Deadline deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) {
    return 0;
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, 1 << 30));
}

std::optional<SockAddr> make_sockaddr(std::string_view ip, int port) {
  const std::string text(ip);
  SockAddr out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    out.length = sizeof(sockaddr_in);
    return out;
  }
  out.storage = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    out.length = sizeof(sockaddr_in6);
    return out;
  }
  return std::nullopt;
}

int open_socket(int family, int type) {
#if defined(_WIN32)
  return sock::open(family, type);
#elif defined(__APPLE__)
  UniqueFd fd(::socket(family, type, 0));
  if (!fd) {
    return -1;
  }
  const int on = 1;
  if (::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0 ||
      ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK) != 0 ||
      ::setsockopt(fd.get(), SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on) != 0) {
    const int err = errno;
    fd.reset();
    errno = err;
    return -1;
  }
  return fd.release();
#else
  return ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#endif
}

void no_sigpipe([[maybe_unused]] int fd) {
#ifdef __APPLE__
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
}

void append_unique(std::vector<std::string>& out, std::string value) {
  if (std::find(out.begin(), out.end(), value) == out.end()) {
    out.push_back(std::move(value));
  }
}

}  // namespace detail

using namespace detail;

namespace {

std::string address_text(const sockaddr* sa) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buffer, sizeof buffer);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buffer,
              sizeof buffer);
  }
  return buffer;
}

}  // namespace

bool is_ip_literal(std::string_view host) {
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) {
    return false;
  }
  const std::string text(host);
  in6_addr buffer{};
  return inet_pton(AF_INET, text.c_str(), &buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), &buffer) == 1;
}

Result<ResolveResult, DnsError> resolve_system(std::string_view hostText,
                                               std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  std::string host(hostText);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return DnsError{DnsFailure::nxdomain, "lookup: empty host name"};
  }
  // Shared with the resolver thread, which may outlive this call when the deadline passes.
  struct Lookup {
    std::mutex mutex;
    std::condition_variable done;
    bool finished = false;
    int rc = 0;
    int err = 0;
    std::vector<std::string> addresses;
  };
  auto lookup = std::make_shared<Lookup>();
  sock::start();
  try {
    std::thread([lookup, host] {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;  // one entry per address instead of one per socket type
      addrinfo* list = nullptr;
      const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
      const int err = errno;
      std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(list, &::freeaddrinfo);
      std::vector<std::string> addresses;
      for (const addrinfo* ai = list; rc == 0 && ai != nullptr; ai = ai->ai_next) {
        append_unique(addresses, address_text(ai->ai_addr));
      }
      const std::lock_guard lock(lookup->mutex);
      lookup->rc = rc;
      lookup->err = err;
      lookup->addresses = std::move(addresses);
      lookup->finished = true;
      lookup->done.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return DnsError{DnsFailure::network, "lookup " + host + ": cannot start resolver: " + e.what()};
  }
  std::unique_lock lock(lookup->mutex);
  if (!lookup->done.wait_until(lock, start + timeout, [&] { return lookup->finished; })) {
    return DnsError{DnsFailure::timeout, "lookup " + host +
                                             ": no answer from the system resolver within " +
                                             std::to_string(timeout.count()) + "ms"};
  }
  const int rc = lookup->rc;
  if (rc == 0) {
    if (lookup->addresses.empty()) {
      return DnsError{DnsFailure::noData, "lookup " + host + ": no addresses"};
    }
    return ResolveResult{std::move(lookup->addresses), ms_since(start)};
  }
  // Go says "no such host" for a name that does not exist; kubectl users know that phrase.
  if (rc == EAI_NONAME) {
    return DnsError{DnsFailure::nxdomain, "lookup " + host + ": no such host"};
  }
  DnsFailure kind = DnsFailure::network;
  std::string reason = ::gai_strerror(rc);
#ifdef EAI_NODATA
  if (rc == EAI_NODATA) {
    kind = DnsFailure::noData;
  }
#endif
  if (rc == EAI_AGAIN || rc == EAI_FAIL) {
    kind = DnsFailure::servfail;
  }
#ifdef EAI_SYSTEM
  if (rc == EAI_SYSTEM) {
    reason = describe_errno(lookup->err);
  }
#endif
  return DnsError{kind, "lookup " + host + ": " + reason};
}

std::string_view to_string(ConnectFailure kind) {
  constexpr NameTable<ConnectFailure> kNames[] = {{"refused", ConnectFailure::refused},
                                                  {"timed out", ConnectFailure::timeout},
                                                  {"unreachable", ConnectFailure::unreachable},
                                                  {"reset", ConnectFailure::reset},
                                                  {"failed", ConnectFailure::other}};
  return name_of(kNames, kind, "failed");
}

ConnectFailure classify_connect_errno(int err) {
  static constexpr std::pair<int, ConnectFailure> kFailures[] = {
      {ECONNREFUSED, ConnectFailure::refused},      {ETIMEDOUT, ConnectFailure::timeout},
      {EHOSTUNREACH, ConnectFailure::unreachable},  {ENETUNREACH, ConnectFailure::unreachable},
      {EADDRNOTAVAIL, ConnectFailure::unreachable}, {ECONNRESET, ConnectFailure::reset}};
  return mapped(kFailures, err, ConnectFailure::other);
}

Result<Connection, ConnectError> connect_tcp(std::string_view ip, int port,
                                             std::chrono::milliseconds timeout, int maxSegment) {
  const auto start = Clock::now();
  const Deadline deadline = start + timeout;
  const std::string target = host_port(ip, port);
  const auto fail = [&](ConnectFailure kind, int err, const std::string& what) {
    return ConnectError{kind, err, "dial tcp " + target + ": " + what, ms_since(start)};
  };
  if (port < 1 || port > 65535) {
    return fail(ConnectFailure::other, 0, "invalid port");
  }
  const auto addr = make_sockaddr(ip, port);
  if (!addr) {
    return fail(ConnectFailure::other, 0, "not an IP address");
  }
  UniqueFd fd(open_socket(addr->family(), SOCK_STREAM));
  if (!fd) {
    const int err = errno;
    return fail(ConnectFailure::other, err, "socket: " + describe_errno(err));
  }
  if (maxSegment > 0 &&
      sock::setsockopt(fd.get(), IPPROTO_TCP, TCP_MAXSEG, &maxSegment, sizeof maxSegment) != 0) {
    const int err = errno;
    return fail(ConnectFailure::other, err, "setsockopt TCP_MAXSEG: " + describe_errno(err));
  }
  if (sock::connect(fd.get(), addr->get(), addr->length) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) {
      const int err = errno;
      return fail(classify_connect_errno(err), err, "connect: " + describe_errno(err));
    }
    for (;;) {
      pollfd pfd = sock::poll_entry(fd.get(), POLLOUT);
      const int ready = sock::poll(&pfd, 1, remaining_ms(deadline));
      if (ready > 0) {
        break;
      }
      if (ready == 0) {
        return fail(ConnectFailure::timeout, 0, "i/o timeout");
      }
      if (errno != EINTR) {
        const int err = errno;
        return fail(ConnectFailure::other, err, "poll: " + describe_errno(err));
      }
    }
    int err = 0;
    sock::Length length = sizeof err;
    if (sock::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &length) != 0) {
      err = errno;
    }
#ifdef _WIN32
    // SO_ERROR holds a Winsock error (WSAECONNREFUSED): the errno it stands for.
    if (err != 0) {
      err = sock::errno_of(err);
    }
#endif
    if (err != 0) {
      return fail(classify_connect_errno(err), err, "connect: " + describe_errno(err));
    }
  }
  // Callers (TLS, a proxy handshake) expect an ordinary blocking socket.
  if (!sock::set_nonblocking(fd.get(), false)) {
    const int err = errno;
    return fail(ConnectFailure::other, err, "fcntl: " + describe_errno(err));
  }
  return Connection{std::move(fd), address_text(addr->get()), port, ms_since(start)};
}

Result<std::string> unix_socket_exchange(const std::string& path, std::string_view request,
                                         std::chrono::milliseconds timeout, std::size_t maxBytes) {
  const Deadline deadline = Clock::now() + timeout;
  const auto fail = [&path](const std::string& what) {
    return Error{"dial unix " + path + ": " + what};
  };
#ifdef _WIN32
  // HAProxy runs on Linux: its stats socket is read there, or through the stats page (a URL).
  (void)deadline;
  (void)request;
  (void)maxBytes;
  return fail("Unix sockets are not read on Windows; give the stats page's URL instead");
#else
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return fail("the path is empty or longer than a socket path may be");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  UniqueFd fd(open_socket(AF_UNIX, SOCK_STREAM));
  if (!fd) {
    return fail("socket: " + describe_errno(errno));
  }
  // A local connect completes at once or fails (EAGAIN: the backlog is full).
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return fail("connect: " + describe_errno(errno));
  }
  const IoResult sent = send_all(fd.get(), request, deadline);
  if (sent.status != IoStatus::ok) {
    return fail(sent.status == IoStatus::timeout ? "write: i/o timeout"
                                                 : "write: " + describe_errno(sent.err));
  }
  std::string answer;
  char buffer[16384];
  for (;;) {
    const IoResult got = recv_some(fd.get(), buffer, sizeof buffer, deadline);
    if (got.status == IoStatus::eof) {
      return answer;
    }
    if (got.status != IoStatus::ok) {
      return fail(got.status == IoStatus::timeout ? "read: no end of the answer within " +
                                                        std::to_string(timeout.count()) + "ms"
                                                  : "read: " + describe_errno(got.err));
    }
    if (answer.size() + got.bytes > maxBytes) {
      return fail("read: the answer is over " + std::to_string(maxBytes) + " bytes");
    }
    answer.append(buffer, got.bytes);
  }
#endif
}

IoResult send_all(int fd, std::string_view data, Deadline deadline) {
  IoResult out;
  while (out.bytes < data.size()) {
    pollfd pfd = sock::poll_entry(fd, POLLOUT);
    const int ready = sock::poll(&pfd, 1, remaining_ms(deadline));
    if (ready == 0) {
      out.status = IoStatus::timeout;
      return out;
    }
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return IoResult{IoStatus::error, errno, out.bytes};
    }
    const long n = sock::send(fd, data.data() + out.bytes, data.size() - out.bytes,
                              kNoSigPipe | sock::kDontWait);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        continue;
      }
      return IoResult{IoStatus::error, errno, out.bytes};
    }
    out.bytes += static_cast<std::size_t>(n);
  }
  return out;
}

IoResult recv_some(int fd, char* buffer, std::size_t size, Deadline deadline, int flags) {
  for (;;) {
    pollfd pfd = sock::poll_entry(fd, POLLIN);
    const int ready = sock::poll(&pfd, 1, remaining_ms(deadline));
    if (ready == 0) {
      return IoResult{IoStatus::timeout, 0, 0};
    }
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return IoResult{IoStatus::error, errno, 0};
    }
    const long n = sock::recv(fd, buffer, size, flags | sock::kDontWait);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        continue;
      }
      return IoResult{IoStatus::error, errno, 0};
    }
    if (n == 0) {
      return IoResult{IoStatus::eof, 0, 0};
    }
    return IoResult{IoStatus::ok, 0, static_cast<std::size_t>(n)};
  }
}

IoResult recv_exact(int fd, char* buffer, std::size_t size, Deadline deadline) {
  std::size_t done = 0;
  while (done < size) {
    const IoResult r = recv_some(fd, buffer + done, size - done, deadline);
    if (r.status != IoStatus::ok) {
      return IoResult{r.status, r.err, done};
    }
    done += r.bytes;
  }
  return IoResult{IoStatus::ok, 0, done};
}

Result<ResolveResult, DnsError> SystemNetwork::resolve(std::string_view host,
                                                       std::chrono::milliseconds timeout) {
  return resolve_system(host, timeout);
}

Result<DnsAnswer, DnsError> SystemNetwork::query(std::string_view server, std::string_view name,
                                                 std::chrono::milliseconds timeout) {
  return query_dns_server(server, name, timeout);
}

Result<Connection, ConnectError> SystemNetwork::connect(std::string_view ip, int port,
                                                        std::chrono::milliseconds timeout) {
  return connect_tcp(ip, port, timeout);
}

Result<Connection, ConnectError> SystemNetwork::connect_clamped(std::string_view ip, int port,
                                                                std::chrono::milliseconds timeout,
                                                                int maxSegment) {
  return connect_tcp(ip, port, timeout, maxSegment);
}

std::string SystemNetwork::read_file(const std::string& path) {
  // hosts and resolv.conf are small; a huge one is not worth buffering.
  auto contents = core::read_file(path, 1024 * 1024);
  return contents ? std::move(*contents) : std::string();
}

}  // namespace kp::core
