// What the files of `netdebug local` share and local.h does not publish: the helpers every
// check uses (check construction, text splitting, numbers, paths, command failures) and the
// chain walk that iptables and nftables rules both go through (local_firewall.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/report/report.h"
#include "core/util/text.h"
#include "netdebug/local.h"

namespace kp::netdebug::detail {

// ---------------------------------------------------------------- helpers (local_detail.cpp)

// A check of layer node.
core::Check node_check(std::string id);

void set(core::Check& check, core::CheckStatus status, std::string message, std::string hint = {});

using core::split;

// The blank-separated words of `text`.
std::vector<std::string> words(std::string_view text);

// A decimal number within [0, max] (at most 2^63 - 1), or nullopt.
std::optional<std::int64_t> parse_number(std::string_view text, std::int64_t max);

std::string first_line(std::string_view text);

std::string join_path(const std::string& dir, std::string_view rest);

std::string basename_of(std::string_view path);

// A JSON string's text, anything else as JSON.
std::string json_text(const nlohmann::json& value);

// "COMMAND exited N: first line of its output", or that it timed out.
std::string command_failure(const std::string& command, const CommandOutput& output);

// Runs `argv` on `sys`; when its program is not installed, marks `check` skipped with
// "<program> is not installed (package <package>): <consequence>" and gives nullopt.
std::optional<CommandOutput> run_installed(const LocalSystem& sys, core::Check& check,
                                           const std::vector<std::string>& argv,
                                           std::string_view package, std::string_view consequence,
                                           std::chrono::milliseconds timeout = kCommandTimeout);

// ---------------------------------------------------------------- firewall (local_firewall.cpp)

// Port specs: "6443", "6000:7000" (iptables) or "6000-7000"; nullopt when not numeric.
std::optional<bool> port_in_range(std::string_view spec, int port);

// How one rule treats a new TCP connection to the port.
struct RuleView {
  bool applies = true;                  // it can match such a connection
  bool portSpecific = false;            // it matches on the port itself
  std::vector<std::string> conditions;  // anything else it requires, as printed
  std::string target;                   // ACCEPT, DROP, a chain, ... ("" none)
  bool isGoto = false;
};

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

// Walks chains as the kernel would for a new TCP connection to the port; rules that only some
// of that traffic meets are followed without ending the walk.
class ChainWalker {
 public:
  ChainWalker(const std::map<std::string, GenericChain>& chains, FirewallAnalysis& result)
      : chains_(chains), result_(result) {}

  // Walks the base chain `name`; its policy applies when the walk falls off the end.
  void walk_base(const std::string& name, const std::string& policyRule);

 private:
  Flow walk(const std::string& name, const std::vector<std::string>& inherited, int depth,
            std::set<std::string>& visiting);

  const std::map<std::string, GenericChain>& chains_;
  FirewallAnalysis& result_;
  bool allowSeen_ = false;
};

// Turns the analyses of one tool family into its check.
void judge_firewall(core::Check& check,
                    const std::vector<std::pair<std::string, FirewallAnalysis>>& analyses, int port,
                    const std::string& acceptCommand);

}  // namespace kp::netdebug::detail
