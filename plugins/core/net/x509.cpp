#include "core/net/x509.h"

#include <algorithm>
#include <arpa/inet.h>
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
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "core/util/base64.h"
#include "core/util/text.h"

namespace kp::core {
namespace {

// ---- RAII holders for the OpenSSL objects this file creates ----

struct BioDeleter {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const noexcept { X509_free(cert); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct StoreDeleter {
  void operator()(X509_STORE* store) const noexcept { X509_STORE_free(store); }
};
struct StoreCtxDeleter {
  void operator()(X509_STORE_CTX* ctx) const noexcept { X509_STORE_CTX_free(ctx); }
};
// Frees the stack only: the certificates in it belong to Certificate objects.
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * stack) const noexcept { sk_X509_free(stack); }
};
struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* names) const noexcept { GENERAL_NAMES_free(names); }
};
struct EkuDeleter {
  void operator()(EXTENDED_KEY_USAGE* eku) const noexcept { EXTENDED_KEY_USAGE_free(eku); }
};
struct BasicConstraintsDeleter {
  void operator()(BASIC_CONSTRAINTS* bc) const noexcept { BASIC_CONSTRAINTS_free(bc); }
};
struct BignumDeleter {
  void operator()(BIGNUM* bn) const noexcept { BN_free(bn); }
};
struct OpensslFree {
  void operator()(void* p) const noexcept { OPENSSL_free(p); }
};

using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using StorePtr = std::unique_ptr<X509_STORE, StoreDeleter>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter>;
using EkuPtr = std::unique_ptr<EXTENDED_KEY_USAGE, EkuDeleter>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, BasicConstraintsDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;
template <class T>
using OpensslPtr = std::unique_ptr<T, OpensslFree>;

// ---- small helpers ----

// The earliest (most specific) reason on OpenSSL's error queue, then an empty queue, so a stale
// error never leaks into the next caller on this thread (libcurl shares the queue).
std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

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

// IA5String SANs are ASCII by definition; take the bytes as they are.
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

std::string object_text(const ASN1_OBJECT* object, bool numeric) {
  std::array<char, 128> text{};
  const int size = OBJ_obj2txt(text.data(), static_cast<int>(text.size()), object, numeric);
  return size > 0 ? std::string(text.data()) : std::string();
}

std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  using namespace std::chrono;
  return sys_days{year{y} / month{m} / day{d}}.time_since_epoch().count();
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

// Go's net.IP.String(): dotted quad for IPv4 (also IPv4-mapped IPv6), RFC 5952 for IPv6 (the
// first longest run of two or more zero groups becomes "::").
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

// Parses an IP literal (optionally in [ ]) into its 16-byte form, IPv4 as IPv4-mapped, so that
// 10.0.0.1 and ::ffff:10.0.0.1 compare equal as Go's net.IP.Equal has them.
bool parse_ip(std::string_view host, std::array<unsigned char, 16>& out) {
  if (host.size() >= 3 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host.size() > 64) {
    return false;
  }
  const std::string text(host);
  out.fill(0);
  unsigned char v4[4];
  // glibc's inet_pton rejects leading zeros ("010.0.0.1") like Go >= 1.17.
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, v4, 4);
    return true;
  }
  return inet_pton(AF_INET6, text.c_str(), out.data()) == 1;
}

bool ip_bytes_16(const ASN1_OCTET_STRING* value, std::array<unsigned char, 16>& out) {
  const int size = ASN1_STRING_length(value);
  const unsigned char* data = ASN1_STRING_get0_data(value);
  out.fill(0);
  if (size == 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, data, 4);
    return true;
  }
  if (size == 16) {
    std::memcpy(out.data(), data, 16);
    return true;
  }
  return false;
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

// Go refuses these for any certificate whose signature it checks (all but the trust anchor).
bool insecure_hash(std::string_view hash) {
  return hash == "SHA1" || hash == "MD5" || hash == "MD4" || hash == "MD2";
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

// ---- PEM scanning ----

struct PemBlock {
  int index = 0;  // 1-based position among all blocks, for messages
  std::string label;
  std::string_view body;  // between the BEGIN and END lines
  bool truncated = false;
};

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// Finds `needle` at the start of a line (after optional blanks, which copy-pasted PEM from
// YAML often has), at or after `from`.
std::size_t find_at_line_start(std::string_view text, std::string_view needle, std::size_t from) {
  for (std::size_t at = text.find(needle, from); at != std::string_view::npos;
       at = text.find(needle, at + 1)) {
    std::size_t i = at;
    while (i > 0 && is_blank(text[i - 1])) {
      --i;
    }
    if (i == 0 || text[i - 1] == '\n') {
      return at;
    }
  }
  return std::string_view::npos;
}

// Every PEM block in order; a block without its END line (or with another BEGIN before it)
// ends the scan as a truncated block. Go's encoding/pem rules, minus its silent skipping.
std::vector<PemBlock> scan_pem(std::string_view text) {
  static constexpr std::string_view kBegin = "-----BEGIN ";
  static constexpr std::string_view kDashes = "-----";
  std::vector<PemBlock> blocks;
  std::size_t pos = 0;
  while (true) {
    const std::size_t begin = find_at_line_start(text, kBegin, pos);
    if (begin == std::string_view::npos) {
      break;
    }
    const std::size_t labelStart = begin + kBegin.size();
    std::size_t lineEnd = text.find('\n', labelStart);
    if (lineEnd == std::string_view::npos) {
      lineEnd = text.size();
    }
    const std::string_view line = trim(text.substr(labelStart, lineEnd - labelStart));
    if (line.size() < kDashes.size() || !line.ends_with(kDashes)) {
      pos = labelStart;  // "-----BEGIN " without a closing "-----" is just text
      continue;
    }
    PemBlock block;
    block.index = static_cast<int>(blocks.size()) + 1;
    block.label = std::string(line.substr(0, line.size() - kDashes.size()));
    const std::size_t bodyStart = std::min(lineEnd + 1, text.size());
    const std::string endLine = "-----END " + block.label + "-----";
    const std::size_t end = find_at_line_start(text, endLine, bodyStart);
    const std::size_t nextBegin = find_at_line_start(text, kBegin, bodyStart);
    if (end == std::string_view::npos || (nextBegin != std::string_view::npos && nextBegin < end)) {
      block.truncated = true;
      blocks.push_back(std::move(block));
      break;
    }
    block.body = text.substr(bodyStart, end - bodyStart);
    blocks.push_back(std::move(block));
    pos = end + endLine.size();
  }
  return blocks;
}

struct PemBody {
  std::string der;
  bool encrypted = false;  // RFC 1421 "Proc-Type: 4,ENCRYPTED" header
};

// The block's bytes: optional RFC 1421 headers ("Name: value" lines up to a blank line), then
// base64 lines, decoded as strictly as Go's StdEncoding.
Result<PemBody> decode_pem_body(std::string_view body) {
  PemBody out;
  std::string base64;
  bool inHeaders = true;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) {
      end = body.size();
    }
    const std::string_view line = trim(body.substr(pos, end - pos));
    pos = end + 1;
    if (inHeaders && line.find(':') != std::string_view::npos) {
      if (line.starts_with("Proc-Type:") && line.find("ENCRYPTED") != std::string_view::npos) {
        out.encrypted = true;
      }
      continue;
    }
    inHeaders = false;
    base64 += line;
  }
  if (base64.empty()) {
    return Error{"empty"};
  }
  auto der = decode_base64(base64);
  if (!der) {
    return der.error();
  }
  out.der = std::move(der).value();
  return out;
}

bool is_certificate_label(std::string_view label) {
  return label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE";
}

bool is_private_key_label(std::string_view label) {
  return label.ends_with("PRIVATE KEY");
}

// "a PEM X block" or "PEM blocks X, Y" (each label once, in order).
std::string describe_labels(const std::vector<PemBlock>& blocks) {
  std::vector<std::string> labels;
  for (const auto& block : blocks) {
    if (std::find(labels.begin(), labels.end(), block.label) == labels.end()) {
      labels.push_back(block.label);
    }
  }
  if (labels.size() == 1) {
    return "a PEM " + labels.front() + " block";
  }
  return "PEM blocks " + join(labels, ", ");
}

// Editors on Windows may save PEM files with a UTF-8 byte order mark before "-----BEGIN".
std::string_view without_bom(std::string_view bytes) {
  if (bytes.starts_with("\xEF\xBB\xBF")) {
    bytes.remove_prefix(3);
  }
  return bytes;
}

// "-----BEGIN" base64-encoded: a Secret's data field copied without decoding.
bool looks_like_base64_pem(std::string_view bytes) {
  return trim(bytes).starts_with("LS0tLS1CRUdJTi");
}

Result<X509Ptr> decode_certificate_der(std::string_view der, bool trusted) {
  ERR_clear_error();
  const auto* data = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = data;
  const long size = static_cast<long>(der.size());
  X509Ptr cert(trusted ? d2i_X509_AUX(nullptr, &p, size) : d2i_X509(nullptr, &p, size));
  if (!cert) {
    return Error{openssl_reason()};
  }
  if (p != data + der.size()) {
    return Error{"trailing data after the certificate"};
  }
  return cert;
}

Result<PkeyPtr> decode_private_key_der(std::string_view der) {
  ERR_clear_error();
  const auto* data = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = data;
  // d2i_AutoPrivateKey reads PKCS#8, PKCS#1 and SEC1; it has no passphrase callback, so an
  // encrypted key fails instead of prompting on the terminal.
  PkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
  if (!key) {
    return Error{openssl_reason()};
  }
  ERR_clear_error();
  if (p != data + der.size()) {
    return Error{"trailing data after the key"};
  }
  return key;
}

// ---- verification ----

VerifyFailure classify_verify_error(int code) {
  switch (code) {
    case X509_V_OK:
      return VerifyFailure::none;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return VerifyFailure::expired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return VerifyFailure::notYetValid;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return VerifyFailure::unknownAuthority;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return VerifyFailure::selfSigned;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    case X509_V_ERR_CA_MD_TOO_WEAK:
      return VerifyFailure::badSignature;
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
      return VerifyFailure::notCA;
    case X509_V_ERR_INVALID_PURPOSE:
      return VerifyFailure::purpose;
    default:
      return VerifyFailure::other;
  }
}

// The system trust store, loaded once: reading the distribution bundle (~150 roots) per call
// would cost milliseconds for every certificate `kubectl certs` verifies. X509_STORE is
// reference-counted and locks its own lookups, so verifications on any thread can share it.
X509_STORE* system_store() {
  static const StorePtr store = [] {
    StorePtr s(X509_STORE_new());
    if (s) {
      X509_STORE_set_default_paths(s.get());
    }
    ERR_clear_error();  // a missing default path is not an error: the store is just empty
    return s;
  }();
  return store.get();
}

struct VerifyState {
  std::string purpose;
  std::vector<VerifyProblem> problems;
};

VerifyProblem describe_problem(int code, int depth, X509* cert, const VerifyState& state) {
  VerifyProblem problem;
  problem.failure = classify_verify_error(code);
  problem.opensslCode = code;
  problem.depth = depth;
  problem.reason = X509_verify_cert_error_string(code);
  if (cert == nullptr) {
    return problem;
  }
  const std::string subject = name_oneline(X509_get_subject_name(cert));
  // The leaf is obvious from depth 0; deeper certificates are named.
  const std::string who = depth > 0 ? ", subject " + subject : "";
  switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      problem.reason +=
          " (notAfter " + rfc3339(asn1_time_unix(X509_get0_notAfter(cert))) + who + ")";
      break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      problem.reason +=
          " (notBefore " + rfc3339(asn1_time_unix(X509_get0_notBefore(cert))) + who + ")";
      break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      problem.reason += " (issuer " + name_oneline(X509_get_issuer_name(cert)) + ")";
      break;
    case X509_V_ERR_INVALID_PURPOSE: {
      const auto eku = ext_key_usage(cert);
      problem.reason += " (wanted " + state.purpose + ", subject " + subject + " has extKeyUsage " +
                        (eku.empty() ? std::string("none") : join(eku, ", ")) + ")";
      break;
    }
    default:
      problem.reason += " (subject " + subject + ")";
  }
  return problem;
}

// Called by OpenSSL for each problem; returning 1 goes on so every problem is collected.
int on_verify(int ok, X509_STORE_CTX* ctx) {
  if (ok == 1) {
    return 1;
  }
  auto* state = static_cast<VerifyState*>(X509_STORE_CTX_get_app_data(ctx));
  const int code = X509_STORE_CTX_get_error(ctx);
  const int depth = X509_STORE_CTX_get_error_depth(ctx);
  VerifyProblem problem =
      describe_problem(code, depth, X509_STORE_CTX_get_current_cert(ctx), *state);
  // OpenSSL reports a missing issuer twice (while building, then "unable to verify the first
  // certificate"); one per kind and depth is the useful amount.
  const bool seen = std::any_of(state->problems.begin(), state->problems.end(), [&](const auto& p) {
    return p.failure == problem.failure && p.depth == problem.depth;
  });
  if (!seen) {
    state->problems.push_back(std::move(problem));
  }
  return 1;
}

}  // namespace

// ---- Certificate / PrivateKey ----

Certificate Certificate::adopt(x509_st* cert) {
  Certificate out;
  if (cert != nullptr) {
    out.cert_ = std::shared_ptr<x509_st>(cert, X509Deleter{});
  }
  return out;
}

Certificate Certificate::share(x509_st* cert) {
  if (cert == nullptr || X509_up_ref(cert) != 1) {
    return {};
  }
  return adopt(cert);
}

std::string Certificate::pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !cert_ || PEM_write_bio_X509(bio.get(), cert_.get()) != 1) {
    ERR_clear_error();
    return "";
  }
  return bio_contents(bio.get());
}

std::string Certificate::der() const {
  unsigned char* der = nullptr;
  const int size = cert_ ? i2d_X509(cert_.get(), &der) : -1;
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

PrivateKey PrivateKey::adopt(evp_pkey_st* key) {
  PrivateKey out;
  if (key != nullptr) {
    out.key_ = std::shared_ptr<evp_pkey_st>(key, PkeyDeleter{});
  }
  return out;
}

PrivateKey PrivateKey::share(evp_pkey_st* key) {
  if (key == nullptr || EVP_PKEY_up_ref(key) != 1) {
    return {};
  }
  return adopt(key);
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

// ---- parsing ----

Result<ParsedCertificates> parse_certificates(std::string_view bytes) {
  bytes = without_bom(bytes);
  if (trim(bytes).empty()) {
    return Error{"empty"};
  }
  const auto blocks = scan_pem(bytes);
  if (blocks.empty()) {
    if (looks_like_base64_pem(bytes)) {
      return Error{"base64-encoded PEM, not PEM (decode it first)"};
    }
    if (static_cast<unsigned char>(bytes.front()) != 0x30) {  // DER starts with a SEQUENCE
      return Error{"not PEM or DER (starts with " + quote_bytes(bytes, 12) + ")"};
    }
    auto cert = decode_certificate_der(bytes, false);
    if (!cert) {
      if (decode_private_key_der(bytes)) {
        return Error{"a DER private key, not a certificate"};
      }
      return Error{"invalid DER certificate: " + cert.error().message};
    }
    ParsedCertificates out;
    out.certs.push_back(Certificate::adopt(std::move(cert).value().release()));
    return out;
  }

  ParsedCertificates out;
  for (const auto& block : blocks) {
    if (block.truncated) {
      return Error{"truncated PEM block " + block.label};
    }
    if (!is_certificate_label(block.label)) {
      out.skipped.push_back("PEM block " + std::to_string(block.index) + ": " + block.label);
      continue;
    }
    const std::string where = "invalid certificate in PEM block " + std::to_string(block.index);
    auto body = decode_pem_body(block.body);
    if (!body) {
      return body.error().prefixed(where);
    }
    auto cert = decode_certificate_der(body->der, block.label == "TRUSTED CERTIFICATE");
    if (!cert) {
      return cert.error().prefixed(where);
    }
    out.certs.push_back(Certificate::adopt(std::move(cert).value().release()));
  }
  if (out.certs.empty()) {
    return Error{describe_labels(blocks) + ", not a certificate"};
  }
  return out;
}

Result<PrivateKey> parse_private_key(std::string_view bytes) {
  bytes = without_bom(bytes);
  if (trim(bytes).empty()) {
    return Error{"empty"};
  }
  const auto blocks = scan_pem(bytes);
  if (blocks.empty()) {
    if (looks_like_base64_pem(bytes)) {
      return Error{"base64-encoded PEM, not PEM (decode it first)"};
    }
    if (static_cast<unsigned char>(bytes.front()) != 0x30) {
      return Error{"not PEM or DER"};  // the bytes are not quoted: they may be a secret
    }
    auto key = decode_private_key_der(bytes);
    if (!key) {
      if (decode_certificate_der(bytes, false)) {
        return Error{"a DER certificate, not a private key"};
      }
      return Error{"invalid DER private key: " + key.error().message};
    }
    return PrivateKey::adopt(std::move(key).value().release());
  }

  for (const auto& block : blocks) {
    if (block.truncated) {
      return Error{"truncated PEM block " + block.label};
    }
    if (!is_private_key_label(block.label)) {
      continue;
    }
    const std::string index = std::to_string(block.index);
    if (block.label == "ENCRYPTED PRIVATE KEY") {
      return Error{"encrypted private key in PEM block " + index +
                   " (passphrases are not supported)"};
    }
    if (block.label == "OPENSSH PRIVATE KEY") {
      return Error{"OpenSSH private key in PEM block " + index +
                   " (not supported; convert it with ssh-keygen -p -m PEM)"};
    }
    const std::string where = "invalid private key in PEM block " + index;
    auto body = decode_pem_body(block.body);
    if (!body) {
      return body.error().prefixed(where);
    }
    if (body->encrypted) {
      return Error{"encrypted private key in PEM block " + index +
                   " (passphrases are not supported)"};
    }
    auto key = decode_private_key_der(body->der);
    OPENSSL_cleanse(body->der.data(), body->der.size());
    if (!key) {
      return key.error().prefixed(where);
    }
    return PrivateKey::adopt(std::move(key).value().release());
  }
  return Error{describe_labels(blocks) + ", not a private key"};
}

Result<PrivateKey> parse_public_key(std::string_view bytes) {
  bytes = without_bom(bytes);
  if (trim(bytes).empty()) {
    return Error{"empty"};
  }
  auto decode = [](std::string_view der, bool pkcs1) -> Result<PrivateKey> {
    ERR_clear_error();
    const auto* data = reinterpret_cast<const unsigned char*>(der.data());
    const unsigned char* p = data;
    const long size = static_cast<long>(der.size());
    PkeyPtr key(pkcs1 ? d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, size)
                      : d2i_PUBKEY(nullptr, &p, size));
    if (!key) {
      return Error{openssl_reason()};
    }
    ERR_clear_error();
    if (p != data + der.size()) {
      return Error{"trailing data after the key"};
    }
    return PrivateKey::adopt(key.release());
  };
  const auto blocks = scan_pem(bytes);
  if (blocks.empty()) {
    if (looks_like_base64_pem(bytes)) {
      return Error{"base64-encoded PEM, not PEM (decode it first)"};
    }
    if (static_cast<unsigned char>(bytes.front()) != 0x30) {
      return Error{"not PEM or DER"};
    }
    auto key = decode(bytes, false);
    if (!key) {
      return Error{"invalid DER public key: " + key.error().message};
    }
    return key;
  }
  for (const auto& block : blocks) {
    if (block.truncated) {
      return Error{"truncated PEM block " + block.label};
    }
    if (block.label != "PUBLIC KEY" && block.label != "RSA PUBLIC KEY") {
      continue;
    }
    const std::string where = "invalid public key in PEM block " + std::to_string(block.index);
    auto body = decode_pem_body(block.body);
    if (!body) {
      return body.error().prefixed(where);
    }
    auto key = decode(body->der, block.label == "RSA PUBLIC KEY");
    if (!key) {
      return key.error().prefixed(where);
    }
    return key;
  }
  return Error{describe_labels(blocks) + ", not a public key"};
}

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

bool issued_by(const Certificate& cert, const Certificate& issuer) {
  if (!cert || !issuer) {
    return false;
  }
  bool ok = X509_check_issued(issuer.native(), cert.native()) == X509_V_OK;
  if (ok) {
    EVP_PKEY* issuerKey = X509_get0_pubkey(issuer.get());
    ok = issuerKey != nullptr && X509_verify(cert.native(), issuerKey) == 1;
  }
  ERR_clear_error();
  return ok;
}

// ---- host names (Go's crypto/x509 verify.go) ----

namespace {

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::vector<std::string_view> split_labels(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    parts.push_back(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) {
      return parts;
    }
    start = dot + 1;
  }
}

// Go's validHostname: letters, digits, '-' (not first), '_'; a pattern may start with "*.".
bool valid_hostname(std::string_view host, bool isPattern) {
  if (!isPattern && host.ends_with('.')) {
    host.remove_suffix(1);
  }
  if (host.empty() || host == "*") {
    return false;
  }
  const auto labels = split_labels(host);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto label = labels[i];
    if (label.empty()) {
      return false;
    }
    if (isPattern && i == 0 && label == "*") {
      continue;
    }
    for (std::size_t j = 0; j < label.size(); ++j) {
      const char c = label[j];
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      (c == '-' && j != 0) || c == '_';
      if (!ok) {
        return false;
      }
    }
  }
  return true;
}

bool match_exactly(std::string_view a, std::string_view b) {
  if (a.empty() || a == "." || b.empty() || b == ".") {
    return false;
  }
  return lower_ascii(a) == lower_ascii(b);
}

// Go's matchHostnames: same label count, a "*" left-most label matches exactly one label.
bool match_hostnames(std::string_view pattern, std::string_view host) {
  const std::string p = lower_ascii(pattern);
  std::string h = lower_ascii(host);
  if (h.ends_with('.')) {
    h.pop_back();
  }
  if (p.empty() || h.empty()) {
    return false;
  }
  const auto patternLabels = split_labels(p);
  const auto hostLabels = split_labels(h);
  if (patternLabels.size() != hostLabels.size()) {
    return false;
  }
  for (std::size_t i = 0; i < patternLabels.size(); ++i) {
    if (i == 0 && patternLabels[i] == "*") {
      continue;
    }
    if (patternLabels[i] != hostLabels[i]) {
      return false;
    }
  }
  return true;
}

struct SanView {
  bool hasExtension = false;
  std::vector<std::string> dnsNames;
  std::vector<std::array<unsigned char, 16>> ips;
  std::vector<std::string> ipTexts;
};

SanView read_sans(const X509* x) {
  SanView view;
  view.hasExtension = X509_get_ext_by_NID(x, NID_subject_alt_name, -1) >= 0;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
  ERR_clear_error();
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      view.dnsNames.push_back(asn1_string_bytes(name->d.dNSName));
    } else if (name->type == GEN_IPADD) {
      std::array<unsigned char, 16> ip{};
      if (ip_bytes_16(name->d.iPAddress, ip)) {
        view.ips.push_back(ip);
      }
      view.ipTexts.push_back(
          format_ip(ASN1_STRING_get0_data(name->d.iPAddress),
                    static_cast<std::size_t>(ASN1_STRING_length(name->d.iPAddress))));
    }
  }
  return view;
}

bool sans_match_host(const SanView& sans, std::string_view host) {
  std::array<unsigned char, 16> ip{};
  if (parse_ip(host, ip)) {
    return std::find(sans.ips.begin(), sans.ips.end(), ip) != sans.ips.end();
  }
  const std::string candidate = lower_ascii(host);
  const bool validCandidate = valid_hostname(candidate, false);
  for (const auto& pattern : sans.dnsNames) {
    // Wildcards and the trailing dot only for valid names; anything else must match exactly.
    if (validCandidate && valid_hostname(pattern, true)) {
      if (match_hostnames(pattern, candidate)) {
        return true;
      }
    } else if (match_exactly(pattern, candidate)) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool certificate_matches_host(const Certificate& cert, std::string_view host) {
  if (!cert) {
    return false;
  }
  return sans_match_host(read_sans(cert.get()), host);
}

std::string host_mismatch_message(const Certificate& cert, std::string_view host) {
  if (!cert) {
    return "no certificate";
  }
  const SanView sans = read_sans(cert.get());
  if (sans_match_host(sans, host)) {
    return "";
  }
  std::string shown(host);
  if (shown.size() >= 3 && shown.front() == '[' && shown.back() == ']') {
    shown = shown.substr(1, shown.size() - 2);  // Go names the IP without brackets
  }
  const auto commonNames = name_entries(X509_get_subject_name(cert.get()), NID_commonName);
  if (!sans.hasExtension && !commonNames.empty() && match_hostnames(commonNames.back(), host)) {
    return "certificate relies on legacy Common Name field, use SANs instead";
  }
  std::array<unsigned char, 16> ip{};
  if (parse_ip(host, ip) && sans.ipTexts.empty()) {
    return "cannot validate certificate for " + shown + " because it doesn't contain any IP SANs";
  }
  std::vector<std::string> valid = sans.dnsNames;
  valid.insert(valid.end(), sans.ipTexts.begin(), sans.ipTexts.end());
  if (valid.empty()) {
    return "certificate is not valid for any names, but wanted to match " + shown;
  }
  return "certificate is valid for " + join(valid, ", ") + ", not " + shown;
}

// ---- verification ----

VerifyOutcome verify_chain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                           const std::vector<Certificate>& roots, std::int64_t atUnix,
                           std::string_view purpose) {
  VerifyOutcome outcome;
  auto fail = [&outcome](std::string reason) {
    outcome.failure = VerifyFailure::other;
    outcome.reason = reason;
    outcome.problems.push_back(VerifyProblem{VerifyFailure::other, 0, 0, std::move(reason)});
    return outcome;
  };
  if (!leaf) {
    return fail("no certificate to verify");
  }
  int purposeId = 0;
  if (purpose == "serverAuth") {
    purposeId = X509_PURPOSE_SSL_SERVER;
  } else if (purpose == "clientAuth") {
    purposeId = X509_PURPOSE_SSL_CLIENT;
  } else if (!purpose.empty()) {
    return fail("unknown purpose \"" + std::string(purpose) + "\"");
  }

  ERR_clear_error();
  StorePtr ownStore(roots.empty() ? nullptr : X509_STORE_new());
  X509_STORE* store = roots.empty() ? system_store() : ownStore.get();
  X509StackPtr untrusted(sk_X509_new_null());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (store == nullptr || !untrusted || !ctx) {
    return fail("out of memory: " + openssl_reason());
  }
  for (const auto& root : roots) {
    if (root) {
      X509_STORE_add_cert(store, root.native());  // takes its own reference
    }
  }
  for (const auto& cert : intermediates) {
    if (cert) {
      sk_X509_push(untrusted.get(), cert.native());
    }
  }
  ERR_clear_error();  // a duplicate root or an unreadable default path is not a failure
  if (X509_STORE_CTX_init(ctx.get(), store, leaf.native(), untrusted.get()) != 1) {
    return fail("cannot start verification: " + openssl_reason());
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // Go treats every root in the pool as an anchor, self-signed or not (a CA bundle holding only
  // an intermediate works with kubectl); OpenSSL needs partial-chain mode for that.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (atUnix != 0) {
    X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(atUnix));
  }
  if (purposeId != 0) {
    X509_STORE_CTX_set_purpose(ctx.get(), purposeId);
  }
  VerifyState state;
  state.purpose = std::string(purpose);
  X509_STORE_CTX_set_app_data(ctx.get(), &state);
  X509_STORE_CTX_set_verify_cb(ctx.get(), on_verify);

  const int verified = X509_verify_cert(ctx.get());
  if (verified != 1 && state.problems.empty()) {
    const int code = X509_STORE_CTX_get_error(ctx.get());
    VerifyProblem problem = describe_problem(code, X509_STORE_CTX_get_error_depth(ctx.get()),
                                             X509_STORE_CTX_get_current_cert(ctx.get()), state);
    state.problems.push_back(std::move(problem));
  }
  ERR_clear_error();

  if (STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get()); chain != nullptr) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      outcome.verifiedChain.push_back(Certificate::share(sk_X509_value(chain, i)));
    }
  }
  // OpenSSL without a security level accepts SHA-1; Go does not (except on the anchor, whose
  // signature nobody checks, and on the last certificate when no anchor was found).
  for (std::size_t depth = 0; depth + 1 < outcome.verifiedChain.size(); ++depth) {
    const X509* cert = outcome.verifiedChain[depth].get();
    const std::string hash = signature_hash(cert);
    if (insecure_hash(hash)) {
      VerifyProblem problem;
      problem.failure = VerifyFailure::badSignature;
      problem.opensslCode = X509_V_ERR_CA_MD_TOO_WEAK;
      problem.depth = static_cast<int>(depth);
      problem.reason = "insecure signature algorithm " +
                       inspect(outcome.verifiedChain[depth]).signatureAlgorithm +
                       " (Go and so kubectl reject " + hash + " signatures)";
      state.problems.push_back(std::move(problem));
    }
  }

  if (state.problems.empty()) {
    outcome.ok = true;
    return outcome;
  }
  // Go reports validity-period errors before chain errors; keep that order for the headline.
  auto primary = state.problems.begin();
  for (auto it = state.problems.begin(); it != state.problems.end(); ++it) {
    const bool timeError =
        it->failure == VerifyFailure::expired || it->failure == VerifyFailure::notYetValid;
    const bool primaryIsTime = primary->failure == VerifyFailure::expired ||
                               primary->failure == VerifyFailure::notYetValid;
    if (timeError && (!primaryIsTime || it->depth < primary->depth)) {
      primary = it;
    }
  }
  std::rotate(state.problems.begin(), primary, primary + 1);
  outcome.problems = std::move(state.problems);
  outcome.failure = outcome.problems.front().failure;
  outcome.opensslCode = outcome.problems.front().opensslCode;
  outcome.depth = outcome.problems.front().depth;
  outcome.reason = outcome.problems.front().reason;
  return outcome;
}

}  // namespace kp::core
