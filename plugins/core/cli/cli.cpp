#include "core/cli/cli.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <numeric>

#include "core/cli/complete.h"
#include "core/cli/config_dump.h"
#include "core/util/files.h"
#include "core/util/version.h"

namespace kp::core {
namespace {

std::string optional_string(const cxxopts::ParseResult& parsed, const char* name) {
  return parsed.count(name) > 0 ? parsed[name].as<std::string>() : std::string();
}

std::vector<std::string> string_list(const cxxopts::ParseResult& parsed, const char* name) {
  return parsed.count(name) > 0 ? parsed[name].as<std::vector<std::string>>()
                                : std::vector<std::string>();
}

bool flag(const cxxopts::ParseResult& parsed, const char* name) {
  return parsed.count(name) > 0 && parsed[name].as<bool>();
}

// cxxopts quotes names with typographic quotes; terminals and logs prefer plain ones.
std::string plain_quotes(std::string text) {
  for (std::string_view fancy : {"\u2018", "\u2019"}) {
    for (auto at = text.find(fancy); at != std::string::npos; at = text.find(fancy, at)) {
      text.replace(at, fancy.size(), "\"");
    }
  }
  return text;
}

// Go's time.ParseDuration units, in milliseconds.
std::optional<double> unit_ms(std::string_view unit) {
  if (unit == "ns") {
    return 1e-6;
  }
  if (unit == "us" || unit == "\u00b5s") {
    return 1e-3;
  }
  if (unit == "ms") {
    return 1.0;
  }
  if (unit == "s") {
    return 1e3;
  }
  if (unit == "m") {
    return 60e3;
  }
  if (unit == "h") {
    return 3600e3;
  }
  return std::nullopt;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

void KubeFlags::add_to(cxxopts::Options& options) {
  using cxxopts::value;
  const auto text = [] { return value<std::string>(); };
  const auto list = [] { return value<std::vector<std::string>>(); };
  const auto boolean = [] { return value<bool>()->default_value("false")->implicit_value("true"); };
  options.add_options(
      "kubectl",
      {
          {"kubeconfig", "Path to the kubeconfig file to use", text(), "PATH"},
          {"cluster", "The name of the kubeconfig cluster to use", text(), "NAME"},
          {"user", "The name of the kubeconfig user to use", text(), "NAME"},
          {"context", "The name of the kubeconfig context to use", text(), "NAME"},
          {"n,namespace", "The namespace scope for this request", text(), "NAME"},
          {"s,server", "The address and port of the Kubernetes API server", text(), "URL"},
          {"tls-server-name", "Server name to use for certificate validation", text(), "NAME"},
          {"insecure-skip-tls-verify", "Do not check the server's certificate (insecure)",
           boolean()},
          {"certificate-authority", "Path to a cert file for the certificate authority", text(),
           "PATH"},
          {"client-certificate", "Path to a client certificate file for TLS", text(), "PATH"},
          {"client-key", "Path to a client key file for TLS", text(), "PATH"},
          {"token", "Bearer token for authentication to the API server", text(), "TOKEN"},
          {"username", "Username for basic authentication to the API server", text(), "NAME"},
          {"password", "Password for basic authentication to the API server", text(), "PASSWORD"},
          {"as", "Username to impersonate for the operation", text(), "USER"},
          {"as-uid", "UID to impersonate for the operation", text(), "UID"},
          {"as-group", "Group to impersonate for the operation (repeatable)", list(), "GROUP"},
          {"as-user-extra", "User extra to impersonate, key=value (repeatable)", list(),
           "KEY=VALUE"},
          {"cache-dir", "Default cache directory (default $HOME/.kube/cache)", text(), "DIR"},
          {"request-timeout", "Time to wait for a single server request, e.g. 1s, 2m; 0 = none",
           value<std::string>()->default_value("0"), "DURATION"},
          {"disable-compression", "Opt out of response compression for requests to the server",
           boolean()},
      });
}

Result<KubeFlags> KubeFlags::read_from(const cxxopts::ParseResult& parsed) {
  KubeFlags flags;
  flags.kubeconfig = optional_string(parsed, "kubeconfig");
  flags.cacheDir = optional_string(parsed, "cache-dir");
  flags.requestTimeout = optional_string(parsed, "request-timeout");
  ConfigOverrides& o = flags.overrides;
  o.cluster = optional_string(parsed, "cluster");
  o.user = optional_string(parsed, "user");
  o.context = optional_string(parsed, "context");
  o.namespaceName = optional_string(parsed, "namespace");
  o.server = optional_string(parsed, "server");
  o.tlsServerName = optional_string(parsed, "tls-server-name");
  o.insecureSkipTlsVerify = flag(parsed, "insecure-skip-tls-verify");
  o.certificateAuthority = optional_string(parsed, "certificate-authority");
  o.clientCertificate = optional_string(parsed, "client-certificate");
  o.clientKey = optional_string(parsed, "client-key");
  o.token = optional_string(parsed, "token");
  o.username = optional_string(parsed, "username");
  o.password = optional_string(parsed, "password");
  o.impersonate = optional_string(parsed, "as");
  o.impersonateUid = optional_string(parsed, "as-uid");
  o.impersonateGroups = string_list(parsed, "as-group");
  o.disableCompression = flag(parsed, "disable-compression");
  o.clusterDefaultServer = kubectl_default_server();
  for (const std::string& pair : string_list(parsed, "as-user-extra")) {
    const auto equals = pair.find('=');
    if (equals == std::string::npos || equals == 0) {
      return Error{"--as-user-extra: \"" + pair + "\" is not in key=value form"};
    }
    o.impersonateUserExtra[pair.substr(0, equals)].push_back(pair.substr(equals + 1));
  }
  if (!flags.requestTimeout.empty()) {
    Result<std::chrono::milliseconds> timeout = parse_duration(flags.requestTimeout);
    if (!timeout) {
      return timeout.error().prefixed("--request-timeout");
    }
  }
  return flags;
}

LoadingRules KubeFlags::loading_rules() const {
  return LoadingRules::from_environment(kubeconfig);
}

std::string program_name(std::string_view argv0, const char* kubectlPath) {
  // On Windows kubectl runs a plugin by its full path, "C:\\...\\kubectl-certs.exe".
  const std::string_view base = program_file_name(argv0);
  constexpr std::string_view kPrefix = "kubectl-";
  if (kubectlPath == nullptr || !base.starts_with(kPrefix)) {
    return std::string(base);
  }
  // kubectl maps '-' inside a plugin name to '_' in the file name
  // (../shared/K8S-CLIENT-SPEC.md 9.1); undo that.
  std::string name(base.substr(kPrefix.size()));
  std::replace(name.begin(), name.end(), '_', '-');
  return "kubectl " + name;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const Error invalid{"invalid duration \"" + std::string(text) +
                      "\": use seconds or a duration such as 500ms, 5s, 2m or 1m30s"};
  if (text.empty()) {
    return invalid;
  }
  if (std::all_of(text.begin(), text.end(), is_digit)) {
    long long seconds = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return invalid;
    }
    return std::chrono::milliseconds(seconds * 1000);
  }
  double totalMs = 0;
  while (!text.empty()) {
    std::size_t numberEnd = 0;
    while (numberEnd < text.size() && (is_digit(text[numberEnd]) || text[numberEnd] == '.')) {
      ++numberEnd;
    }
    std::size_t unitEnd = numberEnd;
    while (unitEnd < text.size() && !is_digit(text[unitEnd]) && text[unitEnd] != '.') {
      ++unitEnd;
    }
    double number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + numberEnd, number);
    const std::optional<double> scale = unit_ms(text.substr(numberEnd, unitEnd - numberEnd));
    if (numberEnd == 0 || ec != std::errc() || end != text.data() + numberEnd || !scale) {
      return invalid;
    }
    totalMs += number * *scale;
    text.remove_prefix(unitEnd);
  }
  return std::chrono::milliseconds(static_cast<long long>(totalMs));
}

Result<std::chrono::milliseconds> parse_positive_duration(std::string_view flag,
                                                          std::string_view text) {
  Result<std::chrono::milliseconds> duration = parse_duration(text);
  if (!duration) {
    return duration.error().prefixed(std::string(flag));
  }
  if (duration->count() <= 0) {
    return Error{std::string(flag) + ": must be greater than 0"};
  }
  return duration;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  std::iota(previous.begin(), previous.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::vector<std::string> did_you_mean(std::string_view typed,
                                      const std::vector<std::string>& candidates) {
  // cobra's rule: within distance 2, or the typed text is a prefix of the name.
  constexpr std::size_t kMaxDistance = 2;
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = edit_distance(typed, candidate);
    const bool prefix = !typed.empty() && candidate.starts_with(typed);
    if (distance <= kMaxDistance || prefix) {
      scored.emplace_back(distance, candidate);
    }
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [distance, name] : scored) {
    out.push_back(std::move(name));
  }
  return out;
}

std::string subcommand_help(std::string_view program, std::string_view description,
                            std::span<const Subcommand> table) {
  std::size_t width = 0;
  for (const Subcommand& command : table) {
    width = std::max(width, command.name.size());
  }
  std::string help = std::string(description) + "\n\nUsage:\n  " + std::string(program) +
                     " <command> [flags]\n\nCommands:\n";
  for (const Subcommand& command : table) {
    std::string name(command.name);
    name.resize(width, ' ');
    help += "  " + name + "  " + std::string(command.summary) + "\n";
  }
  help +=
      "\nFlags:\n"
      "  -h, --help     Show this help\n"
      "      --version  Print the version\n\n"
      "Use \"" +
      std::string(program) + " <command> --help\" for more about a command.\n";
  return help;
}

int dispatch_subcommand(std::string_view tool, std::string_view description,
                        std::span<const Subcommand> table, int argc, const char* const* argv,
                        std::ostream& out, std::ostream& err) {
  const std::string program = program_name(argc > 0 ? argv[0] : "kubectl-" + std::string(tool),
                                           std::getenv("KUBECTL_PATH"));
  std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  if (CompletionRequest* request = completion_request(); request != nullptr && args.empty()) {
    request->answer = complete_subcommands(table, request->word);
    return 0;
  }
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    out << subcommand_help(program, description, table);
    return 0;
  }
  if (args[0] == "--version") {
    out << version_line(tool) << '\n';
    return 0;
  }
  if (args[0].starts_with('-')) {
    return print_error(err, tool,
                       "flag \"" + args[0] + "\" given before a command; usage: " + program +
                           " <command> [flags]");
  }
  const auto found = std::find_if(table.begin(), table.end(), [&](const Subcommand& command) {
    return command.name == args[0];
  });
  if (found == table.end()) {
    std::vector<std::string> names;
    for (const Subcommand& command : table) {
      names.emplace_back(command.name);
    }
    std::string message = "unknown command \"" + args[0] + "\" for \"" + program + "\"";
    const std::vector<std::string> suggestions = did_you_mean(args[0], names);
    if (!suggestions.empty()) {
      message += "\n\nDid you mean this?\n";
      for (const std::string& suggestion : suggestions) {
        message += "\t" + suggestion + "\n";
      }
    }
    message += "\nRun '" + program + " --help' for usage.";
    return print_error(err, tool, message);
  }
  const Invocation invocation{program,
                              std::string(tool),
                              std::string(found->name),
                              found->summary,
                              std::vector<std::string>(args.begin() + 1, args.end()),
                              out,
                              err};
  return found->run(invocation);
}

std::string command_usage(const Invocation& invocation) {
  return invocation.command.empty() ? invocation.program
                                    : invocation.program + " " + invocation.command;
}

cxxopts::Options command_options(const Invocation& invocation, const std::string& about,
                                 const std::string& synopsis) {
  cxxopts::Options cli(command_usage(invocation), std::string(invocation.summary) + about + "\n");
  cli.custom_help(synopsis);
  cli.set_width(100);
  return cli;
}

bool wants_help(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(),
                     [](const std::string& arg) { return arg == "-h" || arg == "--help"; });
}

std::string version_line(std::string_view tool) {
  return "kubectl-" + std::string(tool) + " version " + std::string(kVersion);
}

int subcommand_main(std::string_view tool, std::string_view description,
                    std::span<const Subcommand> table, int argc, char** argv) {
  return run_main(tool, argc, argv, [&](int count, char** args) {
    return dispatch_subcommand(tool, description, table, count, args, std::cout, std::cerr);
  });
}

int print_error(std::ostream& err, std::string_view tool, std::string_view message) {
  err << "kubectl-" << tool << ": error: " << message << '\n';
  return 2;
}

void print_warning(std::ostream& err, std::string_view tool, std::string_view message) {
  err << "kubectl-" << tool << ": warning: " << message << '\n';
}

int run_main(std::string_view tool, int argc, char** argv,
             const std::function<int(int, char**)>& body) {
  // The hidden completion entry point (complete.h) and `completion SHELL`, before the plugin.
  if (argc > 1 && is_completion_entry(argv[1])) {
    return run_completion(argc, argv, body);
  }
  // The hidden `__config` entry point (config_dump.h), for tests/differential.
  if (argc > 1 && is_config_entry(argv[1])) {
    try {
      return config_command(tool, std::vector<std::string>(argv + 2, argv + argc), std::cout,
                            std::cerr);
    } catch (const std::exception& e) {
      return print_error(std::cerr, tool, plain_quotes(e.what()));
    }
  }
  if (argc > 1 && std::string_view(argv[1]) == "completion") {
    return completion_command(tool, std::vector<std::string>(argv + 2, argv + argc), std::cout,
                              std::cerr);
  }
  try {
    return body(argc, argv);
  } catch (const std::exception& e) {
    // cxxopts parse errors land here too; their message already names the flag.
    return print_error(std::cerr, tool, plain_quotes(e.what()));
  }
}

ArgvView::ArgvView(std::string_view program, const std::vector<std::string>& args) {
  strings_.reserve(args.size() + 1);
  strings_.emplace_back(program);
  strings_.insert(strings_.end(), args.begin(), args.end());
  for (const std::string& s : strings_) {
    pointers_.push_back(s.c_str());
  }
  pointers_.push_back(nullptr);  // argv[argc] == nullptr, as in main()
}

}  // namespace kp::core
