// The firewall engine iptables and nftables share: the walk of a base chain (and the chains it
// jumps to) for a new TCP connection to the port, and the verdict of node.firewall.*.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/util/text.h"
#include "netdebug/local_detail.h"

namespace kp::netdebug::detail {

namespace {

// Only loopback traffic meets these conditions: an accept like this opens nothing to clients.
bool loopback_only(const std::vector<std::string>& conditions) {
  return std::any_of(conditions.begin(), conditions.end(), [](const std::string& c) {
    return c == "-i lo" || c.starts_with("-s 127.") || c == "iifname \"lo\"" || c == "iif \"lo\"";
  });
}

bool is_block(std::string_view target) {
  return target == "DROP" || target == "REJECT" || target == "drop" || target == "reject";
}

bool is_accept(std::string_view target) {
  return target == "ACCEPT" || target == "accept";
}

bool is_return(std::string_view target) {
  return target == "RETURN" || target == "return";
}

std::string blocks_verb(const FirewallHit& hit) {
  return core::ascii_lower(hit.verdict).find("reject") != std::string::npos ? "rejects" : "drops";
}

}  // namespace

// Port specs: "6443", "6000:7000" (iptables) or "6000-7000"; nullopt when not numeric.
std::optional<bool> port_in_range(std::string_view spec, int port) {
  const std::size_t sep = spec.find_first_of(":-");
  if (sep == std::string_view::npos) {
    const auto value = parse_number(spec, 65535);
    return value ? std::optional<bool>(*value == port) : std::nullopt;
  }
  const auto low =
      sep == 0 ? std::optional<std::int64_t>(0) : parse_number(spec.substr(0, sep), 65535);
  const auto high = sep + 1 == spec.size() ? std::optional<std::int64_t>(65535)
                                           : parse_number(spec.substr(sep + 1), 65535);
  if (!low || !high) {
    return std::nullopt;
  }
  return *low <= port && port <= *high;
}

void ChainWalker::walk_base(const std::string& name, const std::string& policyRule) {
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

Flow ChainWalker::walk(const std::string& name, const std::vector<std::string>& inherited,
                       int depth, std::set<std::string>& visiting) {
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

}  // namespace kp::netdebug::detail
