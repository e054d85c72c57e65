// kubectl netdebug local: the node-local checks for a control-plane node (layer `node`, GitHub
// issue 5). What listens on the API server's port (/proc/net/tcp, /proc/net/tcp6 and the owner
// of the socket), iptables and nftables rules that drop or reject it, firewalld, the static pod
// manifest's flags, the kube-apiserver process, and a path-MTU probe towards the server of the
// current context. Everything the checks read or run goes through LocalSystem, so the logic is
// tested with fakes; `--proc` and `--root` point the real system at another tree. Inside a
// network namespace (`ip netns exec NS kubectl netdebug local`), /proc/net/tcp, iptables and
// nft show that namespace, which is how the end-to-end tests exercise it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/cli/cli.h"
#include "core/kube/manifest.h"
#include "core/report/report.h"
#include "core/util/result.h"

namespace kp::netdebug {

// What one external command did.
struct CommandOutput {
  bool notFound = false;  // the executable is not installed (not on PATH, /usr/sbin or /sbin)
  bool timedOut = false;  // killed at the deadline
  int exitCode = -1;      // -1 when it could not be started, was killed, or timed out
  std::string out;        // bounded
  std::string err;        // bounded; also the reason it could not be started
};

// One process, from /proc/<pid>.
struct ProcessInfo {
  int pid = 0;
  std::vector<std::string> argv;  // /proc/<pid>/cmdline
  std::string exe;                // the /proc/<pid>/exe link, "" when unreadable
  char state = '?';               // from /proc/<pid>/stat: R, S, D, Z, T...
  bool otherNetns = false;        // its network namespace is not the one being checked
};

// The machine the checks look at; tests replace all of it.
struct LocalSystem {
  std::string procDir = "/proc";
  std::string rootDir = "/";
  // The whole file, or an error naming it ("open /x: no such file or directory").
  std::function<core::Result<std::string>(const std::string& path)> readFile;
  std::function<bool(const std::string& path)> fileExists;
  // Every process whose cmdline is readable (kernel threads have none and are left out).
  std::function<std::vector<ProcessInfo>()> processes;
  // The pid holding each of these socket inodes (from the procDir/<pid>/fd links); inodes of
  // processes we may not inspect are missing.
  std::function<std::map<std::uint64_t, int>(const std::set<std::uint64_t>& inodes)> socketOwners;
  // Runs argv (no shell, stdin /dev/null, LC_ALL=C) and kills it at the deadline.
  std::function<CommandOutput(const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout)>
      run;
  // Addresses of a host name (the system resolver), for the MTU probe's target; empty: none.
  std::function<std::vector<std::string>(const std::string& host)> resolve;

  // The real machine, seen through `procDir` and `rootDir` (which must exist).
  static LocalSystem system(std::string procDir = "/proc", std::string rootDir = "/");
};

// The deadline of every external command (ping: its own 2 s wait plus one second).
inline constexpr std::chrono::milliseconds kCommandTimeout{2000};

// ---------------------------------------------------------------- /proc/net/tcp

struct TcpSocket {
  std::string localAddress;  // "127.0.0.1", "::", "::ffff:10.0.0.1"
  int localPort = 0;
  std::string remoteAddress;
  int remotePort = 0;
  int state = 0;  // 0x0A is LISTEN
  std::uint64_t inode = 0;
  bool ipv6 = false;
};

inline constexpr int kTcpListen = 0x0A;

// "0100007F" -> "127.0.0.1"; 32 hex digits -> an IPv6 address. The kernel prints each 32-bit
// word in host byte order. Error for anything else.
core::Result<std::string> decode_proc_address(std::string_view hex);

// The sockets of a /proc/net/tcp or /proc/net/tcp6 file (the header line and malformed lines
// are skipped).
std::vector<TcpSocket> parse_proc_net_tcp(std::string_view contents);

// ---------------------------------------------------------------- the static pod manifest

// The manifest's parser is the core's (core/kube/manifest.h): ApiServerFlags, apiserver_flags()
// (from an argument list) and parse_manifest() (spec.containers[0].command followed by its
// args; errors "invalid YAML: ...", "no spec.containers[0].command").
using core::apiserver_flags;
using core::ApiServerFlags;
using core::parse_manifest;

struct ManifestState {
  std::string path;
  bool explicitPath = false;            // --manifest was given
  std::optional<ApiServerFlags> flags;  // parsed
  core::Check check;                    // node.manifest
};

// node.manifest: skip when the default manifest does not exist (not a kubeadm control-plane
// node), fail when a given one does not, or when it cannot be read or parsed; warn when its
// --secure-port is not the port checked.
ManifestState check_manifest(const LocalSystem& sys, const std::string& path, bool explicitPath,
                             int port);

// ---------------------------------------------------------------- checks

// node.listen: fail when nothing listens on `port`; warn when it listens only on loopback, or
// not on the manifest's --bind-address. `owners` maps socket inodes to pids, `names` pids to
// process names.
core::Check check_listen(int port, const std::vector<TcpSocket>& sockets,
                         const std::map<std::uint64_t, int>& owners,
                         const std::map<int, std::string>& names,
                         const std::optional<ApiServerFlags>& manifest);

// One rule that drops or rejects the port (or a chain policy that does).
struct FirewallHit {
  std::string rule;        // as printed ("-A INPUT -p tcp -m tcp --dport 6443 -j DROP")
  std::string verdict;     // "DROP", "REJECT", "policy DROP"; nft: "drop", "reject", "policy drop"
  std::string conditions;  // what else the rule requires ("-i eth1"), "" when nothing
  std::string deleteCommand;  // how to remove it, "" for a policy
  bool allowlisted = false;   // an earlier rule accepts the port for some traffic (e.g. -s)
};

struct FirewallAnalysis {
  std::vector<FirewallHit> hits;  // in evaluation order
  std::string acceptedBy;         // the rule that accepts the port unconditionally, if any
  int rulesSeen = 0;
};

// The filter table's INPUT chain (and the chains it jumps to) of `iptables-save` output, for a
// new TCP connection to `port`. `tool` is "iptables" or "ip6tables" (for the delete command).
FirewallAnalysis analyze_iptables_save(std::string_view save, int port, std::string_view tool);

// The input-hook base chains (families ip, ip6, inet) of `nft -j list ruleset`, and the
// chains they jump to. `handles` maps "family table chain handle" to the rule as `nft -a list
// ruleset` prints it; a rule not in it is described from its JSON. Error: not nft JSON.
core::Result<FirewallAnalysis> analyze_nft_json(std::string_view json, int port,
                                                const std::map<std::string, std::string>& handles);

// "family table chain handle" -> the rule's text, from `nft -a list ruleset`.
std::map<std::string, std::string> nft_rule_texts(std::string_view listing);

// node.firewall.iptables, from iptables-save and ip6tables-save (either may be missing).
core::Check check_iptables(const LocalSystem& sys, int port);

// node.firewall.nftables, from `nft -j list ruleset`.
core::Check check_nftables(const LocalSystem& sys, int port);

// node.firewalld: skip when firewall-cmd is missing, ok when not running or the default zone
// opens the port (a port entry, a range, or the kube-apiserver service for 6443), else warn.
core::Check check_firewalld(const LocalSystem& sys, int port);

// node.process: every kube-apiserver in the process list; skip when there is none.
core::Check check_process(const std::vector<ProcessInfo>& processes, int port,
                          const std::optional<ApiServerFlags>& manifest);

// The route towards the API server, from `ip -j route get IP`.
struct RouteInfo {
  std::string type;  // "local" for an address of this machine, else ""
  std::string dev;
  std::string gateway;
  int mtu = 0;           // the route's mtu metric, 0 when none
  bool learned = false;  // the mtu is a path MTU the kernel learned (a cached exception)
};
core::Result<RouteInfo> parse_ip_route_get(std::string_view json);

// The MTU ping reports ("Frag needed and DF set (mtu = 1280)", "message too long, mtu=1280").
std::optional<int> parse_ping_mtu(std::string_view output);

// node.mtu towards `ip`: the route's interface and its MTU, a small ping and a don't-fragment
// ping of the interface MTU. Skip when ip or ping is missing or not permitted, or the server
// does not answer small pings; fail when small pings pass but the large DF ping does not.
core::Check check_mtu(const LocalSystem& sys, const std::string& ip);

// ---------------------------------------------------------------- the command

struct LocalOptions {
  int port = 6443;
  std::string manifestPath;  // "" = rootDir/etc/kubernetes/manifests/kube-apiserver.yaml
  std::string server;        // the current context's server URL, "" when unknown
  std::string serverError;   // why there is no server (the kubeconfig error), for the MTU skip
  core::Target target;
};

// Every check, in order: listen, iptables, nftables, firewalld, manifest, process, mtu.
core::Report run_local(const LocalSystem& sys, const LocalOptions& options);

// `kubectl netdebug local`: flags, kubeconfig, run_local(), render; exit codes of
// ../shared/DESIGN.md.
int local_command(const core::Invocation& invocation);

}  // namespace kp::netdebug
