// The claims of a JSON Web Token, read without verifying it: what a bearer token says about
// itself (who, for whom, until when), so a 401 or an expired token can be explained. Nothing
// here checks a signature, and nothing returned holds the token or its signature.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kp::core {

struct JwtClaims {
  // Unix seconds (NumericDate, fractions dropped); none when absent or outside 1970..9999.
  std::optional<std::int64_t> exp;
  std::optional<std::int64_t> nbf;
  std::optional<std::int64_t> iat;
  std::string iss;
  std::string sub;
  std::vector<std::string> aud;  // a single string becomes one element
  // A Kubernetes ServiceAccount token: bound (TokenRequest: the "kubernetes.io" claim) or
  // legacy (issuer "kubernetes/serviceaccount", from a kubernetes.io/service-account-token
  // Secret, whose name is secretName).
  bool serviceAccount = false;
  bool legacy = false;
  std::string saNamespace;
  std::string saName;
  std::string secretName;  // legacy tokens only
  std::string podName;     // bound to a pod (projected volume tokens)
};

// The claims of `token` when it has the shape of a JWS compact serialization (three base64url
// parts, a JSON header with "alg", a JSON object payload); nullopt for an opaque token.
// Bounded: tokens over 64 KiB are treated as opaque.
std::optional<JwtClaims> decode_jwt(std::string_view token);

// "system:serviceaccount:NS:NAME" for ServiceAccount tokens, else `sub`, else "".
std::string jwt_subject(const JwtClaims& claims);

}  // namespace kp::core
