// The clock and the token: a certificate or token that looks expired by this machine's clock is
// judged again by the server's (its Date header), and a bearer token that is a JWT says whose it
// is and until when. The token's text never reaches the report.
#include <algorithm>
#include <ctime>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "apicheck/apicheck.h"
#include "core/kube/jwt.h"
#include "core/util/base64.h"
#include "support_apicheck.h"
#include "support_http.h"
#include "support_posix.h"
#include "test_support_certs.h"

namespace {

using kp::core::CheckStatus;
using kp::core::Layer;
using kp::testcerts::kDay;
using kp::testcerts::kNow;
using kp::testsupport::answer;
using World = kp::testsupport::ApicheckWorld;

std::string base64url(std::string_view bytes) {
  std::string text = kp::core::encode_base64(bytes);
  for (char& c : text) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  while (!text.empty() && text.back() == '=') {
    text.pop_back();
  }
  return text;
}

std::string jwt(const std::string& payload, const std::string& header = R"({"alg":"RS256"})") {
  return base64url(header) + "." + base64url(payload) + "." + base64url("not-a-real-signature");
}

// A bound ServiceAccount token as kube-apiserver's TokenRequest writes it.
std::string sa_token(std::int64_t exp, const std::string& aud = "https://kubernetes.default.svc") {
  return jwt(R"({"aud":[")" + aud + R"("],"exp":)" + std::to_string(exp) + R"(,"iat":)" +
             std::to_string(exp - 3600) +
             R"(,"iss":"https://kubernetes.default.svc","kubernetes.io":{"namespace":"ci",)"
             R"("serviceaccount":{"name":"deployer","uid":"0d9c"}},"nbf":)" +
             std::to_string(exp - 3600) + R"(,"sub":"system:serviceaccount:ci:deployer"})");
}

std::string http_date(std::int64_t unix) {
  const std::time_t t = unix;
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return text;
}

kp::core::HttpResponse dated(kp::core::HttpResponse r, std::int64_t serverNow) {
  r.headers.emplace_back("Date", http_date(serverNow));
  return r;
}

const char* kVersion = R"({"major":"1","minor":"37","gitVersion":"v1.37.2","goVersion":"go1.26.8",)"
                       R"("platform":"linux/amd64"})";
const char* kUnauthorized =
    R"({"kind":"Status","status":"Failure","reason":"Unauthorized","code":401})";

std::string everything(const kp::core::Report& report) {
  std::ostringstream all;
  kp::core::render_json(all, report);
  kp::core::render_text(all, report, false);
  return all.str();
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("core::decode_jwt reads the claims of ServiceAccount, legacy and OIDC tokens", "[jwt]") {
  SECTION("a bound ServiceAccount token") {
    const auto claims = kp::core::decode_jwt(sa_token(1700000000));
    REQUIRE(claims);
    CHECK(claims->serviceAccount);
    CHECK_FALSE(claims->legacy);
    CHECK(claims->exp == 1700000000);
    CHECK(claims->nbf == 1700000000 - 3600);
    CHECK(claims->iss == "https://kubernetes.default.svc");
    CHECK(claims->aud == std::vector<std::string>{"https://kubernetes.default.svc"});
    CHECK(claims->saNamespace == "ci");
    CHECK(claims->saName == "deployer");
    CHECK(kp::core::jwt_subject(*claims) == "system:serviceaccount:ci:deployer");
  }
  SECTION("a legacy Secret-based token") {
    const auto claims =
        kp::core::decode_jwt(jwt(R"({"iss":"kubernetes/serviceaccount",)"
                                 R"("kubernetes.io/serviceaccount/namespace":"kube-system",)"
                                 R"("kubernetes.io/serviceaccount/secret.name":"old-token-x7k2p",)"
                                 R"("kubernetes.io/serviceaccount/service-account.name":"old",)"
                                 R"("sub":"system:serviceaccount:kube-system:old"})"));
    REQUIRE(claims);
    CHECK(claims->legacy);
    CHECK(claims->serviceAccount);
    CHECK_FALSE(claims->exp);
    CHECK(claims->secretName == "old-token-x7k2p");
    CHECK(kp::core::jwt_subject(*claims) == "system:serviceaccount:kube-system:old");
  }
  SECTION("an OIDC id-token: one audience as a string, fractional dates, padded parts") {
    std::string token =
        jwt(R"({"iss":"https://dex.example","aud":"kubectl","sub":"alice","exp":1.7e9})");
    token.insert(token.find('.'), "==");  // some issuers pad
    const auto claims = kp::core::decode_jwt(token);
    REQUIRE(claims);
    CHECK_FALSE(claims->serviceAccount);
    CHECK(claims->aud == std::vector<std::string>{"kubectl"});
    CHECK(claims->exp == 1700000000);
    CHECK(kp::core::jwt_subject(*claims) == "alice");
  }
  SECTION("opaque tokens and malformed JWTs are not claims") {
    const std::string good = sa_token(1700000000);
    for (const std::string& token :
         {std::string("s3cr3t-token-value"), std::string("abc.def"), good + ".more",
          base64url("not json") + "." + base64url("{}") + ".sig",
          base64url(R"({"typ":"JWT"})") + "." + base64url("{}") + ".sig",  // no alg
          base64url(R"({"alg":"none"})") + "." + base64url("[1]") + ".sig",
          base64url(R"({"alg":"none"})") + ".e30+." + "sig",  // '+' is not base64url
          base64url(R"({"alg":"none"})") + ".e30.s",          // one sextet is no byte
          base64url(R"({"alg":"none"})") + "." + std::string(70000, 'A') + ".sig"}) {
      INFO(token.substr(0, 60));
      CHECK_FALSE(kp::core::decode_jwt(token));
    }
    CHECK(kp::core::decode_jwt(base64url(R"({"alg":"none"})") + ".e30."));  // {} is a payload
  }
  SECTION("dates outside 1970..9999 are no dates (no overflow in what uses them)") {
    for (const char* exp :
         {"-9223372036854775808", "18446744073709551615", "-1", "1e300", "253402300800"}) {
      const auto claims =
          kp::core::decode_jwt(jwt(std::string(R"({"sub":"x","exp":)") + exp + "}"));
      REQUIRE(claims);
      CHECK_FALSE(claims->exp);
    }
  }
}

TEST_CASE(
    "apicheck: an expired serving certificate is told from a wrong clock by the server's Date",
    "[apicheck][clock]") {
  kp::testcerts::CertSpec spec;
  spec.commonName = "kube-apiserver";
  spec.dnsNames = {"api.test"};
  spec.notBefore = kNow - 10 * kDay;
  spec.notAfter = kNow + 300 * kDay;
  const kp::testcerts::Issued leaf = kp::testcerts::issue(spec);
  World w;
  w.tls.chain = {leaf.cert};
  w.tls.verify.ok = false;
  w.tls.verify.failure = kp::core::VerifyFailure::expired;
  w.tls.verify.reason = "certificate has expired";
  w.tls.verify.problems = {{kp::core::VerifyFailure::expired, 10, 0, "certificate has expired"}};

  SECTION("this machine 800 days ahead, the certificate valid by the server's clock") {
    w.options.deps.now = [] { return kNow + 800 * kDay; };
    w.http.on("/version", dated(answer(200, kVersion), kNow));
    const kp::core::Report report = w.options.check();
    CHECK(kp::core::failed_layer(report) == Layer::tls);
    const kp::core::Check* verify = w.find(report, "tls.verify");
    REQUIRE(verify != nullptr);
    CHECK(verify->status == CheckStatus::fail);
    CHECK(has(verify->message, "valid by the server's clock"));
    CHECK(verify->hint ==
          "this machine's clock is 800 days ahead of the server's: fix the clock (timedatectl "
          "set-ntp true, or chronyc makestep; timedatectl shows whether it is synchronized); "
          "nothing needs renewing");
    CHECK(verify->details["validByServerClock"] == true);
    const kp::core::Check* clock = w.find(report, "tls.clock");
    REQUIRE(clock != nullptr);
    CHECK(clock->status == CheckStatus::fail);
    CHECK(clock->details["skewSeconds"] == 800 * kDay);
    CHECK_FALSE(has(everything(report), "kubeadm certs renew"));
  }
  SECTION("the clocks agree: the certificate really expired") {
    w.options.deps.now = [] { return kNow + 400 * kDay; };
    w.http.on("/version", dated(answer(200, kVersion), kNow + 400 * kDay));
    const kp::core::Report report = w.options.check();
    const kp::core::Check* verify = w.find(report, "tls.verify");
    CHECK(verify->hint ==
          "renew the serving certificate (kubeadm certs renew apiserver) and restart "
          "kube-apiserver (the server's clock agrees with this machine's)");
    CHECK(w.find(report, "tls.clock")->status == CheckStatus::ok);
  }
  SECTION("no Date to compare with: both causes, the clock first to check") {
    w.options.deps.now = [] { return kNow + 400 * kDay; };
    kp::core::HttpError timedOut;
    timedOut.kind = kp::core::TransportError::timeout;
    timedOut.message = "timed out";
    w.http.on("/version", timedOut);
    const kp::core::Report report = w.options.check();
    const kp::core::Check* verify = w.find(report, "tls.verify");
    CHECK(has(verify->hint, "judged by this machine's clock"));
    CHECK(has(verify->hint, "if it is right: renew the serving certificate"));
    CHECK(has(verify->hint, "if not, fix the clock"));
    CHECK(w.find(report, "tls.clock") == nullptr);
  }
  SECTION("this machine two years behind: not yet valid here, valid by the server") {
    w.tls.verify.failure = kp::core::VerifyFailure::notYetValid;
    w.tls.verify.reason = "certificate is not yet valid";
    w.tls.verify.problems = {{kp::core::VerifyFailure::notYetValid, 9, 0, "not yet valid"}};
    w.options.deps.now = [] { return kNow - 730 * kDay; };
    w.http.on("/version", dated(answer(200, kVersion), kNow));
    const kp::core::Report report = w.options.check();
    const kp::core::Check* verify = w.find(report, "tls.verify");
    CHECK(has(verify->hint, "this machine's clock is 730 days behind the server's"));
    CHECK(w.find(report, "tls.clock")->details["skewSeconds"] == -730 * kDay);
  }
  SECTION("a date and another CA: the clock does not explain it all") {
    w.tls.verify.problems = {{kp::core::VerifyFailure::expired, 10, 0, "certificate has expired"},
                             {kp::core::VerifyFailure::unknownAuthority, 20, 0, "unknown CA"}};
    w.options.client.caPem = leaf.certPem();  // a CA, just not the issuer
    w.options.deps.now = [] { return kNow + 800 * kDay; };
    w.http.on("/version", dated(answer(200, kVersion), kNow));
    const kp::core::Report report = w.options.check();
    const kp::core::Check* verify = w.find(report, "tls.verify");
    CHECK(has(verify->hint, "800 days ahead"));
    CHECK(has(verify->hint, "; besides, the certificate is not signed by the kubeconfig's CA"));
    CHECK_FALSE(has(verify->hint, "nothing needs renewing"));
  }
  SECTION("clocks a few seconds apart never blame the clock") {
    // Expired 10 s ago here; the server's Date, 30 s behind, still has it valid.
    w.tls.chain = {};
    kp::testcerts::CertSpec edge = spec;
    edge.notAfter = kNow - 10;
    w.tls.chain = {kp::testcerts::issue(edge).cert};
    w.options.deps.now = [] { return kNow; };
    w.http.on("/version", dated(answer(200, kVersion), kNow - 30));
    const kp::core::Report report = w.options.check();
    const kp::core::Check* verify = w.find(report, "tls.verify");
    CHECK(has(verify->hint, "renew the serving certificate"));
    CHECK_FALSE(has(verify->hint, "fix the clock"));
    CHECK(w.find(report, "tls.clock")->status == CheckStatus::ok);
  }
  SECTION("insecure-skip-tls-verify: no extra request, health's Date serves") {
    w.options.client.insecure = true;
    w.options.deps.now = [] { return kNow + 800 * kDay; };
    w.http.on("/version", dated(answer(200, kVersion), kNow));
    const kp::core::Report report = w.options.check();
    const std::vector<std::string> paths = w.http.paths();
    CHECK(std::count(paths.begin(), paths.end(), "/version") == 1);
    CHECK(w.find(report, "tls.verify")->status == CheckStatus::warn);
    CHECK(has(w.find(report, "tls.verify")->hint, "800 days ahead"));
  }
  SECTION("an intermediate expired: renew the CA, not the serving certificate") {
    kp::testcerts::CertSpec caSpec;
    caSpec.commonName = "intermediate-ca";
    caSpec.isCA = true;
    caSpec.notBefore = kNow - 800 * kDay;
    caSpec.notAfter = kNow - 1 * kDay;
    const kp::testcerts::Issued ca = kp::testcerts::issue(caSpec);
    w.tls.chain = {leaf.cert, ca.cert};
    w.tls.verify.depth = 1;
    w.tls.verify.problems = {{kp::core::VerifyFailure::expired, 10, 1, "certificate has expired"}};
    w.options.deps.now = [] { return kNow; };
    w.http.on("/version", dated(answer(200, kVersion), kNow));
    const kp::core::Report report = w.options.check();
    const kp::core::Check* verify = w.find(report, "tls.verify");
    CHECK(has(verify->hint, "a CA certificate of the chain expired"));
    CHECK_FALSE(has(verify->hint, "kubeadm certs renew apiserver"));
  }
}

TEST_CASE("apicheck: an expired ServiceAccount token is named with its subject and time",
          "[apicheck][token]") {
  World w;
  const std::string token = sa_token(kNow - 400 * kDay);
  w.options.client.token = token;
  w.options.deps.now = [] { return kNow; };
  w.http.on("/version", dated(answer(200, kVersion), kNow));
  w.http.on("/apis/authentication.k8s.io/v1/selfsubjectreviews",
            dated(answer(401, kUnauthorized), kNow));
  const kp::core::Report report = w.options.check();
  const kp::core::Check* config = w.find(report, "config.token");
  REQUIRE(config != nullptr);
  CHECK(config->status == CheckStatus::fail);
  CHECK(config->message ==
        "the kubeconfig's token is a ServiceAccount token for system:serviceaccount:ci:deployer "
        "from issuer https://kubernetes.default.svc; it expired 2025-10-22T06:50:00Z (400 days "
        "ago)");
  CHECK(config->hint ==
        "get a new token: kubectl create token deployer -n ci (as a user who may), and put it in "
        "the kubeconfig (the server's clock agrees with this machine's)");
  const kp::core::Check* whoami = w.find(report, "auth.whoami");
  CHECK(whoami->status == CheckStatus::fail);
  CHECK(has(whoami->message, "expired 2025-10-22T06:50:00Z"));
  CHECK(has(whoami->hint, "kubectl create token deployer -n ci"));
  CHECK_FALSE(has(whoami->hint, "unknown, expired or revoked"));
  const std::string all = everything(report);
  CHECK_FALSE(has(all, token));
  CHECK_FALSE(has(all, token.substr(token.rfind('.') + 1)));  // nor its signature
}

TEST_CASE("apicheck: a token that looks expired only by this machine's clock blames the clock",
          "[apicheck][token][clock]") {
  World w;
  w.options.client.token = sa_token(kNow + 3600);
  w.options.deps.now = [] { return kNow + 2 * kDay; };  // two days fast
  w.http.on("/version", dated(answer(200, kVersion), kNow));
  const kp::core::Report report = w.options.check();
  const kp::core::Check* config = w.find(report, "config.token");
  REQUIRE(config != nullptr);
  // kubectl sends it anyway and the server, whose clock is right, accepts it: a warning.
  CHECK(config->status == CheckStatus::warn);
  CHECK(config->hint ==
        "this machine's clock is 2 days ahead of the server's: fix the clock (timedatectl "
        "set-ntp true, or chronyc makestep; timedatectl shows whether it is synchronized); "
        "nothing needs renewing");
  CHECK(w.find(report, "tls.clock")->status == CheckStatus::fail);
  CHECK(w.find(report, "auth.whoami")->status == CheckStatus::ok);  // the server accepted it
}

TEST_CASE("apicheck: a 401 on a JWT says which kind of refusal the claims point to",
          "[apicheck][token]") {
  World w;
  w.options.deps.now = [] { return kNow; };
  w.http.on("/apis/authentication.k8s.io/v1/selfsubjectreviews", answer(401, kUnauthorized));
  std::string hint;
  std::string message;
  SECTION("a token for another audience") {
    w.options.client.token = sa_token(kNow + 3600, "vault");
    const kp::core::Report report = w.options.check();
    hint = w.find(report, "auth.whoami")->hint;
    CHECK(has(hint, "the token is for audience vault"));
    CHECK(has(hint, "kubectl create token --audience"));
    CHECK(w.find(report, "config.token")->status == CheckStatus::ok);
  }
  SECTION(
      "an EKS-style token (audience kubernetes.default.svc, issuer elsewhere) is not blamed "
      "on its audience") {
    w.options.client.token =
        jwt(R"({"aud":["https://kubernetes.default.svc"],"exp":)" + std::to_string(kNow + 3600) +
            R"(,"iss":"https://oidc.eks.example/id/ABC","kubernetes.io":{"namespace":"ci",)"
            R"("serviceaccount":{"name":"deployer"}},"sub":"system:serviceaccount:ci:deployer"})");
    const kp::core::Report report = w.options.check();
    hint = w.find(report, "auth.whoami")->hint;
    CHECK(has(hint, "within its validity and for the API server"));
    CHECK(has(hint, "kubectl create token deployer -n ci"));
    CHECK_FALSE(has(hint, "audience"));
  }
  SECTION("names that are not object names never go into a command") {
    w.options.client.token = jwt(R"({"exp":)" + std::to_string(kNow + 3600) +
                                 R"(,"iss":"x","kubernetes.io":{"namespace":"ci",)"
                                 R"("serviceaccount":{"name":"a;rm -rf ~"}}})");
    const kp::core::Report report = w.options.check();
    hint = w.find(report, "auth.whoami")->hint;
    CHECK_FALSE(has(hint, "kubectl create token a;"));
    CHECK(has(hint, "not a valid object name"));
  }
  SECTION("a legacy Secret token") {
    w.options.client.token = jwt(R"({"iss":"kubernetes/serviceaccount",)"
                                 R"("kubernetes.io/serviceaccount/namespace":"kube-system",)"
                                 R"("kubernetes.io/serviceaccount/secret.name":"old-token-x7k2p",)"
                                 R"("kubernetes.io/serviceaccount/service-account.name":"old",)"
                                 R"("sub":"system:serviceaccount:kube-system:old"})");
    const kp::core::Report report = w.options.check();
    const kp::core::Check* whoami = w.find(report, "auth.whoami");
    CHECK(
        has(whoami->message, "a legacy ServiceAccount token (Secret kube-system/old-token-x7k2p)"));
    CHECK(has(whoami->hint, "kubernetes.io/legacy-token-invalid-since"));
    CHECK(has(whoami->hint, "kubectl create token old -n kube-system"));
    CHECK(has(w.find(report, "config.token")->message, "with no expiry"));
  }
  SECTION("a valid OIDC token the server does not trust") {
    w.options.client.token =
        jwt(R"({"iss":"https://dex.example","aud":"kubectl","sub":"alice","exp":)" +
            std::to_string(kNow + 3600) + "}");
    const kp::core::Report report = w.options.check();
    hint = w.find(report, "auth.whoami")->hint;
    CHECK(has(hint, "trust its issuer https://dex.example for audience kubectl"));
    CHECK(has(hint, "--oidc-issuer-url"));
  }
  SECTION("an opaque token keeps the general hint") {
    const kp::core::Report report = w.options.check();
    CHECK(w.find(report, "config.token") == nullptr);
    CHECK(has(w.find(report, "auth.whoami")->hint, "unknown, expired or revoked"));
  }
  SECTION("escape sequences in claims are not written to the terminal") {
    w.options.client.token = jwt(R"({"iss":"x","sub":"\u001b]0;owned\u0007","exp":)" +
                                 std::to_string(kNow + 3600) + "}");
    const kp::core::Report report = w.options.check();
    std::ostringstream text;
    kp::core::render_text(text, report, false);
    CHECK_FALSE(has(text.str(), "\x1b"));
    CHECK(has(text.str(), "\\x1b]0;owned"));
  }
}

TEST_CASE("apicheck: an exec plugin's credential that has already expired is a warning",
          "[apicheck][token]") {
  World w;
  w.options.client.token.clear();
  w.options.client.authMethod = "exec";
  w.options.client.exec = kp::core::ExecConfig{};
  w.options.client.exec->command = "cloud-login";
  w.options.deps.now = [] { return kNow; };
  w.options.deps.exec = [](const kp::core::ExecConfig&, const kp::core::ClientConfig&,
                           std::chrono::milliseconds)
      -> kp::core::Result<kp::core::ExecCredential, kp::core::ExecError> {
    kp::core::ExecCredential credential;
    credential.token = "opaque-exec-token";
    credential.expirationUnix = kNow - 600;
    return credential;
  };
  const kp::core::Report report = w.options.check();
  const kp::core::Check* credential = w.find(report, "auth.credential");
  REQUIRE(credential != nullptr);
  CHECK(credential->status == CheckStatus::warn);
  CHECK(credential->message ==
        "exec plugin cloud-login returned a token valid until 2026-11-26T06:40:00Z, which has "
        "passed");
  CHECK(has(credential->hint, "log in again with cloud-login"));
}

TEST_CASE("apicheck: a client certificate expired by this clock but not the server's",
          "[apicheck][clock]") {
  kp::testcerts::CertSpec spec;
  spec.commonName = "alice";
  spec.extKeyUsage = {"clientAuth"};
  spec.notBefore = kNow - 10 * kDay;
  spec.notAfter = kNow + 10 * kDay;
  spec.key = kp::testcerts::make_key(kp::testcerts::KeyKind::ecdsaP256);
  const kp::testcerts::Issued alice = kp::testcerts::issue(spec);
  World w;
  w.options.client.token.clear();
  w.options.client.authMethod = "client-certificate";
  w.options.client.clientCertPem = alice.certPem();
  w.options.client.clientKeyPem = kp::testcerts::key_pem_pkcs8(alice.key);
  w.options.deps.now = [] { return kNow + 30 * kDay; };
  w.http.on("/version", dated(answer(200, kVersion), kNow));
  const kp::core::Report report = w.options.check();
  const kp::core::Check* cert = w.find(report, "config.client-cert");
  REQUIRE(cert != nullptr);
  CHECK(cert->status == CheckStatus::warn);
  CHECK(has(cert->message, "expired 20 days ago"));
  CHECK(has(cert->hint, "this machine's clock is 30 days ahead of the server's"));
  CHECK(w.find(report, "tls.clock")->status == CheckStatus::fail);
}
