#include "core/kube/jwt.h"

#include <array>
#include <cmath>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "core/util/json.h"

namespace kp::core {
namespace {

constexpr std::size_t kMaxToken = 64 * 1024;

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '-') {
    return 62;
  }
  if (c == '_') {
    return 63;
  }
  return -1;
}

// base64url without padding (RFC 7515 section 2); trailing '=' padding, which some issuers
// emit, is tolerated.
std::optional<std::string> decode_base64url(std::string_view text) {
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    const int v = sextet(c);
    if (v < 0) {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

// The latest date anything here prints (9999-12-31T23:59:59Z, as rfc3339 bounds it).
constexpr std::int64_t kMaxDate = 253402300799;

// A NumericDate within 1970..9999 (so arithmetic on it cannot overflow); else none.
std::optional<std::int64_t> numeric_date(const nlohmann::json& payload, const char* key) {
  const nlohmann::json& v = json_member(payload, key);
  double d = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(kMaxDate)) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    return i >= 0 && i <= kMaxDate ? std::optional<std::int64_t>(i) : std::nullopt;
  }
  if (!v.is_number_float()) {
    return std::nullopt;
  }
  d = v.get<double>();
  if (!std::isfinite(d) || d < 0 || d > static_cast<double>(kMaxDate)) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(d);
}

}  // namespace

std::optional<JwtClaims> decode_jwt(std::string_view token) {
  if (token.size() > kMaxToken) {
    return std::nullopt;
  }
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const std::optional<std::string> header = decode_base64url(token.substr(0, dot1));
  const std::optional<std::string> body = decode_base64url(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!header || !body || !decode_base64url(token.substr(dot2 + 1))) {
    return std::nullopt;
  }
  const Result<nlohmann::json> head = parse_json(*header, 8);
  if (!head || !head->is_object() || !json_member(*head, "alg").is_string()) {
    return std::nullopt;
  }
  const Result<nlohmann::json> payload = parse_json(*body, 16);
  if (!payload || !payload->is_object()) {
    return std::nullopt;
  }
  JwtClaims claims;
  claims.exp = numeric_date(*payload, "exp");
  claims.nbf = numeric_date(*payload, "nbf");
  claims.iat = numeric_date(*payload, "iat");
  claims.iss = json_string(*payload, "iss");
  claims.sub = json_string(*payload, "sub");
  const nlohmann::json& aud = json_member(*payload, "aud");
  if (aud.is_string()) {
    claims.aud.push_back(aud.get<std::string>());
  } else if (aud.is_array()) {
    for (const nlohmann::json& a : aud) {
      if (a.is_string()) {
        claims.aud.push_back(a.get<std::string>());
      }
    }
  }
  // Bound tokens (TokenRequest, projected volumes): {"kubernetes.io": {"namespace": ...,
  // "serviceaccount": {"name": ...}, "pod": {"name": ...}}}.
  const nlohmann::json& k8s = json_member(*payload, "kubernetes.io");
  if (k8s.is_object()) {
    claims.serviceAccount = true;
    claims.saNamespace = json_string(k8s, "namespace");
    claims.saName = json_string(json_member(k8s, "serviceaccount"), "name");
    claims.podName = json_string(json_member(k8s, "pod"), "name");
  } else if (claims.iss == "kubernetes/serviceaccount") {
    claims.serviceAccount = true;
    claims.legacy = true;
    claims.saNamespace = json_string(*payload, "kubernetes.io/serviceaccount/namespace");
    claims.saName = json_string(*payload, "kubernetes.io/serviceaccount/service-account.name");
    claims.secretName = json_string(*payload, "kubernetes.io/serviceaccount/secret.name");
  }
  return claims;
}

std::string jwt_subject(const JwtClaims& claims) {
  if (claims.serviceAccount && !claims.saNamespace.empty() && !claims.saName.empty()) {
    return "system:serviceaccount:" + claims.saNamespace + ":" + claims.saName;
  }
  return claims.sub;
}

}  // namespace kp::core
