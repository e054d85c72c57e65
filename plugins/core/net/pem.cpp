// Parsing certificates and keys from bytes: PEM bundles (Go's encoding/pem rules, minus its
// silent skipping) and DER, with errors that say what the bytes were instead.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "core/net/x509.h"
#include "core/net/x509_detail.h"
#include "core/util/base64.h"
#include "core/util/text.h"

namespace kp::core {

using namespace detail;

namespace {

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

// `decode` (PemBody -> Result) applied to the body of `block`; an error of either step reads
// "invalid <what> in PEM block N: ...".
template <class Decode>
auto decode_block(const PemBlock& block, std::string_view what, Decode decode)
    -> decltype(decode(std::declval<const PemBody&>())) {
  const std::string where =
      "invalid " + std::string(what) + " in PEM block " + std::to_string(block.index);
  Result<PemBody> body = decode_pem_body(block.body);
  if (!body) {
    return body.error().prefixed(where);
  }
  auto decoded = decode(*body);
  if (!decoded) {
    return decoded.error().prefixed(where);
  }
  return decoded;
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

}  // namespace

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
    auto cert = decode_block(block, "certificate", [&block](const PemBody& body) {
      return decode_certificate_der(body.der, block.label == "TRUSTED CERTIFICATE");
    });
    if (!cert) {
      return cert.error();
    }
    out.certs.push_back(Certificate::adopt(std::move(cert).value().release()));
  }
  if (out.certs.empty()) {
    return Error{describe_labels(blocks) + ", not a certificate"};
  }
  return out;
}

namespace {

// Finds the first private key of `bytes` (the rules parse_private_key documents) and returns
// use(der, block): its DER, decoded from PEM block `block` (1-based), or the bytes themselves
// (block 0). The decoded copy is wiped once `use` returns. Errors are parse_private_key's.
template <class T, class Use>
Result<T> with_private_key_der(std::string_view bytes, Use use) {
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
    return use(bytes, 0);
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
    auto body = decode_pem_body(block.body);
    if (!body) {
      return body.error().prefixed("invalid private key in PEM block " + index);
    }
    std::string& der = body->der;
    Result<T> result = body->encrypted
                           ? Result<T>(Error{"encrypted private key in PEM block " + index +
                                             " (passphrases are not supported)"})
                           : use(std::string_view(der), block.index);
    OPENSSL_cleanse(der.data(), der.size());
    return result;
  }
  return Error{describe_labels(blocks) + ", not a private key"};
}

// OpenSSL's reading of a key with_private_key_der found, with parse_private_key's errors.
Result<PrivateKey> decode_found_key(std::string_view der, int block) {
  auto key = decode_private_key_der(der);
  if (!key && block > 0) {
    return key.error().prefixed("invalid private key in PEM block " + std::to_string(block));
  }
  if (!key) {
    if (decode_certificate_der(der, false)) {
      return Error{"a DER certificate, not a private key"};
    }
    return Error{"invalid DER private key: " + key.error().message};
  }
  return PrivateKey::adopt(std::move(key).value().release());
}

// ---- the public half of RSA and EC private keys, read from their own fields ----
//
// OpenSSL 3.0 sets up a decoder chain for every private key it reads (OSSL_DECODER_CTX_new_
// for_pkey), which costs far more than reading the key. Pairing a certificate with its key
// needs only the public half, and RSA and EC private keys hold it: RSA's modulus and exponent,
// EC's curve and public point. Strict DER only; whatever this does not read is OpenSSL's.

// One DER element: its tag (low-tag-number form) and contents.
struct DerElement {
  unsigned char tag = 0;
  std::string_view contents;
};

constexpr unsigned char kDerInteger = 0x02;
constexpr unsigned char kDerBitString = 0x03;
constexpr unsigned char kDerOctetString = 0x04;
constexpr unsigned char kDerNull = 0x05;
constexpr unsigned char kDerOid = 0x06;
constexpr unsigned char kDerSequence = 0x30;
constexpr unsigned char kDerExplicit0 = 0xa0;  // [0], constructed
constexpr unsigned char kDerExplicit1 = 0xa1;  // [1], constructed
constexpr unsigned char kDerImplicit1 = 0x81;  // [1] IMPLICIT BIT STRING (PKCS#8 v2 publicKey)

// rsaEncryption (1.2.840.113549.1.1.1) and id-ecPublicKey (1.2.840.10045.2.1), DER contents.
constexpr std::string_view kRsaEncryptionOid{"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 9};
constexpr std::string_view kEcPublicKeyOid{"\x2a\x86\x48\xce\x3d\x02\x01", 7};

// Takes the first element off `in`: definite length in its shortest form, at most 4 length
// bytes; nullopt for anything else.
std::optional<DerElement> take_der(std::string_view& in) {
  if (in.size() < 2 || (static_cast<unsigned char>(in[0]) & 0x1f) == 0x1f) {
    return std::nullopt;
  }
  DerElement element{static_cast<unsigned char>(in[0]), {}};
  std::size_t length = static_cast<unsigned char>(in[1]);
  std::size_t header = 2;
  if (length >= 0x80) {
    const std::size_t count = length & 0x7f;
    if (count == 0 || count > 4 || in.size() < 2 + count || in[2] == 0) {
      return std::nullopt;  // indefinite, too long, or a leading zero
    }
    length = 0;
    for (std::size_t i = 0; i < count; ++i) {
      length = (length << 8) | static_cast<unsigned char>(in[2 + i]);
    }
    if (length < 0x80) {
      return std::nullopt;  // would have fit the short form
    }
    header += count;
  }
  if (in.size() - header < length) {
    return std::nullopt;
  }
  element.contents = in.substr(header, length);
  in.remove_prefix(header + length);
  return element;
}

// The next element of `in` when it has tag `tag`.
std::optional<std::string_view> take_tagged(std::string_view& in, unsigned char tag) {
  std::string_view rest = in;
  std::optional<DerElement> element = take_der(rest);
  if (!element || element->tag != tag) {
    return std::nullopt;
  }
  in = rest;
  return element->contents;
}

// A DER INTEGER's contents in its shortest form, not negative.
bool positive_integer(std::string_view contents) {
  if (contents.empty() || (static_cast<unsigned char>(contents[0]) & 0x80) != 0) {
    return false;
  }
  return contents.size() == 1 || contents[0] != 0 ||
         (static_cast<unsigned char>(contents[1]) & 0x80) != 0;
}

// What pairs a key with a certificate: RSA (modulus, exponent) or EC (curve OID, point), as
// DER contents.
struct PublicHalf {
  bool rsa = false;
  std::string_view first, second;
};

// RSAPublicKey or RSAPrivateKey (RFC 8017 A.1; two-prime only): the modulus and exponent.
std::optional<PublicHalf> rsa_public_half(std::string_view der, bool privateKey) {
  std::optional<std::string_view> body = take_tagged(der, kDerSequence);
  if (!body || !der.empty()) {
    return std::nullopt;
  }
  const std::size_t integers = privateKey ? 9 : 2;
  std::vector<std::string_view> fields;
  for (std::size_t i = 0; i < integers; ++i) {
    std::optional<std::string_view> field = take_tagged(*body, kDerInteger);
    if (!field || !positive_integer(*field)) {
      return std::nullopt;
    }
    fields.push_back(*field);
  }
  if (!body->empty() || (privateKey && fields[0] != std::string_view("\0", 1))) {
    return std::nullopt;
  }
  const std::size_t first = privateKey ? 1 : 0;
  return PublicHalf{true, fields[first], fields[first + 1]};
}

// The public point of an uncompressed-or-compressed BIT STRING's contents (no unused bits).
std::optional<std::string_view> bit_string_bytes(std::string_view contents) {
  if (contents.size() < 2 || contents[0] != 0) {
    return std::nullopt;
  }
  return contents.substr(1);
}

// ECPrivateKey (RFC 5915): the curve (its own, else `outerCurve` from PKCS#8) and the public
// point, which must be present (computing it is OpenSSL's job).
std::optional<PublicHalf> ec_public_half(std::string_view der, std::string_view outerCurve) {
  std::optional<std::string_view> body = take_tagged(der, kDerSequence);
  if (!body || !der.empty()) {
    return std::nullopt;
  }
  const std::optional<std::string_view> version = take_tagged(*body, kDerInteger);
  const std::optional<std::string_view> scalar = take_tagged(*body, kDerOctetString);
  if (!version || *version != "\x01" || !scalar || scalar->empty()) {
    return std::nullopt;
  }
  std::string_view curve = outerCurve;
  if (std::optional<std::string_view> parameters = take_tagged(*body, kDerExplicit0)) {
    std::optional<std::string_view> oid = take_tagged(*parameters, kDerOid);
    if (!oid || oid->empty() || !parameters->empty() ||
        (!outerCurve.empty() && *oid != outerCurve)) {
      return std::nullopt;  // explicit parameters, or two curves
    }
    curve = *oid;
  }
  std::optional<std::string_view> publicKey = take_tagged(*body, kDerExplicit1);
  if (!publicKey || curve.empty()) {
    return std::nullopt;
  }
  std::optional<std::string_view> bits = take_tagged(*publicKey, kDerBitString);
  if (!bits || !publicKey->empty() || !body->empty()) {
    return std::nullopt;
  }
  std::optional<std::string_view> point = bit_string_bytes(*bits);
  if (!point) {
    return std::nullopt;
  }
  return PublicHalf{false, curve, *point};
}

// The public half of a PKCS#8 PrivateKeyInfo (RFC 5958), PKCS#1 RSAPrivateKey or SEC1
// ECPrivateKey, told apart by their shape as d2i_AutoPrivateKey does; nullopt for other key
// types and anything unusual.
std::optional<PublicHalf> private_key_public_half(std::string_view der) {
  std::string_view outer = der;
  std::optional<std::string_view> body = take_tagged(outer, kDerSequence);
  if (!body || !outer.empty()) {
    return std::nullopt;
  }
  std::string_view fields = *body;
  const std::optional<std::string_view> version = take_tagged(fields, kDerInteger);
  if (!version) {
    return std::nullopt;
  }
  std::string_view peek = fields;
  const std::optional<DerElement> second = take_der(peek);
  if (!second) {
    return std::nullopt;
  }
  if (second->tag == kDerInteger) {
    return rsa_public_half(der, true);
  }
  if (second->tag == kDerOctetString) {
    return ec_public_half(der, {});
  }
  // PrivateKeyInfo: version 0 or 1, AlgorithmIdentifier, the key, optional attributes ([0]) and
  // (v2) public key ([1]).
  if (second->tag != kDerSequence ||
      (*version != std::string_view("\0", 1) && *version != "\x01")) {
    return std::nullopt;
  }
  std::optional<std::string_view> algorithm = take_tagged(fields, kDerSequence);
  std::optional<std::string_view> key = take_tagged(fields, kDerOctetString);
  if (!algorithm || !key) {
    return std::nullopt;
  }
  (void)take_tagged(fields, kDerExplicit0);
  (void)take_tagged(fields, kDerImplicit1);
  std::optional<std::string_view> oid = take_tagged(*algorithm, kDerOid);
  if (!fields.empty() || !oid) {
    return std::nullopt;
  }
  if (*oid == kRsaEncryptionOid) {
    if (!algorithm->empty() && (!take_tagged(*algorithm, kDerNull) || !algorithm->empty())) {
      return std::nullopt;
    }
    return rsa_public_half(*key, true);
  }
  if (*oid == kEcPublicKeyOid) {
    std::optional<std::string_view> curve = take_tagged(*algorithm, kDerOid);
    if (!curve || curve->empty() || !algorithm->empty()) {
      return std::nullopt;
    }
    return ec_public_half(*key, *curve);
  }
  return std::nullopt;
}

// The certificate's public key is exactly `half`: same algorithm (rsaEncryption with NULL or no
// parameters, or id-ecPublicKey on a named curve), same modulus and exponent or curve and point.
// False also when OpenSSL could not load the certificate's key (key_matches says false then).
bool certificate_has_public_half(const Certificate& cert, const PublicHalf& half) {
  X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert.get());
  if (spki == nullptr || X509_get0_pubkey(cert.get()) == nullptr) {
    ERR_clear_error();
    return false;
  }
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* key = nullptr;
  int keySize = 0;
  X509_ALGOR* parameters = nullptr;
  if (X509_PUBKEY_get0_param(&algorithm, &key, &keySize, &parameters, spki) != 1 ||
      key == nullptr || keySize <= 0) {
    ERR_clear_error();
    return false;
  }
  const std::string_view bits(reinterpret_cast<const char*>(key),
                              static_cast<std::size_t>(keySize));
  const int nid = OBJ_obj2nid(algorithm);
  int parameterType = V_ASN1_UNDEF;
  const void* parameter = nullptr;
  if (parameters != nullptr) {
    X509_ALGOR_get0(nullptr, &parameterType, &parameter, parameters);
  }
  if (half.rsa) {
    if (nid != NID_rsaEncryption ||
        (parameterType != V_ASN1_NULL && parameterType != V_ASN1_UNDEF)) {
      return false;
    }
    const std::optional<PublicHalf> own = rsa_public_half(bits, false);
    return own && own->first == half.first && own->second == half.second;
  }
  if (nid != NID_X9_62_id_ecPublicKey || parameterType != V_ASN1_OBJECT || parameter == nullptr) {
    return false;
  }
  const auto* curve = static_cast<const ASN1_OBJECT*>(parameter);
  const std::string_view curveOid(reinterpret_cast<const char*>(OBJ_get0_data(curve)),
                                  OBJ_length(curve));
  return curveOid == half.first && bits == half.second;
}

}  // namespace

Result<PrivateKey> parse_private_key(std::string_view bytes) {
  return with_private_key_der<PrivateKey>(bytes, decode_found_key);
}

Result<KeyPairing> pair_private_key(const Certificate& cert, std::string_view keyBytes) {
  return with_private_key_der<KeyPairing>(
      keyBytes, [&cert](std::string_view der, int block) -> Result<KeyPairing> {
        if (cert) {
          if (const std::optional<PublicHalf> half = private_key_public_half(der);
              half && certificate_has_public_half(cert, *half)) {
            return KeyPairing{true, false};
          }
        }
        // Another key type, an unusual encoding, or keys that differ: OpenSSL reads the key,
        // so its errors and its comparison (EVP_PKEY_eq) decide.
        Result<PrivateKey> key = decode_found_key(der, block);
        if (!key) {
          return key.error();
        }
        return KeyPairing{key_matches(cert, *key), true};
      });
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
    return decode_block(block, "public key", [&](const PemBody& body) {
      return decode(body.der, block.label == "RSA PUBLIC KEY");
    });
  }
  return Error{describe_labels(blocks) + ", not a public key"};
}

}  // namespace kp::core
