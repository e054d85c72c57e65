// The auth layer: who the server takes the credential for, and when it refuses it, why.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/sha.h>

#include "apicheck/run.h"
#include "core/kube/kube.h"
#include "core/util/text.h"

namespace kp::apicheck::detail {

using core::join;

namespace {

// A short, non-reversible tag for a secret, so reports can tell two tokens apart.
std::string fingerprint(std::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest);
  char hex[17];
  for (int i = 0; i < 8; ++i) {
    std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  }
  return std::string("sha256:") + hex;
}

std::string credential_description(const Run& run, const core::HttpRequest& r) {
  const core::ClientConfig& c = run.client;
  for (const auto& [name, value] : r.headers) {
    if (name == "Authorization" && value.starts_with("Bearer ")) {
      return std::string(c.exec ? "the exec plugin's token " : "the bearer token ") +
             fingerprint(value.substr(7));
    }
    if (name == "Authorization") {
      return "basic auth for user " + c.username;
    }
  }
  if (run.clientCert) {
    return "the client certificate " + run.clientCert->subject;
  }
  return "no credential";
}

Check unauthorized(const Run& run, const core::HttpRequest& r, const core::HttpResponse& resp) {
  Check c =
      make_check("auth.whoami", Layer::auth, CheckStatus::fail,
                 "the server rejected " + credential_description(run, r) + " (401 Unauthorized)",
                 {}, run.timing.endpoint);
  const core::ClientConfig& cfg = run.client;
  if (auto status = core::parse_status(resp.body); status && !status->message.empty()) {
    c.details = {{"status", status->message}};
  }
  for (const auto& [name, value] : r.headers) {
    if (name == "Authorization" && value.starts_with("Bearer ") &&
        explain_rejected_token(run, std::string_view(value).substr(7), c)) {
      return c;
    }
  }
  if (run.clientCert && !r.clientCertPem.empty()) {
    // The server judges the certificate by its own clock.
    const std::int64_t left =
        run.clientCert->notAfterUnix - (run.options.deps.now() - run.skew.value_or(0));
    if (left <= 0) {
      c.message += ": the client certificate expired " + days_text(-left) + " ago (" +
                   run.clientCert->notAfter + ")";
      c.hint =
          "issue a new client certificate: kubeadm kubeconfig user --client-name NAME "
          "(or kubeadm certs renew admin.conf for admin.conf), then update the kubeconfig";
      return c;
    }
    if (run.tls && !run.tls->acceptableClientCaNames.empty() &&
        std::find(run.tls->acceptableClientCaNames.begin(), run.tls->acceptableClientCaNames.end(),
                  run.clientCert->issuer) == run.tls->acceptableClientCaNames.end()) {
      c.message += ": it is issued by " + run.clientCert->issuer + ", the server trusts " +
                   join(run.tls->acceptableClientCaNames);
      c.hint = "get a client certificate signed by the cluster's client CA";
      return c;
    }
    c.hint =
        "the client certificate is not accepted: check it is signed by the server's "
        "--client-ca-file and not revoked";
    return c;
  }
  if (cfg.exec) {
    c.hint =
        "the exec plugin's token is not accepted: log in again with the plugin, or check "
        "the server's authenticator (OIDC issuer, webhook)";
  } else if (!cfg.username.empty()) {
    c.hint =
        "basic auth was removed from kube-apiserver in 1.19: use a token or client "
        "certificate";
  } else if (!cfg.token.empty() || !cfg.tokenFilePath.empty()) {
    c.hint =
        "the token is unknown, expired or revoked: get a new one (kubectl create token "
        "SA, or your identity provider's login)";
  } else {
    c.hint =
        "no credential in the kubeconfig user: add a token, client certificate or exec "
        "plugin";
  }
  return c;
}

}  // namespace

// Who am I: SelfSubjectReview (GA in 1.28), falling back to SelfSubjectAccessReview.
void auth_layer(Run& run, core::HttpClient& http) {
  if (!run.options.credentialsRefused.empty()) {
    run.add(make_check("auth.whoami", Layer::auth, CheckStatus::skip,
                       "not checked: " + run.options.credentialsRefused));
    return;
  }
  if (run.clientKeyMismatch) {
    run.add(make_check("auth.whoami", Layer::auth, CheckStatus::skip,
                       "not checked: the client key does not match the client certificate (see "
                       "config.client-cert)"));
    return;
  }
  core::HttpRequest r = request_to(run, "/apis/authentication.k8s.io/v1/selfsubjectreviews");
  r.method = "POST";
  r.body = core::self_subject_review_request();
  std::optional<core::HttpHeaders> creds = credential_headers(run, r);
  if (!creds) {
    return;
  }
  r.headers = *creds;
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Accept", "application/json");
  const std::string endpoint = run.timing.endpoint;
  core::HttpResult result = http.send(r);
  if (!result) {
    run.add(transport_failure("auth.whoami", Layer::auth, result.error(), endpoint));
    return;
  }
  if (result->status == 401) {
    run.add(unauthorized(run, r, *result));
    return;
  }
  const std::optional<core::ApiStatus> status = core::parse_status(result->body);
  if (result->status == 403) {
    Check c = make_check("auth.whoami", Layer::auth, CheckStatus::fail,
                         "forbidden (403): " + (status ? status->message : snippet(result->body)),
                         {}, endpoint);
    c.hint = run.client.impersonate.empty()
                 ? "the credential is valid but RBAC forbids even self-review: check the user's "
                   "bindings (kubectl auth can-i --list as an admin)"
                 : "the user may not impersonate \"" + run.client.impersonate +
                       "\": remove `as` from the kubeconfig user or grant impersonate on users "
                       "(and groups) to this user";
    run.add(std::move(c));
    return;
  }
  if (result->status == 404) {  // older servers: no SelfSubjectReview; ask an access review
    core::HttpRequest sar =
        request_to(run, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews");
    sar.method = "POST";
    sar.headers = r.headers;
    sar.clientCertPem = r.clientCertPem;
    sar.clientKeyPem = r.clientKeyPem;
    sar.body = core::self_subject_access_review_request("list", "pods", run.client.namespaceName);
    core::HttpResult answer = http.send(sar);
    if (answer && answer->status == 201) {
      auto review = core::parse_self_subject_access_review(answer->body);
      run.add(make_check("auth.whoami", Layer::auth, CheckStatus::ok,
                         "authenticated (this server has no SelfSubjectReview); list pods in " +
                             run.client.namespaceName + ": " +
                             (review && review->allowed ? "allowed" : "not allowed"),
                         {}, endpoint));
      return;
    }
    run.add(make_check("auth.whoami", Layer::auth, CheckStatus::warn,
                       "could not tell who the server takes us for (SelfSubjectReview 404)",
                       "the server is older than 1.28 and access reviews failed too", endpoint));
    return;
  }
  auto user = core::parse_self_subject_review(result->body);
  if (result->status != 201 || !user) {
    run.add(make_check(
        "auth.whoami", Layer::auth, CheckStatus::fail,
        "SelfSubjectReview HTTP " + std::to_string(result->status) + ": " + snippet(result->body),
        "unexpected answer to a self review: check the kube-apiserver logs", endpoint));
    return;
  }
  Check c = make_check("auth.whoami", Layer::auth, CheckStatus::ok,
                       "authenticated as " + user->username +
                           (user->groups.empty() ? "" : " (groups " + join(user->groups) + ")") +
                           " with " + credential_description(run, r),
                       {}, endpoint);
  c.durationMs = result->timings.totalMs;
  c.details = {{"username", user->username},
               {"uid", user->uid},
               {"groups", user->groups},
               {"httpVersion", result->httpVersion}};
  run.add(std::move(c));
}

}  // namespace kp::apicheck::detail
