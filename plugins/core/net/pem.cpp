// Parsing certificates and keys from bytes: PEM bundles (Go's encoding/pem rules, minus its
// silent skipping) and DER, with errors that say what the bytes were instead.
#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
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
    return decode_block(block, "public key", [&](const PemBody& body) {
      return decode(body.der, block.label == "RSA PUBLIC KEY");
    });
  }
  return Error{describe_labels(blocks) + ", not a public key"};
}

}  // namespace kp::core
