// The DNS client (query_dns_server: UDP with resend, TCP retry of a truncated answer, answers
// matched to questions), and what /etc/hosts and /etc/resolv.conf say.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/net/dns_wire.h"
#include "core/net/net.h"
#include "core/net/net_detail.h"
#include "core/net/socket.h"
#include "core/util/text.h"

#ifdef _WIN32
#include <iphlpapi.h>
#endif

namespace kp::core {

using namespace detail;

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// Whitespace-separated fields of one line.
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) {
      ++i;
    }
    const std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) {
      ++i;
    }
    if (i > start) {
      out.push_back(line.substr(start, i - start));
    }
  }
  return out;
}

template <class F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const auto end = text.find('\n');
    f(text.substr(0, end));
    if (end == std::string_view::npos) {
      break;
    }
    text.remove_prefix(end + 1);
  }
}

// An address as configuration files write it: IPv6 may carry a "%zone" (link-local servers).
bool is_configured_address(std::string_view text) {
  const auto percent = text.find('%');
  if (percent == std::string_view::npos) {
    return is_ip_literal(text);
  }
  std::string v6(text.substr(0, percent));
  in6_addr addr{};
  return percent + 1 < text.size() && inet_pton(AF_INET6, v6.c_str(), &addr) == 1;
}

// ---- the client ----

// One of the two questions (A, AAAA) and what came back for it.
struct Question {
  std::uint16_t type = 0;
  std::uint16_t id = 0;
  Bytes packet;
  bool done = false;
  std::optional<DnsError> failure;
  std::vector<std::string> addresses;
};

std::string_view type_name(std::uint16_t type) {
  return type == kTypeA ? "A" : "AAAA";
}

// Turns a checked answer into addresses or a failure for `q`.
void settle(Question& q, const DnsMessage& msg, const std::string& qname,
            const std::string& server) {
  q.done = true;
  if (msg.rcode != 0) {
    DnsFailure kind = DnsFailure::servfail;
    if (msg.rcode == 3) {
      kind = DnsFailure::nxdomain;
    } else if (msg.rcode == 5) {
      kind = DnsFailure::refused;
    }
    const std::string_view name = rcode_name(msg.rcode);
    const std::string label =
        name.empty() ? "RCODE " + std::to_string(msg.rcode) : std::string(name);
    q.failure = DnsError{kind, label + " from " + server};
    return;
  }
  // Follow the CNAME chain from the question; each hop consumes a record, so a loop ends.
  std::string target = qname;
  for (std::size_t hops = 0;; ++hops) {
    if (hops > msg.answers.size()) {
      q.failure = DnsError{DnsFailure::malformed,
                           "malformed answer from " + server + ": CNAME loop at " + target};
      return;
    }
    const auto cname = std::find_if(msg.answers.begin(), msg.answers.end(), [&](const auto& rr) {
      return rr.type == kTypeCname && rr.cls == kClassIn && rr.owner == target;
    });
    if (cname == msg.answers.end()) {
      break;
    }
    target = cname->data;
  }
  for (const auto& rr : msg.answers) {
    if (rr.type == q.type && rr.cls == kClassIn && rr.owner == target) {
      append_unique(q.addresses, rr.data);
    }
  }
}

enum class Verdict { ignore, settled };

// Checks one received message against the outstanding questions; a message that is not an
// answer to one of them is ignored (a late duplicate, a spoofing attempt).
Verdict consider(const Bytes& msg, std::vector<Question>& questions, const std::string& qname,
                 const std::string& server, bool overTcp, Question** truncatedOut) {
  auto header = parse_header(msg);
  if (!header || !header->response) {
    return Verdict::ignore;
  }
  const auto q = std::find_if(questions.begin(), questions.end(),
                              [&](const Question& x) { return !x.done && x.id == header->id; });
  if (q == questions.end()) {
    return Verdict::ignore;
  }
  DnsMessage& m = *header;
  const auto malformed = [&](const Error& error) {
    q->done = true;
    q->failure =
        DnsError{DnsFailure::malformed, "malformed answer from " + server + ": " + error.message};
    return Verdict::settled;
  };
  std::size_t pos = 0;
  auto question = parse_question(msg, m, pos);
  if (!question) {
    return malformed(question.error());
  }
  // No echoed question is only tolerated on an error (some servers drop it on REFUSED).
  if (m.questions == 0 && m.rcode == 0) {
    return Verdict::ignore;
  }
  if (m.questions == 1 && (m.qname != qname || m.qtype != q->type || m.qclass != kClassIn)) {
    return Verdict::ignore;
  }
  if (m.truncated && !overTcp) {
    *truncatedOut = &*q;
    return Verdict::settled;
  }
  auto answers = parse_answers(msg, m, pos);
  if (!answers) {
    return malformed(answers.error());
  }
  settle(*q, m, qname, server);
  return Verdict::settled;
}

// RFC 1035 4.2.2: over TCP each message is preceded by its 2-byte length.
void retry_over_tcp(Question& q, const std::string& ip, int port, const std::string& qname,
                    const std::string& server, Deadline deadline) {
  q.done = true;
  auto conn = connect_tcp(ip, port,
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::max(deadline - Clock::now(), Clock::duration::zero())));
  if (!conn) {
    const DnsFailure kind =
        conn.error().kind == ConnectFailure::timeout ? DnsFailure::timeout : DnsFailure::network;
    q.failure = DnsError{kind, "truncated answer from " + server +
                                   ", retry over TCP failed: " + conn.error().message};
    return;
  }
  Bytes framed;
  put16(framed, static_cast<std::uint16_t>(q.packet.size()));
  framed.insert(framed.end(), q.packet.begin(), q.packet.end());
  const int fd = conn->fd.get();
  auto io = send_all(
      fd, std::string_view(reinterpret_cast<const char*>(framed.data()), framed.size()), deadline);
  std::array<char, 2> lengthBytes{};
  if (io.status == IoStatus::ok) {
    io = recv_exact(fd, lengthBytes.data(), lengthBytes.size(), deadline);
  }
  Bytes msg;
  if (io.status == IoStatus::ok) {
    msg.resize(static_cast<std::size_t>((static_cast<std::uint8_t>(lengthBytes[0]) << 8) |
                                        static_cast<std::uint8_t>(lengthBytes[1])));
    io = recv_exact(fd, reinterpret_cast<char*>(msg.data()), msg.size(), deadline);
  }
  const std::string prefix = "TCP retry to " + server + ": ";
  switch (io.status) {
    case IoStatus::ok:
      break;
    case IoStatus::timeout:
      q.failure = DnsError{DnsFailure::timeout, prefix + "no answer before the deadline"};
      return;
    case IoStatus::eof:
      q.failure = DnsError{DnsFailure::network, prefix + "connection closed before an answer"};
      return;
    case IoStatus::error:
      q.failure = DnsError{DnsFailure::network, prefix + describe_errno(io.err)};
      return;
  }
  std::vector<Question> one{q};
  one[0].done = false;
  Question* unused = nullptr;
  if (consider(msg, one, qname, server, true, &unused) == Verdict::ignore) {
    q.failure = DnsError{DnsFailure::malformed, "malformed answer from " + server +
                                                    ": TCP answer does not match the query"};
    return;
  }
  q = std::move(one[0]);
}

struct ServerAddress {
  std::string ip;
  int port = 53;
};

std::optional<int> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const int port = std::stoi(std::string(text));
  if (port < 1 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

// "ip", "ip:port", "[v6]:port" or a bare IPv6 literal.
std::optional<ServerAddress> parse_server(std::string_view text) {
  ServerAddress out;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    out.ip = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) {
        return std::nullopt;
      }
      auto port = parse_port(rest.substr(1));
      if (!port) {
        return std::nullopt;
      }
      out.port = *port;
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    out.ip = std::string(text.substr(0, colon));
    auto port = parse_port(text.substr(colon + 1));
    if (!port) {
      return std::nullopt;
    }
    out.port = *port;
  } else {
    out.ip = std::string(text);
  }
  if (!is_ip_literal(out.ip)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::vector<std::string> hosts_file_lookup(std::string_view hostsContents, std::string_view name) {
  std::vector<std::string> out;
  const std::string wanted = ascii_lower(name);
  if (wanted.empty()) {
    return out;
  }
  for_each_line(hostsContents, [&](std::string_view line) {
    line = line.substr(0, line.find('#'));
    const auto fields = fields_of(line);
    if (fields.size() < 2 || !is_configured_address(fields[0])) {
      return;
    }
    for (std::size_t i = 1; i < fields.size(); ++i) {
      if (ascii_lower(fields[i]) == wanted) {
        append_unique(out, std::string(fields[0]));
        return;
      }
    }
  });
  return out;
}

std::vector<std::string> resolv_conf_nameservers(std::string_view resolvConf) {
  std::vector<std::string> out;
  for_each_line(resolvConf, [&](std::string_view line) {
    line = line.substr(0, line.find_first_of("#;"));
    const auto fields = fields_of(line);
    if (fields.size() >= 2 && fields[0] == "nameserver" && is_configured_address(fields[1])) {
      out.emplace_back(fields[1]);
    }
  });
  return out;
}

std::string hosts_file_path() {
#ifdef _WIN32
  const char* root = std::getenv("SystemRoot");
  return std::string(root != nullptr && *root != '\0' ? root : "C:\\Windows") +
         "\\System32\\drivers\\etc\\hosts";
#else
  return "/etc/hosts";
#endif
}

std::string dns_servers_origin() {
#ifdef _WIN32
  return "the network adapters' DNS servers (ipconfig /all)";
#else
  return "/etc/resolv.conf";
#endif
}

std::vector<std::string> Network::dns_servers() {
#ifdef _WIN32
  // Go's dnsReadConfig on Windows (net/dnsconfig_windows.go): the DNS servers of the adapters
  // that are up and have a gateway, in adapter order (the order Windows asks them), without
  // fec0::/16 (the site-local placeholders Windows lists when none is set).
  std::vector<std::string> out;
  ULONG size = 16 * 1024;
  std::vector<unsigned char> buffer;
  ULONG rc = ERROR_BUFFER_OVERFLOW;
  for (int tries = 0; tries < 3 && rc == ERROR_BUFFER_OVERFLOW; ++tries) {
    buffer.resize(size);
    rc = ::GetAdaptersAddresses(AF_UNSPEC,
                                GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST |
                                    GAA_FLAG_SKIP_FRIENDLY_NAME | GAA_FLAG_INCLUDE_GATEWAYS,
                                nullptr, reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buffer.data()),
                                &size);
  }
  if (rc != NO_ERROR) {
    return out;
  }
  for (auto* adapter = reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buffer.data()); adapter != nullptr;
       adapter = adapter->Next) {
    if (adapter->OperStatus != IfOperStatusUp || adapter->FirstGatewayAddress == nullptr) {
      continue;
    }
    for (auto* dns = adapter->FirstDnsServerAddress; dns != nullptr; dns = dns->Next) {
      const sockaddr* sa = dns->Address.lpSockaddr;
      char text[INET6_ADDRSTRLEN] = {};
      if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
      } else if (sa->sa_family == AF_INET6) {
        const auto* in6 = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
        const auto* bytes = reinterpret_cast<const unsigned char*>(in6);
        if (bytes[0] == 0xfe && bytes[1] == 0xc0) {
          continue;
        }
        inet_ntop(AF_INET6, in6, text, sizeof text);
      }
      const std::string address = text;
      if (!address.empty()) {
        append_unique(out, address);
      }
    }
  }
  return out;
#else
  return resolv_conf_nameservers(read_file("/etc/resolv.conf"));
#endif
}

std::string_view to_string(DnsFailure kind) {
  constexpr NameTable<DnsFailure> kNames[] = {
      {"NXDOMAIN", DnsFailure::nxdomain},  {"no data", DnsFailure::noData},
      {"SERVFAIL", DnsFailure::servfail},  {"REFUSED", DnsFailure::refused},
      {"timeout", DnsFailure::timeout},    {"network", DnsFailure::network},
      {"malformed", DnsFailure::malformed}};
  return name_of(kNames, kind, "network");
}

Result<DnsAnswer, DnsError> query_dns_server(std::string_view serverText, std::string_view name,
                                             std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  const Deadline deadline = start + timeout;
  const auto server = parse_server(serverText);
  if (!server) {
    return DnsError{DnsFailure::network,
                    "DNS server \"" + std::string(serverText) + "\" is not an IP address"};
  }
  const std::string display = server->port == 53 ? server->ip : host_port(server->ip, server->port);
  if (is_ip_literal(name)) {
    return DnsAnswer{{std::string(name)}, display, 0};
  }
  const auto qnameWire = encode_name(name);
  if (!qnameWire) {
    return DnsError{DnsFailure::malformed, "invalid DNS name \"" + std::string(name) + "\""};
  }
  std::string qname = ascii_lower(name);
  if (qname.ends_with('.')) {
    qname.pop_back();
  }

  // Unpredictable ids (and the kernel's random source port) are the whole defence against an
  // off-path spoofed answer; random_device reads the kernel's CSPRNG on Linux.
  std::random_device random;
  std::vector<Question> questions(2);
  questions[0].type = kTypeA;
  questions[1].type = kTypeAaaa;
  questions[0].id = static_cast<std::uint16_t>(random());
  do {
    questions[1].id = static_cast<std::uint16_t>(random());
  } while (questions[1].id == questions[0].id);
  for (auto& q : questions) {
    q.packet = build_query(q.id, *qnameWire, q.type);
  }

  const auto addr = make_sockaddr(server->ip, server->port);
  UniqueFd udp(open_socket(addr->family(), SOCK_DGRAM));
  if (!udp) {
    return DnsError{DnsFailure::network, "socket: " + describe_errno(errno)};
  }
  // A connected UDP socket only receives from the server, and an ICMP port unreachable comes
  // back as ECONNREFUSED instead of a silent timeout.
  if (sock::connect(udp.get(), addr->get(), addr->length) != 0) {
    return DnsError{DnsFailure::network, "connect to " + display + ": " + describe_errno(errno)};
  }

  const auto network_error = [&](int err) {
    return DnsError{DnsFailure::network, "no answer from " + display + ": " + describe_errno(err)};
  };
  // Resent while unanswered: a lost datagram should cost a second, not the whole deadline.
  constexpr auto kResendEvery = std::chrono::milliseconds(1000);
  auto nextSend = start;
  Bytes buffer(65535);
  for (;;) {
    const bool pending =
        std::any_of(questions.begin(), questions.end(), [](const Question& q) { return !q.done; });
    if (!pending || Clock::now() >= deadline) {
      break;
    }
    if (Clock::now() >= nextSend) {
      for (const auto& q : questions) {
        if (!q.done && sock::send(udp.get(), q.packet.data(), q.packet.size(), kNoSigPipe) < 0 &&
            errno != EAGAIN && errno != EWOULDBLOCK) {
          return network_error(errno);
        }
      }
      nextSend = Clock::now() + kResendEvery;
    }
    pollfd pfd = sock::poll_entry(udp.get(), POLLIN);
    const int wait = std::min(remaining_ms(deadline), remaining_ms(nextSend));
    const int ready = sock::poll(&pfd, 1, wait);
    if (ready < 0 && errno != EINTR) {
      return network_error(errno);
    }
    if (ready <= 0) {
      continue;
    }
    for (;;) {
      const long n = sock::recv(udp.get(), buffer.data(), buffer.size(), 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
          break;
        }
#ifdef _WIN32
        // Winsock reports the ICMP port unreachable of a connected UDP socket as a reset.
        if (errno == ECONNRESET) {
          return network_error(ECONNREFUSED);
        }
#endif
        return network_error(errno);
      }
      const Bytes msg(buffer.begin(), buffer.begin() + n);
      Question* truncated = nullptr;
      consider(msg, questions, qname, display, false, &truncated);
      if (truncated != nullptr) {
        retry_over_tcp(*truncated, server->ip, server->port, qname, display, deadline);
      }
    }
  }

  DnsAnswer answer;
  answer.server = display;
  answer.ms = ms_since(start);
  for (const auto& q : questions) {
    answer.addresses.insert(answer.addresses.end(), q.addresses.begin(), q.addresses.end());
  }
  // An NXDOMAIN is authoritative for the name, whatever the other question got.
  for (const auto& q : questions) {
    if (q.failure && q.failure->kind == DnsFailure::nxdomain) {
      return *q.failure;
    }
  }
  if (!answer.addresses.empty()) {
    return answer;
  }
  for (const DnsFailure kind : {DnsFailure::servfail, DnsFailure::refused, DnsFailure::malformed,
                                DnsFailure::network, DnsFailure::timeout}) {
    for (const auto& q : questions) {
      if (q.failure && q.failure->kind == kind) {
        return *q.failure;
      }
    }
  }
  const auto unanswered =
      std::count_if(questions.begin(), questions.end(), [](const Question& q) { return !q.done; });
  if (unanswered > 0) {
    const std::string which =
        unanswered == 2
            ? std::string()
            : std::string(type_name(questions[0].done ? questions[1].type : questions[0].type)) +
                  " ";
    return DnsError{DnsFailure::timeout, "no " + which + "answer from " + display + " within " +
                                             std::to_string(timeout.count()) + "ms"};
  }
  return DnsError{DnsFailure::noData, "no A or AAAA records for " + qname + " from " + display};
}

}  // namespace kp::core
