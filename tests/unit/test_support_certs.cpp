// Not a test file: the unit-test glob (test_*.cpp) compiles it into kp_unit_tests as support.
#include "test_support_certs.h"

#include <array>
#include <chrono>
#include <memory>
#include <random>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace kp::testcerts {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct ExtensionDeleter {
  void operator()(X509_EXTENSION* ext) const noexcept { X509_EXTENSION_free(ext); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, ExtensionDeleter>;

// Test setup failing is a bug in the test, not a case to report: throw and let Catch2 show it.
[[noreturn]] void fail(const std::string& what) {
  std::array<char, 256> reason{};
  ERR_error_string_n(ERR_get_error(), reason.data(), reason.size());
  ERR_clear_error();
  throw std::runtime_error("test cert setup: " + what + ": " + reason.data());
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    fail("extension " + std::string(OBJ_nid2sn(nid)) + "=" + value);
  }
}

std::string join(const std::vector<std::string>& parts, const std::string& prefix) {
  std::string out;
  for (const auto& part : parts) {
    out += (out.empty() ? "" : ",") + prefix + part;
  }
  return out;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

core::PrivateKey make_key(KeyKind kind) {
  EVP_PKEY* key = nullptr;
  switch (kind) {
    case KeyKind::rsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
      break;
    case KeyKind::ecdsaP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyKind::ed25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (key == nullptr) {
    fail("keygen");
  }
  return core::PrivateKey::adopt(key);
}

core::PrivateKey shared_key(KeyKind kind) {
  static const core::PrivateKey rsa = make_key(KeyKind::rsa2048);
  static const core::PrivateKey ec = make_key(KeyKind::ecdsaP256);
  static const core::PrivateKey ed = make_key(KeyKind::ed25519);
  switch (kind) {
    case KeyKind::rsa2048:
      return rsa;
    case KeyKind::ecdsaP256:
      return ec;
    case KeyKind::ed25519:
      return ed;
  }
  return ec;
}

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Issued issue(const CertSpec& spec, const Issued* issuer) {
  Issued out;
  out.key = spec.key ? spec.key : shared_key(spec.keyKind);
  X509* raw = X509_new();
  if (raw == nullptr) {
    fail("X509_new");
  }
  out.cert = core::Certificate::adopt(raw);
  X509* x = out.cert.native();

  X509_set_version(x, X509_VERSION_3);
  std::uint64_t serial = spec.serial;
  if (serial == 0) {
    static std::mt19937_64 random{std::random_device{}()};
    serial = (random() >> 2) | 1;  // positive and non-zero
  }
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial);
  const std::int64_t now = now_unix();
  ASN1_TIME_set(X509_getm_notBefore(x),
                static_cast<time_t>(spec.notBefore != 0 ? spec.notBefore : now - 3600));
  ASN1_TIME_set(X509_getm_notAfter(x),
                static_cast<time_t>(spec.notAfter != 0 ? spec.notAfter : now + 365 * kDay));

  X509_NAME* name = X509_get_subject_name(x);
  for (const auto& org : spec.organizations) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  }
  if (!spec.commonName.empty()) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(spec.commonName.c_str()), -1,
                               -1, 0);
  }
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer->cert.get()) : name);
  if (X509_set_pubkey(x, out.key.native()) != 1) {
    fail("X509_set_pubkey");
  }

  X509* issuerCert = issuer != nullptr ? issuer->cert.native() : x;
  if (spec.basicConstraints) {
    std::string bc = spec.isCA ? "critical,CA:TRUE" : "critical,CA:FALSE";
    if (spec.isCA && spec.pathLen >= 0) {
      bc += ",pathlen:" + std::to_string(spec.pathLen);
    }
    add_extension(x, issuerCert, NID_basic_constraints, bc);
  }
  const std::string keyUsage = !spec.keyUsage.empty() ? spec.keyUsage
                               : spec.isCA ? "critical,digitalSignature,keyCertSign,cRLSign"
                                           : "critical,digitalSignature,keyEncipherment";
  add_extension(x, issuerCert, NID_key_usage, keyUsage);
  if (!spec.extKeyUsage.empty()) {
    add_extension(x, issuerCert, NID_ext_key_usage, join(spec.extKeyUsage, ""));
  }
  std::string sans = join(spec.dnsNames, "DNS:");
  for (const auto& [list, prefix] :
       {std::pair{&spec.ipAddresses, "IP:"}, std::pair{&spec.uris, "URI:"},
        std::pair{&spec.emails, "email:"}}) {
    const std::string more = join(*list, prefix);
    if (!more.empty()) {
      sans += (sans.empty() ? "" : ",") + more;
    }
  }
  if (!sans.empty()) {
    add_extension(x, issuerCert, NID_subject_alt_name, sans);
  }
  add_extension(x, issuerCert, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) {
    add_extension(x, issuerCert, NID_authority_key_identifier, "keyid:always");
  }

  const core::PrivateKey& signer = issuer != nullptr ? issuer->key : out.key;
  // EdDSA signs the message itself: X509_sign needs a null digest for it.
  const int signerType = EVP_PKEY_get_base_id(signer.get());
  const EVP_MD* md = signerType == EVP_PKEY_ED25519 || signerType == EVP_PKEY_ED448
                         ? nullptr
                         : EVP_get_digestbyname(spec.digest.c_str());
  if (X509_sign(x, signer.native(), md) <= 0) {
    fail("X509_sign");
  }
  return out;
}

std::string key_pem_pkcs8(const core::PrivateKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("PEM_write_bio_PrivateKey");
  }
  return bio_string(bio.get());
}

std::string key_pem_traditional(const core::PrivateKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                           nullptr) != 1) {
    fail("PEM_write_bio_PrivateKey_traditional");
  }
  return bio_string(bio.get());
}

std::string key_pem_encrypted_pkcs8(const core::PrivateKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  char pass[] = "secret";
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_128_cbc(), pass, 6, nullptr,
                                    nullptr) != 1) {
    fail("PEM_write_bio_PKCS8PrivateKey");
  }
  return bio_string(bio.get());
}

std::string key_pem_encrypted_traditional(const core::PrivateKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  unsigned char pass[] = "secret";
  if (PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), EVP_aes_128_cbc(), pass, 6,
                                           nullptr, nullptr) != 1) {
    fail("PEM_write_bio_PrivateKey_traditional (encrypted)");
  }
  return bio_string(bio.get());
}

std::string key_der(const core::PrivateKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (i2d_PKCS8PrivateKey_bio(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("i2d_PKCS8PrivateKey_bio");
  }
  return bio_string(bio.get());
}

std::string public_key_pem(const core::PrivateKey& key, bool pkcs1) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // "type-specific" is PKCS#1 RSAPublicKey; "SubjectPublicKeyInfo" is the PUBLIC KEY block.
  std::unique_ptr<OSSL_ENCODER_CTX, decltype(&OSSL_ENCODER_CTX_free)> encoder(
      OSSL_ENCODER_CTX_new_for_pkey(key.get(), OSSL_KEYMGMT_SELECT_PUBLIC_KEY, "PEM",
                                    pkcs1 ? "type-specific" : "SubjectPublicKeyInfo", nullptr),
      OSSL_ENCODER_CTX_free);
  if (!encoder || OSSL_ENCODER_to_bio(encoder.get(), bio.get()) != 1) {
    fail("OSSL_ENCODER_to_bio");
  }
  return bio_string(bio.get());
}

std::string sha256_hex(const std::string& bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), md.data(), &size, EVP_sha256(), nullptr);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kDigits[md[i] >> 4];
    out += kDigits[md[i] & 0x0f];
  }
  return out;
}

}  // namespace kp::testcerts
