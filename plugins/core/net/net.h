// Name resolution and TCP connects with deadlines and classified failures: the evidence behind
// the `dns.*` and `tcp.*` checks. A refused connection or an NXDOMAIN is a value, never an
// exception, and nothing here blocks past the deadline it is given.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/fd.h"
#include "core/util/result.h"

namespace kp::core {

// True for an IPv4 or IPv6 literal (brackets not included, no "%zone").
bool is_ip_literal(std::string_view host);

// Addresses for `name` in a hosts file's contents (/etc/hosts format: '#' comments, aliases,
// several lines per name; names compared case-insensitively), in file order without
// duplicates; empty when the name is absent. Lines whose address is not an IP are skipped, as
// glibc does.
std::vector<std::string> hosts_file_lookup(std::string_view hostsContents, std::string_view name);

// Nameserver IPs from resolv.conf contents, in order ('#' and ';' comments). All of them are
// returned, although glibc only ever asks the first three (MAXNS).
std::vector<std::string> resolv_conf_nameservers(std::string_view resolvConf);

// This OS's hosts file: /etc/hosts; on Windows %SystemRoot%\System32\drivers\etc\hosts.
std::string hosts_file_path();
// Where this OS's DNS servers are configured, as a message names it: "/etc/resolv.conf"; on
// Windows "the network adapters' DNS servers (ipconfig /all)".
std::string dns_servers_origin();

enum class DnsFailure { nxdomain, noData, servfail, refused, timeout, network, malformed };
// "NXDOMAIN", "no data", "SERVFAIL", "REFUSED", "timeout", "network", "malformed".
std::string_view to_string(DnsFailure kind);

struct DnsError {
  DnsFailure kind = DnsFailure::network;
  std::string message;  // e.g. "NXDOMAIN from 198.18.0.53"
};

struct DnsAnswer {
  std::vector<std::string> addresses;  // A records first, then AAAA, in answer order
  std::string server;                  // "198.18.0.53", or "127.0.0.1:5353" off port 53
  double ms = 0;
};

// Asks one DNS server directly over UDP (port 53 unless given "ip:port" / "[v6]:port") for A
// and AAAA of `name`, with a deadline; a truncated answer is retried over TCP. A hand-written
// minimal client (no libresolv state, so /etc/resolv.conf options and search domains do not
// interfere): random query ids, answers checked for id and question, CNAME chains followed
// within the answer section, compression pointers bounded (a loop is `malformed`). Success
// means at least one address; an unanswered UDP query is resent every second until the
// deadline. A name that is already an IP literal is returned without asking.
Result<DnsAnswer, DnsError> query_dns_server(std::string_view server, std::string_view name,
                                             std::chrono::milliseconds timeout);

struct ResolveResult {
  std::vector<std::string> addresses;  // in getaddrinfo order, without duplicates
  double ms = 0;
};

// The system resolver path (getaddrinfo, which honours /etc/hosts and nsswitch), bounded:
// getaddrinfo cannot be cancelled, so it runs on a detached thread and we give up at the
// deadline (the thread finishes on its own later).
Result<ResolveResult, DnsError> resolve_system(std::string_view host,
                                               std::chrono::milliseconds timeout);

enum class ConnectFailure { refused, timeout, unreachable, reset, other };
// "refused", "timed out", "unreachable", "reset", "failed".
std::string_view to_string(ConnectFailure kind);

// ECONNREFUSED -> refused, ETIMEDOUT -> timeout, EHOSTUNREACH/ENETUNREACH/EADDRNOTAVAIL ->
// unreachable, ECONNRESET -> reset, anything else -> other.
ConnectFailure classify_connect_errno(int err);

struct ConnectError {
  ConnectFailure kind = ConnectFailure::other;
  int err = 0;          // the errno, 0 for our own deadline
  std::string message;  // Go's wording: "dial tcp 10.0.0.1:6443: connect: connection refused"
  double ms = 0;
};

struct Connection {
  UniqueFd fd;
  std::string address;  // the IP actually connected to
  int port = 0;
  double ms = 0;
};

// Non-blocking connect + poll with the deadline; the errno is classified as above and our own
// deadline is `timeout`. The returned fd is blocking again and has CLOEXEC. `maxSegment` > 0
// sets TCP_MAXSEG before the SYN, so the peer sends segments of at most that many bytes.
Result<Connection, ConnectError> connect_tcp(std::string_view ip, int port,
                                             std::chrono::milliseconds timeout, int maxSegment = 0);

// The segment size a path of the minimum IPv4 MTU carries (576 - 40 bytes of headers): what a
// connection asks for to get past a path-MTU blackhole.
inline constexpr int kMinimumMss = 536;

// Socket I/O bounded by a deadline (poll before every call), for small protocol exchanges
// (DNS over TCP, a proxy's CONNECT, a SOCKS handshake) on blocking or non-blocking fds.
using Deadline = std::chrono::steady_clock::time_point;
enum class IoStatus { ok, eof, timeout, error };
struct IoResult {
  IoStatus status = IoStatus::ok;
  int err = 0;            // errno when status is `error`
  std::size_t bytes = 0;  // bytes transferred
};
// Sends all of `data` (MSG_NOSIGNAL: a peer that hung up is an error, not a SIGPIPE).
IoResult send_all(int fd, std::string_view data, Deadline deadline);
// Receives between 1 and `size` bytes; `eof` when the peer closed first. `flags` go to recv()
// (MSG_PEEK to look without consuming).
IoResult recv_some(int fd, char* buffer, std::size_t size, Deadline deadline, int flags = 0);
// Receives exactly `size` bytes, or fails (`eof` when the peer closed in between).
IoResult recv_exact(int fd, char* buffer, std::size_t size, Deadline deadline);

// Sends `request` on the Unix stream socket at `path` and reads the answer until the server
// closes, within `timeout`; an answer over `maxBytes` is an error. For line protocols that
// answer one command and hang up, such as HAProxy's stats socket ("show stat\n"). Errors
// name the path: "dial unix /run/haproxy.sock: connect: permission denied".
Result<std::string> unix_socket_exchange(const std::string& path, std::string_view request,
                                         std::chrono::milliseconds timeout, std::size_t maxBytes);

// The seams the plugins use so unit tests can fake the network.
class Network {
 public:
  virtual ~Network() = default;
  virtual Result<ResolveResult, DnsError> resolve(std::string_view host,
                                                  std::chrono::milliseconds timeout) = 0;
  virtual Result<DnsAnswer, DnsError> query(std::string_view server, std::string_view name,
                                            std::chrono::milliseconds timeout) = 0;
  virtual Result<Connection, ConnectError> connect(std::string_view ip, int port,
                                                   std::chrono::milliseconds timeout) = 0;
  // "" when unreadable (/etc/hosts, /etc/resolv.conf): a missing file is evidence, not an error.
  virtual std::string read_file(const std::string& path) = 0;
  // The configured DNS servers: resolv.conf's nameservers, read through read_file(); on Windows
  // the network adapters' (GetAdaptersAddresses), the servers Windows asks.
  virtual std::vector<std::string> dns_servers();
  // connect() asking the server for segments of at most `maxSegment` bytes (connect_tcp's),
  // to tell a path-MTU blackhole. A fake may keep this default, which ignores the size.
  virtual Result<Connection, ConnectError> connect_clamped(std::string_view ip, int port,
                                                           std::chrono::milliseconds timeout,
                                                           int /*maxSegment*/) {
    return connect(ip, port, timeout);
  }
};

// The real functions above.
class SystemNetwork final : public Network {
 public:
  Result<ResolveResult, DnsError> resolve(std::string_view host,
                                          std::chrono::milliseconds timeout) override;
  Result<DnsAnswer, DnsError> query(std::string_view server, std::string_view name,
                                    std::chrono::milliseconds timeout) override;
  Result<Connection, ConnectError> connect(std::string_view ip, int port,
                                           std::chrono::milliseconds timeout) override;
  std::string read_file(const std::string& path) override;
  Result<Connection, ConnectError> connect_clamped(std::string_view ip, int port,
                                                   std::chrono::milliseconds timeout,
                                                   int maxSegment) override;
};

}  // namespace kp::core
