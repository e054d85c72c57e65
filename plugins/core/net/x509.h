// X.509 certificates and private keys: parsing (PEM bundles, DER), inspection, key pairing,
// host-name matching as Go does it, and chain verification that explains its failures.
// Shared by apicheck (the TLS layer) and certs (files, PKI directories, secrets, live chains).
// OpenSSL stays out of this header: callers see value types and strings, not C handles.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/result.h"

// OpenSSL's own struct tags (X509 and EVP_PKEY are typedefs of these), so the header does not
// have to include <openssl/x509.h>.
struct x509_st;
struct evp_pkey_st;
struct x509_store_st;

namespace kp::core {

// Adds the roots this OS trusts by default to an OpenSSL store (used when a kubeconfig names no
// CA): OpenSSL's default paths (the distribution's bundle); on Windows the ROOT system store
// (CertOpenSystemStore), as Go's crypto/x509, and so kubectl, uses there.
void add_system_roots(x509_store_st* store);

// Shared ownership of an OpenSSL object that counts its references (X509, EVP_PKEY): copies
// are cheap and point at the same object. A default-constructed handle is empty (operator bool
// is false); every function below that takes one expects a non-empty one.
template <class Self, class T>
class SharedHandle {
 public:
  // Takes over one reference the caller owns (e.g. from d2i_X509 or X509_new).
  static Self adopt(T* handle);
  // Adds a reference to an object someone else owns (e.g. from SSL_get_peer_cert_chain).
  static Self share(T* handle);

  explicit operator bool() const noexcept { return handle_ != nullptr; }
  const T* get() const noexcept { return handle_.get(); }
  // For the few OpenSSL 3.0 calls that take a non-const pointer without modifying the object
  // (X509_STORE_CTX_init, sk_X509_push); never use it to change the object.
  T* native() const noexcept { return handle_.get(); }

 private:
  std::shared_ptr<T> handle_;
};

// A certificate.
class Certificate : public SharedHandle<Certificate, x509_st> {
 public:
  std::string pem() const;  // one "CERTIFICATE" block, newline-terminated
  std::string der() const;

  // Same DER encoding.
  friend bool operator==(const Certificate& a, const Certificate& b);
};

// A private key, or only a public key. Deliberately has no pem()/der(): key material never
// leaves through this type by accident.
class PrivateKey : public SharedHandle<PrivateKey, evp_pkey_st> {};

struct CertInfo {
  int version = 0;         // 1, 2 or 3 as written in certificates, not the 0-based field
  std::string subject;     // RFC 2253 one-line ("CN=kube-apiserver"), UTF-8 printed as is
  std::string issuer;      // same format
  std::string commonName;  // the last CN of the subject, as Go reads it; "" if none
  std::vector<std::string> organizations;  // subject O values: a Kubernetes client's groups
  std::string serial;     // lowercase hex, whole bytes ("0a1b"), "-" prefix if negative
  std::string notBefore;  // RFC 3339 UTC, "2026-11-23T10:00:00Z"
  std::string notAfter;
  std::int64_t notBeforeUnix = 0, notAfterUnix = 0;
  std::vector<std::string> dnsNames, ipAddresses, uris, emails;  // SANs
  bool hasSanExtension = false;          // even if empty; Go's legacy-CN message depends on it
  std::vector<std::string> keyUsage;     // RFC 5280 names: "digitalSignature", "keyCertSign", ...
  std::vector<std::string> extKeyUsage;  // "serverAuth", "clientAuth", ...; dotted OID if unknown
  bool isCA = false;                     // basicConstraints cA=TRUE (not OpenSSL's v1 guess)
  int pathLen = -1;                      // basicConstraints pathLenConstraint, -1 if absent
  std::string keyType;  // "RSA", "RSA-PSS", "ECDSA", "Ed25519", "Ed448", "DSA", other names
  int keyBits = 0;
  std::string curve;  // "P-256" etc. for ECDSA (OpenSSL's group name for non-NIST curves)
  std::string signatureAlgorithm;  // "sha256WithRSAEncryption", "ecdsa-with-SHA256", "ED25519"
  std::string signatureHash;       // "SHA256", "SHA1", ...; "" when the algorithm has none
  std::string sha256Fingerprint;   // lowercase hex, no colons
  // sha256 of the certificate's DER SubjectPublicKeyInfo: pairs certificates with keys, and is
  // kubeadm's --discovery-token-ca-cert-hash (with a "sha256:" prefix) for a CA.
  std::string publicKeySha256;
  std::string authorityKeyId, subjectKeyId;  // lowercase hex, "" if absent
  bool selfSigned = false;  // issuer == subject and the signature verifies with its own key
};
CertInfo inspect(const Certificate& cert);

// What a private key is, for reports that pair keys with certificates.
struct KeyInfo {
  std::string keyType;  // as CertInfo::keyType
  int keyBits = 0;
  std::string curve;
  std::string publicKeySha256;  // as CertInfo::publicKeySha256
};
KeyInfo inspect_key(const PrivateKey& key);

// Certificates in `bytes`: one or more PEM "CERTIFICATE" blocks (also "X509 CERTIFICATE" and
// "TRUSTED CERTIFICATE"), with text between blocks ignored and other PEM blocks skipped (noted
// in `skipped` as "PEM block 2: RSA PRIVATE KEY"), or a single DER certificate.
// Errors say what the bytes were instead: "empty", "a PEM RSA PRIVATE KEY block, not a
// certificate", "PEM blocks EC PARAMETERS, EC PRIVATE KEY, not a certificate", "not PEM or DER
// (starts with \"hello\")", "truncated PEM block CERTIFICATE", "invalid certificate in PEM block
// 2: <reason>", "invalid DER certificate: <reason>", "a DER private key, not a certificate",
// "base64-encoded PEM, not PEM (decode it first)" (a Secret's data copied undecoded). The
// quoted prefix is at most 12 bytes of the first line: a mistaken input may be a token.
// A truncated or invalid certificate block is an error even when other blocks parse: a bundle
// that silently loses a CA hides the problem. The message names no file; the caller prefixes it.
struct ParsedCertificates {
  std::vector<Certificate> certs;
  std::vector<std::string> skipped;
};
Result<ParsedCertificates> parse_certificates(std::string_view bytes);

// The first private key in `bytes`: PEM ("PRIVATE KEY" PKCS#8, "RSA PRIVATE KEY" PKCS#1,
// "EC PRIVATE KEY" SEC1; certificates and EC PARAMETERS around it are fine) or DER.
// Errors never quote the bytes: "empty", "a PEM CERTIFICATE block, not a private key",
// "encrypted private key in PEM block 1 (passphrases are not supported)", "invalid private key
// in PEM block 1: <reason>", "truncated PEM block PRIVATE KEY", "OpenSSH private key in PEM
// block 1 (...)", "a DER certificate, not a private key", "invalid DER private key: <reason>",
// "not PEM or DER". Several keys: the first wins, as in Go's tls.X509KeyPair.
Result<PrivateKey> parse_private_key(std::string_view bytes);

// A public key alone, e.g. kubeadm's sa.pub: PEM "PUBLIC KEY" (SubjectPublicKeyInfo) or
// "RSA PUBLIC KEY" (PKCS#1), or DER SubjectPublicKeyInfo. The result holds no private half; use
// it with public_key_sha256() to pair it with sa.key. Errors as parse_private_key's.
Result<PrivateKey> parse_public_key(std::string_view bytes);

// sha256 of the key's DER SubjectPublicKeyInfo, comparable with CertInfo::publicKeySha256
// (except for the rare certificate that stores a compressed EC point; key_matches() does not
// have that limitation).
std::string public_key_sha256(const PrivateKey& key);
// The certificate's public key is the public half of `key`.
bool key_matches(const Certificate& cert, const PrivateKey& key);

// parse_private_key(keyBytes), then key_matches(cert, key): the same errors and the same answer,
// without OpenSSL 3.0's costly per-key decoder set-up for the keys clusters hold. For RSA
// (PKCS#1, PKCS#8) and EC (SEC1, PKCS#8, with the public point written in the key, as OpenSSL,
// Go and cert-manager write it) the public half is read from the key's own fields and compared
// with the certificate's SubjectPublicKeyInfo. Other key types, unusual encodings and keys that
// do not match this way are read by OpenSSL (decodedByOpenssl), whose errors and EVP_PKEY_eq
// decide, so a mismatch or a broken key is always OpenSSL's verdict.
struct KeyPairing {
  bool matches = false;
  bool decodedByOpenssl = false;
};
Result<KeyPairing> pair_private_key(const Certificate& cert, std::string_view keyBytes);

// `cert` names `issuer` as its issuer and its signature verifies with the issuer's key.
bool issued_by(const Certificate& cert, const Certificate& issuer);

// Does the certificate name `host`? DNS names match SAN dNSNames case-insensitively with a
// left-most "*" label wildcard (RFC 6125, exactly Go's crypto/x509 rules); an IP literal (also
// "[::1]") matches IP SANs only. The subject CN is never used, like Go >= 1.15.
bool certificate_matches_host(const Certificate& cert, std::string_view host);
// Go's explanation when it does not, without the "x509: " prefix, except that all SANs are
// listed (DNS names, then IPs) so the fix is visible in one line:
// "certificate is valid for kubernetes, kubernetes.default, 10.96.0.1, not 198.18.0.32",
// "cannot validate certificate for 198.18.0.32 because it doesn't contain any IP SANs",
// "certificate is not valid for any names, but wanted to match api.lab.test",
// "certificate relies on legacy Common Name field, use SANs instead". "" when it matches.
std::string host_mismatch_message(const Certificate& cert, std::string_view host);

enum class VerifyFailure {
  none,
  expired,
  notYetValid,
  unknownAuthority,
  selfSigned,
  badSignature,  // includes SHA-1/MD5 signatures, which Go (and so kubectl) rejects
  notCA,
  purpose,
  other
};

// One thing wrong with the chain.
struct VerifyProblem {
  VerifyFailure failure = VerifyFailure::other;
  int opensslCode = 0;  // X509_V_ERR_*
  int depth = 0;        // which certificate in the chain (0 = leaf)
  std::string reason;
};

struct VerifyOutcome {
  bool ok = false;
  // The primary problem (also problems[0]): time errors first, as Go reports them, then the
  // rest in OpenSSL's order. none when ok.
  VerifyFailure failure = VerifyFailure::none;
  int opensslCode = 0;  // X509_V_ERR_*
  int depth = 0;        // which certificate in the chain (0 = leaf)
  // X509_verify_cert_error_string + context, e.g. "certificate has expired (notAfter
  // 2026-11-23T10:00:00Z)", "unable to get local issuer certificate (issuer CN=etcd-ca)".
  std::string reason;
  std::vector<VerifyProblem> problems;  // every problem found, verification goes on past one
  // leaf..root when ok; otherwise as far as the chain could be built (may be only the leaf).
  std::vector<Certificate> verifiedChain;
};

// Verifies leaf + intermediates (any order) against `roots` at `atUnix` (0 = now) for
// `purpose` "serverAuth", "clientAuth" or "" (none), WITHOUT host-name checking (that is
// certificate_matches_host). Like Go, every root is a trust anchor even if it is not
// self-signed (OpenSSL's partial-chain mode). Empty `roots`: the system trust store.
VerifyOutcome verify_chain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                           const std::vector<Certificate>& roots, std::int64_t atUnix,
                           std::string_view purpose);

// What a message adds after "the system roots"/"the system trust store": "" on Linux (the
// distribution's bundle, as every tool there uses); on macOS, whose roots live in the keychain,
// " (/etc/ssl/cert.pem)": the PEM copy of the system roots OpenSSL reads there, or
// $SSL_CERT_FILE's file when set (keychain roots an administrator added are not in it); on
// Windows " (the Windows ROOT certificate store)".
std::string system_roots_note();

// Why a served chain reached no CA of a bundle (a verification that failed with
// unknownAuthority or selfSigned), told from the certificates alone (chain.cpp).
enum class IssuerGap {
  none,              // the chain reaches the bundle: something else failed
  ownRoot,           // the served chain ends at a self-signed CA the bundle does not hold
  sameNameOtherKey,  // the bundle holds a CA of the missing issuer's name but another key
  missingIssuer,     // nobody has the issuer: an incomplete chain, or another CA altogether
};

struct IssuerDiagnosis {
  IssuerGap gap = IssuerGap::none;
  // The certificate whose issuer is missing (the top of the served path) and that issuer:
  // ownRoot: the served root; sameNameOtherKey / missingIssuer: the issuer's name and the
  // top's authority key id (lowercase hex, "" when it has none).
  std::string top, issuer, issuerKeyId;
  std::size_t pathLength = 0;       // served certificates on the path from the leaf
  std::vector<std::string> unused;  // served certificates off that path (a wrong intermediate)
  std::vector<std::string> bundle;  // the bundle CAs' subjects
  // missingIssuer: a bundle CA is among the CAs the server accepts for client certificates
  // (its CertificateRequest), so the bundle is this server's own CA and the served chain is
  // what lacks the intermediate; otherwise both causes fit.
  bool serverTrustsBundle = false;
};

// `served` as the server sent it (leaf first), `bundle` the trusted CAs, `clientCaNames` the
// server's acceptable client CA names (TlsProbe::acceptableClientCaNames; may be empty).
IssuerDiagnosis diagnose_issuer(const std::vector<Certificate>& served,
                                const std::vector<Certificate>& bundle,
                                const std::vector<std::string>& clientCaNames);

// The cause and the fix of a diagnosis, for a check's message and hint; `bundleName` says
// where the bundle comes from and how it is changed ("certificate-authority-data", "--ca
// FILE"). Both empty for IssuerGap::none.
struct IssuerExplanation {
  std::string cause, fix;
};
IssuerExplanation explain_issuer(const IssuerDiagnosis& diagnosis, std::string_view bundleName);

// "2026-11-23T10:00:00Z" (UTC, second precision); clamped to years 0001..9999.
std::string rfc3339(std::int64_t unixSeconds);

}  // namespace kp::core
