// What a bearer token says about itself. A JWT (ServiceAccount tokens, OIDC id-tokens, most exec
// plugins' tokens) carries its subject, issuer, audience and validity: read, never verified and
// never printed, they turn "unknown, expired or revoked" into the one that applies.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "apicheck/run.h"
#include "core/kube/jwt.h"
#include "core/net/x509.h"
#include "core/util/text.h"

namespace kp::apicheck::detail {

namespace {

// Outside text from the token: escaped and bounded.
std::string shown(std::string_view text) {
  return core::escape_bytes(text, 120);
}

// A Kubernetes object name (RFC 1123 subdomain): the only token text a hint puts in a command
// to paste, since the token is not verified and could say anything.
bool pasteable(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
      return false;
    }
  }
  return name.front() != '-' && name.front() != '.' && name.back() != '-' && name.back() != '.';
}

// "kubectl create token NAME -n NS" when both are names, else how to find them.
std::string create_token(const core::JwtClaims& claims) {
  if (pasteable(claims.saName) && pasteable(claims.saNamespace)) {
    return "kubectl create token " + claims.saName + " -n " + claims.saNamespace;
  }
  return "kubectl create token for the ServiceAccount (the token names one that is not a valid "
         "object name)";
}

// The audiences kube-apiserver accepts by default, or as managed clusters set them (EKS's
// tokens carry https://kubernetes.default.svc while their issuer is an OIDC URL).
bool for_api_server(const Run& run, const core::JwtClaims& claims) {
  if (claims.aud.empty()) {
    return true;
  }
  for (const std::string& a : claims.aud) {
    if (a == claims.iss || a.starts_with("https://kubernetes.default.svc") ||
        a == run.client.server) {
      return true;
    }
  }
  return false;
}

std::string kind_of(const core::JwtClaims& claims) {
  if (claims.legacy) {
    return "legacy-serviceaccount";
  }
  return claims.serviceAccount ? "serviceaccount" : "jwt";
}

// "a ServiceAccount token for system:serviceaccount:ns:name (bound to pod p)", "an OIDC/JWT
// token for alice@example.com from https://issuer".
std::string describe(const core::JwtClaims& claims) {
  std::string text;
  if (claims.legacy) {
    text = "a legacy ServiceAccount token" +
           (claims.secretName.empty()
                ? std::string()
                : " (Secret " + shown(claims.saNamespace) + "/" + shown(claims.secretName) + ")") +
           " for " + shown(core::jwt_subject(claims));
  } else if (claims.serviceAccount) {
    text = "a ServiceAccount token for " + shown(core::jwt_subject(claims));
    if (!claims.podName.empty()) {
      text += " bound to pod " + shown(claims.podName);
    }
  } else {
    text = "a JWT";
    if (!claims.sub.empty()) {
      text += " for " + shown(claims.sub);
    }
  }
  if (!claims.iss.empty() && !claims.legacy) {
    text += " from issuer " + shown(claims.iss);
  }
  return text;
}

std::string audience(const core::JwtClaims& claims) {
  std::string out;
  std::size_t n = 0;
  for (const std::string& a : claims.aud) {
    if (++n > 5) {
      return out + ", ... (" + std::to_string(claims.aud.size()) + " in all)";
    }
    out += (out.empty() ? "" : ", ") + shown(a);
  }
  return out;
}

// How to get a token that works, for the kind of token this is.
std::string new_token_fix(const Run& run, const core::JwtClaims& claims) {
  if (claims.serviceAccount && run.client.inCluster) {
    return "the kubelet rotates a pod's projected token before it expires: an expired one means "
           "the kubelet stopped refreshing it (check the node's kubelet) or the program kept an "
           "old copy (client-go re-reads the file)";
  }
  if (claims.serviceAccount) {
    return "get a new token: " + create_token(claims) +
           " (as a user who may), and put it in the kubeconfig";
  }
  if (run.client.authMethod.starts_with("auth-provider")) {
    return "log in again with your identity provider: the id-token expired and kubectl refreshes "
           "it only with a refresh-token and the issuer reachable";
  }
  if (run.client.exec) {
    return "log in again with the exec plugin " + run.client.exec->command +
           " (or clear its token cache)";
  }
  return "get a new token from its issuer" +
         (claims.iss.empty() ? std::string() : " (" + shown(claims.iss) + ")");
}

std::string source_of(const Run& run) {
  const core::ClientConfig& c = run.client;
  if (c.inCluster) {
    return "the pod's ServiceAccount token (" + c.tokenFilePath + ")";
  }
  if (!c.tokenFilePath.empty()) {
    return "the token in " + c.tokenFilePath;
  }
  if (c.authMethod.starts_with("auth-provider")) {
    return "the auth-provider's id-token";
  }
  return "the kubeconfig's token";
}

}  // namespace

void token_check(Run& run) {
  const core::ClientConfig& c = run.client;
  if (c.token.empty()) {
    return;
  }
  const std::optional<core::JwtClaims> claims = core::decode_jwt(c.token);
  if (!claims) {
    return;  // opaque: only the server can judge it
  }
  const std::int64_t now = run.options.deps.now();
  Check check = make_check("config.token", Layer::config, CheckStatus::ok,
                           source_of(run) + " is " + describe(*claims));
  check.details = {{"kind", kind_of(*claims)},
                   {"subject", shown(core::jwt_subject(*claims))},
                   {"issuer", shown(claims->iss)},
                   {"audience", audience(*claims)}};
  if (claims->exp) {
    check.details["expires"] = core::rfc3339(*claims->exp);
  }
  // kubectl refreshes an expired oidc id-token itself when it has a refresh-token.
  const bool refreshed = c.authProvider && c.authMethod.starts_with("auth-provider") &&
                         c.authProvider->config.contains("refresh-token") &&
                         !c.authProvider->config.at("refresh-token").empty();
  if (claims->exp && now >= *claims->exp) {
    check.status = refreshed ? CheckStatus::warn : CheckStatus::fail;
    check.message += "; it expired " + core::rfc3339(*claims->exp) + " (" +
                     span_text(now - *claims->exp) + " ago)";
    std::string fix = new_token_fix(run, *claims);
    if (refreshed) {
      check.message += "; kubectl refreshes it with the refresh-token, this check does not";
      fix = "if kubectl still fails, " + fix;
    }
    add_timed(run, std::move(check),
              TimedVerdict::window(claims->nbf, claims->exp, std::move(fix)));
    return;
  }
  if (claims->nbf && now < *claims->nbf) {
    check.status = CheckStatus::fail;
    check.message += "; it is not valid before " + core::rfc3339(*claims->nbf);
    add_timed(run, std::move(check),
              TimedVerdict::window(
                  claims->nbf, claims->exp,
                  "the issuer's clock runs ahead: wait, or have the issuer's clock fixed"));
    return;
  }
  if (claims->exp) {
    check.message +=
        ", expires " + core::rfc3339(*claims->exp) + " (in " + span_text(*claims->exp - now) + ")";
  } else {
    check.message += ", with no expiry";
  }
  run.add(std::move(check));
}

bool explain_rejected_token(const Run& run, std::string_view token, Check& check) {
  const std::optional<core::JwtClaims> claims = core::decode_jwt(token);
  if (!claims) {
    return false;
  }
  // The server judges by its own clock.
  const std::int64_t serverNow = run.options.deps.now() - run.skew.value_or(0);
  check.message += ": " + describe(*claims);
  check.details["token"] = {{"kind", kind_of(*claims)},
                            {"subject", shown(core::jwt_subject(*claims))},
                            {"issuer", shown(claims->iss)},
                            {"audience", audience(*claims)}};
  if (claims->exp && serverNow >= *claims->exp) {
    check.message += ", expired " + core::rfc3339(*claims->exp) + " (" +
                     span_text(serverNow - *claims->exp) + " ago by the server's clock)";
    check.hint = new_token_fix(run, *claims);
    return true;
  }
  if (claims->nbf && serverNow < *claims->nbf) {
    check.message += ", not valid before " + core::rfc3339(*claims->nbf);
    check.hint = "the token's issuer clock runs ahead of the API server's: wait, or fix the clocks";
    return true;
  }
  if (claims->legacy) {
    check.hint =
        "a legacy Secret-based token stops working when its Secret or ServiceAccount is deleted, "
        "and unused ones are invalidated after a year (LegacyServiceAccountTokenCleanUp, 1.30+: "
        "label kubernetes.io/legacy-token-invalid-since on the Secret): " +
        create_token(*claims);
    return true;
  }
  if (claims->serviceAccount) {
    const std::string deleted =
        "the ServiceAccount " + shown(claims->saNamespace) + "/" + shown(claims->saName) +
        (claims->podName.empty() ? "" : " or the pod " + shown(claims->podName)) +
        " was deleted (a re-created one does not revive the token), or the token was signed by "
        "another cluster's key (issuer " +
        shown(claims->iss) + ")";
    if (!for_api_server(run, *claims)) {
      check.message += ", audience " + audience(*claims);
      check.hint = "either the token is for audience " + audience(*claims) +
                   ", not one of kube-apiserver's --api-audiences (by default its issuer " +
                   shown(claims->iss) +
                   "): it was made for another service (kubectl create token --audience), so "
                   "make one without --audience; or " +
                   deleted + ": " + create_token(*claims);
      return true;
    }
    check.hint = "the token is within its validity and for the API server: " + deleted + ": " +
                 create_token(*claims);
    return true;
  }
  check.hint = "the token is within its validity: kube-apiserver must trust its issuer " +
               shown(claims->iss) + " for audience " + audience(*claims) +
               " (--oidc-issuer-url and --oidc-client-id, an AuthenticationConfiguration "
               "jwt issuer, or a webhook authenticator for it): check those, or log in again";
  return true;
}

}  // namespace kp::apicheck::detail
