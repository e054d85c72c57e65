// Shell completion, generated from the same cxxopts::Options and command tables the commands
// parse with, so completion cannot drift from the flags.
//
// kubectl (>= 1.26) runs completions/kubectl_complete-<name> for `kubectl <name> ...<TAB>`
// (../shared/K8S-CLIENT-SPEC.md 9.4); that shim runs `kubectl-<name> __complete ARGS... WORD`, the
// hidden entry point of cobra programs: WORD is the word being completed ("" for a new one). The
// answer is cobra's format: one candidate a line, optionally "<candidate>\t<description>", then
// ":<directive>"
// (../shared/K8S-CLIENT-SPEC.md 9.5). `kubectl-<name> completion bash|zsh|fish` prints a script
// that asks the same entry point, for the binaries run directly.
//
// How it flows: run_main() sees `__complete`, drops it and WORD from argv, silences std::cout and
// std::cerr, and runs the plugin's body as usual. dispatch_subcommand() answers for the command
// name; the command then builds its cxxopts::Options as always and parses through
// parse_or_complete(), which, in completion mode, does not parse but records the candidates and
// returns nullopt; the command returns (exit 0) and run_main() prints them. A command that never
// reaches parse_or_complete() (not implemented, or parsing elsewhere) answers "nothing, no files"
// (:4); one that throws answers :1 (cobra's error directive) and names the exception on stderr.
//
// WHAT A COMMAND MUST DO to be completed (netdebug, and every new command):
//   1. Run under core::run_main() (directly, or through core::dispatch_subcommand()).
//   2. Build all of its flags on one cxxopts::Options (its own, then KubeFlags::add_to()).
//   3. Parse with core::Command::parse() (command.h), or core::parse_or_complete(options, argc,
//      argv, positionals) instead of options.parse(argc, argv), before doing any work (no
//      network, files, output), and return 0 at once when it answered a completion (nullopt).
// Flag values then complete by themselves:
//   --context, --cluster, --user      the names in the merged kubeconfig (KUBECONFIG, --kubeconfig)
//   -n/--namespace, --node            names from the API server of the kubeconfig and flags typed
//                                     so far (2 s deadline; nothing on failure)
//   a description "...: a, b or c"    a, b and c (e.g. "Output format: text, json or yaml")
//   arg help PATH or FILE             files; arg help DIR: directories
//   anything else                     nothing (no file completion)
// and positional words by the `positionals` given: nothing, files, or node names (API server).
#pragma once

#include <chrono>
#include <cxxopts.hpp>
#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/cli/cli.h"
#include "core/kube/kubeconfig.h"
#include "core/util/result.h"

namespace kp::core {

// cobra's ShellCompDirective bits (../shared/K8S-CLIENT-SPEC.md 9.5).
enum Directive : int {
  kDirectiveDefault = 0,  // the shell may complete file names when there is no candidate
  kDirectiveError = 1,
  kDirectiveNoSpace = 2,
  kDirectiveNoFileComp = 4,
  kDirectiveFilterFileExt = 8,
  kDirectiveFilterDirs = 16,
  kDirectiveKeepOrder = 32,
};

// What a command's positional arguments are, for completing a word that is not a flag.
enum class Positionals {
  none,   // the command takes none: offer nothing
  files,  // file names: let the shell complete files
  nodes,  // node names, from the API server
};

// One answer to a completion request.
struct Completion {
  struct Candidate {
    std::string value;
    std::string description;  // may be empty
  };
  std::vector<Candidate> candidates;
  int directive = kDirectiveNoFileComp;
};

// Prints `completion` in cobra's __complete format, descriptions after a tab unless
// `descriptions` is false (__completeNoDesc).
void write_completion(std::ostream& out, const Completion& completion, bool descriptions);

// Where completed flag values come from; tests replace both.
struct CompletionSources {
  // The merged kubeconfig for the flags typed so far (core::load_kubeconfig()).
  std::function<Result<Kubeconfig>(const LoadingRules&)> kubeconfig;
  // The names of a cluster-scoped list ("namespaces", "nodes") from the API server the flags
  // typed so far point at; an error when it cannot be had within a short deadline.
  std::function<Result<std::vector<std::string>>(const LoadingRules&, const ConfigOverrides&,
                                                 std::string_view resource)>
      apiNames;

  // The real kubeconfig files and API server (core::connect(), 2 s deadline).
  static CompletionSources system();
};

// The completion of `word` after `args` (the arguments before it, without argv[0]) for a
// command whose flags are `options`.
Completion complete_command(cxxopts::Options& options, const std::vector<std::string>& args,
                            std::string_view word, Positionals positionals,
                            const CompletionSources& sources);

// The completion of the first word of a table-driven plugin: command names (with their summaries)
// or, for a word starting with '-', --help and --version.
Completion complete_subcommands(std::span<const Subcommand> table, std::string_view word);

// Values in a flag description of the form "...: a, b or c" ("Exit 1 on: fail, or warn"), each
// a lowercase word; empty when the description is not of that form.
std::vector<std::string> enum_values(std::string_view description);

// The completion request of this process, set while run_main() runs a `__complete` request;
// nullptr otherwise.
struct CompletionRequest {
  std::string word;  // the word being completed
  bool descriptions = true;
  CompletionSources sources;
  std::optional<Completion> answer;  // set by the command that completed; printed by run_main
};
CompletionRequest* completion_request();

// THE function every command parses its flags with (instead of options.parse()), directly or
// through Command::parse(): the parse result normally; while the shell completes (`__complete`)
// it does not parse but records the candidates from `options` for the word after
// argv[1..argc) and returns nullopt: the command then returns 0 at once. Call it before any
// other work.
std::optional<cxxopts::ParseResult> parse_or_complete(cxxopts::Options& options, int argc,
                                                      const char* const* argv,
                                                      Positionals positionals = Positionals::none);

// True for the hidden entry points "__complete" and "__completeNoDesc".
bool is_completion_entry(std::string_view arg);

// Runs `body` for `argv` = {program, __complete[NoDesc], ARGS..., WORD} as if called with
// {program, ARGS...} in completion mode, prints the answer to std::cout and returns 0.
int run_completion(int argc, char** argv, const std::function<int(int, char**)>& body);

// The seam for the fuzz targets (and tests) that run `__complete` through a plugin's main():
// while set, run_completion() asks these sources instead of CompletionSources::system(), so no
// kubeconfig is read and no API server is asked. An empty function restores the real sources.
void set_completion_sources_override(std::function<CompletionSources()> make);

// `kubectl-<tool> completion bash|zsh|fish`: prints the script to `out` (0), or an error (2).
int completion_command(std::string_view tool, const std::vector<std::string>& args,
                       std::ostream& out, std::ostream& err);

// The completion script for `shell` (bash, zsh or fish) of the binary kubectl-<tool>; empty for
// another shell.
std::string completion_script(std::string_view tool, std::string_view shell);

}  // namespace kp::core
