// Command-line plumbing shared by every plugin: the standard kubectl flags, the program name
// kubectl users expect, subcommand tables with "did you mean", and the single top-level catch.
#pragma once

#include <chrono>
#include <cxxopts.hpp>
#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/kube/kubeconfig.h"
#include "core/util/result.h"

namespace kp::core {

// The kubectl flags every binary accepts (../shared/K8S-CLIENT-SPEC.md 8.1), because kubectl passes
// them to plugins unparsed (../shared/K8S-CLIENT-SPEC.md 9.3).
struct KubeFlags {
  std::string kubeconfig;
  ConfigOverrides overrides;
  std::string cacheDir;
  std::string requestTimeout;  // raw; see parse_duration()

  // Adds the flags to `options` under the group "kubectl".
  static void add_to(cxxopts::Options& options);

  // Reads the flags back; the error names the flag (e.g. a malformed --as-user-extra).
  static Result<KubeFlags> read_from(const cxxopts::ParseResult& parsed);

  // The kubeconfig loading rules for these flags and the current environment.
  LoadingRules loading_rules() const;
};

// "kubectl certs" when kubectl dispatched us (argv[0] is kubectl-<name> and KUBECTL_PATH is
// set), else argv[0]'s basename. `kubectlPath` is getenv("KUBECTL_PATH"), possibly null.
std::string program_name(std::string_view argv0, const char* kubectlPath);

// Parses an integer number of seconds or a Go duration ("1s", "2m", "1m30s", "500ms").
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The value of a duration flag that must be greater than 0 (a timeout, an interval); errors
// name the flag: "--timeout: must be greater than 0".
Result<std::chrono::milliseconds> parse_positive_duration(std::string_view flag,
                                                          std::string_view text);

// Levenshtein distance, for suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

// Candidates within edit distance 2 of `typed`, or that it is a prefix of, best first.
std::vector<std::string> did_you_mean(std::string_view typed,
                                      const std::vector<std::string>& candidates);

// What a subcommand gets to work with.
struct Invocation {
  std::string program;            // e.g. "kubectl certs"
  std::string tool;               // e.g. "certs"
  std::string command;            // e.g. "server"; "" for a plugin without subcommands
  std::string_view summary;       // the command's row in the table
  std::vector<std::string> args;  // after the subcommand name
  std::ostream& out;
  std::ostream& err;
};

// One row of a plugin's command table; help and "did you mean" are generated from the table.
struct Subcommand {
  std::string_view name;
  std::string_view summary;
  std::function<int(const Invocation&)> run;
};

// Help for a table-driven plugin: usage, the commands with their summaries, global flags.
std::string subcommand_help(std::string_view program, std::string_view description,
                            std::span<const Subcommand> table);

// Runs the subcommand named by args[0]; handles --help/-h/--version and unknown names, and
// completes the command name in completion mode (complete.h).
int dispatch_subcommand(std::string_view tool, std::string_view description,
                        std::span<const Subcommand> table, int argc, const char* const* argv,
                        std::ostream& out, std::ostream& err);

// main() of a plugin made of subcommands: run_main() around dispatch_subcommand() on std::cout
// and std::cerr.
int subcommand_main(std::string_view tool, std::string_view description,
                    std::span<const Subcommand> table, int argc, char** argv);

// "kubectl certs server"; "kubectl apicheck" for a plugin without subcommands.
std::string command_usage(const Invocation& invocation);

// The flags of one subcommand: its usage line ("kubectl certs pki"), its summary followed by
// `about`, and `synopsis` after the name ("[flags]", "NODE [flags]"). Add the command's own
// flags, then parse with parse_or_complete().
cxxopts::Options command_options(const Invocation& invocation, const std::string& about,
                                 const std::string& synopsis);

// True when `args` asks for help (-h or --help).
bool wants_help(const std::vector<std::string>& args);

// "kubectl-<tool> version <version>"
std::string version_line(std::string_view tool);

// Prints "kubectl-<tool>: error: <message>" and returns the usage-error exit code, 2.
int print_error(std::ostream& err, std::string_view tool, std::string_view message);

// "kubectl-<tool>: warning: <message>" on `err`: what the run goes on despite.
void print_warning(std::ostream& err, std::string_view tool, std::string_view message);

// The one top-level catch: runs `body`, and turns any escaping exception (cxxopts parse
// errors included) into print_error(), exit 2. Answers `__complete` (shell completion, see
// complete.h) and `completion bash|zsh|fish` itself.
int run_main(std::string_view tool, int argc, char** argv,
             const std::function<int(int, char**)>& body);

// Turns argv into the const form cxxopts wants while keeping the strings alive.
class ArgvView {
 public:
  ArgvView(std::string_view program, const std::vector<std::string>& args);
  int argc() const { return static_cast<int>(pointers_.size()) - 1; }  // without the nullptr
  const char* const* argv() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<const char*> pointers_;
};

}  // namespace kp::core
