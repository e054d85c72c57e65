// Regressions found by tests/e2e/e2e_hostile.py: servers that accept and stall, dribble, send
// header lines forever or answer something that is not HTTP. Each runs against a loopback
// socket served by a thread of the test (plain TCP: the client's own bytes are drained).
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include "apicheck/apicheck.h"
#include "certs/secrets.h"
#include "certs/server.h"
#include "core/kube/apiclient.h"
#include "core/net/http.h"
#include "core/net/net.h"
#include "core/report/report.h"
#include "core/util/signals.h"
#include "support_http.h"
#include "support_posix.h"
#include "support_server.h"

using namespace kp;
using Clock = std::chrono::steady_clock;

namespace {

// One listening socket on 127.0.0.1; each accepted connection runs its handler on its own
// thread until the handler returns or the server is destroyed.
using Loopback = kp::testsupport::LoopbackServer;

// Reads what the client sends (the request, a ClientHello) until the request's blank line, the
// client leaves or the test ends; false when the client left.
bool read_request(int fd, const std::atomic<bool>& stop) {
  std::string seen;
  char buffer[4096];
  while (!stop) {
    timeval tv{0, 50000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) {
      return false;
    }
    if (n > 0) {
      seen.append(buffer, static_cast<std::size_t>(n));
      if (seen.find("\r\n\r\n") != std::string::npos) {
        return true;
      }
    }
  }
  return false;
}

// Holds the connection, sending nothing, until the client closes it or the test ends.
void hold(int fd, const std::atomic<bool>& stop) {
  while (read_request(fd, stop)) {
  }
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

core::HttpRequest request(const std::string& url, int timeoutMs) {
  core::HttpRequest r;
  r.url = url;
  r.timeout = std::chrono::milliseconds(timeoutMs);
  return r;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("core::CurlHttpClient: a server that accepts and never finishes TLS is a tls timeout",
          "[hostile][http]") {
  Loopback server(hold);
  core::CurlHttpClient client;
  const auto start = Clock::now();
  const core::HttpResult result = client.send(request(server.url("https", "/livez"), 700));
  REQUIRE_FALSE(result);
  CHECK(seconds_since(start) < 2.0);
  CHECK(result.error().kind == core::TransportError::timeout);
  CHECK(result.error().phase == core::TransferPhase::tls);
  CHECK(result.error().phase == core::TransferPhase::tls);
  // libcurl says "Connection timed out": the note says the TCP part worked.
  CHECK(result.error().message.ends_with("(TCP connected; the TLS handshake did not finish)"));
}

TEST_CASE("core::CurlHttpClient: an answer dribbled byte by byte ends at the whole deadline",
          "[hostile][http]") {
  Loopback server([](int fd, const std::atomic<bool>& stop) {
    if (!read_request(fd, stop)) {
      return;
    }
    const std::string answer =
        "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + std::string(40, 'x');
    for (char c : answer) {
      if (stop || !send_all(fd, std::string_view(&c, 1))) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  core::CurlHttpClient client;
  const auto start = Clock::now();
  const core::HttpResult result = client.send(request(server.url("http", "/livez"), 800));
  REQUIRE_FALSE(result);
  CHECK(seconds_since(start) < 2.0);  // not reset by each byte: 78 bytes would take 7.8 s
  CHECK(result.error().kind == core::TransportError::timeout);
  CHECK(result.error().phase == core::TransferPhase::response);
  CHECK(result.error().message.ends_with("(connected; the HTTP response did not complete)"));
}

TEST_CASE("core::CurlHttpClient: header lines without end are cut off at kMaxHeaderBytes",
          "[hostile][http]") {
  std::atomic<std::size_t> sent{0};
  Loopback server([&sent](int fd, const std::atomic<bool>& stop) {
    if (!read_request(fd, stop) || !send_all(fd, "HTTP/1.1 200 OK\r\n")) {
      return;
    }
    const std::string line = "X-Hostile: " + std::string(100, 'a') + "\r\n";
    while (!stop && send_all(fd, line)) {
      sent += line.size();
    }
  });
  core::CurlHttpClient client;
  const auto start = Clock::now();
  const core::HttpResult result = client.send(request(server.url("http", "/livez"), 5000));
  REQUIRE_FALSE(result);
  CHECK(seconds_since(start) < 3.0);
  CHECK(result.error().kind == core::TransportError::tooLarge);
  CHECK(result.error().phase == core::TransferPhase::response);
  CHECK(result.error().message == "response headers exceed 262144 bytes");
}

TEST_CASE("core::CurlHttpClient: a status line that is not HTTP is a broken answer, not a bad URL",
          "[hostile][http]") {
  Loopback server([](int fd, const std::atomic<bool>& stop) {
    if (read_request(fd, stop)) {
      send_all(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
      hold(fd, stop);
    }
  });
  core::CurlHttpClient client;
  const core::HttpResult result = client.send(request(server.url("http", "/livez"), 2000));
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == core::TransportError::other);
  CHECK(result.error().phase == core::TransferPhase::response);
}

TEST_CASE("core::CurlHttpClient: a refused connection is the tcp phase", "[hostile][http]") {
  int port = 0;
  {
    Loopback closed([](int, const std::atomic<bool>&) {});
    port = closed.port();
  }
  core::CurlHttpClient client;
  const core::HttpResult result =
      client.send(request("https://127.0.0.1:" + std::to_string(port) + "/livez", 2000));
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == core::TransportError::connect);
  CHECK(result.error().phase == core::TransferPhase::connect);
  CHECK(result.error().phase == core::TransferPhase::connect);
}

TEST_CASE("certs::check_server names tcp, tls or dns for a server it could not inspect",
          "[hostile][certs]") {
  SECTION("a silent server: the TLS handshake times out, layer tls") {
    Loopback server(hold);
    certs::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = server.port();
    options.timeout = std::chrono::milliseconds(500);
    const core::Report report = certs::check_server(options);
    REQUIRE(report.checks.size() == 1);
    CHECK(report.checks[0].status == core::CheckStatus::fail);
    CHECK(report.checks[0].layer == core::Layer::tls);
    CHECK(report.checks[0].message.starts_with("TLS handshake with 127.0.0.1:"));
    CHECK(core::failed_layer(report) == core::Layer::tls);
  }
  SECTION("refused and unresolvable, through an injected probe") {
    certs::ServerOptions options;
    options.host = "api.test";
    options.port = 6443;
    std::string error;
    options.probe = [&error](const std::string&, int, const core::TlsProbeOptions&) {
      return core::Result<core::TlsProbe>(core::Error{error});
    };
    error = "dial tcp 10.0.0.1:6443: connect: connection refused";
    CHECK(certs::check_server(options).checks[0].layer == core::Layer::tcp);
    error = "resolve api.test: no such host";
    CHECK(certs::check_server(options).checks[0].layer == core::Layer::dns);
  }
}

namespace {

// Every request fails with `error`; *calls counts them.
core::ApiClient failing_client(core::HttpError error, int* calls) {
  auto http = std::make_shared<kp::testsupport::FakeHttp>();
  http->hook(
      [error, calls](const core::HttpRequest&, std::size_t) -> std::optional<core::HttpResult> {
        ++*calls;
        return error;
      });
  core::ClientConfig config;
  config.server = "https://api.test:6443";
  config.namespaceName = "web";
  return core::ApiClient(
      config, {}, [http] { return http->client(); }, std::chrono::milliseconds(2000));
}

}  // namespace

TEST_CASE("certs::check_secrets names the layer a transport failure happened in",
          "[hostile][certs]") {
  const std::map<core::TransferPhase, core::Layer> expected = {
      {core::TransferPhase::tls, core::Layer::tls},
      {core::TransferPhase::response, core::Layer::health},
      {core::TransferPhase::connect, core::Layer::tcp},
      {core::TransferPhase::dns, core::Layer::dns},
  };
  for (const auto& [phase, layer] : expected) {
    int calls = 0;
    core::HttpError error{core::TransportError::timeout,
                          28,
                          "Connection timed out after 2000 milliseconds",
                          {},
                          phase};
    certs::SecretsOptions options;
    options.namespaceName = "web";
    options.common.output = certs::Output::json;
    std::ostringstream out, err;
    CHECK(certs::run_secrets(failing_client(error, &calls), options, out, err) == 1);
    const auto doc = nlohmann::json::parse(out.str());
    CHECK(doc["failedLayer"] == std::string(core::to_string(layer)));
    CHECK(calls == 1);
  }
  SECTION("an answer that is not HTTP (libcurl: unsupported protocol) is not the config") {
    int calls = 0;
    core::HttpError error{core::TransportError::other,
                          1,
                          "Received HTTP/0.9 when not allowed",
                          {},
                          core::TransferPhase::response};
    certs::SecretsOptions options;
    options.namespaceName = "web";
    core::Result<core::Report> report =
        certs::check_secrets(failing_client(error, &calls), options);
    REQUIRE(report);
    CHECK(core::failed_layer(*report) == core::Layer::health);
  }
}

namespace {

// Resolves everything to 198.51.100.7 and "connects" to /dev/null: the path up to TLS is fine.
struct QuietNetwork : core::Network {
  core::Result<core::ResolveResult, core::DnsError> resolve(std::string_view,
                                                            std::chrono::milliseconds) override {
    return core::ResolveResult{{"198.51.100.7"}, 0.1};
  }
  core::Result<core::DnsAnswer, core::DnsError> query(std::string_view server, std::string_view,
                                                      std::chrono::milliseconds) override {
    return core::DnsAnswer{{"198.51.100.7"}, std::string(server), 0.1};
  }
  core::Result<core::Connection, core::ConnectError> connect(std::string_view ip, int port,
                                                             std::chrono::milliseconds) override {
    core::Connection c;
    c.fd = core::UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    c.address = std::string(ip);
    c.port = port;
    return c;
  }
  std::string read_file(const std::string&) override { return {}; }
};

// An apicheck run whose network is fine up to TLS and whose HTTP client is `http`.
apicheck::Options options_with(std::function<std::unique_ptr<core::HttpClient>()> http) {
  apicheck::Options options;
  options.client.contextName = "test";
  options.client.clusterName = "test";
  options.client.server = "https://api.test:6443";
  options.client.token = "s3cr3t-token-value";
  options.client.authMethod = "token";
  options.timeout = std::chrono::milliseconds(1000);
  options.interval = std::chrono::milliseconds(10);
  options.deps.net = std::make_shared<QuietNetwork>();
  options.deps.tls =
      [](int, const core::TlsProbeOptions&) -> core::Result<core::TlsProbe, core::TlsError> {
    core::TlsProbe probe;
    probe.version = "TLSv1.3";
    probe.verify.ok = true;
    probe.nameMatches = true;
    return probe;
  };
  options.deps.http = std::move(http);
  options.deps.env = [](const std::string&) { return std::optional<std::string>(); };
  options.deps.now = [] { return std::int64_t{1795000000}; };
  options.deps.kubectl = [] {
    kp::core::KubectlBinary k;
    k.path = k.target = "/usr/bin/kubectl";
    k.gitVersion = "v1.37.0";
    return k;
  };
  return options;
}

}  // namespace

TEST_CASE("apicheck::check: a server that lets /livez time out costs one deadline, not four",
          "[hostile][apicheck]") {
  // Every request times out, as against a server that accepted and then dribbled.
  kp::testsupport::FakeHttp http;
  http.fallback =
      core::HttpError{core::TransportError::timeout,
                      28,
                      "Operation timed out after 1000 milliseconds with 0 bytes received",
                      {},
                      core::TransferPhase::response};
  const apicheck::Options options = options_with(http.factory());
  const core::Report report = options.check();
  CHECK(http.paths() == std::vector<std::string>{"/livez"});
  CHECK(core::failed_layer(report) == core::Layer::health);
  std::map<std::string, core::CheckStatus> status;
  for (const core::Check& c : report.checks) {
    status[c.id] = c.status;
  }
  CHECK(status["health.livez"] == core::CheckStatus::fail);
  CHECK(status["health.readyz"] == core::CheckStatus::skip);
  CHECK(status["health.healthz"] == core::CheckStatus::skip);
  CHECK(status["health.version"] == core::CheckStatus::skip);
  CHECK(status["auth.whoami"] == core::CheckStatus::skip);
}

TEST_CASE("apicheck::watch: Ctrl-C cancels the request in flight and the cut round is not counted",
          "[hostile][apicheck]") {
  // Ctrl-C arrives while the request is in flight: the request sees it through `cancelled`.
  bool sawCancel = false;
  kp::testsupport::FakeHttp http;
  http.hook([&sawCancel](const core::HttpRequest& request,
                         std::size_t) -> std::optional<core::HttpResult> {
    core::StopSignals::set_for_test(SIGINT);
    sawCancel = request.cancelled && request.cancelled();
    return core::HttpError{
        core::TransportError::cancelled, 42, "Callback aborted", {}, core::TransferPhase::response};
  });
  const apicheck::Options options = options_with(http.factory());
  core::StopSignals::set_for_test(0);
  std::ostringstream out;
  const int code = apicheck::watch(options, out, [] { return core::StopSignals::raised(); });
  core::StopSignals::set_for_test(0);
  CHECK(sawCancel);
  CHECK(code == 0);
  CHECK(out.str().find("--- 0 rounds, 0 failed ---") != std::string::npos);
  CHECK(out.str().starts_with("\n--- 0 rounds"));  // no line for the cut round
}
