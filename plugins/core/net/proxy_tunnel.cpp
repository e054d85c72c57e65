// The tunnels through a proxy, as Go's transport builds them: HTTP CONNECT (and the answer's
// head, bounded) and SOCKS5 (RFC 1928/1929), timed for the report; probe_proxy() dials the proxy
// and opens one. Which proxy to use is proxy.cpp's.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "core/net/proxy.h"
#include "core/net/proxy_detail.h"
#include "core/net/socket.h"
#include "core/util/base64.h"
#include "core/util/text.h"
#include "core/util/url.h"

namespace kp::core {

using namespace detail;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr std::size_t kMaxConnectResponseBytes = 16 * 1024;

std::chrono::milliseconds left_of(Deadline deadline) {
  const auto left = deadline - Clock::now();
  return std::max(std::chrono::ceil<std::chrono::milliseconds>(left), std::chrono::milliseconds(0));
}

std::string describe_io(const IoResult& io) {
  switch (io.status) {
    case IoStatus::ok:
      return "ok";
    case IoStatus::eof:
      return "connection closed";
    case IoStatus::timeout:
      return "timed out";
    case IoStatus::error: {
      std::string text = std::strerror(io.err);
      if (!text.empty()) {
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
      }
      return text;
    }
  }
  return "failed";
}

// An I/O failure in the middle of a proxy handshake, as a ProxyError.
ProxyError io_failure(const IoResult& io, const std::string& what, const ProxyProbe& probe,
                      std::chrono::milliseconds timeout) {
  if (io.status == IoStatus::timeout) {
    return ProxyError{ProxyFailure::timeout,
                      what + ": no answer within " + std::to_string(timeout.count()) + "ms", probe};
  }
  return ProxyError{ProxyFailure::malformed, what + ": " + describe_io(io), probe};
}

// Reads the CONNECT response head without consuming a byte past it: whatever follows belongs
// to the tunnel.
Result<std::string, ProxyError> read_response_head(int fd, Deadline deadline,
                                                   const ProxyProbe& probe,
                                                   std::chrono::milliseconds timeout) {
  std::string head;
  std::array<char, 4096> buffer{};
  for (;;) {
    IoResult io = recv_some(fd, buffer.data(), buffer.size(), deadline, MSG_PEEK);
    if (io.status == IoStatus::eof) {
      if (head.empty()) {
        return ProxyError{ProxyFailure::malformed,
                          "proxy closed the connection without answering CONNECT", probe};
      }
      if (!head.starts_with("HTTP/")) {
        return ProxyError{ProxyFailure::malformed,
                          "proxy answered CONNECT with something that is not HTTP: " +
                              quote_bytes(head, 80, Lines::all),
                          probe};
      }
      return ProxyError{ProxyFailure::malformed,
                        "proxy closed the connection in the middle of its CONNECT answer: " +
                            quote_bytes(head, 80, Lines::all),
                        probe};
    }
    if (io.status != IoStatus::ok) {
      return io_failure(io, "reading the proxy's CONNECT answer", probe, timeout);
    }
    const std::string_view peeked(buffer.data(), io.bytes);
    const std::size_t searchFrom = head.size() >= 3 ? head.size() - 3 : 0;
    const std::string combined = head + std::string(peeked);
    const auto end = combined.find("\r\n\r\n", searchFrom);
    const std::size_t take = end == std::string::npos ? io.bytes : end + 4 - head.size();
    io = recv_exact(fd, buffer.data(), take, deadline);
    if (io.status != IoStatus::ok) {
      return io_failure(io, "reading the proxy's CONNECT answer", probe, timeout);
    }
    head.append(buffer.data(), take);
    if (end != std::string::npos) {
      return head;
    }
    // An answer that does not start like HTTP will never become one: say so now rather than
    // waiting for the deadline (an SSH or TLS server behind the "proxy" port).
    const std::size_t n = std::min<std::size_t>(head.size(), 5);
    if (head.compare(0, n, "HTTP/", n) != 0) {
      return ProxyError{ProxyFailure::malformed,
                        "proxy answered CONNECT with something that is not HTTP: " +
                            quote_bytes(head, 80, Lines::all),
                        probe};
    }
    if (head.size() > kMaxConnectResponseBytes) {
      return ProxyError{ProxyFailure::malformed,
                        "proxy's CONNECT answer headers exceed " +
                            std::to_string(kMaxConnectResponseBytes) + " bytes",
                        probe};
    }
  }
}

Result<ProxyTunnel, ProxyError> http_connect(UniqueFd fd, const ProxyUrl& proxy,
                                             const std::string& target, ProxyProbe probe,
                                             Deadline deadline, std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  std::string request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  // Go's Transport sends it whenever the URL has userinfo, even an empty one.
  if (proxy.hasUserinfo) {
    request +=
        "Proxy-Authorization: Basic " + encode_base64(proxy.user + ":" + proxy.password) + "\r\n";
  }
  request += "\r\n";
  const IoResult sent = send_all(fd.get(), request, deadline);
  if (sent.status != IoStatus::ok) {
    probe.tunnelMs = ms_since(start);
    return io_failure(sent, "sending CONNECT to the proxy", probe, timeout);
  }
  auto head = read_response_head(fd.get(), deadline, probe, timeout);
  probe.tunnelMs = ms_since(start);
  if (!head) {
    ProxyError error = std::move(head).error();
    error.probe = probe;
    return error;
  }
  const std::string_view text = *head;
  const std::string_view line = text.substr(0, text.find_first_of("\r\n"));
  // "HTTP/1.1 200 Connection established": version, a space, three digits.
  const auto space = line.find(' ');
  if (!line.starts_with("HTTP/") || space == std::string_view::npos || line.size() < space + 4 ||
      !all_digits(line.substr(space + 1, 3)) ||
      (line.size() > space + 4 && line[space + 4] != ' ')) {
    return ProxyError{
        ProxyFailure::malformed,
        "proxy answered CONNECT with a malformed status line: " + quote_bytes(line, 80, Lines::all),
        probe};
  }
  probe.statusLine = std::string(line);
  probe.connectStatus = std::stoi(std::string(line.substr(space + 1, 3)));
  // Go's Transport accepts exactly 200 here, not any 2xx.
  if (probe.connectStatus != 200) {
    std::string message =
        "proxy answered CONNECT " + target + " with " + quote_bytes(line, 80, Lines::all);
    if (probe.connectStatus == 407) {
      message += proxy.hasUserinfo ? " (the credentials in the proxy URL were refused)"
                                   : " (the proxy wants credentials; the proxy URL has none)";
    }
    return ProxyError{ProxyFailure::rejected, message, probe};
  }
  return ProxyTunnel{probe, std::move(fd)};
}

std::string_view socks_reply_text(int code) {
  switch (code) {
    case 1:
      return "general SOCKS server failure";
    case 2:
      return "connection not allowed by ruleset";
    case 3:
      return "network unreachable";
    case 4:
      return "host unreachable";
    case 5:
      return "connection refused";
    case 6:
      return "TTL expired";
    case 7:
      return "command not supported";
    case 8:
      return "address type not supported";
    default:
      return "unknown error";
  }
}

// RFC 1928 CONNECT (and RFC 1929 username/password when the URL carries them).
Result<ProxyTunnel, ProxyError> socks5_connect(UniqueFd fd, const ProxyUrl& proxy,
                                               const std::string& host, int port, ProxyProbe probe,
                                               Deadline deadline,
                                               std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  const int s = fd.get();
  const auto fail = [&](ProxyFailure kind, const std::string& message) {
    probe.tunnelMs = ms_since(start);
    return ProxyError{kind, message, probe};
  };
  const auto io_fail = [&](const IoResult& io, const std::string& what) {
    probe.tunnelMs = ms_since(start);
    if (io.status == IoStatus::eof) {
      return ProxyError{ProxyFailure::malformed, what + ": SOCKS5 proxy closed the connection",
                        probe};
    }
    return io_failure(io, what, probe, timeout);
  };
  const bool withPassword = proxy.hasUserinfo && !proxy.user.empty();
  if (withPassword && (proxy.user.size() > 255 || proxy.password.size() > 255)) {
    return fail(ProxyFailure::unsupported, "SOCKS5 username or password longer than 255 bytes");
  }
  if (host.size() > 255) {
    return fail(ProxyFailure::unsupported, "target host name longer than 255 bytes");
  }
  std::string greeting =
      withPassword ? std::string("\x05\x02\x00\x02", 4) : std::string("\x05\x01\x00", 3);
  // Sends `message` and reads the reply's fixed first bytes into `reply`.
  const auto exchange = [&](const std::string& message, auto& reply) {
    IoResult sent = send_all(s, message, deadline);
    return sent.status == IoStatus::ok ? recv_exact(s, reply.data(), reply.size(), deadline) : sent;
  };
  std::array<char, 2> choice{};
  IoResult io = exchange(greeting, choice);
  if (io.status != IoStatus::ok) {
    return io_fail(io, "SOCKS5 greeting");
  }
  if (choice[0] != 0x05) {
    return fail(ProxyFailure::malformed,
                "SOCKS5 greeting: the proxy answered " +
                    quote_bytes(std::string_view(choice.data(), 2), 80, Lines::all) +
                    ", not SOCKS version 5");
  }
  const auto method = static_cast<std::uint8_t>(choice[1]);
  if (method == 0x02 && withPassword) {
    std::string auth = "\x01";
    auth += static_cast<char>(proxy.user.size());
    auth += proxy.user;
    auth += static_cast<char>(proxy.password.size());
    auth += proxy.password;
    std::array<char, 2> status{};
    io = exchange(auth, status);
    if (io.status != IoStatus::ok) {
      return io_fail(io, "SOCKS5 authentication");
    }
    if (status[1] != 0) {
      return fail(ProxyFailure::rejected, "SOCKS5 proxy refused the username and password");
    }
  } else if (method != 0x00) {
    return fail(ProxyFailure::rejected,
                method == 0xff
                    ? std::string(withPassword ? "SOCKS5 proxy accepts none of our methods "
                                                 "(no authentication, username/password)"
                                               : "SOCKS5 proxy requires authentication; the "
                                                 "proxy URL has no credentials")
                    : "SOCKS5 proxy chose an unsupported method " + std::to_string(method));
  }
  std::string request("\x05\x01\x00", 3);
  if (auto ip = parse_ip(host)) {
    if (is_v4_mapped(*ip)) {
      request += '\x01';
      request.append(reinterpret_cast<const char*>(ip->data() + 12), 4);
    } else {
      request += '\x04';
      request.append(reinterpret_cast<const char*>(ip->data()), 16);
    }
  } else {
    // The proxy resolves the name, as Go's SOCKS dialer asks it to.
    request += '\x03';
    request += static_cast<char>(host.size());
    request += host;
  }
  request += static_cast<char>((port >> 8) & 0xff);
  request += static_cast<char>(port & 0xff);
  std::array<char, 4> reply{};
  io = exchange(request, reply);
  if (io.status != IoStatus::ok) {
    return io_fail(io, "SOCKS5 CONNECT");
  }
  const int code = static_cast<std::uint8_t>(reply[1]);
  probe.statusLine = "SOCKS5 reply " + std::to_string(code) + " (" +
                     std::string(code == 0 ? "succeeded" : socks_reply_text(code)) + ")";
  if (reply[0] != 0x05) {
    return fail(ProxyFailure::malformed, "SOCKS5 CONNECT: the reply is not SOCKS version 5");
  }
  if (code != 0) {
    return fail(ProxyFailure::rejected, "SOCKS5 proxy could not connect to " +
                                            host_port(host, port) + ": " +
                                            std::string(socks_reply_text(code)));
  }
  // The bound address is of no use to us, but it must be consumed: the tunnel starts after it.
  std::size_t boundBytes = 0;
  switch (reply[3]) {
    case 0x01:
      boundBytes = 4;
      break;
    case 0x04:
      boundBytes = 16;
      break;
    case 0x03: {
      char length = 0;
      io = recv_exact(s, &length, 1, deadline);
      if (io.status != IoStatus::ok) {
        return io_fail(io, "SOCKS5 CONNECT");
      }
      boundBytes = static_cast<std::uint8_t>(length);
      break;
    }
    default:
      return fail(ProxyFailure::malformed, "SOCKS5 CONNECT: unknown bound address type " +
                                               std::to_string(static_cast<std::uint8_t>(reply[3])));
  }
  std::array<char, 258> bound{};
  io = recv_exact(s, bound.data(), boundBytes + 2, deadline);
  if (io.status != IoStatus::ok) {
    return io_fail(io, "SOCKS5 CONNECT");
  }
  probe.tunnelMs = ms_since(start);
  return ProxyTunnel{probe, std::move(fd)};
}

}  // namespace

Result<ProxyTunnel, ProxyError> probe_proxy(Network& net, std::string_view proxyRawUrl,
                                            std::string_view targetHost, int targetPort,
                                            std::chrono::milliseconds timeout) {
  const Deadline deadline = Clock::now() + timeout;
  ProxyProbe probe;
  const std::string shown = mask_proxy_url(proxyRawUrl);
  auto parsed = parse_proxy_url(proxyRawUrl);
  if (!parsed) {
    return ProxyError{ProxyFailure::malformed,
                      "invalid proxy URL " + shown + ": " + parsed.error().message, probe};
  }
  const ProxyUrl& proxy = *parsed;
  if (proxy.scheme != "http" && proxy.scheme != "https" && proxy.scheme != "socks5") {
    return ProxyError{ProxyFailure::unsupported,
                      "unsupported proxy scheme \"" + proxy.scheme + "\" in " + shown, probe};
  }

  std::vector<std::string> addresses;
  if (is_ip_literal(proxy.host)) {
    addresses.push_back(proxy.host);
  } else {
    auto resolved = net.resolve(proxy.host, left_of(deadline));
    if (!resolved) {
      const ProxyFailure kind = resolved.error().kind == DnsFailure::timeout
                                    ? ProxyFailure::timeout
                                    : ProxyFailure::resolve;
      return ProxyError{kind, "proxyconnect tcp: " + resolved.error().message, probe};
    }
    addresses = resolved->addresses;
  }
  // Every address in turn, as Go's dialer does, until one connects or the deadline passes.
  std::optional<Connection> connection;
  std::optional<ConnectError> lastError;
  for (const auto& address : addresses) {
    auto attempt = net.connect(address, proxy.port, left_of(deadline));
    if (attempt) {
      connection = std::move(*attempt);
      break;
    }
    lastError = attempt.error();
    if (attempt.error().kind == ConnectFailure::timeout) {
      break;
    }
  }
  if (!connection) {
    if (!lastError) {
      return ProxyError{ProxyFailure::resolve,
                        "proxyconnect tcp: lookup " + proxy.host + ": no addresses", probe};
    }
    probe.connectMs = lastError->ms;
    const ProxyFailure kind =
        lastError->kind == ConnectFailure::timeout ? ProxyFailure::timeout : ProxyFailure::connect;
    return ProxyError{kind, "proxyconnect tcp: " + lastError->message, probe};
  }
  probe.connectMs = connection->ms;
  const std::string target = host_port(targetHost, targetPort);
  if (proxy.scheme == "https") {
    return ProxyError{ProxyFailure::unsupported,
                      "TLS to an https:// proxy is not implemented: the TCP connect to " +
                          host_port(proxy.host, proxy.port) +
                          " succeeded, the CONNECT tunnel was not tested",
                      probe};
  }
  if (proxy.scheme == "socks5") {
    return socks5_connect(std::move(connection->fd), proxy, std::string(targetHost), targetPort,
                          probe, deadline, timeout);
  }
  return http_connect(std::move(connection->fd), proxy, target, probe, deadline, timeout);
}

}  // namespace kp::core
