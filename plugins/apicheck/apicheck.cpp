#include "apicheck/apicheck.h"

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "core/url.h"

namespace kp::apicheck {
namespace {

constexpr std::string_view kTool = "apicheck";

using core::Check;
using core::CheckStatus;
using core::Layer;

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// The first line of a body, cut short: enough to recognise a proxy's error page.
std::string snippet(std::string_view body) {
  constexpr std::size_t kMax = 120;
  std::string_view line = body.substr(0, body.find('\n'));
  if (line.size() > kMax) {
    return std::string(line.substr(0, kMax)) + "...";
  }
  return std::string(line);
}

Check config_check(const Options& options) {
  const core::ClientConfig& c = options.client;
  Check check;
  check.id = "config.kubeconfig";
  check.layer = Layer::config;
  check.status = CheckStatus::ok;
  check.durationMs = options.configMs;
  check.message = c.contextName.empty() ? "no context (flags only)" : "context " + c.contextName;
  check.message += ", cluster " + (c.clusterName.empty() ? "(none)" : c.clusterName);
  check.message += ", server " + c.server;
  check.details = {{"sourceFiles", c.sourceFiles}, {"namespace", c.namespaceName}};
  if (c.insecure) {
    check.status = CheckStatus::warn;
    check.message += "; TLS verification is disabled";
    check.hint =
        "insecure-skip-tls-verify trusts any server, including an attacker's: set "
        "certificate-authority-data to the cluster CA instead";
  }
  return check;
}

// Which layer a libcurl failure belongs to, and the check that reports it.
struct TransportFailure {
  Layer layer;
  std::string id;
  std::string hint;
};

TransportFailure classify(const core::HttpError& error, const std::string& endpoint, bool tls) {
  using core::TransportError;
  switch (error.kind) {
    case TransportError::badUrl:
      return {Layer::config, "config.server",
              "fix the cluster's server URL in the kubeconfig (https://host:port)"};
    case TransportError::proxy:
      return {Layer::proxy, "proxy.connect",
              "check the proxy-url of the cluster and the HTTPS_PROXY/NO_PROXY variables"};
    case TransportError::dns:
      return {Layer::dns, "dns.resolve",
              "check the server name in the kubeconfig, /etc/hosts and the DNS servers in "
              "/etc/resolv.conf"};
    case TransportError::connect:
      return {Layer::tcp, "tcp.connect",
              "nothing accepts connections at " + endpoint +
                  ": check that kube-apiserver (or its load balancer) runs and listens there, "
                  "and that no firewall rejects the port"};
    case TransportError::tlsVerify:
      return {Layer::tls, "tls.verify",
              "the serving certificate does not verify against the kubeconfig CA or does not "
              "name the server: compare certificate-authority-data with the cluster CA and the "
              "certificate's SANs with the server address"};
    case TransportError::tlsCa:
      return {Layer::tls, "tls.ca",
              "the kubeconfig CA could not be loaded: certificate-authority(-data) must hold "
              "PEM certificates"};
    case TransportError::tlsHandshake:
      return {Layer::tls, "tls.handshake",
              "the TLS handshake failed: check that " + endpoint +
                  " serves TLS (not plain HTTP or another protocol) and that the client "
                  "certificate and key match"};
    case TransportError::timeout:
      // libcurl names no phase, but a phase that never finished has no duration.
      if (error.timings.connectMs == 0) {
        return {Layer::tcp, "tcp.connect",
                "no answer from " + endpoint +
                    ": packets are dropped; check firewalls, security groups, routes and the "
                    "load balancer"};
      }
      if (tls && error.timings.tlsMs == 0) {
        return {Layer::tls, "tls.handshake",
                "the TCP connection opened but the TLS handshake never completed: check that "
                "the port serves TLS and that no middlebox stalls it"};
      }
      break;
    case TransportError::tooLarge:
    case TransportError::other:
      break;
  }
  return {Layer::health, "health.readyz",
          "the connection broke after it was established: check load balancer health checks and "
          "the kube-apiserver logs"};
}

Check transport_check(const core::HttpError& error, const std::string& server) {
  const std::string endpoint = core::endpoint_of(server);
  TransportFailure failure = classify(error, endpoint, core::split_url(server).scheme == "https");
  Check check;
  check.id = std::move(failure.id);
  check.layer = failure.layer;
  check.endpoint = endpoint;
  check.status = CheckStatus::fail;
  check.message = error.message;
  check.hint = std::move(failure.hint);
  check.durationMs = error.timings.totalMs;
  check.details = {{"curlCode", error.curlCode}};
  return check;
}

Check skipped(std::string id, const Check& cause) {
  Check check;
  check.id = std::move(id);
  check.layer = Layer::health;
  check.status = CheckStatus::skip;
  check.message = "not checked: " + cause.id + " failed";
  return check;
}

// Statuses that mean the same thing on every public endpoint; nullopt for 200.
std::optional<Check> unexpected_status(std::string id, std::string_view path,
                                       const core::HttpResponse& response) {
  Check check;
  check.id = std::move(id);
  check.layer = Layer::health;
  check.durationMs = response.timings.totalMs;
  check.details = {{"httpStatus", response.status}};
  const std::string code = "HTTP " + std::to_string(response.status);
  switch (response.status) {
    case 200:
      return std::nullopt;
    case 401:
      check.status = CheckStatus::warn;
      check.message = "anonymous request to " + std::string(path) + " rejected (" + code + ")";
      check.hint =
          "the server disables anonymous access (--anonymous-auth=false); try kubectl get --raw " +
          std::string(path) + " with credentials";
      return check;
    case 403:
      check.status = CheckStatus::warn;
      check.message = "anonymous request to " + std::string(path) + " forbidden (" + code + ")";
      check.hint =
          "the system:public-info-viewer ClusterRoleBinding may be missing; try kubectl get "
          "--raw " +
          std::string(path) + " with credentials";
      return check;
    case 429:
      check.status = CheckStatus::warn;
      check.message = "throttled by API Priority and Fairness (" + code + ")";
      check.hint =
          "the server sheds load; retry after " +
          (response.header("Retry-After").empty() ? std::string("a while")
                                                  : response.header("Retry-After") + " s") +
          " and check the apiserver_flowcontrol metrics";
      return check;
    default:
      break;
  }
  check.status = CheckStatus::fail;
  if (response.status == 400 &&
      response.body.find("HTTP request to an HTTPS server") != std::string::npos) {
    check.message = "the server speaks HTTPS but was asked in plain HTTP (" + code + ")";
    check.hint = "use https:// in the server URL";
    return check;
  }
  check.message =
      "unexpected " + code + " from " + std::string(path) + ": " + snippet(response.body);
  check.hint =
      "the address may not reach a kube-apiserver (a proxy or load balancer answered?): check the "
      "server URL and what listens there";
  return check;
}

// Names of the failing checks in a verbose health body: "[-]etcd failed: reason withheld".
std::vector<std::string> failed_health_checks(std::string_view body) {
  std::vector<std::string> names;
  std::istringstream lines{std::string(body)};
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("[-]")) {
      continue;
    }
    const auto space = line.find(' ');
    names.push_back(line.substr(3, space == std::string::npos ? std::string::npos : space - 3));
  }
  return names;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return out;
}

Check readyz_check(const core::HttpResponse& response) {
  if (response.status == 500) {
    const std::vector<std::string> failed = failed_health_checks(response.body);
    Check check;
    check.id = "health.readyz";
    check.layer = Layer::health;
    check.status = CheckStatus::fail;
    check.durationMs = response.timings.totalMs;
    check.message = failed.empty() ? "not ready (HTTP 500): " + snippet(response.body)
                                   : "not ready (HTTP 500): " + join(failed) + " failed";
    check.hint =
        "kube-apiserver reports failing readiness checks: inspect kubectl get --raw "
        "'/readyz?verbose' and the kube-apiserver logs (etcd: check etcd health and the "
        "apiserver's etcd client certificates)";
    check.details = {{"httpStatus", response.status}, {"failed", failed}};
    return check;
  }
  std::optional<Check> unexpected = unexpected_status("health.readyz", "/readyz", response);
  if (unexpected) {
    return *unexpected;
  }
  Check check;
  check.id = "health.readyz";
  check.layer = Layer::health;
  check.status = CheckStatus::ok;
  check.durationMs = response.timings.totalMs;
  check.message = "ready";
  check.details = {{"httpStatus", response.status}};
  return check;
}

Check version_check(const core::HttpResponse& response) {
  std::optional<Check> unexpected = unexpected_status("health.version", "/version", response);
  if (unexpected) {
    return *unexpected;
  }
  Check check;
  check.id = "health.version";
  check.layer = Layer::health;
  check.durationMs = response.timings.totalMs;
  // nlohmann throws on bad input; a server's JSON is input, so turn it into a check result.
  nlohmann::ordered_json version =
      nlohmann::ordered_json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (version.is_discarded() || !version.is_object() || !version.contains("gitVersion") ||
      !version["gitVersion"].is_string()) {
    check.status = CheckStatus::fail;
    check.message =
        "/version did not return a Kubernetes version object: " + snippet(response.body);
    check.hint = "the address may not reach a kube-apiserver: check the server URL";
    return check;
  }
  auto field = [&version](const char* key) {
    return version.contains(key) && version[key].is_string() ? version[key].get<std::string>()
                                                             : std::string();
  };
  check.status = CheckStatus::ok;
  check.message = "server version " + field("gitVersion");
  const std::string go = field("goVersion");
  const std::string platform = field("platform");
  if (!go.empty() || !platform.empty()) {
    check.message += " (" + go + (go.empty() || platform.empty() ? "" : ", ") + platform + ")";
  }
  check.details = std::move(version);
  return check;
}

}  // namespace

cxxopts::Options make_cli(const std::string& program) {
  cxxopts::Options cli(program,
                       "Check the path from this client to the Kubernetes API server and report "
                       "which layer is broken.\n");
  cli.custom_help("[flags]");
  cli.set_width(100);
  const auto text = [](const char* fallback) {
    return cxxopts::value<std::string>()->default_value(fallback);
  };
  cli.add_options("", {
                          {"o,output", "Output format: text, json or yaml", text("text"), "FORMAT"},
                          {"fail-on", "Exit 1 on: fail, or warn", text("fail"), "STATUS"},
                          {"timeout", "Deadline for each network step", text("5s"), "DURATION"},
                          {"h,help", "Show this help"},
                          {"version", "Print the version"},
                      });
  core::KubeFlags::add_to(cli);
  return cli;
}

core::Status Options::complete(const cxxopts::ParseResult& parsed) {
  core::Result<core::KubeFlags> flags = core::KubeFlags::read_from(parsed);
  if (!flags) {
    return flags.error();
  }
  kube = std::move(flags).value();
  outputText = parsed["output"].as<std::string>();
  failOnText = parsed["fail-on"].as<std::string>();
  timeoutText = parsed["timeout"].as<std::string>();
  const auto start = std::chrono::steady_clock::now();
  core::Result<core::ClientConfig> resolved =
      core::load_client_config(kube.loading_rules(), kube.overrides);
  configMs = elapsed_ms(start);
  if (!resolved) {
    return resolved.error();
  }
  client = std::move(resolved).value();
  if (!http) {
    http = std::make_shared<core::CurlHttpClient>();
  }
  colour = core::colour_enabled(STDOUT_FILENO);
  return {};
}

core::Status Options::validate() {
  core::Result<core::OutputFormat> format = core::parse_output_format(outputText);
  if (!format) {
    return format.error();
  }
  output = *format;
  core::Result<core::FailOn> failOnValue = core::parse_fail_on(failOnText);
  if (!failOnValue) {
    return failOnValue.error();
  }
  failOn = *failOnValue;
  core::Result<std::chrono::milliseconds> deadline = core::parse_duration(timeoutText);
  if (!deadline) {
    return deadline.error().prefixed("--timeout");
  }
  if (deadline->count() <= 0) {
    return core::Error{"--timeout: must be greater than 0"};
  }
  timeout = *deadline;
  return {};
}

core::Report Options::check() const {
  core::Report report;
  report.tool = std::string(kTool);
  report.target = {client.contextName, client.clusterName, client.server};
  report.checks.push_back(config_check(*this));

  // Both endpoints are public (system:public-info-viewer), so no credential is sent: nothing
  // has verified yet that this server deserves one.
  auto get = [this](std::string_view path) {
    core::HttpRequest request;
    request.url = core::join_url(client.server, path);
    request.caPem = client.caPem;
    request.insecure = client.insecure;
    request.tlsServerName = client.tlsServerName;
    request.proxyUrl = client.proxyUrl;
    request.timeout = timeout;
    return http->send(request);
  };

  const core::HttpResult readyz = get("/readyz");
  if (!readyz) {
    const Check failure = transport_check(readyz.error(), client.server);
    report.checks.push_back(failure);
    if (failure.id != "health.readyz") {
      report.checks.push_back(skipped("health.readyz", failure));
    }
    report.checks.push_back(skipped("health.version", failure));
    return report;
  }
  report.checks.push_back(readyz_check(*readyz));

  const core::HttpResult version = get("/version");
  if (!version) {
    Check failure = transport_check(version.error(), client.server);
    failure.id = "health.version";
    failure.layer = Layer::health;
    report.checks.push_back(failure);
    return report;
  }
  report.checks.push_back(version_check(*version));
  return report;
}

int Options::run(std::ostream& out, std::ostream& err) const {
  for (const std::string& warning : client.warnings) {
    err << "kubectl-" << kTool << ": warning: " << warning << '\n';
  }
  const core::Report report = check();
  core::render(out, report, output, colour);
  return core::exit_code(report, failOn);
}

int main(int argc, char** argv) {
  return core::run_main(kTool, argc, argv, [](int count, char** args) {
    const std::string program =
        core::program_name(count > 0 ? args[0] : "kubectl-apicheck", std::getenv("KUBECTL_PATH"));
    cxxopts::Options cli = make_cli(program);
    const cxxopts::ParseResult parsed = cli.parse(count, args);
    if (parsed.count("help") > 0) {
      std::cout << cli.help({"", "kubectl"});
      return 0;
    }
    if (parsed.count("version") > 0) {
      std::cout << core::version_line(kTool) << '\n';
      return 0;
    }
    if (!parsed.unmatched().empty()) {
      return core::print_error(
          std::cerr, kTool,
          "unexpected argument \"" + parsed.unmatched().front() + "\"; see " + program + " --help");
    }
    Options options;
    core::Status status = options.complete(parsed);
    if (!status) {
      return core::print_error(std::cerr, kTool, status.error().message);
    }
    status = options.validate();
    if (!status) {
      return core::print_error(std::cerr, kTool, status.error().message);
    }
    return options.run(std::cout, std::cerr);
  });
}

}  // namespace kp::apicheck
