// Does a certificate name a host? Go's crypto/x509 rules (verify.go): SAN DNS names with a
// left-most wildcard label, IP SANs for IP literals, never the subject CN; and Go's message when
// it does not.
#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/net/socket.h"
#include "core/net/x509.h"
#include "core/net/x509_detail.h"
#include "core/util/text.h"

namespace kp::core {

using namespace detail;

// ---- host names (Go's crypto/x509 verify.go) ----

namespace {

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
  return ascii_lower(a) == ascii_lower(b);
}

// Go's matchHostnames: same label count, a "*" left-most label matches exactly one label.
bool match_hostnames(std::string_view pattern, std::string_view host) {
  const std::string p = ascii_lower(pattern);
  std::string h = ascii_lower(host);
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
  const std::string candidate = ascii_lower(host);
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

}  // namespace kp::core
