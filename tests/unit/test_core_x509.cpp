#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "core/net/x509.h"
#include "core/util/base64.h"
#include "support_posix.h"
#include "test_support_certs.h"

using kp::core::Certificate;
using kp::core::certificate_matches_host;
using kp::core::host_mismatch_message;
using kp::core::inspect;
using kp::core::parse_certificates;
using kp::core::parse_private_key;
using kp::core::verify_chain;
using kp::core::VerifyFailure;
using kp::testcerts::CertSpec;
using kp::testcerts::issue;
using kp::testcerts::Issued;
using kp::testcerts::kDay;
using kp::testcerts::KeyKind;
using kp::testcerts::now_unix;

namespace {

constexpr std::int64_t k20261123 = 1795428000;  // 2026-11-23T10:00:00Z
constexpr std::int64_t k20271123 = 1826964000;  // 2027-11-23T10:00:00Z
constexpr std::int64_t k20510101 = 2556144000;  // 2051-01-01T00:00:00Z (GeneralizedTime)

// A three-level PKI shared by the tests: root CA -> intermediate CA -> leaves.
struct Pki {
  Issued root;
  Issued intermediate;
  Issued otherRoot;  // trusted by nobody in these tests
};

const Pki& pki() {
  static const Pki value = [] {
    Pki p;
    CertSpec root;
    root.commonName = "kp-test-root";
    root.organizations = {"kp-test"};
    root.isCA = true;
    root.keyKind = KeyKind::rsa2048;
    p.root = issue(root);
    CertSpec intermediate;
    intermediate.commonName = "kp-test-intermediate";
    intermediate.isCA = true;
    intermediate.pathLen = 0;
    p.intermediate = issue(intermediate, &p.root);
    CertSpec other;
    other.commonName = "someone-else-ca";
    other.isCA = true;
    p.otherRoot = issue(other);
    return p;
  }();
  return value;
}

Issued leaf_for(std::vector<std::string> dnsNames, std::vector<std::string> ips = {},
                const Issued* issuer = nullptr) {
  CertSpec spec;
  spec.commonName = "kube-apiserver";
  spec.dnsNames = std::move(dnsNames);
  spec.ipAddresses = std::move(ips);
  spec.extKeyUsage = {"serverAuth"};
  return issue(spec, issuer != nullptr ? issuer : &pki().intermediate);
}

#ifndef _WIN32  // the openssl CLI test below
std::string run_command(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 512> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
    out += buffer.data();
  }
  REQUIRE(pclose(pipe) == 0);
  return out;
}
#endif

// OpenSSL's own "TRUSTED CERTIFICATE" form (openssl x509 -trustout).
std::string trusted_pem(const Issued& issued) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_X509_AUX(bio.get(), issued.cert.native()) == 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  const std::string pem(data, static_cast<std::size_t>(size));
  REQUIRE(pem.starts_with("-----BEGIN TRUSTED CERTIFICATE-----"));
  return pem;
}

#ifndef _WIN32  // for the openssl CLI test
std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}
#endif

}  // namespace

TEST_CASE("core::rfc3339", "[x509]") {
  CHECK(kp::core::rfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(kp::core::rfc3339(k20261123) == "2026-11-23T10:00:00Z");
  CHECK(kp::core::rfc3339(4107542399) == "2100-02-28T23:59:59Z");
  CHECK(kp::core::rfc3339(-1) == "1969-12-31T23:59:59Z");
  CHECK(kp::core::rfc3339(951782400) == "2000-02-29T00:00:00Z");
  // Out of range is clamped to what a certificate can hold, never undefined.
  CHECK(kp::core::rfc3339(INT64_MAX) == "9999-12-31T23:59:59Z");
  CHECK(kp::core::rfc3339(INT64_MIN) == "0001-01-01T00:00:00Z");
}

TEST_CASE("core::inspect reads an RSA leaf with every field", "[x509]") {
  CertSpec spec;
  spec.commonName = "kube-apiserver";
  spec.organizations = {"system:masters", "kp test"};
  spec.dnsNames = {"kubernetes", "kubernetes.default", "*.lab.test"};
  spec.ipAddresses = {"10.96.0.1", "2001:db8:0:0:0:0:0:1"};
  spec.uris = {"spiffe://lab.test/apiserver"};
  spec.emails = {"ops@lab.test"};
  spec.extKeyUsage = {"serverAuth", "clientAuth"};
  spec.notBefore = k20261123;
  spec.notAfter = k20271123;
  spec.serial = 0x0123abcdULL;
  spec.keyKind = KeyKind::rsa2048;
  const Issued leaf = issue(spec, &pki().intermediate);

  const auto info = inspect(leaf.cert);
  CHECK(info.version == 3);
  CHECK(info.subject == "CN=kube-apiserver,O=kp test,O=system:masters");
  CHECK(info.issuer == "CN=kp-test-intermediate");
  CHECK(info.commonName == "kube-apiserver");
  CHECK(info.organizations == std::vector<std::string>{"system:masters", "kp test"});
  CHECK(info.serial == "0123abcd");
  CHECK(info.notBefore == "2026-11-23T10:00:00Z");
  CHECK(info.notAfter == "2027-11-23T10:00:00Z");
  CHECK(info.notBeforeUnix == k20261123);
  CHECK(info.notAfterUnix == k20271123);
  CHECK(info.dnsNames ==
        std::vector<std::string>{"kubernetes", "kubernetes.default", "*.lab.test"});
  CHECK(info.ipAddresses == std::vector<std::string>{"10.96.0.1", "2001:db8::1"});
  CHECK(info.uris == std::vector<std::string>{"spiffe://lab.test/apiserver"});
  CHECK(info.emails == std::vector<std::string>{"ops@lab.test"});
  CHECK(info.hasSanExtension);
  CHECK(info.keyUsage == std::vector<std::string>{"digitalSignature", "keyEncipherment"});
  CHECK(info.extKeyUsage == std::vector<std::string>{"serverAuth", "clientAuth"});
  CHECK_FALSE(info.isCA);
  CHECK(info.pathLen == -1);
  CHECK(info.keyType == "RSA");
  CHECK(info.keyBits == 2048);
  CHECK(info.curve == "");
  // The intermediate has an ECDSA key: the signature algorithm is the issuer's.
  CHECK(info.signatureAlgorithm == "ecdsa-with-SHA256");
  CHECK(info.signatureHash == "SHA256");
  CHECK(info.sha256Fingerprint == kp::testcerts::sha256_hex(leaf.cert.der()));
  CHECK(info.sha256Fingerprint.size() == 64);
  CHECK(info.publicKeySha256 == kp::core::public_key_sha256(leaf.key));
  CHECK(info.authorityKeyId == inspect(pki().intermediate.cert).subjectKeyId);
  CHECK(info.subjectKeyId.size() == 40);  // SHA-1 of the key, RFC 5280 method 1
  CHECK_FALSE(info.selfSigned);
}

TEST_CASE("core::inspect reads ECDSA, Ed25519 and CA certificates", "[x509]") {
  SECTION("ECDSA P-256 signed by RSA") {
    CertSpec spec;
    spec.keyKind = KeyKind::ecdsaP256;
    const auto info = inspect(issue(spec, &pki().root).cert);
    CHECK(info.keyType == "ECDSA");
    CHECK(info.keyBits == 256);
    CHECK(info.curve == "P-256");
    CHECK(info.signatureAlgorithm == "sha256WithRSAEncryption");
    CHECK(info.hasSanExtension == false);
    CHECK(info.dnsNames.empty());
  }
  SECTION("Ed25519 self-signed") {
    CertSpec spec;
    spec.commonName = "ed";
    spec.keyKind = KeyKind::ed25519;
    const auto info = inspect(issue(spec).cert);
    CHECK(info.keyType == "Ed25519");
    CHECK(info.keyBits == 256);
    CHECK(info.curve == "");
    CHECK(info.signatureAlgorithm == "ED25519");
    CHECK(info.signatureHash == "");
    CHECK(info.selfSigned);
  }
  SECTION("a root CA") {
    const auto info = inspect(pki().root.cert);
    CHECK(info.isCA);
    CHECK(info.pathLen == -1);
    CHECK(info.selfSigned);
    CHECK(info.subject == "CN=kp-test-root,O=kp-test");
    CHECK(info.subject == info.issuer);
    CHECK(info.keyUsage == std::vector<std::string>{"digitalSignature", "keyCertSign", "cRLSign"});
    CHECK(info.authorityKeyId == "");
    CHECK(info.subjectKeyId.size() == 40);
  }
  SECTION("an intermediate CA with a path length") {
    const auto info = inspect(pki().intermediate.cert);
    CHECK(info.isCA);
    CHECK(info.pathLen == 0);
    CHECK_FALSE(info.selfSigned);
    CHECK(info.authorityKeyId == inspect(pki().root.cert).subjectKeyId);
  }
  SECTION("a GeneralizedTime notAfter beyond 2049") {
    CertSpec spec;
    spec.notAfter = k20510101;
    const auto info = inspect(issue(spec).cert);
    CHECK(info.notAfter == "2051-01-01T00:00:00Z");
    CHECK(info.notAfterUnix == k20510101);
  }
  SECTION("UTF-8 names are printed as UTF-8, special characters escaped as RFC 2253 says") {
    CertSpec spec;
    spec.commonName = "caf\xc3\xa9";
    spec.organizations = {"a, b+c"};
    const auto info = inspect(issue(spec).cert);
    CHECK(info.commonName == "caf\xc3\xa9");
    CHECK(info.subject == "CN=caf\xc3\xa9,O=a\\, b\\+c");
    CHECK(info.organizations == std::vector<std::string>{"a, b+c"});
  }
  SECTION("no basicConstraints is not a CA") {
    CertSpec spec;
    spec.basicConstraints = false;
    spec.keyUsage = "keyCertSign";
    const auto info = inspect(issue(spec).cert);
    CHECK_FALSE(info.isCA);
    CHECK(info.keyUsage == std::vector<std::string>{"keyCertSign"});
  }
}

// The openssl CLI through popen() and /bin/sh quoting, and strftime's %e (no msvcrt has it):
// not built for Windows.
#ifndef _WIN32
TEST_CASE("core::inspect agrees with the openssl CLI", "[x509]") {
  CertSpec spec;
  spec.commonName = "kube-apiserver-kubelet-client";
  spec.organizations = {"kubeadm:cluster-admins", "a, b"};
  spec.notAfter = k20271123;
  spec.serial = 0x0afedcba98765432ULL;
  spec.keyKind = KeyKind::rsa2048;
  const Issued cert = issue(spec, &pki().root);
  const auto info = inspect(cert.cert);

  const auto path = std::filesystem::temp_directory_path() /
                    ("kp-x509-cli-" + std::to_string(::getpid()) + ".pem");
  {
    std::ofstream file(path);
    file << cert.certPem();
  }
  const std::string out =
      run_command("openssl x509 -in '" + path.string() +
                  "' -noout -subject -issuer -enddate -serial -fingerprint -sha256 "
                  "-nameopt RFC2253");
  std::filesystem::remove(path);

  std::array<char, 64> enddate{};
  const std::time_t notAfter = static_cast<std::time_t>(info.notAfterUnix);
  std::tm parts{};
  gmtime_r(&notAfter, &parts);
  std::strftime(enddate.data(), enddate.size(), "%b %e %H:%M:%S %Y GMT", &parts);
  std::string fingerprint;
  for (std::size_t i = 0; i < info.sha256Fingerprint.size(); i += 2) {
    fingerprint += (i == 0 ? "" : ":") + upper(info.sha256Fingerprint.substr(i, 2));
  }
  CHECK(out == "subject=" + info.subject + "\n" + "issuer=" + info.issuer + "\n" +
                   "notAfter=" + enddate.data() + "\n" + "serial=" + upper(info.serial) + "\n" +
                   "sha256 Fingerprint=" + fingerprint + "\n");
  CHECK(info.subject == "CN=kube-apiserver-kubelet-client,O=a\\, b,O=kubeadm:cluster-admins");
  CHECK(info.serial == "0afedcba98765432");
}
#endif  // _WIN32

TEST_CASE("core::parse_certificates reads PEM bundles and DER", "[x509]") {
  const Issued leaf = leaf_for({"kubernetes"});
  const std::string keyPem = kp::testcerts::key_pem_traditional(leaf.key);

  SECTION("certificates with a key and openssl s_client text in between, in order") {
    const std::string bundle = "depth=0 CN = kube-apiserver\n" + leaf.certPem() + keyPem +
                               "subject=CN=kp-test-intermediate\n" + pki().intermediate.certPem();
    const auto parsed = parse_certificates(bundle);
    REQUIRE(parsed);
    REQUIRE(parsed->certs.size() == 2);
    CHECK(parsed->certs[0] == leaf.cert);
    CHECK(parsed->certs[1] == pki().intermediate.cert);
    CHECK(parsed->skipped == std::vector<std::string>{"PEM block 2: EC PRIVATE KEY"});
  }
  SECTION("a single DER certificate") {
    const auto parsed = parse_certificates(leaf.cert.der());
    REQUIRE(parsed);
    REQUIRE(parsed->certs.size() == 1);
    CHECK(parsed->certs[0] == leaf.cert);
    CHECK(parsed->skipped.empty());
  }
  SECTION("CRLF line ends and indented blocks (pasted from YAML)") {
    std::string crlf;
    for (const char c : leaf.certPem()) {
      crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    }
    std::string indented;
    for (const char c : "    " + pki().root.certPem()) {
      indented += c;
      if (c == '\n') {
        indented += "    ";
      }
    }
    const auto parsed = parse_certificates(crlf + indented);
    REQUIRE(parsed);
    REQUIRE(parsed->certs.size() == 2);
    CHECK(parsed->certs[1] == pki().root.cert);
  }
  SECTION("a UTF-8 byte order mark and TRUSTED CERTIFICATE blocks") {
    const auto parsed =
        parse_certificates("\xEF\xBB\xBF" + leaf.certPem() + trusted_pem(pki().root));
    REQUIRE(parsed);
    REQUIRE(parsed->certs.size() == 2);
    CHECK(parsed->certs[1] == pki().root.cert);
    const std::string keyPem = kp::testcerts::key_pem_pkcs8(leaf.key);
    CHECK(parse_private_key("\xEF\xBB\xBF" + keyPem));
  }
  SECTION("pem() and der() round-trip") {
    const auto again = parse_certificates(leaf.cert.pem());
    REQUIRE(again);
    CHECK(again->certs.at(0).der() == leaf.cert.der());
    CHECK(leaf.cert.pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
    CHECK_FALSE(leaf.cert == pki().root.cert);
    CHECK(Certificate() == Certificate());
    CHECK_FALSE(Certificate() == leaf.cert);
  }
}

TEST_CASE("core::parse_certificates says what the bytes were instead", "[x509]") {
  const Issued leaf = leaf_for({"kubernetes"});
  const std::string certPem = leaf.certPem();
  auto error = [](std::string_view bytes) {
    const auto parsed = parse_certificates(bytes);
    return parsed ? std::string("<parsed>") : parsed.error().message;
  };
  CHECK(error("") == "empty");
  CHECK(error(" \n\t\r\n") == "empty");
  CHECK(error("hello") == "not PEM or DER (starts with \"hello\")");
  CHECK(error("hello world, this is long\nsecond line") ==
        "not PEM or DER (starts with \"hello world,\"...)");
  CHECK(error(std::string("\x01\x02\"\\\xff", 5)) ==
        "not PEM or DER (starts with \"\\x01\\x02\\\"\\\\\\xff\")");
  CHECK(error(kp::testcerts::key_pem_traditional(kp::testcerts::shared_key(KeyKind::rsa2048))) ==
        "a PEM RSA PRIVATE KEY block, not a certificate");
  CHECK(error(kp::testcerts::key_pem_pkcs8(leaf.key)) ==
        "a PEM PRIVATE KEY block, not a certificate");
  CHECK(error("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" +
              kp::testcerts::key_pem_traditional(leaf.key)) ==
        "PEM blocks EC PARAMETERS, EC PRIVATE KEY, not a certificate");
  CHECK(error(kp::core::encode_base64(certPem)) == "base64-encoded PEM, not PEM (decode it first)");
  CHECK(error(kp::testcerts::key_der(leaf.key)) == "a DER private key, not a certificate");

  SECTION("truncated blocks") {
    CHECK(error(certPem.substr(0, certPem.size() / 2)) == "truncated PEM block CERTIFICATE");
    // A block cut short and followed by another: the first one is the truncated one.
    CHECK(error(certPem.substr(0, 200) + "\n" + pki().root.certPem()) ==
          "truncated PEM block CERTIFICATE");
    // Even after good certificates: a bundle that silently loses a CA hides the problem.
    CHECK(error(pki().root.certPem() + certPem.substr(0, 100)) ==
          "truncated PEM block CERTIFICATE");
  }
  SECTION("invalid certificate blocks are named by position") {
    CHECK(error(pki().root.certPem() + "-----BEGIN CERTIFICATE-----\nMIIB*AAA\n"
                                       "-----END CERTIFICATE-----\n") ==
          "invalid certificate in PEM block 2: illegal base64 data at input byte 4");
    CHECK(error("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n") ==
          "invalid certificate in PEM block 1: empty");
    // Valid base64, not a certificate: OpenSSL's reason.
    CHECK(error("-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n") ==
          "invalid certificate in PEM block 1: too long");
    CHECK(error("-----BEGIN CERTIFICATE-----\nAgEA\n-----END CERTIFICATE-----\n") ==
          "invalid certificate in PEM block 1: wrong tag");
    // A certificate cut inside its DER.
    const std::string der = leaf.cert.der();
    CHECK(error("-----BEGIN CERTIFICATE-----\n" + kp::core::encode_base64(der.substr(0, 120)) +
                "\n-----END CERTIFICATE-----\n") == "invalid certificate in PEM block 1: too long");
    CHECK(error("-----BEGIN CERTIFICATE-----\n" + kp::core::encode_base64(der + "xx") +
                "\n-----END CERTIFICATE-----\n") ==
          "invalid certificate in PEM block 1: trailing data after the certificate");
  }
  SECTION("invalid DER") {
    const std::string der = leaf.cert.der();
    CHECK(error(der.substr(0, der.size() - 10)) == "invalid DER certificate: too long");
    CHECK(error(der + "x") == "invalid DER certificate: trailing data after the certificate");
  }
  SECTION("a BEGIN line without its closing dashes is text, not a block") {
    CHECK(error("-----BEGIN CERTIFICATE\nabc\n") ==
          "not PEM or DER (starts with \"-----BEGIN C\"...)");
  }
}

TEST_CASE("core::parse_private_key reads PKCS#8, PKCS#1, SEC1 and DER", "[x509]") {
  const auto rsa = kp::testcerts::shared_key(KeyKind::rsa2048);
  const auto ec = kp::testcerts::shared_key(KeyKind::ecdsaP256);
  const auto ed = kp::testcerts::shared_key(KeyKind::ed25519);
  const std::string rsaHash = kp::core::public_key_sha256(rsa);
  const std::string ecHash = kp::core::public_key_sha256(ec);
  const std::string edHash = kp::core::public_key_sha256(ed);
  REQUIRE(rsaHash.size() == 64);

  auto hash_of = [](std::string_view bytes) {
    const auto key = parse_private_key(bytes);
    return key ? kp::core::public_key_sha256(*key) : "error: " + key.error().message;
  };
  CHECK(hash_of(kp::testcerts::key_pem_pkcs8(rsa)) == rsaHash);
  CHECK(hash_of(kp::testcerts::key_pem_traditional(rsa)) == rsaHash);  // RSA PRIVATE KEY
  CHECK(hash_of(kp::testcerts::key_pem_pkcs8(ec)) == ecHash);
  CHECK(hash_of(kp::testcerts::key_pem_traditional(ec)) == ecHash);  // EC PRIVATE KEY
  CHECK(hash_of(kp::testcerts::key_pem_pkcs8(ed)) == edHash);
  CHECK(hash_of(kp::testcerts::key_der(rsa)) == rsaHash);
  CHECK(hash_of(kp::testcerts::key_der(ec)) == ecHash);
  // openssl ecparam -genkey writes EC PARAMETERS first; a combined cert+key file is common.
  CHECK(hash_of("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" +
                kp::testcerts::key_pem_traditional(ec)) == ecHash);
  CHECK(hash_of(pki().root.certPem() + kp::testcerts::key_pem_pkcs8(rsa)) == rsaHash);

  const auto info = kp::core::inspect_key(*parse_private_key(kp::testcerts::key_pem_pkcs8(ec)));
  CHECK(info.keyType == "ECDSA");
  CHECK(info.keyBits == 256);
  CHECK(info.curve == "P-256");
  CHECK(info.publicKeySha256 == ecHash);
  CHECK(kp::core::inspect_key(rsa).keyType == "RSA");
  CHECK(kp::core::inspect_key(rsa).keyBits == 2048);
  CHECK(kp::core::inspect_key(ed).keyType == "Ed25519");
}

TEST_CASE("core::parse_private_key explains failures without quoting the bytes", "[x509]") {
  const auto ec = kp::testcerts::shared_key(KeyKind::ecdsaP256);
  auto error = [](std::string_view bytes) {
    const auto key = parse_private_key(bytes);
    return key ? std::string("<parsed>") : key.error().message;
  };
  CHECK(error("") == "empty");
  CHECK(error("supersecrettoken") == "not PEM or DER");
  CHECK(error(pki().root.certPem()) == "a PEM CERTIFICATE block, not a private key");
  CHECK(error(pki().root.certPem() + pki().intermediate.certPem()) ==
        "a PEM CERTIFICATE block, not a private key");
  CHECK(error(pki().root.cert.der()) == "a DER certificate, not a private key");
  CHECK(error(kp::testcerts::key_pem_encrypted_pkcs8(ec)) ==
        "encrypted private key in PEM block 1 (passphrases are not supported)");
  CHECK(error(pki().root.certPem() + kp::testcerts::key_pem_encrypted_traditional(ec)) ==
        "encrypted private key in PEM block 2 (passphrases are not supported)");
  CHECK(
      error(
          "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----") ==
      "OpenSSH private key in PEM block 1 (not supported; convert it with ssh-keygen -p -m PEM)");
  const std::string pem = kp::testcerts::key_pem_pkcs8(ec);
  CHECK(error(pem.substr(0, 60)) == "truncated PEM block PRIVATE KEY");
  CHECK(error("-----BEGIN PRIVATE KEY-----\nc2VjcmV0*\n-----END PRIVATE KEY-----\n") ==
        "invalid private key in PEM block 1: illegal base64 data at input byte 8");
  // Valid base64 of something that is not a key: OpenSSL's reason, never the bytes.
  const std::string message =
      error("-----BEGIN PRIVATE KEY-----\nc2VjcmV0c2VjcmV0\n-----END PRIVATE KEY-----\n");
  CHECK(message.starts_with("invalid private key in PEM block 1: "));
  CHECK(message.find("secret") == std::string::npos);
  CHECK(message.find("c2Vj") == std::string::npos);
  CHECK(error(std::string("\x30\x03\x02\x01\x00", 5)).starts_with("invalid DER private key: "));
}

TEST_CASE("core::parse_public_key reads sa.pub and pairs it with sa.key", "[x509]") {
  const auto rsa = kp::testcerts::shared_key(KeyKind::rsa2048);
  const std::string spki = kp::testcerts::public_key_pem(rsa, false);
  const std::string pkcs1 = kp::testcerts::public_key_pem(rsa, true);
  REQUIRE(spki.starts_with("-----BEGIN PUBLIC KEY-----"));
  REQUIRE(pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
  const auto fromSpki = kp::core::parse_public_key(spki);
  const auto fromPkcs1 = kp::core::parse_public_key(pkcs1);
  REQUIRE(fromSpki);
  REQUIRE(fromPkcs1);
  CHECK(kp::core::public_key_sha256(*fromSpki) == kp::core::public_key_sha256(rsa));
  CHECK(kp::core::public_key_sha256(*fromPkcs1) == kp::core::public_key_sha256(rsa));
  CHECK(kp::core::inspect_key(*fromSpki).keyBits == 2048);
  CHECK(kp::core::parse_public_key(kp::testcerts::key_pem_pkcs8(rsa)).error().message ==
        "a PEM PRIVATE KEY block, not a public key");
  CHECK(kp::core::parse_public_key("").error().message == "empty");
  CHECK(kp::core::parse_public_key("ssh-rsa AAAA").error().message == "not PEM or DER");
}

TEST_CASE("core::key_matches pairs certificates with keys", "[x509]") {
  const Issued leaf = leaf_for({"kubernetes"});
  CHECK(kp::core::key_matches(leaf.cert, leaf.key));
  CHECK_FALSE(kp::core::key_matches(leaf.cert, kp::testcerts::shared_key(KeyKind::rsa2048)));
  CHECK_FALSE(kp::core::key_matches(pki().root.cert, leaf.key));
  CHECK(kp::core::key_matches(pki().root.cert, pki().root.key));
  CHECK_FALSE(kp::core::key_matches(Certificate(), leaf.key));
  // A different key of the same type does not match either.
  CHECK_FALSE(kp::core::key_matches(leaf.cert, kp::testcerts::make_key(KeyKind::ecdsaP256)));
  CHECK(inspect(leaf.cert).publicKeySha256 == kp::core::public_key_sha256(leaf.key));
}

TEST_CASE("core::pair_private_key reads RSA and EC keys' own public half", "[x509]") {
  using kp::core::pair_private_key;
  CertSpec rsaSpec;
  rsaSpec.commonName = "rsa-leaf";
  rsaSpec.keyKind = KeyKind::rsa2048;
  const Issued rsa = issue(rsaSpec, &pki().intermediate);
  const Issued ec = leaf_for({"kubernetes"});
  REQUIRE(inspect(ec.cert).keyType == "ECDSA");
  REQUIRE(inspect(rsa.cert).keyType == "RSA");

  // Every encoding clusters hold: matched without OpenSSL's decoders.
  for (const auto* issued : {&rsa, &ec}) {
    for (const std::string& bytes :
         {kp::testcerts::key_pem_pkcs8(issued->key),
          kp::testcerts::key_pem_traditional(issued->key), kp::testcerts::key_der(issued->key),
          issued->certPem() + kp::testcerts::key_pem_pkcs8(issued->key)}) {
      const auto pairing = pair_private_key(issued->cert, bytes);
      REQUIRE(pairing);
      CHECK(pairing->matches);
      CHECK_FALSE(pairing->decodedByOpenssl);
    }
  }
  // openssl ecparam -genkey: EC PARAMETERS first, then the key (curve in the key too).
  const auto withParameters = pair_private_key(
      ec.cert, "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" +
                   kp::testcerts::key_pem_traditional(ec.key));
  REQUIRE(withParameters);
  CHECK(withParameters->matches);
  CHECK_FALSE(withParameters->decodedByOpenssl);
}

TEST_CASE("core::pair_private_key leaves mismatches, other keys and odd encodings to OpenSSL",
          "[x509]") {
  using kp::core::pair_private_key;
  const Issued ec = leaf_for({"kubernetes"});
  const auto same = [](const Certificate& cert, const std::string& bytes) {
    const auto key = parse_private_key(bytes);
    const auto pairing = pair_private_key(cert, bytes);
    REQUIRE(static_cast<bool>(key) == static_cast<bool>(pairing));
    if (!key) {
      CHECK(pairing.error().message == key.error().message);
      return;
    }
    CHECK(pairing->matches == kp::core::key_matches(cert, *key));
  };

  SECTION("keys that do not match are confirmed by OpenSSL") {
    for (const auto& other : {kp::testcerts::shared_key(KeyKind::rsa2048),
                              kp::testcerts::make_key(KeyKind::ecdsaP256)}) {
      const auto pairing = pair_private_key(ec.cert, kp::testcerts::key_pem_pkcs8(other));
      REQUIRE(pairing);
      CHECK_FALSE(pairing->matches);
      CHECK(pairing->decodedByOpenssl);
    }
    same(pki().root.cert, kp::testcerts::key_pem_pkcs8(ec.key));
  }

  SECTION("Ed25519 is read by OpenSSL, with the same answer") {
    CertSpec spec;
    spec.commonName = "ed-leaf";
    spec.keyKind = KeyKind::ed25519;
    const Issued ed = issue(spec, &pki().intermediate);
    const auto pairing = pair_private_key(ed.cert, kp::testcerts::key_pem_pkcs8(ed.key));
    REQUIRE(pairing);
    CHECK(pairing->matches);
    CHECK(pairing->decodedByOpenssl);
    same(ec.cert, kp::testcerts::key_pem_pkcs8(ed.key));
  }

  SECTION("an EC key without its public point is OpenSSL's to compute") {
    // SEC1 without the optional publicKey: version, the scalar, the curve.
    const auto traditional = kp::testcerts::key_pem_traditional(ec.key);
    const auto sec1 = kp::core::decode_base64(traditional.substr(
        traditional.find('\n') + 1, traditional.find("-----END") - traditional.find('\n') - 1));
    REQUIRE(sec1);
    // 30 77 02 01 01 04 20 <32> a0 0a <oid> a1 44 <point>: keep up to the curve.
    REQUIRE(sec1->size() == 0x79);
    std::string shortKey = sec1->substr(2, 3 + 2 + 32 + 12);
    shortKey = std::string("\x30", 1) + static_cast<char>(shortKey.size()) + shortKey;
    const auto pairing = pair_private_key(ec.cert, shortKey);
    REQUIRE(pairing);
    CHECK(pairing->matches);
    CHECK(pairing->decodedByOpenssl);
  }

  SECTION("broken keys fail exactly as parse_private_key says") {
    const auto key = kp::testcerts::shared_key(KeyKind::ecdsaP256);
    for (const std::string& bytes :
         {std::string(), std::string("supersecrettoken"), pki().root.certPem(),
          pki().root.cert.der(), kp::testcerts::key_pem_encrypted_pkcs8(key),
          pki().root.certPem() + kp::testcerts::key_pem_encrypted_traditional(key),
          kp::testcerts::key_pem_pkcs8(key).substr(0, 60),
          std::string("-----BEGIN PRIVATE KEY-----\nc2VjcmV0*\n-----END PRIVATE KEY-----\n"),
          std::string("-----BEGIN PRIVATE KEY-----\nc2VjcmV0c2VjcmV0\n-----END PRIVATE KEY-----\n"),
          std::string("\x30\x03\x02\x01\x00", 5),
          // Trailing bytes after a good key: OpenSSL refuses it, so must the pairing.
          kp::testcerts::key_der(ec.key) + std::string("\x00", 1)}) {
      same(ec.cert, bytes);
    }
    const auto trailing = pair_private_key(ec.cert, kp::testcerts::key_der(ec.key) + "x");
    REQUIRE_FALSE(trailing);
    CHECK(trailing.error().message.starts_with("invalid DER private key: "));
  }

  SECTION("an empty certificate never matches") {
    const auto pairing = pair_private_key(Certificate(), kp::testcerts::key_pem_pkcs8(ec.key));
    REQUIRE(pairing);
    CHECK_FALSE(pairing->matches);
  }
}

TEST_CASE("core::issued_by", "[x509]") {
  const Issued leaf = leaf_for({"kubernetes"});
  CHECK(kp::core::issued_by(leaf.cert, pki().intermediate.cert));
  CHECK(kp::core::issued_by(pki().intermediate.cert, pki().root.cert));
  CHECK(kp::core::issued_by(pki().root.cert, pki().root.cert));
  CHECK_FALSE(kp::core::issued_by(leaf.cert, pki().root.cert));
  CHECK_FALSE(kp::core::issued_by(leaf.cert, pki().otherRoot.cert));
}

TEST_CASE("core::certificate_matches_host follows Go's rules", "[x509]") {
  const Issued cert =
      leaf_for({"kubernetes", "API.Lab.Test", "*.apps.lab.test", "f*.wild.test", "10.0.0.9"},
               {"10.96.0.1", "::1"});
  auto matches = [&](std::string_view host) { return certificate_matches_host(cert.cert, host); };
  CHECK(matches("kubernetes"));
  CHECK(matches("api.lab.test"));   // case-insensitive
  CHECK(matches("API.LAB.TEST."));  // a trailing dot on the host
  CHECK(matches("console.apps.lab.test"));
  CHECK_FALSE(matches("apps.lab.test"));  // the wildcard needs exactly one label
  CHECK_FALSE(matches("a.b.apps.lab.test"));
  CHECK_FALSE(matches("foo.wild.test"));  // partial-label wildcards are not wildcards
  CHECK(matches("f*.wild.test"));         // ...but an exact match of the odd pattern is fine
  CHECK(matches("10.96.0.1"));
  CHECK(matches("::1"));
  CHECK(matches("[::1]"));
  CHECK(matches("0:0:0:0:0:0:0:1"));
  CHECK(matches("::ffff:10.96.0.1"));      // the same IP, as Go's net.IP.Equal has it
  CHECK_FALSE(matches("10.0.0.9"));        // an IP never matches a DNS SAN
  CHECK_FALSE(matches("kube-apiserver"));  // the CN is never used
  CHECK_FALSE(matches(""));
  // Not a valid host name, so Go compares it exactly, and the pattern is that very string.
  CHECK(matches("*.apps.lab.test"));
  CHECK_FALSE(matches("010.96.0.1"));  // not an IP for Go either, and no such DNS name
}

TEST_CASE("core::host_mismatch_message explains like Go", "[x509]") {
  const Issued apiserver =
      leaf_for({"kubernetes", "kubernetes.default"}, {"10.96.0.1", "198.18.0.2"});
  CHECK(host_mismatch_message(apiserver.cert, "198.18.0.32") ==
        "certificate is valid for kubernetes, kubernetes.default, 10.96.0.1, 198.18.0.2, not "
        "198.18.0.32");
  CHECK(host_mismatch_message(apiserver.cert, "api.lab.test") ==
        "certificate is valid for kubernetes, kubernetes.default, 10.96.0.1, 198.18.0.2, not "
        "api.lab.test");
  CHECK(host_mismatch_message(apiserver.cert, "kubernetes") == "");
  CHECK(host_mismatch_message(apiserver.cert, "[::1]") ==
        "certificate is valid for kubernetes, kubernetes.default, 10.96.0.1, 198.18.0.2, not ::1");

  const Issued dnsOnly = leaf_for({"kubernetes"});
  CHECK(host_mismatch_message(dnsOnly.cert, "198.18.0.32") ==
        "cannot validate certificate for 198.18.0.32 because it doesn't contain any IP SANs");

  CertSpec legacy;
  legacy.commonName = "api.lab.test";
  const Issued legacyCert = issue(legacy, &pki().root);
  CHECK_FALSE(certificate_matches_host(legacyCert.cert, "api.lab.test"));
  CHECK(host_mismatch_message(legacyCert.cert, "api.lab.test") ==
        "certificate relies on legacy Common Name field, use SANs instead");
  CHECK(host_mismatch_message(legacyCert.cert, "other.lab.test") ==
        "certificate is not valid for any names, but wanted to match other.lab.test");
}

TEST_CASE("core::verify_chain", "[x509]") {
  const Pki& p = pki();
  const Issued leaf = leaf_for({"kubernetes"});
  const std::vector<Certificate> roots{p.root.cert};

  SECTION("a good chain with its intermediate") {
    const auto outcome = verify_chain(leaf.cert, {p.intermediate.cert}, roots, 0, "serverAuth");
    CHECK(outcome.ok);
    CHECK(outcome.failure == VerifyFailure::none);
    CHECK(outcome.reason == "");
    CHECK(outcome.problems.empty());
    REQUIRE(outcome.verifiedChain.size() == 3);
    CHECK(outcome.verifiedChain[0] == leaf.cert);
    CHECK(outcome.verifiedChain[1] == p.intermediate.cert);
    CHECK(outcome.verifiedChain[2] == p.root.cert);
  }
  SECTION("intermediates in any order, with extras") {
    const auto outcome = verify_chain(
        leaf.cert, {p.otherRoot.cert, p.root.cert, p.intermediate.cert}, roots, 0, "serverAuth");
    CHECK(outcome.ok);
    CHECK(outcome.verifiedChain.size() == 3);
  }
  SECTION("the intermediate missing") {
    const auto outcome = verify_chain(leaf.cert, {}, roots, 0, "serverAuth");
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.failure == VerifyFailure::unknownAuthority);
    CHECK(outcome.depth == 0);
    CHECK(outcome.reason ==
          "unable to get local issuer certificate (issuer CN=kp-test-intermediate)");
    CHECK(outcome.problems.size() == 1);
    REQUIRE(outcome.verifiedChain.size() == 1);
  }
  SECTION("the intermediate as the trust anchor, as Go allows") {
    const auto outcome = verify_chain(leaf.cert, {}, {p.intermediate.cert}, 0, "serverAuth");
    CHECK(outcome.ok);
    CHECK(outcome.verifiedChain.size() == 2);
  }
  SECTION("an unknown authority") {
    const auto outcome =
        verify_chain(leaf.cert, {p.intermediate.cert}, {p.otherRoot.cert}, 0, "serverAuth");
    CHECK(outcome.failure == VerifyFailure::unknownAuthority);
    CHECK(outcome.depth == 1);
    CHECK(outcome.reason ==
          "unable to get local issuer certificate (issuer CN=kp-test-root,O=kp-test)");
  }
  SECTION("the system store does not know a test CA") {
    const auto outcome = verify_chain(leaf.cert, {p.intermediate.cert}, {}, 0, "serverAuth");
    CHECK(outcome.failure == VerifyFailure::unknownAuthority);
  }
  SECTION("an expired leaf") {
    CertSpec spec;
    spec.dnsNames = {"kubernetes"};
    spec.notBefore = k20261123 - 365 * kDay;
    spec.notAfter = k20261123;
    const Issued expired = issue(spec, &p.intermediate);
    const auto outcome = verify_chain(expired.cert, {p.intermediate.cert}, roots,
                                      k20261123 + 3 * kDay, "serverAuth");
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.failure == VerifyFailure::expired);
    CHECK(outcome.opensslCode == 10);  // X509_V_ERR_CERT_HAS_EXPIRED
    CHECK(outcome.depth == 0);
    CHECK(outcome.reason == "certificate has expired (notAfter 2026-11-23T10:00:00Z)");
    CHECK(outcome.verifiedChain.size() == 3);
  }
  SECTION("expiry is reported before a missing issuer, as Go does") {
    CertSpec spec;
    spec.notBefore = now_unix() - 10 * kDay;
    spec.notAfter = now_unix() - kDay;
    const Issued expired = issue(spec, &p.intermediate);
    const auto outcome = verify_chain(expired.cert, {}, roots, 0, "");
    CHECK(outcome.failure == VerifyFailure::expired);
    REQUIRE(outcome.problems.size() == 2);
    CHECK(outcome.problems[1].failure == VerifyFailure::unknownAuthority);
  }
  SECTION("an expired intermediate is named") {
    CertSpec spec;
    spec.commonName = "old-intermediate";
    spec.isCA = true;
    spec.notBefore = k20261123 - 365 * kDay;
    spec.notAfter = k20261123;
    const Issued oldIntermediate = issue(spec, &p.root);
    CertSpec leafSpec;
    leafSpec.notBefore = k20261123 - kDay;
    leafSpec.notAfter = k20271123;
    const Issued young = issue(leafSpec, &oldIntermediate);
    const auto outcome =
        verify_chain(young.cert, {oldIntermediate.cert}, roots, k20261123 + kDay, "");
    CHECK(outcome.failure == VerifyFailure::expired);
    CHECK(outcome.depth == 1);
    CHECK(outcome.reason ==
          "certificate has expired (notAfter 2026-11-23T10:00:00Z, subject CN=old-intermediate)");
  }
  SECTION("a leaf that is not yet valid") {
    CertSpec spec;
    spec.notBefore = k20271123;
    spec.notAfter = k20271123 + 365 * kDay;
    const Issued future = issue(spec, &p.intermediate);
    const auto outcome =
        verify_chain(future.cert, {p.intermediate.cert}, roots, k20261123, "serverAuth");
    CHECK(outcome.failure == VerifyFailure::notYetValid);
    CHECK(outcome.reason == "certificate is not yet valid (notBefore 2027-11-23T10:00:00Z)");
  }
  SECTION("a self-signed leaf") {
    CertSpec spec;
    spec.commonName = "lonely";
    spec.dnsNames = {"lonely"};
    const Issued self = issue(spec);
    const auto outcome = verify_chain(self.cert, {}, roots, 0, "serverAuth");
    CHECK(outcome.failure == VerifyFailure::selfSigned);
    CHECK(outcome.reason == "self-signed certificate (subject CN=lonely)");
    // Trusted explicitly, it verifies.
    CHECK(verify_chain(self.cert, {}, {self.cert}, 0, "serverAuth").ok);
  }
  SECTION("the wrong purpose") {
    CertSpec spec;
    spec.commonName = "client";
    spec.extKeyUsage = {"clientAuth"};
    const Issued client = issue(spec, &p.intermediate);
    CHECK(verify_chain(client.cert, {p.intermediate.cert}, roots, 0, "clientAuth").ok);
    const auto outcome = verify_chain(client.cert, {p.intermediate.cert}, roots, 0, "serverAuth");
    CHECK(outcome.failure == VerifyFailure::purpose);
    CHECK(outcome.reason ==
          "unsuitable certificate purpose (wanted serverAuth, subject CN=client has extKeyUsage "
          "clientAuth)");
    CHECK(verify_chain(client.cert, {p.intermediate.cert}, roots, 0, "").ok);
    CHECK(verify_chain(client.cert, {p.intermediate.cert}, roots, 0, "codeSigning").reason ==
          "unknown purpose \"codeSigning\"");
  }
  SECTION("an issuer that is not a CA") {
    const Issued notCa = leaf_for({"not-a-ca"});
    CertSpec spec;
    spec.commonName = "victim";
    const Issued victim = issue(spec, &notCa);
    const auto outcome = verify_chain(victim.cert, {notCa.cert, p.intermediate.cert}, roots, 0, "");
    CHECK(outcome.failure == VerifyFailure::notCA);
    CHECK(outcome.depth == 1);
  }
  SECTION("a SHA-1 signature, which Go rejects") {
    CertSpec spec;
    spec.commonName = "legacy";
    spec.digest = "SHA1";
    const Issued sha1 = issue(spec, &p.root);
    CHECK(inspect(sha1.cert).signatureAlgorithm == "sha1WithRSAEncryption");
    CHECK(inspect(sha1.cert).signatureHash == "SHA1");
    const auto outcome = verify_chain(sha1.cert, {}, roots, 0, "");
    CHECK(outcome.failure == VerifyFailure::badSignature);
    CHECK(outcome.depth == 0);
    CHECK(outcome.reason ==
          "insecure signature algorithm sha1WithRSAEncryption (Go and so kubectl reject SHA1 "
          "signatures)");
    // A SHA-1 self-signed root is fine: nobody checks an anchor's own signature.
    CertSpec rootSpec;
    rootSpec.isCA = true;
    rootSpec.digest = "SHA1";
    rootSpec.keyKind = KeyKind::rsa2048;
    const Issued sha1Root = issue(rootSpec);
    const Issued modern = issue(CertSpec{}, &sha1Root);
    CHECK(verify_chain(modern.cert, {}, {sha1Root.cert}, 0, "").ok);
  }
  SECTION("a bad signature") {
    // Same subject name as the intermediate, different key: the leaf's signature cannot verify.
    CertSpec spec;
    spec.commonName = "kp-test-intermediate";
    spec.isCA = true;
    spec.key = kp::testcerts::make_key(KeyKind::ecdsaP256);
    const Issued impostor = issue(spec, &p.root);
    const auto outcome = verify_chain(leaf.cert, {impostor.cert}, roots, 0, "");
    CHECK_FALSE(outcome.ok);
    CHECK((outcome.failure == VerifyFailure::badSignature ||
           outcome.failure == VerifyFailure::unknownAuthority));
  }
  SECTION("no certificate") {
    const auto outcome = verify_chain(Certificate(), {}, roots, 0, "");
    CHECK(outcome.failure == VerifyFailure::other);
    CHECK(outcome.reason == "no certificate to verify");
  }
}

// An unknown authority has several causes, told apart by what was served and what the bundle
// holds (issue 13: an incomplete chain must not be answered with "replace the CA").
TEST_CASE("diagnose_issuer tells an incomplete chain from another CA", "[x509][chain]") {
  using kp::core::diagnose_issuer;
  using kp::core::explain_issuer;
  using kp::core::IssuerGap;
  const Pki& p = pki();
  const Issued leaf = leaf_for({"api.test"});  // issued by the intermediate
  const std::string root = "CN=kp-test-root,O=kp-test";
  const std::string intermediate = "CN=kp-test-intermediate";
  const auto has = [](const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  };

  SECTION("the leaf alone, the root in the bundle: the intermediate is missing") {
    const auto d = diagnose_issuer({leaf.cert}, {p.root.cert}, {});
    CHECK(d.gap == IssuerGap::missingIssuer);
    CHECK(d.issuer == intermediate);
    CHECK(d.issuerKeyId == inspect(p.intermediate.cert).subjectKeyId);
    CHECK(d.pathLength == 1);
    CHECK_FALSE(d.serverTrustsBundle);
    const auto e = explain_issuer(d, "certificate-authority-data");
    CHECK(has(e.cause, "the server sent only its own certificate, issued by " + intermediate));
    CHECK(has(e.cause, "(it holds " + root + ")"));
    // Nothing tells an incomplete chain from another cluster's CA here: both are said.
    CHECK(has(e.fix, "two causes fit: (1) the served chain is incomplete"));
    CHECK(has(e.fix, "(2) certificate-authority-data is another cluster's CA"));
  }
  SECTION("the server accepts client certificates from the bundle's CA: incomplete, for sure") {
    const auto d = diagnose_issuer({leaf.cert}, {p.root.cert}, {"CN=someone", root});
    CHECK(d.gap == IssuerGap::missingIssuer);
    CHECK(d.serverTrustsBundle);
    const auto e = explain_issuer(d, "certificate-authority-data");
    CHECK(has(e.cause, "the served chain is incomplete"));
    CHECK(has(e.fix, "serve the full chain"));
    CHECK(has(e.fix, "the intermediate " + intermediate));
    CHECK(has(e.fix, "Do not replace the CA"));
    CHECK_FALSE(has(e.fix, "two causes"));
  }
  SECTION("the full chain, or the intermediate alone in the bundle, reaches it") {
    CHECK(diagnose_issuer({leaf.cert, p.intermediate.cert}, {p.root.cert}, {}).gap ==
          IssuerGap::none);
    CHECK(diagnose_issuer({p.intermediate.cert, leaf.cert}, {p.root.cert}, {}).gap ==
          IssuerGap::none);  // the leaf is always first; the rest in any order
    CHECK(diagnose_issuer({leaf.cert}, {p.intermediate.cert}, {}).gap == IssuerGap::none);
    CHECK(explain_issuer(diagnose_issuer({leaf.cert}, {p.intermediate.cert}, {}), "x").fix == "");
  }
  SECTION("a served certificate off the path is named") {
    const auto d = diagnose_issuer({leaf.cert, p.otherRoot.cert}, {p.root.cert}, {});
    CHECK(d.gap == IssuerGap::missingIssuer);
    REQUIRE(d.unused.size() == 1);
    CHECK(d.unused[0] == "CN=someone-else-ca");
    CHECK(has(explain_issuer(d, "--ca ca.crt").cause,
              "the server also sent CN=someone-else-ca, which did not issue it"));
  }
  SECTION("a chain up to its own root: another CA, no incomplete-chain fix") {
    CertSpec spec;
    spec.commonName = "other-leaf";
    spec.dnsNames = {"api.test"};
    const Issued other = issue(spec, &p.otherRoot);
    const auto d = diagnose_issuer({other.cert, p.otherRoot.cert}, {p.root.cert}, {});
    CHECK(d.gap == IssuerGap::ownRoot);
    CHECK(d.pathLength == 2);
    const auto e = explain_issuer(d, "certificate-authority-data");
    CHECK(has(e.cause, "the server's chain ends at its own root CA CN=someone-else-ca"));
    CHECK(has(e.fix, "set certificate-authority-data to the CA that signed"));
    CHECK_FALSE(has(e.fix, "full chain"));
    const auto selfSigned = diagnose_issuer({p.otherRoot.cert}, {p.root.cert}, {});
    CHECK(selfSigned.gap == IssuerGap::ownRoot);
    CHECK(has(explain_issuer(selfSigned, "x").cause, "the server's certificate is self-signed"));
  }
  SECTION("a CA of the issuer's name with another key: a re-created cluster") {
    CertSpec again;
    again.commonName = "kp-test-intermediate";
    again.isCA = true;
    again.key = kp::testcerts::make_key(KeyKind::ecdsaP256);
    const Issued impostor = issue(again);
    const auto d = diagnose_issuer({leaf.cert}, {impostor.cert}, {});
    CHECK(d.gap == IssuerGap::sameNameOtherKey);
    CHECK(d.issuer == intermediate);
    const auto e = explain_issuer(d, "certificate-authority-data");
    CHECK(has(e.cause, "by another key"));
    CHECK(has(e.fix, "belongs to an earlier cluster at this address"));
  }
}
