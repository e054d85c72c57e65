// apicheck's layer logic with the network, TLS and HTTP faked: which layer is blamed, what is
// (and is not) sent, and what the report says. The real network is the end-to-end tests' job.
#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "apicheck/apicheck.h"
#include "apicheck/run.h"
#include "support_apicheck.h"
#include "support_http.h"
#include "test_support_certs.h"

namespace {

using kp::core::CheckStatus;
using kp::core::Layer;
using kp::testsupport::answer;
using kp::testsupport::sent_credentials;
using World = kp::testsupport::ApicheckWorld;

}  // namespace

TEST_CASE("apicheck::check healthy path is ok with every layer", "[apicheck]") {
  World w;
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::verdict(report) == CheckStatus::ok);
  CHECK_FALSE(kp::core::failed_layer(report).has_value());
  REQUIRE(w.find(report, "auth.whoami") != nullptr);
  CHECK(w.find(report, "auth.whoami")->message.find("authenticated as alice") == 0);
  CHECK(w.find(report, "health.version")->message ==
        "server version v1.37.2 (go1.26.8, linux/amd64)");
  CHECK(w.find(report, "dns.resolve")->message == "api.test -> 198.51.100.7");
  REQUIRE(report.timings.size() == 1);
  CHECK(report.timings[0].endpoint == "198.51.100.7:6443");
}

TEST_CASE("apicheck::check names the token only by fingerprint", "[apicheck]") {
  World w;
  w.http.on(
      "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      answer(401, R"({"kind":"Status","status":"Failure","reason":"Unauthorized","code":401})"));
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::failed_layer(report) == Layer::auth);
  const kp::core::Check* whoami = w.find(report, "auth.whoami");
  REQUIRE(whoami != nullptr);
  CHECK(whoami->message.find("the bearer token sha256:") != std::string::npos);
  std::ostringstream all;
  kp::core::render_json(all, report);
  kp::core::render_text(all, report, false);
  CHECK(all.str().find("s3cr3t-token-value") == std::string::npos);
}

TEST_CASE("apicheck::check DNS failure stops before any connection", "[apicheck]") {
  World w;
  w.net->names.clear();
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::failed_layer(report) == Layer::dns);
  CHECK(w.find(report, "dns.resolve")->message ==
        "api.test does not resolve: NXDOMAIN; DNS (192.0.2.53) says the name does not exist");
  CHECK(w.net->connects.empty());
  CHECK(w.http.sent.empty());
  CHECK(w.find(report, "tcp.connect")->status == CheckStatus::skip);
}

TEST_CASE("apicheck::check refused connection is the tcp layer", "[apicheck]") {
  World w;
  w.net->broken["198.51.100.7:6443"] = kp::core::ConnectFailure::refused;
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::failed_layer(report) == Layer::tcp);
  const kp::core::Check* tcp = w.find(report, "tcp.connect");
  CHECK(tcp->endpoint == "198.51.100.7:6443");
  CHECK(tcp->message.find("connection refused") == 0);
  CHECK(w.http.sent.empty());
}

TEST_CASE("apicheck::check sends nothing to a server that failed TLS verification", "[apicheck]") {
  World w;
  // An expired chain is the one case that asks the server anything: its Date, anonymously.
  std::vector<std::string> asked;
  SECTION("expired chain: only an anonymous, unverified GET /version for the server's clock") {
    w.tls.verify.ok = false;
    w.tls.verify.failure = kp::core::VerifyFailure::expired;
    w.tls.verify.reason = "certificate has expired";
    asked = {"/version"};
  }
  SECTION("unknown authority") {
    w.tls.verify.ok = false;
    w.tls.verify.failure = kp::core::VerifyFailure::unknownAuthority;
    w.tls.verify.reason = "unable to get local issuer certificate";
  }
  SECTION("wrong name") {
    w.tls.nameMatches = false;
    w.tls.nameMismatch = "certificate is valid for other.test, not api.test";
  }
  w.options.client.clientCertPem = "not used";
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::failed_layer(report) == Layer::tls);
  // Besides the anonymous health requests that went out with the handshake (verifying on
  // their own connection, so a real server that fails verification gets none of them), only
  // what the TLS findings ask for.
  CHECK(kp::testsupport::paths_besides_early_health(w.http.sent, w.options.client) == asked);
  for (const kp::core::HttpRequest& r : w.http.sent) {
    CHECK(r.method == "GET");
    CHECK(r.headers.empty());
    CHECK(r.clientCertPem.empty());
    CHECK(r.clientKeyPem.empty());
  }
  CHECK_FALSE(sent_credentials(w.http.sent));
  CHECK(w.find(report, "auth.whoami")->status == CheckStatus::skip);
  // Their answers are dropped: the health layer is reported as not reached.
  CHECK(w.find(report, "health.livez") == nullptr);
  REQUIRE(w.find(report, "health.readyz") != nullptr);
  CHECK(w.find(report, "health.readyz")->status == CheckStatus::skip);
}

TEST_CASE("apicheck::check sends the anonymous health requests during the diagnostic handshake",
          "[apicheck]") {
  World w;
  // The probe finishes only once /livez has gone out (or gives up after 5 s): the health
  // requests do not wait for it.
  auto probe = w.tls;
  bool sawLivez = false;
  w.options.deps.tls = [&](int, const kp::core::TlsProbeOptions&)
      -> kp::core::Result<kp::core::TlsProbe, kp::core::TlsError> {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!sawLivez && std::chrono::steady_clock::now() < deadline) {
      const std::vector<std::string> paths = w.http.paths();
      sawLivez = std::find(paths.begin(), paths.end(), "/livez") != paths.end();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return probe;
  };
  const kp::core::Report report = w.options.check();
  CHECK(sawLivez);
  CHECK(kp::core::verdict(report) == CheckStatus::ok);
  CHECK(w.find(report, "health.livez")->status == CheckStatus::ok);
  // All four share one HTTP/1.1 connection (kube-apiserver closes an anonymous HTTP/2 one
  // after each request); the credentialed request keeps HTTP/2.
  std::size_t early = 0;
  for (const kp::core::HttpRequest& r : w.http.sent) {
    if (kp::testsupport::early_health_request(r, w.options.client)) {
      ++early;
    } else {
      CHECK_FALSE(r.http1);
    }
  }
  CHECK(early == 4);
}

TEST_CASE("apicheck::check a client key that is not the certificate's fails config", "[apicheck]") {
  namespace tc = kp::testcerts;
  tc::CertSpec spec;
  spec.commonName = "alice";
  spec.extKeyUsage = {"clientAuth"};
  spec.key = tc::make_key(tc::KeyKind::ecdsaP256);
  spec.notBefore = tc::kNow - tc::kDay;  // dated from the World's clock
  spec.notAfter = tc::kNow + 365 * tc::kDay;
  const tc::Issued alice = tc::issue(spec);
  World w;
  w.options.client.token.clear();
  w.options.client.authMethod = "client-certificate";
  w.options.client.clientCertPem = alice.certPem();
  SECTION("its own key: ok, and whoami asked with it") {
    w.options.client.clientKeyPem = tc::key_pem_pkcs8(alice.key);
    const kp::core::Report report = w.options.check();
    CHECK(w.find(report, "config.client-cert")->status == CheckStatus::ok);
    CHECK(w.find(report, "auth.whoami")->status == CheckStatus::ok);
    CHECK(sent_credentials(w.http.sent));
  }
  SECTION("another key: config fails, the pair is never sent") {
    w.options.client.clientKeyPem = tc::key_pem_pkcs8(tc::make_key(tc::KeyKind::ecdsaP256));
    const kp::core::Report report = w.options.check();
    CHECK(kp::core::failed_layer(report) == Layer::config);
    const kp::core::Check* cert = w.find(report, "config.client-cert");
    CHECK(cert->status == CheckStatus::fail);
    CHECK(cert->message.find("the client key does not match it") != std::string::npos);
    CHECK(cert->hint.find("tls: private key does not match public key") != std::string::npos);
    CHECK(w.find(report, "auth.whoami")->status == CheckStatus::skip);
    CHECK_FALSE(sent_credentials(w.http.sent));
  }
}

TEST_CASE("apicheck::check insecure-skip-tls-verify warns and goes on", "[apicheck]") {
  World w;
  w.tls.verify.ok = false;
  w.tls.verify.failure = kp::core::VerifyFailure::unknownAuthority;
  w.tls.verify.reason = "unable to get local issuer certificate";
  w.options.client.insecure = true;
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::verdict(report) == CheckStatus::warn);
  CHECK(w.find(report, "config.insecure")->status == CheckStatus::warn);
  CHECK(w.find(report, "tls.verify")->status == CheckStatus::warn);
  CHECK(sent_credentials(w.http.sent));
}

// kubeadm reset + init at the same address: a new CA with the old name. The kubeconfig is the
// earlier cluster's; renewing the server's certificate or trusting "the CA" would both be wrong.
TEST_CASE("apicheck::check tells a re-created cluster from an unknown CA", "[apicheck][tls]") {
  using kp::testcerts::CertSpec;
  using kp::testcerts::issue;
  CertSpec caSpec;
  caSpec.commonName = "kubernetes";
  caSpec.isCA = true;
  const kp::testcerts::Issued oldCa = issue(caSpec);
  caSpec.key = kp::testcerts::make_key(kp::testcerts::KeyKind::ecdsaP256);
  const kp::testcerts::Issued newCa = issue(caSpec);
  CertSpec leafSpec;
  leafSpec.commonName = "kube-apiserver";
  leafSpec.dnsNames = {"api.test"};
  World w;
  w.tls.verify.ok = false;
  w.tls.verify.failure = kp::core::VerifyFailure::unknownAuthority;
  w.tls.verify.reason = "unable to get local issuer certificate";
  w.options.client.caPem = oldCa.cert.pem();
  SECTION("same CA name, another key: the kubeconfig is the earlier cluster's") {
    w.tls.chain = {issue(leafSpec, &newCa).cert};
    const kp::core::Report report = w.options.check();
    const kp::core::Check* verify = w.find(report, "tls.verify");
    REQUIRE(verify != nullptr);
    CHECK(verify->status == CheckStatus::fail);
    CHECK(verify->hint.find("belongs to an earlier cluster at this address") != std::string::npos);
    CHECK(verify->message.find("CA named CN=kubernetes") != std::string::npos);
  }
  SECTION("the leaf alone, from a CA of another name: an incomplete chain or another CA") {
    CertSpec otherSpec = caSpec;
    otherSpec.commonName = "other-ca";
    const kp::testcerts::Issued otherCa = issue(otherSpec);
    w.tls.chain = {issue(leafSpec, &otherCa).cert};
    const kp::core::Report report = w.options.check();
    const kp::core::Check* verify = w.find(report, "tls.verify");
    REQUIRE(verify != nullptr);
    CHECK(verify->hint.find("earlier cluster") == std::string::npos);
    CHECK(verify->message.find("the server sent only its own certificate, issued by CN=other-ca") !=
          std::string::npos);
    CHECK(verify->hint.find("two causes fit: (1) the served chain is incomplete") !=
          std::string::npos);
    CHECK(verify->hint.find("(2) certificate-authority-data is another cluster's CA") !=
          std::string::npos);
  }
  SECTION("the server names the kubeconfig's CA for client certificates: incomplete chain") {
    CertSpec middleSpec = caSpec;
    middleSpec.commonName = "cluster-intermediate";
    const kp::testcerts::Issued middle = issue(middleSpec, &oldCa);
    w.tls.chain = {issue(leafSpec, &middle).cert};
    w.tls.clientCertRequested = true;
    w.tls.acceptableClientCaNames = {"CN=kubernetes"};
    const kp::core::Report report = w.options.check();
    const kp::core::Check* verify = w.find(report, "tls.verify");
    REQUIRE(verify != nullptr);
    CHECK(verify->status == CheckStatus::fail);
    CHECK(verify->message.find("the served chain is incomplete") != std::string::npos);
    CHECK(verify->hint.find("serve the full chain") != std::string::npos);
    CHECK(verify->hint.find("the intermediate CN=cluster-intermediate") != std::string::npos);
    CHECK(verify->hint.find("two causes") == std::string::npos);
  }
  SECTION("a chain that ends at another root: another CA") {
    CertSpec otherSpec = caSpec;
    otherSpec.commonName = "other-ca";
    const kp::testcerts::Issued otherCa = issue(otherSpec);
    w.tls.chain = {issue(leafSpec, &otherCa).cert, otherCa.cert};
    const kp::core::Report report = w.options.check();
    const kp::core::Check* verify = w.find(report, "tls.verify");
    REQUIRE(verify != nullptr);
    CHECK(verify->message.find("ends at its own root CA CN=other-ca") != std::string::npos);
    CHECK(verify->hint.find("set certificate-authority-data to the CA that signed") !=
          std::string::npos);
    CHECK(verify->hint.find("full chain") == std::string::npos);
  }
  CHECK_FALSE(sent_credentials(w.http.sent));
}

TEST_CASE("apicheck::check names the failing readyz checks", "[apicheck]") {
  World w;
  w.http.on(
      "/readyz?verbose",
      answer(500, "[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\nreadyz check failed\n"));
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::failed_layer(report) == Layer::health);
  CHECK(w.find(report, "health.readyz")->message == "/readyz?verbose HTTP 500: etcd failed");
}

// Behind a load balancer the diagnostic connection and libcurl's may reach different backends:
// a failure on the request's own connection is named by where it broke, not as health.
TEST_CASE("apicheck::check names the layer a health request's own connection broke at",
          "[apicheck]") {
  World w;
  SECTION("its TLS handshake") {
    w.http.on("/livez", kp::core::HttpError{kp::core::TransportError::tlsVerify,
                                            60,
                                            "SSL certificate problem: certificate has expired",
                                            {},
                                            kp::core::TransferPhase::tls});
    const kp::core::Report report = w.options.check();
    CHECK(kp::core::failed_layer(report) == Layer::tls);
    const kp::core::Check* livez = w.find(report, "health.livez");
    REQUIRE(livez != nullptr);
    CHECK(livez->layer == Layer::tls);
    CHECK(livez->hint.find("a backend serves another certificate") != std::string::npos);
    CHECK(w.find(report, "tls.verify")->status == kp::core::CheckStatus::ok);
  }
  SECTION("its TCP connection") {
    w.http.on("/livez", kp::core::HttpError{kp::core::TransportError::connect,
                                            7,
                                            "Failed to connect: Connection refused",
                                            {},
                                            kp::core::TransferPhase::connect});
    const kp::core::Report report = w.options.check();
    CHECK(kp::core::failed_layer(report) == Layer::tcp);
    CHECK(w.find(report, "health.livez")->hint.find("flapping") != std::string::npos);
  }
  SECTION("the answer: health, as before") {
    w.http.on("/livez", kp::core::HttpError{kp::core::TransportError::other,
                                            52,
                                            "Empty reply from server",
                                            {},
                                            kp::core::TransferPhase::response});
    const kp::core::Report report = w.options.check();
    CHECK(kp::core::failed_layer(report) == Layer::health);
  }
}

// [posix]: the fake machine's hosts file is /etc/hosts; Windows reads
// %SystemRoot%\\System32\\drivers\\etc\\hosts
TEST_CASE("apicheck::check blames /etc/hosts when DNS's address works", "[apicheck][posix]") {
  World w;
  w.net->files["/etc/hosts"] = "127.0.0.1 localhost\n203.0.113.9 api.test\n";
  w.net->names["api.test"] = {"203.0.113.9"};  // what getaddrinfo gives: the hosts file
  w.net->broken["203.0.113.9:6443"] = kp::core::ConnectFailure::refused;
  // DNS itself (query) must answer differently: a separate table for the server query.
  struct SplitNetwork : kp::testsupport::FakeNetwork {
    kp::core::Result<kp::core::DnsAnswer, kp::core::DnsError> query(
        std::string_view server, std::string_view, std::chrono::milliseconds) override {
      return kp::core::DnsAnswer{{"198.51.100.7"}, std::string(server), 0.3};
    }
  };
  auto split = std::make_shared<SplitNetwork>();
  split->names = w.net->names;
  split->files = w.net->files;
  split->broken = w.net->broken;
  w.options.deps.net = split;
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::failed_layer(report) == Layer::dns);
  const kp::core::Check* hosts = w.find(report, "dns.hosts");
  REQUIRE(hosts != nullptr);
  CHECK(hosts->status == CheckStatus::fail);
  CHECK(hosts->message ==
        "/etc/hosts maps api.test to 203.0.113.9; DNS (192.0.2.53) answers 198.51.100.7; the "
        "/etc/hosts address fails while 198.51.100.7 (from DNS) accepts connections");
}

TEST_CASE("apicheck::check exec plugin failure shows the installHint", "[apicheck]") {
  World w;
  w.options.client.token.clear();
  w.options.client.exec = kp::core::ExecConfig{};
  w.options.client.exec->command = "missing-plugin";
  w.options.deps.exec = [](const kp::core::ExecConfig&, const kp::core::ClientConfig&,
                           std::chrono::milliseconds)
      -> kp::core::Result<kp::core::ExecCredential, kp::core::ExecError> {
    kp::core::ExecError e;
    e.kind = kp::core::ExecFailure::notFound;
    e.message = "exec: executable missing-plugin not found";
    e.installHint = "install it with: brew install missing-plugin";
    return e;
  };
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::failed_layer(report) == Layer::auth);
  const kp::core::Check* cred = w.find(report, "auth.credential");
  CHECK(cred->message == "exec: executable missing-plugin not found");
  CHECK(cred->hint == "install it with: brew install missing-plugin");
}

TEST_CASE("apicheck::check names the version an exec plugin answers instead of the configured one",
          "[apicheck]") {
  World w;
  w.options.client.token.clear();
  w.options.client.exec = kp::core::ExecConfig{};
  w.options.client.exec->command = "aws";
  w.options.client.exec->apiVersion = "client.authentication.k8s.io/v1";
  w.options.deps.exec = [](const kp::core::ExecConfig&, const kp::core::ClientConfig&,
                           std::chrono::milliseconds)
      -> kp::core::Result<kp::core::ExecCredential, kp::core::ExecError> {
    kp::core::ExecError e;
    e.kind = kp::core::ExecFailure::badOutput;
    e.message =
        "exec plugin is configured to use API version client.authentication.k8s.io/v1, "
        "plugin returned version client.authentication.k8s.io/v1beta1";
    e.returnedApiVersion = "client.authentication.k8s.io/v1beta1";
    return e;
  };
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::failed_layer(report) == Layer::auth);
  const kp::core::Check* cred = w.find(report, "auth.credential");
  REQUIRE(cred != nullptr);
  CHECK(cred->hint.find("set users[].user.exec.apiVersion to "
                        "client.authentication.k8s.io/v1beta1 (what aws answers)") == 0);
  CHECK(cred->hint.find("aws eks update-kubeconfig") != std::string::npos);
  CHECK_FALSE(sent_credentials(w.http.sent));
}

TEST_CASE("apicheck::check never suggests an exec apiVersion kubectl refuses", "[apicheck]") {
  World w;
  w.options.client.token.clear();
  w.options.client.exec = kp::core::ExecConfig{};
  w.options.client.exec->command = "kubelogin";
  w.options.client.exec->apiVersion = "client.authentication.k8s.io/v1beta1";
  w.options.deps.exec = [](const kp::core::ExecConfig&, const kp::core::ClientConfig&,
                           std::chrono::milliseconds)
      -> kp::core::Result<kp::core::ExecCredential, kp::core::ExecError> {
    kp::core::ExecError e;
    e.kind = kp::core::ExecFailure::badOutput;
    e.message =
        "exec plugin is configured to use API version "
        "client.authentication.k8s.io/v1beta1, plugin returned version "
        "client.authentication.k8s.io/v1alpha1";
    e.returnedApiVersion = "client.authentication.k8s.io/v1alpha1";
    return e;
  };
  const kp::core::Report report = w.options.check();
  const kp::core::Check* cred = w.find(report, "auth.credential");
  REQUIRE(cred != nullptr);
  CHECK(cred->hint ==
        "update kubelogin: it answers \"client.authentication.k8s.io/v1alpha1\", which kubectl no "
        "longer accepts");
}

TEST_CASE("apicheck::check HA backends are checked directly and summarised", "[apicheck]") {
  World w;
  w.options.endpoints = {"198.51.100.1:6443", "198.51.100.2:6443"};
  w.net->broken["198.51.100.2:6443"] = kp::core::ConnectFailure::refused;
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::failed_layer(report) == Layer::ha);
  int backends = 0;
  for (const kp::core::Check& c : report.checks) {
    if (c.id == "ha.backend") {
      ++backends;
      CHECK((c.endpoint == "198.51.100.1:6443") == (c.status == CheckStatus::ok));
    }
  }
  CHECK(backends == 2);
  CHECK(w.find(report, "ha.summary")->message.find("1 of 2 backends ready") == 0);
  bool dialledByName = true;
  for (const kp::core::HttpRequest& r : w.http.sent) {
    if (!r.connectTo.empty()) {
      dialledByName = dialledByName && r.url.find("https://api.test:6443/") == 0;
    }
  }
  CHECK(dialledByName);
}

TEST_CASE("apicheck::check a dead address beside a working one is a warning", "[apicheck]") {
  World w;
  w.net->names["api.test"] = {"2001:db8::7", "198.51.100.7"};
  w.net->broken["2001:db8::7:6443"] = kp::core::ConnectFailure::unreachable;
  const kp::core::Report report = w.options.check();
  CHECK(kp::core::verdict(report) == CheckStatus::warn);
  CHECK_FALSE(kp::core::failed_layer(report).has_value());
  const kp::core::Check* dead = w.find(report, "tcp.connect");
  REQUIRE(dead != nullptr);
  CHECK(dead->endpoint == "[2001:db8::7]:6443");
  CHECK(dead->status == CheckStatus::warn);
  CHECK(dead->message.ends_with("; another address of api.test works"));
  REQUIRE(report.timings.size() == 1);
  CHECK(report.timings[0].endpoint == "198.51.100.7:6443");
}

TEST_CASE("apicheck::tls_layer alone fails an unverified chain and skips the later layers",
          "[apicheck]") {
  World w;
  w.tls.verify.ok = false;
  w.tls.verify.failure = kp::core::VerifyFailure::unknownAuthority;
  w.tls.verify.reason = "unable to get local issuer certificate";
  kp::core::Report report;
  kp::apicheck::detail::Run run{w.options, w.options.client, report};
  CHECK_FALSE(kp::apicheck::detail::tls_layer(run, -1));
  // Only this layer ran: nothing resolved, dialled or requested.
  CHECK(w.find(report, "dns.resolve") == nullptr);
  CHECK(w.net->connects.empty());
  CHECK(w.http.sent.empty());
  REQUIRE(w.find(report, "tls.handshake") != nullptr);
  CHECK(w.find(report, "tls.handshake")->status == CheckStatus::ok);
  const kp::core::Check* verify = w.find(report, "tls.verify");
  REQUIRE(verify != nullptr);
  CHECK(verify->status == CheckStatus::fail);
  CHECK(verify->endpoint == "api.test:6443");
  CHECK(verify->hint.find("the kubeconfig has no CA") == 0);
  CHECK(w.find(report, "auth.whoami")->status == CheckStatus::skip);
}

TEST_CASE("apicheck::check health.skew learns kubectl's version without running it",
          "[apicheck][kubectl]") {
  World w;  // the server is v1.37.2
  int runs = 0;
  w.options.deps.kubectlVersion = [&runs](const std::string&) {
    ++runs;
    return std::string("v1.32.4-dispatcher");
  };
  kp::core::KubectlBinary k;
  k.path = k.target = "/sdk/bin/kubectl";
  auto skew_with = [&](const kp::core::KubectlBinary& binary) {
    w.options.deps.kubectl = [binary] { return binary; };
    const kp::core::Report report = w.options.check();
    const kp::core::Check* skew = w.find(report, "health.skew");
    REQUIRE(skew != nullptr);
    return *skew;
  };

  SECTION("a release build: its version, not run") {
    k.gitVersion = "v1.34.0";
    const kp::core::Check c = skew_with(k);
    CHECK(c.status == CheckStatus::warn);
    CHECK(c.message == "kubectl v1.34.0, server v1.37.2 (3 minor versions apart)");
    CHECK(c.hint.find("install kubectl 1.37") != std::string::npos);
    CHECK(runs == 0);
  }
  SECTION("a dispatcher with the server's version beside it: no skew, not run") {
    k.dispatcher = true;
    k.dispatches = {{"1.36", "/sdk/bin/kubectl.1.36"}, {"1.37", "/sdk/bin/kubectl.1.37"}};
    const kp::core::Check c = skew_with(k);
    CHECK(c.status == CheckStatus::ok);
    CHECK(c.message ==
          "kubectl on PATH is a version dispatcher: for server v1.37.2 it runs "
          "/sdk/bin/kubectl.1.37, so there is no skew");
    CHECK(runs == 0);
  }
  SECTION("a dispatcher without it runs its own kubectl: that version is checked") {
    k.dispatcher = true;
    k.dispatches = {{"1.31", "/sdk/bin/kubectl.1.31"}};
    const kp::core::Check c = skew_with(k);
    CHECK(c.status == CheckStatus::warn);
    CHECK(c.message ==
          "kubectl v1.32.4-dispatcher (version dispatcher without kubectl.1.37 "
          "beside it: it has 1.31), server v1.37.2 (5 minor versions apart)");
    CHECK(runs == 1);
  }
  SECTION("a shim over several versions: each is checked") {
    k.via = "asdf shim";
    k.candidates = {"v1.36.1", "v1.33.0"};
    const kp::core::Check c = skew_with(k);
    CHECK(c.status == CheckStatus::warn);
    CHECK(c.message ==
          "kubectl v1.36.1 or v1.33.0 (asdf shim) (the one that runs depends on the "
          "directory), server v1.37.2: v1.33.0 more than one minor version apart");
    CHECK(runs == 0);
    k.candidates = {"v1.36.1", "v1.37.0"};
    CHECK(skew_with(k).status == CheckStatus::ok);
  }
  SECTION("a binary that says nothing is run (the runner caches it); no answer is unknown") {
    k.via = "wrapper script";
    CHECK(skew_with(k).message ==
          "kubectl v1.32.4-dispatcher (wrapper script), server v1.37.2 (5 minor versions apart)");
    CHECK(runs == 1);
    w.options.deps.kubectlVersion = [](const std::string&) { return std::string(); };
    const kp::core::Check c = skew_with(k);
    CHECK(c.status == CheckStatus::skip);
    CHECK(c.message ==
          "kubectl /sdk/bin/kubectl (wrapper script) does not say its version, "
          "server v1.37.2: the skew is unknown");
  }
  SECTION("no kubectl: no check") {
    w.options.deps.kubectl = [] { return kp::core::KubectlBinary{}; };
    const kp::core::Report report = w.options.check();
    CHECK(w.find(report, "health.skew") == nullptr);
    CHECK(w.find(report, "health.version") != nullptr);
  }
}
