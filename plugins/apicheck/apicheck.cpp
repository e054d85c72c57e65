#include "apicheck/apicheck.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <iterator>
#include <sstream>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "apicheck/config_load.h"
#include "core/cli/complete.h"
#include "core/util/base64.h"
#include "core/util/json.h"
#include "core/util/process.h"
#include "core/util/signals.h"
#include "core/util/time.h"
#include "core/util/url.h"

namespace kp::apicheck {
namespace {

constexpr std::string_view kTool = "apicheck";

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// The kubectl that dispatched us (KUBECTL_PATH), else the first on PATH.
std::string find_kubectl(const core::EnvLookup& env) {
  if (auto path = env("KUBECTL_PATH"); path && !path->empty()) {
    return *path;
  }
  return core::find_executable("kubectl", env("PATH").value_or("")).value_or("");
}

std::string klog_time() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const std::tm tm = core::local_time(t);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  char text[64];
  std::snprintf(text, sizeof text, "I%02d%02d %02d:%02d:%02d.%06lld", tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros));
  return text;
}

}  // namespace

Deps Deps::system(int verbosity) {
  Deps d;
  d.net = std::make_shared<core::SystemNetwork>();
  d.tls = core::probe_tls;
  d.verbosity = verbosity;
  if (verbosity > 0) {
    // One write per line: the health requests log from their own thread.
    d.log = [](const std::string& line) { std::cerr << klog_time() + "] " + line + "\n"; };
  }
  core::HttpLog log{verbosity, d.log};
  d.http = [log] { return std::make_unique<core::CurlHttpClient>(log); };
  d.env = core::process_env();
  d.now = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  d.exec = core::system_exec_runner();

  d.kubectl = [env = d.env] {
    const std::string path = find_kubectl(env);
    return path.empty() ? core::KubectlBinary{} : core::inspect_kubectl(path, {env});
  };
  d.kubectlVersion = [env = d.env](const std::string& binary) {
    const std::string dir = core::user_cache_dir(env);
    return core::cached_kubectl_version(
        binary, dir.empty() ? std::string() : dir + "/kplugins/kubectl-version.json",
        core::kubectl_version_by_running);
  };
  d.haproxyStats = [log](const std::string& source,
                         std::chrono::milliseconds timeout) -> core::Result<std::string> {
    constexpr std::size_t kMaxStats = 16 << 20;
    if (!source.starts_with("http://") && !source.starts_with("https://")) {
      return core::unix_socket_exchange(source, "show stat\n", timeout, kMaxStats);
    }
    // The stats page gives CSV with ";csv" after its URI. A user:password in the URL (stats
    // auth) goes in an Authorization header, which the -v log masks, not in the logged URL.
    core::HttpRequest r;
    r.url = source.ends_with(";csv") ? source : source + ";csv";
    const std::size_t authority = r.url.find("://") + 3;
    const std::size_t at = r.url.find('@', authority);
    if (at != std::string::npos && at < r.url.find('/', authority)) {
      r.headers.push_back({"Authorization", "Basic " + core::encode_base64(r.url.substr(
                                                           authority, at - authority))});
      r.url.erase(authority, at + 1 - authority);
    }
    r.proxyUrl = core::chosen_proxy(r.url, "", core::process_env());
    r.timeout = timeout;
    r.maxBodyBytes = kMaxStats;
    const core::HttpResult answer = core::CurlHttpClient(log).send(r);
    if (!answer) {
      return core::Error{answer.error().message};
    }
    if (answer->status != 200) {
      return core::Error{"GET " + r.url + ": HTTP " + std::to_string(answer->status)};
    }
    return answer->body;
  };
  return d;
}

namespace {

constexpr std::string_view kAbout =
    "Check the path from this client to the Kubernetes API server, layer by layer (config, "
    "proxy, DNS, TCP, TLS, auth, health, HA backends, metrics), and report which layer is broken, "
    "the evidence and the fix.";

// apicheck's own flags; the command adds -o, --fail-on, -v, -h and the kubectl flags.
void add_flags(cxxopts::Options& cli) {
  const auto text = [](const char* fallback) {
    return cxxopts::value<std::string>()->default_value(fallback);
  };
  cli.add_options("")                                                        //
      ("timeout", "Deadline for each network step", text("5s"), "DURATION")  //
      ("endpoints", "Check these API server backends directly (host:port,...)",
       cxxopts::value<std::vector<std::string>>(), "LIST")                                  //
      ("all-endpoints", "Check every backend of the EndpointSlices of default/kubernetes")  //
      ("haproxy-stats",
       "Compare HAProxy's view of each backend with its /readyz (stats socket path or stats URL)",
       text(""), "SOCKET|URL")                                                            //
      ("metrics", "Read /metrics: 5xx ratio, p99 latency, APF rejections")                //
      ("dns-server", "Compare the system resolver with this DNS server", text(""), "IP")  //
      ("watch", "Probe repeatedly; Ctrl-C prints flaps and latency percentiles")          //
      ("interval", "Time between --watch rounds", text("2s"), "DURATION")                 //
      ("version", "Print the version");
}

}  // namespace

void Options::complete(const core::Command& command) {
  const cxxopts::ParseResult& parsed = command.flags();
  kube = command.kube();
  output = command.output();
  failOn = command.fail_on();
  verbosity = command.verbosity();
  timeoutText = parsed["timeout"].as<std::string>();
  // kubectl's --request-timeout ("0" means none, which apicheck never allows) sets the deadline
  // when --timeout is not given.
  if (parsed.count("timeout") == 0 && !kube.requestTimeout.empty() && kube.requestTimeout != "0") {
    timeoutText = kube.requestTimeout;
  }
  intervalText = parsed["interval"].as<std::string>();
  dnsServer = parsed["dns-server"].as<std::string>();
  allEndpoints = parsed.count("all-endpoints") > 0;
  haproxyStats = parsed["haproxy-stats"].as<std::string>();
  metrics = parsed.count("metrics") > 0;
  watch = parsed.count("watch") > 0;
  if (parsed.count("endpoints") > 0) {
    // CXXOPTS_VECTOR_DELIMITER is NUL (for --as-group); split the comma list here.
    for (const std::string& value : parsed["endpoints"].as<std::vector<std::string>>()) {
      std::istringstream items(value);
      for (std::string item; std::getline(items, item, ',');) {
        if (!item.empty()) {
          endpoints.push_back(item);
        }
      }
    }
  }
}

core::Status Options::load() {
  const auto start = std::chrono::steady_clock::now();
  core::Result<LoadedConfig> loaded =
      load_config(kube.loading_rules(), kube.overrides, HostView::system(core::process_env()));
  configMs = elapsed_ms(start);
  if (!loaded) {
    return loaded.error();
  }
  configChecks = std::move(loaded->checks);
  credentialsRefused = std::move(loaded->credentialsRefused);
  defaultServer = loaded->defaultServer;
  nothingToDial = !loaded->client;
  if (loaded->client) {
    client = std::move(*loaded->client);
  }
  if (!deps.net) {
    deps = Deps::system(verbosity);
  }
  colour = core::colour_enabled(STDOUT_FILENO);
  return {};
}

core::Status Options::validate() {
  core::Result<std::chrono::milliseconds> deadline =
      core::parse_positive_duration("--timeout", timeoutText);
  if (!deadline) {
    return deadline.error();
  }
  timeout = *deadline;
  core::Result<std::chrono::milliseconds> every =
      core::parse_positive_duration("--interval", intervalText);
  if (!every) {
    return every.error();
  }
  interval = *every;
  for (const std::string& endpoint : endpoints) {
    const auto colon = endpoint.rfind(':');
    const std::string port = colon == std::string::npos ? "" : endpoint.substr(colon + 1);
    if (colon == std::string::npos || colon == 0 || port.empty() ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) == 0 ||
        std::stoi(port) > 65535) {
      return core::Error{"--endpoints: \"" + endpoint + "\" is not host:port"};
    }
  }
  if (!endpoints.empty() && allEndpoints) {
    return core::Error{"--endpoints and --all-endpoints: choose one"};
  }
  if (verbosity < 0 || verbosity > 10) {
    return core::Error{"-v: must be between 0 and 10"};
  }
  if (watch && output != core::OutputFormat::text) {
    return core::Error{"--watch prints one line per round: it takes -o text only"};
  }
  return {};
}

int Options::run(std::ostream& out, std::ostream& err) const {
  for (const std::string& warning : client.warnings) {
    err << "kubectl-" << kTool << ": warning: " << warning << '\n';
  }
  if (client.insecure) {
    err << "kubectl-" << kTool
        << ": WARNING: insecure-skip-tls-verify is set: the server is not authenticated and "
           "credentials are sent to whoever answers\n";
  }
  if (watch && !nothingToDial) {
    core::StopSignals::install();
    return apicheck::watch(*this, out, [] { return core::StopSignals::raised(); });
  }
  const core::Report report = check();
  core::render(out, report, output, colour);
  return core::exit_code(report, failOn);
}

int run_command(const core::Invocation& invocation) {
  core::Command command(invocation, "", "[flags]");
  add_flags(command.options());
  if (std::optional<int> done =
          command.parse({.verbosity = "Log level for request logs (6 to 10, like kubectl)"})) {
    return *done;
  }
  if (command.flags().count("version") > 0) {
    invocation.out << core::version_line(kTool) << '\n';
    return 0;
  }
  Options options;
  options.complete(command);
  for (core::Status (Options::*step)() : {&Options::validate, &Options::load}) {
    if (core::Status status = (options.*step)(); !status) {
      return command.fail(status.error().message);
    }
  }
  return options.run(invocation.out, invocation.err);
}

int main(int argc, char** argv) {
  return core::run_main(kTool, argc, argv, [](int count, char** args) {
    const core::Invocation invocation{
        core::program_name(count > 0 ? args[0] : "kubectl-apicheck", std::getenv("KUBECTL_PATH")),
        std::string(kTool),
        "",
        kAbout,
        std::vector<std::string>(args + std::min(count, 1), args + count),
        std::cout,
        std::cerr};
    return run_command(invocation);
  });
}

}  // namespace kp::apicheck
