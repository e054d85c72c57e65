#include "certs/kubeconfig.h"

#include <map>
#include <ostream>
#include <set>

#include "core/net/x509.h"
#include "core/util/files.h"

namespace kp::certs {
namespace {

constexpr std::string_view kCheckId = "cert.kubeconfig";

core::Check failed(const std::string& source, std::string message, std::string hint) {
  core::Check check =
      core::make_check(std::string(kCheckId), core::Layer::cert, core::CheckStatus::fail,
                       std::move(message), std::move(hint));
  check.details = {{"source", source}};
  return check;
}

// The PEM of a cluster's CA or a user's certificate: inline data first, as client-go does.
core::Result<std::string> pem_of(const std::string& data, const std::string& path) {
  if (!data.empty()) {
    return data;
  }
  return core::read_file(path);
}

struct ClusterCAs {
  std::vector<core::Certificate> certs;  // empty: none configured or unreadable
};

}  // namespace

core::Result<core::Report> check_kubeconfig(const core::Kubeconfig& config,
                                            const KubeconfigOptions& options) {
  core::Report report;
  report.tool = "certs";
  const std::int64_t now = options.common.now_unix();
  const std::int64_t within = options.common.warnWithinSeconds;

  std::set<std::string> clusters, users;
  std::vector<const core::Context*> contexts;
  if (options.current) {
    const std::string name = options.context.empty() ? config.currentContext : options.context;
    if (name.empty()) {
      return core::Error{"--current: the kubeconfig has no current-context (use --context)"};
    }
    const auto it = config.contexts.find(name);
    if (it == config.contexts.end()) {
      return core::Error{"--current: context \"" + name + "\" not found in the kubeconfig"};
    }
    report.target.context = name;
    report.target.cluster = it->second.cluster;
    contexts.push_back(&it->second);
    clusters.insert(it->second.cluster);
    users.insert(it->second.user);
  } else {
    for (const auto& [name, cluster] : config.clusters) {
      clusters.insert(name);
    }
    for (const auto& [name, user] : config.users) {
      users.insert(name);
    }
    for (const auto& [name, context] : config.contexts) {
      contexts.push_back(&context);
    }
  }

  std::map<std::string, ClusterCAs> cas;
  for (const std::string& name : clusters) {
    const auto it = config.clusters.find(name);
    if (it == config.clusters.end()) {
      continue;  // a context naming a missing cluster is apicheck's config layer
    }
    const core::Cluster& cluster = it->second;
    const std::string source = "kubeconfig/cluster/" + name;
    const std::string hint =
        "renew the cluster's CA on the control plane (CAs are not renewed by kubeadm certs "
        "renew: see 'Manual certificate renewal'), then update certificate-authority-data";
    if (cluster.certificateAuthorityData.empty() && cluster.certificateAuthority.empty()) {
      core::Check check;
      check.id = std::string(kCheckId);
      check.layer = core::Layer::cert;
      check.status = core::CheckStatus::skip;
      check.message = cluster.insecureSkipTlsVerify
                          ? "no certificate-authority: insecure-skip-tls-verify is set"
                          : "no certificate-authority: the system trust store" +
                                core::system_roots_note() + " is used";
      check.details = {{"source", source}};
      report.checks.push_back(check);
      continue;
    }
    core::Result<std::string> pem =
        pem_of(cluster.certificateAuthorityData, cluster.certificateAuthority);
    if (!pem) {
      report.checks.push_back(
          failed(source, cluster.origin + ": certificate-authority: " + pem.error().message,
                 "fix the certificate-authority path"));
      continue;
    }
    core::Result<core::ParsedCertificates> parsed = core::parse_certificates(*pem);
    if (!parsed) {
      report.checks.push_back(
          failed(source,
                 cluster.origin +
                     (cluster.certificateAuthorityData.empty() ? ": certificate-authority: "
                                                               : ": certificate-authority-data: ") +
                     parsed.error().message,
                 "put the cluster's CA certificate (PEM) there"));
      continue;
    }
    cas[name].certs = parsed->certs;
    const bool bundle = parsed->certs.size() > 1;
    for (std::size_t i = 0; i < parsed->certs.size(); ++i) {
      report.checks.push_back(check_certificate(parsed->certs[i], kCheckId,
                                                bundle ? source + "#" + std::to_string(i) : source,
                                                now, within, hint));
    }
  }

  for (const std::string& name : users) {
    const auto it = config.users.find(name);
    if (it == config.users.end()) {
      continue;
    }
    const core::AuthInfo& user = it->second;
    if (user.clientCertificateData.empty() && user.clientCertificate.empty()) {
      continue;  // token, exec or basic: no certificate
    }
    const std::string source = "kubeconfig/user/" + name;
    core::Result<std::string> pem = pem_of(user.clientCertificateData, user.clientCertificate);
    if (!pem) {
      report.checks.push_back(failed(source,
                                     user.origin + ": client-certificate: " + pem.error().message,
                                     "fix the client-certificate path"));
      continue;
    }
    core::Result<core::ParsedCertificates> parsed = core::parse_certificates(*pem);
    if (!parsed) {
      report.checks.push_back(
          failed(source,
                 user.origin +
                     (user.clientCertificateData.empty() ? ": client-certificate: "
                                                         : ": client-certificate-data: ") +
                     parsed.error().message,
                 "put the user's client certificate (PEM) there"));
      continue;
    }
    const core::Certificate& cert = parsed->certs.front();
    const std::string cn = core::inspect(cert).commonName;
    const std::string hint =
        "re-issue the kubeconfig's client certificate (kubeadm kubeconfig user --client-name " +
        (cn.empty() ? name : cn) + ")";
    core::Check check = check_certificate(cert, kCheckId, source, now, within, hint);
    // client-go reads PEM only: DER here is a certificate kubectl cannot load.
    const auto der = [](const std::string& bytes) {
      return bytes.find("-----BEGIN ") == std::string::npos;
    };
    if (der(*pem)) {
      add_problem(check, "client-certificate is DER, which kubectl cannot read (PEM only)",
                  "convert it: openssl x509 -inform DER -in CERT -out CERT.pem");
    }
    // Its key.
    if (!user.clientKeyData.empty() || !user.clientKey.empty()) {
      core::Result<std::string> keyPem = pem_of(user.clientKeyData, user.clientKey);
      if (!keyPem) {
        add_problem(check, "client-key: " + keyPem.error().message, "fix the client-key path");
      } else if (core::Result<core::PrivateKey> key = core::parse_private_key(*keyPem); !key) {
        add_problem(check, "client-key: " + key.error().message,
                    "put the client certificate's private key there");
      } else if (!core::key_matches(cert, *key)) {
        add_problem(check, "does not match its client key",
                    "the client certificate and key come from different pairs: " + hint);
      } else if (der(*keyPem)) {
        add_problem(check, "client-key is DER, which kubectl cannot read (PEM only)",
                    "convert it: openssl pkey -inform DER -in KEY -out KEY.pem");
      }
    }
    // The CA of every cluster a context pairs it with.
    nlohmann::ordered_json checkedAgainst = nlohmann::ordered_json::array();
    std::set<std::string> seen;
    for (const core::Context* context : contexts) {
      if (context->user != name || !seen.insert(context->cluster).second) {
        continue;
      }
      const auto ca = cas.find(context->cluster);
      if (ca == cas.end() || ca->second.certs.empty()) {
        continue;  // no CA to compare with (system trust store, or its own check failed)
      }
      checkedAgainst.push_back(context->cluster);
      bool signedBy = false;
      for (const core::Certificate& root : ca->second.certs) {
        signedBy = signedBy || core::issued_by(cert, root);
      }
      if (!signedBy) {
        add_problem(check,
                    "not signed by the CA of cluster \"" + context->cluster +
                        "\" (the API server will reject it)",
                    "get a client certificate from the cluster's CA: " + hint);
      }
    }
    check.details["clusters"] = checkedAgainst;
    report.checks.push_back(check);
  }
  if (report.checks.empty()) {
    core::Check none;
    none.id = std::string(kCheckId);
    none.layer = core::Layer::cert;
    none.status = core::CheckStatus::skip;
    none.message = "the kubeconfig holds no certificates";
    report.checks.push_back(none);
  }
  return report;
}

int run_kubeconfig(const KubeconfigOptions& options, std::ostream& out, std::ostream& err) {
  core::Result<core::Kubeconfig> config = core::load_kubeconfig(options.rules);
  if (!config) {
    return core::print_error(err, "certs", config.error().message);
  }
  for (const std::string& warning : config->warnings) {
    err << "kubectl-certs: warning: " << warning << '\n';
  }
  core::Result<core::Report> report = check_kubeconfig(*config, options);
  if (!report) {
    return core::print_error(err, "certs", report.error().message);
  }
  return finish(out, *report, options.common);
}

int kubeconfig_command(const core::Invocation& invocation) {
  cxxopts::Options cli = core::command_options(
      invocation, " (--kubeconfig, KUBECONFIG or ~/.kube/config, merged as kubectl does).",
      "[flags]");
  cli.add_options("")  //
      ("current", "Only the current context's cluster and user");
  core::Result<ParsedCommand, int> command = parse_command(invocation, cli, false);
  if (!command) {
    return command.error();
  }
  const cxxopts::ParseResult& parsed = command->parsed;
  KubeconfigOptions options;
  options.common = command->common;
  options.rules = command->kube.loading_rules();
  options.context = command->kube.overrides.context;
  options.current = parsed.count("current") > 0;
  return run_kubeconfig(options, invocation.out, invocation.err);
}

}  // namespace kp::certs
