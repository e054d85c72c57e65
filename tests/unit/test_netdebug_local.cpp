#include <map>
#include <sstream>
#ifndef _WIN32
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/net/net.h"
#include "netdebug/local.h"
#include "netdebug/local_detail.h"
#include "support_invoke.h"
#include "support_posix.h"

using namespace kp;
using netdebug::CommandOutput;
using netdebug::LocalSystem;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

CommandOutput output(int code, std::string out, std::string err = {}) {
  CommandOutput o;
  o.exitCode = code;
  o.out = std::move(out);
  o.err = std::move(err);
  return o;
}

CommandOutput not_found(const std::string& name) {
  CommandOutput o;
  o.notFound = true;
  o.err = name + ": executable file not found in $PATH";
  return o;
}

// A machine made of maps: files, processes, socket owners and canned command answers
// (keyed by the command line joined with spaces; a missing command is "not installed").
struct FakeMachine {
  std::map<std::string, std::string> files;
  std::vector<netdebug::ProcessInfo> processes;
  std::map<std::uint64_t, int> owners;
  std::map<std::string, CommandOutput> commands;
  std::vector<std::string> ran;
  std::map<std::string, std::vector<std::string>> names;

  LocalSystem system() {
    LocalSystem sys;
    sys.procDir = "/proc";
    sys.rootDir = "/";
    sys.readFile = [this](const std::string& path) -> core::Result<std::string> {
      const auto found = files.find(path);
      if (found == files.end()) {
        return core::Error{"open " + path + ": no such file or directory"};
      }
      return found->second;
    };
    sys.fileExists = [this](const std::string& path) { return files.count(path) > 0; };
    sys.processes = [this] { return processes; };
    sys.socketOwners = [this](const std::set<std::uint64_t>& inodes) {
      std::map<std::uint64_t, int> result;
      for (const auto& [inode, pid] : owners) {
        if (inodes.count(inode) > 0) {
          result[inode] = pid;
        }
      }
      return result;
    };
    sys.run = [this](const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
      REQUIRE(timeout.count() > 0);
      REQUIRE(timeout.count() <= 3000);
      std::string line;
      for (const std::string& a : argv) {
        line += (line.empty() ? "" : " ") + a;
      }
      ran.push_back(line);
      const auto found = commands.find(line);
      return found == commands.end() ? not_found(argv[0]) : found->second;
    };
    sys.resolve = [this](const std::string& host) {
      const auto found = names.find(host);
      return found == names.end() ? std::vector<std::string>() : found->second;
    };
    return sys;
  }
};

const char* const kTcpHeader =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n";

// A /proc/net/tcp line; `local` and `remote` as the kernel prints them.
std::string tcp_line(int n, const std::string& local, const std::string& remote,
                     const std::string& state, std::uint64_t inode) {
  return "   " + std::to_string(n) + ": " + local + " " + remote + " " + state +
         " 00000000:00000000 00:00000000 00000000     0        0 " + std::to_string(inode) +
         " 1 0000000000000000 100 0 0 10 0\n";
}

// 198.18.210.2 and 127.0.0.1 as little-endian words, port 6443 = 0x192B.
const std::string kLabAddr = "02D212C6";
const std::string kLoopback = "0100007F";

std::vector<netdebug::TcpSocket> listener(const std::string& address, int port,
                                          std::uint64_t inode) {
  netdebug::TcpSocket socket;
  socket.localAddress = address;
  socket.localPort = port;
  socket.remoteAddress = address.find(':') != std::string::npos ? "::" : "0.0.0.0";
  socket.state = netdebug::kTcpListen;
  socket.inode = inode;
  return {socket};
}

const std::string kManifest = R"(apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=198.18.210.2
    - --bind-address=198.18.210.2
    - --secure-port=6443
    - --etcd-servers=https://127.0.0.1:2379
    image: registry.k8s.io/kube-apiserver:v1.31.0
    name: kube-apiserver
)";

}  // namespace

// ---------------------------------------------------------------- /proc/net/tcp

TEST_CASE("netdebug::decode_proc_address reads the kernel's host-order words",
          "[netdebug][local]") {
  CHECK(*netdebug::decode_proc_address("0100007F") == "127.0.0.1");
  CHECK(*netdebug::decode_proc_address("00000000") == "0.0.0.0");
  CHECK(*netdebug::decode_proc_address(kLabAddr) == "198.18.210.2");
  CHECK(*netdebug::decode_proc_address("00000000000000000000000001000000") == "::1");
  CHECK(*netdebug::decode_proc_address("00000000000000000000000000000000") == "::");
  CHECK(*netdebug::decode_proc_address("0000000000000000FFFF00000100007F") == "::ffff:127.0.0.1");
  CHECK(*netdebug::decode_proc_address("B80D0120000000000000000001000000") == "2001:db8::1");
  CHECK(*netdebug::decode_proc_address("000080FE00000000FF000002030000FE") ==
        "fe80::200:ff:fe00:3");
  const auto bad = netdebug::decode_proc_address("0100007");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "not a /proc/net/tcp address: \"0100007\"");
  CHECK_FALSE(netdebug::decode_proc_address("0100007G"));
}

TEST_CASE("netdebug::parse_proc_net_tcp finds listeners, ports and inodes, IPv4 and IPv6",
          "[netdebug][local]") {
  const std::string tcp =
      kTcpHeader + tcp_line(0, kLabAddr + ":192B", "00000000:0000", "0A", 4242) +
      tcp_line(1, kLoopback + ":0016", "00000000:0000", "0A", 17) +
      tcp_line(2, kLabAddr + ":192B", "01D212C6:D431", "01", 999) + "garbage line\n";
  const auto sockets = netdebug::parse_proc_net_tcp(tcp);
  REQUIRE(sockets.size() == 3);
  CHECK(sockets[0].localAddress == "198.18.210.2");
  CHECK(sockets[0].localPort == 6443);
  CHECK(sockets[0].state == netdebug::kTcpListen);
  CHECK(sockets[0].inode == 4242);
  CHECK_FALSE(sockets[0].ipv6);
  CHECK(sockets[1].localAddress == "127.0.0.1");
  CHECK(sockets[1].localPort == 22);
  CHECK(sockets[2].state == 1);
  CHECK(sockets[2].remoteAddress == "198.18.210.1");
  CHECK(sockets[2].remotePort == 54321);

  const std::string tcp6 = kTcpHeader +
                           tcp_line(0, "00000000000000000000000000000000:192B",
                                    "00000000000000000000000000000000:0000", "0A", 5150) +
                           tcp_line(1, "B80D0120000000000000000001000000:1A0B",
                                    "00000000000000000000000000000000:0000", "0A", 5151);
  const auto six = netdebug::parse_proc_net_tcp(tcp6);
  REQUIRE(six.size() == 2);
  CHECK(six[0].localAddress == "::");
  CHECK(six[0].localPort == 6443);
  CHECK(six[0].ipv6);
  CHECK(six[1].localAddress == "2001:db8::1");
  CHECK(six[1].localPort == 6667);
  CHECK(netdebug::parse_proc_net_tcp("").empty());
}

TEST_CASE("netdebug::detail::parse_number reads 64-bit decimals on every platform",
          "[netdebug][local]") {
  using netdebug::detail::parse_number;
  CHECK(parse_number("6443", 65535) == 6443);
  CHECK(parse_number("0", 65535) == 0);
  CHECK_FALSE(parse_number("65536", 65535));
  CHECK_FALSE(parse_number("", 65535));
  CHECK_FALSE(parse_number("-1", 65535));
  CHECK_FALSE(parse_number("64 43", 65535));
  CHECK_FALSE(parse_number("0x10", 65535));
  // Past 32 bits (a Windows `long`): socket inodes are 64-bit.
  constexpr std::int64_t kMax = 0x7fffffff'ffffffff;
  CHECK(parse_number("4294967296", kMax) == 4294967296);
  CHECK(parse_number("12345678901", kMax) == 12345678901);
  CHECK(parse_number("9223372036854775807", kMax) == kMax);
  CHECK_FALSE(parse_number("9223372036854775808", kMax));
  CHECK_FALSE(parse_number("99999999999999999999999", kMax));
}

TEST_CASE("netdebug::parse_proc_net_tcp reads inodes past 32 bits", "[netdebug][local]") {
  const auto sockets = netdebug::parse_proc_net_tcp(
      kTcpHeader + tcp_line(0, kLabAddr + ":192B", "00000000:0000", "0A", 12345678901));
  REQUIRE(sockets.size() == 1);
  CHECK(sockets[0].inode == 12345678901);
}

TEST_CASE("netdebug::check_listen fails when nothing listens, names the owner otherwise",
          "[netdebug][local]") {
  const std::map<int, std::string> names{{42, "kube-apiserver"}};
  auto none = netdebug::check_listen(6443, listener("198.18.210.2", 22, 1), {}, names, {});
  CHECK(none.id == "node.listen");
  CHECK(none.layer == core::Layer::node);
  CHECK(none.status == core::CheckStatus::fail);
  CHECK(none.message == "nothing listens on port 6443 (/proc/net/tcp, /proc/net/tcp6)");
  CHECK(contains(none.hint, "crictl ps -a --name kube-apiserver"));

  auto ok = netdebug::check_listen(6443, listener("198.18.210.2", 6443, 7), {{7, 42}}, names, {});
  CHECK(ok.status == core::CheckStatus::ok);
  CHECK(ok.message == "port 6443 listens on 198.18.210.2:6443 (pid 42 kube-apiserver)");
  CHECK(ok.details["listeners"][0]["pid"] == 42);

  auto hidden = netdebug::check_listen(6443, listener("::", 6443, 8), {}, names, {});
  CHECK(hidden.status == core::CheckStatus::ok);
  CHECK(hidden.message == "port 6443 listens on [::]:6443 (owner not visible: run as root)");
}

TEST_CASE("netdebug::check_listen warns on loopback only and on a manifest bind-address mismatch",
          "[netdebug][local]") {
  netdebug::ApiServerFlags manifest;
  manifest.bindAddress = "198.18.210.2";
  auto loop = netdebug::check_listen(6443, listener("127.0.0.1", 6443, 7), {{7, 42}},
                                     {{42, "kube-apiserver"}}, manifest);
  CHECK(loop.status == core::CheckStatus::warn);
  CHECK(loop.message ==
        "the manifest says --bind-address=198.18.210.2, but port 6443 listens on "
        "127.0.0.1:6443 (pid 42 kube-apiserver)");

  auto loopNoManifest = netdebug::check_listen(6443, listener("127.0.0.1", 6443, 7), {}, {}, {});
  CHECK(loopNoManifest.status == core::CheckStatus::warn);
  CHECK(contains(loopNoManifest.message, "listens only on loopback"));
  CHECK(contains(loopNoManifest.hint, "--bind-address"));

  manifest.bindAddress = "127.0.0.1";
  auto other = netdebug::check_listen(6443, listener("198.18.210.9", 6443, 7), {{7, 9}},
                                      {{9, "python3"}}, manifest);
  CHECK(other.status == core::CheckStatus::warn);
  CHECK(other.message ==
        "the manifest says --bind-address=127.0.0.1, but port 6443 listens on "
        "198.18.210.9:6443 (pid 9 python3)");

  manifest.bindAddress = "198.18.210.2";
  CHECK(netdebug::check_listen(6443, listener("::", 6443, 7), {}, {}, manifest).status ==
        core::CheckStatus::ok);
  CHECK(netdebug::check_listen(6443, listener("::ffff:198.18.210.2", 6443, 7), {}, {}, manifest)
            .status == core::CheckStatus::ok);
  manifest.bindAddress = "0.0.0.0";
  CHECK(netdebug::check_listen(6443, listener("198.18.210.2", 6443, 7), {}, {}, manifest).status ==
        core::CheckStatus::ok);
}

// ---------------------------------------------------------------- iptables-save

namespace {

std::string filter(const std::string& policy, const std::string& rules,
                   const std::string& chains = "") {
  return "# Generated by iptables-save v1.8.9 (nf_tables)\n*nat\n:PREROUTING ACCEPT [0:0]\n"
         "-A PREROUTING -p tcp -m tcp --dport 6443 -j DNAT --to-destination 10.0.0.1\n"
         "COMMIT\n*filter\n:INPUT " +
         policy + " [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + chains + rules +
         "COMMIT\n# Completed\n";
}

netdebug::FirewallAnalysis ipt(const std::string& save, int port = 6443) {
  return netdebug::analyze_iptables_save(save, port, "iptables");
}

}  // namespace

TEST_CASE("netdebug::analyze_iptables_save finds a DROP before any ACCEPT", "[netdebug][local]") {
  const auto drop = ipt(filter("ACCEPT",
                               "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
                               "-A INPUT -m conntrack --ctstate INVALID -j DROP\n"
                               "-A INPUT -p tcp -m tcp --dport 6443 -j DROP\n"
                               "-A INPUT -p tcp -m tcp --dport 6443 -j ACCEPT\n"));
  REQUIRE(drop.hits.size() == 1);
  CHECK(drop.hits[0].rule == "-A INPUT -p tcp -m tcp --dport 6443 -j DROP");
  CHECK(drop.hits[0].verdict == "DROP");
  CHECK(drop.hits[0].conditions.empty());
  CHECK_FALSE(drop.hits[0].allowlisted);
  CHECK(drop.hits[0].deleteCommand == "iptables -D INPUT -p tcp -m tcp --dport 6443 -j DROP");
  CHECK(drop.acceptedBy.empty());

  const auto accepted = ipt(filter("ACCEPT",
                                   "-A INPUT -p tcp -m tcp --dport 6443 -j ACCEPT\n"
                                   "-A INPUT -p tcp -m tcp --dport 6443 -j DROP\n"));
  CHECK(accepted.hits.empty());
  CHECK(accepted.acceptedBy == "-A INPUT -p tcp -m tcp --dport 6443 -j ACCEPT");

  const auto reject = ipt(
      filter("ACCEPT", "-A INPUT -p tcp -m tcp --dport 6443 -j REJECT --reject-with tcp-reset\n"));
  REQUIRE(reject.hits.size() == 1);
  CHECK(reject.hits[0].verdict == "REJECT");
  CHECK(reject.hits[0].conditions.empty());

  // Other ports, other protocols, other tables and chains: nothing.
  CHECK(ipt(filter("ACCEPT",
                   "-A INPUT -p tcp -m tcp --dport 22 -j DROP\n"
                   "-A INPUT -p udp -m udp --dport 6443 -j DROP\n"
                   "-A OUTPUT -p tcp -m tcp --dport 6443 -j DROP\n"
                   "-A INPUT -p tcp -m tcp --dport 6000:6442 -j DROP\n"))
            .hits.empty());
  // No port at all drops everything, our port included; a range and a negation too.
  CHECK(ipt(filter("ACCEPT", "-A INPUT -j DROP\n")).hits.size() == 1);
  CHECK(ipt(filter("ACCEPT", "-A INPUT -p tcp -m tcp --dport 6000:7000 -j DROP\n")).hits.size() ==
        1);
  CHECK(ipt(filter("ACCEPT", "-A INPUT -p tcp -m tcp ! --dport 22 -j DROP\n")).hits.size() == 1);
  CHECK(ipt(filter("ACCEPT", "-A INPUT -p tcp -m tcp ! --dport 6443 -j DROP\n")).hits.empty());
}

TEST_CASE("netdebug::analyze_iptables_save follows jumps, multiport and comments",
          "[netdebug][local]") {
  const auto jumped =
      ipt(filter("ACCEPT",
                 "-A INPUT -m comment --comment \"kubernetes firewall, \\\"quoted\\\"\" -j "
                 "KP-FIREWALL\n"
                 "-A INPUT -p tcp -m tcp --dport 6443 -j ACCEPT\n"
                 "-A KP-FIREWALL -p tcp -m multiport --dports 22,80,6443 -j DROP\n",
                 ":KP-FIREWALL - [0:0]\n"));
  REQUIRE(jumped.hits.size() == 1);
  CHECK(jumped.hits[0].rule == "-A KP-FIREWALL -p tcp -m multiport --dports 22,80,6443 -j DROP");
  CHECK(jumped.hits[0].conditions.empty());
  CHECK(jumped.hits[0].deleteCommand ==
        "iptables -D KP-FIREWALL -p tcp -m multiport --dports 22,80,6443 -j DROP");

  // A RETURN first: the chain's DROP is never reached, and the ACCEPT after the jump wins.
  const auto returned = ipt(filter("ACCEPT",
                                   "-A INPUT -j KP-FIREWALL\n"
                                   "-A INPUT -p tcp -m tcp --dport 6443 -j ACCEPT\n"
                                   "-A KP-FIREWALL -j RETURN\n"
                                   "-A KP-FIREWALL -p tcp -m tcp --dport 6443 -j DROP\n",
                                   ":KP-FIREWALL - [0:0]\n"));
  CHECK(returned.hits.empty());
  CHECK(returned.acceptedBy == "-A INPUT -p tcp -m tcp --dport 6443 -j ACCEPT");

  // Multiport without our port; a loop of jumps terminates.
  CHECK(ipt(filter("ACCEPT", "-A INPUT -p tcp -m multiport --dports 22,80:90 -j DROP\n"))
            .hits.empty());
  CHECK(ipt(filter("ACCEPT", "-A INPUT -j A\n-A A -j B\n-A B -j A\n", ":A - [0:0]\n:B - [0:0]\n"))
            .hits.empty());
}

TEST_CASE("netdebug::analyze_iptables_save treats interface and source rules as conditions",
          "[netdebug][local]") {
  const auto iface = ipt(filter("ACCEPT", "-A INPUT -i eth1 -p tcp -m tcp --dport 6443 -j DROP\n"));
  REQUIRE(iface.hits.size() == 1);
  CHECK(iface.hits[0].conditions == "-i eth1");

  // Accepting loopback does not open the port to anyone else.
  const auto lo = ipt(filter("ACCEPT",
                             "-A INPUT -i lo -j ACCEPT\n"
                             "-A INPUT -p tcp -m tcp --dport 6443 -j DROP\n"));
  REQUIRE(lo.hits.size() == 1);
  CHECK(lo.hits[0].conditions.empty());
  CHECK_FALSE(lo.hits[0].allowlisted);

  // An allowlist: accepted from 10/8, dropped otherwise.
  const auto allow = ipt(filter("ACCEPT",
                                "-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 6443 -j ACCEPT\n"
                                "-A INPUT -p tcp -m tcp --dport 6443 -j DROP\n"));
  REQUIRE(allow.hits.size() == 1);
  CHECK(allow.hits[0].allowlisted);

  // Policy DROP with nothing accepting the port; with an ACCEPT it is fine.
  const auto policy = ipt(filter("DROP", "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"));
  REQUIRE(policy.hits.size() == 1);
  CHECK(policy.hits[0].rule == ":INPUT DROP");
  CHECK(policy.hits[0].verdict == "policy DROP");
  CHECK(policy.hits[0].deleteCommand.empty());
  CHECK(ipt(filter("DROP",
                   "-A INPUT -p tcp -m tcp --dport 6443 -m conntrack --ctstate NEW -j "
                   "ACCEPT\n"))
            .hits.empty());
}

TEST_CASE("netdebug::check_iptables fails naming the rule, reads ip6tables too",
          "[netdebug][local]") {
  FakeMachine machine;
  machine.commands["iptables-save"] = output(0, filter("ACCEPT", ""));
  machine.commands["ip6tables-save"] =
      output(0, filter("ACCEPT",
                       "-A INPUT -p tcp -m tcp --dport 6443 -j REJECT --reject-with "
                       "icmp6-port-unreachable\n"));
  const auto check = netdebug::check_iptables(machine.system(), 6443);
  CHECK(check.id == "node.firewall.iptables");
  CHECK(check.status == core::CheckStatus::fail);
  CHECK(check.message ==
        "ip6tables: \"-A INPUT -p tcp -m tcp --dport 6443 -j REJECT --reject-with "
        "icmp6-port-unreachable\" rejects new connections to tcp/6443");
  CHECK(contains(check.hint, "ip6tables -D INPUT -p tcp -m tcp --dport 6443 -j REJECT"));
  CHECK(contains(check.hint, "iptables -I INPUT -p tcp --dport 6443 -j ACCEPT"));
  CHECK(check.details["hits"].size() == 1);

  machine.commands["ip6tables-save"] = output(0, filter("ACCEPT", ""));
  machine.commands["iptables-save"] =
      output(0, filter("ACCEPT", "-A INPUT -i eth1 -p tcp -m tcp --dport 6443 -j DROP\n"));
  const auto warn = netdebug::check_iptables(machine.system(), 6443);
  CHECK(warn.status == core::CheckStatus::warn);
  CHECK(warn.message ==
        "iptables: \"-A INPUT -i eth1 -p tcp -m tcp --dport 6443 -j DROP\" drops tcp/6443 for "
        "traffic matching -i eth1");

  machine.commands["iptables-save"] = output(0, filter("DROP", ""));
  const auto policy = netdebug::check_iptables(machine.system(), 6443);
  CHECK(policy.status == core::CheckStatus::fail);
  CHECK(policy.message ==
        "iptables: :INPUT DROP: the policy DROP applies and no rule accepts tcp/6443");

  machine.commands["iptables-save"] = output(0, filter("ACCEPT", ""));
  const auto ok = netdebug::check_iptables(machine.system(), 6443);
  CHECK(ok.status == core::CheckStatus::ok);
  CHECK(ok.message == "no rule drops or rejects tcp/6443 (0 rules read)");

  FakeMachine bare;
  const auto missing = netdebug::check_iptables(bare.system(), 6443);
  CHECK(missing.status == core::CheckStatus::skip);
  CHECK(missing.message ==
        "iptables-save is not installed (package iptables): no iptables rules to read");

  bare.commands["iptables-save"] =
      output(1, "",
             "iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: "
             "Permission denied (you must be root)\n");
  bare.commands["ip6tables-save"] = bare.commands["iptables-save"];
  const auto denied = netdebug::check_iptables(bare.system(), 6443);
  CHECK(denied.status == core::CheckStatus::skip);
  CHECK(contains(denied.message, "iptables-save exited 1: iptables-save v1.8.9"));
  CHECK(contains(denied.message, "run as root"));
}

// ---------------------------------------------------------------- nftables

namespace {

std::string nft(const std::string& chains, const std::string& rules) {
  return R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "kp", "handle": 1}})" +
         chains + rules + "]}";
}

std::string base_chain(const std::string& name, const std::string& hook,
                       const std::string& policy = "accept", int prio = 0) {
  return R"(,{"chain": {"family": "inet", "table": "kp", "name": ")" + name +
         R"(", "handle": 1, "type": "filter", "hook": ")" + hook + R"(", "prio": )" +
         std::to_string(prio) + R"(, "policy": ")" + policy + "\"}}";
}

std::string regular_chain(const std::string& name) {
  return R"(,{"chain": {"family": "inet", "table": "kp", "name": ")" + name + R"(", "handle": 9}})";
}

std::string rule(const std::string& chain, int handle, const std::string& exprs) {
  return R"(,{"rule": {"family": "inet", "table": "kp", "chain": ")" + chain + R"(", "handle": )" +
         std::to_string(handle) + R"(, "expr": [)" + exprs + "]}}";
}

const std::string kDport6443 =
    R"({"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 6443}})";
const std::string kDrop = R"({"drop": null})";
const std::string kAccept = R"({"accept": null})";
const std::string kCounter = R"({"counter": {"packets": 0, "bytes": 0}})";

netdebug::FirewallAnalysis nft_analysis(const std::string& json,
                                        const std::map<std::string, std::string>& texts = {}) {
  auto result = netdebug::analyze_nft_json(json, 6443, texts);
  REQUIRE(result);
  return *result;
}

}  // namespace

TEST_CASE("netdebug::analyze_nft_json finds drop and reject in input hooks", "[netdebug][local]") {
  const auto drop =
      nft_analysis(nft(base_chain("input", "input"),
                       rule("input", 2, kDport6443 + "," + kCounter + "," + kDrop)),
                   {{"inet kp input 2", "tcp dport 6443 counter packets 0 bytes 0 drop"}});
  REQUIRE(drop.hits.size() == 1);
  CHECK(drop.hits[0].rule ==
        "table inet kp chain input: tcp dport 6443 counter packets 0 bytes 0 drop # handle 2");
  CHECK(drop.hits[0].verdict == "drop");
  CHECK(drop.hits[0].deleteCommand == "nft delete rule inet kp input handle 2");

  const auto reject = nft_analysis(nft(
      base_chain("input", "input"),
      rule(
          "input", 3,
          R"({"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [22, {"range": [6000, 7000]}]}}}, {"reject": {"type": "tcp reset"}})")));
  REQUIRE(reject.hits.size() == 1);
  CHECK(reject.hits[0].verdict == "reject");
  CHECK(contains(reject.hits[0].rule, "# handle 3"));  // described from JSON without a listing

  // An output hook, a udp port, another port, established-only: nothing.
  CHECK(
      nft_analysis(nft(base_chain("output", "output"), rule("output", 2, kDport6443 + "," + kDrop)))
          .hits.empty());
  CHECK(
      nft_analysis(
          nft(base_chain("input", "input"),
              rule(
                  "input", 2,
                  R"({"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 6443}}, {"drop": null})") +
                  rule(
                      "input", 3,
                      R"({"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"drop": null})") +
                  rule(
                      "input", 4,
                      R"({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"drop": null})") +
                  rule(
                      "input", 5,
                      R"({"vmap": {"key": {"ct": {"key": "state"}}, "data": {"set": [["established", {"accept": null}], ["invalid", {"drop": null}]]}}})")))
          .hits.empty());
}

TEST_CASE("netdebug::analyze_nft_json follows jumps, policies and every base chain",
          "[netdebug][local]") {
  // An accept first: fine.
  const auto accepted = nft_analysis(nft(
      base_chain("input", "input"),
      rule("input", 2, kDport6443 + "," + kAccept) + rule("input", 3, kDport6443 + "," + kDrop)));
  CHECK(accepted.hits.empty());
  CHECK(contains(accepted.acceptedBy, "handle 2"));

  // A jump to a regular chain that drops the port.
  const auto jumped = nft_analysis(nft(base_chain("input", "input") + regular_chain("kp-fw"),
                                       rule("input", 2, R"({"jump": {"target": "kp-fw"}})") +
                                           rule("kp-fw", 4, kDport6443 + "," + kDrop)));
  REQUIRE(jumped.hits.size() == 1);
  CHECK(jumped.hits[0].deleteCommand == "nft delete rule inet kp kp-fw handle 4");

  // Policy drop without an accept for the port.
  const auto policy = nft_analysis(nft(
      base_chain("input", "input", "drop"),
      rule(
          "input", 2,
          R"({"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null})")));
  REQUIRE(policy.hits.size() == 1);
  CHECK(policy.hits[0].verdict == "policy drop");
  CHECK(policy.hits[0].rule == "table inet kp chain input (policy drop)");

  // An accept ends only its own base chain: a second input chain still drops.
  const auto two = nft_analysis(
      nft(base_chain("a", "input", "accept", -10) + base_chain("b", "input", "accept", 10),
          rule("a", 2, kDport6443 + "," + kAccept) + rule("b", 3, kDport6443 + "," + kDrop)));
  REQUIRE(two.hits.size() == 1);
  CHECK(contains(two.hits[0].rule, "chain b"));

  // Interface-specific: a condition.
  const auto iface = nft_analysis(nft(
      base_chain("input", "input"),
      rule("input", 2,
           R"({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth1"}}, )" +
               kDport6443 + "," + kDrop)));
  REQUIRE(iface.hits.size() == 1);
  CHECK(iface.hits[0].conditions == "iifname \"eth1\"");

  // iptables-nft's own table: the hint mentions iptables too.
  const auto xt = nft_analysis(
      R"({"nftables": [{"chain": {"family": "ip", "table": "filter", "name": "INPUT", "handle": 1,)"
      R"( "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},)"
      R"( {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 2, "expr": [)" +
      kDport6443 + "," + kCounter + "," + kDrop + "]}}]}");
  REQUIRE(xt.hits.size() == 1);
  CHECK(xt.hits[0].deleteCommand ==
        "nft delete rule ip filter INPUT handle 2, or with iptables -D (an iptables-nft rule)");

  CHECK_FALSE(netdebug::analyze_nft_json("not json", 6443, {}));
  CHECK_FALSE(netdebug::analyze_nft_json("{\"x\": 1}", 6443, {}));
}

TEST_CASE("netdebug::nft_rule_texts maps handles to the rules as nft prints them",
          "[netdebug][local]") {
  const auto texts = netdebug::nft_rule_texts(
      "table inet kp { # handle 5\n"
      "\tset allowed { # handle 3\n"
      "\t\ttype ipv4_addr\n"
      "\t\telements = { 10.0.0.1 }\n"
      "\t}\n"
      "\tchain input { # handle 1\n"
      "\t\ttype filter hook input priority filter; policy accept;\n"
      "\t\ttcp dport 6443 drop # handle 2\n"
      "\t}\n"
      "}\n"
      "table ip filter { # handle 6\n"
      "\tchain INPUT { # handle 1\n"
      "\t\tmeta l4proto tcp tcp dport 6443 counter packets 0 bytes 0 reject # handle 4\n"
      "\t}\n"
      "}\n");
  REQUIRE(texts.size() == 2);
  CHECK(texts.at("inet kp input 2") == "tcp dport 6443 drop");
  CHECK(texts.at("ip filter INPUT 4") ==
        "meta l4proto tcp tcp dport 6443 counter packets 0 bytes 0 reject");
}

TEST_CASE("netdebug::check_nftables fails naming the rule and skips without nft",
          "[netdebug][local]") {
  FakeMachine machine;
  machine.commands["nft -j list ruleset"] =
      output(0, nft(base_chain("input", "input"), rule("input", 2, kDport6443 + "," + kDrop)));
  machine.commands["nft -a list ruleset"] =
      output(0,
             "table inet kp { # handle 1\n\tchain input { # handle 1\n\t\ttype filter hook input "
             "priority filter; policy accept;\n\t\ttcp dport 6443 drop # handle 2\n\t}\n}\n");
  const auto check = netdebug::check_nftables(machine.system(), 6443);
  CHECK(check.id == "node.firewall.nftables");
  CHECK(check.status == core::CheckStatus::fail);
  CHECK(check.message ==
        "nftables: \"table inet kp chain input: tcp dport 6443 drop # handle 2\" drops new "
        "connections to tcp/6443");
  CHECK(contains(check.hint, "nft delete rule inet kp input handle 2"));

  machine.commands["nft -j list ruleset"] = output(0, nft("", ""));
  CHECK(netdebug::check_nftables(machine.system(), 6443).status == core::CheckStatus::ok);

  machine.commands["nft -j list ruleset"] = output(0, "<html>");
  CHECK(netdebug::check_nftables(machine.system(), 6443).status == core::CheckStatus::skip);

  machine.commands["nft -j list ruleset"] =
      output(1, "", "Error: Could not process rule: Operation not permitted\n");
  const auto denied = netdebug::check_nftables(machine.system(), 6443);
  CHECK(denied.status == core::CheckStatus::skip);
  CHECK(denied.message ==
        "nft -j list ruleset exited 1: Error: Could not process rule: Operation not permitted "
        "(run as root to read the rules)");

  FakeMachine bare;
  const auto missing = netdebug::check_nftables(bare.system(), 6443);
  CHECK(missing.status == core::CheckStatus::skip);
  CHECK(missing.message == "nft is not installed (package nftables): no nftables rules to read");
}

// ---------------------------------------------------------------- firewalld

TEST_CASE("netdebug::check_firewalld: missing, not running, open, closed", "[netdebug][local]") {
  FakeMachine machine;
  auto missing = netdebug::check_firewalld(machine.system(), 6443);
  CHECK(missing.id == "node.firewalld");
  CHECK(missing.status == core::CheckStatus::skip);
  CHECK(missing.message == "firewall-cmd is not installed: firewalld is not in use");

  machine.commands["firewall-cmd --state"] = output(252, "", "not running\n");
  auto stopped = netdebug::check_firewalld(machine.system(), 6443);
  CHECK(stopped.status == core::CheckStatus::ok);
  CHECK(stopped.message == "firewalld is not running");

  machine.commands["firewall-cmd --state"] = output(0, "running\n");
  machine.commands["firewall-cmd --get-default-zone"] = output(0, "public\n");
  machine.commands["firewall-cmd --list-ports"] = output(0, "10250/tcp 6000-7000/tcp\n");
  machine.commands["firewall-cmd --list-services"] = output(0, "ssh dhcpv6-client\n");
  auto range = netdebug::check_firewalld(machine.system(), 6443);
  CHECK(range.status == core::CheckStatus::ok);
  CHECK(range.message == "firewalld is running; zone public opens 6000-7000/tcp");

  machine.commands["firewall-cmd --list-ports"] = output(0, "\n");
  machine.commands["firewall-cmd --list-services"] = output(0, "ssh kube-apiserver\n");
  CHECK(netdebug::check_firewalld(machine.system(), 6443).status == core::CheckStatus::ok);
  // The service opens 6443 only.
  CHECK(netdebug::check_firewalld(machine.system(), 8443).status == core::CheckStatus::warn);

  machine.commands["firewall-cmd --list-services"] = output(0, "ssh dhcpv6-client\n");
  auto closed = netdebug::check_firewalld(machine.system(), 6443);
  CHECK(closed.status == core::CheckStatus::warn);
  CHECK(closed.message ==
        "firewalld is running and zone public opens neither 6443/tcp nor the kube-apiserver "
        "service (ports: none; services: ssh dhcpv6-client)");
  CHECK(contains(closed.hint, "firewall-cmd --permanent --add-port=6443/tcp"));
}

// ---------------------------------------------------------------- manifest and process

TEST_CASE("netdebug::parse_manifest reads kube-apiserver's flags", "[netdebug][local]") {
  const auto flags = netdebug::parse_manifest(kManifest);
  REQUIRE(flags);
  CHECK(flags->bindAddress == "198.18.210.2");
  CHECK(flags->securePort == "6443");
  CHECK(flags->advertiseAddress == "198.18.210.2");

  const auto split = netdebug::parse_manifest(
      "spec:\n  containers:\n  - name: sidecar\n    command: [sleep]\n  - name: kube-apiserver\n"
      "    command: [kube-apiserver]\n    args:\n    - --secure-port\n    - '6444'\n"
      "    - '--bind-address=::'\n");
  REQUIRE(split);
  CHECK(split->securePort == "6444");
  CHECK(split->bindAddress == "::");
  CHECK(split->advertiseAddress.empty());

  const auto bad = netdebug::parse_manifest("spec: [unclosed\n");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.starts_with("invalid YAML: "));
  CHECK(netdebug::parse_manifest("spec:\n  containers: []\n").error().message ==
        "no spec.containers[0].command");
  CHECK(netdebug::parse_manifest("just a string").error().message ==
        "not a Pod manifest (expected a YAML mapping)");
  CHECK(netdebug::parse_manifest("spec:\n  containers:\n  - command: 3\n").error().message ==
        "spec.containers[0].command is not a list");
  CHECK(netdebug::parse_manifest("spec: 3\n").error().message == "no spec.containers[0].command");
  CHECK(netdebug::parse_manifest("spec:\n  containers:\n  - name: kube-apiserver\n    command:\n"
                                 "    - kube-apiserver\n    - --bind-address=::\n")
            .error()
            .message == "spec.containers[0].command[1] is not a string");
  CHECK(netdebug::parse_manifest("kind: Pod\n").error().message == "no spec.containers[0].command");
  CHECK(netdebug::parse_manifest("spec:\n  containers:\n  - image: x\n").error().message ==
        "no spec.containers[0].command");
}

TEST_CASE("netdebug::check_manifest: missing, unreadable, bad YAML, port mismatch, ok",
          "[netdebug][local]") {
  FakeMachine machine;
  const std::string path = "/etc/kubernetes/manifests/kube-apiserver.yaml";
  auto absent = netdebug::check_manifest(machine.system(), path, false, 6443);
  CHECK(absent.check.id == "node.manifest");
  CHECK(absent.check.status == core::CheckStatus::skip);
  CHECK(absent.check.message ==
        "no static pod manifest at " + path +
            ": not a kubeadm control-plane node (give --manifest for another path)");
  CHECK_FALSE(absent.flags);
  auto given = netdebug::check_manifest(machine.system(), "/x.yaml", true, 6443);
  CHECK(given.check.status == core::CheckStatus::fail);
  CHECK(given.check.message == "/x.yaml: no such file");

  machine.files[path] = "spec: [unclosed\n";
  auto bad = netdebug::check_manifest(machine.system(), path, false, 6443);
  CHECK(bad.check.status == core::CheckStatus::fail);
  CHECK(bad.check.message.starts_with(path + ": invalid YAML: "));
  CHECK(contains(bad.check.hint, "kubelet cannot run kube-apiserver"));

  machine.files[path] = kManifest;
  auto ok = netdebug::check_manifest(machine.system(), path, false, 6443);
  CHECK(ok.check.status == core::CheckStatus::ok);
  CHECK(ok.check.message == path +
                                ": --bind-address=198.18.210.2, --secure-port=6443, "
                                "--advertise-address=198.18.210.2");
  REQUIRE(ok.flags);
  CHECK(ok.flags->bindAddress == "198.18.210.2");

  auto other = netdebug::check_manifest(machine.system(), path, false, 443);
  CHECK(other.check.status == core::CheckStatus::warn);
  CHECK(contains(other.check.message, "the port checked is 443, not 6443"));
  CHECK(contains(other.check.hint, "pass --port 6443"));

  machine.files[path] = "spec:\n  containers:\n  - command: [kube-apiserver]\n";
  auto defaults = netdebug::check_manifest(machine.system(), path, false, 6443);
  CHECK(defaults.check.status == core::CheckStatus::ok);
  CHECK(defaults.check.message ==
        path + ": --bind-address unset (default 0.0.0.0), --secure-port unset (default 6443)");
}

TEST_CASE("netdebug::check_process finds kube-apiserver and compares it with the manifest",
          "[netdebug][local]") {
  std::vector<netdebug::ProcessInfo> processes{
      {1, {"/sbin/init"}, "/usr/lib/systemd/systemd", 'S', false},
      {77,
       {"/usr/local/bin/kube-apiserver", "--secure-port=6443", "--bind-address=198.18.210.2"},
       "/usr/local/bin/kube-apiserver",
       'S',
       false}};
  auto none = netdebug::check_process({processes[0]}, 6443, {});
  CHECK(none.id == "node.process");
  CHECK(none.status == core::CheckStatus::skip);
  CHECK(none.message ==
        "no kube-apiserver process: not a control-plane node, or it runs elsewhere");

  auto ok = netdebug::check_process(processes, 6443, {});
  CHECK(ok.status == core::CheckStatus::ok);
  CHECK(ok.message ==
        "kube-apiserver pid 77 (state S): --secure-port=6443, --bind-address=198.18.210.2");
  CHECK(ok.details["pid"] == 77);

  auto port = netdebug::check_process(processes, 443, {});
  CHECK(port.status == core::CheckStatus::warn);
  CHECK(contains(port.hint, "pass --port 6443"));

  netdebug::ApiServerFlags manifest;
  manifest.bindAddress = "127.0.0.1";
  auto mismatch = netdebug::check_process(processes, 6443, manifest);
  CHECK(mismatch.status == core::CheckStatus::warn);
  CHECK(
      contains(mismatch.message, "the manifest says --bind-address=127.0.0.1, --secure-port=6443"));

  // Another network namespace's kube-apiserver is named as such; this namespace's is preferred.
  processes[1].otherNetns = true;
  auto elsewhere = netdebug::check_process(processes, 6443, {});
  CHECK(elsewhere.status == core::CheckStatus::ok);
  CHECK(contains(elsewhere.message, "(in another network namespace than the one checked)"));
  CHECK(netdebug::check_process(processes, 443, {}).status == core::CheckStatus::ok);
  processes.push_back({88, {"kube-apiserver", "--secure-port=6443"}, "", 'R', false});
  CHECK(netdebug::check_process(processes, 6443, {}).details["pid"] == 88);
  processes.pop_back();
  processes[1].otherNetns = false;

  processes[1].state = 'Z';
  processes[1].argv = {"kube-apiserver"};
  processes[1].exe = "";
  auto zombie = netdebug::check_process(processes, 6443, {});
  CHECK(zombie.status == core::CheckStatus::fail);
  CHECK(zombie.message ==
        "kube-apiserver pid 77 (state Z): --secure-port=6443 (default), --bind-address=0.0.0.0 "
        "(default): the process is a zombie");
}

// ---------------------------------------------------------------- MTU

TEST_CASE("netdebug::parse_ip_route_get and parse_ping_mtu", "[netdebug][local]") {
  const auto plain = netdebug::parse_ip_route_get(
      R"([{"dst":"198.18.210.6","gateway":"198.18.210.2","dev":"veth0","prefsrc":"198.18.210.1","flags":[],"uid":0,"cache":[]}])");
  REQUIRE(plain);
  CHECK(plain->dev == "veth0");
  CHECK(plain->gateway == "198.18.210.2");
  CHECK(plain->mtu == 0);
  const auto learned = netdebug::parse_ip_route_get(
      R"([{"dst":"198.18.210.6","dev":"veth0","cache":[],"expires":600,"metrics":[{"mtu":1280}]}])");
  REQUIRE(learned);
  CHECK(learned->mtu == 1280);
  CHECK(learned->learned);
  const auto configured =
      netdebug::parse_ip_route_get(R"([{"dst":"10.0.0.1","dev":"eth0","metrics":[{"mtu":1400}]}])");
  REQUIRE(configured);
  CHECK(configured->mtu == 1400);
  CHECK_FALSE(configured->learned);
  const auto local =
      netdebug::parse_ip_route_get(R"([{"type":"local","dst":"127.0.0.1","dev":"lo"}])");
  REQUIRE(local);
  CHECK(local->type == "local");
  CHECK_FALSE(netdebug::parse_ip_route_get("[]"));
  CHECK_FALSE(netdebug::parse_ip_route_get("RTNETLINK answers"));

  CHECK(netdebug::parse_ping_mtu(
            "From 198.18.210.2 icmp_seq=1 Frag needed and DF set (mtu = 1280)") == 1280);
  CHECK(netdebug::parse_ping_mtu("ping: local error: message too long, mtu=1400") == 1400);
  CHECK(netdebug::parse_ping_mtu("From ::1 icmp_seq=1 Packet too big: mtu=1280") == 1280);
  CHECK_FALSE(netdebug::parse_ping_mtu("1 packets transmitted, 0 received, 100% packet loss"));
}

namespace {

const std::string kRoute =
    R"([{"dst":"198.18.210.6","gateway":"198.18.210.2","dev":"veth0","prefsrc":"198.18.210.1","flags":[],"uid":0,"cache":[]}])";
const std::string kPing = "ping -n -c 2 -i 0.2 -W 2 -M do -s ";

FakeMachine mtu_machine() {
  FakeMachine machine;
  machine.files["/sys/class/net/veth0/mtu"] = "1500\n";
  machine.commands["ip -j route get 198.18.210.6"] = output(0, kRoute);
  machine.commands[kPing + "56 198.18.210.6"] =
      output(0, "64 bytes from 198.18.210.6: icmp_seq=1 ttl=63 time=0.1 ms\n");
  machine.commands[kPing + "1472 198.18.210.6"] =
      output(0, "1480 bytes from 198.18.210.6: icmp_seq=1 ttl=63 time=0.1 ms\n");
  return machine;
}

}  // namespace

TEST_CASE("netdebug::check_mtu: a healthy path, a lower path MTU, a black hole",
          "[netdebug][local]") {
  FakeMachine machine = mtu_machine();
  auto ok = netdebug::check_mtu(machine.system(), "198.18.210.6");
  CHECK(ok.id == "node.mtu");
  CHECK(ok.endpoint == "198.18.210.6");
  CHECK(ok.status == core::CheckStatus::ok);
  CHECK(ok.message ==
        "path MTU is at least 1500: a don't-fragment ping of 1472 bytes is answered (dev veth0 "
        "mtu 1500)");
  CHECK(machine.ran == std::vector<std::string>{"ip -j route get 198.18.210.6",
                                                kPing + "56 198.18.210.6",
                                                kPing + "1472 198.18.210.6"});

  machine.commands[kPing + "1472 198.18.210.6"] =
      output(1,
             "PING 198.18.210.6 (198.18.210.6) 1472(1500) bytes of data.\nFrom 198.18.210.2 "
             "icmp_seq=1 Frag needed and DF set (mtu = 1280)\n");
  auto frag = netdebug::check_mtu(machine.system(), "198.18.210.6");
  CHECK(frag.status == core::CheckStatus::fail);
  CHECK(frag.message ==
        "path MTU below interface MTU: 56-byte pings are answered, but a don't-fragment ping of "
        "1472 bytes is not; the path MTU is 1280 (dev veth0 mtu 1500)");
  CHECK(contains(frag.hint, "set the MTU of veth0 (or of the CNI/overlay) to 1280"));
  CHECK(frag.details["pathMtu"] == 1280);

  machine.commands[kPing + "1472 198.18.210.6"] = output(1, "100% packet loss\n");
  auto hole = netdebug::check_mtu(machine.system(), "198.18.210.6");
  CHECK(hole.status == core::CheckStatus::fail);
  CHECK(contains(hole.message, "path MTU below interface MTU: "));
  CHECK(contains(hole.message, "gets no answer and no 'fragmentation needed'"));
  CHECK(contains(hole.hint, "PMTU black hole"));

  // A route mtu lowers the probe size.
  machine.commands["ip -j route get 198.18.210.6"] =
      output(0, R"([{"dst":"198.18.210.6","dev":"veth0","metrics":[{"mtu":1400}]}])");
  machine.commands[kPing + "1372 198.18.210.6"] = output(0, "ok\n");
  auto routed = netdebug::check_mtu(machine.system(), "198.18.210.6");
  CHECK(routed.status == core::CheckStatus::ok);
  CHECK(contains(routed.message, "at least 1400"));
  CHECK(contains(routed.message, "route mtu 1400"));
}

TEST_CASE("netdebug::check_mtu skips without ip or ping, without permission or an answer",
          "[netdebug][local]") {
  FakeMachine noIp = mtu_machine();
  noIp.commands.erase("ip -j route get 198.18.210.6");
  auto ip = netdebug::check_mtu(noIp.system(), "198.18.210.6");
  CHECK(ip.status == core::CheckStatus::skip);
  CHECK(ip.message ==
        "ip is not installed (package iproute2): cannot find the route to the server");

  FakeMachine noPing = mtu_machine();
  noPing.commands.erase(kPing + "56 198.18.210.6");
  auto ping = netdebug::check_mtu(noPing.system(), "198.18.210.6");
  CHECK(ping.status == core::CheckStatus::skip);
  CHECK(ping.message == "ping is not installed (package iputils-ping): path MTU not probed");

  FakeMachine denied = mtu_machine();
  denied.commands[kPing + "56 198.18.210.6"] =
      output(2, "", "ping: socket: Operation not permitted\n");
  auto perm = netdebug::check_mtu(denied.system(), "198.18.210.6");
  CHECK(perm.status == core::CheckStatus::skip);
  CHECK(perm.message.starts_with(
      "ping is not permitted here (ping: socket: Operation not permitted)"));

  FakeMachine silent = mtu_machine();
  silent.commands[kPing + "56 198.18.210.6"] = output(1, "100% packet loss\n");
  auto quiet = netdebug::check_mtu(silent.system(), "198.18.210.6");
  CHECK(quiet.status == core::CheckStatus::skip);
  CHECK(quiet.message == "no answer to a 56-byte ping: ICMP may be filtered; path MTU not probed");

  FakeMachine unreachable = mtu_machine();
  unreachable.commands["ip -j route get 198.18.210.6"] =
      output(2, "", "RTNETLINK answers: Network is unreachable\n");
  auto noRoute = netdebug::check_mtu(unreachable.system(), "198.18.210.6");
  CHECK(noRoute.status == core::CheckStatus::warn);
  CHECK(noRoute.message ==
        "no route: ip route get 198.18.210.6 exited 2: RTNETLINK answers: Network is "
        "unreachable");

  FakeMachine local = mtu_machine();
  local.commands["ip -j route get 127.0.0.1"] =
      output(0, R"([{"type":"local","dst":"127.0.0.1","dev":"lo"}])");
  auto self = netdebug::check_mtu(local.system(), "127.0.0.1");
  CHECK(self.status == core::CheckStatus::ok);
  CHECK(self.message == "an address of this machine (dev lo): no path MTU to probe");
}

// ---------------------------------------------------------------- the whole run

TEST_CASE("netdebug::run_local runs every check in order, layer node", "[netdebug][local]") {
  FakeMachine machine = mtu_machine();
  machine.files["/proc/net/tcp"] =
      kTcpHeader + tcp_line(0, kLabAddr + ":192B", "00000000:0000", "0A", 4242);
  machine.files["/proc/net/tcp6"] = kTcpHeader;
  machine.files["/etc/kubernetes/manifests/kube-apiserver.yaml"] = kManifest;
  machine.processes = {{42, {"kube-apiserver", "--bind-address=198.18.210.2"}, "", 'S', false}};
  machine.owners = {{4242, 42}};
  machine.commands["iptables-save"] = output(0, filter("ACCEPT", ""));
  machine.commands["ip6tables-save"] = output(0, filter("ACCEPT", ""));
  machine.commands["nft -j list ruleset"] = output(0, nft("", ""));
  machine.commands["nft -a list ruleset"] = output(0, "");
  netdebug::LocalOptions options;
  options.port = 6443;
  options.server = "https://198.18.210.6:6443";
  options.target = {"lab", "lab", "https://198.18.210.6:6443"};
  const core::Report report = netdebug::run_local(machine.system(), options);
  CHECK(report.tool == "netdebug");
  std::vector<std::string> ids;
  for (const core::Check& check : report.checks) {
    ids.push_back(check.id);
    CHECK(check.layer == core::Layer::node);
    if (check.status == core::CheckStatus::warn || check.status == core::CheckStatus::fail) {
      CHECK_FALSE(check.hint.empty());
    }
  }
  CHECK(ids == std::vector<std::string>{"node.listen", "node.firewall.iptables",
                                        "node.firewall.nftables", "node.firewalld", "node.manifest",
                                        "node.process", "node.mtu"});
  CHECK(report.checks[0].status == core::CheckStatus::ok);
  CHECK(report.checks[0].message ==
        "port 6443 listens on 198.18.210.2:6443 (pid 42 kube-apiserver)");
  CHECK(report.checks[3].status == core::CheckStatus::skip);
  CHECK(report.checks[5].status == core::CheckStatus::ok);
  CHECK(report.checks[6].status == core::CheckStatus::ok);
  CHECK(core::exit_code(report, core::FailOn::fail) == 0);

  // No kubeconfig: the MTU probe says why it did not run; a name is resolved first.
  options.server.clear();
  options.serverError = "kubeconfig: no configuration has been provided";
  const core::Report noServer = netdebug::run_local(machine.system(), options);
  CHECK(noServer.checks[6].status == core::CheckStatus::skip);
  CHECK(noServer.checks[6].message ==
        "no API server to probe: kubeconfig: no configuration has been provided");
  options.server = "https://api.lab.test:6443";
  machine.names["api.lab.test"] = {"198.18.210.6"};
  CHECK(netdebug::run_local(machine.system(), options).checks[6].status == core::CheckStatus::ok);
  machine.names.clear();
  CHECK(contains(netdebug::run_local(machine.system(), options).checks[6].message,
                 "cannot resolve api.lab.test"));

  // Nothing listening: the run fails in layer node.
  machine.files["/proc/net/tcp"] = kTcpHeader;
  const core::Report down = netdebug::run_local(machine.system(), options);
  CHECK(down.checks[0].status == core::CheckStatus::fail);
  CHECK(core::exit_code(down, core::FailOn::fail) == 1);
  CHECK(core::failed_layer(down) == core::Layer::node);
}

#ifdef _WIN32
TEST_CASE("netdebug::local_command on Windows: exit 2, why, and a hint", "[netdebug][windows]") {
  const kp::testsupport::Invoked r = kp::testsupport::invoke_command(
      netdebug::local_command,
      {"kubectl netdebug", "netdebug", "local", "Run the node-local checks on this machine"}, {});
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "kubectl-netdebug: error: `netdebug local` cannot run on Windows: it reads the node's "
        "Linux /proc and netfilter rules\nhint: run kubectl-netdebug local on the control-plane "
        "node itself (as root), or `kubectl netdebug run` from here to check the nodes through "
        "debug pods\n");
}
#endif

// [posix]: `local` runs on Linux only: on Windows it exits 2 before reading its flags (the
// [windows] case below)
TEST_CASE("netdebug::local_command: help and bad flags (exit 2, naming the flag)",
          "[netdebug][local][posix]") {
  const auto run = [](std::vector<std::string> args, std::string& out, std::string& err) {
    const kp::testsupport::Invoked r = kp::testsupport::invoke_command(
        netdebug::local_command,
        {"kubectl netdebug", "netdebug", "local", "Run the node-local checks on this machine"},
        std::move(args));
    out = r.out;
    err = r.err;
    return r.code;
  };
  std::string out, err;
  CHECK(run({"--help"}, out, err) == 0);
  CHECK(contains(out, "kubectl netdebug local [flags]"));
  CHECK(contains(out, "--manifest"));
  CHECK(contains(out, "--port"));
  CHECK(contains(out, "--kubeconfig"));
  CHECK(run({"--port", "http"}, out, err) == 2);
  CHECK(err == "kubectl-netdebug: error: --port: \"http\" is not a port number (1-65535)\n");
  CHECK(run({"--port", "70000"}, out, err) == 2);
  CHECK(run({"-o", "xml"}, out, err) == 2);
  CHECK(contains(err, "xml"));
  CHECK(run({"--fail-on", "ok"}, out, err) == 2);
  CHECK(run({"--proc", "/nonexistent-kp"}, out, err) == 2);
  CHECK(err == "kubectl-netdebug: error: --proc: \"/nonexistent-kp\" is not a directory\n");
  CHECK(run({"extra"}, out, err) == 2);
  CHECK(contains(err, "unexpected argument \"extra\""));
}

// ---------------------------------------------------------------- the real system

// The real LocalSystem reads Linux's /proc and runs sh: `netdebug local` exits 2 on Windows
// before it makes one (local.cpp), so these are not built there.
#ifndef _WIN32

TEST_CASE("netdebug::LocalSystem::system runs commands with a deadline", "[netdebug][local]") {
  const LocalSystem sys = LocalSystem::system();
  const auto ok = sys.run({"sh", "-c", "echo out; echo err >&2; exit 3"}, std::chrono::seconds(2));
  CHECK(ok.exitCode == 3);
  CHECK(ok.out == "out\n");
  CHECK(ok.err == "err\n");
  CHECK_FALSE(ok.timedOut);
  const auto locale = sys.run({"sh", "-c", "echo $LC_ALL"}, std::chrono::seconds(2));
  CHECK(locale.out == "C\n");
  const auto start = std::chrono::steady_clock::now();
  const auto slow = sys.run({"sh", "-c", "sleep 5"}, std::chrono::milliseconds(200));
  CHECK(slow.timedOut);
  CHECK(slow.exitCode == -1);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  const auto missing = sys.run({"kp-no-such-command"}, std::chrono::seconds(1));
  CHECK(missing.notFound);
  CHECK(missing.err == "kp-no-such-command: executable file not found in $PATH");
}

TEST_CASE("netdebug::LocalSystem::system finds this process and the owner of its socket",
          "[netdebug][local]") {
  const LocalSystem sys = LocalSystem::system();
  const auto processes = sys.processes();
  CHECK(std::any_of(processes.begin(), processes.end(),
                    [](const netdebug::ProcessInfo& p) { return p.pid == ::getpid(); }));
  core::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(fd.get(), 1) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const int port = ntohs(address.sin_port);
  const auto contents = sys.readFile("/proc/net/tcp");
  REQUIRE(contents);
  std::uint64_t inode = 0;
  for (const auto& socket : netdebug::parse_proc_net_tcp(*contents)) {
    if (socket.localPort == port && socket.state == netdebug::kTcpListen) {
      CHECK(socket.localAddress == "127.0.0.1");
      inode = socket.inode;
    }
  }
  REQUIRE(inode != 0);
  const auto owners = sys.socketOwners({inode});
  REQUIRE(owners.count(inode) == 1);
  CHECK(owners.at(inode) == ::getpid());
}
#endif  // _WIN32
