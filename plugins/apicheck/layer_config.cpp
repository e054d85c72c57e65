// The config layer: what the kubeconfig selected, settings that expose credentials, and the
// client certificate (expiry, and whether the key is its pair).
#include <optional>
#include <string>
#include <vector>

#include "apicheck/run.h"
#include "core/net/x509.h"
#include "core/util/host.h"
#include "core/util/text.h"

namespace kp::apicheck::detail {

using core::join;

namespace {

bool group_or_world_readable(const std::string& path) {
  if (path.empty()) {
    return false;
  }
  const std::optional<core::FileMode> st = core::file_mode(path);
  return st && !st->denied && (st->mode & 077) != 0;
}

}  // namespace

void config_layer(Run& run) {
  const core::ClientConfig& c = run.client;
  bool explained = false;  // a loading problem already is the config.kubeconfig check
  for (const Check& finding : run.options.configChecks) {
    explained = explained || finding.id == "config.kubeconfig";
    run.add(finding);
  }
  if (run.options.nothingToDial) {
    return;
  }
  if (explained) {
    return;  // no kubeconfig was used: nothing more to say about one
  }
  Check check = make_check("config.kubeconfig", Layer::config, CheckStatus::ok, {});
  check.durationMs = run.options.configMs;
  check.message = (c.inCluster ? "in-cluster config" : "context " + c.contextName) + ", cluster " +
                  (c.clusterName.empty() ? "(none)" : c.clusterName) + ", user " +
                  (c.userName.empty() ? "(none)" : c.userName) + ", server " + c.server +
                  ", auth " + c.authMethod;
  check.details = {
      {"sourceFiles", c.sourceFiles}, {"namespace", c.namespaceName}, {"authMethod", c.authMethod}};
  if (!c.impersonate.empty()) {
    check.message += ", impersonating " + c.impersonate;
  }
  run.add(std::move(check));
  token_check(run);
  if (c.insecure) {
    run.add(make_check("config.insecure", Layer::config, CheckStatus::warn,
                       "TLS verification is disabled (insecure-skip-tls-verify): credentials go to "
                       "whoever answers",
                       "set certificate-authority-data to the cluster CA and drop "
                       "insecure-skip-tls-verify"));
  }
  std::vector<std::string> exposed;
  for (const std::string& path : {c.clientKeyFile, c.tokenFilePath}) {
    if (group_or_world_readable(path)) {
      exposed.push_back(path);
    }
  }
  if (!exposed.empty()) {
    run.add(make_check("config.permissions", Layer::config, CheckStatus::warn,
                       "readable by other users: " + join(exposed),
                       "chmod 600 " + join(exposed, " ")));
  }
  if (c.clientCertPem.empty()) {
    return;
  }
  core::Result<core::ParsedCertificates> certs = core::parse_certificates(c.clientCertPem);
  if (!certs || certs->certs.empty()) {
    return;  // the kubeconfig loader already refused unusable PEM
  }
  run.clientCert = core::inspect(certs->certs.front());
  const std::int64_t now = run.options.deps.now();
  const std::int64_t left = run.clientCert->notAfterUnix - now;
  Check cert = make_check("config.client-cert", Layer::config, CheckStatus::ok,
                          "client certificate " + run.clientCert->subject + " issued by " +
                              run.clientCert->issuer + ", expires " + run.clientCert->notAfter);
  std::string timeFix;  // set when the certificate is outside its validity by this clock
  if (left <= 0) {
    cert.status = CheckStatus::warn;
    cert.message += " (expired " + days_text(-left) + " ago)";
    timeFix =
        "issue a new client certificate (kubeadm: kubeadm kubeconfig user --client-name "
        "NAME, or kubeadm certs renew admin.conf)";
  } else if (now < run.clientCert->notBeforeUnix) {
    cert.status = CheckStatus::warn;
    cert.message += " (not valid before " + run.clientCert->notBefore + ")";
    timeFix =
        "the certificate was issued with a notBefore in the future (the CA machine's clock was "
        "ahead): wait, or issue it again";
  } else if (left < kWarnDays * 86400) {
    cert.status = CheckStatus::warn;
    cert.message += " (in " + days_text(left) + ")";
    cert.hint =
        "renew the client certificate before it expires (kubeadm certs renew admin.conf "
        "for kubeadm's admin.conf)";
  } else {
    cert.message += " (in " + days_text(left) + ")";
  }
  // client-go refuses a pair whose halves differ before it dials ("tls: private key does not
  // match public key"); libcurl would fail the handshake with a message about neither.
  if (core::Result<core::PrivateKey> key = core::parse_private_key(c.clientKeyPem);
      key && !core::key_matches(certs->certs.front(), *key)) {
    cert.status = CheckStatus::fail;
    cert.message +=
        "; the client key does not match it (it is the private half of another "
        "certificate)";
    cert.hint =
        "put the key issued with this certificate in client-key-data (or client-key); kubectl "
        "fails with \"tls: private key does not match public key\"";
    run.clientKeyMismatch = true;
    timeFix.clear();  // the key is the first thing to fix
  }
  if (!timeFix.empty()) {
    add_timed(run, std::move(cert),
              TimedVerdict::window(run.clientCert->notBeforeUnix, run.clientCert->notAfterUnix,
                                   std::move(timeFix)));
    return;
  }
  run.add(std::move(cert));
}

}  // namespace kp::apicheck::detail
