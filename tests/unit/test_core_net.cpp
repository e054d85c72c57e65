#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include "core/net/net.h"
#include "support_posix.h"

using namespace std::chrono_literals;
using kp::core::classify_connect_errno;
using kp::core::connect_tcp;
using kp::core::ConnectFailure;
using kp::core::DnsFailure;
using kp::core::hosts_file_lookup;
using kp::core::is_ip_literal;
using kp::core::query_dns_server;
using kp::core::resolv_conf_nameservers;
using kp::core::resolve_system;
using kp::core::UniqueFd;

namespace {

using Bytes = std::vector<std::uint8_t>;
using Strings = std::vector<std::string>;

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

bool fd_is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

int bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  return ntohs(addr.sin_port);
}

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A TCP listener on 127.0.0.1 with a kernel-chosen port.
UniqueFd listen_loopback(int backlog = 16) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const sockaddr_in addr = loopback(0);
  REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd.get(), backlog) == 0);
  return fd;
}

// A loopback port nobody listens on: bound, then closed again.
int closed_port(int type) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  const sockaddr_in addr = loopback(0);
  REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  return bound_port(fd.get());
}

// ---- DNS packets for the fake server ----

constexpr std::uint16_t kA = 1;
constexpr std::uint16_t kCname = 5;
constexpr std::uint16_t kAaaa = 28;

void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

Bytes name(const std::string& dotted) {
  Bytes out;
  std::size_t start = 0;
  while (start < dotted.size()) {
    const auto dot = dotted.find('.', start);
    const auto end = dot == std::string::npos ? dotted.size() : dot;
    out.push_back(static_cast<std::uint8_t>(end - start));
    out.insert(out.end(), dotted.begin() + static_cast<long>(start),
               dotted.begin() + static_cast<long>(end));
    start = end + 1;
  }
  out.push_back(0);
  return out;
}

Bytes pointer(std::uint16_t offset) {
  return {static_cast<std::uint8_t>(0xC0 | (offset >> 8)),
          static_cast<std::uint8_t>(offset & 0xff)};
}

const Bytes kQname = pointer(12);  // the question's name, right after the header

Bytes ip_bytes(const std::string& ip) {
  Bytes out(ip.find(':') == std::string::npos ? 4 : 16);
  ::inet_pton(out.size() == 4 ? AF_INET : AF_INET6, ip.c_str(), out.data());
  return out;
}

Bytes rr(const Bytes& owner, std::uint16_t type, const Bytes& data) {
  Bytes out = owner;
  put16(out, type);
  put16(out, 1);  // IN
  put16(out, 0);
  put16(out, 60);  // TTL
  put16(out, static_cast<std::uint16_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::uint16_t id_of(const Bytes& query) {
  return static_cast<std::uint16_t>((query[0] << 8) | query[1]);
}

std::size_t question_end(const Bytes& query) {
  std::size_t pos = 12;
  while (query[pos] != 0) {
    pos += query[pos] + 1u;
  }
  return pos + 1 + 4;
}

std::uint16_t qtype_of(const Bytes& query) {
  const std::size_t end = question_end(query);
  return static_cast<std::uint16_t>((query[end - 4] << 8) | query[end - 3]);
}

struct Reply {
  int rcode = 0;
  std::vector<Bytes> answers;
  bool truncated = false;
  std::optional<std::uint16_t> id;  // default: the query's
};

Bytes build(const Bytes& query, const Reply& r) {
  Bytes out;
  put16(out, r.id.value_or(id_of(query)));
  put16(out, static_cast<std::uint16_t>(0x8180 | (r.truncated ? 0x0200 : 0) | r.rcode));
  put16(out, 1);
  put16(out, static_cast<std::uint16_t>(r.answers.size()));
  put16(out, 0);
  put16(out, 0);
  out.insert(out.end(), query.begin() + 12, query.begin() + static_cast<long>(question_end(query)));
  for (const auto& a : r.answers) {
    out.insert(out.end(), a.begin(), a.end());
  }
  return out;
}

// A plain answer with these records / an error answer with this RCODE.
Bytes answer_with(const Bytes& query, std::vector<Bytes> answers) {
  Reply r;
  r.answers = std::move(answers);
  return build(query, r);
}
Bytes error_answer(const Bytes& query, int rcode) {
  Reply r;
  r.rcode = rcode;
  return build(query, r);
}

// A DNS server on 127.0.0.1 (UDP and TCP on one port) answering with crafted packets.
class FakeDns {
 public:
  using Handler = std::function<std::vector<Bytes>(const Bytes& query, bool overTcp)>;

  explicit FakeDns(Handler handler) : handler_(std::move(handler)) {
    for (int attempt = 0; attempt < 50 && !tcp_; ++attempt) {
      udp_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      sockaddr_in addr = loopback(0);
      REQUIRE(::bind(udp_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
      port_ = bound_port(udp_.get());
      UniqueFd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      addr = loopback(port_);
      if (::bind(tcp.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
          ::listen(tcp.get(), 4) == 0) {
        tcp_ = std::move(tcp);
      }
    }
    REQUIRE(tcp_);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeDns() {
    stop_ = true;
    thread_.join();
  }
  FakeDns(const FakeDns&) = delete;
  FakeDns& operator=(const FakeDns&) = delete;

  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  int udpQueries() const { return udpQueries_; }
  int tcpQueries() const { return tcpQueries_; }

 private:
  void run() {
    Bytes buffer(65535);
    while (!stop_) {
      pollfd fds[2] = {{udp_.get(), POLLIN, 0}, {tcp_.get(), POLLIN, 0}};
      if (::poll(fds, 2, 20) <= 0) {
        continue;
      }
      if ((fds[0].revents & POLLIN) != 0) {
        sockaddr_storage from{};
        socklen_t fromLength = sizeof from;
        const ssize_t n = ::recvfrom(udp_.get(), buffer.data(), buffer.size(), 0,
                                     reinterpret_cast<sockaddr*>(&from), &fromLength);
        if (n > 0) {
          ++udpQueries_;
          for (const auto& reply : handler_(Bytes(buffer.begin(), buffer.begin() + n), false)) {
            ::sendto(udp_.get(), reply.data(), reply.size(), 0,
                     reinterpret_cast<const sockaddr*>(&from), fromLength);
          }
        }
      }
      if ((fds[1].revents & POLLIN) != 0) {
        serve_tcp();
      }
    }
  }

  void serve_tcp() {
    UniqueFd conn(::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) {
      return;
    }
    timeval wait{1, 0};
    ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    std::uint8_t length[2];
    if (::recv(conn.get(), length, 2, MSG_WAITALL) != 2) {
      return;
    }
    Bytes query(static_cast<std::size_t>((length[0] << 8) | length[1]));
    if (::recv(conn.get(), query.data(), query.size(), MSG_WAITALL) !=
        static_cast<ssize_t>(query.size())) {
      return;
    }
    ++tcpQueries_;
    for (const auto& reply : handler_(query, true)) {
      Bytes framed;
      put16(framed, static_cast<std::uint16_t>(reply.size()));
      framed.insert(framed.end(), reply.begin(), reply.end());
      ::send(conn.get(), framed.data(), framed.size(), MSG_NOSIGNAL);
    }
  }

  Handler handler_;
  UniqueFd udp_;
  UniqueFd tcp_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> udpQueries_{0};
  std::atomic<int> tcpQueries_{0};
  std::thread thread_;
};

// A handler giving the same kind of reply to A and AAAA.
FakeDns::Handler both(int rcode) {
  return [rcode](const Bytes& q, bool) { return std::vector<Bytes>{error_answer(q, rcode)}; };
}

}  // namespace

TEST_CASE("core::UniqueFd owns and closes its descriptor", "[net]") {
  int raw = -1;
  {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    raw = fd.get();
    UniqueFd moved(std::move(fd));
    CHECK_FALSE(fd);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
    CHECK(moved.get() == raw);
    UniqueFd assigned;
    assigned = std::move(moved);
    CHECK(assigned.get() == raw);
    CHECK(fd_is_open(raw));
  }
  CHECK_FALSE(fd_is_open(raw));

  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  raw = fd.release();
  CHECK_FALSE(fd);
  CHECK(fd_is_open(raw));
  fd.reset(raw);
  fd.reset();
  CHECK_FALSE(fd_is_open(raw));
  CHECK(fd.get() == -1);
}

TEST_CASE("core::is_ip_literal", "[net]") {
  CHECK(is_ip_literal("10.0.0.1"));
  CHECK(is_ip_literal("::1"));
  CHECK(is_ip_literal("2001:db8::52:0:1"));
  CHECK(is_ip_literal("::ffff:10.0.0.1"));
  CHECK_FALSE(is_ip_literal(""));
  CHECK_FALSE(is_ip_literal("[::1]"));
  CHECK_FALSE(is_ip_literal("fe80::1%eth0"));
  CHECK_FALSE(is_ip_literal("10.0.0.256"));
  CHECK_FALSE(is_ip_literal("010.0.0.1"));
  CHECK_FALSE(is_ip_literal("api.lab.test"));
  CHECK_FALSE(is_ip_literal("10.0.0.1:6443"));
}

TEST_CASE("core::hosts_file_lookup", "[net]") {
  const std::string hosts =
      "# static table\n"
      "127.0.0.1\tlocalhost\n"
      "::1     localhost ip6-localhost ip6-loopback\n"
      "10.0.0.5 api.lab.test api   # the lab API server\n"
      "\n"
      "   10.0.0.6   other.lab.test  API.Lab.Test\r\n"
      "#10.0.0.7 api.lab.test\n"
      "10.0.0.5 api.lab.test\n"
      "fd00::5 api.lab.test\n"
      "not-an-ip api.lab.test\n"
      "10.0.0.8";

  SECTION("aliases, several lines, comments and case") {
    CHECK(hosts_file_lookup(hosts, "api.lab.test") == Strings{"10.0.0.5", "10.0.0.6", "fd00::5"});
    CHECK(hosts_file_lookup(hosts, "API.LAB.TEST") == Strings{"10.0.0.5", "10.0.0.6", "fd00::5"});
    CHECK(hosts_file_lookup(hosts, "api") == Strings{"10.0.0.5"});
  }
  SECTION("IPv6 and several names on one line") {
    CHECK(hosts_file_lookup(hosts, "localhost") == Strings{"127.0.0.1", "::1"});
    CHECK(hosts_file_lookup(hosts, "ip6-loopback") == Strings{"::1"});
  }
  SECTION("missing names and comment words never match") {
    CHECK(hosts_file_lookup(hosts, "missing.lab.test").empty());
    CHECK(hosts_file_lookup(hosts, "the").empty());
    CHECK(hosts_file_lookup(hosts, "static").empty());
    CHECK(hosts_file_lookup(hosts, "").empty());
    CHECK(hosts_file_lookup("", "localhost").empty());
  }
}

TEST_CASE("core::resolv_conf_nameservers", "[net]") {
  const std::string conf =
      "# generated\n"
      "search lab.test\n"
      "nameserver 10.96.0.10\n"
      "; nameserver 10.0.0.1\n"
      "nameserver   fd00::a   # secondary\n"
      "nameserver fe80::1%eth0\n"
      "nameserver\n"
      "nameserver bogus\n"
      "  nameserver 1.1.1.1\n"
      "options ndots:5\n"
      "nameserver 8.8.8.8";
  CHECK(resolv_conf_nameservers(conf) ==
        Strings{"10.96.0.10", "fd00::a", "fe80::1%eth0", "1.1.1.1", "8.8.8.8"});
  CHECK(resolv_conf_nameservers("").empty());
  CHECK(resolv_conf_nameservers("search x\n").empty());
}

TEST_CASE("core::query_dns_server answers", "[net]") {
  SECTION("A and AAAA records") {
    FakeDns dns([](const Bytes& q, bool) {
      Reply r;
      if (qtype_of(q) == kA) {
        r.answers = {rr(kQname, kA, ip_bytes("10.1.2.3")), rr(kQname, kA, ip_bytes("10.1.2.4"))};
      } else {
        r.answers = {rr(kQname, kAaaa, ip_bytes("fd00::1"))};
      }
      return std::vector<Bytes>{build(q, r)};
    });
    auto answer = query_dns_server(dns.server(), "API.lab.test.", 2000ms);
    REQUIRE(answer.has_value());
    CHECK(answer->addresses == Strings{"10.1.2.3", "10.1.2.4", "fd00::1"});
    CHECK(answer->server == dns.server());
    CHECK(answer->ms < 2000);
  }
  SECTION("a CNAME chain is followed; records for other names are not addresses") {
    FakeDns dns([](const Bytes& q, bool) {
      Reply r;
      r.answers = {rr(kQname, kCname, name("lb.lab.test")),
                   rr(name("lb.lab.test"), kCname, name("node.lab.test")),
                   rr(name("other.lab.test"), kA, ip_bytes("6.6.6.6"))};
      if (qtype_of(q) == kA) {
        r.answers.push_back(rr(name("NODE.lab.test"), kA, ip_bytes("10.0.0.7")));
      }
      return std::vector<Bytes>{build(q, r)};
    });
    auto answer = query_dns_server(dns.server(), "api.lab.test", 2000ms);
    REQUIRE(answer.has_value());
    CHECK(answer->addresses == Strings{"10.0.0.7"});
  }
  SECTION("a truncated answer is asked again over TCP") {
    FakeDns dns([](const Bytes& q, bool tcp) {
      Reply r;
      r.truncated = !tcp;
      if (tcp) {
        r.answers = {qtype_of(q) == kA ? rr(kQname, kA, ip_bytes("10.9.9.9"))
                                       : rr(kQname, kAaaa, ip_bytes("fd00::9"))};
      }
      return std::vector<Bytes>{build(q, r)};
    });
    auto answer = query_dns_server(dns.server(), "api.lab.test", 2000ms);
    REQUIRE(answer.has_value());
    CHECK(answer->addresses == Strings{"10.9.9.9", "fd00::9"});
    CHECK(dns.tcpQueries() == 2);
  }
  SECTION("an answer with the wrong id or question is ignored") {
    FakeDns dns([](const Bytes& q, bool) {
      Reply spoofed;
      spoofed.id = static_cast<std::uint16_t>(id_of(q) ^ 0x5555);
      spoofed.answers = {rr(kQname, kA, ip_bytes("6.6.6.6"))};
      Bytes otherQuestion = answer_with(q, {rr(kQname, kA, ip_bytes("6.6.6.7"))});
      otherQuestion[13] = 'x';  // first letter of the echoed name
      Reply real;
      if (qtype_of(q) == kA) {
        real.answers = {rr(kQname, kA, ip_bytes("10.1.2.3"))};
      }
      return std::vector<Bytes>{build(q, spoofed), otherQuestion, build(q, real)};
    });
    auto answer = query_dns_server(dns.server(), "api.lab.test", 2000ms);
    REQUIRE(answer.has_value());
    CHECK(answer->addresses == Strings{"10.1.2.3"});
  }
  SECTION("an IP literal needs no question") {
    auto answer = query_dns_server("127.0.0.1:1", "10.0.0.1", 100ms);
    REQUIRE(answer.has_value());
    CHECK(answer->addresses == Strings{"10.0.0.1"});
  }
  SECTION("only one of A and AAAA answering is still an answer, at the deadline") {
    FakeDns dns([](const Bytes& q, bool) {
      if (qtype_of(q) != kA) {
        return std::vector<Bytes>{};
      }
      return std::vector<Bytes>{answer_with(q, {rr(kQname, kA, ip_bytes("10.1.2.3"))})};
    });
    auto answer = query_dns_server(dns.server(), "api.lab.test", 300ms);
    REQUIRE(answer.has_value());
    CHECK(answer->addresses == Strings{"10.1.2.3"});
  }
}

TEST_CASE("core::query_dns_server failures", "[net]") {
  SECTION("NXDOMAIN") {
    FakeDns dns(both(3));
    auto answer = query_dns_server(dns.server(), "missing.lab.test", 2000ms);
    REQUIRE_FALSE(answer.has_value());
    CHECK(answer.error().kind == DnsFailure::nxdomain);
    CHECK(answer.error().message == "NXDOMAIN from " + dns.server());
  }
  SECTION("SERVFAIL") {
    FakeDns dns(both(2));
    auto answer = query_dns_server(dns.server(), "api.lab.test", 2000ms);
    REQUIRE_FALSE(answer.has_value());
    CHECK(answer.error().kind == DnsFailure::servfail);
    CHECK(answer.error().message == "SERVFAIL from " + dns.server());
  }
  SECTION("REFUSED") {
    FakeDns dns(both(5));
    auto answer = query_dns_server(dns.server(), "api.lab.test", 2000ms);
    REQUIRE_FALSE(answer.has_value());
    CHECK(answer.error().kind == DnsFailure::refused);
    CHECK(answer.error().message == "REFUSED from " + dns.server());
  }
  SECTION("no records") {
    FakeDns dns(both(0));
    auto answer = query_dns_server(dns.server(), "api.lab.test", 2000ms);
    REQUIRE_FALSE(answer.has_value());
    CHECK(answer.error().kind == DnsFailure::noData);
    CHECK(answer.error().message == "no A or AAAA records for api.lab.test from " + dns.server());
  }
  SECTION("a compression loop is malformed, not a hang") {
    FakeDns dns([](const Bytes& q, bool) {
      // The answer's owner name points at itself.
      const auto self = static_cast<std::uint16_t>(question_end(q));
      return std::vector<Bytes>{answer_with(q, {rr(pointer(self), kA, ip_bytes("1.2.3.4"))})};
    });
    auto answer = query_dns_server(dns.server(), "api.lab.test", 2000ms);
    REQUIRE_FALSE(answer.has_value());
    CHECK(answer.error().kind == DnsFailure::malformed);
    CHECK(answer.error().message ==
          "malformed answer from " + dns.server() + ": compression pointer loop");
  }
  SECTION("a pointer past the end is malformed") {
    FakeDns dns([](const Bytes& q, bool) {
      return std::vector<Bytes>{answer_with(q, {rr(pointer(0x3fff), kA, ip_bytes("1.2.3.4"))})};
    });
    auto answer = query_dns_server(dns.server(), "api.lab.test", 2000ms);
    REQUIRE_FALSE(answer.has_value());
    CHECK(answer.error().message ==
          "malformed answer from " + dns.server() + ": compression pointer out of range");
  }
  SECTION("a server that never answers times out within the deadline") {
    FakeDns dns([](const Bytes&, bool) { return std::vector<Bytes>{}; });
    const auto start = std::chrono::steady_clock::now();
    auto answer = query_dns_server(dns.server(), "api.lab.test", 300ms);
    const double ms = elapsed_ms(start);
    REQUIRE_FALSE(answer.has_value());
    CHECK(answer.error().kind == DnsFailure::timeout);
    CHECK(answer.error().message == "no answer from " + dns.server() + " within 300ms");
    CHECK(ms >= 290);
    CHECK(ms < 800);
  }
  SECTION("nothing listening: the port unreachable comes back as refused") {
    const int port = closed_port(SOCK_DGRAM);
    auto answer = query_dns_server("127.0.0.1:" + std::to_string(port), "api.lab.test", 2000ms);
    REQUIRE_FALSE(answer.has_value());
    CHECK(answer.error().kind == DnsFailure::network);
    CHECK(answer.error().message ==
          "no answer from 127.0.0.1:" + std::to_string(port) + ": connection refused");
  }
  SECTION("bad input") {
    auto server = query_dns_server("dns.example", "api.lab.test", 100ms);
    REQUIRE_FALSE(server.has_value());
    CHECK(server.error().kind == DnsFailure::network);
    CHECK(server.error().message == "DNS server \"dns.example\" is not an IP address");
    CHECK_FALSE(query_dns_server("127.0.0.1:0", "api", 100ms).has_value());
    CHECK_FALSE(query_dns_server("[::1", "api", 100ms).has_value());
    auto name = query_dns_server("127.0.0.1", "api..lab.test", 100ms);
    REQUIRE_FALSE(name.has_value());
    CHECK(name.error().kind == DnsFailure::malformed);
    CHECK(name.error().message == "invalid DNS name \"api..lab.test\"");
    CHECK_FALSE(query_dns_server("127.0.0.1", std::string(64, 'a') + ".test", 100ms).has_value());
  }
}

TEST_CASE("core::resolve_system", "[net]") {
  SECTION("an IP literal resolves to itself") {
    auto v4 = resolve_system("127.0.0.1", 2000ms);
    REQUIRE(v4.has_value());
    CHECK(v4->addresses == Strings{"127.0.0.1"});
    auto v6 = resolve_system("[::1]", 2000ms);
    REQUIRE(v6.has_value());
    CHECK(v6->addresses == Strings{"::1"});
  }
  SECTION("localhost comes from the hosts file") {
    auto local = resolve_system("localhost", 2000ms);
    REQUIRE(local.has_value());
    CHECK(std::find(local->addresses.begin(), local->addresses.end(), "127.0.0.1") !=
          local->addresses.end());
  }
  SECTION("an empty name") {
    auto empty = resolve_system("", 100ms);
    REQUIRE_FALSE(empty.has_value());
    CHECK(empty.error().kind == DnsFailure::nxdomain);
  }
}

TEST_CASE("core::connect_tcp", "[net]") {
  SECTION("connects to a listener; the fd is blocking and close-on-exec") {
    UniqueFd listener = listen_loopback();
    const int port = bound_port(listener.get());
    auto conn = connect_tcp("127.0.0.1", port, 2000ms);
    REQUIRE(conn.has_value());
    CHECK(conn->fd);
    CHECK(conn->address == "127.0.0.1");
    CHECK(conn->port == port);
    CHECK(conn->ms < 2000);
    CHECK((::fcntl(conn->fd.get(), F_GETFL) & O_NONBLOCK) == 0);
    CHECK((::fcntl(conn->fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
  }
  SECTION("a closed port is refused") {
    const int port = closed_port(SOCK_STREAM);
    auto conn = connect_tcp("127.0.0.1", port, 2000ms);
    REQUIRE_FALSE(conn.has_value());
    CHECK(conn.error().kind == ConnectFailure::refused);
    CHECK(conn.error().err == ECONNREFUSED);
    CHECK(conn.error().message ==
          "dial tcp 127.0.0.1:" + std::to_string(port) + ": connect: connection refused");
  }
  SECTION("a listener whose accept queue is full never completes the handshake") {
    // Linux drops the SYN while the accept queue is full, so the connect hangs like one to a
    // black-holed address, without any traffic leaving the machine.
    UniqueFd listener = listen_loopback(0);
    const int port = bound_port(listener.get());
    std::vector<kp::core::Connection> queued;
    std::optional<kp::core::ConnectError> timedOut;
    double ms = 0;
    for (int i = 0; i < 16 && !timedOut; ++i) {
      const auto start = std::chrono::steady_clock::now();
      auto conn = connect_tcp("127.0.0.1", port, 150ms);
      if (conn) {
        queued.push_back(std::move(*conn));
      } else {
        timedOut = conn.error();
        ms = elapsed_ms(start);
      }
    }
    REQUIRE(timedOut.has_value());
    CHECK(timedOut->kind == ConnectFailure::timeout);
    CHECK(timedOut->message == "dial tcp 127.0.0.1:" + std::to_string(port) + ": i/o timeout");
    CHECK(ms >= 140);
    CHECK(ms < 700);
  }
  SECTION("bad input") {
    auto name = connect_tcp("api.lab.test", 6443, 100ms);
    REQUIRE_FALSE(name.has_value());
    CHECK(name.error().kind == ConnectFailure::other);
    CHECK(name.error().message == "dial tcp api.lab.test:6443: not an IP address");
    auto port = connect_tcp("::1", 0, 100ms);
    REQUIRE_FALSE(port.has_value());
    CHECK(port.error().message == "dial tcp [::1]:0: invalid port");
  }
}

TEST_CASE("core::classify_connect_errno", "[net]") {
  CHECK(classify_connect_errno(ECONNREFUSED) == ConnectFailure::refused);
  CHECK(classify_connect_errno(ETIMEDOUT) == ConnectFailure::timeout);
  CHECK(classify_connect_errno(EHOSTUNREACH) == ConnectFailure::unreachable);
  CHECK(classify_connect_errno(ENETUNREACH) == ConnectFailure::unreachable);
  CHECK(classify_connect_errno(EADDRNOTAVAIL) == ConnectFailure::unreachable);
  CHECK(classify_connect_errno(ECONNRESET) == ConnectFailure::reset);
  CHECK(classify_connect_errno(EACCES) == ConnectFailure::other);
  CHECK(kp::core::to_string(ConnectFailure::refused) == "refused");
  CHECK(kp::core::to_string(ConnectFailure::timeout) == "timed out");
  CHECK(kp::core::to_string(ConnectFailure::unreachable) == "unreachable");
  CHECK(kp::core::to_string(ConnectFailure::reset) == "reset");
  CHECK(kp::core::to_string(ConnectFailure::other) == "failed");
  CHECK(kp::core::to_string(DnsFailure::nxdomain) == "NXDOMAIN");
}

TEST_CASE("core::SystemNetwork::read_file", "[net]") {
  kp::core::SystemNetwork net;
  const auto path = std::filesystem::temp_directory_path() /
                    ("kp-net-test-" + std::to_string(::getpid()) + ".hosts");
  {
    std::ofstream out(path);
    out << "10.0.0.5 api.lab.test\n";
  }
  CHECK(net.read_file(path.string()) == "10.0.0.5 api.lab.test\n");
  std::filesystem::remove(path);
  CHECK(net.read_file(path.string()).empty());
}

// A Unix stream socket server for one exchange: reads the command line, then runs `answer`.
namespace {
struct UnixServer {
  std::filesystem::path path;
  kp::core::UniqueFd listener;
  std::thread thread;
  std::string received;

  explicit UnixServer(std::function<void(int)> answer)
      : path(std::filesystem::temp_directory_path() /
             ("kp-unix-" + std::to_string(::getpid()) + ".sock")) {
    std::filesystem::remove(path);
    listener = kp::core::UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener.get(), 4) == 0);
    thread = std::thread([this, answer] {
      kp::core::UniqueFd peer(::accept(listener.get(), nullptr, nullptr));
      char buffer[256];
      const ssize_t n = ::read(peer.get(), buffer, sizeof buffer);
      received.assign(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
      answer(peer.get());
    });
  }
  ~UnixServer() {
    thread.join();
    std::filesystem::remove(path);
  }
};
}  // namespace

TEST_CASE("core::unix_socket_exchange", "[net]") {
  using kp::core::unix_socket_exchange;
  using namespace std::chrono_literals;
  SECTION("the answer up to the server's close") {
    UnixServer server([](int fd) {
      const std::string csv = "# pxname,svname,status\nbe,api1,UP\n";
      REQUIRE(::write(fd, csv.data(), csv.size()) == static_cast<ssize_t>(csv.size()));
    });
    const auto answer = unix_socket_exchange(server.path.string(), "show stat\n", 2s, 1 << 20);
    REQUIRE(answer);
    CHECK(*answer == "# pxname,svname,status\nbe,api1,UP\n");
    CHECK(server.received == "show stat\n");
  }
  SECTION("a server that never closes: bounded by the deadline") {
    std::atomic<bool> done{false};
    UnixServer server([&done](int) {
      while (!done) {
        std::this_thread::sleep_for(10ms);
      }
    });
    const auto start = std::chrono::steady_clock::now();
    const auto answer = unix_socket_exchange(server.path.string(), "show stat\n", 300ms, 1 << 20);
    done = true;
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    REQUIRE_FALSE(answer);
    CHECK(answer.error().message ==
          "dial unix " + server.path.string() + ": read: no end of the answer within 300ms");
  }
  SECTION("an answer over the limit") {
    UnixServer server([](int fd) {
      const std::string big(4096, 'x');
      (void)!::write(fd, big.data(), big.size());
    });
    const auto answer = unix_socket_exchange(server.path.string(), "show stat\n", 2s, 1000);
    REQUIRE_FALSE(answer);
    CHECK(answer.error().message.ends_with("read: the answer is over 1000 bytes"));
  }
  SECTION("no socket at the path") {
    const auto answer = unix_socket_exchange("/nonexistent/haproxy.sock", "show stat\n", 1s, 100);
    REQUIRE_FALSE(answer);
    CHECK(answer.error().message ==
          "dial unix /nonexistent/haproxy.sock: connect: no such file or directory");
  }
}
