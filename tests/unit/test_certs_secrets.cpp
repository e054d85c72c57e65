#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include <catch2/catch.hpp>

#include "certs/secrets.h"
#include "core/kube/apiclient.h"
#include "core/util/base64.h"
#include "support_http.h"
#include "test_support_certs.h"

using namespace kp;
using kp::testcerts::CertSpec;
using kp::testcerts::issue;
using kp::testcerts::Issued;
using kp::testcerts::kDay;

namespace {

// Every certificate below is dated from a fixed clock.
using kp::testcerts::kNow;
constexpr std::int64_t kWarn = 30 * kDay;

CertSpec spec(std::string cn, std::int64_t notAfter, bool isCA = false) {
  CertSpec s;
  s.commonName = std::move(cn);
  s.notBefore = kNow - 30 * kDay;
  s.notAfter = notAfter;
  s.isCA = isCA;
  return s;
}

const Issued& root_ca() {
  static const Issued ca = issue(spec("secrets-root", kNow + 3650 * kDay, true));
  return ca;
}

Issued leaf_of(const Issued& issuer, std::string cn, std::int64_t notAfter) {
  CertSpec s = spec(std::move(cn), notAfter);
  s.dnsNames = {"web.example.test"};
  s.key = testcerts::make_key(testcerts::KeyKind::ecdsaP256);
  return issue(s, &issuer);
}

nlohmann::json secret(const std::string& ns, const std::string& name, const std::string& type,
                      const std::map<std::string, std::string>& data,
                      const std::map<std::string, std::string>& annotations = {}) {
  nlohmann::json s = {{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"metadata", {{"namespace", ns}, {"name", name}}},
                      {"type", type},
                      {"data", nlohmann::json::object()}};
  for (const auto& [key, value] : data) {
    s["data"][key] = core::encode_base64(value);
  }
  for (const auto& [key, value] : annotations) {
    s["metadata"]["annotations"][key] = value;
  }
  return s;
}

std::map<std::string, const core::Check*> by_source(const std::vector<core::Check>& checks) {
  std::map<std::string, const core::Check*> out;
  for (const core::Check& check : checks) {
    out[check.details["source"].get<std::string>()] = &check;
  }
  return out;
}
// The map points into the checks: keep them alive.
void by_source(std::vector<core::Check>&& checks) = delete;

std::string dump(const std::vector<core::Check>& checks) {
  core::Report report;
  report.tool = "certs";
  report.checks = checks;
  return core::to_json(report).dump();
}

}  // namespace

TEST_CASE("certs::classify_secret_key: names and PEM decide, other values are ignored",
          "[certs][secrets]") {
  using certs::classify_secret_key;
  using certs::KeyKind;
  const std::string cert = root_ca().certPem();
  const std::string key = testcerts::key_pem_pkcs8(root_ca().key);
  CHECK(classify_secret_key("tls.crt", cert, "kubernetes.io/tls") == KeyKind::certificates);
  CHECK(classify_secret_key("ca.crt", cert, "Opaque") == KeyKind::certificates);
  CHECK(classify_secret_key("bundle", "\n" + cert, "Opaque") == KeyKind::certificates);
  CHECK(classify_secret_key("server.cert", "garbage", "Opaque") == KeyKind::certificates);
  CHECK(classify_secret_key("chain.pem", "garbage", "Opaque") == KeyKind::certificates);
  CHECK(classify_secret_key("tls.crt", key, "kubernetes.io/tls") == KeyKind::certificates);
  CHECK(classify_secret_key("combined", key + cert, "Opaque") == KeyKind::certificates);
  CHECK(classify_secret_key("tls.key", key, "kubernetes.io/tls") == KeyKind::ignored);
  CHECK(classify_secret_key("key.pem", key, "Opaque") == KeyKind::ignored);
  CHECK(classify_secret_key("password", "hunter2", "Opaque") == KeyKind::ignored);
  CHECK(classify_secret_key("token", "eyJhbGciOi", "kubernetes.io/service-account-token") ==
        KeyKind::ignored);
  CHECK(classify_secret_key("ca.crt", "", "kubernetes.io/tls") == KeyKind::ignored);
  CHECK(classify_secret_key("tls.crt", "", "kubernetes.io/tls") == KeyKind::certificates);
  CHECK(classify_secret_key("tls.crt", "", "Opaque") == KeyKind::ignored);

  CHECK(certs::describe_bytes("") == "empty");
  CHECK(certs::describe_bytes("x") == "1 byte of text");
  CHECK(certs::describe_bytes("hunter2\n") == "8 bytes of text");
  CHECK(certs::describe_bytes(std::string("\x01\x02\xff", 3)) == "3 bytes of binary data");
}

TEST_CASE("certs::check_secret: a healthy kubernetes.io/tls secret", "[certs][secrets]") {
  const Issued leaf = leaf_of(root_ca(), "web.example.test", kNow + 200 * kDay);
  const std::string keyPem = testcerts::key_pem_pkcs8(leaf.key);
  const auto s = secret("web", "site", "kubernetes.io/tls",
                        {{"tls.crt", leaf.certPem()},
                         {"tls.key", keyPem},
                         {"ca.crt", root_ca().certPem()},
                         {"password", "hunter2"}});
  const std::vector<core::Check> checks = certs::check_secret(s, kNow, kWarn);
  REQUIRE(checks.size() == 2);
  const auto sources = by_source(checks);
  REQUIRE(sources.count("secret/web/site#tls.crt") == 1);
  REQUIRE(sources.count("secret/web/site#ca.crt") == 1);
  const core::Check& tls = *sources.at("secret/web/site#tls.crt");
  CHECK(tls.id == "cert.secret");
  CHECK(tls.layer == core::Layer::cert);
  CHECK(tls.status == core::CheckStatus::ok);
  CHECK(tls.hint.empty());
  CHECK(tls.message == "valid until 2027-06-14T06:50:00Z (200 days left)");
  const auto& d = tls.details;
  CHECK(d["subject"] == "CN=web.example.test");
  CHECK(d["issuer"] == "CN=secrets-root");
  CHECK(d["serial"].get<std::string>().size() > 0);
  CHECK(d["notBefore"] == "2026-10-27T06:50:00Z");
  CHECK(d["notAfter"] == "2027-06-14T06:50:00Z");
  CHECK(d["daysLeft"] == 200);
  CHECK(d["sans"] == nlohmann::ordered_json::array({"web.example.test"}));
  CHECK(d["isCA"] == false);
  CHECK(d["keyType"] == "ECDSA");
  CHECK(d["keyBits"] == 256);
  CHECK(d["signatureAlgorithm"] == "ecdsa-with-SHA256");
  CHECK(d["key"] == "tls.crt");
  CHECK(d["secretType"] == "kubernetes.io/tls");
  CHECK(d["privateKey"] == "tls.key");
  CHECK(d["verifiedAgainstCaCrt"] == true);
  CHECK(sources.at("secret/web/site#ca.crt")->status == core::CheckStatus::ok);
  CHECK(sources.at("secret/web/site#ca.crt")->details["isCA"] == true);
  // Secret values never reach the report: neither the key nor the password.
  const std::string json = dump(checks);
  const std::string keyBody = keyPem.substr(40, 32);
  CHECK(json.find(keyBody) == std::string::npos);
  CHECK(json.find("hunter2") == std::string::npos);
  CHECK(json.find("PRIVATE KEY") == std::string::npos);
}

TEST_CASE("certs::check_secret: an expired chain fails link by link, with the renewal command",
          "[certs][secrets]") {
  CertSpec ispec = spec("old-intermediate", kNow - 2 * kDay, true);
  ispec.notBefore = kNow - 400 * kDay;
  const Issued intermediate = issue(ispec, &root_ca());
  CertSpec lspec = spec("old-leaf", kNow - 5 * kDay);
  lspec.notBefore = kNow - 300 * kDay;
  const Issued leaf = issue(lspec, &intermediate);
  const auto s = secret("shop", "old", "kubernetes.io/tls",
                        {{"tls.crt", leaf.certPem() + intermediate.certPem()},
                         {"tls.key", testcerts::key_pem_pkcs8(leaf.key)},
                         {"ca.crt", root_ca().certPem()}});
  const auto checks = certs::check_secret(s, kNow, kWarn);
  REQUIRE(checks.size() == 3);
  const auto sources = by_source(checks);
  const core::Check& first = *sources.at("secret/shop/old#tls.crt[0]");
  const core::Check& second = *sources.at("secret/shop/old#tls.crt[1]");
  CHECK(first.status == core::CheckStatus::fail);
  CHECK(first.message == "expired 5 days ago (notAfter 2026-11-21T06:50:00Z)");
  CHECK(first.hint ==
        "re-issue the certificate, then: kubectl create secret tls old --cert=tls.crt "
        "--key=tls.key -n shop --dry-run=client -o yaml | kubectl apply -f -");
  CHECK(second.status == core::CheckStatus::fail);
  CHECK(second.message == "expired 2 days ago (notAfter 2026-11-24T06:50:00Z)");
  CHECK(second.details["isCA"] == true);
  // The links hold and the chain leads to ca.crt: only expiry is wrong.
  CHECK(first.details["privateKey"] == "tls.key");
  CHECK(sources.at("secret/shop/old#ca.crt")->status == core::CheckStatus::ok);

  SECTION("a chain out of order is broken") {
    const auto swapped =
        secret("shop", "swapped", "Opaque",
               {{"chain.pem", intermediate.certPem() + root_ca().certPem() + leaf.certPem()}});
    // Starts with a CA: a set of trust anchors, not a chain.
    for (const core::Check& check : certs::check_secret(swapped, kNow, kWarn)) {
      CHECK(check.message.find("chain broken") == std::string::npos);
    }
    const auto broken =
        secret("shop", "broken", "Opaque",
               {{"chain.pem", leaf.certPem() + root_ca().certPem() + intermediate.certPem()}});
    const auto resultChecks = certs::check_secret(broken, kNow, kWarn);
    const auto result = by_source(resultChecks);
    const core::Check& link = *result.at("secret/shop/broken#chain.pem[0]");
    CHECK(link.status == core::CheckStatus::fail);
    CHECK(
        link.message.starts_with("chain broken: not signed by the next certificate, "
                                 "chain.pem[1] (issuer CN=old-intermediate, next is "
                                 "CN=secrets-root); expired 5 days ago"));
    CHECK(link.hint.find("put the chain in order in chain.pem") == 0);
    CHECK(link.hint.find("kubectl create secret generic broken --from-file=chain.pem=") !=
          std::string::npos);
    CHECK(result.at("secret/shop/broken#chain.pem[1]")->message.find("chain broken") == 0);
  }
}

TEST_CASE("certs::check_secret: garbage says what the bytes were, without quoting them",
          "[certs][secrets]") {
  const auto s = secret("junk", "garbage", "kubernetes.io/tls",
                        {{"tls.crt", "hello, I am a pass"},
                         {"tls.key", "not a key either"},
                         {"server.cert", std::string("\x01\x02\x03\xfe", 4)},
                         {"notes.txt", "just some text"},
                         {"ca.pem", testcerts::key_pem_pkcs8(root_ca().key)}});
  const auto checks = certs::check_secret(s, kNow, kWarn);
  REQUIRE(checks.size() == 2);
  const auto sources = by_source(checks);
  const core::Check& tls = *sources.at("secret/junk/garbage#tls.crt");
  CHECK(tls.status == core::CheckStatus::fail);
  CHECK(tls.message == "tls.crt: not PEM or DER: 18 bytes of text");
  CHECK(
      tls.hint.starts_with("put PEM certificates in tls.crt (the Secret's data is the PEM file, "
                           "base64-encoded once); re-issue the certificate, then: kubectl "
                           "create secret tls garbage"));
  CHECK(sources.at("secret/junk/garbage#server.cert")->message ==
        "server.cert: not PEM or DER: 4 bytes of binary data");
  const std::string json = dump(checks);
  CHECK(json.find("hello") == std::string::npos);
  CHECK(json.find("not a key") == std::string::npos);

  SECTION("base64 of PEM stored once more, a key in tls.crt") {
    const auto twice = secret("junk", "twice", "kubernetes.io/tls",
                              {{"tls.crt", core::encode_base64(root_ca().certPem())},
                               {"ca.crt", testcerts::key_pem_pkcs8(root_ca().key)}});
    const auto resultChecks = certs::check_secret(twice, kNow, kWarn);
    const auto result = by_source(resultChecks);
    CHECK(result.at("secret/junk/twice#tls.crt")->message ==
          "tls.crt: base64-encoded PEM, not PEM (decode it first)");
    CHECK(result.at("secret/junk/twice#ca.crt")->message ==
          "ca.crt: a PEM PRIVATE KEY block, not a certificate");
  }
}

TEST_CASE("certs::check_secret: an Opaque secret holding a bundle", "[certs][secrets]") {
  const Issued other = issue(spec("other-root", kNow + 20 * kDay, true));
  const auto s =
      secret("infra", "trust", "Opaque",
             {{"ca-bundle.pem", root_ca().certPem() + other.certPem()}, {"config.yaml", "a: b\n"}});
  const auto checks = certs::check_secret(s, kNow, kWarn);
  REQUIRE(checks.size() == 2);
  const auto sources = by_source(checks);
  const core::Check& first = *sources.at("secret/infra/trust#ca-bundle.pem[0]");
  const core::Check& second = *sources.at("secret/infra/trust#ca-bundle.pem[1]");
  CHECK(first.status == core::CheckStatus::ok);
  CHECK(first.details["subject"] == "CN=secrets-root");
  CHECK(second.status == core::CheckStatus::warn);
  CHECK(second.message == "expires in 20 days (notAfter 2026-12-16T06:50:00Z)");
  CHECK(second.hint ==
        "re-issue the certificate, then: kubectl create secret generic trust "
        "--from-file=ca-bundle.pem=NEW-FILE (and every other key) -n infra --dry-run=client -o "
        "yaml | kubectl apply -f -");

  SECTION("a PEM value under any name, with its key in the same PEM") {
    const Issued leaf = leaf_of(root_ca(), "combined", kNow + 90 * kDay);
    const auto combined =
        secret("infra", "haproxy", "Opaque",
               {{"haproxy", leaf.certPem() + testcerts::key_pem_traditional(leaf.key)}});
    const auto result = certs::check_secret(combined, kNow, kWarn);
    REQUIRE(result.size() == 1);
    CHECK(result[0].details["source"] == "secret/infra/haproxy#haproxy");
    CHECK(result[0].details["privateKey"] == "haproxy");
    CHECK(result[0].status == core::CheckStatus::ok);
  }
}

TEST_CASE("certs::check_secret: a private key that does not match its certificate",
          "[certs][secrets]") {
  const Issued leaf = leaf_of(root_ca(), "web", kNow + 200 * kDay);
  const core::PrivateKey stranger = testcerts::make_key(testcerts::KeyKind::ecdsaP256);
  const std::string strangerPem = testcerts::key_pem_pkcs8(stranger);
  const auto s = secret("web", "mismatch", "kubernetes.io/tls",
                        {{"tls.crt", leaf.certPem()}, {"tls.key", strangerPem}});
  const auto checks = certs::check_secret(s, kNow, kWarn);
  REQUIRE(checks.size() == 1);
  CHECK(checks[0].status == core::CheckStatus::fail);
  CHECK(checks[0].message.starts_with(
      "tls.key does not match tls.crt (the public keys differ: clients will fail the TLS "
      "handshake); valid until"));
  CHECK(
      checks[0].hint.starts_with("put the key that belongs to tls.crt in tls.key, or re-issue "
                                 "both; re-issue the certificate, then: kubectl create secret "
                                 "tls mismatch"));
  CHECK(dump(checks).find(strangerPem.substr(40, 32)) == std::string::npos);

  SECTION("NAME.crt pairs with NAME.key, cert.pem with key.pem; an unreadable key says so") {
    const auto pairs = secret("web", "pairs", "Opaque",
                              {{"server.crt", leaf.certPem()},
                               {"server.key", testcerts::key_pem_pkcs8(leaf.key)},
                               {"cert.pem", leaf.certPem()},
                               {"key.pem", strangerPem},
                               {"client.crt", leaf.certPem()},
                               {"client.key", "hunter2"}});
    const auto resultChecks = certs::check_secret(pairs, kNow, kWarn);
    const auto result = by_source(resultChecks);
    CHECK(result.at("secret/web/pairs#server.crt")->status == core::CheckStatus::ok);
    CHECK(result.at("secret/web/pairs#cert.pem")
              ->message.starts_with("key.pem does not match cert.pem"));
    CHECK(result.at("secret/web/pairs#client.crt")
              ->message.starts_with("client.key cannot be read as a private key: not PEM or DER;"));
  }
}

TEST_CASE("certs::check_secret: ca.crt that did not sign tls.crt", "[certs][secrets]") {
  const Issued otherCa = issue(spec("other-ca", kNow + 3650 * kDay, true));
  const Issued leaf = leaf_of(otherCa, "web", kNow + 200 * kDay);
  const auto s = secret("web", "wrong-ca", "kubernetes.io/tls",
                        {{"tls.crt", leaf.certPem()},
                         {"tls.key", testcerts::key_pem_pkcs8(leaf.key)},
                         {"ca.crt", root_ca().certPem()}});
  const auto sourcesChecks = certs::check_secret(s, kNow, kWarn);
  const auto sources = by_source(sourcesChecks);
  const core::Check& tls = *sources.at("secret/web/wrong-ca#tls.crt");
  CHECK(tls.status == core::CheckStatus::fail);
  CHECK(tls.message.starts_with("tls.crt does not verify against ca.crt (depth 0): "));
  CHECK(tls.message.find("CN=other-ca") != std::string::npos);
  CHECK(tls.hint.starts_with("tls.crt was not issued by the CA in ca.crt"));
  CHECK(tls.details["verifiedAgainstCaCrt"] == false);
  CHECK(sources.at("secret/web/wrong-ca#ca.crt")->status == core::CheckStatus::ok);
}

TEST_CASE("certs::renew_hint: cert-manager, service-account tokens, plain secrets",
          "[certs][secrets]") {
  const Issued leaf = leaf_of(root_ca(), "soon", kNow + 3 * kDay);
  const auto managed = secret("apps", "web-tls", "kubernetes.io/tls",
                              {{"tls.crt", leaf.certPem()}, {"ca.crt", root_ca().certPem()}},
                              {{"cert-manager.io/certificate-name", "web"}});
  const auto checksChecks = certs::check_secret(managed, kNow, kWarn);
  const auto checks = by_source(checksChecks);
  const core::Check& tls = *checks.at("secret/apps/web-tls#tls.crt");
  CHECK(tls.status == core::CheckStatus::warn);
  CHECK(tls.hint == "managed by cert-manager (Certificate web): cmctl renew web -n apps");
  CHECK(tls.details["certManagerCertificate"] == "web");

  CertSpec old = spec("kubernetes", kNow - kDay, true);
  old.notBefore = kNow - 3650 * kDay;
  const auto token = secret("kube-system", "default-token", "kubernetes.io/service-account-token",
                            {{"ca.crt", issue(old).certPem()},
                             {"namespace", "kube-system"},
                             {"token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}});
  const auto tokenChecks = certs::check_secret(token, kNow, kWarn);
  REQUIRE(tokenChecks.size() == 1);
  CHECK(tokenChecks[0].status == core::CheckStatus::fail);
  CHECK(
      tokenChecks[0].hint.starts_with("this is the cluster CA, copied into service-account "
                                      "tokens by kube-controller-manager"));
  CHECK(dump(tokenChecks).find("eyJhbGci") == std::string::npos);
}

namespace {

// Pages of a SecretList served by continue token, behind ApiClient.
struct FakeApi {
  kp::testsupport::FakeHttp http;
  std::map<std::string, kp::core::HttpResponse> answers;  // by continue token ("" = first)
  std::size_t maxItems = 1000;                            // more per page: tooLarge

  FakeApi() {
    http.hook([this](const kp::core::HttpRequest& request,
                     std::size_t) -> std::optional<kp::core::HttpResult> {
      return answer(kp::testsupport::path_of(request.url));
    });
  }

  kp::core::HttpResult answer(const std::string& path) {
    std::string token;
    if (const auto at = path.find("&continue="); at != std::string::npos) {
      token = path.substr(at + 10);
    }
    const auto limitAt = path.find("limit=") + 6;
    const std::size_t limit = std::stoul(path.substr(limitAt, path.find('&', limitAt) - limitAt));
    if (limit > maxItems) {
      return kp::core::HttpError{kp::core::TransportError::tooLarge, 63, "body too large", {}};
    }
    const auto it = answers.find(token);
    REQUIRE(it != answers.end());
    return it->second;
  }
};

core::ApiClient fake_client(const std::shared_ptr<FakeApi>& api) {
  core::ClientConfig config;
  config.server = "https://api.test:6443";
  config.contextName = "lab";
  config.clusterName = "lab";
  config.namespaceName = "web";
  return core::ApiClient(
      config, {}, [api] { return api->http.client(); }, std::chrono::milliseconds(5000));
}

kp::core::HttpResponse page(const std::vector<nlohmann::json>& items, const std::string& next) {
  nlohmann::json list = {{"apiVersion", "v1"},
                         {"kind", "SecretList"},
                         {"metadata", {{"resourceVersion", "42"}}},
                         {"items", items}};
  if (!next.empty()) {
    list["metadata"]["continue"] = next;
  }
  kp::core::HttpResponse r;
  r.status = 200;
  r.body = list.dump();
  return r;
}

}  // namespace

TEST_CASE("certs::check_secrets lists page by page with limit and continue tokens",
          "[certs][secrets]") {
  const Issued leaf = leaf_of(root_ca(), "paged", kNow + 200 * kDay);
  auto tls = [&](const std::string& name) {
    return secret("web", name, "kubernetes.io/tls",
                  {{"tls.crt", leaf.certPem()}, {"tls.key", testcerts::key_pem_pkcs8(leaf.key)}});
  };
  auto api = std::make_shared<FakeApi>();
  api->answers[""] = page({tls("a"), tls("b")}, "tok/1+");
  api->answers["tok%2F1%2B"] = page({secret("web", "pw", "Opaque", {{"password", "x"}})}, "t2");
  api->answers["t2"] = page({tls("c")}, "");
  const core::ApiClient client = fake_client(api);
  certs::SecretsOptions options;
  options.common.now = [] { return kNow; };
  options.namespaceName = "web";
  options.labelSelector = "app in (web),tier!=db";
  core::Result<core::Report> report = certs::check_secrets(client, options);
  REQUIRE(report);
  CHECK(api->http.paths() ==
        std::vector<std::string>{
            "/api/v1/namespaces/web/"
            "secrets?limit=500&labelSelector=app%20in%20%28web%29%2Ctier%21%3Ddb",
            "/api/v1/namespaces/web/"
            "secrets?limit=500&labelSelector=app%20in%20%28web%29%2Ctier%21%3Ddb&"
            "continue=tok%2F1%2B",
            "/api/v1/namespaces/web/"
            "secrets?limit=500&labelSelector=app%20in%20%28web%29%2Ctier%21%3Ddb&"
            "continue=t2"});
  REQUIRE(report->checks.size() == 4);
  CHECK(report->checks[0].id == "cert.secrets");
  CHECK(report->checks[0].status == core::CheckStatus::ok);
  CHECK(report->checks[0].message ==
        "listed 4 secrets in namespace \"web\" matching \"app in (web),tier!=db\" in 3 pages: 3 "
        "hold certificates");
  CHECK(report->checks[1].details["source"] == "secret/web/a#tls.crt");
  CHECK(report->checks[3].details["source"] == "secret/web/c#tls.crt");
  CHECK(report->target.context == "lab");
  CHECK(client.requests() == 3);

  SECTION("all namespaces; a page too large is asked again in smaller pages") {
    auto big = std::make_shared<FakeApi>();
    big->maxItems = 50;
    big->answers[""] = page({tls("a")}, "");
    certs::SecretsOptions all = options;
    all.allNamespaces = true;
    all.labelSelector.clear();
    core::Result<core::Report> result = certs::check_secrets(fake_client(big), all);
    REQUIRE(result);
    CHECK(big->http.paths() ==
          std::vector<std::string>{"/api/v1/secrets?limit=500", "/api/v1/secrets?limit=50"});
    CHECK(result->checks[0].message ==
          "listed 1 secret in all namespaces in 1 page: 1 holds certificates");
  }

  SECTION("no certificates: a skip") {
    auto empty = std::make_shared<FakeApi>();
    empty->answers[""] = page({}, "");
    core::Result<core::Report> result = certs::check_secrets(fake_client(empty), options);
    REQUIRE(result);
    REQUIRE(result->checks.size() == 1);
    CHECK(result->checks[0].status == core::CheckStatus::skip);
    CHECK(core::exit_code(*result, core::FailOn::fail) == 0);
  }
}

TEST_CASE("certs::run_secrets streams -o json and -o yaml as the Report renders, in order",
          "[certs][secrets]") {
  const Issued good = leaf_of(root_ca(), "good", kNow + 200 * kDay);
  const Issued soon = leaf_of(root_ca(), "soon", kNow + 3 * kDay);
  const Issued other = leaf_of(root_ca(), "other", kNow + 200 * kDay);
  auto api = std::make_shared<FakeApi>();
  // Pages of many Secrets, split between the two workers: the order must not change.
  std::vector<nlohmann::json> first, second;
  for (int i = 0; i < 41; ++i) {
    const Issued& leaf = i % 3 == 0 ? soon : good;
    // Every fifth key belongs to another certificate: a failing check.
    const Issued& keyOf = i % 5 == 0 ? other : leaf;
    (i < 25 ? first : second)
        .push_back(secret("web", "s" + std::to_string(i), "kubernetes.io/tls",
                          {{"tls.crt", leaf.certPem()},
                           {"tls.key", testcerts::key_pem_pkcs8(keyOf.key)},
                           {"ca.crt", root_ca().certPem()}}));
  }
  api->answers[""] = page(first, "next");
  api->answers["next"] = page(second, "");
  certs::SecretsOptions options;
  options.common.now = [] { return kNow; };
  options.namespaceName = "web";
  const core::ApiClient client = fake_client(api);
  core::Result<core::Report> report = certs::check_secrets(client, options);
  REQUIRE(report);
  REQUIRE(report->checks.size() == 1 + 41 * 2);
  for (int i = 0; i < 41; ++i) {
    CHECK(report->checks[1 + 2 * i].details["source"] ==
          "secret/web/s" + std::to_string(i) + "#ca.crt");
    const core::Check& leaf = report->checks[2 + 2 * i];
    CHECK(leaf.details["source"] == "secret/web/s" + std::to_string(i) + "#tls.crt");
    CHECK((leaf.status == core::CheckStatus::fail) == (i % 5 == 0));
  }
  for (const auto& [output, format] : {std::pair{certs::Output::json, core::OutputFormat::json},
                                       std::pair{certs::Output::yaml, core::OutputFormat::yaml}}) {
    options.common.output = output;
    std::ostringstream expected, out, err;
    core::render(expected, *report, format, false);
    CHECK(certs::run_secrets(client, options, out, err) == 1);
    CHECK(out.str() == expected.str());
    CHECK(err.str().empty());
  }
}

TEST_CASE("certs::check_secrets: forbidden is an RBAC check and exit 1, a bad selector exit 2",
          "[certs][secrets]") {
  auto api = std::make_shared<FakeApi>();
  kp::core::HttpResponse forbidden;
  forbidden.status = 403;
  forbidden.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"secrets is )"
                   R"(forbidden: User \"lab-limited\" cannot list resource \"secrets\" in API )"
                   R"(group \"\" in the namespace \"web\"","reason":"Forbidden","code":403})";
  api->answers[""] = forbidden;
  certs::SecretsOptions options;
  options.common.now = [] { return kNow; };
  options.common.output = certs::Output::json;
  options.namespaceName = "web";
  std::ostringstream out, err;
  CHECK(certs::run_secrets(fake_client(api), options, out, err) == 1);
  const auto doc = nlohmann::json::parse(out.str());
  CHECK(doc["verdict"] == "fail");
  CHECK(doc["failedLayer"] == "auth");
  REQUIRE(doc["checks"].size() == 1);
  CHECK(doc["checks"][0]["id"] == "auth.secrets");
  CHECK(doc["checks"][0]["message"] ==
        "cannot list secrets in namespace \"web\": GET /api/v1/namespaces/web/secrets: secrets is "
        "forbidden: User \"lab-limited\" cannot list resource \"secrets\" in API group \"\" in "
        "the namespace \"web\" (HTTP 403)");
  CHECK(doc["checks"][0]["hint"].get<std::string>().find(
            "kubectl auth can-i list secrets -n web") != std::string::npos);

  kp::core::HttpResponse bad;
  bad.status = 400;
  bad.body = R"({"kind":"Status","message":"unable to parse requirement","reason":"BadRequest"})";
  api->answers[""] = bad;
  options.labelSelector = "a b";
  std::ostringstream out2, err2;
  CHECK(certs::run_secrets(fake_client(api), options, out2, err2) == 2);
  CHECK(err2.str() ==
        "kubectl-certs: error: -l \"a b\": GET /api/v1/namespaces/web/secrets: unable to parse "
        "requirement (HTTP 400)\n");
}

TEST_CASE("certs::secrets through the command table: help and bad flags", "[certs][secrets]") {
  auto run = [](std::vector<std::string> args, std::string& out, std::string& err) {
    std::ostringstream o, e;
    const core::Invocation invocation{
        "kubectl certs", "certs", "secrets", "Inspect TLS secrets", args, o, e};
    const int code = certs::secrets_command(invocation);
    out = o.str();
    err = e.str();
    return code;
  };
  std::string out, err;
  CHECK(run({"--help"}, out, err) == 0);
  CHECK(out.find("--all-namespaces") != std::string::npos);
  CHECK(out.find("--selector") != std::string::npos);
  CHECK(out.find(".crt, .cert, .cer or .pem") != std::string::npos);
  CHECK(run({"-o", "xml"}, out, err) == 2);
  CHECK(run({"extra"}, out, err) == 2);
  CHECK(err ==
        "kubectl-certs: error: unexpected argument \"extra\"; see kubectl certs secrets "
        "--help\n");
  CHECK(run({"--timeout", "0s"}, out, err) == 2);
  CHECK(run({"--kubeconfig", "/nonexistent/kp-h2-config"}, out, err) == 2);
  CHECK(err.find("/nonexistent/kp-h2-config") != std::string::npos);
}

TEST_CASE("certs::check_secret: a CA shared by many secrets is checked once, named per secret",
          "[certs][secrets]") {
  CertSpec old = spec("shared-ca", kNow - kDay, true);
  old.notBefore = kNow - 3650 * kDay;
  const std::string ca = issue(old).certPem();
  const Issued leaf = leaf_of(root_ca(), "leaf", kNow + 90 * kDay);
  certs::CaCache cache;
  std::vector<std::vector<core::Check>> results;
  for (const std::string name : {"x", "y"}) {
    results.push_back(certs::check_secret(secret("ns-" + name, name, "kubernetes.io/tls",
                                                 {{"ca.crt", ca}, {"tls.crt", leaf.certPem()}}),
                                          kNow, kWarn, &cache));
  }
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string name = i == 0 ? "x" : "y";
    const auto sources = by_source(results[i]);
    const core::Check& caCheck = *sources.at("secret/ns-" + name + "/" + name + "#ca.crt");
    CHECK(caCheck.status == core::CheckStatus::fail);
    CHECK(caCheck.hint == "re-issue the certificate, then: kubectl create secret tls " + name +
                              " --cert=tls.crt --key=tls.key -n ns-" + name +
                              " --dry-run=client -o yaml | kubectl apply -f -");
    CHECK(caCheck.details["key"] == "ca.crt");
    // The leaf is not from this CA: the shared CA still takes part in the verification.
    const core::Check& tls = *sources.at("secret/ns-" + name + "/" + name + "#tls.crt");
    CHECK(tls.message.starts_with("tls.crt does not verify against ca.crt"));
  }
  CHECK(dump(results[0]) != dump(results[1]));
}
