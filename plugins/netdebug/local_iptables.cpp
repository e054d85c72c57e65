// iptables-save and ip6tables-save: the filter table's INPUT chain, and node.firewall.iptables.
#include <algorithm>
#include <cctype>

#include "core/util/text.h"
#include "netdebug/local.h"
#include "netdebug/local_detail.h"

namespace kp::netdebug {

using core::ascii_lower;
using detail::ChainWalker;
using detail::command_failure;
using detail::GenericChain;
using detail::GenericRule;
using detail::judge_firewall;
using detail::node_check;
using detail::port_in_range;
using detail::RuleView;
using detail::set;
using detail::split;
using detail::words;

namespace {

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
      const std::string proto = ascii_lower(value);
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

}  // namespace kp::netdebug
