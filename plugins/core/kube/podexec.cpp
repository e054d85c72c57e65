#include "core/kube/podexec.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

// Boost 1.74's Asio uses std::result_of, which libc++ (macOS) drops in C++20 (libstdc++ keeps
// it): there Asio uses std::invoke_result, as it does on MSVC.
#if defined(_LIBCPP_VERSION) && !defined(BOOST_ASIO_HAS_STD_INVOKE_RESULT)
#define BOOST_ASIO_HAS_STD_INVOKE_RESULT 1
#endif
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "core/kube/kube.h"
#include "core/kube/podexec_detail.h"
#include "core/net/net.h"
#include "core/net/proxy.h"
#include "core/net/socket.h"
#include "core/net/x509.h"
#include "core/util/url.h"
#include "core/util/version.h"

namespace kp::core {

namespace podexec_detail {

std::string exec_target(std::string_view serverPath, const PodExecRequest& request) {
  while (serverPath.ends_with('/')) {
    serverPath.remove_suffix(1);
  }
  std::string target = std::string(serverPath) + "/api/v1/namespaces/" +
                       url_escape(request.namespaceName) + "/pods/" + url_escape(request.pod) +
                       "/exec?";
  for (const std::string& arg : request.command) {
    target += "command=" + url_escape(arg) + "&";
  }
  if (!request.container.empty()) {
    target += "container=" + url_escape(request.container) + "&";
  }
  target += request.stdinData.empty() ? "stdin=false" : "stdin=true";
  target += "&stdout=true&stderr=true";
  return target;
}

std::string encode_frame(unsigned char channel, std::string_view data) {
  std::string message;
  message.reserve(data.size() + 1);
  message += static_cast<char>(channel);
  message.append(data);
  return message;
}

std::string close_stream_frame(unsigned char channel) {
  return {static_cast<char>(kCloseStream), static_cast<char>(channel)};
}

std::optional<Frame> decode_frame(std::string_view message) {
  if (message.empty()) {
    return std::nullopt;
  }
  return Frame{static_cast<unsigned char>(message.front()), message.substr(1)};
}

Result<ExecStatus> parse_exec_status(std::string_view json) {
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error{"the exec status is not a JSON object"};
  }
  auto text = [](const nlohmann::json& object, const char* key) -> std::string {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  ExecStatus status;
  const std::string state = text(doc, "status");
  status.reason = text(doc, "reason");
  status.message = text(doc, "message");
  if (state == "Success") {
    status.success = true;
    status.exitCode = 0;
    return status;
  }
  if (state != "Failure") {
    return Error{"the exec status says neither Success nor Failure (status \"" + state + "\")"};
  }
  status.exitCode = -1;
  if (status.reason != "NonZeroExitCode") {
    return status;
  }
  const auto details = doc.find("details");
  if (details == doc.end() || !details->is_object()) {
    return status;
  }
  const auto causes = details->find("causes");
  if (causes == details->end() || !causes->is_array()) {
    return status;
  }
  for (const nlohmann::json& cause : *causes) {
    if (!cause.is_object() || text(cause, "reason") != "ExitCode") {
      continue;
    }
    const std::string code = text(cause, "message");
    int value = 0;
    bool digits = !code.empty() && code.size() <= 9;
    for (const char ch : code) {
      digits = digits && ch >= '0' && ch <= '9';
      value = digits ? value * 10 + (ch - '0') : value;
    }
    if (digits) {
      status.exitCode = value;
    }
    break;
  }
  return status;
}

Status ExecCollector::add(std::string_view message) {
  const std::optional<Frame> frame = decode_frame(message);
  if (!frame) {
    return {};
  }
  auto append = [](std::string& to, std::string_view data, std::size_t limit,
                   const char* name) -> Status {
    if (to.size() + data.size() > limit) {
      return Error{std::string(name) + " exceeded the limit of " + std::to_string(limit) +
                   " bytes"};
    }
    to.append(data);
    return {};
  };
  switch (frame->channel) {
    case kStdout:
      return append(out_, frame->data, max_, "stdout");
    case kStderr:
      return append(err_, frame->data, max_, "stderr");
    case kError:
      if (!frame->data.empty()) {
        sawStatus_ = true;
      }
      return append(status_, frame->data, 1024 * 1024, "the status channel");
    default:
      return {};  // stdin/resize echoes, channels this client does not know
  }
}

}  // namespace podexec_detail

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace podexec_detail;

constexpr std::size_t kStdinChunk = 32 * 1024;

// Everything one exec needs once the address is known.
struct Plan {
  std::string what;  // "exec in pod NS/POD", the prefix of every error message
  bool tls = true;
  std::string hostHeader;  // the URL's authority
  std::string target;
  std::string verifyName;  // tls-server-name or the URL's host
  const ClientConfig* config = nullptr;
  const Credentials* credentials = nullptr;
  const PodExecRequest* request = nullptr;
  std::vector<tcp::endpoint> endpoints;  // to dial, when there is no tunnel
  UniqueFd tunnel;                       // a proxy tunnel already open to the server
  Clock::time_point deadline;
  std::function<bool()> cancelled;
  std::chrono::milliseconds timeout{0};
};

ApiError make_error(const Plan& plan, TransportError kind, const std::string& message) {
  return ApiError{0, kind, {}, plan.what + ": " + message};
}

// The Status message of an HTTP answer instead of the upgrade, as apiclient.cpp's http_error.
ApiError http_answer_error(const std::string& what, long statusCode, const std::string& body) {
  ApiError e{statusCode, TransportError::other, {}, {}};
  if (std::optional<ApiStatus> status = parse_status(body)) {
    e.reason = status->reason;
    e.message = what + ": " + (status->message.empty() ? status->reason : status->message) +
                " (HTTP " + std::to_string(statusCode) + ")";
    return e;
  }
  std::string snippet = body.substr(0, 120);
  for (char& ch : snippet) {
    if (static_cast<unsigned char>(ch) < 0x20) {
      ch = ' ';
    }
  }
  e.message =
      what + ": HTTP " + std::to_string(statusCode) + (snippet.empty() ? "" : ": ") + snippet;
  return e;
}

std::string verify_failure(long result) {
  return X509_verify_cert_error_string(result);
}

// The TLS context: verification against the kubeconfig CA (or the system store), the client
// certificate and key from memory.
Result<std::unique_ptr<ssl::context>, ApiError> make_tls_context(const Plan& plan) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  const ClientConfig& config = *plan.config;
  if (config.insecure) {
    context->set_verify_mode(ssl::verify_none, ec);
  } else {
    context->set_verify_mode(ssl::verify_peer, ec);
    if (!ec) {
      if (config.caPem.empty()) {
#ifdef _WIN32
        add_system_roots(SSL_CTX_get_cert_store(context->native_handle()));
#else
        context->set_default_verify_paths(ec);
#endif
      } else {
        context->add_certificate_authority(asio::buffer(config.caPem), ec);
        if (ec) {
          return make_error(plan, TransportError::tlsCa,
                            "the CA data does not hold a PEM certificate (" + ec.message() + ")");
        }
      }
    }
  }
  if (ec) {
    return make_error(plan, TransportError::tlsCa, "TLS setup: " + ec.message());
  }
  const Credentials& credentials = *plan.credentials;
  if (!credentials.clientCertPem.empty()) {
    context->use_certificate_chain(asio::buffer(credentials.clientCertPem), ec);
    if (ec) {
      return make_error(plan, TransportError::tlsHandshake,
                        "the client certificate is unusable (" + ec.message() + ")");
    }
  }
  if (!credentials.clientKeyPem.empty()) {
    context->use_private_key(asio::buffer(credentials.clientKeyPem), ssl::context::pem, ec);
    if (ec) {
      return make_error(plan, TransportError::tlsHandshake,
                        "the client key is unusable (" + ec.message() + ")");
    }
  }
  return context;
}

// SNI (names only, never an IP) and the name or IP the certificate must carry.
Status set_peer_name(SSL* handle, const Plan& plan) {
  const std::string& name = plan.verifyName;
  const bool ip = is_ip_literal(name);
  if (!ip && SSL_set_tlsext_host_name(handle, name.c_str()) != 1) {
    return Error{"cannot set the TLS server name " + name};
  }
  if (plan.config->insecure) {
    return {};
  }
  X509_VERIFY_PARAM* param = SSL_get0_param(handle);
  if (ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
      return Error{"cannot verify the IP address " + name};
    }
    return {};
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(handle, name.c_str()) != 1) {
    return Error{"cannot verify the host name " + name};
  }
  return {};
}

std::string dial_message(const tcp::endpoint& endpoint, const beast::error_code& ec) {
  return "dial tcp " + host_port(endpoint.address().to_string(), endpoint.port()) + ": " +
         ec.message();
}

// One WebSocket exec on a connected (or connecting) stream, driven by the io_context in
// 100 ms slices so the deadline and the cancel functions are honoured between events.
template <class Ws>
class Session {
 public:
  Session(asio::io_context& io, Ws& ws, Plan& plan)
      : io_(io), ws_(ws), plan_(plan), collector_(plan.request->maxOutputBytes) {}

  Result<PodExecResult, ApiError> run() {
    start();
    while (!done_) {
      if (io_.stopped()) {
        io_.restart();
      }
      const auto now = Clock::now();
      const auto slice =
          std::min<Clock::duration>(100ms, std::max<Clock::duration>(plan_.deadline - now, 1ms));
      io_.run_for(slice);
      if (done_) {
        break;
      }
      if (plan_.cancelled && plan_.cancelled()) {
        fail(make_error(plan_, TransportError::cancelled, "cancelled while " + phase_));
      } else if (Clock::now() >= plan_.deadline) {
        fail(make_error(
            plan_, TransportError::timeout,
            "timed out after " + std::to_string(plan_.timeout.count()) + " ms while " + phase_));
      } else if (io_.stopped() && !done_) {
        fail(make_error(plan_, TransportError::other, "internal error: nothing left to wait for"));
      }
    }
    // Closed by now: the pending operations end with operation_aborted; let them.
    close();
    io_.restart();
    io_.run_for(500ms);
    if (error_) {
      return *error_;
    }
    PodExecResult result;
    if (collector_.sawStatus()) {
      Result<ExecStatus> status = parse_exec_status(collector_.status());
      if (!status) {
        return make_error(plan_, TransportError::other, status.error().message);
      }
      result.exitCode = status->exitCode;
      result.statusMessage = status->success ? std::string() : status->message;
    }
    result.out = collector_.takeOut();
    result.err = collector_.takeErr();
    return result;
  }

 private:
  void start() {
    tcp::socket& socket = beast::get_lowest_layer(ws_);
    if (plan_.tunnel) {
      sockaddr_storage local{};
      sock::Length size = sizeof local;
      const bool v6 =
          ::getsockname(plan_.tunnel.get(), reinterpret_cast<sockaddr*>(&local), &size) == 0 &&
          local.ss_family == AF_INET6;
      beast::error_code ec;
      socket.assign(v6 ? tcp::v6() : tcp::v4(), plan_.tunnel.get(), ec);
      if (ec) {
        fail(make_error(plan_, TransportError::proxy, "proxy tunnel: " + ec.message()));
        return;
      }
      (void)plan_.tunnel.release();  // the socket owns it now
      connected();
      return;
    }
    phase_ = "connecting";
    asio::async_connect(socket, plan_.endpoints,
                        [this](const beast::error_code& ec, const tcp::endpoint&) {
                          if (done_) {
                            return;
                          }
                          if (ec) {
                            // The handler's endpoint is empty on failure: name the last tried.
                            fail(make_error(plan_, TransportError::connect,
                                            dial_message(plan_.endpoints.back(), ec)));
                            return;
                          }
                          connected();
                        });
  }

  void connected() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).set_option(tcp::no_delay(true), ignored);
    if constexpr (std::is_same_v<typename Ws::next_layer_type, ssl::stream<tcp::socket>>) {
      phase_ = "in the TLS handshake";
      auto& tls = ws_.next_layer();
      if (Status named = set_peer_name(tls.native_handle(), plan_); !named) {
        fail(make_error(plan_, TransportError::tlsHandshake, named.error().message));
        return;
      }
      tls.async_handshake(ssl::stream_base::client, [this](const beast::error_code& ec) {
        if (done_) {
          return;
        }
        if (ec) {
          const long verify = SSL_get_verify_result(ws_.next_layer().native_handle());
          if (!plan_.config->insecure && verify != X509_V_OK) {
            fail(make_error(plan_, TransportError::tlsVerify,
                            "the server's certificate did not verify for " + plan_.verifyName +
                                ": " + verify_failure(verify)));
          } else {
            fail(make_error(plan_, TransportError::tlsHandshake, "TLS handshake: " + ec.message()));
          }
          return;
        }
        upgrade();
      });
    } else {
      upgrade();
    }
  }

  // Only now, over a verified connection, do the credentials leave this process.
  void upgrade() {
    phase_ = "waiting for the WebSocket upgrade";
    const Plan* plan = &plan_;
    ws_.set_option(websocket::stream_base::decorator([plan](websocket::request_type& req) {
      req.set(http::field::user_agent, "kplugins/" + std::string(kVersion));
      req.set(http::field::sec_websocket_protocol, std::string(kProtocolOffer));
      for (const auto& [name, value] : plan->credentials->headers) {
        req.insert(name, value);
      }
    }));
    ws_.async_handshake(
        response_, plan_.hostHeader, plan_.target, [this](const beast::error_code& ec) {
          if (done_) {
            return;
          }
          if (ec == websocket::error::upgrade_declined) {
            fail(http_answer_error(plan_.what, response_.result_int(), response_.body()));
            return;
          }
          if (ec) {
            fail(make_error(plan_, TransportError::other, "WebSocket upgrade: " + ec.message()));
            return;
          }
          upgraded();
        });
  }

  void upgraded() {
    protocol_ = std::string(response_[http::field::sec_websocket_protocol]);
    if (protocol_ != kProtocolV5 && protocol_ != kProtocolV4) {
      fail(make_error(plan_, TransportError::other,
                      "the server chose the WebSocket subprotocol \"" + protocol_ +
                          "\", not one of " + std::string(kProtocolOffer)));
      return;
    }
    phase_ = "reading the output";
    ws_.binary(true);
    // One frame per message: the API server's WebSocket library (golang.org/x/net/websocket)
    // takes every frame for a message, so a fragment's first byte would be read as a channel.
    ws_.auto_fragment(false);
    ws_.read_message_max(std::max<std::size_t>(plan_.request->maxOutputBytes, 1024 * 1024) + 16);
    const std::string& data = plan_.request->stdinData;
    for (std::size_t at = 0; at < data.size(); at += kStdinChunk) {
      writes_.push_back(encode_frame(kStdin, std::string_view(data).substr(at, kStdinChunk)));
    }
    // v4 cannot half-close stdin: a command that reads to EOF then waits for the deadline.
    if (!data.empty() && protocol_ == kProtocolV5) {
      writes_.push_back(close_stream_frame(kStdin));
    }
    write_next();
    read_next();
  }

  void write_next() {
    if (done_ || writes_.empty()) {
      return;
    }
    ws_.async_write(asio::buffer(writes_.front()),
                    [this](const beast::error_code& ec, std::size_t) {
                      if (done_) {
                        return;
                      }
                      writes_.pop_front();
                      if (ec) {
                        // The command may have ended without reading stdin; the read side
                        // says whether the exec succeeded.
                        writes_.clear();
                        return;
                      }
                      write_next();
                    });
  }

  void read_next() {
    ws_.async_read(buffer_, [this](const beast::error_code& ec, std::size_t) {
      if (done_) {
        return;
      }
      if (ec) {
        if (ec == websocket::error::closed || collector_.sawStatus()) {
          finish();
        } else if (ec == websocket::error::message_too_big) {
          fail(make_error(plan_, TransportError::tooLarge,
                          "a message exceeded the output limit of " +
                              std::to_string(plan_.request->maxOutputBytes) + " bytes"));
        } else {
          fail(make_error(plan_, TransportError::other,
                          "the connection ended before the exit status: " + ec.message()));
        }
        return;
      }
      const auto data = buffer_.cdata();
      const std::string_view message(static_cast<const char*>(data.data()), data.size());
      if (Status added = collector_.add(message); !added) {
        fail(make_error(plan_, TransportError::tooLarge, added.error().message));
        return;
      }
      buffer_.consume(buffer_.size());
      read_next();
    });
  }

  void close() {
    beast::error_code ignored;
    tcp::socket& socket = beast::get_lowest_layer(ws_);
    if (socket.is_open()) {
      socket.cancel(ignored);
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    }
  }

  void finish() {
    done_ = true;
    close();
  }

  void fail(ApiError error) {
    if (done_) {
      return;
    }
    error_ = std::move(error);
    finish();
  }

  asio::io_context& io_;
  Ws& ws_;
  Plan& plan_;
  bool done_ = false;
  std::optional<ApiError> error_;
  std::string phase_ = "connecting";
  websocket::response_type response_;
  std::string protocol_;
  beast::flat_buffer buffer_;
  std::deque<std::string> writes_;
  ExecCollector collector_;
};

// getaddrinfo cannot be cancelled: resolve_system bounds it with the deadline, and this waits
// for it in 100 ms steps so a cancel is noticed.
Result<std::vector<std::string>, ApiError> resolve(const Plan& plan, const std::string& host) {
  if (is_ip_literal(host)) {
    return std::vector<std::string>{host};
  }
  struct Shared {
    std::mutex mutex;
    std::condition_variable cv;
    std::optional<Result<ResolveResult, DnsError>> result;
  };
  auto shared = std::make_shared<Shared>();
  const auto remaining =
      std::chrono::duration_cast<std::chrono::milliseconds>(plan.deadline - Clock::now());
  std::thread([shared, host, remaining] {
    Result<ResolveResult, DnsError> result = resolve_system(host, std::max(remaining, 1ms));
    const std::lock_guard lock(shared->mutex);
    shared->result.emplace(std::move(result));
    shared->cv.notify_all();
  }).detach();
  std::unique_lock lock(shared->mutex);
  while (!shared->result) {
    shared->cv.wait_for(lock, 100ms);
    if (shared->result) {
      break;
    }
    if (plan.cancelled && plan.cancelled()) {
      return make_error(plan, TransportError::cancelled, "cancelled while resolving " + host);
    }
    if (Clock::now() >= plan.deadline + 50ms) {
      return make_error(
          plan, TransportError::timeout,
          "timed out after " + std::to_string(plan.timeout.count()) + " ms resolving " + host);
    }
  }
  const Result<ResolveResult, DnsError>& result = *shared->result;
  if (!result) {
    const TransportError kind =
        result.error().kind == DnsFailure::timeout ? TransportError::timeout : TransportError::dns;
    return make_error(plan, kind, "lookup " + host + ": " + result.error().message);
  }
  return result->addresses;
}

// Through a proxy when one applies: an http:// (CONNECT) or socks5:// tunnel; https:// proxies
// are not supported.
Result<bool, ApiError> open_tunnel(Plan& plan, const UrlParts& parts) {
  const ProxyChoice proxy = choose_proxy(plan.config->server, plan.config->proxyUrl, process_env());
  if (!proxy.used) {
    return false;
  }
  const std::string scheme = split_url(proxy.rawUrl).scheme;
  if (scheme != "http" && scheme != "socks5") {
    return make_error(plan, TransportError::proxy,
                      "exec through the proxy " + proxy.url + " (" + proxy.source +
                          ") is not supported: only http:// and socks5:// proxies are");
  }
  SystemNetwork net;
  const auto remaining = std::max(
      std::chrono::duration_cast<std::chrono::milliseconds>(plan.deadline - Clock::now()), 1ms);
  int port = 0;
  for (const char ch : parts.port) {
    port = port * 10 + (ch - '0');
  }
  Result<ProxyTunnel, ProxyError> tunnel =
      probe_proxy(net, proxy.rawUrl, parts.host, port, remaining);
  if (!tunnel) {
    const TransportError kind = tunnel.error().kind == ProxyFailure::timeout
                                    ? TransportError::timeout
                                    : TransportError::proxy;
    return make_error(plan, kind, "proxy " + proxy.url + ": " + tunnel.error().message);
  }
  plan.tunnel = std::move(tunnel->fd);
  return true;
}

bool valid_port(const std::string& port) {
  return !port.empty() && port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
         std::stoi(port) > 0 && std::stoi(port) < 65536;
}

Result<PodExecResult, ApiError> run_exec(const ApiClient& client, const PodExecRequest& request) {
  Plan plan;
  plan.what = "exec in pod " + request.namespaceName + "/" + request.pod;
  plan.config = &client.config();
  plan.credentials = &client.credentials();
  plan.request = &request;
  plan.timeout = request.timeout;
  plan.deadline = Clock::now() + request.timeout;
  const std::function<bool()> clientCancel = client.cancel();
  plan.cancelled = [&request, clientCancel] {
    return (request.cancelled && request.cancelled()) || (clientCancel && clientCancel());
  };
  if (request.namespaceName.empty() || request.pod.empty() || request.command.empty()) {
    return make_error(plan, TransportError::badUrl, "a namespace, a pod and a command are needed");
  }
  const UrlParts parts = split_url(plan.config->server);
  if ((parts.scheme != "https" && parts.scheme != "http") || parts.host.empty() ||
      !valid_port(parts.port)) {
    return make_error(plan, TransportError::badUrl,
                      "unsupported server URL \"" + plan.config->server + "\"");
  }
  plan.tls = parts.scheme == "https";
  plan.target = exec_target(parts.path, request);
  const std::string host = bracket_host(parts.host);
  const bool defaultPort = parts.port == (plan.tls ? "443" : "80");
  plan.hostHeader = defaultPort ? host : host + ":" + parts.port;
  plan.verifyName = plan.config->tlsServerName.empty() ? parts.host : plan.config->tlsServerName;

  client.count_request();
  if (plan.cancelled()) {
    return make_error(plan, TransportError::cancelled, "cancelled");
  }
  Result<bool, ApiError> tunnelled = open_tunnel(plan, parts);
  if (!tunnelled) {
    return tunnelled.error();
  }
  if (!*tunnelled) {
    Result<std::vector<std::string>, ApiError> addresses = resolve(plan, parts.host);
    if (!addresses) {
      return addresses.error();
    }
    const auto port = static_cast<unsigned short>(std::stoi(parts.port));
    for (const std::string& address : *addresses) {
      beast::error_code ec;
      const asio::ip::address ip = asio::ip::make_address(address, ec);
      if (!ec) {
        plan.endpoints.emplace_back(ip, port);
      }
    }
    if (plan.endpoints.empty()) {
      return make_error(plan, TransportError::dns, "lookup " + parts.host + ": no addresses");
    }
  }

  asio::io_context io(1);
  if (!plan.tls) {
    websocket::stream<tcp::socket> ws(io);
    return Session<websocket::stream<tcp::socket>>(io, ws, plan).run();
  }
  Result<std::unique_ptr<ssl::context>, ApiError> context = make_tls_context(plan);
  if (!context) {
    return context.error();
  }
  websocket::stream<ssl::stream<tcp::socket>> ws(io, **context);
  return Session<websocket::stream<ssl::stream<tcp::socket>>>(io, ws, plan).run();
}

}  // namespace

Result<PodExecResult, ApiError> exec_in_pod(const ApiClient& client,
                                            const PodExecRequest& request) {
  const std::string what = "exec in pod " + request.namespaceName + "/" + request.pod;
  try {
    return run_exec(client, request);
  } catch (const std::exception& e) {
    return ApiError{0, TransportError::other, {}, what + ": " + e.what()};
  } catch (...) {
    return ApiError{0, TransportError::other, {}, what + ": unexpected failure"};
  }
}

}  // namespace kp::core
