#include "core/net/http.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/net/socket.h"
#include "core/util/owned.h"
#include "core/util/text.h"
#include "core/util/url.h"
#include "core/util/version.h"

namespace kp::core {
namespace {

using CurlEasyDeleter = FreeWith<curl_easy_cleanup>;
using CurlSlistDeleter = FreeWith<curl_slist_free_all>;
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Connecting (TCP and the TLS handshake) gets at most this much of a request's deadline, as
// client-go's TLSHandshakeTimeout: a long --timeout for a big list must not let a server that
// accepts and never finishes TLS hold a run for 30 s.
constexpr long kMaxConnectTimeoutMs = 10000;

// State the libcurl callbacks write into while one transfer runs.
struct Transfer {
  std::string body;
  HttpHeaders headers;
  std::size_t maxBodyBytes = kMaxBodyBytes;
  bool bodyTooLarge = false;
  const std::function<bool(std::string_view)>* onBody = nullptr;
  const std::function<bool()>* cancelled = nullptr;
  bool stoppedByReader = false;
  std::size_t headerBytes = 0;
  bool headersTooLarge = false;
  bool connected = false;  // CURLOPT_PREREQFUNCTION ran: TCP and TLS are done
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  if (transfer->onBody != nullptr) {
    if (!(*transfer->onBody)(std::string_view(data, bytes))) {
      transfer->stoppedByReader = true;
      return 0;
    }
    return bytes;
  }
  if (transfer->body.size() + bytes > transfer->maxBodyBytes) {
    transfer->bodyTooLarge = true;
    return 0;  // anything but `bytes` makes libcurl abort with CURLE_WRITE_ERROR
  }
  transfer->body.append(data, bytes);
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* transfer = static_cast<const Transfer*>(user);
  return transfer->cancelled != nullptr && (*transfer->cancelled)() ? 1 : 0;
}

int on_prereq(void* user, char*, char*, int, int) {
  static_cast<Transfer*>(user)->connected = true;
  return CURL_PREREQFUNC_OK;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  // All responses of the transfer (1xx, a proxy's CONNECT answer) count: a server that sends
  // header lines forever is cut off here instead of filling memory until the deadline.
  transfer->headerBytes += bytes;
  if (transfer->headerBytes > kMaxHeaderBytes) {
    transfer->headersTooLarge = true;
    return 0;  // libcurl aborts with CURLE_WRITE_ERROR
  }
  const std::string_view line(data, bytes);
  // Each status line starts a new response (1xx, proxy CONNECT); keep only the last one's.
  if (line.starts_with("HTTP/")) {
    transfer->headers.clear();
    return bytes;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    transfer->headers.emplace_back(std::string(trim(line.substr(0, colon))),
                                   std::string(trim(line.substr(colon + 1))));
  }
  return bytes;
}

double info_ms(CURL* handle, CURLINFO info) {
  curl_off_t micros = 0;
  if (curl_easy_getinfo(handle, info, &micros) != CURLE_OK) {
    return 0;
  }
  return static_cast<double>(micros) / 1000.0;
}

// libcurl reports offsets from the start; the report wants each phase's own duration.
HttpTimings read_timings(CURL* handle) {
  const double dns = info_ms(handle, CURLINFO_NAMELOOKUP_TIME_T);
  const double connect = info_ms(handle, CURLINFO_CONNECT_TIME_T);
  const double tls = info_ms(handle, CURLINFO_APPCONNECT_TIME_T);
  const double firstByte = info_ms(handle, CURLINFO_STARTTRANSFER_TIME_T);
  HttpTimings t;
  t.totalMs = info_ms(handle, CURLINFO_TOTAL_TIME_T);
  t.dnsMs = dns;
  t.connectMs = connect > dns ? connect - dns : 0;
  t.tlsMs = tls > connect ? tls - connect : 0;
  const double ready = std::max(connect, tls);
  t.firstByteMs = firstByte > ready ? firstByte - ready : 0;
  return t;
}

// The error buffer says what happened ("Failed to connect to h port 1 after 0 ms: ...");
// curl_easy_strerror() only names the code, so it is the fallback.
HttpError curl_error(CURLcode code, const char* detail) {
  const std::string message = detail[0] != '\0' ? detail : curl_easy_strerror(code);
  return HttpError{classify_curl_code(code), static_cast<int>(code), message, {}};
}

// curl_blob with CURL_BLOB_COPY: libcurl keeps its own copy, so `pem` may die before perform.
CURLcode set_blob(CURL* handle, CURLoption option, const std::string& pem) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  return curl_easy_setopt(handle, option, &blob);
}

// Applies every option; stops at the first one libcurl rejects (e.g. a TLS backend without
// blob support) so the caller can report it instead of sending a half-configured request.
// libcurl has no "SNI name" option: the URL's host is the name it sends and verifies. So a
// tls-server-name becomes the URL's host, and CONNECT_TO sends the connection where the
// original URL (or connectTo) points.
struct Routing {
  std::string url;
  CurlSlist connectTo;
  std::string hostHeader;  // the original authority, when the URL's host was replaced
  std::string verifyName;  // the name the server's certificate must carry
};

Routing route(const HttpRequest& request) {
  Routing r{request.url, nullptr, {}, {}};
  const UrlParts parts = split_url(request.url);
  std::string nameHost = parts.host;
  if (!request.tlsServerName.empty() && request.tlsServerName != parts.host) {
    nameHost = request.tlsServerName;
    const std::string authority = parts.scheme + "://" + bracket_host(parts.host);
    const auto at = request.url.find(authority);
    if (at == 0) {
      r.url = parts.scheme + "://" + bracket_host(nameHost) + request.url.substr(authority.size());
      r.hostHeader = bracket_host(parts.host) + ":" + parts.port;
    }
  }
  std::string target = request.connectTo;
  if (target.empty() && nameHost != parts.host) {
    target = bracket_host(parts.host) + ":" + parts.port;
  }
  if (!target.empty()) {
    const std::string rule = bracket_host(nameHost) + ":" + parts.port + ":" + target;
    r.connectTo.reset(curl_slist_append(nullptr, rule.c_str()));
  }
  r.verifyName = nameHost;
  return r;
}

// libcurl's OpenSSL backend checks the server's name only after the handshake, when the client
// certificate has already gone to a server whose certificate names someone else (verified chain,
// wrong name: any certificate the cluster CA ever signed). Go checks the name while verifying the
// chain, before it answers the server's CertificateRequest; so does this: the name (IP SANs for
// an address, DNS SANs without CN fallback or partial wildcards for a name, as Go) goes into the
// handshake's own verification. CURLOPT_SSL_CTX_DATA points at Routing::verifyName.
CURLcode verify_name_in_handshake(CURL* /*handle*/, void* sslCtx, void* name) {
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(static_cast<SSL_CTX*>(sslCtx));
  std::string host = *static_cast<const std::string*>(name);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned char address[16];
  int ok = 0;
  if (inet_pton(AF_INET, host.c_str(), address) == 1 ||
      inet_pton(AF_INET6, host.c_str(), address) == 1) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    if (host.size() > 1 && host.back() == '.') {
      host.pop_back();  // as Go's matchHostnames: "api.example." is api.example
    }
    X509_VERIFY_PARAM_set_hostflags(
        param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    ok = X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
  return ok == 1 ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

CURLcode configure(CURL* handle, const HttpRequest& request, const Routing& routing,
                   Transfer& transfer, curl_slist* headers, char* errorBuffer) {
  const std::string userAgent = "kplugins/" + std::string(kVersion);
  // libcurl takes a long: 32 bits on Windows, where 597 hours and more would wrap negative (and
  // every request fail). Clamped, 24.8 days stands for "longer than any request".
  const long timeoutMs = static_cast<long>(
      std::min<std::int64_t>(request.timeout.count(), std::numeric_limits<long>::max()));
  CURLcode rc = CURLE_OK;
  auto step = [&rc](CURLcode result) {
    if (rc == CURLE_OK) {
      rc = result;
    }
  };
  step(curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, errorBuffer));
  step(curl_easy_setopt(handle, CURLOPT_URL, routing.url.c_str()));
  if (routing.connectTo) {
    step(curl_easy_setopt(handle, CURLOPT_CONNECT_TO, routing.connectTo.get()));
  }
  // HTTP/2 over TLS when the server offers it (ALPN), as client-go does, unless asked not to.
  step(curl_easy_setopt(handle, CURLOPT_HTTP_VERSION,
                        request.http1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2TLS));
  step(curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L));  // signals break multi-threaded use
  step(curl_easy_setopt(handle, CURLOPT_USERAGENT, userAgent.c_str()));
  step(curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeoutMs));
  step(curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                        std::min(timeoutMs, kMaxConnectTimeoutMs)));
  step(curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers));
  step(curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body));
  step(curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer));
  step(curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header));
  step(curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer));
  step(curl_easy_setopt(handle, CURLOPT_PREREQFUNCTION, on_prereq));
  step(curl_easy_setopt(handle, CURLOPT_PREREQDATA, &transfer));
  if (!request.onBody) {
    step(curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE,
                          static_cast<curl_off_t>(request.maxBodyBytes)));
  }
  if (request.cancelled) {
    step(curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, on_progress));
    step(curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer));
    step(curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L));
  }
  if (request.method == "HEAD") {
    step(curl_easy_setopt(handle, CURLOPT_NOBODY, 1L));
  } else if (request.method != "GET") {
    step(curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str()));
  }
  if (!request.body.empty()) {
    step(curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                          static_cast<curl_off_t>(request.body.size())));
    step(curl_easy_setopt(handle, CURLOPT_COPYPOSTFIELDS, request.body.c_str()));
  }
  // "" turns off libcurl's environment proxies (http.h: the caller chose already).
  step(curl_easy_setopt(handle, CURLOPT_PROXY, request.proxyUrl.c_str()));
  if (request.insecure) {
    step(curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L));
    step(curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L));
  } else {
    if (!request.caPem.empty()) {
      step(set_blob(handle, CURLOPT_CAINFO_BLOB, request.caPem));
    } else {
#ifdef _WIN32
      // No CA in the kubeconfig: the Windows ROOT store, as kubectl there (libcurl imports it
      // into OpenSSL's store; this build has no CA bundle file).
      step(curl_easy_setopt(handle, CURLOPT_SSL_OPTIONS, static_cast<long>(CURLSSLOPT_NATIVE_CA)));
#endif
    }
    step(curl_easy_setopt(handle, CURLOPT_SSL_CTX_FUNCTION, verify_name_in_handshake));
    step(curl_easy_setopt(handle, CURLOPT_SSL_CTX_DATA,
                          static_cast<void*>(const_cast<std::string*>(&routing.verifyName))));
  }
  if (!request.clientCertPem.empty()) {
    step(curl_easy_setopt(handle, CURLOPT_SSLCERTTYPE, "PEM"));
    step(set_blob(handle, CURLOPT_SSLCERT_BLOB, request.clientCertPem));
  }
  if (!request.clientKeyPem.empty()) {
    step(curl_easy_setopt(handle, CURLOPT_SSLKEYTYPE, "PEM"));
    step(set_blob(handle, CURLOPT_SSLKEY_BLOB, request.clientKeyPem));
  }
  return rc;
}

// How far the transfer got: the request about to go out (PREREQFUNCTION), the TLS handshake
// done, TCP connected, the name resolved.
TransferPhase phase_of(CURL* handle, const Transfer& transfer, CURLcode code, bool https) {
  if (code == CURLE_COULDNT_RESOLVE_HOST) {
    return TransferPhase::dns;
  }
  if (code == CURLE_COULDNT_CONNECT) {
    return TransferPhase::connect;
  }
  if (transfer.connected || info_ms(handle, CURLINFO_APPCONNECT_TIME_T) > 0) {
    return TransferPhase::response;
  }
  // libcurl 7.88 sets the connect time only once TLS is done too; the local port is known
  // once TCP connected (0 after a refused or dropped SYN).
  long localPort = 0;
  curl_easy_getinfo(handle, CURLINFO_LOCAL_PORT, &localPort);
  if (localPort > 0 || info_ms(handle, CURLINFO_CONNECT_TIME_T) > 0) {
    return https ? TransferPhase::tls : TransferPhase::response;
  }
  return info_ms(handle, CURLINFO_NAMELOOKUP_TIME_T) > 0 ? TransferPhase::connect
                                                         : TransferPhase::dns;
}

// What the phase adds to libcurl's message where that message does not say it.
std::string phase_note(TransferPhase phase) {
  constexpr NameTable<TransferPhase> kNotes[] = {
      {" (resolving the host name)", TransferPhase::dns},
      {" (TCP connect)", TransferPhase::connect},
      {" (TCP connected; the TLS handshake did not finish)", TransferPhase::tls},
      {" (connected; the HTTP response did not complete)", TransferPhase::response}};
  return std::string(name_of(kNotes, phase, ""));
}

}  // namespace

TransportError classify_curl_code(int curlCode) {
  static constexpr std::pair<CURLcode, TransportError> kErrors[] = {
      {CURLE_URL_MALFORMAT, TransportError::badUrl},
      {CURLE_UNSUPPORTED_PROTOCOL, TransportError::badUrl},
      {CURLE_COULDNT_RESOLVE_PROXY, TransportError::proxy},
      {CURLE_COULDNT_RESOLVE_HOST, TransportError::dns},
      {CURLE_COULDNT_CONNECT, TransportError::connect},
      {CURLE_OPERATION_TIMEDOUT, TransportError::timeout},
      {CURLE_PEER_FAILED_VERIFICATION, TransportError::tlsVerify},
      {CURLE_SSL_CACERT_BADFILE, TransportError::tlsCa},
      {CURLE_SSL_CONNECT_ERROR, TransportError::tlsHandshake},
      {CURLE_SSL_CERTPROBLEM, TransportError::tlsHandshake},
      {CURLE_SSL_CIPHER, TransportError::tlsHandshake},
      {CURLE_SSL_ISSUER_ERROR, TransportError::tlsHandshake},
      {CURLE_SSL_ENGINE_NOTFOUND, TransportError::tlsHandshake},
      {CURLE_SSL_ENGINE_SETFAILED, TransportError::tlsHandshake},
      {CURLE_FILESIZE_EXCEEDED, TransportError::tooLarge},
      {CURLE_ABORTED_BY_CALLBACK, TransportError::cancelled}};
  return mapped(kErrors, static_cast<CURLcode>(curlCode), TransportError::other);
}

std::string HttpResponse::header(std::string_view name) const {
  auto equal_ci = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (const auto& [key, value] : headers) {
    if (equal_ci(key, name)) {
      return value;
    }
  }
  return {};
}

using CurlMultiDeleter = FreeWith<curl_multi_cleanup>;

// The multi handle owns the connection cache: connections outlive each batch's easy handles,
// so every request of a client rides the same connection (HTTP/2 streams side by side).
struct CurlHttpClient::Handle {
  std::unique_ptr<CURLM, CurlMultiDeleter> multi;
};

CurlHttpClient::CurlHttpClient(HttpLog log)
    : handle_(std::make_unique<Handle>()), log_(std::move(log)) {
  // curl_global_init is not safe to race; once per process is all libcurl needs.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlHttpClient::~CurlHttpClient() = default;

std::string mask_header_value(std::string_view name, std::string_view value) {
  auto lower = std::string(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower != "authorization" && lower != "proxy-authorization") {
    return std::string(value);
  }
  const auto space = value.find(' ');
  return (space == std::string_view::npos ? std::string()
                                          : std::string(value.substr(0, space + 1))) +
         "<masked>";
}

namespace {

std::string cut(const std::string& body, std::size_t limit) {
  if (body.size() <= limit) {
    return body;
  }
  return body.substr(0, limit) + " [truncated " + std::to_string(body.size() - limit) + " chars]";
}

std::string format_ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", ms);
  return text;
}

// kubectl's round_trippers.go levels, as lines for the log sink.
void log_request(const HttpLog& log, const HttpRequest& request) {
  if (log.verbosity >= 9) {
    std::string curl =
        std::string(request.http1 ? "curl -v --http1.1 -X" : "curl -v -X") + request.method;
    for (const auto& [name, value] : request.headers) {
      curl += " -H \"" + name + ": " + mask_header_value(name, value) + "\"";
    }
    log.sink("curl command: " + curl + " '" + request.url + "'");
  }
  if (log.verbosity >= 7) {
    log.sink("Request: " + request.method + " " + request.url);
    for (const auto& [name, value] : request.headers) {
      log.sink("  " + name + ": " + mask_header_value(name, value));
    }
  }
  if (log.verbosity >= 8 && !request.body.empty()) {
    log.sink("Request Body: " + cut(request.body, log.verbosity >= 10  ? request.body.size()
                                                  : log.verbosity >= 9 ? 10240
                                                                       : 1024));
  }
}

void log_response(const HttpLog& log, const HttpRequest& request, const HttpResult& result) {
  if (!result) {
    log.sink(request.method + " " + request.url + " failed in " +
             format_ms(result.error().timings.totalMs) +
             " milliseconds: " + result.error().message);
    return;
  }
  const HttpResponse& r = *result;
  log.sink(request.method + " " + request.url + " " + std::to_string(r.status) + " in " +
           format_ms(r.timings.totalMs) + " milliseconds");
  if (log.verbosity >= 9) {
    const HttpTimings& t = r.timings;
    log.sink("HTTP Trace: DNS " + format_ms(t.dnsMs) + " ms, dial " + format_ms(t.connectMs) +
             " ms, TLS handshake " + format_ms(t.tlsMs) + " ms, first byte " +
             format_ms(t.firstByteMs) + " ms (" + r.httpVersion +
             (r.newConnection ? ", new connection)" : ", reused connection)"));
  }
  if (log.verbosity >= 8) {
    log.sink("Response Headers:");
    for (const auto& [name, value] : r.headers) {
      log.sink("  " + name + ": " + mask_header_value(name, value));
    }
    log.sink("Response Body: " + cut(r.body, log.verbosity >= 10  ? r.body.size()
                                             : log.verbosity >= 9 ? 10240
                                                                  : 1024));
  }
}

}  // namespace

HttpResult CurlHttpClient::send(const HttpRequest& request) {
  return std::move(send_batch({request}).front());
}

namespace {

// One request in flight: its easy handle and everything libcurl points into while it runs.
struct Pending {
  const HttpRequest* request = nullptr;
  CurlEasy easy;
  CurlSlist headers;
  Routing routing;
  Transfer transfer;
  char errorBuffer[CURL_ERROR_SIZE] = {};
  CURLcode code = CURLE_OK;
  std::optional<HttpError> setupError;
};

void prepare(Pending& p) {
  p.easy.reset(curl_easy_init());
  if (!p.easy) {
    p.setupError = curl_error(CURLE_FAILED_INIT, "curl_easy_init");
    return;
  }
  p.routing = route(*p.request);
  std::vector<std::pair<std::string, std::string>> all = p.request->headers;
  if (!p.routing.hostHeader.empty()) {
    all.emplace_back("Host", p.routing.hostHeader);
  }
  for (const auto& [name, value] : all) {
    const std::string line = name + ": " + value;
    // curl_slist_append returns the list's head (a new one for the first entry); on failure
    // the old list is untouched and still owned by `headers`.
    curl_slist* head = curl_slist_append(p.headers.get(), line.c_str());
    if (head == nullptr) {
      p.setupError = curl_error(CURLE_OUT_OF_MEMORY, "curl_slist_append");
      return;
    }
    (void)p.headers.release();
    p.headers.reset(head);
  }
  p.transfer.maxBodyBytes = p.request->maxBodyBytes;
  p.transfer.onBody = p.request->onBody ? &p.request->onBody : nullptr;
  p.transfer.cancelled = p.request->cancelled ? &p.request->cancelled : nullptr;
  CURLcode setup =
      configure(p.easy.get(), *p.request, p.routing, p.transfer, p.headers.get(), p.errorBuffer);
  if (setup == CURLE_OK) {
    // Wait for an existing connection to offer multiplexing rather than opening another.
    setup = curl_easy_setopt(p.easy.get(), CURLOPT_PIPEWAIT, 1L);
  }
  if (setup != CURLE_OK) {
    p.setupError = curl_error(setup, p.errorBuffer);
  }
}

HttpResult finish(Pending& p) {
  if (p.setupError) {
    return *p.setupError;
  }
  CURL* easy = p.easy.get();
  const CURLcode code = p.code;
  const HttpTimings timings = read_timings(easy);
  if (p.transfer.bodyTooLarge || code == CURLE_FILESIZE_EXCEEDED) {
    return HttpError{TransportError::tooLarge, static_cast<int>(code),
                     "response body exceeds " + std::to_string(p.request->maxBodyBytes) + " bytes",
                     timings, TransferPhase::response};
  }
  if (p.transfer.headersTooLarge) {
    return HttpError{TransportError::tooLarge, static_cast<int>(code),
                     "response headers exceed " + std::to_string(kMaxHeaderBytes) + " bytes",
                     timings, TransferPhase::response};
  }
  HttpResponse response;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
  // A server may answer (a 401 to a POST, say) and end the stream before taking the whole
  // body; libcurl then fails the transfer, but the status it received is the evidence.
  const bool answeredEarly =
      response.status > 0 &&
      (code == CURLE_PARTIAL_FILE || code == CURLE_HTTP2_STREAM || code == CURLE_SEND_ERROR ||
       (code == CURLE_WRITE_ERROR && p.transfer.stoppedByReader));
  if (code != CURLE_OK && !answeredEarly) {
    HttpError error = curl_error(code, p.errorBuffer);
    error.timings = timings;
    error.phase = phase_of(easy, p.transfer, code, p.routing.url.starts_with("https://"));
    if (error.phase == TransferPhase::response && error.kind == TransportError::badUrl) {
      // "Received HTTP/0.9 when not allowed": the answer was not HTTP, the URL was fine.
      error.kind = TransportError::other;
    }
    if (error.kind == TransportError::timeout || error.kind == TransportError::other) {
      error.message += phase_note(error.phase);
    }
    return error;
  }
  long version = 0;
  curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
  response.httpVersion = version == CURL_HTTP_VERSION_2_0   ? "HTTP/2"
                         : version == CURL_HTTP_VERSION_1_1 ? "HTTP/1.1"
                         : version == CURL_HTTP_VERSION_1_0 ? "HTTP/1.0"
                                                            : "HTTP";
  long connects = 0;
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
  response.newConnection = connects > 0;
  response.headers = std::move(p.transfer.headers);
  response.body = std::move(p.transfer.body);
  response.timings = timings;
  return response;
}

}  // namespace

std::vector<HttpResult> CurlHttpClient::send_batch(const std::vector<HttpRequest>& requests) {
  // One at a time: libcurl 7.88 (Debian 12) fails concurrent HTTP/2 streams now and then with
  // "Error in the HTTP2 framing layer". Sequential requests still share the connection.
  std::vector<HttpResult> results;
  for (const HttpRequest& request : requests) {
    results.push_back(std::move(perform_together({request}).front()));
  }
  return results;
}

std::vector<HttpResult> CurlHttpClient::perform_together(const std::vector<HttpRequest>& requests) {
  if (log_.verbosity >= 6 && log_.sink) {
    for (const HttpRequest& request : requests) {
      log_request(log_, request);
    }
  }
  if (!handle_->multi) {
    handle_->multi.reset(curl_multi_init());
    curl_multi_setopt(handle_->multi.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  }
  CURLM* multi = handle_->multi.get();
  std::vector<std::unique_ptr<Pending>> pending;
  for (const HttpRequest& request : requests) {
    auto p = std::make_unique<Pending>();
    p->request = &request;
    prepare(*p);
    if (!p->setupError) {
      curl_easy_setopt(p->easy.get(), CURLOPT_PRIVATE, p.get());
      curl_multi_add_handle(multi, p->easy.get());
    }
    pending.push_back(std::move(p));
  }
  // Every transfer carries its own CURLOPT_TIMEOUT_MS, so this loop ends.
  int running = 0;
  do {
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) {
        continue;
      }
      Pending* p = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
      p->code = msg->data.result;
    }
    if (running > 0) {
      curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    }
  } while (running > 0);
  std::vector<HttpResult> results;
  for (std::unique_ptr<Pending>& p : pending) {
    if (!p->setupError) {
      curl_multi_remove_handle(multi, p->easy.get());
    }
    results.push_back(finish(*p));
    if (log_.verbosity >= 6 && log_.sink) {
      log_response(log_, *p->request, results.back());
    }
  }
  return results;
}

}  // namespace kp::core
