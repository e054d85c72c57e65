#include "certs/server.h"

#include <ostream>

#include "core/cli/cli.h"
#include "core/cli/command.h"
#include "core/net/net.h"
#include "core/net/x509.h"
#include "core/util/files.h"
#include "core/util/url.h"

namespace kp::certs {
namespace {

constexpr std::string_view kCheckId = "cert.server";
constexpr std::string_view kRenewHint =
    "renew the serving certificate, e.g. kubeadm certs renew apiserver, then restart "
    "kube-apiserver";

// The layer a probe failure broke in, from how probe_server words it: "resolve HOST: ...",
// "TLS handshake with HOST:PORT: ...", else the TCP connect. A timeout during the handshake
// is TLS even though TCP connected fine.
core::Layer probe_failure_layer(std::string_view message) {
  if (message.starts_with("resolve ")) {
    return core::Layer::dns;
  }
  if (message.starts_with("TLS handshake with ")) {
    return core::Layer::tls;
  }
  return core::Layer::tcp;
}

}  // namespace

core::Result<std::pair<std::string, int>> parse_host_port(std::string_view text) {
  const core::Error invalid{"--host: \"" + std::string(text) + "\" is not host:port"};
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return invalid;
  }
  std::string host(text.substr(0, colon));
  const std::string_view port = text.substr(colon + 1);
  if (host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return invalid;  // IPv6 needs brackets
  }
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos) {
    return invalid;
  }
  const int number = std::stoi(std::string(port));
  if (number <= 0 || number > 65535) {
    return invalid;
  }
  return std::make_pair(host, number);
}

core::Result<core::TlsProbe> probe_server(const std::string& host, int port,
                                          const core::TlsProbeOptions& options) {
  auto resolved = core::resolve_system(host, options.timeout);
  if (!resolved) {
    return core::Error{"resolve " + host + ": " + resolved.error().message};
  }
  std::string lastError = "no addresses for " + host;
  for (const std::string& address : resolved->addresses) {
    auto connection = core::connect_tcp(address, port, options.timeout);
    if (!connection) {
      lastError = connection.error().message;
      continue;
    }
    auto probe = core::probe_tls(connection->fd.get(), options);
    if (!probe) {
      return core::Error{"TLS handshake with " + core::host_port(address, port) + ": " +
                         probe.error().message};
    }
    return std::move(probe).value();
  }
  return core::Error{lastError};
}

core::Report check_server(const ServerOptions& options) {
  core::Report report;
  report.tool = "certs";
  const std::string where = core::host_port(options.host, options.port);
  report.target.server = "https://" + where;
  const std::string name = options.serverName.empty() ? options.host : options.serverName;
  core::TlsProbeOptions probeOptions;
  probeOptions.serverName = name;
  probeOptions.caPem = options.caPem;
  probeOptions.timeout = options.timeout;
  const ServerProbe probe = options.probe ? options.probe : ServerProbe(probe_server);
  core::Result<core::TlsProbe> result = probe(options.host, options.port, probeOptions);
  if (!result || result->chain.empty()) {
    core::Check check;
    check.id = std::string(kCheckId);
    check.layer = result ? core::Layer::tls : probe_failure_layer(result.error().message);
    check.endpoint = where;
    check.status = core::CheckStatus::fail;
    check.message = result ? "the server sent no certificate" : result.error().message;
    check.hint =
        "check the address and that the API server is up (kubectl apicheck shows which "
        "layer breaks)";
    check.details = {{"source", where}};
    report.checks.push_back(check);
    return report;
  }
  const std::vector<core::Certificate>& chain = result->chain;
  const std::int64_t now = options.common.now_unix();
  for (std::size_t depth = 0; depth < chain.size(); ++depth) {
    core::Check check =
        check_certificate(chain[depth], kCheckId, where + "#" + std::to_string(depth), now,
                          options.common.warnWithinSeconds, kRenewHint);
    check.endpoint = where;
    report.checks.push_back(check);
  }
  // The chain against the roots at our clock, and the name on the leaf.
  std::vector<core::Certificate> roots;
  if (!options.caPem.empty()) {
    if (auto parsed = core::parse_certificates(options.caPem); parsed) {
      roots = parsed->certs;
    }
  }
  const std::vector<core::Certificate> intermediates(chain.begin() + 1, chain.end());
  const core::VerifyOutcome outcome =
      core::verify_chain(chain.front(), intermediates, roots, now, "serverAuth");
  core::Check& leaf = report.checks.front();
  leaf.details["verified"] = outcome.ok;
  leaf.details["verifiedAgainst"] = options.caSource.empty()
                                        ? "system trust store" + core::system_roots_note()
                                        : options.caSource;
  leaf.details["serverName"] = name;
  const std::string against = options.caSource.empty()
                                  ? "the system trust store" + core::system_roots_note()
                                  : options.caSource;
  for (const core::VerifyProblem& problem : outcome.problems) {
    if (problem.failure == core::VerifyFailure::expired ||
        problem.failure == core::VerifyFailure::notYetValid) {
      continue;  // each certificate's own check says so
    }
    std::string message = "chain does not verify against " + against + " (depth " +
                          std::to_string(problem.depth) + "): " + problem.reason;
    std::string hint = "re-issue the serving certificate from the cluster CA";
    if (problem.failure == core::VerifyFailure::unknownAuthority ||
        problem.failure == core::VerifyFailure::selfSigned) {
      hint =
          "the server's CA is not the one you trust: fix certificate-authority-data (or --ca), "
          "or re-issue the serving certificate from the cluster CA";
      // Against a CA bundle (not the system store), tell an incomplete served chain from
      // another CA, as apicheck's tls.verify does.
      const core::IssuerExplanation e =
          roots.empty()
              ? core::IssuerExplanation{}
              : core::explain_issuer(
                    core::diagnose_issuer(chain, roots, result->acceptableClientCaNames), against);
      if (!e.fix.empty()) {
        message += ": " + e.cause;
        hint = e.fix;
      }
    }
    add_problem(leaf, message, hint);
    break;
  }
  const std::string mismatch = core::host_mismatch_message(chain.front(), name);
  if (!mismatch.empty()) {
    add_problem(leaf, mismatch,
                "add the name to the serving certificate's SANs (kubeadm: apiServer.certSANs, "
                "then kubeadm init phase certs apiserver) or dial a name it holds");
  }
  return report;
}

int run_server(const ServerOptions& options, std::ostream& out, std::ostream& /*err*/) {
  return finish(out, check_server(options), options.common);
}

int server_command(const core::Invocation& invocation) {
  cxxopts::Options cli =
      core::command_options(invocation,
                            ": one check per certificate served, the chain verified against the "
                            "kubeconfig CA (or --ca) and the name dialled.",
                            "[flags]");
  cli.add_options("")  //
      ("host", "Dial this HOST:PORT instead of the kubeconfig's server",
       cxxopts::value<std::string>(), "HOST:PORT")  //
      ("sni", "Server name to send and check (default: tls-server-name, else the host)",
       cxxopts::value<std::string>(), "NAME")  //
      ("ca", "Verify against this CA bundle instead of the kubeconfig's",
       cxxopts::value<std::string>(), "FILE")  //
      ("timeout", "Deadline for each network step",
       cxxopts::value<std::string>()->default_value("5s"), "DURATION");
  core::Result<ParsedCommand, int> command = parse_command(invocation, cli, false);
  if (!command) {
    return command.error();
  }
  const cxxopts::ParseResult& parsed = command->parsed;
  const auto fail = [&invocation](const std::string& message) {
    return core::print_error(invocation.err, invocation.tool, message);
  };
  ServerOptions options;
  options.common = command->common;
  core::Result<std::chrono::milliseconds> timeout =
      core::parse_positive_duration("--timeout", parsed["timeout"].as<std::string>());
  if (!timeout) {
    return fail(timeout.error().message);
  }
  options.timeout = *timeout;
  const auto flag = [&parsed](const char* name) {
    return parsed.count(name) > 0 ? parsed[name].as<std::string>() : std::string();
  };
  const std::string hostFlag = flag("host");
  const std::string caFlag = flag("ca");
  options.serverName = flag("sni");
  if (!hostFlag.empty()) {
    auto hostPort = parse_host_port(hostFlag);
    if (!hostPort) {
      return fail(hostPort.error().message);
    }
    options.host = hostPort->first;
    options.port = hostPort->second;
  }
  if (hostFlag.empty() || caFlag.empty()) {
    core::Result<core::ClientConfig> client =
        core::load_client_config(command->kube.loading_rules(), command->kube.overrides);
    if (!client && !hostFlag.empty()) {
      // --host needs no kubeconfig: verify against the system trust store, and say so.
      invocation.err << "kubectl-certs: warning: no kubeconfig CA (" << client.error().message
                     << "); verifying against the system trust store\n";
      return run_server(options, invocation.out, invocation.err);
    }
    if (!client) {
      return fail(client.error().message);
    }
    core::warn_about_config(invocation, *client);
    if (hostFlag.empty()) {
      const core::UrlParts url = core::split_url(client->server);
      options.host = url.host;
      options.port = std::stoi(url.port.empty() ? std::string("443") : url.port);
      if (options.serverName.empty()) {
        options.serverName = client->tlsServerName;
      }
    }
    if (caFlag.empty() && !client->caPem.empty()) {
      options.caPem = client->caPem;
      options.caSource = client->caFile.empty()
                             ? "the kubeconfig CA of cluster \"" + client->clusterName + "\""
                             : client->caFile;
    }
  }
  if (!caFlag.empty()) {
    core::Result<std::string> pem = core::read_file(caFlag);
    if (!pem) {
      return fail("--ca: " + pem.error().message);
    }
    if (auto parsed_ca = core::parse_certificates(*pem); !parsed_ca) {
      return fail("--ca: " + caFlag + ": " + parsed_ca.error().message);
    }
    options.caPem = *pem;
    options.caSource = caFlag;
  }
  return run_server(options, invocation.out, invocation.err);
}

}  // namespace kp::certs
