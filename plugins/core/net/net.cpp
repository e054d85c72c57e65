#include "core/net/net.h"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <netdb.h>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>

#include "core/util/files.h"

namespace kp::core {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Milliseconds left for poll(), rounded up so a sub-millisecond remainder does not spin; 0 once
// the deadline has passed.
int remaining_ms(Deadline deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) {
    return 0;
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, 1 << 30));
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// strerror() capitalises; Go (and so kubectl) prints the lower-case form users search for.
std::string describe_errno(int err) {
  std::string text = std::strerror(err);
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

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

// A socket address for an IP literal; nullopt when `ip` is not one.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

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

// "10.0.0.1:6443", "[::1]:6443".
std::string host_port(std::string_view ip, int port) {
  const std::string p = std::to_string(port);
  if (ip.find(':') != std::string_view::npos) {
    return "[" + std::string(ip) + "]:" + p;
  }
  return std::string(ip) + ":" + p;
}

void append_unique(std::vector<std::string>& out, std::string value) {
  if (std::find(out.begin(), out.end(), value) == out.end()) {
    out.push_back(std::move(value));
  }
}

// ---- DNS wire format (RFC 1035), just enough for A/AAAA/CNAME answers ----

constexpr std::uint16_t kTypeA = 1;
constexpr std::uint16_t kTypeCname = 5;
constexpr std::uint16_t kTypeAaaa = 28;
constexpr std::uint16_t kClassIn = 1;
constexpr std::size_t kHeaderBytes = 12;
// Bounds that make a hostile answer terminate: a real name never needs more than a handful of
// pointers, and 255 bytes is the RFC 1035 limit for a whole name.
constexpr int kMaxPointerJumps = 32;
constexpr std::size_t kMaxNameBytes = 255;

using Bytes = std::vector<std::uint8_t>;

std::uint16_t read16(const Bytes& msg, std::size_t at) {
  return static_cast<std::uint16_t>((msg[at] << 8) | msg[at + 1]);
}

void put16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xff));
}

// The wire labels of `name` (one trailing dot allowed); nullopt for an empty label, a label
// over 63 bytes or a name over 255 bytes.
std::optional<Bytes> encode_name(std::string_view name) {
  if (name.ends_with('.')) {
    name.remove_suffix(1);
  }
  if (name.empty()) {
    return std::nullopt;
  }
  Bytes out;
  for (;;) {
    const auto dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63) {
      return std::nullopt;
    }
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) {
      break;
    }
    name.remove_prefix(dot + 1);
  }
  out.push_back(0);
  if (out.size() > kMaxNameBytes) {
    return std::nullopt;
  }
  return out;
}

Bytes build_query(std::uint16_t id, const Bytes& qname, std::uint16_t qtype) {
  Bytes out;
  put16(out, id);
  put16(out, 0x0100);  // standard query, recursion desired: we ask a resolver, not an authority
  put16(out, 1);       // one question
  put16(out, 0);
  put16(out, 0);
  put16(out, 0);
  out.insert(out.end(), qname.begin(), qname.end());
  put16(out, qtype);
  put16(out, kClassIn);
  return out;
}

// Reads a (possibly compressed) name at `pos` as lower-case dotted text and moves `pos` past
// it; the error says what is wrong.
Result<std::string> read_name(const Bytes& msg, std::size_t& pos) {
  std::size_t p = pos;
  bool jumped = false;
  int jumps = 0;
  std::size_t wireBytes = 1;
  std::string out;
  for (;;) {
    if (p >= msg.size()) {
      return Error{"name runs past the end of the message"};
    }
    const std::uint8_t length = msg[p];
    if ((length & 0xC0) == 0xC0) {
      if (p + 1 >= msg.size()) {
        return Error{"name runs past the end of the message"};
      }
      const std::size_t target = static_cast<std::size_t>(((length & 0x3F) << 8) | msg[p + 1]);
      if (!jumped) {
        pos = p + 2;
        jumped = true;
      }
      if (++jumps > kMaxPointerJumps) {
        return Error{"compression pointer loop"};
      }
      if (target >= msg.size()) {
        return Error{"compression pointer out of range"};
      }
      p = target;
      continue;
    }
    if ((length & 0xC0) != 0) {
      return Error{"unsupported label type"};
    }
    if (length == 0) {
      if (!jumped) {
        pos = p + 1;
      }
      break;
    }
    if (p + 1 + length > msg.size()) {
      return Error{"name runs past the end of the message"};
    }
    wireBytes += length + 1u;
    if (wireBytes > kMaxNameBytes) {
      return Error{"name longer than 255 bytes"};
    }
    if (!out.empty()) {
      out += '.';
    }
    out += lower(std::string_view(reinterpret_cast<const char*>(&msg[p + 1]), length));
    p += 1u + length;
  }
  return out;
}

struct ResourceRecord {
  std::string owner;
  std::uint16_t type = 0;
  std::uint16_t cls = 0;
  std::string data;  // the address text for A/AAAA, the target name for CNAME
};

struct DnsMessage {
  std::uint16_t id = 0;
  bool response = false;
  bool truncated = false;
  int rcode = 0;
  std::uint16_t questions = 0;
  std::string qname;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  std::vector<ResourceRecord> answers;
};

// Header only, so an answer that is not ours is dropped before we trust anything else in it.
std::optional<DnsMessage> parse_header(const Bytes& msg) {
  if (msg.size() < kHeaderBytes) {
    return std::nullopt;
  }
  DnsMessage out;
  out.id = read16(msg, 0);
  const std::uint16_t flags = read16(msg, 2);
  out.response = (flags & 0x8000) != 0;
  out.truncated = (flags & 0x0200) != 0;
  out.rcode = flags & 0x000F;
  out.questions = read16(msg, 4);
  return out;
}

Status parse_question(const Bytes& msg, DnsMessage& out, std::size_t& pos) {
  pos = kHeaderBytes;
  if (out.questions == 0) {
    return {};
  }
  if (out.questions != 1) {
    return Error{"answer has " + std::to_string(out.questions) + " questions"};
  }
  auto name = read_name(msg, pos);
  if (!name) {
    return name.error();
  }
  if (pos + 4 > msg.size()) {
    return Error{"question runs past the end of the message"};
  }
  out.qname = *name;
  out.qtype = read16(msg, pos);
  out.qclass = read16(msg, pos + 2);
  pos += 4;
  return {};
}

Status parse_answers(const Bytes& msg, DnsMessage& out, std::size_t pos) {
  const std::uint16_t count = read16(msg, 6);
  for (std::uint16_t i = 0; i < count; ++i) {
    auto owner = read_name(msg, pos);
    if (!owner) {
      return owner.error();
    }
    if (pos + 10 > msg.size()) {
      return Error{"record runs past the end of the message"};
    }
    ResourceRecord rr;
    rr.owner = *owner;
    rr.type = read16(msg, pos);
    rr.cls = read16(msg, pos + 2);
    const std::size_t length = read16(msg, pos + 8);
    pos += 10;
    if (pos + length > msg.size()) {
      return Error{"record data runs past the end of the message"};
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (rr.type == kTypeA) {
      if (length != 4) {
        return Error{"A record with " + std::to_string(length) + " bytes"};
      }
      inet_ntop(AF_INET, &msg[pos], text, sizeof text);
      rr.data = text;
    } else if (rr.type == kTypeAaaa) {
      if (length != 16) {
        return Error{"AAAA record with " + std::to_string(length) + " bytes"};
      }
      inet_ntop(AF_INET6, &msg[pos], text, sizeof text);
      rr.data = text;
    } else if (rr.type == kTypeCname) {
      std::size_t at = pos;
      auto target = read_name(msg, at);
      if (!target) {
        return target.error();
      }
      if (at > pos + length) {
        return Error{"CNAME target runs past its record"};
      }
      rr.data = *target;
    }
    pos += length;
    out.answers.push_back(std::move(rr));
  }
  return {};
}

std::string_view rcode_name(int rcode) {
  switch (rcode) {
    case 1:
      return "FORMERR";
    case 2:
      return "SERVFAIL";
    case 3:
      return "NXDOMAIN";
    case 4:
      return "NOTIMP";
    case 5:
      return "REFUSED";
    default:
      return "";
  }
}

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
  std::size_t pos = 0;
  auto question = parse_question(msg, m, pos);
  if (!question) {
    q->done = true;
    q->failure = DnsError{DnsFailure::malformed,
                          "malformed answer from " + server + ": " + question.error().message};
    return Verdict::settled;
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
    q->done = true;
    q->failure = DnsError{DnsFailure::malformed,
                          "malformed answer from " + server + ": " + answers.error().message};
    return Verdict::settled;
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

bool is_ip_literal(std::string_view host) {
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) {
    return false;
  }
  const std::string text(host);
  in6_addr buffer{};
  return inet_pton(AF_INET, text.c_str(), &buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), &buffer) == 1;
}

std::vector<std::string> hosts_file_lookup(std::string_view hostsContents, std::string_view name) {
  std::vector<std::string> out;
  const std::string wanted = lower(name);
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
      if (lower(fields[i]) == wanted) {
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

std::string_view to_string(DnsFailure kind) {
  switch (kind) {
    case DnsFailure::nxdomain:
      return "NXDOMAIN";
    case DnsFailure::noData:
      return "no data";
    case DnsFailure::servfail:
      return "SERVFAIL";
    case DnsFailure::refused:
      return "REFUSED";
    case DnsFailure::timeout:
      return "timeout";
    case DnsFailure::network:
      return "network";
    case DnsFailure::malformed:
      return "malformed";
  }
  return "network";
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
  std::string qname = lower(name);
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
  UniqueFd udp(::socket(addr->family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!udp) {
    return DnsError{DnsFailure::network, "socket: " + describe_errno(errno)};
  }
  // A connected UDP socket only receives from the server, and an ICMP port unreachable comes
  // back as ECONNREFUSED instead of a silent timeout.
  if (::connect(udp.get(), addr->get(), addr->length) != 0) {
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
        if (!q.done && ::send(udp.get(), q.packet.data(), q.packet.size(), MSG_NOSIGNAL) < 0 &&
            errno != EAGAIN && errno != EWOULDBLOCK) {
          return network_error(errno);
        }
      }
      nextSend = Clock::now() + kResendEvery;
    }
    pollfd pfd{udp.get(), POLLIN, 0};
    const int wait = std::min(remaining_ms(deadline), remaining_ms(nextSend));
    const int ready = ::poll(&pfd, 1, wait);
    if (ready < 0 && errno != EINTR) {
      return network_error(errno);
    }
    if (ready <= 0) {
      continue;
    }
    for (;;) {
      const ssize_t n = ::recv(udp.get(), buffer.data(), buffer.size(), 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
          break;
        }
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
  if (rc == EAI_SYSTEM) {
    reason = describe_errno(lookup->err);
  }
  return DnsError{kind, "lookup " + host + ": " + reason};
}

std::string_view to_string(ConnectFailure kind) {
  switch (kind) {
    case ConnectFailure::refused:
      return "refused";
    case ConnectFailure::timeout:
      return "timed out";
    case ConnectFailure::unreachable:
      return "unreachable";
    case ConnectFailure::reset:
      return "reset";
    case ConnectFailure::other:
      return "failed";
  }
  return "failed";
}

ConnectFailure classify_connect_errno(int err) {
  switch (err) {
    case ECONNREFUSED:
      return ConnectFailure::refused;
    case ETIMEDOUT:
      return ConnectFailure::timeout;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EADDRNOTAVAIL:
      return ConnectFailure::unreachable;
    case ECONNRESET:
      return ConnectFailure::reset;
    default:
      return ConnectFailure::other;
  }
}

Result<Connection, ConnectError> connect_tcp(std::string_view ip, int port,
                                             std::chrono::milliseconds timeout) {
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
  UniqueFd fd(::socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    const int err = errno;
    return fail(ConnectFailure::other, err, "socket: " + describe_errno(err));
  }
  if (::connect(fd.get(), addr->get(), addr->length) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) {
      const int err = errno;
      return fail(classify_connect_errno(err), err, "connect: " + describe_errno(err));
    }
    for (;;) {
      pollfd pfd{fd.get(), POLLOUT, 0};
      const int ready = ::poll(&pfd, 1, remaining_ms(deadline));
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
    socklen_t length = sizeof err;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &length) != 0) {
      err = errno;
    }
    if (err != 0) {
      return fail(classify_connect_errno(err), err, "connect: " + describe_errno(err));
    }
  }
  // Callers (TLS, a proxy handshake) expect an ordinary blocking socket.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    const int err = errno;
    return fail(ConnectFailure::other, err, "fcntl: " + describe_errno(err));
  }
  return Connection{std::move(fd), address_text(addr->get()), port, ms_since(start)};
}

IoResult send_all(int fd, std::string_view data, Deadline deadline) {
  IoResult out;
  while (out.bytes < data.size()) {
    pollfd pfd{fd, POLLOUT, 0};
    const int ready = ::poll(&pfd, 1, remaining_ms(deadline));
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
    const ssize_t n =
        ::send(fd, data.data() + out.bytes, data.size() - out.bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
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
    pollfd pfd{fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, remaining_ms(deadline));
    if (ready == 0) {
      return IoResult{IoStatus::timeout, 0, 0};
    }
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return IoResult{IoStatus::error, errno, 0};
    }
    const ssize_t n = ::recv(fd, buffer, size, flags | MSG_DONTWAIT);
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

std::string SystemNetwork::read_file(const std::string& path) {
  // hosts and resolv.conf are small; a huge one is not worth buffering.
  auto contents = core::read_file(path, 1024 * 1024);
  return contents ? std::move(*contents) : std::string();
}

}  // namespace kp::core
