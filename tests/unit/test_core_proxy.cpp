#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include "core/net/http.h"
#include "core/net/proxy.h"
#include "core/util/base64.h"
#include "support_posix.h"
#include "support_server.h"

using namespace std::chrono_literals;
using kp::core::choose_proxy;
using kp::core::EnvLookup;
using kp::core::mask_proxy_url;
using kp::core::probe_proxy;
using kp::core::ProxyChoice;
using kp::core::ProxyFailure;
using kp::core::validate_proxy_url;

namespace {

using Env = std::map<std::string, std::string>;

EnvLookup env_of(Env vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

// The proxy URL chosen for `url`, or "<nil>" like Go's test table prints a nil *url.URL.
std::string proxy_for(const std::string& url, const Env& env) {
  const ProxyChoice choice = choose_proxy(url, "", env_of(env));
  return choice.used ? choice.rawUrl : "<nil>";
}

// Reads until `terminator` (or EOF / 2 s), without Catch2: this runs on the server thread.
std::string read_until(int fd, const std::string& terminator) {
  std::string data;
  char c = 0;
  while (data.find(terminator) == std::string::npos) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 2000) <= 0 || ::recv(fd, &c, 1, 0) != 1) {
      break;
    }
    data += c;
  }
  return data;
}

std::string read_exact(int fd, std::size_t n) {
  std::string data(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 2000) <= 0) {
      break;
    }
    const ssize_t r = ::recv(fd, data.data() + got, n - got, 0);
    if (r <= 0) {
      break;
    }
    got += static_cast<std::size_t>(r);
  }
  data.resize(got);
  return data;
}

void send_text(int fd, const std::string& text) {
  ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
}

// Waits until the client hangs up (or 2 s), so the connection stays open while it reads.
void wait_for_close(int fd) {
  char c = 0;
  pollfd pfd{fd, POLLIN, 0};
  while (::poll(&pfd, 1, 2000) > 0 && ::recv(fd, &c, 1, 0) > 0) {
  }
}

// A one-connection proxy on 127.0.0.1: `script` plays the proxy's side of the conversation.
class FakeProxy {
 public:
  using Script = std::function<void(int fd, std::string& transcript)>;

  explicit FakeProxy(Script script)
      : server_(
            [this, script = std::move(script)](int fd, const std::atomic<bool>&) {
              std::string transcript;
              script(fd, transcript);
              const std::lock_guard lock(mutex_);
              transcript_ = transcript;
            },
            {.maxConnections = 1, .acceptTimeout = std::chrono::milliseconds(3000)}) {}

  int port() const { return server_.port(); }
  std::string url(const std::string& scheme = "http", const std::string& userinfo = "") const {
    return scheme + "://" + userinfo + "127.0.0.1:" + std::to_string(port());
  }
  // What the client sent; complete once the script has finished.
  std::string transcript() {
    server_.join();
    const std::lock_guard lock(mutex_);
    return transcript_;
  }

 private:
  std::mutex mutex_;
  std::string transcript_;
  kp::testsupport::LoopbackServer server_;  // last: stopped before the members above go
};

// Answers CONNECT with `response` (after reading the request head), then waits for the hangup.
FakeProxy::Script http_answer(std::string response) {
  return [response = std::move(response)](int fd, std::string& transcript) {
    transcript = read_until(fd, "\r\n\r\n");
    send_text(fd, response);
    wait_for_close(fd);
  };
}

// The real network for loopback connects; names resolve only from a fixed table.
class LoopbackNetwork final : public kp::core::Network {
 public:
  std::map<std::string, std::vector<std::string>> names;

  kp::core::Result<kp::core::ResolveResult, kp::core::DnsError> resolve(
      std::string_view host, std::chrono::milliseconds) override {
    const auto it = names.find(std::string(host));
    if (it == names.end()) {
      return kp::core::DnsError{kp::core::DnsFailure::nxdomain,
                                "lookup " + std::string(host) + ": no such host"};
    }
    return kp::core::ResolveResult{it->second, 0.1};
  }
  kp::core::Result<kp::core::DnsAnswer, kp::core::DnsError> query(
      std::string_view, std::string_view, std::chrono::milliseconds) override {
    return kp::core::DnsError{kp::core::DnsFailure::network, "not in unit tests"};
  }
  kp::core::Result<kp::core::Connection, kp::core::ConnectError> connect(
      std::string_view ip, int port, std::chrono::milliseconds timeout) override {
    return kp::core::connect_tcp(ip, port, timeout);
  }
  std::string read_file(const std::string&) override { return ""; }
};

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int v : values) {
    out += static_cast<char>(v);
  }
  return out;
}

}  // namespace

TEST_CASE("core::choose_proxy follows Go's httpproxy ProxyForURL table", "[proxy]") {
  struct Case {
    Env env;
    std::string url;
    std::string want;
  };
  // golang.org/x/net/http/httpproxy/proxy_test.go proxyForURLTests (the IDNA rows are left out:
  // non-ASCII host names are not converted here).
  const std::vector<Case> cases = {
      {{{"HTTP_PROXY", "127.0.0.1:8080"}}, "http://example.com", "http://127.0.0.1:8080"},
      {{{"HTTP_PROXY", "cache.corp.example.com:1234"}},
       "http://example.com",
       "http://cache.corp.example.com:1234"},
      {{{"HTTP_PROXY", "cache.corp.example.com"}},
       "http://example.com",
       "http://cache.corp.example.com"},
      {{{"HTTP_PROXY", "localhost"}}, "http://example.com", "http://localhost"},
      {{{"HTTP_PROXY", "https://cache.corp.example.com"}},
       "http://example.com",
       "https://cache.corp.example.com"},
      {{{"HTTP_PROXY", "http://127.0.0.1:8080"}}, "http://example.com", "http://127.0.0.1:8080"},
      {{{"HTTP_PROXY", "https://127.0.0.1:8080"}}, "http://example.com", "https://127.0.0.1:8080"},
      {{{"HTTP_PROXY", "socks5://127.0.0.1"}}, "http://example.com", "socks5://127.0.0.1"},
      {{{"HTTP_PROXY", "foo://host"}}, "http://example.com", "foo://host"},
      {{{"HTTP_PROXY", "http.proxy.tld"}, {"HTTPS_PROXY", "secure.proxy.tld"}},
       "http://insecure.tld/",
       "http://http.proxy.tld"},
      {{{"HTTP_PROXY", "http.proxy.tld"}, {"HTTPS_PROXY", "secure.proxy.tld"}},
       "https://secure.tld/",
       "http://secure.proxy.tld"},
      {{{"HTTP_PROXY", "http.proxy.tld"}, {"HTTPS_PROXY", "https://secure.proxy.tld"}},
       "https://secure.tld/",
       "https://secure.proxy.tld"},
      {{{"HTTP_PROXY", "http.proxy.tld"}}, "https://secure.tld/", "<nil>"},
      {{{"HTTP_PROXY", "http.proxy.tld"}}, "ftp://insecure.tld/", "<nil>"},
      {{{"HTTP_PROXY", "http://10.1.2.3:8080"}, {"REQUEST_METHOD", "GET"}},
       "http://example.com",
       "<nil>"},
      {{{"HTTPS_PROXY", "https://secure.proxy.tld"}, {"REQUEST_METHOD", "GET"}},
       "https://secure.tld/",
       "https://secure.proxy.tld"},
      {{}, "http://example.com", "<nil>"},
      {{{"NO_PROXY", "example.com"}, {"HTTP_PROXY", "proxy"}}, "http://example.com/", "<nil>"},
      {{{"NO_PROXY", ".example.com"}, {"HTTP_PROXY", "proxy"}},
       "http://example.com/",
       "http://proxy"},
      {{{"NO_PROXY", "ample.com"}, {"HTTP_PROXY", "proxy"}}, "http://example.com/", "http://proxy"},
      {{{"NO_PROXY", "example.com"}, {"HTTP_PROXY", "proxy"}}, "http://foo.example.com/", "<nil>"},
      {{{"NO_PROXY", ".foo.com"}, {"HTTP_PROXY", "proxy"}}, "http://example.com/", "http://proxy"},
      // CVE-2025-22870: a zone that looks like a domain suffix is not that domain.
      {{{"NO_PROXY", "example.com"}, {"HTTP_PROXY", "proxy"}},
       "http://[1000::%25.example.com]:123",
       "http://proxy"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.url, c.env);
    CHECK(proxy_for(c.url, c.env) == c.want);
  }
}

TEST_CASE("core::choose_proxy follows Go's httpproxy UseProxy table", "[proxy]") {
  const std::string noProxy =
      "foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, "
      "10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, "
      "2002:db8:a::45/64";
  // host, whether a request to host:80 goes through the proxy
  const std::vector<std::pair<std::string, bool>> cases = {
      {"localhost", false},
      {"127.0.0.1", false},
      {"127.0.0.2", false},
      {"[::1]", false},
      {"[::2]", true},
      {"192.168.1.1", false},
      {"192.168.1.2", true},
      {"192.168.1.3", false},
      {"192.168.1.4", true},
      {"10.0.0.2", false},
      {"[2001:db8::52:0:1]", false},
      {"[2001:db8::52:0:2]", true},
      {"[2001:db8::52:0:3]", false},
      {"[2002:db8:a::123]", false},
      {"[fe80::424b:c8be:1643:a1b6]", true},
      {"barbaz.net", true},
      {"www.barbaz.net", false},
      {"foobar.com", false},
      {"www.foobar.com", false},
      {"foofoobar.com", true},
      {"baz.com", true},
      {"localhost.net", true},
      {"local.localhost", true},
      {"barbarbaz.net", true},
      {"wildcard.io", true},
      {"nested.wildcard.io", false},
      {"awildcard.io", true},
  };
  for (const auto& [host, proxied] : cases) {
    const std::string url = "http://" + host + ":80";
    CAPTURE(url);
    CHECK((proxy_for(url, {{"HTTP_PROXY", "proxy"}, {"NO_PROXY", noProxy}}) != "<nil>") == proxied);
    // TestAllNoProxy: "*" matches everything.
    CHECK(proxy_for(url, {{"HTTP_PROXY", "proxy"}, {"NO_PROXY", "*"}}) == "<nil>");
  }
  // TestInvalidNoProxy: a malformed entry is ignored, not a crash.
  CHECK(proxy_for("http://example.com", {{"HTTP_PROXY", "proxy"}, {"NO_PROXY", ":1"}}) ==
        "http://proxy");
}

TEST_CASE("core::choose_proxy explains its choice", "[proxy]") {
  SECTION("a NO_PROXY match names the entry") {
    const auto choice = choose_proxy(
        "https://API.lab.test:6443", "",
        env_of({{"HTTPS_PROXY", "http://proxy.corp:3128"}, {"NO_PROXY", "10.0.0.0/8, .LAB.test"}}));
    CHECK_FALSE(choice.used);
    CHECK(choice.source == "HTTPS_PROXY");
    CHECK(choice.reason == "NO_PROXY entry \".lab.test\" matches api.lab.test");
  }
  SECTION("an entry with a port says so") {
    const auto choice =
        choose_proxy("https://10.0.0.5:6443", "",
                     env_of({{"https_proxy", "proxy:3128"}, {"no_proxy", "10.0.0.5:6443"}}));
    CHECK_FALSE(choice.used);
    CHECK(choice.reason == "no_proxy entry \"10.0.0.5:6443\" matches 10.0.0.5:6443");
  }
  SECTION("CIDR entries apply to IP hosts") {
    const auto choice =
        choose_proxy("https://10.96.0.1", "",
                     env_of({{"HTTPS_PROXY", "proxy:3128"}, {"NO_PROXY", "10.96.0.0/12"}}));
    CHECK_FALSE(choice.used);
    CHECK(choice.reason == "NO_PROXY entry \"10.96.0.0/12\" matches 10.96.0.1");
    CHECK(proxy_for("https://10.112.0.1", {{"HTTPS_PROXY", "proxy:3128"},
                                           {"NO_PROXY", "10.96.0.0/12"}}) == "http://proxy:3128");
  }
  SECTION("localhost and loopback are never proxied") {
    const Env env = {{"HTTPS_PROXY", "proxy:3128"}};
    const auto localhost = choose_proxy("https://localhost:6443", "", env_of(env));
    CHECK_FALSE(localhost.used);
    CHECK(localhost.reason == "localhost is never proxied");
    const auto loopback = choose_proxy("https://127.0.0.1:6443", "", env_of(env));
    CHECK_FALSE(loopback.used);
    CHECK(loopback.reason == "127.0.0.1 is a loopback address, never proxied");
    CHECK(choose_proxy("https://[::1]:6443", "", env_of(env)).reason ==
          "::1 is a loopback address, never proxied");
  }
  SECTION("nothing configured") {
    const auto choice = choose_proxy("https://api.lab.test:6443", "",
                                     env_of({{"HTTP_PROXY", "proxy:3128"}, {"HTTPS_PROXY", ""}}));
    CHECK_FALSE(choice.used);
    CHECK(choice.source.empty());
    CHECK(choice.reason == "no proxy configured");
  }
  SECTION("a CGI environment refuses HTTP_PROXY") {
    const auto choice = choose_proxy("http://api.lab.test", "",
                                     env_of({{"HTTP_PROXY", "proxy"}, {"REQUEST_METHOD", "GET"}}));
    CHECK_FALSE(choice.used);
    CHECK(choice.reason ==
          "refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy");
  }
  SECTION("uppercase wins; an empty value counts as unset") {
    const auto upper = choose_proxy(
        "https://api.lab.test", "",
        env_of({{"HTTPS_PROXY", "http://upper:1"}, {"https_proxy", "http://lower:2"}}));
    CHECK(upper.used);
    CHECK(upper.rawUrl == "http://upper:1");
    CHECK(upper.source == "HTTPS_PROXY");
    const auto lower =
        choose_proxy("https://api.lab.test", "",
                     env_of({{"HTTPS_PROXY", ""}, {"https_proxy", "http://lower:2"}}));
    CHECK(lower.rawUrl == "http://lower:2");
    CHECK(lower.source == "https_proxy");
    CHECK(proxy_for("https://api.lab.test", {{"HTTPS_PROXY", "p:1"},
                                             {"NO_PROXY", "other.test"},
                                             {"no_proxy", "api.lab.test"}}) == "http://p:1");
    CHECK(proxy_for("http://api.lab.test", {{"http_proxy", "p:1"}}) == "http://p:1");
  }
  SECTION("a server URL without a scheme is https") {
    CHECK(proxy_for("api.lab.test:6443", {{"HTTPS_PROXY", "p:1"}}) == "http://p:1");
  }
  SECTION("credentials are masked for display only") {
    const auto choice = choose_proxy("https://api.lab.test", "",
                                     env_of({{"HTTPS_PROXY", "http://alice:s3cret@proxy:3128"}}));
    CHECK(choice.used);
    CHECK(choice.url == "http://alice:***@proxy:3128");
    CHECK(choice.rawUrl == "http://alice:s3cret@proxy:3128");
  }
  SECTION("a kubeconfig proxy-url wins over the environment, for every host") {
    const Env env = {{"HTTPS_PROXY", "http://env:1"}, {"NO_PROXY", "*"}};
    const auto choice =
        choose_proxy("https://localhost:6443", "socks5://bob:pw@127.0.0.1:1080", env_of(env));
    CHECK(choice.used);
    CHECK(choice.source == "proxy-url");
    CHECK(choice.rawUrl == "socks5://bob:pw@127.0.0.1:1080");
    CHECK(choice.url == "socks5://bob:***@127.0.0.1:1080");
  }
}

TEST_CASE("core::validate_proxy_url", "[proxy]") {
  CHECK(validate_proxy_url("http://proxy.corp:3128").has_value());
  CHECK(validate_proxy_url("https://proxy.corp").has_value());
  CHECK(validate_proxy_url("socks5://127.0.0.1:1080").has_value());
  CHECK(validate_proxy_url("HTTP://alice:pw@[::1]:3128/").has_value());
  CHECK(validate_proxy_url("ftp://proxy.corp").error().message ==
        "unsupported scheme \"ftp\", must be http, https, or socks5");
  CHECK(validate_proxy_url("socks4://proxy.corp").error().message ==
        "unsupported scheme \"socks4\", must be http, https, or socks5");
  // Go's url.Parse reads "proxy.corp" as the scheme of "proxy.corp:3128".
  CHECK(validate_proxy_url("proxy.corp:3128").error().message ==
        "unsupported scheme \"proxy.corp\", must be http, https, or socks5");
  CHECK(validate_proxy_url("proxy.corp").error().message ==
        "unsupported scheme \"\", must be http, https, or socks5");
  CHECK(validate_proxy_url("127.0.0.1:3128").error().message == "could not parse: 127.0.0.1:3128");
  CHECK(validate_proxy_url("://proxy").error().message == "could not parse: ://proxy");
  CHECK(validate_proxy_url("http://proxy:port").error().message ==
        "could not parse: http://proxy:port");
  CHECK(validate_proxy_url("http://pro\nxy").error().message == "could not parse: http://pro\nxy");
}

TEST_CASE("core::mask_proxy_url", "[proxy]") {
  CHECK(mask_proxy_url("http://alice:s3cret@proxy:3128") == "http://alice:***@proxy:3128");
  CHECK(mask_proxy_url("socks5://u:p@ss@[::1]:1080/x") == "socks5://u:***@[::1]:1080/x");
  CHECK(mask_proxy_url("alice:pw@proxy:3128") == "alice:***@proxy:3128");
  CHECK(mask_proxy_url("http://alice@proxy:3128") == "http://alice@proxy:3128");
  CHECK(mask_proxy_url("http://proxy:3128/a@b") == "http://proxy:3128/a@b");
  CHECK(mask_proxy_url("http://proxy:3128") == "http://proxy:3128");
}

TEST_CASE("core::probe_proxy through an HTTP proxy", "[proxy]") {
  LoopbackNetwork net;

  SECTION("200: the tunnel is open and nothing after the head is swallowed") {
    FakeProxy proxy([](int fd, std::string& transcript) {
      transcript = read_until(fd, "\r\n\r\n");
      // The head and the first tunnel bytes in one segment.
      send_text(fd, "HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\nfrom-target");
      transcript += "|" + read_exact(fd, 5);
      wait_for_close(fd);
    });
    auto tunnel = probe_proxy(net, proxy.url(), "api.lab.test", 6443, 2000ms);
    REQUIRE(tunnel.has_value());
    CHECK(tunnel->probe.connectStatus == 200);
    CHECK(tunnel->probe.statusLine == "HTTP/1.1 200 Connection established");
    CHECK(tunnel->probe.connectMs >= 0);
    CHECK(tunnel->probe.tunnelMs >= 0);
    char buffer[11] = {};
    REQUIRE(::recv(tunnel->fd.get(), buffer, sizeof buffer, MSG_WAITALL) == 11);
    CHECK(std::string(buffer, 11) == "from-target");
    ::send(tunnel->fd.get(), "hello", 5, MSG_NOSIGNAL);
    tunnel->fd.reset();
    CHECK(proxy.transcript() ==
          "CONNECT api.lab.test:6443 HTTP/1.1\r\nHost: api.lab.test:6443\r\n\r\n|hello");
  }
  SECTION("credentials go in Proxy-Authorization, percent-decoded") {
    FakeProxy proxy(http_answer("HTTP/1.0 200 OK\r\n\r\n"));
    auto tunnel = probe_proxy(net, proxy.url("http", "alice:s%40cret@"), "::1", 443, 2000ms);
    REQUIRE(tunnel.has_value());
    tunnel->fd.reset();
    CHECK(proxy.transcript() ==
          "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n"
          "Proxy-Authorization: Basic " +
              kp::core::encode_base64("alice:s@cret") + "\r\n\r\n");
  }
  SECTION("407 is rejected and says what is missing") {
    FakeProxy proxy(http_answer(
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"));
    auto tunnel = probe_proxy(net, proxy.url(), "api.lab.test", 6443, 2000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::rejected);
    CHECK(tunnel.error().probe.connectStatus == 407);
    CHECK(tunnel.error().probe.statusLine == "HTTP/1.1 407 Proxy Authentication Required");
    CHECK(tunnel.error().message ==
          "proxy answered CONNECT api.lab.test:6443 with \"HTTP/1.1 407 Proxy Authentication "
          "Required\" (the proxy wants credentials; the proxy URL has none)");
  }
  SECTION("403 is rejected") {
    FakeProxy proxy(http_answer("HTTP/1.1 403 Forbidden\r\n\r\n"));
    auto tunnel = probe_proxy(net, proxy.url(), "api.lab.test", 6443, 2000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::rejected);
    CHECK(tunnel.error().message ==
          "proxy answered CONNECT api.lab.test:6443 with \"HTTP/1.1 403 Forbidden\"");
  }
  SECTION("something that is not HTTP is malformed, without waiting for the deadline") {
    FakeProxy proxy(http_answer("SSH-2.0-OpenSSH_9.2\r\n"));
    const auto start = std::chrono::steady_clock::now();
    auto tunnel = probe_proxy(net, proxy.url(), "api.lab.test", 6443, 5000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK(tunnel.error().kind == ProxyFailure::malformed);
    CHECK(tunnel.error().message ==
          "proxy answered CONNECT with something that is not HTTP: \"SSH-2.0-OpenSSH_9.2\\r\\n\"");
  }
  SECTION("a malformed status line") {
    FakeProxy proxy(http_answer("HTTP/1.1 OK\r\n\r\n"));
    auto tunnel = probe_proxy(net, proxy.url(), "api.lab.test", 6443, 2000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::malformed);
    CHECK(tunnel.error().message ==
          "proxy answered CONNECT with a malformed status line: \"HTTP/1.1 OK\"");
  }
  SECTION("the proxy hangs up without answering") {
    FakeProxy proxy(
        [](int fd, std::string& transcript) { transcript = read_until(fd, "\r\n\r\n"); });
    auto tunnel = probe_proxy(net, proxy.url(), "api.lab.test", 6443, 2000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::malformed);
    CHECK(tunnel.error().message == "proxy closed the connection without answering CONNECT");
  }
  SECTION("the proxy never answers") {
    FakeProxy proxy([](int fd, std::string& transcript) {
      transcript = read_until(fd, "\r\n\r\n");
      wait_for_close(fd);
    });
    const auto start = std::chrono::steady_clock::now();
    auto tunnel = probe_proxy(net, proxy.url(), "api.lab.test", 6443, 300ms);
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::timeout);
    CHECK(tunnel.error().message == "reading the proxy's CONNECT answer: no answer within 300ms");
    CHECK(took >= 280ms);
    CHECK(took < 800ms);
  }
  SECTION("nothing listens on the proxy port") {
    int port = 0;
    {
      FakeProxy gone([](int, std::string&) {});
      port = gone.port();
      // Connect once so the fake's thread ends now; its listener closes with it.
      auto done = kp::core::connect_tcp("127.0.0.1", port, 1000ms);
      REQUIRE(done.has_value());
    }
    auto tunnel =
        probe_proxy(net, "http://127.0.0.1:" + std::to_string(port), "api.lab.test", 6443, 1000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::connect);
    CHECK(tunnel.error().message == "proxyconnect tcp: dial tcp 127.0.0.1:" + std::to_string(port) +
                                        ": connect: connection refused");
  }
  SECTION("the proxy's name does not resolve") {
    auto tunnel = probe_proxy(net, "http://proxy.invalid:3128", "api.lab.test", 6443, 1000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::resolve);
    CHECK(tunnel.error().message == "proxyconnect tcp: lookup proxy.invalid: no such host");
  }
  SECTION("the proxy's name resolves through the Network seam") {
    FakeProxy proxy(http_answer("HTTP/1.1 200 OK\r\n\r\n"));
    net.names["proxy.lab.test"] = {"127.0.0.1"};
    auto tunnel = probe_proxy(net, "proxy.lab.test:" + std::to_string(proxy.port()), "api.lab.test",
                              6443, 2000ms);
    REQUIRE(tunnel.has_value());
    CHECK(tunnel->probe.connectStatus == 200);
  }
  SECTION("https:// proxies: the connect is checked, the tunnel is not") {
    FakeProxy proxy([](int fd, std::string&) { wait_for_close(fd); });
    auto tunnel = probe_proxy(net, proxy.url("https"), "api.lab.test", 6443, 2000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::unsupported);
    CHECK(tunnel.error().message ==
          "TLS to an https:// proxy is not implemented: the TCP connect to 127.0.0.1:" +
              std::to_string(proxy.port()) + " succeeded, the CONNECT tunnel was not tested");
  }
  SECTION("other schemes") {
    auto tunnel = probe_proxy(net, "ftp://u:pw@proxy:21", "api.lab.test", 6443, 100ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::unsupported);
    CHECK(tunnel.error().message == "unsupported proxy scheme \"ftp\" in ftp://u:***@proxy:21");
    auto bad = probe_proxy(net, "http://proxy:99999", "api.lab.test", 6443, 100ms);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().kind == ProxyFailure::malformed);
    CHECK(bad.error().message == "invalid proxy URL http://proxy:99999: invalid port \"99999\"");
  }
}

TEST_CASE("core::probe_proxy through a SOCKS5 proxy", "[proxy]") {
  LoopbackNetwork net;

  SECTION("no-auth CONNECT with the domain name") {
    FakeProxy proxy([](int fd, std::string& transcript) {
      transcript = read_exact(fd, 3);
      send_text(fd, bytes({5, 0}));
      transcript += read_exact(fd, 4 + 1 + 12 + 2);
      send_text(fd, bytes({5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90}) + "hi");
      wait_for_close(fd);
    });
    auto tunnel = probe_proxy(net, proxy.url("socks5"), "api.lab.test", 6443, 2000ms);
    REQUIRE(tunnel.has_value());
    CHECK(tunnel->probe.statusLine == "SOCKS5 reply 0 (succeeded)");
    char buffer[2] = {};
    REQUIRE(::recv(tunnel->fd.get(), buffer, 2, MSG_WAITALL) == 2);
    CHECK(std::string(buffer, 2) == "hi");
    tunnel->fd.reset();
    CHECK(proxy.transcript() ==
          bytes({5, 1, 0}) + bytes({5, 1, 0, 3, 12}) + "api.lab.test" + bytes({0x19, 0x2b}));
  }
  SECTION("username and password (RFC 1929)") {
    FakeProxy proxy([](int fd, std::string& transcript) {
      transcript = read_exact(fd, 4);
      send_text(fd, bytes({5, 2}));
      transcript += read_exact(fd, 1 + 1 + 5 + 1 + 2);
      send_text(fd, bytes({1, 0}));
      transcript += read_exact(fd, 4 + 4 + 2);
      send_text(fd, bytes({5, 0, 0, 3, 4}) + "host" + bytes({0, 80}));
      wait_for_close(fd);
    });
    auto tunnel = probe_proxy(net, proxy.url("socks5", "alice:pw@"), "10.0.0.1", 443, 2000ms);
    REQUIRE(tunnel.has_value());
    tunnel->fd.reset();
    CHECK(proxy.transcript() == bytes({5, 2, 0, 2}) + bytes({1, 5}) + "alice" + bytes({2}) + "pw" +
                                    bytes({5, 1, 0, 1, 10, 0, 0, 1, 1, 0xbb}));
  }
  SECTION("the proxy cannot reach the target") {
    FakeProxy proxy([](int fd, std::string&) {
      read_exact(fd, 3);
      send_text(fd, bytes({5, 0}));
      read_exact(fd, 4 + 1 + 12 + 2);
      send_text(fd, bytes({5, 5, 0, 1, 0, 0, 0, 0, 0, 0}));
      wait_for_close(fd);
    });
    auto tunnel = probe_proxy(net, proxy.url("socks5"), "api.lab.test", 6443, 2000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::rejected);
    CHECK(tunnel.error().probe.statusLine == "SOCKS5 reply 5 (connection refused)");
    CHECK(tunnel.error().message ==
          "SOCKS5 proxy could not connect to api.lab.test:6443: connection refused");
  }
  SECTION("the proxy wants credentials we do not have") {
    FakeProxy proxy([](int fd, std::string&) {
      read_exact(fd, 3);
      send_text(fd, bytes({5, 0xff}));
      wait_for_close(fd);
    });
    auto tunnel = probe_proxy(net, proxy.url("socks5"), "api.lab.test", 6443, 2000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::rejected);
    CHECK(tunnel.error().message ==
          "SOCKS5 proxy requires authentication; the proxy URL has no credentials");
  }
  SECTION("an HTTP proxy behind a socks5:// URL") {
    FakeProxy proxy([](int fd, std::string&) {
      read_exact(fd, 3);
      send_text(fd, "HTTP/1.1 400 Bad Request\r\n\r\n");
      wait_for_close(fd);
    });
    auto tunnel = probe_proxy(net, proxy.url("socks5"), "api.lab.test", 6443, 2000ms);
    REQUIRE_FALSE(tunnel.has_value());
    CHECK(tunnel.error().kind == ProxyFailure::malformed);
    CHECK(tunnel.error().message ==
          "SOCKS5 greeting: the proxy answered \"HT\", not SOCKS version 5");
  }
}

TEST_CASE("core::chosen_proxy is choose_proxy's URL to connect through, or none", "[proxy]") {
  const EnvLookup env = env_of(
      {{"HTTPS_PROXY", "http://user:secret@proxy.lab.test:3128"}, {"NO_PROXY", "10.0.0.0/8"}});
  CHECK(kp::core::chosen_proxy("https://api.lab.test:6443", "", env) ==
        "http://user:secret@proxy.lab.test:3128");  // unmasked: it is used, never printed
  CHECK(kp::core::chosen_proxy("https://10.1.2.3:6443", "", env).empty());
  CHECK(kp::core::chosen_proxy("https://localhost:6443", "", env).empty());
  CHECK(kp::core::chosen_proxy("https://localhost:6443", "socks5://p:1080", env) ==
        "socks5://p:1080");
}

// tests/differential found apicheck's requests going through libcurl's own reading of
// https_proxy/no_proxy (lowercase first, loopback proxied, no CIDR) where kubectl, and our own
// choose_proxy(), went direct: an empty HttpRequest::proxyUrl must mean no proxy at all.
TEST_CASE("core::CurlHttpClient ignores the proxy environment: the caller's choice is final",
          "[proxy][http]") {
  std::atomic<int> proxied{0};
  kp::testsupport::LoopbackServer proxy(
      [&](int fd, const std::atomic<bool>&) {
        ++proxied;
        send_text(fd, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      },
      {.maxConnections = 0, .acceptTimeout = std::chrono::milliseconds(3000)});
  kp::testsupport::LoopbackServer server(
      [](int fd, const std::atomic<bool>&) {
        read_until(fd, "\r\n\r\n");
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
      },
      {.maxConnections = 1, .acceptTimeout = std::chrono::milliseconds(3000)});
  const std::string proxyUrl = "http://127.0.0.1:" + std::to_string(proxy.port());
  const char* names[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                         "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
  for (const char* name : names) {
    ::setenv(name, proxyUrl.c_str(), 1);
  }
  kp::core::CurlHttpClient client;
  kp::core::HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/version";
  request.timeout = 3000ms;
  const kp::core::HttpResult result = client.send(request);
  for (const char* name : names) {
    ::unsetenv(name);
  }
  REQUIRE(result.has_value());
  CHECK(result->status == 200);
  CHECK(result->body == "ok");
  CHECK(proxied == 0);
}
