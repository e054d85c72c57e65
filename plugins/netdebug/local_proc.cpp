// /proc/net/tcp and /proc/net/tcp6: their parser and node.listen.
#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/net/socket.h"  // inet_ntop, AF_INET6 (the parser also runs in the unit tests on Windows)
#include "core/util/text.h"
#include "core/util/url.h"
#include "netdebug/local.h"
#include "netdebug/local_detail.h"

namespace kp::netdebug {

using detail::node_check;
using detail::parse_number;
using detail::set;
using detail::split;
using detail::words;

namespace {

// "::ffff:10.0.0.1" -> "10.0.0.1", so IPv4 listeners on tcp6 sockets compare equal.
std::string unmapped(const std::string& address) {
  if (address.starts_with("::ffff:") && address.find('.') != std::string::npos) {
    return address.substr(7);
  }
  return address;
}

bool is_wildcard(const std::string& address) {
  return address.empty() || address == "0.0.0.0" || address == "::";
}

bool is_loopback(const std::string& address) {
  const std::string a = unmapped(address);
  return a.starts_with("127.") || a == "::1";
}

}  // namespace

// ---------------------------------------------------------------- /proc/net/tcp

core::Result<std::string> decode_proc_address(std::string_view hex) {
  if ((hex.size() != 8 && hex.size() != 32) ||
      hex.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
    return core::Error{"not a /proc/net/tcp address: " + core::quote(hex)};
  }
  // Each 32-bit word is printed with %08X from memory in network order, i.e. as the host
  // reads it: on little-endian machines "0100007F" is 127.0.0.1.
  unsigned char bytes[16] = {};
  for (std::size_t word = 0; word < hex.size() / 8; ++word) {
    const auto value =
        static_cast<std::uint32_t>(std::stoul(std::string(hex.substr(word * 8, 8)), nullptr, 16));
    std::memcpy(bytes + word * 4, &value, 4);
  }
  char text[INET6_ADDRSTRLEN] = {};
  const int family = hex.size() == 8 ? AF_INET : AF_INET6;
  if (inet_ntop(family, bytes, text, sizeof text) == nullptr) {
    return core::Error{"not a /proc/net/tcp address: " + core::quote(hex)};
  }
  return std::string(text);
}

std::vector<TcpSocket> parse_proc_net_tcp(std::string_view contents) {
  std::vector<TcpSocket> sockets;
  for (const std::string& line : split(contents, '\n')) {
    const std::vector<std::string> fields = words(line);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    if (fields.size() < 10 || fields[0].empty() || fields[0].back() != ':') {
      continue;
    }
    const auto endpoint = [](const std::string& text, std::string& address, int& port) {
      const std::size_t colon = text.find(':');
      if (colon == std::string::npos || text.size() - colon - 1 != 4 ||
          text.find_first_not_of("0123456789abcdefABCDEF", colon + 1) != std::string::npos) {
        return false;
      }
      core::Result<std::string> decoded = decode_proc_address(text.substr(0, colon));
      if (!decoded) {
        return false;
      }
      address = *decoded;
      port = static_cast<int>(std::stoul(text.substr(colon + 1), nullptr, 16));
      return true;
    };
    TcpSocket socket;
    if (!endpoint(fields[1], socket.localAddress, socket.localPort) ||
        !endpoint(fields[2], socket.remoteAddress, socket.remotePort) || fields[3].size() != 2 ||
        fields[3].find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      continue;
    }
    socket.state = static_cast<int>(std::stoul(fields[3], nullptr, 16));
    const std::optional<std::int64_t> inode = parse_number(fields[9], 0x7fffffff'ffffffff);
    socket.inode = inode ? static_cast<std::uint64_t>(*inode) : 0;
    socket.ipv6 = fields[1].find(':') > 8;
    sockets.push_back(socket);
  }
  return sockets;
}

// ---------------------------------------------------------------- node.listen

core::Check check_listen(int port, const std::vector<TcpSocket>& sockets,
                         const std::map<std::uint64_t, int>& owners,
                         const std::map<int, std::string>& names,
                         const std::optional<ApiServerFlags>& manifest) {
  core::Check check = node_check("node.listen");
  std::vector<const TcpSocket*> listeners;
  for (const TcpSocket& socket : sockets) {
    if (socket.state == kTcpListen && socket.localPort == port) {
      listeners.push_back(&socket);
    }
  }
  check.details = {{"port", port}, {"listeners", nlohmann::ordered_json::array()}};
  const std::string portText = std::to_string(port);
  if (listeners.empty()) {
    set(check, core::CheckStatus::fail,
        "nothing listens on port " + portText + " (/proc/net/tcp, /proc/net/tcp6)",
        "start kube-apiserver or fix its --secure-port: crictl ps -a --name kube-apiserver, "
        "crictl logs <id>, journalctl -u kubelet");
    return check;
  }
  std::vector<std::string> seen;
  bool allLoopback = true;
  for (const TcpSocket* socket : listeners) {
    std::string text = core::host_port(socket->localAddress, port);
    nlohmann::ordered_json item = {{"address", socket->localAddress}, {"port", port}};
    if (const auto owner = owners.find(socket->inode); owner != owners.end()) {
      const auto name = names.find(owner->second);
      const std::string process = name == names.end() ? std::string() : name->second;
      text +=
          " (pid " + std::to_string(owner->second) + (process.empty() ? "" : " " + process) + ")";
      item["pid"] = owner->second;
      item["process"] = process;
    } else {
      text += " (owner not visible: run as root)";
    }
    item["inode"] = socket->inode;
    check.details["listeners"].push_back(item);
    seen.push_back(text);
    allLoopback = allLoopback && is_loopback(socket->localAddress);
  }
  const std::string where = core::join(seen);
  const std::string bind = manifest ? manifest->bindAddress : std::string();
  if (manifest && !is_wildcard(bind)) {
    const bool covered =
        std::any_of(listeners.begin(), listeners.end(), [&bind](const TcpSocket* socket) {
          return is_wildcard(socket->localAddress) ||
                 unmapped(socket->localAddress) == unmapped(bind);
        });
    if (!covered) {
      set(check, core::CheckStatus::warn,
          "the manifest says --bind-address=" + bind + ", but port " + portText + " listens on " +
              where,
          "the process on the port is not the kube-apiserver of the manifest, or kubelet has "
          "not restarted it since the manifest changed: check crictl ps --name kube-apiserver "
          "and the owner above");
      return check;
    }
  }
  if (allLoopback) {
    set(check, core::CheckStatus::warn,
        "port " + portText + " listens only on loopback: " + where +
            (manifest && !bind.empty() ? " (the manifest says --bind-address=" + bind + ")" : ""),
        "other machines cannot connect: set kube-apiserver's --bind-address to 0.0.0.0 or the "
        "node's address in the static pod manifest");
    return check;
  }
  set(check, core::CheckStatus::ok, "port " + portText + " listens on " + where);
  return check;
}

}  // namespace kp::netdebug
