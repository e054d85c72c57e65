// Test support: certificates and keys made in memory with OpenSSL at test time (CAs,
// intermediates, leaves with chosen keys, SANs, validity and digests), so no test depends on
// fixture files that expire.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/net/x509.h"

namespace kp::testcerts {

enum class KeyKind { rsa2048, ecdsaP256, ed25519 };

// A fresh key (RSA-2048 takes a moment; prefer shared_key()).
core::PrivateKey make_key(KeyKind kind);
// One key per kind for the whole run, for tests that do not care which key they get.
core::PrivateKey shared_key(KeyKind kind);

std::int64_t now_unix();
inline constexpr std::int64_t kDay = 86400;
// A fixed clock for tests whose certificates are dated from it: Thu Nov 26 2026 06:50:00 UTC.
inline constexpr std::int64_t kNow = 1795675800;

struct CertSpec {
  std::string commonName = "test";
  std::vector<std::string> organizations;  // subject O, before CN
  std::vector<std::string> dnsNames;       // SANs
  std::vector<std::string> ipAddresses;
  std::vector<std::string> uris;
  std::vector<std::string> emails;
  bool isCA = false;
  int pathLen = -1;
  bool basicConstraints = true;          // false: no basicConstraints extension at all
  std::vector<std::string> extKeyUsage;  // OpenSSL names: "serverAuth", "clientAuth"
  std::string keyUsage;                  // "" = a sensible default for CA or leaf
  std::int64_t notBefore = 0;            // 0 = now - 1 hour
  std::int64_t notAfter = 0;             // 0 = now + 365 days
  std::uint64_t serial = 0;              // 0 = random
  std::string digest = "SHA256";         // "SHA1" for a legacy signature; unused for Ed25519
  KeyKind keyKind = KeyKind::ecdsaP256;
  core::PrivateKey key;  // use this key instead of shared_key(keyKind)
};

struct Issued {
  core::Certificate cert;
  core::PrivateKey key;
  std::string certPem() const { return cert.pem(); }
};

// Signs with `issuer`'s key, or self-signed when `issuer` is null.
Issued issue(const CertSpec& spec, const Issued* issuer = nullptr);

std::string key_pem_pkcs8(const core::PrivateKey& key);        // "PRIVATE KEY"
std::string key_pem_traditional(const core::PrivateKey& key);  // "RSA/EC PRIVATE KEY"
std::string key_pem_encrypted_pkcs8(const core::PrivateKey& key);
std::string key_pem_encrypted_traditional(const core::PrivateKey& key);  // Proc-Type header
std::string key_der(const core::PrivateKey& key);                        // PKCS#8 DER
// "PUBLIC KEY" (SubjectPublicKeyInfo), or "RSA PUBLIC KEY" (PKCS#1) when `pkcs1`.
std::string public_key_pem(const core::PrivateKey& key, bool pkcs1);

// sha256 of `bytes`, lowercase hex, computed independently of core::inspect.
std::string sha256_hex(const std::string& bytes);

}  // namespace kp::testcerts
