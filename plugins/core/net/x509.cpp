// The Certificate and PrivateKey handles, inspection (CertInfo, KeyInfo), key pairing, and the
// certificate-reading helpers the other x509 files share (x509_detail.h).
#include "core/net/x509.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/net/x509_detail.h"

namespace kp::core {
namespace detail {
namespace {

// ---- helpers used only here ----

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0f]);
  }
  return out;
}

std::string sha256_hex(const unsigned char* data, std::size_t size) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int mdSize = 0;
  if (EVP_Digest(data, size, md.data(), &mdSize, EVP_sha256(), nullptr) != 1) {
    ERR_clear_error();
    return "";
  }
  return hex(md.data(), mdSize);
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::string asn1_string_utf8(const ASN1_STRING* value) {
  unsigned char* out = nullptr;
  const int size = ASN1_STRING_to_UTF8(&out, value);
  if (size < 0) {
    ERR_clear_error();
    return "";
  }
  OpensslPtr<unsigned char> owned(out);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(size));
}

std::string object_text(const ASN1_OBJECT* object, bool numeric) {
  std::array<char, 128> text{};
  const int size = OBJ_obj2txt(text.data(), static_cast<int>(text.size()), object, numeric);
  return size > 0 ? std::string(text.data()) : std::string();
}

std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  using namespace std::chrono;
  return sys_days{year{y} / month{m} / day{d}}.time_since_epoch().count();
}

struct KeyDescription {
  std::string type;
  int bits = 0;
  std::string curve;
};

KeyDescription describe_key(const EVP_PKEY* key) {
  KeyDescription out;
  if (key == nullptr) {
    return out;
  }
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      out.type = "RSA";
      break;
    case EVP_PKEY_RSA_PSS:
      out.type = "RSA-PSS";
      break;
    case EVP_PKEY_EC:
      out.type = "ECDSA";
      break;
    case EVP_PKEY_ED25519:
      out.type = "Ed25519";
      break;
    case EVP_PKEY_ED448:
      out.type = "Ed448";
      break;
    case EVP_PKEY_DSA:
      out.type = "DSA";
      break;
    default: {
      const char* name = EVP_PKEY_get0_type_name(key);
      out.type = name != nullptr ? name : "unknown";
    }
  }
  out.bits = EVP_PKEY_get_bits(key);
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    std::array<char, 80> group{};
    std::size_t size = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(),
                                       &size) == 1) {
      const char* nist = EC_curve_nid2nist(OBJ_sn2nid(group.data()));
      out.curve = nist != nullptr ? nist : group.data();
    }
  }
  ERR_clear_error();
  return out;
}

std::string spki_sha256(const X509* cert) {
  unsigned char* der = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (size <= 0) {
    ERR_clear_error();
    return "";
  }
  OpensslPtr<unsigned char> owned(der);
  return sha256_hex(der, static_cast<std::size_t>(size));
}

}  // namespace

// ---- helpers shared with the other x509 files (x509_detail.h) ----

std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

std::string asn1_string_bytes(const ASN1_STRING* value) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
}

std::string name_oneline(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) {
    return "";
  }
  // RFC 2253 as `openssl x509 -nameopt RFC2253` prints it, except that UTF-8 is printed as is
  // (not as \C3\A9 escapes): people read these lines.
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return bio_contents(bio.get());
}

std::vector<std::string> name_entries(const X509_NAME* name, int nid) {
  std::vector<std::string> values;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    values.push_back(asn1_string_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i))));
  }
  return values;
}

std::int64_t asn1_time_unix(const ASN1_TIME* time) {
  struct tm parts {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    ERR_clear_error();
    return 0;
  }
  return days_from_civil(parts.tm_year + 1900, static_cast<unsigned>(parts.tm_mon + 1),
                         static_cast<unsigned>(parts.tm_mday)) *
             86400 +
         parts.tm_hour * 3600 + parts.tm_min * 60 + parts.tm_sec;
}

std::string format_ip(const unsigned char* bytes, std::size_t size) {
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (size == 16 && std::memcmp(bytes, kMapped, sizeof kMapped) == 0) {
    bytes += 12;
    size = 4;
  }
  if (size == 4) {
    return std::to_string(bytes[0]) + "." + std::to_string(bytes[1]) + "." +
           std::to_string(bytes[2]) + "." + std::to_string(bytes[3]);
  }
  if (size != 16) {
    return "<invalid IP address of " + std::to_string(size) + " bytes>";
  }
  std::array<unsigned, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) {
    groups[i] = (static_cast<unsigned>(bytes[2 * i]) << 8) | bytes[2 * i + 1];
  }
  int zeroStart = -1;
  int zeroEnd = -1;
  for (int i = 0; i < 8; ++i) {
    int j = i;
    while (j < 8 && groups[static_cast<std::size_t>(j)] == 0) {
      ++j;
    }
    if (j - i >= 2 && j - i > zeroEnd - zeroStart) {
      zeroStart = i;
      zeroEnd = j;
    }
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == zeroStart) {
      out += "::";
      i = zeroEnd - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') {
      out += ':';
    }
    std::array<char, 8> group{};
    std::snprintf(group.data(), group.size(), "%x", groups[static_cast<std::size_t>(i)]);
    out += group.data();
  }
  return out;
}

std::string signature_hash(const X509* cert) {
  int digest = NID_undef;
  int pkey = NID_undef;
  if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digest, &pkey) != 1 ||
      digest == NID_undef) {
    return "";
  }
  const char* name = OBJ_nid2sn(digest);
  return name != nullptr ? name : "";
}

std::vector<std::string> ext_key_usage(const X509* cert) {
  std::vector<std::string> out;
  EkuPtr eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  if (!eku) {
    ERR_clear_error();
    return out;
  }
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    const ASN1_OBJECT* object = sk_ASN1_OBJECT_value(eku.get(), i);
    const int nid = OBJ_obj2nid(object);
    const char* name = nid != NID_undef ? OBJ_nid2sn(nid) : nullptr;
    out.push_back(name != nullptr ? std::string(name) : object_text(object, true));
  }
  return out;
}

}  // namespace detail

using namespace detail;

// ---- Certificate / PrivateKey ----

namespace {
void release(x509_st* cert) {
  X509_free(cert);
}
void release(evp_pkey_st* key) {
  EVP_PKEY_free(key);
}
bool add_reference(x509_st* cert) {
  return X509_up_ref(cert) == 1;
}
bool add_reference(evp_pkey_st* key) {
  return EVP_PKEY_up_ref(key) == 1;
}
}  // namespace

template <class Self, class T>
Self SharedHandle<Self, T>::adopt(T* handle) {
  Self out;
  if (handle != nullptr) {
    static_cast<SharedHandle&>(out).handle_ =
        std::shared_ptr<T>(handle, [](T* owned) { release(owned); });
  }
  return out;
}

template <class Self, class T>
Self SharedHandle<Self, T>::share(T* handle) {
  if (handle == nullptr || !add_reference(handle)) {
    return {};
  }
  return adopt(handle);
}

template class SharedHandle<Certificate, x509_st>;
template class SharedHandle<PrivateKey, evp_pkey_st>;

std::string Certificate::pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !*this || PEM_write_bio_X509(bio.get(), native()) != 1) {
    ERR_clear_error();
    return "";
  }
  return bio_contents(bio.get());
}

std::string Certificate::der() const {
  unsigned char* der = nullptr;
  const int size = *this ? i2d_X509(get(), &der) : -1;
  if (size <= 0) {
    ERR_clear_error();
    return "";
  }
  OpensslPtr<unsigned char> owned(der);
  return std::string(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size));
}

bool operator==(const Certificate& a, const Certificate& b) {
  if (!a || !b) {
    return !a && !b;
  }
  return a.get() == b.get() || a.der() == b.der();
}

// ---- inspection ----

std::string rfc3339(std::int64_t unixSeconds) {
  // Years 0001..9999: what certificates can hold, and what keeps the calendar maths in range.
  static constexpr std::int64_t kMin = -62135596800;  // 0001-01-01T00:00:00Z
  static constexpr std::int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
  unixSeconds = std::clamp(unixSeconds, kMin, kMax);
  std::int64_t days = unixSeconds / 86400;
  std::int64_t seconds = unixSeconds % 86400;
  if (seconds < 0) {
    seconds += 86400;
    days -= 1;
  }
  using namespace std::chrono;
  const year_month_day date{sys_days{std::chrono::days{days}}};
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(seconds / 3600),
                static_cast<int>(seconds / 60 % 60), static_cast<int>(seconds % 60));
  return text.data();
}

CertInfo inspect(const Certificate& cert) {
  CertInfo info;
  X509* x = cert.native();
  if (x == nullptr) {
    return info;
  }
  info.version = static_cast<int>(X509_get_version(x)) + 1;
  const X509_NAME* subject = X509_get_subject_name(x);
  info.subject = name_oneline(subject);
  info.issuer = name_oneline(X509_get_issuer_name(x));
  const auto commonNames = name_entries(subject, NID_commonName);
  info.commonName = commonNames.empty() ? "" : commonNames.back();
  info.organizations = name_entries(subject, NID_organizationName);

  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr));
  if (serial) {
    OpensslPtr<char> text(BN_bn2hex(serial.get()));
    if (text) {
      info.serial = text.get();
      std::transform(info.serial.begin(), info.serial.end(), info.serial.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
  }

  info.notBeforeUnix = asn1_time_unix(X509_get0_notBefore(x));
  info.notAfterUnix = asn1_time_unix(X509_get0_notAfter(x));
  info.notBefore = rfc3339(info.notBeforeUnix);
  info.notAfter = rfc3339(info.notAfterUnix);

  info.hasSanExtension = X509_get_ext_by_NID(x, NID_subject_alt_name, -1) >= 0;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    switch (name->type) {
      case GEN_DNS:
        info.dnsNames.push_back(asn1_string_bytes(name->d.dNSName));
        break;
      case GEN_IPADD:
        info.ipAddresses.push_back(
            format_ip(ASN1_STRING_get0_data(name->d.iPAddress),
                      static_cast<std::size_t>(ASN1_STRING_length(name->d.iPAddress))));
        break;
      case GEN_URI:
        info.uris.push_back(asn1_string_bytes(name->d.uniformResourceIdentifier));
        break;
      case GEN_EMAIL:
        info.emails.push_back(asn1_string_bytes(name->d.rfc822Name));
        break;
      default:
        break;  // otherName, directoryName, ...: not used for TLS names
    }
  }

  const std::uint32_t usage = X509_get_key_usage(x);
  if (usage != UINT32_MAX) {
    static constexpr std::pair<std::uint32_t, const char*> kUsages[] = {
        {KU_DIGITAL_SIGNATURE, "digitalSignature"},
        {KU_NON_REPUDIATION, "nonRepudiation"},
        {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
        {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
        {KU_KEY_AGREEMENT, "keyAgreement"},
        {KU_KEY_CERT_SIGN, "keyCertSign"},
        {KU_CRL_SIGN, "cRLSign"},
        {KU_ENCIPHER_ONLY, "encipherOnly"},
        {KU_DECIPHER_ONLY, "decipherOnly"},
    };
    for (const auto& [bit, label] : kUsages) {
      if ((usage & bit) != 0) {
        info.keyUsage.emplace_back(label);
      }
    }
  }
  info.extKeyUsage = ext_key_usage(x);

  BasicConstraintsPtr constraints(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(x, NID_basic_constraints, nullptr, nullptr)));
  if (constraints) {
    info.isCA = constraints->ca != 0;
    if (constraints->pathlen != nullptr) {
      info.pathLen = static_cast<int>(ASN1_INTEGER_get(constraints->pathlen));
    }
  }

  const EVP_PKEY* key = X509_get0_pubkey(x);
  if (key != nullptr) {
    auto description = describe_key(key);
    info.keyType = std::move(description.type);
    info.keyBits = description.bits;
    info.curve = std::move(description.curve);
  } else {
    // An algorithm OpenSSL cannot load: name it by its OID rather than guess.
    ASN1_OBJECT* algorithm = nullptr;
    if (X509_PUBKEY_get0_param(&algorithm, nullptr, nullptr, nullptr, X509_get_X509_PUBKEY(x)) ==
        1) {
      info.keyType = object_text(algorithm, false);
    }
  }

  const X509_ALGOR* algorithm = nullptr;
  X509_get0_signature(nullptr, &algorithm, x);
  if (algorithm != nullptr) {
    const ASN1_OBJECT* object = nullptr;
    X509_ALGOR_get0(&object, nullptr, nullptr, algorithm);
    info.signatureAlgorithm = object_text(object, false);
  }
  info.signatureHash = signature_hash(x);

  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int mdSize = 0;
  if (X509_digest(x, EVP_sha256(), md.data(), &mdSize) == 1) {
    info.sha256Fingerprint = hex(md.data(), mdSize);
  }
  info.publicKeySha256 = spki_sha256(x);

  if (const ASN1_OCTET_STRING* id = X509_get0_authority_key_id(x); id != nullptr) {
    info.authorityKeyId =
        hex(ASN1_STRING_get0_data(id), static_cast<std::size_t>(ASN1_STRING_length(id)));
  }
  if (const ASN1_OCTET_STRING* id = X509_get0_subject_key_id(x); id != nullptr) {
    info.subjectKeyId =
        hex(ASN1_STRING_get0_data(id), static_cast<std::size_t>(ASN1_STRING_length(id)));
  }
  info.selfSigned = X509_self_signed(x, 1) == 1;
  ERR_clear_error();
  return info;
}

KeyInfo inspect_key(const PrivateKey& key) {
  KeyInfo info;
  if (!key) {
    return info;
  }
  auto description = describe_key(key.get());
  info.keyType = std::move(description.type);
  info.keyBits = description.bits;
  info.curve = std::move(description.curve);
  info.publicKeySha256 = public_key_sha256(key);
  return info;
}

// ---- key pairing ----

std::string public_key_sha256(const PrivateKey& key) {
  unsigned char* der = nullptr;
  const int size = key ? i2d_PUBKEY(key.get(), &der) : -1;
  if (size <= 0) {
    ERR_clear_error();
    return "";
  }
  OpensslPtr<unsigned char> owned(der);
  return sha256_hex(der, static_cast<std::size_t>(size));
}

bool key_matches(const Certificate& cert, const PrivateKey& key) {
  if (!cert || !key) {
    return false;
  }
  const EVP_PKEY* certKey = X509_get0_pubkey(cert.get());
  const bool same = certKey != nullptr && EVP_PKEY_eq(certKey, key.get()) == 1;
  ERR_clear_error();
  return same;
}

}  // namespace kp::core
