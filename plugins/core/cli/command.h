// The one shape of a subcommand: its own flags and the common ones on one cxxopts::Options,
// parse (or answer a shell completion), the kubectl flags read and validated, the client config
// resolved or an API client connected, and the exit code handed back as a value.
//
//   int pki_command(const core::Invocation& invocation) {
//     core::Command command(invocation, ": what it does.", "[flags]");
//     command.options().add_options("")("dir", "...", cxxopts::value<std::string>(), "DIR");
//     if (std::optional<int> done = command.parse({.output = "text, json or yaml"})) {
//       return *done;  // --help printed, a completion answered, or a usage error printed
//     }
//     ... command.flags()["dir"], command.output(), command.fail_on(), command.connect(...)
//   }
#pragma once

#include <chrono>
#include <cxxopts.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/cli/cli.h"
#include "core/cli/complete.h"
#include "core/kube/apiclient.h"
#include "core/kube/kubeconfig.h"
#include "core/report/report.h"
#include "core/util/result.h"

namespace kp::core {

// Which common flags a command takes (the kubectl flags and -h always).
struct CommonFlags {
  // -o: its help ("Output format: text, json or yaml"); "" for none. The values are checked by
  // the command (certs adds prometheus), or by parse() when `coreOutput`.
  std::string output = "Output format: text, json or yaml";
  bool coreOutput = true;  // -o is one of core::OutputFormat's
  bool failOn = true;      // --fail-on fail|warn
  // -v LEVEL: its help; "" for none.
  std::string verbosity;
  Positionals positionals = Positionals::none;  // what the words that are not flags are
};

// What the configuration gets wrong though kubectl goes on (ClientConfig::problems: a context
// naming a user or cluster defined nowhere, a cluster without a server) and the resolution's
// warnings, each a "warning:" line on stderr, as kubectl logs them, so the command's output stays
// its own. Command::client_config() and connect_api() call it; apicheck shows the same as checks.
void warn_about_config(const Invocation& invocation, const ClientConfig& config);

// An API client from the kubectl flags `kube`; the error is printed (exit 2). From here on
// Ctrl-C, SIGTERM and SIGHUP cancel its requests (StopSignals).
Result<ApiClient, int> connect_api(const Invocation& invocation, const KubeFlags& kube,
                                   std::chrono::milliseconds timeout, int verbosity = 0);

// The namespace for new objects: -n, else the context's, else "default".
std::string namespace_for(const KubeFlags& kube, const ApiClient& client);

class Command {
 public:
  // `about` follows the command's summary in --help; `synopsis` follows its name in the usage
  // line ("[flags]", "NODE [flags]").
  Command(const Invocation& invocation, const std::string& about, const std::string& synopsis);
  // With options already made by command_options() (a command that builds them in steps).
  Command(const Invocation& invocation, cxxopts::Options options);

  // Add the command's own flags here, before parse().
  cxxopts::Options& options() { return options_; }

  // Adds the common flags and parses, or answers the completion request. A value is the exit
  // code when the command ends here: 0 after --help or a completion answer, 2 after a usage
  // error (printed): an unknown flag or argument, a bad -o, --fail-on or kubectl flag.
  std::optional<int> parse(const CommonFlags& common = {});

  const cxxopts::ParseResult& flags() const { return *parsed_; }
  // Moves the parse result out (for a command that keeps it beyond the Command).
  cxxopts::ParseResult release_flags() { return std::move(*parsed_); }
  // The words that are not flags (only for a command with positionals).
  const std::vector<std::string>& positionals() const { return parsed_->unmatched(); }
  const KubeFlags& kube() const { return kube_; }
  const std::string& output_text() const { return outputText_; }
  OutputFormat output() const { return output_; }
  FailOn fail_on() const { return failOn_; }
  int verbosity() const { return verbosity_; }
  // "kubectl certs pki", for messages.
  const std::string& usage() const { return usage_; }
  std::ostream& out() const { return invocation_.out; }
  std::ostream& err() const { return invocation_.err; }
  const Invocation& invocation() const { return invocation_; }

  // kubectl's --request-timeout when given and not "0", else `fallback`.
  std::chrono::milliseconds request_timeout(std::chrono::milliseconds fallback) const;

  // Prints "kubectl-<tool>: error: <message>" and returns 2.
  int fail(std::string_view message) const;

  // The client config of the kubectl flags (no network).
  Result<ClientConfig> client_config() const;

  // An API client from the kubectl flags: connect_api().
  Result<ApiClient, int> connect(std::chrono::milliseconds timeout, int verbosity = 0) const;

  // The namespace for new objects: -n, else the context's, else "default".
  std::string namespace_for(const ApiClient& client) const;

 private:
  const Invocation& invocation_;
  std::string usage_;
  cxxopts::Options options_;
  std::optional<cxxopts::ParseResult> parsed_;
  KubeFlags kube_;
  std::string outputText_;
  OutputFormat output_ = OutputFormat::text;
  FailOn failOn_ = FailOn::fail;
  int verbosity_ = 0;
};

}  // namespace kp::core
