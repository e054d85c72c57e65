#include "core/http.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include <curl/curl.h>

#include "core/version.h"

namespace kp::core {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// State the libcurl callbacks write into while one transfer runs.
struct Transfer {
  std::string body;
  HttpHeaders headers;
  std::size_t maxBodyBytes = kMaxBodyBytes;
  bool bodyTooLarge = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  if (transfer->body.size() + bytes > transfer->maxBodyBytes) {
    transfer->bodyTooLarge = true;
    return 0;  // anything but `bytes` makes libcurl abort with CURLE_WRITE_ERROR
  }
  transfer->body.append(data, bytes);
  return bytes;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
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
CURLcode configure(CURL* handle, const HttpRequest& request, Transfer& transfer,
                   curl_slist* headers, char* errorBuffer) {
  const std::string userAgent = "kplugins/" + std::string(kVersion);
  const long timeoutMs = static_cast<long>(request.timeout.count());
  CURLcode rc = CURLE_OK;
  auto step = [&rc](CURLcode result) {
    if (rc == CURLE_OK) {
      rc = result;
    }
  };
  step(curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, errorBuffer));
  step(curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str()));
  step(curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L));  // signals break multi-threaded use
  step(curl_easy_setopt(handle, CURLOPT_USERAGENT, userAgent.c_str()));
  step(curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeoutMs));
  step(curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, timeoutMs));
  step(curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers));
  step(curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body));
  step(curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer));
  step(curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header));
  step(curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer));
  step(curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE,
                        static_cast<curl_off_t>(request.maxBodyBytes)));
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
  if (!request.proxyUrl.empty()) {
    step(curl_easy_setopt(handle, CURLOPT_PROXY, request.proxyUrl.c_str()));
  }
  if (request.insecure) {
    step(curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L));
    step(curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L));
  } else if (!request.caPem.empty()) {
    step(set_blob(handle, CURLOPT_CAINFO_BLOB, request.caPem));
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

}  // namespace

TransportError classify_curl_code(int curlCode) {
  switch (static_cast<CURLcode>(curlCode)) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return TransportError::badUrl;
    case CURLE_COULDNT_RESOLVE_PROXY:
      return TransportError::proxy;
    case CURLE_COULDNT_RESOLVE_HOST:
      return TransportError::dns;
    case CURLE_COULDNT_CONNECT:
      return TransportError::connect;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportError::timeout;
    case CURLE_PEER_FAILED_VERIFICATION:
      return TransportError::tlsVerify;
    case CURLE_SSL_CACERT_BADFILE:
      return TransportError::tlsCa;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
      return TransportError::tlsHandshake;
    case CURLE_FILESIZE_EXCEEDED:
      return TransportError::tooLarge;
    default:
      return TransportError::other;
  }
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

CurlHttpClient::CurlHttpClient() {
  // curl_global_init is not safe to race; once per process is all libcurl needs.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpResult CurlHttpClient::send(const HttpRequest& request) {
  CurlEasy handle(curl_easy_init());
  if (!handle) {
    return curl_error(CURLE_FAILED_INIT, "curl_easy_init");
  }
  CurlSlist headers;
  for (const auto& [name, value] : request.headers) {
    const std::string line = name + ": " + value;
    // curl_slist_append returns the list's head (a new one for the first entry); on failure
    // the old list is untouched and still owned by `headers`.
    curl_slist* head = curl_slist_append(headers.get(), line.c_str());
    if (head == nullptr) {
      return curl_error(CURLE_OUT_OF_MEMORY, "curl_slist_append");
    }
    (void)headers.release();
    headers.reset(head);
  }
  Transfer transfer;
  transfer.maxBodyBytes = request.maxBodyBytes;
  char errorBuffer[CURL_ERROR_SIZE] = {};
  const CURLcode setup = configure(handle.get(), request, transfer, headers.get(), errorBuffer);
  if (setup != CURLE_OK) {
    return curl_error(setup, errorBuffer);
  }
  const CURLcode code = curl_easy_perform(handle.get());
  const HttpTimings timings = read_timings(handle.get());
  if (transfer.bodyTooLarge || code == CURLE_FILESIZE_EXCEEDED) {
    return HttpError{TransportError::tooLarge, static_cast<int>(code),
                     "response body exceeds " + std::to_string(request.maxBodyBytes) + " bytes",
                     timings};
  }
  if (code != CURLE_OK) {
    HttpError error = curl_error(code, errorBuffer);
    error.timings = timings;
    return error;
  }
  HttpResponse response;
  curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &response.status);
  response.headers = std::move(transfer.headers);
  response.body = std::move(transfer.body);
  response.timings = timings;
  return response;
}

}  // namespace kp::core
