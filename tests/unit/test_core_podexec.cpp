#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

// Boost 1.74's Asio uses std::result_of, which libc++ (macOS) drops in C++20 (libstdc++ keeps
// it): there Asio uses std::invoke_result, as it does on MSVC.
#if defined(_LIBCPP_VERSION) && !defined(BOOST_ASIO_HAS_STD_INVOKE_RESULT)
#define BOOST_ASIO_HAS_STD_INVOKE_RESULT 1
#endif
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <catch2/catch.hpp>
#include <openssl/ssl.h>

#include "core/kube/apiclient.h"
#include "core/kube/podexec.h"
#include "core/kube/podexec_detail.h"
#include "support_posix.h"
#include "test_support_certs.h"

using kp::core::ApiClient;
using kp::core::ClientConfig;
using kp::core::Credentials;
using kp::core::exec_in_pod;
using kp::core::PodExecRequest;
using kp::core::TransportError;
using kp::testcerts::CertSpec;
using kp::testcerts::issue;
using kp::testcerts::Issued;
using kp::testcerts::key_pem_pkcs8;
namespace detail = kp::core::podexec_detail;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

std::string frame(unsigned char channel, std::string_view data) {
  return detail::encode_frame(channel, data);
}

const std::string kNonZero3 =
    R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: )"
    R"(error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",)"
    R"("details":{"causes":[{"reason":"ExitCode","message":"3"}]}})";
const std::string kSuccess = R"({"metadata":{},"status":"Success"})";

// What a test server does with one connection.
struct Behaviour {
  enum class Act {
    script,      // upgrade, send `messages`, close normally
    echoStdin,   // upgrade, collect stdin until the v5 close, echo it on stdout, Success
    httpAnswer,  // answer `status` with `body` instead of the upgrade
    hang,        // upgrade, then read until the client goes away
    silent,      // accept TCP and never say anything (not even TLS)
  };
  Act act = Act::script;
  std::vector<std::string> messages;
  std::string protocol = "v5.channel.k8s.io";  // chosen in the upgrade answer ("" = none)
  unsigned status = 403;
  std::string body;
};

// What the server saw; read by the test after the exec returned (under the mutex).
struct Seen {
  bool tlsFailed = false;
  bool requestSeen = false;
  std::string target;
  std::string sni;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string stdinData;
  bool stdinClosed = false;
  bool clientCertSeen = false;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct TlsSetup {
  Issued cert;
  std::string clientCaPem;  // non-empty: require a client certificate from this CA
};

// A WebSocket exec endpoint on 127.0.0.1 (TLS unless `tls` is null), one connection at a time,
// on its own thread with blocking Beast calls. Catch2 is not thread-safe: it records into Seen.
class ExecServer {
 public:
  ExecServer(Behaviour behaviour, std::optional<TlsSetup> tls)
      : behaviour_(std::move(behaviour)), tls_(std::move(tls)), acceptor_(io_) {
    beast::error_code ec;
    acceptor_.open(tcp::v4(), ec);
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), ec);
    acceptor_.listen(4, ec);
    acceptor_.non_blocking(true, ec);
    if (ec) {
      throw std::runtime_error("listen on 127.0.0.1: " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    if (tls_) {
      context_.use_certificate_chain(asio::buffer(tls_->cert.certPem()), ec);
      const std::string key = key_pem_pkcs8(tls_->cert.key);
      context_.use_private_key(asio::buffer(key), ssl::context::pem, ec);
      if (!tls_->clientCaPem.empty()) {
        context_.add_certificate_authority(asio::buffer(tls_->clientCaPem), ec);
        context_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
      }
      if (ec) {
        throw std::runtime_error("server TLS setup: " + ec.message());
      }
    }
    thread_ = std::thread([this] { loop(); });
  }

  ~ExecServer() {
    stop_ = true;
    const int fd = connection_.load();
    if (fd >= 0) {
      ::shutdown(fd, SHUT_RDWR);  // unblocks a read the handler is stuck in
    }
    thread_.join();
  }

  std::string url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  Seen seen() {
    const std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void loop() {
    while (!stop_) {
      beast::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      socket.non_blocking(false, ec);
      connection_ = socket.native_handle();
      try {
        serve(std::move(socket));
      } catch (const std::exception&) {
        // a test server: the client's view is what the test checks
      }
      connection_ = -1;
    }
  }

  void serve(tcp::socket socket) {
    beast::error_code ec;
    if (behaviour_.act == Behaviour::Act::silent) {
      char bytes[4096];
      while (!ec) {
        socket.read_some(asio::buffer(bytes), ec);  // swallow the ClientHello, until EOF
      }
      return;
    }
    if (!tls_) {
      websocket::stream<tcp::socket> ws(std::move(socket));
      converse(ws);
      return;
    }
    websocket::stream<ssl::stream<tcp::socket>> ws(std::move(socket), context_);
    ws.next_layer().handshake(ssl::stream_base::server, ec);
    if (ec) {
      const std::lock_guard lock(mutex_);
      seen_.tlsFailed = true;
      return;
    }
    {
      const std::lock_guard lock(mutex_);
      SSL* handle = ws.next_layer().native_handle();
      const char* sni = SSL_get_servername(handle, TLSEXT_NAMETYPE_host_name);
      seen_.sni = sni != nullptr ? sni : "";
      X509* peer = SSL_get1_peer_certificate(handle);
      seen_.clientCertSeen = peer != nullptr;
      X509_free(peer);
    }
    converse(ws);
  }

  template <class Ws>
  void converse(Ws& ws) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(ws.next_layer(), buffer, request, ec);
    if (ec) {
      return;
    }
    {
      const std::lock_guard lock(mutex_);
      seen_.requestSeen = true;
      seen_.target = std::string(request.target());
      for (const auto& field : request) {
        std::string name(field.name_string());
        for (char& ch : name) {
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        seen_.headers.emplace(name, std::string(field.value()));
      }
    }
    if (behaviour_.act == Behaviour::Act::httpAnswer) {
      http::response<http::string_body> answer{static_cast<http::status>(behaviour_.status), 11};
      answer.set(http::field::content_type, "application/json");
      answer.body() = behaviour_.body;
      answer.prepare_payload();
      http::write(ws.next_layer(), answer, ec);
      return;
    }
    const std::string protocol = behaviour_.protocol;
    ws.set_option(websocket::stream_base::decorator([protocol](websocket::response_type& res) {
      if (!protocol.empty()) {
        res.set(http::field::sec_websocket_protocol, protocol);
      }
    }));
    ws.accept(request, ec);
    if (ec) {
      return;
    }
    ws.binary(true);
    // Servers open their channels with empty messages; the client must skip them.
    ws.write(asio::buffer(frame(detail::kStdout, "")), ec);
    switch (behaviour_.act) {
      case Behaviour::Act::script:
        for (const std::string& message : behaviour_.messages) {
          ws.write(asio::buffer(message), ec);
        }
        break;
      case Behaviour::Act::echoStdin: {
        std::string data;
        bool closed = false;
        while (!closed) {
          beast::flat_buffer in;
          ws.read(in, ec);
          if (ec) {
            break;
          }
          const std::string message = beast::buffers_to_string(in.data());
          if (message == detail::close_stream_frame(detail::kStdin)) {
            closed = true;
          } else if (!message.empty() && message[0] == 0) {
            data += message.substr(1);
          }
        }
        {
          const std::lock_guard lock(mutex_);
          seen_.stdinData = data;
          seen_.stdinClosed = closed;
        }
        ws.write(asio::buffer(frame(detail::kStdout, data)), ec);
        ws.write(asio::buffer(frame(detail::kError, kSuccess)), ec);
        break;
      }
      case Behaviour::Act::hang: {
        beast::flat_buffer in;
        while (!ec) {
          ws.read(in, ec);
          in.consume(in.size());
        }
        return;
      }
      default:
        break;
    }
    ws.close(websocket::close_code::normal, ec);
  }

  Behaviour behaviour_;
  std::optional<TlsSetup> tls_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  ssl::context context_{ssl::context::tls_server};
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connection_{-1};
  std::mutex mutex_;
  Seen seen_;
  std::thread thread_;
};

// An HTTP CONNECT proxy on 127.0.0.1 for one tunnel at a time: records the CONNECT line, dials
// the target and copies bytes both ways until either side closes.
class ConnectProxy {
 public:
  ConnectProxy() : acceptor_(io_) {
    beast::error_code ec;
    acceptor_.open(tcp::v4(), ec);
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), ec);
    acceptor_.listen(4, ec);
    acceptor_.non_blocking(true, ec);
    if (ec) {
      throw std::runtime_error("proxy listen: " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { loop(); });
  }
  ~ConnectProxy() {
    stop_ = true;
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string connectLine() {
    const std::lock_guard lock(mutex_);
    return connectLine_;
  }

 private:
  void loop() {
    while (!stop_) {
      beast::error_code ec;
      tcp::socket client(io_);
      acceptor_.accept(client, ec);
      if (ec) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      client.non_blocking(false, ec);
      asio::streambuf head;
      asio::read_until(client, head, "\r\n\r\n", ec);
      if (ec) {
        continue;
      }
      std::string request(asio::buffers_begin(head.data()), asio::buffers_end(head.data()));
      const std::string line = request.substr(0, request.find("\r\n"));
      {
        const std::lock_guard lock(mutex_);
        connectLine_ = line;
      }
      const std::string target = line.substr(8, line.find(' ', 8) - 8);  // "CONNECT h:p ..."
      const auto colon = target.rfind(':');
      tcp::socket upstream(io_);
      upstream.connect(
          tcp::endpoint(asio::ip::make_address(target.substr(0, colon), ec),
                        static_cast<unsigned short>(std::stoi(target.substr(colon + 1)))),
          ec);
      if (ec) {
        asio::write(client, asio::buffer(std::string("HTTP/1.1 502 Bad Gateway\r\n\r\n")), ec);
        continue;
      }
      asio::write(client, asio::buffer(std::string("HTTP/1.1 200 Connection established\r\n\r\n")),
                  ec);
      pump(client, upstream);
    }
  }

  void pump(tcp::socket& a, tcp::socket& b) {
    pollfd fds[2] = {{a.native_handle(), POLLIN, 0}, {b.native_handle(), POLLIN, 0}};
    char buffer[16384];
    while (!stop_) {
      if (::poll(fds, 2, 50) <= 0) {
        continue;
      }
      for (int i = 0; i < 2; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
          continue;
        }
        const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
        if (n <= 0 ||
            ::send(fds[1 - i].fd, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
          return;
        }
      }
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::string connectLine_;
  std::thread thread_;
};

// A CA and a server certificate for 127.0.0.1 (and api.lab.test), made once.
struct Pki {
  Issued ca = issue([] {
    CertSpec s;
    s.commonName = "podexec-test-ca";
    s.isCA = true;
    return s;
  }());
  Issued server = issue(
      [] {
        CertSpec s;
        s.commonName = "kube-apiserver";
        s.ipAddresses = {"127.0.0.1"};
        s.dnsNames = {"api.lab.test"};
        s.extKeyUsage = {"serverAuth"};
        return s;
      }(),
      &ca);
};

const Pki& pki() {
  static const Pki instance;
  return instance;
}

ApiClient make_client(const std::string& server, const std::string& caPem) {
  ClientConfig config;
  config.server = server;
  config.caPem = caPem;
  Credentials credentials;
  credentials.headers = {{"Authorization", "Bearer s3cret-token"},
                         {"Impersonate-User", "alice"},
                         {"Impersonate-Group", "g1"},
                         {"Impersonate-Group", "g2"}};
  return ApiClient(
      config, credentials, [] { return std::make_unique<kp::core::CurlHttpClient>(); }, 5000ms);
}

PodExecRequest make_request(std::vector<std::string> command) {
  PodExecRequest r;
  r.namespaceName = "ns-1";
  r.pod = "pod-a";
  r.command = std::move(command);
  r.timeout = 5000ms;
  return r;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

TEST_CASE("core::exec_target builds the exec URL's target", "[podexec]") {
  PodExecRequest r = make_request({"sh", "-c", "echo a&b=c d"});
  CHECK(detail::exec_target("", r) ==
        "/api/v1/namespaces/ns-1/pods/pod-a/exec?command=sh&command=-c&"
        "command=echo%20a%26b%3Dc%20d&stdin=false&stdout=true&stderr=true");
  r.container = "main";
  r.stdinData = "x";
  CHECK(detail::exec_target("/prefix/", r) ==
        "/prefix/api/v1/namespaces/ns-1/pods/pod-a/exec?command=sh&command=-c&"
        "command=echo%20a%26b%3Dc%20d&container=main&stdin=true&stdout=true&stderr=true");
  r.pod = "a/b";
  CHECK(detail::exec_target("/p", r).starts_with("/p/api/v1/namespaces/ns-1/pods/a%2Fb/exec?"));
}

TEST_CASE("core::frames carry the channel in their first byte", "[podexec]") {
  CHECK(detail::encode_frame(detail::kStdin, "hi") == std::string("\0hi", 3));
  CHECK(detail::close_stream_frame(detail::kStdin) == std::string("\xff\0", 2));
  CHECK_FALSE(detail::decode_frame("").has_value());
  const std::string oops("\x02oops", 5);
  auto f = detail::decode_frame(oops);
  REQUIRE(f);
  CHECK(f->channel == detail::kStderr);
  CHECK(f->data == "oops");
  f = detail::decode_frame(std::string("\x01", 1));
  REQUIRE(f);
  CHECK(f->channel == detail::kStdout);
  CHECK(f->data.empty());
  f = detail::decode_frame(std::string("\xff\x00", 2));
  REQUIRE(f);
  CHECK(f->channel == 255);
}

TEST_CASE("core::parse_exec_status reads Success, exit codes and failures", "[podexec]") {
  auto ok = detail::parse_exec_status(kSuccess);
  REQUIRE(ok);
  CHECK(ok->success);
  CHECK(ok->exitCode == 0);

  auto three = detail::parse_exec_status(kNonZero3);
  REQUIRE(three);
  CHECK_FALSE(three->success);
  CHECK(three->exitCode == 3);
  CHECK(three->reason == "NonZeroExitCode");
  CHECK(three->message.find("exit code 3") != std::string::npos);

  auto other = detail::parse_exec_status(
      R"({"status":"Failure","reason":"InternalError","message":"exec: \"nope\": not found"})");
  REQUIRE(other);
  CHECK(other->exitCode == -1);
  CHECK(other->message == "exec: \"nope\": not found");

  // NonZeroExitCode without a usable cause: still a failure without a code.
  auto noCause = detail::parse_exec_status(
      R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"x"}]}})");
  REQUIRE(noCause);
  CHECK(noCause->exitCode == -1);
  auto big = detail::parse_exec_status(
      R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"Other","message":"7"},{"reason":"ExitCode","message":"255"}]}})");
  REQUIRE(big);
  CHECK(big->exitCode == 255);

  CHECK_FALSE(detail::parse_exec_status("not json"));
  CHECK_FALSE(detail::parse_exec_status("[]"));
  CHECK_FALSE(detail::parse_exec_status(R"({"status":"Weird"})"));
}

TEST_CASE("core::ExecCollector sorts channels and bounds each stream", "[podexec]") {
  detail::ExecCollector c(5);
  CHECK(c.add(""));
  CHECK(c.add(frame(detail::kStdout, "")));
  CHECK(c.add(frame(detail::kError, "")));
  CHECK_FALSE(c.sawStatus());
  CHECK(c.add(frame(detail::kStdout, "abc")));
  CHECK(c.add(frame(detail::kStderr, "12345")));
  CHECK(c.add(frame(detail::kStdin, "echo")));
  CHECK(c.add(frame(detail::kResize, "{}")));
  CHECK(c.add(frame(9, "unknown")));
  CHECK(c.add(frame(detail::kError, kSuccess)));
  CHECK(c.sawStatus());
  CHECK(c.out() == "abc");
  CHECK(c.err() == "12345");
  CHECK(c.status() == kSuccess);
  const auto over = c.add(frame(detail::kStdout, "def"));
  REQUIRE_FALSE(over);
  CHECK(over.error().message == "stdout exceeded the limit of 5 bytes");
}

TEST_CASE("core::exec_in_pod collects stdout, stderr and the exit code over TLS", "[podexec]") {
  Behaviour b;
  b.messages = {frame(detail::kStderr, ""), frame(detail::kStdout, "hello "),
                frame(detail::kStdout, "world\n"), frame(detail::kStderr, "oops\n"),
                frame(detail::kError, kNonZero3)};
  ExecServer server(b, TlsSetup{pki().server, {}});
  ApiClient client = make_client(server.url(), pki().ca.certPem());
  PodExecRequest r = make_request({"sh", "-c", "echo hi"});
  r.container = "main";
  auto result = exec_in_pod(client, r);
  REQUIRE(result);
  CHECK(result->out == "hello world\n");
  CHECK(result->err == "oops\n");
  CHECK(result->exitCode == 3);
  CHECK(result->statusMessage.find("exit code 3") != std::string::npos);
  CHECK(client.requests() == 1);

  const Seen seen = server.seen();
  CHECK(seen.target ==
        "/api/v1/namespaces/ns-1/pods/pod-a/exec?command=sh&command=-c&command=echo%20hi&"
        "container=main&stdin=false&stdout=true&stderr=true");
  CHECK(seen.header("authorization") == "Bearer s3cret-token");
  CHECK(seen.header("impersonate-user") == "alice");
  CHECK(seen.headers.count("impersonate-group") == 2);
  CHECK(seen.header("sec-websocket-protocol") == "v5.channel.k8s.io, v4.channel.k8s.io");
  CHECK(seen.header("host") == "127.0.0.1:" + server.url().substr(server.url().rfind(':') + 1));
  CHECK(seen.header("user-agent").starts_with("kplugins/"));
  CHECK(seen.sni.empty());  // never SNI for an IP address
  CHECK_FALSE(seen.clientCertSeen);
}

TEST_CASE("core::exec_in_pod exit 0 on Success, and a server path prefix", "[podexec]") {
  Behaviour b;
  b.messages = {frame(detail::kStdout, "ok"), frame(detail::kError, kSuccess)};
  ExecServer server(b, TlsSetup{pki().server, {}});
  ApiClient client = make_client(server.url() + "/k8s/", pki().ca.certPem());
  auto result = exec_in_pod(client, make_request({"true"}));
  REQUIRE(result);
  CHECK(result->out == "ok");
  CHECK(result->exitCode == 0);
  CHECK(result->statusMessage.empty());
  CHECK(server.seen().target.starts_with("/k8s/api/v1/namespaces/ns-1/pods/pod-a/exec?"));
}

TEST_CASE("core::exec_in_pod sends stdin and closes it (v5)", "[podexec]") {
  Behaviour b;
  b.act = Behaviour::Act::echoStdin;
  ExecServer server(b, TlsSetup{pki().server, {}});
  ApiClient client = make_client(server.url(), pki().ca.certPem());
  PodExecRequest r = make_request({"cat"});
  for (int i = 0; r.stdinData.size() < 200 * 1024; ++i) {
    r.stdinData += "line " + std::to_string(i) + "\n";
  }
  auto result = exec_in_pod(client, r);
  REQUIRE(result);
  CHECK(result->out == r.stdinData);
  CHECK(result->exitCode == 0);
  const Seen seen = server.seen();
  CHECK(seen.stdinClosed);
  CHECK(seen.stdinData.size() == r.stdinData.size());
  CHECK(seen.target.find("stdin=true") != std::string::npos);
}

TEST_CASE("core::exec_in_pod reports an HTTP answer instead of the upgrade", "[podexec]") {
  Behaviour b;
  b.act = Behaviour::Act::httpAnswer;
  b.status = 403;
  b.body =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)"
      R"("pods \"pod-a\" is forbidden: User \"limited\" cannot create resource \"pods/exec\" in )"
      R"(API group \"\" in the namespace \"ns-1\"","reason":"Forbidden","code":403})";
  ExecServer server(b, TlsSetup{pki().server, {}});
  ApiClient client = make_client(server.url(), pki().ca.certPem());
  auto result = exec_in_pod(client, make_request({"true"}));
  REQUIRE_FALSE(result);
  CHECK(result.error().status == 403);
  CHECK(result.error().reason == "Forbidden");
  CHECK(result.error().message ==
        "exec in pod ns-1/pod-a: pods \"pod-a\" is forbidden: User \"limited\" cannot create "
        "resource \"pods/exec\" in API group \"\" in the namespace \"ns-1\" (HTTP 403)");

  Behaviour plain;
  plain.act = Behaviour::Act::httpAnswer;
  plain.status = 400;
  plain.body = "Bad Request";
  ExecServer other(plain, TlsSetup{pki().server, {}});
  auto bad = exec_in_pod(make_client(other.url(), pki().ca.certPem()), make_request({"true"}));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().status == 400);
  CHECK(bad.error().message == "exec in pod ns-1/pod-a: HTTP 400: Bad Request");
}

TEST_CASE("core::exec_in_pod keeps its deadline with a server that never answers", "[podexec]") {
  Behaviour b;
  b.act = Behaviour::Act::silent;
  ExecServer server(b, TlsSetup{pki().server, {}});
  ApiClient client = make_client(server.url(), pki().ca.certPem());
  PodExecRequest r = make_request({"true"});
  r.timeout = 400ms;
  const auto start = std::chrono::steady_clock::now();
  auto result = exec_in_pod(client, r);
  const double elapsed = ms_since(start);
  REQUIRE_FALSE(result);
  CHECK(result.error().transport == TransportError::timeout);
  CHECK(result.error().status == 0);
  CHECK(result.error().message ==
        "exec in pod ns-1/pod-a: timed out after 400 ms while in the TLS handshake");
  CHECK(elapsed >= 390);
  CHECK(elapsed < 900);

  // Upgraded, then silence: the deadline covers reading too.
  Behaviour h;
  h.act = Behaviour::Act::hang;
  ExecServer hanging(h, TlsSetup{pki().server, {}});
  const auto again = std::chrono::steady_clock::now();
  auto late = exec_in_pod(make_client(hanging.url(), pki().ca.certPem()), r);
  REQUIRE_FALSE(late);
  CHECK(late.error().transport == TransportError::timeout);
  CHECK(late.error().message.ends_with("while reading the output"));
  CHECK(ms_since(again) < 900);
}

TEST_CASE("core::exec_in_pod stops when cancelled, by the request or the client", "[podexec]") {
  Behaviour h;
  h.act = Behaviour::Act::hang;
  ExecServer server(h, TlsSetup{pki().server, {}});
  PodExecRequest r = make_request({"sleep", "100"});
  r.timeout = 10000ms;
  const auto start = std::chrono::steady_clock::now();
  r.cancelled = [start] { return std::chrono::steady_clock::now() - start > 300ms; };
  auto result = exec_in_pod(make_client(server.url(), pki().ca.certPem()), r);
  REQUIRE_FALSE(result);
  CHECK(result.error().transport == TransportError::cancelled);
  CHECK(ms_since(start) < 800);

  ApiClient client = make_client(server.url(), pki().ca.certPem());
  std::atomic<bool> stop{false};
  client.set_cancel([&stop] { return stop.load(); });
  PodExecRequest plain = make_request({"sleep", "100"});
  plain.timeout = 10000ms;
  std::thread trigger([&stop] {
    std::this_thread::sleep_for(300ms);
    stop = true;
  });
  const auto begun = std::chrono::steady_clock::now();
  auto stopped = exec_in_pod(client, plain);
  trigger.join();
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().transport == TransportError::cancelled);
  CHECK(ms_since(begun) < 800);
}

TEST_CASE("core::exec_in_pod never sends credentials to a server that fails verification",
          "[podexec]") {
  const Issued otherCa = issue([] {
    CertSpec s;
    s.commonName = "someone-else";
    s.isCA = true;
    return s;
  }());
  CertSpec leaf;
  leaf.commonName = "impostor";
  leaf.ipAddresses = {"127.0.0.1"};
  leaf.extKeyUsage = {"serverAuth"};
  const Issued impostor = issue(leaf, &otherCa);
  Behaviour b;
  b.messages = {frame(detail::kError, kSuccess)};
  ExecServer server(b, TlsSetup{impostor, {}});

  auto result = exec_in_pod(make_client(server.url(), pki().ca.certPem()), make_request({"id"}));
  REQUIRE_FALSE(result);
  CHECK(result.error().transport == TransportError::tlsVerify);
  CHECK(result.error().message.find("did not verify for 127.0.0.1") != std::string::npos);
  Seen seen = server.seen();
  CHECK_FALSE(seen.requestSeen);
  CHECK(seen.header("authorization").empty());

  // The same server with insecure-skip-tls-verify: the request (and its credential) arrives,
  // which proves the server above would have seen it.
  ClientConfig config;
  config.server = server.url();
  config.insecure = true;
  Credentials credentials;
  credentials.headers = {{"Authorization", "Bearer s3cret-token"}};
  ApiClient insecure(
      config, credentials, [] { return std::make_unique<kp::core::CurlHttpClient>(); }, 5000ms);
  auto accepted = exec_in_pod(insecure, make_request({"id"}));
  REQUIRE(accepted);
  CHECK(accepted->exitCode == 0);
  seen = server.seen();
  CHECK(seen.requestSeen);
  CHECK(seen.header("authorization") == "Bearer s3cret-token");
}

TEST_CASE("core::exec_in_pod verifies the host name and sends SNI for tls-server-name",
          "[podexec]") {
  CertSpec spec;
  spec.commonName = "named";
  spec.dnsNames = {"api.lab.test"};
  spec.extKeyUsage = {"serverAuth"};
  const Issued named = issue(spec, &pki().ca);
  Behaviour b;
  b.messages = {frame(detail::kError, kSuccess)};
  ExecServer server(b, TlsSetup{named, {}});

  // The certificate does not name 127.0.0.1.
  auto wrong = exec_in_pod(make_client(server.url(), pki().ca.certPem()), make_request({"id"}));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().transport == TransportError::tlsVerify);
  CHECK(wrong.error().message.find("IP address mismatch") != std::string::npos);
  CHECK_FALSE(server.seen().requestSeen);

  ClientConfig config;
  config.server = server.url();
  config.caPem = pki().ca.certPem();
  config.tlsServerName = "api.lab.test";
  ApiClient client(
      config, Credentials{}, [] { return std::make_unique<kp::core::CurlHttpClient>(); }, 5000ms);
  auto right = exec_in_pod(client, make_request({"id"}));
  REQUIRE(right);
  CHECK(server.seen().sni == "api.lab.test");

  config.tlsServerName = "other.lab.test";
  ApiClient mismatch(
      config, Credentials{}, [] { return std::make_unique<kp::core::CurlHttpClient>(); }, 5000ms);
  auto bad = exec_in_pod(mismatch, make_request({"id"}));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().transport == TransportError::tlsVerify);
  CHECK(bad.error().message.find("hostname mismatch") != std::string::npos);
}

TEST_CASE("core::exec_in_pod presents the client certificate from memory", "[podexec]") {
  CertSpec spec;
  spec.commonName = "kubernetes-admin";
  spec.organizations = {"kubeadm:cluster-admins"};
  spec.extKeyUsage = {"clientAuth"};
  const Issued clientCert = issue(spec, &pki().ca);
  Behaviour b;
  b.messages = {frame(detail::kStdout, "admin"), frame(detail::kError, kSuccess)};
  ExecServer server(b, TlsSetup{pki().server, pki().ca.certPem()});

  ClientConfig config;
  config.server = server.url();
  config.caPem = pki().ca.certPem();
  Credentials credentials;
  credentials.clientCertPem = clientCert.certPem();
  credentials.clientKeyPem = key_pem_pkcs8(clientCert.key);
  ApiClient client(
      config, credentials, [] { return std::make_unique<kp::core::CurlHttpClient>(); }, 5000ms);
  auto result = exec_in_pod(client, make_request({"whoami"}));
  REQUIRE(result);
  CHECK(result->out == "admin");
  CHECK(server.seen().clientCertSeen);

  // Without it, the server refuses the handshake.
  auto refused =
      exec_in_pod(make_client(server.url(), pki().ca.certPem()), make_request({"whoami"}));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().status == 0);
}

TEST_CASE("core::exec_in_pod over plain ws://, and the v4 subprotocol", "[podexec]") {
  Behaviour b;
  b.protocol = "v4.channel.k8s.io";
  b.messages = {frame(detail::kStdout, "plain"), frame(detail::kError, kNonZero3)};
  ExecServer server(b, std::nullopt);
  auto result = exec_in_pod(make_client(server.url(), ""), make_request({"sh"}));
  REQUIRE(result);
  CHECK(result->out == "plain");
  CHECK(result->exitCode == 3);
}

TEST_CASE("core::exec_in_pod refuses oversized output and unknown subprotocols", "[podexec]") {
  Behaviour b;
  b.messages = {frame(detail::kStdout, std::string(3000, 'x')),
                frame(detail::kStdout, std::string(3000, 'y')), frame(detail::kError, kSuccess)};
  ExecServer server(b, TlsSetup{pki().server, {}});
  PodExecRequest r = make_request({"yes"});
  r.maxOutputBytes = 4096;
  auto big = exec_in_pod(make_client(server.url(), pki().ca.certPem()), r);
  REQUIRE_FALSE(big);
  CHECK(big.error().transport == TransportError::tooLarge);
  CHECK(big.error().message == "exec in pod ns-1/pod-a: stdout exceeded the limit of 4096 bytes");

  Behaviour none;
  none.protocol = "";
  none.messages = {frame(detail::kError, kSuccess)};
  ExecServer old(none, TlsSetup{pki().server, {}});
  auto unknown = exec_in_pod(make_client(old.url(), pki().ca.certPem()), make_request({"id"}));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("the server chose the WebSocket subprotocol \"\"") !=
        std::string::npos);
}

TEST_CASE("core::exec_in_pod reports a refused connection and bad input", "[podexec]") {
  // A port nothing listens on: bind, note the port, close.
  asio::io_context io;
  tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const unsigned short port = probe.local_endpoint().port();
  probe.close();
  auto refused = exec_in_pod(make_client("https://127.0.0.1:" + std::to_string(port), ""),
                             make_request({"id"}));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().transport == TransportError::connect);
  CHECK(refused.error().message.find("dial tcp 127.0.0.1:" + std::to_string(port)) !=
        std::string::npos);

  auto noCommand = exec_in_pod(make_client("https://127.0.0.1:1", ""), make_request({}));
  REQUIRE_FALSE(noCommand);
  CHECK(noCommand.error().transport == TransportError::badUrl);
  auto badUrl = exec_in_pod(make_client("ftp://127.0.0.1:1", ""), make_request({"id"}));
  REQUIRE_FALSE(badUrl);
  CHECK(badUrl.error().transport == TransportError::badUrl);
}

TEST_CASE("core::exec_in_pod goes through an http:// proxy-url, refuses an https:// one",
          "[podexec]") {
  Behaviour b;
  b.messages = {frame(detail::kStdout, "tunnelled"), frame(detail::kError, kSuccess)};
  ExecServer server(b, TlsSetup{pki().server, {}});
  ConnectProxy proxy;
  ClientConfig config;
  config.server = server.url();
  config.caPem = pki().ca.certPem();
  config.proxyUrl = proxy.url();  // a kubeconfig proxy-url applies even to loopback servers
  Credentials credentials;
  credentials.headers = {{"Authorization", "Bearer s3cret-token"}};
  ApiClient client(
      config, credentials, [] { return std::make_unique<kp::core::CurlHttpClient>(); }, 5000ms);
  auto result = exec_in_pod(client, make_request({"id"}));
  REQUIRE(result);
  CHECK(result->out == "tunnelled");
  const std::string port = server.url().substr(server.url().rfind(':') + 1);
  CHECK(proxy.connectLine() == "CONNECT 127.0.0.1:" + port + " HTTP/1.1");
  CHECK(server.seen().header("authorization") == "Bearer s3cret-token");

  config.proxyUrl = "https://127.0.0.1:1";
  ApiClient tlsProxy(
      config, credentials, [] { return std::make_unique<kp::core::CurlHttpClient>(); }, 5000ms);
  auto refused = exec_in_pod(tlsProxy, make_request({"id"}));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().transport == TransportError::proxy);
  CHECK(refused.error().message.find("is not supported") != std::string::npos);
}
