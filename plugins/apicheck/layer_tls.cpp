// The TLS layer: the handshake on the diagnostic connection, chain and name verification,
// serving-certificate expiry and the client CAs the server accepts.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "apicheck/run.h"
#include "core/net/net.h"
#include "core/net/tls.h"
#include "core/net/x509.h"
#include "core/util/text.h"

namespace kp::apicheck::detail {

using core::join;

namespace {

// The kubeconfig's CA and the served chain's top issuer have the same name but not the same
// key: the cluster at this address was re-created (kubeadm reset + init, a new kind/minikube
// cluster) or its CA replaced, and the kubeconfig is the earlier one's. The CA's name, or "".
std::string same_name_other_key(const std::vector<core::Certificate>& chain, const Run& run) {
  if (chain.empty() || run.client.caPem.empty()) {
    return {};
  }
  const core::CertInfo top = core::inspect(chain.back());
  core::Result<core::ParsedCertificates> cas = core::parse_certificates(run.client.caPem);
  if (!cas || top.authorityKeyId.empty()) {
    return {};
  }
  std::string sameName;
  for (const core::Certificate& ca : cas->certs) {
    const core::CertInfo info = core::inspect(ca);
    if (info.subject != top.issuer || info.subjectKeyId.empty()) {
      continue;
    }
    if (info.subjectKeyId == top.authorityKeyId) {
      return {};  // a CA of the bundle is the issuer: something else failed
    }
    sameName = info.subject;
  }
  return sameName;
}

std::string verify_hint(const core::VerifyOutcome& v, const Run& run,
                        const std::vector<core::Certificate>& chain) {
  switch (v.failure) {
    case core::VerifyFailure::unknownAuthority:
    case core::VerifyFailure::selfSigned:
      if (const std::string name = same_name_other_key(chain, run); !name.empty()) {
        return "the server's certificate was issued by a CA named " + name +
               " like the kubeconfig's, but by another key (its authority key id is not the "
               "kubeconfig CA's subject key id): this kubeconfig most likely belongs to an "
               "earlier cluster at this address (re-created, e.g. kubeadm reset + init, or a "
               "new kind/minikube/k3d cluster), or the address now reaches another cluster "
               "whose CA has the same default name: get a fresh kubeconfig from the cluster "
               "(kubeadm: /etc/kubernetes/admin.conf); if the CA was rotated on purpose, update "
               "certificate-authority-data to the new CA";
      }
      return run.client.caPem.empty()
                 ? "the kubeconfig has no CA: set certificate-authority-data to the cluster CA"
                 : "the certificate is not signed by the kubeconfig's CA: update "
                   "certificate-authority-data (kubectl config view --raw) to the CA that "
                   "signed the server's certificate, or check you reach the right server";
    default:
      return "the serving certificate does not verify: compare it with the cluster CA "
             "(openssl verify -CAfile ca.crt)";
  }
}

// Asks the server for its Date without credentials, on a connection that does not verify: an
// anonymous GET carries nothing secret. Only when verification failed on a date.
void ask_server_clock(Run& run) {
  core::HttpRequest r = request_to(run, "/version");
  r.caPem.clear();
  r.insecure = true;
  r.timeout = std::min(run.options.timeout, std::chrono::milliseconds(3000));
  const core::HttpResult answer = run.options.deps.http()->send(r);
  if (answer) {
    note_server_clock(run, *answer);
  } else {
    run.log("no Date from the server: " + answer.error().message);
  }
}

bool is_date(core::VerifyFailure f) {
  return f == core::VerifyFailure::expired || f == core::VerifyFailure::notYetValid;
}

// The chain failed on a date (perhaps among other problems): the window every certificate with
// a date problem holds in, the fix when the clock is right, and the fix of any other problem
// (which a clock would not explain).
void add_validity_failure(Run& run, Check verify, const core::TlsProbe& probe) {
  const core::VerifyOutcome& v = probe.verify;
  // The chain as the verifier built it (the root may come from the kubeconfig's CA), else as
  // served; the reason already names a certificate other than the leaf.
  const std::vector<core::Certificate>& chain =
      v.verifiedChain.empty() ? probe.chain : v.verifiedChain;
  TimedVerdict verdict;
  verdict.statusIfClock = verify.status;  // kubectl refuses the chain whatever the cause
  bool leafOnly = true;
  bool known = true;  // every dated certificate found, so the window is complete
  for (const core::VerifyProblem& problem : v.problems) {
    if (!is_date(problem.failure)) {
      if (verdict.besides.empty()) {
        core::VerifyOutcome other = v;
        other.failure = problem.failure;
        verdict.besides = verify_hint(other, run, probe.chain);
      }
      continue;
    }
    const auto at = static_cast<std::size_t>(std::max(problem.depth, 0));
    leafOnly = leafOnly && at == 0;
    if (at >= chain.size()) {
      known = false;
      continue;
    }
    const core::CertInfo cert = core::inspect(chain[at]);
    verdict.notBefore =
        std::max(verdict.notBefore.value_or(cert.notBeforeUnix), cert.notBeforeUnix);
    verdict.notAfter = std::min(verdict.notAfter.value_or(cert.notAfterUnix), cert.notAfterUnix);
  }
  if (!known) {
    verdict.notBefore.reset();
    verdict.notAfter.reset();
  }
  if (v.failure == core::VerifyFailure::expired) {
    verdict.fix = leafOnly ? "renew the serving certificate (kubeadm certs renew apiserver) and "
                             "restart kube-apiserver"
                           : "a CA certificate of the chain expired (named above): renew that "
                             "CA, re-issue what it signed and update certificate-authority-data, "
                             "or serve a current intermediate";
  } else {
    verdict.fix =
        "the certificate was issued with a notBefore in the future (the issuing machine's "
        "clock was ahead): re-issue it, or wait until it is valid";
  }
  if (!run.client.insecure) {
    ask_server_clock(run);
  }
  add_timed(run, std::move(verify), std::move(verdict));
}

}  // namespace

bool tls_layer(Run& run, int fd) {
  core::TlsProbeOptions opts;
  opts.serverName = run.nameHost;
  opts.caPem = run.client.caPem;
  opts.timeout = run.options.timeout;
  auto probe = run.options.deps.tls(fd, opts);
  const std::string endpoint = run.timing.endpoint;
  if (!probe) {
    const core::TlsError& e = probe.error();
    std::string hint = "the TLS handshake failed: check that " + endpoint +
                       " is kube-apiserver's TLS port (not a plain-HTTP port, not another "
                       "service)";
    if (e.kind == core::TlsFailure::timeout) {
      hint =
          "the server accepted TCP but never completed TLS: a stalled server or a middlebox "
          "(check the load balancer and kube-apiserver load)";
    }
    Check check =
        make_check("tls.handshake", Layer::tls, CheckStatus::fail, e.message, hint, endpoint);
    check.durationMs = e.ms;
    run.add(std::move(check));
    run.skip_after(Layer::tls, "the TLS handshake failed");
    return false;
  }
  run.tls = *probe;
  run.timing.tlsMs = probe->handshakeMs;
  run.log("TLS handshake " + endpoint + " " + probe->version + " ALPN " +
          (probe->alpn.empty() ? "none" : probe->alpn) + " in " + fmt_ms(probe->handshakeMs));
  Check hs = make_check("tls.handshake", Layer::tls, CheckStatus::ok,
                        probe->version + ", " + probe->cipher + ", ALPN " +
                            (probe->alpn.empty() ? "none" : probe->alpn),
                        {}, endpoint);
  hs.durationMs = probe->handshakeMs;
  hs.details = {{"version", probe->version}, {"cipher", probe->cipher}, {"alpn", probe->alpn}};
  run.add(std::move(hs));

  nlohmann::ordered_json chain = nlohmann::ordered_json::array();
  for (const core::Certificate& cert : probe->chain) {
    const core::CertInfo info = core::inspect(cert);
    chain.push_back({{"subject", info.subject},
                     {"issuer", info.issuer},
                     {"notBefore", info.notBefore},
                     {"notAfter", info.notAfter},
                     {"dnsNames", info.dnsNames},
                     {"ipAddresses", info.ipAddresses}});
  }
  const bool insecure = run.client.insecure;
  const core::VerifyOutcome& v = probe->verify;
  Check verify = make_check("tls.verify", Layer::tls, CheckStatus::ok, {}, {}, endpoint);
  verify.details = {{"chain", chain}};
  if (v.ok) {
    verify.message =
        "chain verifies against " +
        std::string(run.client.caPem.empty() ? "the system roots" : "the kubeconfig CA");
  } else {
    verify.status = insecure ? CheckStatus::warn : CheckStatus::fail;
    verify.message =
        v.reason +
        (v.depth > 0 ? " (certificate " + std::to_string(v.depth) + " of the chain)" : "");
    verify.details["opensslCode"] = v.opensslCode;
  }
  if (is_date(v.failure)) {
    add_validity_failure(run, std::move(verify), *probe);
  } else {
    if (!v.ok) {
      verify.hint = verify_hint(v, run, probe->chain);
    }
    run.add(std::move(verify));
  }

  Check name = make_check("tls.name", Layer::tls, CheckStatus::ok, {}, {}, endpoint);
  if (probe->nameMatches) {
    name.message = "certificate names " + probe->nameChecked;
  } else {
    name.status = insecure ? CheckStatus::warn : CheckStatus::fail;
    name.message = probe->nameMismatch;
    const bool ip = core::is_ip_literal(probe->nameChecked);
    name.hint = "add \"" + probe->nameChecked +
                "\" to the API server certificate's SANs (kubeadm: apiServer.certSANs in the "
                "ClusterConfiguration, then kubeadm init phase certs apiserver) " +
                (ip ? "or connect with a name the certificate carries"
                    : "or set tls-server-name in the kubeconfig to a name it carries");
  }
  run.add(std::move(name));

  if (!probe->chain.empty()) {
    const core::CertInfo leaf = core::inspect(probe->chain.front());
    const std::int64_t left = leaf.notAfterUnix - run.options.deps.now();
    if (left > 0 && left < kWarnDays * 86400 && v.ok) {
      run.add(make_check(
          "tls.validity", Layer::tls, CheckStatus::warn,
          "serving certificate expires in " + days_text(left) + " (" + leaf.notAfter + ")",
          "renew it before it expires: kubeadm certs renew apiserver, then restart "
          "kube-apiserver",
          endpoint));
    }
  }
  if (probe->clientCertRequested) {
    std::string message = "the server accepts client certificates";
    if (!probe->acceptableClientCaNames.empty()) {
      message += " from " + join(probe->acceptableClientCaNames);
    }
    Check ca = make_check("tls.client-auth", Layer::tls, CheckStatus::ok, message, {}, endpoint);
    if (run.clientCert && !probe->acceptableClientCaNames.empty() &&
        std::find(probe->acceptableClientCaNames.begin(), probe->acceptableClientCaNames.end(),
                  run.clientCert->issuer) == probe->acceptableClientCaNames.end()) {
      ca.status = CheckStatus::warn;
      ca.message += "; the kubeconfig's client certificate is issued by " + run.clientCert->issuer;
      ca.hint =
          "the client certificate comes from another CA than the server's --client-ca-file:"
          " it will be rejected (401)";
    }
    run.add(std::move(ca));
  }
  const bool trusted = v.ok && probe->nameMatches;
  if (!trusted && !insecure) {
    run.skip_after(Layer::tls,
                   "the server failed TLS verification, so no request (and no credential) is "
                   "sent to it");
    return false;
  }
  return true;
}

}  // namespace kp::apicheck::detail
