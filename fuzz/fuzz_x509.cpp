// libFuzzer target: certificate and key bytes as kubeconfigs, Secrets, PKI files and TLS peers
// deliver them (core/x509.h): PEM bundles or DER, every certificate inspected, matched against
// host names, chained and verified; private and public keys parsed, inspected and paired.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/net/x509.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace core = kp::core;
  const std::string_view bytes = kp::fuzz::as_text(data, size);
  const auto key = core::parse_private_key(bytes);
  if (key) {
    const core::KeyInfo info = core::inspect_key(*key);
    KP_FUZZ_ASSERT(info.publicKeySha256 == core::public_key_sha256(*key));
  }
  const auto publicKey = core::parse_public_key(bytes);
  const auto parsed = core::parse_certificates(bytes);
  if (!parsed) {
    return 0;
  }
  const std::vector<core::Certificate>& certs = parsed->certs;
  for (std::size_t i = 0; i < certs.size(); ++i) {
    const core::Certificate& cert = certs[i];
    const core::CertInfo info = core::inspect(cert);
    KP_FUZZ_ASSERT(info.sha256Fingerprint.size() == 64);
    for (const std::string_view host :
         {"kubernetes.default.svc", "10.96.0.1", "::1", "*.example.test", ""}) {
      if (!core::certificate_matches_host(cert, host)) {
        (void)core::host_mismatch_message(cert, host);
      }
    }
    if (!info.dnsNames.empty()) {
      (void)core::certificate_matches_host(cert, info.dnsNames.front());
    }
    // The pairing that reads RSA and EC keys' own fields answers as OpenSSL does.
    const auto pairing = core::pair_private_key(cert, bytes);
    KP_FUZZ_ASSERT(static_cast<bool>(pairing) == static_cast<bool>(key));
    if (key) {
      KP_FUZZ_ASSERT(pairing->matches == core::key_matches(cert, *key));
    }
    if (publicKey) {
      (void)core::key_matches(cert, *publicKey);
    }
    if (i + 1 < certs.size()) {
      (void)core::issued_by(cert, certs[i + 1]);
    }
    // Round trips: what was parsed prints back as one certificate.
    const auto again = core::parse_certificates(cert.pem());
    KP_FUZZ_ASSERT(again && again->certs.size() == 1 && again->certs.front() == cert);
  }
  if (!certs.empty() && certs.size() <= 8) {
    const std::vector<core::Certificate> rest(certs.begin() + 1, certs.end());
    for (const std::string_view purpose : {"", "serverAuth", "clientAuth"}) {
      const core::VerifyOutcome outcome =
          core::verify_chain(certs.front(), rest, {certs.back()}, 1795000000, purpose);
      KP_FUZZ_ASSERT(outcome.ok == outcome.problems.empty());
    }
  }
  return 0;
}
