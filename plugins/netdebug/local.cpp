#include "netdebug/local.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/net/net.h"
#include "core/util/files.h"
#include "core/util/text.h"
#include "core/util/url.h"

extern char** environ;

namespace kp::netdebug {
namespace {

constexpr std::string_view kTool = "netdebug";
constexpr std::size_t kMaxCommandOutput = 4 * 1024 * 1024;
constexpr const char* kDefaultManifest = "etc/kubernetes/manifests/kube-apiserver.yaml";

using Clock = std::chrono::steady_clock;

core::Check node_check(std::string id) {
  core::Check check;
  check.id = std::move(id);
  check.layer = core::Layer::node;
  return check;
}

void set(core::Check& check, core::CheckStatus status, std::string message, std::string hint = {}) {
  check.status = status;
  check.message = std::move(message);
  check.hint = std::move(hint);
}

std::string in_quotes(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> result;
  std::string current;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (!current.empty()) {
        result.push_back(current);
        current.clear();
      }
    } else {
      current += c;
    }
  }
  if (!current.empty()) {
    result.push_back(current);
  }
  return result;
}

std::string lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

// A decimal number within [0, max], or nullopt.
std::optional<long> parse_number(std::string_view text, long max) {
  if (text.empty() || text.size() > 10 ||
      text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const long value = std::stol(std::string(text));
  if (value > max) {
    return std::nullopt;
  }
  return value;
}

std::string first_line(std::string_view text) {
  text = core::trim(text);
  return std::string(text.substr(0, text.find('\n')));
}

std::string join_path(const std::string& dir, std::string_view rest) {
  if (dir.empty() || dir == "/") {
    return "/" + std::string(rest);
  }
  return (dir.back() == '/' ? dir : dir + "/") + std::string(rest);
}

std::string basename_of(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

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

std::string host_port(const std::string& address, int port) {
  return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
         std::to_string(port);
}

}  // namespace

// ---------------------------------------------------------------- /proc/net/tcp

core::Result<std::string> decode_proc_address(std::string_view hex) {
  if ((hex.size() != 8 && hex.size() != 32) ||
      hex.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
    return core::Error{"not a /proc/net/tcp address: " + in_quotes(hex)};
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
    return core::Error{"not a /proc/net/tcp address: " + in_quotes(hex)};
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
    const std::optional<long> inode = parse_number(fields[9], 0x7fffffff'ffffffff);
    socket.inode = inode ? static_cast<std::uint64_t>(*inode) : 0;
    socket.ipv6 = fields[1].find(':') > 8;
    sockets.push_back(socket);
  }
  return sockets;
}

// ---------------------------------------------------------------- the static pod manifest

ManifestState check_manifest(const LocalSystem& sys, const std::string& path, bool explicitPath,
                             int port) {
  ManifestState state;
  state.path = path;
  state.explicitPath = explicitPath;
  core::Check& check = state.check;
  check = node_check("node.manifest");
  check.details = {{"path", path}};
  if (!sys.fileExists(path)) {
    if (explicitPath) {
      set(check, core::CheckStatus::fail, path + ": no such file",
          "check the --manifest path (kubeadm writes /etc/kubernetes/manifests/"
          "kube-apiserver.yaml)");
    } else {
      set(check, core::CheckStatus::skip,
          "no static pod manifest at " + path +
              ": not a kubeadm control-plane node (give --manifest for another path)");
    }
    return state;
  }
  core::Result<std::string> contents = sys.readFile(path);
  if (!contents) {
    set(check, core::CheckStatus::fail, contents.error().message,
        "run as root: the manifest is readable by root only");
    return state;
  }
  core::Result<ApiServerFlags> flags = parse_manifest(*contents);
  if (!flags) {
    set(check, core::CheckStatus::fail, path + ": " + flags.error().message,
        "fix the manifest: kubelet cannot run kube-apiserver from it (journalctl -u kubelet "
        "shows the same error)");
    return state;
  }
  state.flags = *flags;
  check.details["bindAddress"] = flags->bindAddress;
  check.details["securePort"] = flags->securePort;
  check.details["advertiseAddress"] = flags->advertiseAddress;
  std::string message = path + ": ";
  message += flags->bindAddress.empty() ? "--bind-address unset (default 0.0.0.0)"
                                        : "--bind-address=" + flags->bindAddress;
  message += flags->securePort.empty() ? ", --secure-port unset (default 6443)"
                                       : ", --secure-port=" + flags->securePort;
  if (!flags->advertiseAddress.empty()) {
    message += ", --advertise-address=" + flags->advertiseAddress;
  }
  const std::string securePort = flags->securePort.empty() ? "6443" : flags->securePort;
  const std::optional<long> number = parse_number(securePort, 65535);
  if (!number || *number == 0) {
    set(check, core::CheckStatus::fail, message + ": --secure-port is not a port number",
        "fix --secure-port in the manifest");
    return state;
  }
  if (*number != port) {
    set(check, core::CheckStatus::warn,
        message + "; the port checked is " + std::to_string(port) + ", not " + securePort,
        "the kubeconfig may point at a load balancer or another port: pass --port " + securePort +
            " to check kube-apiserver itself, or fix --secure-port");
    return state;
  }
  set(check, core::CheckStatus::ok, message);
  return state;
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
    std::string text = host_port(socket->localAddress, port);
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

// ---------------------------------------------------------------- firewall rules

namespace {

// Port specs: "6443", "6000:7000" (iptables) or "6000-7000"; nullopt when not numeric.
std::optional<bool> port_in_range(std::string_view spec, int port) {
  const std::size_t sep = spec.find_first_of(":-");
  if (sep == std::string_view::npos) {
    const auto value = parse_number(spec, 65535);
    return value ? std::optional<bool>(*value == port) : std::nullopt;
  }
  const auto low = sep == 0 ? std::optional<long>(0) : parse_number(spec.substr(0, sep), 65535);
  const auto high = sep + 1 == spec.size() ? std::optional<long>(65535)
                                           : parse_number(spec.substr(sep + 1), 65535);
  if (!low || !high) {
    return std::nullopt;
  }
  return *low <= port && port <= *high;
}

// "22,80,6000:7000" (multiport).
std::optional<bool> port_in_list(std::string_view list, int port) {
  for (const std::string& item : split(list, ',')) {
    const std::optional<bool> in = port_in_range(item, port);
    if (!in) {
      return std::nullopt;
    }
    if (*in) {
      return true;
    }
  }
  return false;
}

// Only loopback traffic meets these conditions: an accept like this opens nothing to clients.
bool loopback_only(const std::vector<std::string>& conditions) {
  return std::any_of(conditions.begin(), conditions.end(), [](const std::string& c) {
    return c == "-i lo" || c.starts_with("-s 127.") || c == "iifname \"lo\"" || c == "iif \"lo\"";
  });
}

// iptables-save quotes comments: -m comment --comment "a b".
std::vector<std::string> tokenize_rule(std::string_view line) {
  std::vector<std::string> tokens;
  std::string current;
  bool inQuote = false;
  bool started = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (inQuote) {
      if (c == '\\' && i + 1 < line.size()) {
        current += line[++i];
      } else if (c == '"') {
        inQuote = false;
      } else {
        current += c;
      }
    } else if (c == '"') {
      inQuote = true;
      started = true;
    } else if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (started || !current.empty()) {
        tokens.push_back(current);
      }
      current.clear();
      started = false;
    } else {
      current += c;
    }
  }
  if (started || !current.empty()) {
    tokens.push_back(current);
  }
  return tokens;
}

// How one rule treats a new TCP connection to the port.
struct RuleView {
  bool applies = true;                  // it can match such a connection
  bool portSpecific = false;            // it matches on the port itself
  std::vector<std::string> conditions;  // anything else it requires, as printed
  std::string target;                   // ACCEPT, DROP, a chain, ... ("" none)
  bool isGoto = false;
};

bool is_option(const std::string& token) {
  return token.size() > 1 && token[0] == '-';
}

// The tokens after "-A CHAIN".
RuleView view_iptables_rule(const std::vector<std::string>& tokens, int port) {
  RuleView view;
  bool targetSeen = false;
  std::size_t i = 2;
  while (i < tokens.size()) {
    bool negate = false;
    if (tokens[i] == "!") {
      negate = true;
      ++i;
      if (i >= tokens.size()) {
        break;
      }
    }
    const std::string option = tokens[i++];
    std::vector<std::string> values;
    while (i < tokens.size() && tokens[i] != "!" && !is_option(tokens[i])) {
      values.push_back(tokens[i++]);
    }
    const std::string value = values.empty() ? std::string() : values.front();
    if (targetSeen) {
      continue;  // target options: --reject-with, --log-prefix, ...
    }
    const auto portMatch = [&](std::optional<bool> in) {
      if (!in) {
        view.conditions.push_back((negate ? "! " : "") + option + " " + value);
      } else if (*in != negate) {
        view.portSpecific = view.portSpecific || !negate;
      } else {
        view.applies = false;
      }
    };
    if (option == "-p" || option == "--protocol") {
      const std::string proto = lower(value);
      const bool tcp = proto == "tcp" || proto == "6";
      const bool all = proto == "all" || proto == "0";
      if (negate ? (tcp || all) : !(tcp || all)) {
        view.applies = false;
      }
    } else if (option == "-m" || option == "--match" || option == "--comment" || option == "-c") {
      // a match module being loaded, a comment, counters: no condition by themselves
    } else if (option == "--dport" || option == "--destination-port") {
      portMatch(port_in_range(value, port));
    } else if (option == "--dports" || option == "--destination-ports" || option == "--ports") {
      portMatch(port_in_list(value, port));
    } else if (option == "--state" || option == "--ctstate") {
      const std::vector<std::string> states = split(value, ',');
      const bool hasNew = std::find(states.begin(), states.end(), "NEW") != states.end();
      if (hasNew == negate) {
        view.applies = false;  // established/related/invalid only: not a new connection
      }
    } else if (option == "--syn") {
      if (negate) {
        view.applies = false;
      }
    } else if (option == "-j" || option == "--jump" || option == "-g" || option == "--goto") {
      view.target = value;
      view.isGoto = option == "-g" || option == "--goto";
      targetSeen = true;
    } else {
      std::string text = (negate ? "! " : "") + option;
      for (const std::string& v : values) {
        text += " " + v;
      }
      view.conditions.push_back(text);
    }
  }
  return view;
}

enum class Flow { fell, accepted, blocked, returned };

// One rule of a chain, generic over iptables and nftables.
struct GenericRule {
  std::string text;
  std::string deleteCommand;
  RuleView view;
};

struct GenericChain {
  std::string policy;  // "ACCEPT"/"DROP" (iptables), "accept"/"drop" (nft), "" for user chains
  std::vector<GenericRule> rules;
};

bool is_block(std::string_view target) {
  return target == "DROP" || target == "REJECT" || target == "drop" || target == "reject";
}

bool is_accept(std::string_view target) {
  return target == "ACCEPT" || target == "accept";
}

bool is_return(std::string_view target) {
  return target == "RETURN" || target == "return";
}

// Walks chains as the kernel would for a new TCP connection to the port; rules that only some
// of that traffic meets are followed without ending the walk.
class ChainWalker {
 public:
  ChainWalker(const std::map<std::string, GenericChain>& chains, FirewallAnalysis& result)
      : chains_(chains), result_(result) {}

  // Walks the base chain `name`; its policy applies when the walk falls off the end.
  void walk_base(const std::string& name, const std::string& policyRule) {
    allowSeen_ = false;
    const auto chain = chains_.find(name);
    if (chain == chains_.end()) {
      return;
    }
    std::set<std::string> visiting;
    const Flow flow = walk(name, {}, 0, visiting);
    if ((flow == Flow::fell || flow == Flow::returned) && is_block(chain->second.policy)) {
      FirewallHit hit;
      hit.rule = policyRule;
      hit.verdict = "policy " + chain->second.policy;
      hit.allowlisted = allowSeen_;
      result_.hits.push_back(hit);
    }
  }

 private:
  Flow walk(const std::string& name, const std::vector<std::string>& inherited, int depth,
            std::set<std::string>& visiting) {
    const auto chain = chains_.find(name);
    if (chain == chains_.end() || depth > 32 || visiting.count(name) > 0) {
      return Flow::fell;
    }
    visiting.insert(name);
    std::vector<std::string> extra = inherited;
    Flow flow = Flow::fell;
    for (const GenericRule& rule : chain->second.rules) {
      ++result_.rulesSeen;
      const RuleView& view = rule.view;
      if (!view.applies) {
        continue;
      }
      std::vector<std::string> conditions = extra;
      conditions.insert(conditions.end(), view.conditions.begin(), view.conditions.end());
      const bool conditional = !conditions.empty();
      if (is_accept(view.target)) {
        if (!conditional) {
          result_.acceptedBy = rule.text;
          flow = Flow::accepted;
          break;
        }
        allowSeen_ = allowSeen_ || (view.portSpecific && !loopback_only(conditions));
      } else if (is_block(view.target)) {
        FirewallHit hit;
        hit.rule = rule.text;
        hit.verdict = view.target;
        hit.conditions = core::join(conditions, " ");
        hit.deleteCommand = rule.deleteCommand;
        hit.allowlisted = allowSeen_;
        result_.hits.push_back(hit);
        if (!conditional) {
          flow = Flow::blocked;
          break;
        }
      } else if (is_return(view.target)) {
        if (view.conditions.empty()) {
          flow = Flow::returned;
          break;
        }
        extra.push_back("(not matching: " + rule.text + ")");
      } else if (!view.target.empty() && chains_.count(view.target) > 0) {
        const Flow inner = walk(view.target, conditions, depth + 1, visiting);
        if (!conditional && (inner == Flow::accepted || inner == Flow::blocked)) {
          flow = inner;
          break;
        }
        if (!conditional && view.isGoto) {
          flow = Flow::returned;  // a goto never comes back to this chain
          break;
        }
      }
    }
    visiting.erase(name);
    return flow;
  }

  const std::map<std::string, GenericChain>& chains_;
  FirewallAnalysis& result_;
  bool allowSeen_ = false;
};

}  // namespace

FirewallAnalysis analyze_iptables_save(std::string_view save, int port, std::string_view tool) {
  std::map<std::string, GenericChain> chains;
  bool inFilter = false;
  for (const std::string& raw : split(save, '\n')) {
    const std::string line(core::trim(raw));
    if (line.starts_with("*")) {
      inFilter = line == "*filter";
      continue;
    }
    if (!inFilter) {
      continue;
    }
    if (line == "COMMIT") {
      inFilter = false;
    } else if (line.starts_with(":")) {
      const std::vector<std::string> fields = words(line.substr(1));
      if (!fields.empty()) {
        chains[fields[0]].policy = fields.size() > 1 && fields[1] != "-" ? fields[1] : "";
      }
    } else if (line.starts_with("-A ")) {
      const std::vector<std::string> tokens = tokenize_rule(line);
      if (tokens.size() < 2) {
        continue;
      }
      GenericRule rule;
      rule.text = line;
      rule.deleteCommand = std::string(tool) + " -D " + line.substr(3);
      rule.view = view_iptables_rule(tokens, port);
      chains[tokens[1]].rules.push_back(rule);
    }
  }
  FirewallAnalysis result;
  ChainWalker walker(chains, result);
  const auto input = chains.find("INPUT");
  walker.walk_base(
      "INPUT", ":INPUT " + (input == chains.end() ? std::string("ACCEPT") : input->second.policy));
  return result;
}

// ---------------------------------------------------------------- nftables

namespace {

using Json = nlohmann::json;

std::string json_text(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// The right-hand side of a match as a list of items: a value, an array, or {"set": [...]}.
std::vector<Json> items_of(const Json& right) {
  if (right.is_object() && right.contains("set") && right["set"].is_array()) {
    return right["set"].get<std::vector<Json>>();
  }
  if (right.is_array()) {
    return right.get<std::vector<Json>>();
  }
  return {right};
}

// Whether the port is among the items (numbers, {"range": [a, b]}); nullopt for named sets
// and anything else we cannot evaluate.
std::optional<bool> port_in_items(const Json& right, int port) {
  bool found = false;
  for (const Json& item : items_of(right)) {
    if (item.is_number_integer()) {
      found = found || item.get<long>() == port;
    } else if (item.is_object() && item.contains("range") && item["range"].is_array() &&
               item["range"].size() == 2 && item["range"][0].is_number_integer() &&
               item["range"][1].is_number_integer()) {
      found = found || (item["range"][0].get<long>() <= port && port <= item["range"][1]);
    } else {
      return std::nullopt;
    }
  }
  return found;
}

bool contains_text(const Json& right, std::string_view wanted) {
  for (const Json& item : items_of(right)) {
    if ((item.is_string() && item.get<std::string>() == wanted) ||
        (wanted == "tcp" && item.is_number_integer() && item.get<int>() == 6)) {
      return true;
    }
  }
  return false;
}

std::string describe_left(const Json& left) {
  if (left.is_object() && left.contains("payload") && left["payload"].is_object()) {
    const Json& p = left["payload"];
    return json_text(p.value("protocol", Json("?"))) + " " + json_text(p.value("field", Json("?")));
  }
  if (left.is_object() && left.contains("meta") && left["meta"].is_object()) {
    return json_text(left["meta"].value("key", Json("meta")));
  }
  if (left.is_object() && left.contains("ct") && left["ct"].is_object()) {
    return "ct " + json_text(left["ct"].value("key", Json("?")));
  }
  return left.dump();
}

std::string describe_right(const Json& right) {
  if (right.is_string()) {
    return "\"" + right.get<std::string>() + "\"";
  }
  return right.dump();
}

RuleView view_nft_rule(const Json& exprs, int port) {
  RuleView view;
  if (!exprs.is_array()) {
    view.applies = false;
    return view;
  }
  for (const Json& statement : exprs) {
    if (!statement.is_object() || statement.size() != 1) {
      continue;
    }
    const std::string kind = statement.begin().key();
    const Json& body = statement.begin().value();
    if (kind == "match" && body.is_object()) {
      const std::string op = json_text(body.value("op", Json("==")));
      const bool negate = op == "!=";
      const Json left = body.value("left", Json());
      const Json right = body.value("right", Json());
      const std::string condition =
          describe_left(left) + (negate ? " != " : " ") + describe_right(right);
      std::string protocol;
      std::string field;
      std::string metaKey;
      std::string ctKey;
      if (left.is_object() && left.contains("payload") && left["payload"].is_object()) {
        protocol = json_text(left["payload"].value("protocol", Json("")));
        field = json_text(left["payload"].value("field", Json("")));
      } else if (left.is_object() && left.contains("meta") && left["meta"].is_object()) {
        metaKey = json_text(left["meta"].value("key", Json("")));
      } else if (left.is_object() && left.contains("ct") && left["ct"].is_object()) {
        ctKey = json_text(left["ct"].value("key", Json("")));
      }
      if ((protocol == "tcp" || protocol == "th") && field == "dport") {
        const std::optional<bool> in = port_in_items(right, port);
        if (!in) {
          view.conditions.push_back(condition);
        } else if (*in != negate) {
          view.portSpecific = view.portSpecific || !negate;
        } else {
          view.applies = false;
        }
      } else if (!protocol.empty() && protocol != "tcp" && protocol != "th" && protocol != "ip" &&
                 protocol != "ip6" && protocol != "ether" && protocol != "vlan") {
        view.applies = false;  // udp dport, icmp type...: implies another protocol
      } else if (metaKey == "l4proto" || (protocol == "ip" && field == "protocol") ||
                 (protocol == "ip6" && field == "nexthdr")) {
        if (contains_text(right, "tcp") == negate) {
          view.applies = false;
        }
      } else if (metaKey == "nfproto") {
        // IPv4 or IPv6 only: either may carry the connection
      } else if (ctKey == "state") {
        if (contains_text(right, "new") == negate) {
          view.applies = false;  // established/related/invalid only
        }
      } else {
        view.conditions.push_back(condition);
      }
    } else if (kind == "accept" || kind == "drop" || kind == "reject" || kind == "return") {
      view.target = kind;
      break;
    } else if ((kind == "jump" || kind == "goto") && body.is_object() && body.contains("target")) {
      view.target = json_text(body["target"]);
      view.isGoto = kind == "goto";
      break;
    } else if (kind == "vmap" && body.is_object() && body.contains("data") &&
               body.contains("key")) {
      // ct state vmap { established : accept, related : accept, invalid : drop }, and the
      // same keyed on the port: the verdict for a new connection to the port, if any.
      const Json key = body["key"];
      const bool ctState = key.is_object() && key.contains("ct");
      const bool dport = key.is_object() && key.contains("payload") && key["payload"].is_object() &&
                         key["payload"].value("field", Json("")) == Json("dport");
      for (const Json& pair : items_of(body["data"])) {
        if (!pair.is_array() || pair.size() != 2 || !pair[1].is_object() || pair[1].empty()) {
          continue;
        }
        const bool hit = (ctState && contains_text(pair[0], "new")) ||
                         (dport && port_in_items(pair[0], port).value_or(false));
        if (hit) {
          view.target = pair[1].begin().key();
          if (dport) {
            view.portSpecific = true;
          }
          if (view.target == "jump" || view.target == "goto") {
            view.target = json_text(pair[1].begin().value().value("target", Json("")));
          }
        }
      }
      if (!view.target.empty()) {
        break;
      }
    } else if (kind == "limit" || kind == "quota") {
      view.conditions.push_back(kind);
    }
    // counter, log, comment, meta/ct settings...: no effect on whether the rule matches
  }
  return view;
}

}  // namespace

std::map<std::string, std::string> nft_rule_texts(std::string_view listing) {
  std::map<std::string, std::string> texts;
  std::string family;
  std::string table;
  std::string chain;
  int depth = 0;
  for (const std::string& raw : split(listing, '\n')) {
    std::string body(core::trim(raw));
    std::string handle;
    if (const std::size_t at = body.rfind(" # handle "); at != std::string::npos) {
      handle = body.substr(at + 10);
      body = std::string(core::trim(body.substr(0, at)));
    }
    const std::vector<std::string> fields = words(body);
    if (!body.empty() && body.back() == '{') {
      if (depth == 0 && fields.size() >= 3 && fields[0] == "table") {
        family = fields[1];
        table = fields[2];
        chain.clear();
      } else if (depth == 1 && fields.size() >= 2 && fields[0] == "chain") {
        chain = fields[1];
      }
      ++depth;  // a set, map or flowtable too: nothing of ours inside
      continue;
    }
    if (body == "}") {
      depth = std::max(0, depth - 1);
      if (depth < 2) {
        chain.clear();
      }
      continue;
    }
    if (depth == 2 && !chain.empty() && !handle.empty()) {
      texts[family + " " + table + " " + chain + " " + handle] = body;
    }
  }
  return texts;
}

core::Result<FirewallAnalysis> analyze_nft_json(std::string_view json, int port,
                                                const std::map<std::string, std::string>& handles) {
  Json doc = Json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("nftables") ||
      !doc["nftables"].is_array()) {
    return core::Error{"not the JSON of nft -j list ruleset"};
  }
  // Chains are grouped per table: jumps never leave their table.
  struct BaseChain {
    std::string family, table, name;
    long priority = 0;
  };
  std::map<std::string, std::map<std::string, GenericChain>> tables;  // "family table"
  std::vector<BaseChain> bases;
  for (const Json& item : doc["nftables"]) {
    if (!item.is_object()) {
      continue;
    }
    if (item.contains("chain") && item["chain"].is_object()) {
      const Json& c = item["chain"];
      const std::string family = json_text(c.value("family", Json("")));
      const std::string key = family + " " + json_text(c.value("table", Json("")));
      const std::string name = json_text(c.value("name", Json("")));
      GenericChain& chain = tables[key][name];
      if (c.contains("hook")) {
        chain.policy = json_text(c.value("policy", Json("accept")));
        if (c["hook"] == "input" && (family == "ip" || family == "ip6" || family == "inet")) {
          const Json prio = c.value("prio", Json(0));
          bases.push_back({family, json_text(c.value("table", Json(""))), name,
                           prio.is_number_integer() ? prio.get<long>() : 0});
        }
      }
    } else if (item.contains("rule") && item["rule"].is_object()) {
      const Json& r = item["rule"];
      const std::string family = json_text(r.value("family", Json("")));
      const std::string tableName = json_text(r.value("table", Json("")));
      const std::string chainName = json_text(r.value("chain", Json("")));
      const std::string handle = json_text(r.value("handle", Json("?")));
      GenericRule rule;
      const auto text = handles.find(family + " " + tableName + " " + chainName + " " + handle);
      rule.text = "table " + family + " " + tableName + " chain " + chainName + ": " +
                  (text != handles.end() ? text->second : r.value("expr", Json()).dump()) +
                  " # handle " + handle;
      rule.deleteCommand =
          "nft delete rule " + family + " " + tableName + " " + chainName + " handle " + handle;
      if ((family == "ip" || family == "ip6") &&
          (tableName == "filter" || tableName == "raw" || tableName == "mangle" ||
           tableName == "security")) {
        // iptables-nft keeps its rules here: node.firewall.iptables shows the same rule.
        rule.deleteCommand += ", or with " +
                              std::string(family == "ip" ? "iptables" : "ip6tables") +
                              " -D (an iptables-nft rule)";
      }
      rule.view = view_nft_rule(r.value("expr", Json()), port);
      tables[family + " " + tableName][chainName].rules.push_back(rule);
    }
  }
  std::stable_sort(bases.begin(), bases.end(),
                   [](const BaseChain& a, const BaseChain& b) { return a.priority < b.priority; });
  FirewallAnalysis result;
  for (const BaseChain& base : bases) {
    // An accept ends only its own base chain: every input-hook chain must let it through.
    FirewallAnalysis one;
    ChainWalker walker(tables[base.family + " " + base.table], one);
    walker.walk_base(base.name, "table " + base.family + " " + base.table + " chain " + base.name +
                                    " (policy " +
                                    tables[base.family + " " + base.table][base.name].policy + ")");
    result.rulesSeen += one.rulesSeen;
    result.hits.insert(result.hits.end(), one.hits.begin(), one.hits.end());
    if (result.acceptedBy.empty()) {
      result.acceptedBy = one.acceptedBy;
    }
  }
  return result;
}

// ---------------------------------------------------------------- firewall checks

namespace {

std::string blocks_verb(const FirewallHit& hit) {
  return lower(hit.verdict).find("reject") != std::string::npos ? "rejects" : "drops";
}

// Turns the analyses of one tool family into its check.
void judge_firewall(core::Check& check,
                    const std::vector<std::pair<std::string, FirewallAnalysis>>& analyses, int port,
                    const std::string& acceptCommand) {
  const std::string target = "tcp/" + std::to_string(port);
  nlohmann::ordered_json hits = nlohmann::ordered_json::array();
  const FirewallHit* firstFail = nullptr;
  std::string failTool;
  const FirewallHit* firstWarn = nullptr;
  std::string warnTool;
  int rules = 0;
  std::string accepted;
  for (const auto& [tool, analysis] : analyses) {
    rules += analysis.rulesSeen;
    if (accepted.empty() && !analysis.acceptedBy.empty()) {
      accepted = tool + ": " + analysis.acceptedBy;
    }
    for (const FirewallHit& hit : analysis.hits) {
      hits.push_back({{"tool", tool},
                      {"rule", hit.rule},
                      {"verdict", hit.verdict},
                      {"conditions", hit.conditions},
                      {"allowlisted", hit.allowlisted}});
      const bool unconditional = hit.conditions.empty() && !hit.allowlisted;
      if (unconditional && firstFail == nullptr) {
        firstFail = &hit;
        failTool = tool;
      } else if (!unconditional && firstWarn == nullptr) {
        firstWarn = &hit;
        warnTool = tool;
      }
    }
  }
  check.details["rules"] = rules;
  check.details["hits"] = hits;
  const auto removal = [&](const FirewallHit& hit) {
    return hit.deleteCommand.empty() ? "accept the port before the policy applies: " + acceptCommand
                                     : "delete it (" + hit.deleteCommand +
                                           ") or accept the port before it (" + acceptCommand + ")";
  };
  if (firstFail != nullptr) {
    const std::string message = firstFail->deleteCommand.empty()
                                    ? failTool + ": " + firstFail->rule + ": the " +
                                          firstFail->verdict + " applies and no rule accepts " +
                                          target
                                    : failTool + ": \"" + firstFail->rule + "\" " +
                                          blocks_verb(*firstFail) + " new connections to " + target;
    set(check, core::CheckStatus::fail, message, removal(*firstFail));
    return;
  }
  if (firstWarn != nullptr) {
    const std::string rule = firstWarn->deleteCommand.empty()
                                 ? firstWarn->rule + " (" + firstWarn->verdict + ")"
                                 : "\"" + firstWarn->rule + "\"";
    if (firstWarn->conditions.empty()) {
      set(check, core::CheckStatus::warn,
          warnTool + ": " + rule + " " + blocks_verb(*firstWarn) + " " + target +
              " for everything an earlier rule does not accept",
          "make sure every client, node and load balancer (health checks included) is in the "
          "accepted set, or " +
              removal(*firstWarn));
    } else {
      set(check, core::CheckStatus::warn,
          warnTool + ": " + rule + " " + blocks_verb(*firstWarn) + " " + target +
              " for traffic matching " + firstWarn->conditions,
          "check that clients do not come that way, or " + removal(*firstWarn));
    }
    return;
  }
  set(check, core::CheckStatus::ok,
      "no rule drops or rejects " + target + " (" + std::to_string(rules) + " rules read" +
          (accepted.empty() ? std::string(")") : "; accepted by " + accepted + ")"));
}

std::string command_failure(const std::string& command, const CommandOutput& output) {
  if (output.timedOut) {
    return command + " did not finish within " + std::to_string(kCommandTimeout.count() / 1000) +
           " s";
  }
  const std::string why = first_line(output.err.empty() ? output.out : output.err);
  return command + " exited " + std::to_string(output.exitCode) + (why.empty() ? "" : ": " + why);
}

}  // namespace

core::Check check_iptables(const LocalSystem& sys, int port) {
  core::Check check = node_check("node.firewall.iptables");
  std::vector<std::pair<std::string, FirewallAnalysis>> analyses;
  std::vector<std::string> problems;
  std::vector<std::string> missing;
  for (const std::string tool : {"iptables", "ip6tables"}) {
    const std::string command = tool + "-save";
    const CommandOutput output = sys.run({command}, kCommandTimeout);
    if (output.notFound) {
      missing.push_back(command);
    } else if (output.exitCode != 0) {
      problems.push_back(command_failure(command, output));
    } else {
      analyses.emplace_back(tool, analyze_iptables_save(output.out, port, tool));
    }
  }
  check.details = {{"port", port}};
  if (analyses.empty()) {
    set(check, core::CheckStatus::skip,
        missing.size() == 2 ? "iptables-save is not installed (package iptables): no iptables "
                              "rules to read"
                            : core::join(problems, "; ") + " (run as root to read the rules)");
    return check;
  }
  judge_firewall(check, analyses, port,
                 "iptables -I INPUT -p tcp --dport " + std::to_string(port) + " -j ACCEPT");
  if (!problems.empty() && check.status == core::CheckStatus::ok) {
    check.message += "; " + core::join(problems, "; ");
  }
  return check;
}

core::Check check_nftables(const LocalSystem& sys, int port) {
  core::Check check = node_check("node.firewall.nftables");
  check.details = {{"port", port}};
  const CommandOutput output = sys.run({"nft", "-j", "list", "ruleset"}, kCommandTimeout);
  if (output.notFound) {
    set(check, core::CheckStatus::skip,
        "nft is not installed (package nftables): no nftables rules to read");
    return check;
  }
  if (output.exitCode != 0) {
    set(check, core::CheckStatus::skip,
        command_failure("nft -j list ruleset", output) + " (run as root to read the rules)");
    return check;
  }
  const CommandOutput listing = sys.run({"nft", "-a", "list", "ruleset"}, kCommandTimeout);
  const std::map<std::string, std::string> texts =
      listing.exitCode == 0 ? nft_rule_texts(listing.out) : std::map<std::string, std::string>();
  core::Result<FirewallAnalysis> analysis = analyze_nft_json(output.out, port, texts);
  if (!analysis) {
    set(check, core::CheckStatus::skip,
        "nft -j list ruleset: " + analysis.error().message + ": " +
            core::quote_bytes(output.out, 80));
    return check;
  }
  judge_firewall(
      check, {{"nftables", *analysis}}, port,
      "nft insert rule <family> <table> <chain> tcp dport " + std::to_string(port) + " accept");
  return check;
}

core::Check check_firewalld(const LocalSystem& sys, int port) {
  core::Check check = node_check("node.firewalld");
  const std::string target = std::to_string(port) + "/tcp";
  const CommandOutput state = sys.run({"firewall-cmd", "--state"}, kCommandTimeout);
  if (state.notFound) {
    set(check, core::CheckStatus::skip, "firewall-cmd is not installed: firewalld is not in use");
    return check;
  }
  const std::string stateText = first_line(state.out + state.err);
  if (state.exitCode != 0 || stateText != "running") {
    if (stateText.find("not running") != std::string::npos) {
      set(check, core::CheckStatus::ok, "firewalld is not running");
    } else {
      set(check, core::CheckStatus::skip, command_failure("firewall-cmd --state", state));
    }
    return check;
  }
  const CommandOutput zone = sys.run({"firewall-cmd", "--get-default-zone"}, kCommandTimeout);
  const CommandOutput ports = sys.run({"firewall-cmd", "--list-ports"}, kCommandTimeout);
  const CommandOutput services = sys.run({"firewall-cmd", "--list-services"}, kCommandTimeout);
  const std::string zoneName = zone.exitCode == 0 ? first_line(zone.out) : "default";
  if (ports.exitCode != 0 || services.exitCode != 0) {
    set(check, core::CheckStatus::skip,
        "firewalld is running, but " +
            (ports.exitCode != 0 ? command_failure("firewall-cmd --list-ports", ports)
                                 : command_failure("firewall-cmd --list-services", services)));
    return check;
  }
  check.details = {
      {"zone", zoneName}, {"ports", words(ports.out)}, {"services", words(services.out)}};
  for (const std::string& entry : words(ports.out)) {
    const std::size_t slash = entry.find('/');
    if (slash != std::string::npos && entry.substr(slash + 1) == "tcp" &&
        port_in_range(entry.substr(0, slash), port).value_or(false)) {
      set(check, core::CheckStatus::ok,
          "firewalld is running; zone " + zoneName + " opens " + entry);
      return check;
    }
  }
  for (const std::string& service : words(services.out)) {
    if (port == 6443 && (service == "kube-apiserver" || service == "kube-control-plane" ||
                         service == "kube-control-plane-secure")) {
      set(check, core::CheckStatus::ok,
          "firewalld is running; zone " + zoneName + " has the " + service + " service (" + target +
              ")");
      return check;
    }
  }
  set(check, core::CheckStatus::warn,
      "firewalld is running and zone " + zoneName + " opens neither " + target +
          " nor the kube-apiserver service (ports: " +
          (words(ports.out).empty() ? std::string("none") : core::join(words(ports.out), " ")) +
          "; services: " +
          (words(services.out).empty() ? std::string("none")
                                       : core::join(words(services.out), " ")) +
          ")",
      "firewall-cmd --permanent --add-port=" + target +
          " && firewall-cmd --reload (or the "
          "zone of the interface clients come through: firewall-cmd --get-active-zones)");
  return check;
}

// ---------------------------------------------------------------- node.process

core::Check check_process(const std::vector<ProcessInfo>& processes, int port,
                          const std::optional<ApiServerFlags>& manifest) {
  core::Check check = node_check("node.process");
  std::vector<const ProcessInfo*> found;
  for (const ProcessInfo& process : processes) {
    std::string exe = basename_of(process.exe);
    if (exe.ends_with(" (deleted)")) {
      exe.resize(exe.size() - 10);
    }
    if ((!process.argv.empty() && basename_of(process.argv[0]) == "kube-apiserver") ||
        exe == "kube-apiserver") {
      found.push_back(&process);
    }
  }
  if (found.empty()) {
    set(check, core::CheckStatus::skip,
        "no kube-apiserver process: not a control-plane node, or it runs elsewhere");
    return check;
  }
  const auto flags_of = [](const ProcessInfo& process) {
    return apiserver_flags(std::vector<std::string>(
        process.argv.begin() + (process.argv.empty() ? 0 : 1), process.argv.end()));
  };
  const auto port_of = [](const ApiServerFlags& flags) {
    return flags.securePort.empty() ? std::string("6443") : flags.securePort;
  };
  const auto bind_of = [](const ApiServerFlags& flags) {
    return flags.bindAddress.empty() ? std::string("0.0.0.0") : flags.bindAddress;
  };
  // The one serving the port checked, in this network namespace if there is one.
  const ProcessInfo* chosen = found.front();
  int best = -1;
  for (const ProcessInfo* process : found) {
    const int score = (port_of(flags_of(*process)) == std::to_string(port) ? 2 : 0) +
                      (process->otherNetns ? 0 : 1);
    if (score > best) {
      best = score;
      chosen = process;
    }
  }
  const ApiServerFlags flags = flags_of(*chosen);
  std::string message = "kube-apiserver pid " + std::to_string(chosen->pid) + " (state " +
                        std::string(1, chosen->state) + "): --secure-port=" + port_of(flags) +
                        (flags.securePort.empty() ? " (default)" : "") +
                        ", --bind-address=" + bind_of(flags) +
                        (flags.bindAddress.empty() ? " (default)" : "");
  if (!flags.advertiseAddress.empty()) {
    message += ", --advertise-address=" + flags.advertiseAddress;
  }
  if (chosen->otherNetns) {
    message += " (in another network namespace than the one checked)";
  }
  nlohmann::ordered_json pids = nlohmann::ordered_json::array();
  std::vector<std::string> others;
  for (const ProcessInfo* process : found) {
    pids.push_back(process->pid);
    if (process != chosen) {
      others.push_back(std::to_string(process->pid));
    }
  }
  if (!others.empty()) {
    message += "; also pid " + core::join(others);
  }
  check.details = {{"pid", chosen->pid},
                   {"state", std::string(1, chosen->state)},
                   {"securePort", port_of(flags)},
                   {"bindAddress", bind_of(flags)},
                   {"advertiseAddress", flags.advertiseAddress},
                   {"otherNetns", chosen->otherNetns},
                   {"pids", pids}};
  if (chosen->state == 'Z' || chosen->state == 'T' || chosen->state == 't') {
    set(check, core::CheckStatus::fail,
        message + ": the process is " + (chosen->state == 'Z' ? "a zombie" : "stopped"),
        "restart it: kubelet restarts the static pod (journalctl -u kubelet, crictl ps -a "
        "--name kube-apiserver)");
    return check;
  }
  if (chosen->otherNetns) {
    // Not this namespace's API server: its flags say nothing about the port checked here.
    set(check, core::CheckStatus::ok, message);
    return check;
  }
  if (port_of(flags) != std::to_string(port)) {
    set(check, core::CheckStatus::warn, message + "; the port checked is " + std::to_string(port),
        "pass --port " + port_of(flags) +
            " to check kube-apiserver itself, or fix the kubeconfig's server port");
    return check;
  }
  if (manifest && (bind_of(*manifest) != bind_of(flags) || port_of(*manifest) != port_of(flags))) {
    set(check, core::CheckStatus::warn,
        message + "; the manifest says --bind-address=" + bind_of(*manifest) +
            ", --secure-port=" + port_of(*manifest),
        "kubelet restarts the static pod when its manifest changes: check journalctl -u "
        "kubelet and crictl ps -a --name kube-apiserver (or the manifest is not the one in "
        "use)");
    return check;
  }
  set(check, core::CheckStatus::ok, message);
  return check;
}

// ---------------------------------------------------------------- node.mtu

core::Result<RouteInfo> parse_ip_route_get(std::string_view json) {
  const Json doc = Json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_array() || doc.empty() || !doc[0].is_object()) {
    return core::Error{"not the JSON of ip -j route get: " + core::quote_bytes(json, 80)};
  }
  const Json& route = doc[0];
  RouteInfo info;
  info.type = json_text(route.value("type", Json("")));
  info.dev = json_text(route.value("dev", Json("")));
  info.gateway = json_text(route.value("gateway", Json("")));
  if (route.contains("metrics") && route["metrics"].is_array()) {
    for (const Json& metric : route["metrics"]) {
      if (metric.is_object() && metric.contains("mtu") && metric["mtu"].is_number_integer()) {
        info.mtu = metric["mtu"].get<int>();
      }
    }
  }
  if (route.contains("mtu") && route["mtu"].is_number_integer()) {
    info.mtu = route["mtu"].get<int>();
  }
  info.learned = info.mtu > 0 && route.contains("expires");
  if (info.dev.empty()) {
    return core::Error{"ip -j route get names no device: " + core::quote_bytes(json, 80)};
  }
  return info;
}

std::optional<int> parse_ping_mtu(std::string_view output) {
  for (const std::string_view marker : {"mtu = ", "mtu="}) {
    const std::size_t at = output.find(marker);
    if (at == std::string_view::npos) {
      continue;
    }
    std::size_t end = at + marker.size();
    while (end < output.size() && std::isdigit(static_cast<unsigned char>(output[end])) != 0) {
      ++end;
    }
    const auto value =
        parse_number(output.substr(at + marker.size(), end - at - marker.size()), 1 << 20);
    if (value) {
      return static_cast<int>(*value);
    }
  }
  return std::nullopt;
}

namespace {

bool ping_not_permitted(const CommandOutput& output) {
  const std::string text = lower(output.out + output.err);
  return text.find("operation not permitted") != std::string::npos ||
         text.find("permission denied") != std::string::npos;
}

}  // namespace

core::Check check_mtu(const LocalSystem& sys, const std::string& ip) {
  core::Check check = node_check("node.mtu");
  check.endpoint = ip;
  check.details = {{"target", ip}};
  const CommandOutput routeOut = sys.run({"ip", "-j", "route", "get", ip}, kCommandTimeout);
  if (routeOut.notFound) {
    set(check, core::CheckStatus::skip,
        "ip is not installed (package iproute2): cannot find the route to the server");
    return check;
  }
  if (routeOut.exitCode != 0) {
    set(check, core::CheckStatus::warn,
        "no route: " + command_failure("ip route get " + ip, routeOut),
        "add a route to the API server's address (ip route), or fix the kubeconfig's server");
    return check;
  }
  core::Result<RouteInfo> route = parse_ip_route_get(routeOut.out);
  if (!route) {
    set(check, core::CheckStatus::skip, route.error().message);
    return check;
  }
  check.details["dev"] = route->dev;
  if (route->type == "local") {
    set(check, core::CheckStatus::ok,
        "an address of this machine (dev " + route->dev + "): no path MTU to probe");
    return check;
  }
  int devMtu = 0;
  const std::string mtuFile = join_path(sys.rootDir, "sys/class/net/" + route->dev + "/mtu");
  if (core::Result<std::string> text = sys.readFile(mtuFile); text) {
    devMtu = static_cast<int>(parse_number(core::trim(*text), 1 << 20).value_or(0));
  }
  check.details["interfaceMtu"] = devMtu;
  int localMtu = devMtu;
  if (route->mtu > 0 && !route->learned) {
    check.details["routeMtu"] = route->mtu;
    localMtu = localMtu == 0 ? route->mtu : std::min(localMtu, route->mtu);
  }
  if (route->learned) {
    check.details["learnedPathMtu"] = route->mtu;
  }
  if (localMtu <= 0) {
    set(check, core::CheckStatus::skip,
        "cannot read the MTU of " + route->dev + " (" + mtuFile + "): path MTU not probed");
    return check;
  }
  const bool v6 = ip.find(':') != std::string::npos;
  const int headers = v6 ? 48 : 28;
  const int probe = localMtu - headers;
  // Two echo requests 0.2 s apart, so one lost packet is not a finding; ping's own 2 s wait
  // plus a second of grace is the deadline.
  const std::chrono::milliseconds pingTimeout = kCommandTimeout + std::chrono::seconds(1);
  const auto ping = [&](int size) {
    return sys.run({"ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s",
                    std::to_string(size), ip},
                   pingTimeout);
  };
  const CommandOutput small = ping(56);
  if (small.notFound) {
    set(check, core::CheckStatus::skip,
        "ping is not installed (package iputils-ping): path MTU not probed");
    return check;
  }
  if (small.exitCode != 0 && ping_not_permitted(small)) {
    set(check, core::CheckStatus::skip,
        "ping is not permitted here (" + first_line(small.err.empty() ? small.out : small.err) +
            "): run as root or allow ICMP sockets (net.ipv4.ping_group_range) to probe the "
            "path MTU");
    return check;
  }
  if (small.exitCode != 0) {
    const std::string why = first_line(small.err);
    set(check, core::CheckStatus::skip,
        "no answer to a 56-byte ping" + (why.empty() ? "" : " (" + why + ")") +
            ": ICMP may be filtered; path MTU not probed");
    return check;
  }
  check.details["probeBytes"] = probe;
  const CommandOutput large = ping(probe);
  const std::string via =
      "dev " + route->dev + " mtu " + std::to_string(devMtu) +
      (check.details.contains("routeMtu") ? ", route mtu " + std::to_string(route->mtu)
                                          : std::string());
  const std::string sizes = "56-byte pings are answered, but a don't-fragment ping of " +
                            std::to_string(probe) + " bytes";
  if (large.exitCode == 0) {
    set(check, core::CheckStatus::ok,
        "path MTU is at least " + std::to_string(localMtu) + ": a don't-fragment ping of " +
            std::to_string(probe) + " bytes is answered (" + via + ")");
    return check;
  }
  const std::optional<int> reported = parse_ping_mtu(large.out + "\n" + large.err);
  const std::optional<int> pathMtu =
      reported ? reported : (route->learned ? std::optional<int>(route->mtu) : std::nullopt);
  if (pathMtu) {
    check.details["pathMtu"] = *pathMtu;
    set(check, core::CheckStatus::fail,
        "path MTU below interface MTU: " + sizes + " is not; the path MTU is " +
            std::to_string(*pathMtu) + " (" + via + ")",
        "set the MTU of " + route->dev + " (or of the CNI/overlay) to " + std::to_string(*pathMtu) +
            " or less; otherwise large TLS records to the API server depend on ICMP "
            "'fragmentation needed' getting through");
    return check;
  }
  set(check, core::CheckStatus::fail,
      "path MTU below interface MTU: " + sizes + " gets no answer and no 'fragmentation needed' (" +
          via + ")",
      "a hop drops large packets silently (a PMTU black hole): lower the MTU of " + route->dev +
          " (or of the CNI/overlay) until ping -M do -s SIZE " + ip +
          " passes, or let ICMP 'fragmentation needed' through");
  return check;
}

// ---------------------------------------------------------------- the real machine

namespace {

std::string find_executable(const std::string& name) {
  const auto runnable = [](const std::string& path) {
    std::error_code ec;
    return ::access(path.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(path, ec);
  };
  if (name.find('/') != std::string::npos) {
    return runnable(name) ? name : std::string();
  }
  const char* path = std::getenv("PATH");
  const std::string dirs = std::string(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin") +
                           ":/usr/local/sbin:/usr/sbin:/sbin";
  for (const std::string& dir : split(dirs, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (runnable(candidate)) {
      return candidate;
    }
  }
  return {};
}

struct SpawnActions {
  posix_spawn_file_actions_t actions;
  SpawnActions() { posix_spawn_file_actions_init(&actions); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
};

struct SpawnAttributes {
  posix_spawnattr_t attributes;
  SpawnAttributes() { posix_spawnattr_init(&attributes); }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attributes); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

CommandOutput run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandOutput result;
  if (argv.empty()) {
    result.err = "no command";
    return result;
  }
  const std::string exe = find_executable(argv[0]);
  if (exe.empty()) {
    result.notFound = true;
    result.err = argv[0] + ": executable file not found in $PATH";
    return result;
  }
  int outPipe[2];
  int errPipe[2];
  if (::pipe2(outPipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  core::UniqueFd outRead(outPipe[0]);
  core::UniqueFd outWrite(outPipe[1]);
  if (::pipe2(errPipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  core::UniqueFd errRead(errPipe[0]);
  core::UniqueFd errWrite(errPipe[1]);
  SpawnActions actions;
  posix_spawn_file_actions_addopen(&actions.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions.actions, outWrite.get(), 1);
  posix_spawn_file_actions_adddup2(&actions.actions, errWrite.get(), 2);
  SpawnAttributes attributes;
  // Its own process group, so a timeout kills whatever it started too; default signals.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes.attributes, &defaults);
  posix_spawnattr_setpgroup(&attributes.attributes, 0);
  posix_spawnattr_setflags(&attributes.attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!text.starts_with("LC_ALL=") && !text.starts_with("LANGUAGE=")) {
      env.emplace_back(text);
    }
  }
  env.emplace_back("LC_ALL=C");
  std::vector<char*> envp;
  for (std::string& e : env) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& a : args) {
    argp.push_back(a.data());
  }
  argp.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, exe.c_str(), &actions.actions, &attributes.attributes,
                                    argp.data(), envp.data());
  outWrite.reset();
  errWrite.reset();
  if (spawned != 0) {
    result.notFound = spawned == ENOENT;
    result.err = exe + ": " + std::strerror(spawned);
    return result;
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  const auto remaining_ms = [&deadline] {
    return static_cast<int>(std::max<long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  bool outOpen = true;
  bool errOpen = true;
  char buffer[8192];
  while ((outOpen || errOpen) && !result.timedOut) {
    pollfd fds[2];
    int count = 0;
    if (outOpen) {
      fds[count++] = {outRead.get(), POLLIN, 0};
    }
    if (errOpen) {
      fds[count++] = {errRead.get(), POLLIN, 0};
    }
    const int left = remaining_ms();
    if (left == 0) {
      result.timedOut = true;
      break;
    }
    const int ready = ::poll(fds, static_cast<nfds_t>(count), left);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      result.timedOut = ready == 0;
      break;
    }
    for (int i = 0; i < count; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      const bool isOut = fds[i].fd == outRead.get();
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        (isOut ? outOpen : errOpen) = false;
        continue;
      }
      std::string& sink = isOut ? result.out : result.err;
      if (sink.size() < kMaxCommandOutput) {
        sink.append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  int status = 0;
  for (;;) {
    if (result.timedOut) {
      // Its process group: whatever it started goes too.
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
    const pid_t done = ::waitpid(pid, &status, result.timedOut ? 0 : WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) {
      break;
    }
    if (done == 0 && remaining_ms() == 0) {
      result.timedOut = true;
      continue;
    }
    if (done == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  result.exitCode = !result.timedOut && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool is_pid(const std::string& name) {
  return !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
}

std::vector<ProcessInfo> list_processes(const std::string& procDir) {
  std::vector<ProcessInfo> processes;
  std::error_code ec;
  const std::string selfNetns =
      std::filesystem::read_symlink(std::filesystem::path(procDir) / "self" / "ns" / "net", ec)
          .string();
  for (const auto& entry : std::filesystem::directory_iterator(procDir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!is_pid(name)) {
      continue;
    }
    core::Result<std::string> cmdline = core::read_file(entry.path() / "cmdline");
    if (!cmdline || cmdline->empty()) {
      continue;
    }
    ProcessInfo process;
    process.pid = std::stoi(name);
    process.argv = split(*cmdline, '\0');
    if (!process.argv.empty() && process.argv.back().empty()) {
      process.argv.pop_back();
    }
    std::error_code linkError;
    process.exe = std::filesystem::read_symlink(entry.path() / "exe", linkError).string();
    if (!selfNetns.empty()) {
      std::error_code nsError;
      const std::string netns =
          std::filesystem::read_symlink(entry.path() / "ns" / "net", nsError).string();
      process.otherNetns = !nsError && netns != selfNetns;
    }
    if (core::Result<std::string> stat = core::read_file(entry.path() / "stat"); stat) {
      const std::size_t close = stat->rfind(')');
      if (close != std::string::npos && close + 2 < stat->size()) {
        process.state = (*stat)[close + 2];
      }
    }
    processes.push_back(process);
  }
  std::sort(processes.begin(), processes.end(),
            [](const ProcessInfo& a, const ProcessInfo& b) { return a.pid < b.pid; });
  return processes;
}

std::map<std::uint64_t, int> find_socket_owners(const std::string& procDir,
                                                const std::set<std::uint64_t>& inodes) {
  std::map<std::uint64_t, int> owners;
  if (inodes.empty()) {
    return owners;
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(procDir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!is_pid(name)) {
      continue;
    }
    std::error_code fdError;
    for (const auto& fd : std::filesystem::directory_iterator(entry.path() / "fd", fdError)) {
      std::error_code linkError;
      const std::string target = std::filesystem::read_symlink(fd.path(), linkError).string();
      if (linkError || !target.starts_with("socket:[") || target.back() != ']') {
        continue;
      }
      const auto inode = parse_number(target.substr(8, target.size() - 9), 0x7fffffff'ffffffff);
      if (inode && inodes.count(static_cast<std::uint64_t>(*inode)) > 0) {
        owners.emplace(static_cast<std::uint64_t>(*inode), std::stoi(name));
      }
    }
    if (owners.size() == inodes.size()) {
      break;
    }
  }
  return owners;
}

}  // namespace

LocalSystem LocalSystem::system(std::string procDir, std::string rootDir) {
  LocalSystem sys;
  sys.procDir = std::move(procDir);
  sys.rootDir = std::move(rootDir);
  sys.readFile = [](const std::string& path) { return core::read_file(path); };
  sys.fileExists = [](const std::string& path) { return core::path_exists(path); };
  sys.processes = [dir = sys.procDir] { return list_processes(dir); };
  sys.socketOwners = [dir = sys.procDir](const std::set<std::uint64_t>& inodes) {
    return find_socket_owners(dir, inodes);
  };
  sys.run = run_command;
  sys.resolve = [](const std::string& host) {
    auto resolved = core::resolve_system(host, kCommandTimeout);
    return resolved ? resolved->addresses : std::vector<std::string>();
  };
  return sys;
}

// ---------------------------------------------------------------- the command

namespace {

template <class F>
core::Check timed(F&& body) {
  const Clock::time_point start = Clock::now();
  core::Check check = body();
  check.durationMs = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return check;
}

core::Check listen_check(const LocalSystem& sys, int port,
                         const std::vector<ProcessInfo>& processes,
                         const std::optional<ApiServerFlags>& manifest) {
  std::vector<TcpSocket> sockets;
  std::vector<std::string> unreadable;
  for (const char* name : {"net/tcp", "net/tcp6"}) {
    const std::string path = join_path(sys.procDir, name);
    core::Result<std::string> contents = sys.readFile(path);
    if (!contents) {
      unreadable.push_back(contents.error().message);
      continue;
    }
    std::vector<TcpSocket> parsed = parse_proc_net_tcp(*contents);
    sockets.insert(sockets.end(), parsed.begin(), parsed.end());
  }
  if (unreadable.size() == 2) {
    core::Check check = node_check("node.listen");
    set(check, core::CheckStatus::skip,
        core::join(unreadable, "; ") + ": cannot see which sockets listen");
    return check;
  }
  std::set<std::uint64_t> inodes;
  for (const TcpSocket& socket : sockets) {
    if (socket.state == kTcpListen && socket.localPort == port && socket.inode != 0) {
      inodes.insert(socket.inode);
    }
  }
  const std::map<std::uint64_t, int> owners = sys.socketOwners(inodes);
  std::map<int, std::string> names;
  for (const ProcessInfo& process : processes) {
    if (!process.argv.empty()) {
      names[process.pid] = basename_of(process.argv[0]);
    }
  }
  return check_listen(port, sockets, owners, names, manifest);
}

core::Check mtu_check(const LocalSystem& sys, const LocalOptions& options) {
  core::Check check = node_check("node.mtu");
  if (options.server.empty()) {
    set(check, core::CheckStatus::skip,
        "no API server to probe: " + (options.serverError.empty()
                                          ? std::string("no server in the kubeconfig")
                                          : options.serverError));
    return check;
  }
  const core::UrlParts url = core::split_url(options.server);
  std::string ip = url.host;
  if (!core::is_ip_literal(ip)) {
    const std::vector<std::string> addresses = sys.resolve(url.host);
    if (addresses.empty()) {
      set(check, core::CheckStatus::skip,
          "cannot resolve " + url.host + ": path MTU not probed (kubectl apicheck checks DNS)");
      return check;
    }
    ip = addresses.front();
  }
  return check_mtu(sys, ip);
}

}  // namespace

core::Report run_local(const LocalSystem& sys, const LocalOptions& options) {
  core::Report report;
  report.tool = std::string(kTool);
  report.target = options.target;
  const std::string manifestPath = options.manifestPath.empty()
                                       ? join_path(sys.rootDir, kDefaultManifest)
                                       : options.manifestPath;
  ManifestState manifest;
  const core::Check manifestCheck = timed([&] {
    manifest = check_manifest(sys, manifestPath, !options.manifestPath.empty(), options.port);
    return manifest.check;
  });
  std::vector<ProcessInfo> processes;
  const Clock::time_point listStart = Clock::now();
  processes = sys.processes();
  const double listMs = std::chrono::duration<double, std::milli>(Clock::now() - listStart).count();
  report.checks.push_back(
      timed([&] { return listen_check(sys, options.port, processes, manifest.flags); }));
  report.checks.push_back(timed([&] { return check_iptables(sys, options.port); }));
  report.checks.push_back(timed([&] { return check_nftables(sys, options.port); }));
  report.checks.push_back(timed([&] { return check_firewalld(sys, options.port); }));
  report.checks.push_back(manifestCheck);
  core::Check process =
      timed([&] { return check_process(processes, options.port, manifest.flags); });
  process.durationMs += listMs;
  report.checks.push_back(process);
  report.checks.push_back(timed([&] { return mtu_check(sys, options); }));
  return report;
}

int local_command(const core::Invocation& invocation) {
  const std::string usage = invocation.program + " " + invocation.command;
  cxxopts::Options cli = core::command_options(
      invocation,
      ": what listens on the API server's port, iptables/nftables rules and firewalld, the "
      "kube-apiserver static pod manifest and process, and the path MTU towards the current "
      "context's server. Run it on a control-plane node, as root.",
      "[flags]");
  cli.add_options("")  //
      ("port",
       "The API server's port (default: the port of the current context's server, else 6443)",
       cxxopts::value<std::string>(), "PORT")  //
      ("manifest",
       "kube-apiserver's static pod manifest (default: "
       "/etc/kubernetes/manifests/kube-apiserver.yaml under --root)",
       cxxopts::value<std::string>(), "FILE")  //
      ("o,output", "Output format: text, json or yaml",
       cxxopts::value<std::string>()->default_value("text"), "FORMAT")  //
      ("fail-on", "Exit 1 on: fail, or warn", cxxopts::value<std::string>()->default_value("fail"),
       "STATUS")  //
      ("proc", "Read /proc from this directory (for testing on another root)",
       cxxopts::value<std::string>()->default_value("/proc"), "DIR")  //
      ("root", "Read /etc and /sys under this directory (for testing on another root)",
       cxxopts::value<std::string>()->default_value("/"), "DIR")  //
      ("h,help", "Show this help");
  core::KubeFlags::add_to(cli);
  const core::ArgvView argv(usage, invocation.args);
  const cxxopts::ParseResult parsed =
      core::parse_or_complete(cli, argv.argc(), argv.argv(), core::Positionals::none);
  if (parsed.count("help") > 0) {
    invocation.out << cli.help({"", "kubectl"});
    return 0;
  }
  const auto fail = [&invocation](const std::string& message) {
    return core::print_error(invocation.err, invocation.tool, message);
  };
  if (!parsed.unmatched().empty()) {
    return fail("unexpected argument \"" + parsed.unmatched().front() + "\"; see " + usage +
                " --help");
  }
  core::Result<core::OutputFormat> format =
      core::parse_output_format(parsed["output"].as<std::string>());
  if (!format) {
    return fail(format.error().message);
  }
  core::Result<core::FailOn> failOn = core::parse_fail_on(parsed["fail-on"].as<std::string>());
  if (!failOn) {
    return fail(failOn.error().message);
  }
  LocalOptions options;
  for (const char* flag : {"proc", "root"}) {
    const std::string dir = parsed[flag].as<std::string>();
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      return fail(std::string("--") + flag + ": " + in_quotes(dir) + " is not a directory");
    }
  }
  const LocalSystem sys =
      LocalSystem::system(parsed["proc"].as<std::string>(), parsed["root"].as<std::string>());
  if (parsed.count("manifest") > 0) {
    options.manifestPath = parsed["manifest"].as<std::string>();
    if (options.manifestPath.empty()) {
      return fail("--manifest: give a file");
    }
  }
  std::optional<int> port;
  if (parsed.count("port") > 0) {
    const std::string text = parsed["port"].as<std::string>();
    const std::optional<long> number = parse_number(text, 65535);
    if (!number || *number == 0) {
      return fail("--port: " + in_quotes(text) + " is not a port number (1-65535)");
    }
    port = static_cast<int>(*number);
  }
  core::Result<core::KubeFlags> flags = core::KubeFlags::read_from(parsed);
  if (!flags) {
    return fail(flags.error().message);
  }
  // The kubeconfig only supplies the port and the MTU probe's target: a broken one is a skip
  // reason here (kubectl apicheck is the tool that judges it).
  core::Result<core::ClientConfig> client =
      core::load_client_config(flags->loading_rules(), flags->overrides);
  if (client) {
    options.server = client->server;
    options.target = {client->contextName, client->clusterName, client->server};
    const core::UrlParts url = core::split_url(client->server);
    if (!port) {
      port = static_cast<int>(parse_number(url.port, 65535).value_or(6443));
    }
  } else {
    options.serverError = "kubeconfig: " + client.error().message;
  }
  options.port = port.value_or(6443);
  const core::Report report = run_local(sys, options);
  core::render(invocation.out, report, *format,
               &invocation.out == &std::cout && core::colour_enabled(STDOUT_FILENO));
  return core::exit_code(report, *failOn);
}

}  // namespace kp::netdebug
