// Why a served chain reached no trusted CA: the path the served certificates make from the
// leaf, where it stops, what the bundle holds of the missing issuer's name, and whether the
// server itself names the bundle's CA as its own (for client certificates). Certificates only,
// no network: apicheck's tls.verify and `certs server` explain an unknown authority with it.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/x509.h"
#include "core/util/text.h"

namespace kp::core {

namespace {

bool same_certificate(const CertInfo& a, const CertInfo& b) {
  return a.sha256Fingerprint == b.sha256Fingerprint;
}

// "the kubeconfig's CA (CN=kubernetes)", or the bundle's name alone when it is empty.
std::string bundle_holding(std::string_view bundleName, const std::vector<std::string>& bundle) {
  return bundle.empty() ? std::string(bundleName)
                        : std::string(bundleName) + " (it holds " + join(bundle, "; ") + ")";
}

}  // namespace

IssuerDiagnosis diagnose_issuer(const std::vector<Certificate>& served,
                                const std::vector<Certificate>& bundle,
                                const std::vector<std::string>& clientCaNames) {
  IssuerDiagnosis d;
  std::vector<CertInfo> cas;
  for (const Certificate& ca : bundle) {
    cas.push_back(inspect(ca));
    d.bundle.push_back(cas.back().subject);
  }
  if (served.empty()) {
    return d;
  }
  // The path from the leaf through the served certificates (in any order, each used once),
  // stopping at a self-signed one or where no served certificate is the issuer.
  std::vector<CertInfo> infos;
  for (const Certificate& cert : served) {
    infos.push_back(inspect(cert));
  }
  std::vector<bool> onPath(served.size(), false);
  onPath[0] = true;
  std::size_t top = 0;
  d.pathLength = 1;
  for (;;) {
    for (std::size_t i = 0; i < bundle.size(); ++i) {
      if (same_certificate(infos[top], cas[i]) || issued_by(served[top], bundle[i])) {
        return d;  // the chain reaches the bundle: what failed is not the issuer
      }
    }
    if (infos[top].selfSigned) {
      break;
    }
    std::size_t next = served.size();
    for (std::size_t i = 0; i < served.size() && next == served.size(); ++i) {
      if (!onPath[i] && issued_by(served[top], served[i])) {
        next = i;
      }
    }
    if (next == served.size()) {
      break;
    }
    onPath[next] = true;
    top = next;
    ++d.pathLength;
  }
  for (std::size_t i = 0; i < served.size(); ++i) {
    if (!onPath[i]) {
      d.unused.push_back(infos[i].subject);
    }
  }
  const CertInfo& end = infos[top];
  d.top = end.subject;
  if (end.selfSigned) {
    d.gap = IssuerGap::ownRoot;
    d.issuer = end.subject;
    return d;
  }
  d.issuer = end.issuer;
  d.issuerKeyId = end.authorityKeyId;
  const bool sameName = std::any_of(cas.begin(), cas.end(),
                                    [&](const CertInfo& ca) { return ca.subject == end.issuer; });
  // A CA of the issuer's name that did not sign (issued_by failed above) has another key.
  d.gap = sameName ? IssuerGap::sameNameOtherKey : IssuerGap::missingIssuer;
  d.serverTrustsBundle = std::any_of(d.bundle.begin(), d.bundle.end(), [&](const auto& name) {
    return std::find(clientCaNames.begin(), clientCaNames.end(), name) != clientCaNames.end();
  });
  return d;
}

IssuerExplanation explain_issuer(const IssuerDiagnosis& d, std::string_view bundleName) {
  const std::string bundle(bundleName);
  const std::string fixCa = "set " + bundle +
                            " to the CA that signed the server's certificate, or check you "
                            "reach the right server";
  IssuerExplanation e;
  switch (d.gap) {
    case IssuerGap::none:
      return e;
    case IssuerGap::ownRoot:
      e.cause = (d.pathLength == 1 ? "the server's certificate is self-signed (" + d.top + ")"
                                   : "the server's chain ends at its own root CA " + d.top) +
                ", which is not in " + bundle_holding(bundle, d.bundle);
      e.fix = fixCa;
      return e;
    case IssuerGap::sameNameOtherKey:
      e.cause = "the server's certificate was issued by a CA named " + d.issuer + " like " +
                bundle + "'s, but by another key (authority key id " +
                (d.issuerKeyId.empty() ? std::string("absent") : d.issuerKeyId) +
                " is not the subject key id of the CA of that name)";
      e.fix =
          "this kubeconfig most likely belongs to an earlier cluster at this address "
          "(re-created, e.g. kubeadm reset + init, or a new kind/minikube/k3d cluster), or the "
          "address now reaches another cluster whose CA has the same default name: get a "
          "fresh kubeconfig from the cluster (kubeadm: /etc/kubernetes/admin.conf); if the CA "
          "was rotated on purpose, set " +
          bundle + " to the new CA";
      return e;
    case IssuerGap::missingIssuer:
      break;
  }
  e.cause = (d.pathLength == 1 ? std::string("the server sent only its own certificate")
                               : "the server sent a chain up to " + d.top) +
            ", issued by " + d.issuer +
            (d.issuerKeyId.empty() ? std::string() : " (authority key id " + d.issuerKeyId + ")") +
            ", a CA that is neither sent nor in " + bundle_holding(bundle, d.bundle);
  if (!d.unused.empty()) {
    e.cause += "; the server also sent " + join(d.unused, "; ") + ", which did not issue it";
  }
  const std::string serveFull =
      "serve the full chain: the serving certificate file "
      "(kube-apiserver --tls-cert-file) holds the certificate, then "
      "the intermediate " +
      d.issuer + "; or add that intermediate to " + bundle;
  if (d.serverTrustsBundle) {
    e.cause +=
        "; the server accepts client certificates from that CA, so it is the cluster's "
        "own and the served chain is incomplete";
    e.fix = serveFull + ". Do not replace the CA: it is the right one";
    return e;
  }
  e.fix = "two causes fit: (1) the served chain is incomplete: " + serveFull + "; (2) " + bundle +
          " is another cluster's CA: " + fixCa + ". It is (1) if " + d.issuer +
          " was issued by that CA (openssl verify -partial_chain -CAfile ca.crt intermediate.crt "
          "on the cluster's files)";
  return e;
}

}  // namespace kp::core
