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

// What a failed verification means and its fix. An unknown authority is told apart by the
// served chain and the kubeconfig's CA bundle (core::diagnose_issuer): an incomplete chain, a
// CA of the same name with another key, another cluster's CA, or both when nothing tells.
core::IssuerExplanation explain_verify(const core::VerifyOutcome& v, const Run& run,
                                       const core::TlsProbe& probe) {
  switch (v.failure) {
    case core::VerifyFailure::unknownAuthority:
    case core::VerifyFailure::selfSigned: {
      if (run.client.caPem.empty()) {
        return {{}, "the kubeconfig has no CA: set certificate-authority-data to the cluster CA"};
      }
      core::Result<core::ParsedCertificates> bundle = core::parse_certificates(run.client.caPem);
      core::IssuerExplanation e = core::explain_issuer(
          core::diagnose_issuer(probe.chain,
                                bundle ? bundle->certs : std::vector<core::Certificate>{},
                                probe.acceptableClientCaNames),
          "certificate-authority-data");
      if (e.fix.empty()) {
        e.fix =
            "the certificate is not signed by the kubeconfig's CA: update "
            "certificate-authority-data (kubectl config view --raw) to the CA that signed the "
            "server's certificate, or check you reach the right server";
      }
      return e;
    }
    default:
      return {{},
              "the serving certificate does not verify: compare it with the cluster CA "
              "(openssl verify -CAfile ca.crt)"};
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
        verdict.besides = explain_verify(other, run, probe).fix;
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

// The handshake stalled: once more on a new connection whose SYN asks for segments of
// core::kMinimumMss bytes. If that completes, the server did answer and full-size packets were
// lost on the way: a path-MTU blackhole (tcp.path-mtu fails), and up to two more tries between
// that size and a full Ethernet segment bound the size the path carries. Everything within
// kMtuRetry (or --timeout if shorter); a search try gets at most kMtuProbe.
constexpr std::chrono::milliseconds kMtuRetry{3000};
constexpr std::chrono::milliseconds kMtuProbe{1000};
constexpr int kFullMss = 1460;  // a 1500-byte Ethernet MTU
constexpr int kIpTcpHeaders = 40;

enum class MtuRetry { completed, stalledToo, inconclusive };

// One handshake on a connection asking for `mss`-byte segments, within `budget`.
MtuRetry clamped_handshake(Run& run, int mss, std::chrono::milliseconds budget, double& ms) {
  const auto start = std::chrono::steady_clock::now();
  auto conn = run.options.deps.net->connect_clamped(run.connectedAddress, run.port, budget, mss);
  if (!conn) {
    run.log("path-MTU try with " + std::to_string(mss) + "-byte segments: " + conn.error().message);
    return MtuRetry::inconclusive;
  }
  auto probe = handshake(run, conn->fd.get(),
                         std::max(std::chrono::milliseconds(1),
                                  budget - std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - start)));
  if (!probe) {
    run.log("path-MTU try with " + std::to_string(mss) +
            "-byte segments: " + probe.error().message);
    return probe.error().kind == core::TlsFailure::timeout ? MtuRetry::stalledToo
                                                           : MtuRetry::inconclusive;
  }
  ms = probe->handshakeMs;
  return MtuRetry::completed;
}

MtuRetry path_mtu_retry(Run& run) {
  const auto budget = std::min(run.options.timeout, kMtuRetry);
  const auto start = std::chrono::steady_clock::now();
  const auto left = [&] {
    return budget - std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start);
  };
  double ms = 0;
  const MtuRetry first = clamped_handshake(run, core::kMinimumMss, budget, ms);
  if (first != MtuRetry::completed) {
    return first;
  }
  const double smallMs = ms;
  int passes = core::kMinimumMss;  // the largest segment size that completed
  int lost = 0;                    // the smallest that stalled (0: none tried)
  for (int upper = kFullMss, i = 0; i < 2 && left() > std::chrono::milliseconds(200); ++i) {
    const int mss = (passes + upper) / 2;
    const MtuRetry r = clamped_handshake(run, mss, std::min(left(), kMtuProbe), ms);
    if (r == MtuRetry::inconclusive) {
      break;
    }
    (r == MtuRetry::completed ? passes : upper) = mss;
    if (r == MtuRetry::stalledToo) {
      lost = mss;
    }
  }
  const int carried = passes + kIpTcpHeaders;
  const std::string size =
      lost == 0 ? "it carries packets of at least " + std::to_string(carried) + " bytes"
                : "it carries packets of " + std::to_string(carried) + " bytes, not of " +
                      std::to_string(lost + kIpTcpHeaders);
  Check mtu = make_check(
      "tcp.path-mtu", Layer::tcp, CheckStatus::fail,
      "the TLS handshake stalled with full-size packets but completed in " + fmt_ms(smallMs) +
          " when the server was asked for " + std::to_string(core::kMinimumMss) +
          "-byte segments: the server answers, and packets larger than the path carries (" + size +
          ") are dropped between here and " + run.timing.endpoint +
          " with no ICMP \"fragmentation needed\" coming back (a path-MTU blackhole)",
      "clamp the TCP MSS on the VPN or tunnel on the way (iptables -t mangle -A FORWARD -p tcp "
      "--tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu), or lower this machine's interface "
      "MTU to " +
          std::to_string(carried) + " (ip link set dev IFACE mtu " + std::to_string(carried) +
          "), or let ICMP type 3 code 4 through the firewalls on the path",
      run.timing.endpoint);
  mtu.details = {{"mssThatWorked", passes}, {"packetBytesThatPass", carried}};
  if (lost != 0) {
    mtu.details["packetBytesLost"] = lost + kIpTcpHeaders;
  }
  run.add(std::move(mtu));
  return MtuRetry::completed;
}

}  // namespace

bool tls_layer(Run& run, int fd) {
  auto probe = handshake(run, fd, run.options.timeout);
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
      switch (run.connectedAddress.empty() ? MtuRetry::inconclusive : path_mtu_retry(run)) {
        case MtuRetry::completed:
          hint = "the server did answer: its packets were lost on the way (see tcp.path-mtu)";
          break;
        case MtuRetry::stalledToo:
          hint += "; not the path MTU: it stalled with " + std::to_string(core::kMinimumMss) +
                  "-byte segments too";
          break;
        case MtuRetry::inconclusive:
          break;
      }
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
    verify.message = "chain verifies against " +
                     (run.client.caPem.empty() ? "the system roots" + core::system_roots_note()
                                               : std::string("the kubeconfig CA"));
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
      const core::IssuerExplanation e = explain_verify(v, run, *probe);
      if (!e.cause.empty()) {
        verify.message += ": " + e.cause;
      }
      verify.hint = e.fix;
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
