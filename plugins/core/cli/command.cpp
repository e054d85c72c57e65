#include "core/cli/command.h"

#include "core/util/signals.h"

namespace kp::core {

Command::Command(const Invocation& invocation, const std::string& about,
                 const std::string& synopsis)
    : invocation_(invocation),
      usage_(command_usage(invocation)),
      options_(command_options(invocation, about, synopsis)) {}

Command::Command(const Invocation& invocation, cxxopts::Options options)
    : invocation_(invocation), usage_(command_usage(invocation)), options_(std::move(options)) {}

std::optional<int> Command::parse(const CommonFlags& common) {
  if (!common.output.empty()) {
    options_.add_options("")("o,output", common.output,
                             cxxopts::value<std::string>()->default_value("text"), "FORMAT");
  }
  if (common.failOn) {
    options_.add_options("")("fail-on", "Exit 1 on: fail, or warn",
                             cxxopts::value<std::string>()->default_value("fail"), "STATUS");
  }
  if (!common.verbosity.empty()) {
    options_.add_options("")("v", common.verbosity, cxxopts::value<int>()->default_value("0"),
                             "LEVEL");
  }
  options_.add_options("")("h,help", "Show this help");
  KubeFlags::add_to(options_);

  const ArgvView argv(usage_, invocation_.args);
  parsed_ = parse_or_complete(options_, argv.argc(), argv.argv(), common.positionals);
  if (!parsed_) {
    return 0;  // a completion was answered
  }
  const cxxopts::ParseResult& parsed = *parsed_;
  if (parsed.count("help") > 0) {
    invocation_.out << options_.help({"", "kubectl"});
    return 0;
  }
  if (common.positionals == Positionals::none && !parsed.unmatched().empty()) {
    return fail("unexpected argument \"" + parsed.unmatched().front() + "\"; see " + usage_ +
                " --help");
  }
  if (!common.output.empty()) {
    outputText_ = parsed["output"].as<std::string>();
    if (common.coreOutput) {
      Result<OutputFormat> format = parse_output_format(outputText_);
      if (!format) {
        return fail(format.error().message);
      }
      output_ = *format;
    }
  }
  if (common.failOn) {
    Result<FailOn> failOn = parse_fail_on(parsed["fail-on"].as<std::string>());
    if (!failOn) {
      return fail(failOn.error().message);
    }
    failOn_ = *failOn;
  }
  if (!common.verbosity.empty()) {
    verbosity_ = parsed["v"].as<int>();
  }
  Result<KubeFlags> kube = KubeFlags::read_from(parsed);
  if (!kube) {
    return fail(kube.error().message);
  }
  kube_ = std::move(*kube);
  return std::nullopt;
}

std::chrono::milliseconds Command::request_timeout(std::chrono::milliseconds fallback) const {
  // read_from() validated it; "0" means none, which these commands never allow.
  if (!kube_.requestTimeout.empty() && kube_.requestTimeout != "0") {
    return *parse_duration(kube_.requestTimeout);
  }
  return fallback;
}

int Command::fail(std::string_view message) const {
  return print_error(invocation_.err, invocation_.tool, message);
}

void warn_about_config(const Invocation& invocation, const ClientConfig& config) {
  for (const ConfigProblem& problem : config.problems) {
    print_warning(invocation.err, invocation.tool, problem.message + "; fix: " + problem.hint);
  }
  for (const std::string& warning : config.warnings) {
    print_warning(invocation.err, invocation.tool, warning);
  }
}

Result<ClientConfig> Command::client_config() const {
  Result<ClientConfig> config = load_client_config(kube_.loading_rules(), kube_.overrides);
  if (config) {
    warn_about_config(invocation_, *config);
  }
  return config;
}

Result<ApiClient, int> connect_api(const Invocation& invocation, const KubeFlags& kube,
                                   std::chrono::milliseconds timeout, int verbosity) {
  Result<ApiClient> client = connect(kube.loading_rules(), kube.overrides, timeout, verbosity);
  if (!client) {
    return print_error(invocation.err, invocation.tool, client.error().message);
  }
  warn_about_config(invocation, client->config());
  StopSignals::install();
  client->set_cancel([] { return StopSignals::raised(); });
  return std::move(*client);
}

std::string namespace_for(const KubeFlags& kube, const ApiClient& client) {
  if (!kube.overrides.namespaceName.empty()) {
    return kube.overrides.namespaceName;
  }
  return client.config().namespaceName.empty() ? "default" : client.config().namespaceName;
}

Result<ApiClient, int> Command::connect(std::chrono::milliseconds timeout, int verbosity) const {
  return connect_api(invocation_, kube_, timeout, verbosity);
}

std::string Command::namespace_for(const ApiClient& client) const {
  return core::namespace_for(kube_, client);
}

}  // namespace kp::core
