// nftables: `nft -j list ruleset` (the input-hook base chains), the rule texts of `nft -a list
// ruleset`, and node.firewall.nftables.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/util/text.h"
#include "netdebug/local.h"
#include "netdebug/local_detail.h"

namespace kp::netdebug {

using detail::ChainWalker;
using detail::command_failure;
using detail::GenericChain;
using detail::GenericRule;
using detail::json_text;
using detail::judge_firewall;
using detail::node_check;
using detail::RuleView;
using detail::run_installed;
using detail::set;
using detail::split;
using detail::words;

namespace {

using Json = nlohmann::json;

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

core::Check check_nftables(const LocalSystem& sys, int port) {
  core::Check check = node_check("node.firewall.nftables");
  check.details = {{"port", port}};
  const std::optional<CommandOutput> ran = run_installed(
      sys, check, {"nft", "-j", "list", "ruleset"}, "nftables", "no nftables rules to read");
  if (!ran) {
    return check;
  }
  const CommandOutput& output = *ran;
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

}  // namespace kp::netdebug
