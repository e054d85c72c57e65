#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <openssl/ssl.h>

#include "core/net/http.h"
#include "core/net/tls.h"
#include "core/net/x509.h"
#include "support_posix.h"
#include "support_server.h"
#include "support_tls.h"
#include "test_support_certs.h"

using kp::core::Certificate;
using kp::core::probe_tls;
using kp::core::TlsFailure;
using kp::core::TlsProbeOptions;
using kp::core::VerifyFailure;
using kp::testcerts::CertSpec;
using kp::testcerts::issue;
using kp::testcerts::Issued;
using kp::testcerts::kDay;
using kp::testcerts::now_unix;

namespace {

// One connection on 127.0.0.1, handled on a thread; every blocking call on the server side
// times out, so a broken test fails instead of hanging.
using kp::testsupport::LoopbackServer;
const LoopbackServer::Options kOneConnection{1, std::chrono::milliseconds(5000),
                                             std::chrono::seconds(5)};

// Closes the client socket at scope end, after which the server thread can finish.
struct ClientSocket {
  explicit ClientSocket(int fd) : fd(fd) {}
  ~ClientSocket() { ::close(fd); }
  ClientSocket(const ClientSocket&) = delete;
  ClientSocket& operator=(const ClientSocket&) = delete;
  int fd;
};

using ServerConfig = kp::testsupport::TlsServerConfig;
using ServerSeen = kp::testsupport::TlsServerSeen;
using kp::testsupport::serve_tls;

// The PKI every TLS case uses: root -> intermediate -> leaves.
struct TlsPki {
  Issued root;
  Issued intermediate;
  Issued goodLeaf;     // DNS api.lab.test, IP 127.0.0.1
  Issued apiserver;    // kubernetes, kubernetes.default, 10.96.0.1: no 127.0.0.1
  Issued expiredLeaf;  // names fine, expired yesterday
  Issued clientCa;
};

const TlsPki& tls_pki() {
  static const TlsPki value = [] {
    TlsPki p;
    CertSpec root;
    root.commonName = "tls-test-root";
    root.isCA = true;
    p.root = issue(root);
    CertSpec intermediate;
    intermediate.commonName = "tls-test-intermediate";
    intermediate.isCA = true;
    p.intermediate = issue(intermediate, &p.root);
    CertSpec good;
    good.commonName = "kube-apiserver";
    good.dnsNames = {"api.lab.test"};
    good.ipAddresses = {"127.0.0.1"};
    good.extKeyUsage = {"serverAuth"};
    p.goodLeaf = issue(good, &p.intermediate);
    CertSpec apiserver = good;
    apiserver.dnsNames = {"kubernetes", "kubernetes.default"};
    apiserver.ipAddresses = {"10.96.0.1"};
    p.apiserver = issue(apiserver, &p.intermediate);
    CertSpec expired = good;
    expired.notBefore = now_unix() - 30 * kDay;
    expired.notAfter = now_unix() - kDay;
    p.expiredLeaf = issue(expired, &p.intermediate);
    CertSpec clientCa;
    clientCa.commonName = "kubernetes-client-ca";
    clientCa.organizations = {"kp-test"};
    clientCa.isCA = true;
    p.clientCa = issue(clientCa);
    return p;
  }();
  return value;
}

TlsProbeOptions options_for(std::string serverName) {
  TlsProbeOptions options;
  options.serverName = std::move(serverName);
  options.caPem = tls_pki().root.certPem();
  return options;
}

// Runs a probe against a TLS server with `config`; `seen` says what the server observed.
kp::core::Result<kp::core::TlsProbe, kp::core::TlsError> probe_server(
    const ServerConfig& config, const TlsProbeOptions& options, ServerSeen& seen) {
  LoopbackServer server([&](int fd, const std::atomic<bool>&) { serve_tls(fd, config, seen); },
                        kOneConnection);
  auto result = [&] {
    ClientSocket client(server.connect_client());
    return probe_tls(client.fd, options);
  }();
  server.join();
  return result;
}

kp::core::Result<kp::core::TlsProbe, kp::core::TlsError> probe_raw(std::function<void(int)> handler,
                                                                   const TlsProbeOptions& options) {
  LoopbackServer server([&handler](int fd, const std::atomic<bool>&) { handler(fd); },
                        kOneConnection);
  ClientSocket client(server.connect_client());
  return probe_tls(client.fd, options);
}

// Reads what the client sends until it stops (or 5 s pass).
void drain(int fd) {
  char buffer[4096];
  while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
  }
}

}  // namespace

TEST_CASE("core::probe_tls reports a good chain, TLS 1.3 and ALPN h2", "[tls]") {
  const auto& p = tls_pki();
  ServerConfig config;
  config.leaf = &p.goodLeaf;
  config.extraChain = {p.intermediate.cert};
  config.alpn = {"h2", "http/1.1"};
  ServerSeen seen;
  const auto result = probe_server(config, options_for("api.lab.test"), seen);
  REQUIRE(result);
  const auto& probe = *result;
  CHECK(probe.version == "TLSv1.3");
  CHECK(probe.cipher.starts_with("TLS_"));
  CHECK(probe.alpn == "h2");
  CHECK_FALSE(probe.clientCertRequested);
  CHECK(probe.acceptableClientCaNames.empty());
  REQUIRE(probe.chain.size() == 2);
  CHECK(probe.chain[0] == p.goodLeaf.cert);
  CHECK(probe.chain[1] == p.intermediate.cert);
  CHECK(probe.verify.ok);
  CHECK(probe.verify.verifiedChain.size() == 3);
  CHECK(probe.nameMatches);
  CHECK(probe.nameChecked == "api.lab.test");
  CHECK(probe.nameMismatch == "");
  CHECK(probe.handshakeMs > 0);
  CHECK(probe.handshakeMs < 5000);
  CHECK(seen.handshakeOk);
  CHECK(seen.gotSni);
  CHECK(seen.sni == "api.lab.test");
}

TEST_CASE("core::probe_tls on TLS 1.2, no SNI for an IP, http/1.1, blocking mode restored",
          "[tls]") {
  const auto& p = tls_pki();
  ServerConfig config;
  config.leaf = &p.goodLeaf;
  config.extraChain = {p.intermediate.cert};
  config.alpn = {"http/1.1"};
  config.maxVersion = TLS1_2_VERSION;
  ServerSeen seen;
  LoopbackServer server([&](int fd, const std::atomic<bool>&) { serve_tls(fd, config, seen); },
                        kOneConnection);
  const int fd = server.connect_client();
  const int flagsBefore = fcntl(fd, F_GETFL);
  const auto result = probe_tls(fd, options_for("127.0.0.1"));
  CHECK(fcntl(fd, F_GETFL) == flagsBefore);
  ::close(fd);
  server.join();
  REQUIRE(result);
  CHECK(result->version == "TLSv1.2");
  CHECK(result->cipher.starts_with("TLS_ECDHE_ECDSA_WITH_"));  // IANA names, as Go prints
  CHECK(result->alpn == "http/1.1");
  CHECK(result->verify.ok);
  CHECK(result->nameMatches);
  CHECK(result->nameChecked == "127.0.0.1");
  CHECK(seen.handshakeOk);
  CHECK_FALSE(seen.gotSni);  // Go sends no SNI for an IP literal; neither do we
}

TEST_CASE("core::probe_tls records a client certificate request and never sends one", "[tls]") {
  const auto& p = tls_pki();
  const int version = GENERATE(TLS1_3_VERSION, TLS1_2_VERSION);
  CAPTURE(version);
  ServerConfig config;
  config.leaf = &p.goodLeaf;
  config.extraChain = {p.intermediate.cert};
  config.maxVersion = version;
  config.clientCas = {p.clientCa.cert, p.root.cert};
  ServerSeen seen;
  const auto result = probe_server(config, options_for("api.lab.test"), seen);
  REQUIRE(result);
  CHECK(result->clientCertRequested);
  CHECK(result->acceptableClientCaNames ==
        std::vector<std::string>{"CN=kubernetes-client-ca,O=kp-test", "CN=tls-test-root"});
  CHECK(result->verify.ok);
  CHECK(seen.handshakeOk);
  CHECK_FALSE(seen.gotClientCert);
}

TEST_CASE("core::probe_tls reports a server alert", "[tls]") {
  // TLS 1.2 server that requires a client certificate: it aborts the handshake with an alert.
  const auto& p = tls_pki();
  ServerConfig config;
  config.leaf = &p.goodLeaf;
  config.maxVersion = TLS1_2_VERSION;
  config.clientCas = {p.clientCa.cert};
  config.requireClientCert = true;
  ServerSeen seen;
  const auto result = probe_server(config, options_for("api.lab.test"), seen);
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == TlsFailure::alert);
  CHECK(result.error().message == "sslv3 alert handshake failure");
  CHECK_FALSE(seen.handshakeOk);
}

TEST_CASE("core::probe_tls completes the handshake with an expired certificate", "[tls]") {
  const auto& p = tls_pki();
  ServerConfig config;
  config.leaf = &p.expiredLeaf;
  config.extraChain = {p.intermediate.cert};
  ServerSeen seen;
  const auto result = probe_server(config, options_for("api.lab.test"), seen);
  REQUIRE(result);
  CHECK(result->chain.size() == 2);
  CHECK_FALSE(result->verify.ok);
  CHECK(result->verify.failure == VerifyFailure::expired);
  CHECK(result->verify.depth == 0);
  CHECK(result->verify.reason == "certificate has expired (notAfter " +
                                     kp::core::inspect(p.expiredLeaf.cert).notAfter + ")");
  CHECK(result->nameMatches);
}

TEST_CASE("core::probe_tls checks the name dialled against the SANs", "[tls]") {
  const auto& p = tls_pki();
  ServerConfig config;
  config.leaf = &p.apiserver;
  config.extraChain = {p.intermediate.cert};
  ServerSeen seen;
  SECTION("an IP") {
    const auto result = probe_server(config, options_for("127.0.0.1"), seen);
    REQUIRE(result);
    CHECK(result->verify.ok);
    CHECK_FALSE(result->nameMatches);
    CHECK(result->nameChecked == "127.0.0.1");
    CHECK(result->nameMismatch ==
          "certificate is valid for kubernetes, kubernetes.default, 10.96.0.1, not 127.0.0.1");
  }
  SECTION("a DNS name") {
    const auto result = probe_server(config, options_for("api.lab.test"), seen);
    REQUIRE(result);
    CHECK_FALSE(result->nameMatches);
    CHECK(result->nameMismatch ==
          "certificate is valid for kubernetes, kubernetes.default, 10.96.0.1, not api.lab.test");
  }
}

TEST_CASE("core::probe_tls without a server name checks no name", "[tls]") {
  const auto& p = tls_pki();
  ServerConfig config;
  config.leaf = &p.goodLeaf;
  config.extraChain = {p.intermediate.cert};
  ServerSeen seen;
  const auto result = probe_server(config, options_for(""), seen);
  REQUIRE(result);
  CHECK(result->verify.ok);
  CHECK_FALSE(result->nameMatches);
  CHECK(result->nameMismatch == "no server name to check");
  CHECK_FALSE(seen.gotSni);
}

TEST_CASE("core::probe_tls verifies against the system store without a CA", "[tls]") {
  const auto& p = tls_pki();
  ServerConfig config;
  config.leaf = &p.goodLeaf;
  config.extraChain = {p.intermediate.cert};
  ServerSeen seen;
  auto options = options_for("api.lab.test");
  options.caPem.clear();
  const auto result = probe_server(config, options, seen);
  REQUIRE(result);
  CHECK(result->verify.failure == VerifyFailure::unknownAuthority);
  CHECK(result->verify.depth == 1);

  options.caPem = "not a CA";
  ServerSeen seenAgain;
  const auto bad = probe_server(config, options, seenAgain);
  REQUIRE(bad);
  CHECK(bad->verify.failure == VerifyFailure::other);
  CHECK(bad->verify.reason ==
        "the CA bundle is unusable: not PEM or DER (starts with \"not a CA\")");
}

TEST_CASE("core::probe_tls recognises servers that do not speak TLS", "[tls]") {
  SECTION("plain HTTP") {
    const auto result = probe_raw(
        [](int fd) {
          char buffer[4096];
          ::recv(fd, buffer, sizeof buffer, 0);
          const std::string answer =
              "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
          ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
        },
        options_for("api.lab.test"));
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == TlsFailure::notTls);
    CHECK(result.error().message == "the server answered in plain HTTP, not TLS");
  }
  SECTION("something else that talks first") {
    const auto result = probe_raw(
        [](int fd) {
          const std::string banner = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
          ::send(fd, banner.data(), banner.size(), MSG_NOSIGNAL);
          drain(fd);
        },
        options_for("api.lab.test"));
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == TlsFailure::notTls);
    CHECK(result.error().message ==
          "the server did not answer with TLS (it sent \"SSH-2.0-OpenSSH_9.2p1 De\"...)");
  }
}

TEST_CASE("core::probe_tls keeps its deadline with a silent server", "[tls]") {
  auto options = options_for("api.lab.test");
  options.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  const auto result = probe_raw(drain, options);
  const auto elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == TlsFailure::timeout);
  CHECK(result.error().message ==
        "the server accepted the connection but sent nothing within 300ms");
  CHECK(result.error().ms >= 295);
  CHECK(result.error().ms < 1500);
  CHECK(elapsed < 1500);
}

TEST_CASE("core::probe_tls reports a server that closes during the handshake", "[tls]") {
  SECTION("closes at once") {
    const auto result = probe_raw([](int) {}, options_for("api.lab.test"));
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == TlsFailure::closed);
    // FIN or RST, depending on whether the ClientHello arrived before the close.
    CHECK((result.error().message == "the server closed the connection during the handshake" ||
           result.error().message == "the connection was reset during the handshake"));
  }
  SECTION("reads the ClientHello, then closes") {
    const auto result = probe_raw(
        [](int fd) {
          char buffer[4096];
          ::recv(fd, buffer, sizeof buffer, 0);
          ::shutdown(fd, SHUT_WR);
          drain(fd);
        },
        options_for("api.lab.test"));
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == TlsFailure::closed);
    CHECK(result.error().message == "the server closed the connection during the handshake");
  }
}

// Found by tests/e2e/e2e_secrets.py: libcurl checked the name only after the handshake, so the
// client certificate went to any server with a certificate from the cluster CA, whatever name
// it carried. Go (and now CurlHttpClient) checks the name before answering CertificateRequest.
TEST_CASE("core::CurlHttpClient presents no client certificate to a server of another name",
          "[tls][http]") {
  const auto& p = tls_pki();
  CertSpec clientSpec;
  clientSpec.commonName = "kp-test-client";
  clientSpec.extKeyUsage = {"clientAuth"};
  const Issued client = issue(clientSpec, &p.clientCa);
  const int version = GENERATE(TLS1_3_VERSION, TLS1_2_VERSION);
  CAPTURE(version);
  struct Case {
    const Issued* leaf;
    std::string tlsServerName;
    bool presents;
  };
  // p.apiserver names kubernetes, kubernetes.default and 10.96.0.1; goodLeaf 127.0.0.1.
  const Case c = GENERATE(values<Case>({{&tls_pki().apiserver, "", false},
                                        {&tls_pki().apiserver, "api.lab.test", false},
                                        {&tls_pki().apiserver, "kubernetes", true},
                                        {&tls_pki().goodLeaf, "", true}}));
  CAPTURE(c.tlsServerName, c.presents);
  ServerConfig config;
  config.leaf = c.leaf;
  config.extraChain = {p.intermediate.cert};
  config.maxVersion = version;
  config.clientCas = {p.clientCa.cert};
  ServerSeen seen;
  LoopbackServer server([&](int fd, const std::atomic<bool>&) { serve_tls(fd, config, seen); },
                        kOneConnection);
  kp::core::HttpRequest request;
  request.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/livez";
  request.tlsServerName = c.tlsServerName;
  request.caPem = p.root.certPem();
  request.clientCertPem = client.certPem();
  request.clientKeyPem = kp::testcerts::key_pem_pkcs8(client.key);
  request.headers = {{"Authorization", "Bearer kp-test-token"}};
  request.timeout = std::chrono::milliseconds(3000);
  kp::core::CurlHttpClient http;
  const kp::core::HttpResult result = http.send(request);
  server.join();
  CHECK(seen.gotClientCert == c.presents);
  if (!c.presents) {
    REQUIRE_FALSE(result);
    CHECK(result.error().message.find("certificate") != std::string::npos);
  }
}
