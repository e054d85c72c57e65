#include "core/kube/apiclient.h"

#include <cctype>
#include <iostream>
#include <set>

#include "core/kube/kube.h"
#include "core/net/proxy.h"
#include "core/util/base64.h"
#include "core/util/url.h"

namespace kp::core {

ExecRunner system_exec_runner() {
  return
      [](const ExecConfig& exec, const ClientConfig& cluster, std::chrono::milliseconds timeout) {
        return run_exec_plugin(exec, cluster, ExecEnvironment::system(), timeout);
      };
}

Result<Credentials, ExecError> resolve_credentials(const ClientConfig& c, const ExecRunner& exec,
                                                   std::chrono::milliseconds timeout) {
  Credentials out;
  std::string token =
      c.token;  // the loader already read tokenFile into it (../shared/K8S-CLIENT-SPEC.md 1.9)
  out.clientCertPem = c.clientCertPem;
  out.clientKeyPem = c.clientKeyPem;
  // client-go's exec authenticator steps aside when a token, basic auth or a client certificate
  // is configured (UpdateTransportConfig: HasTokenAuth || HasBasicAuth || HasCertAuth).
  if (c.exec && token.empty() && c.clientCertPem.empty() && c.username.empty()) {
    Result<ExecCredential, ExecError> credential = exec(*c.exec, c, timeout);
    if (!credential) {
      return credential.error();
    }
    token = credential->token;
    if (token.empty()) {
      out.clientCertPem = credential->clientCertPem;
      out.clientKeyPem = credential->clientKeyPem;
    }
    out.exec = std::move(*credential);
  }
  if (!token.empty()) {
    out.headers.emplace_back("Authorization", "Bearer " + token);
  } else if (!c.username.empty()) {
    out.headers.emplace_back("Authorization",
                             "Basic " + encode_base64(c.username + ":" + c.password));
  }
  if (!c.impersonate.empty()) {
    out.headers.emplace_back("Impersonate-User", c.impersonate);
  }
  if (!c.impersonateUid.empty()) {
    out.headers.emplace_back("Impersonate-Uid", c.impersonateUid);
  }
  for (const std::string& group : c.impersonateGroups) {
    out.headers.emplace_back("Impersonate-Group", group);
  }
  for (const auto& [key, values] : c.impersonateUserExtra) {
    for (const std::string& value : values) {
      out.headers.emplace_back("Impersonate-Extra-" + key, value);
    }
  }
  return out;
}

HttpRequest api_request(const ClientConfig& config, const Credentials& credentials,
                        std::string method, std::string_view path,
                        std::chrono::milliseconds timeout) {
  HttpRequest r;
  r.method = std::move(method);
  r.url = join_url(config.server, std::string(path));
  r.caPem = config.caPem;
  r.insecure = config.insecure;
  r.tlsServerName = config.tlsServerName;
  r.proxyUrl = chosen_proxy(config.server, config.proxyUrl, process_env());
  r.timeout = timeout;
  r.headers = credentials.headers;
  r.clientCertPem = credentials.clientCertPem;
  r.clientKeyPem = credentials.clientKeyPem;
  r.headers.emplace_back("Accept", "application/json");
  return r;
}

namespace {

ApiError transport_error(const std::string& what, const HttpError& e) {
  return ApiError{0, e.kind, {}, what + ": " + e.message, e.phase};
}

// The Status message of an error answer, else the status line and the first bytes.
ApiError http_error(const std::string& what, const HttpResponse& r) {
  ApiError e{r.status, TransportError::other, {}, {}};
  if (std::optional<ApiStatus> status = parse_status(r.body)) {
    e.reason = status->reason;
    e.message = what + ": " + (status->message.empty() ? status->reason : status->message) +
                " (HTTP " + std::to_string(r.status) + ")";
    return e;
  }
  std::string snippet = r.body.substr(0, 120);
  for (char& ch : snippet) {
    if (static_cast<unsigned char>(ch) < 0x20) {
      ch = ' ';
    }
  }
  e.message = what + ": HTTP " + std::to_string(r.status) + (snippet.empty() ? "" : ": ") + snippet;
  return e;
}

std::string describe(const std::string& method, std::string_view path) {
  const std::string_view bare = path.substr(0, path.find('?'));
  return method + " " + std::string(bare);
}

}  // namespace

ApiClient::ApiClient(ClientConfig config, Credentials credentials, HttpFactory http,
                     std::chrono::milliseconds timeout)
    : config_(std::move(config)),
      credentials_(std::move(credentials)),
      factory_(std::move(http)),
      http_(factory_()),
      timeout_(timeout),
      counter_(std::make_shared<std::atomic<std::size_t>>(0)),
      cancel_(std::make_shared<std::function<bool()>>()) {}

ApiClient ApiClient::clone(bool shareCancel) const {
  ApiClient copy(config_, credentials_, factory_, timeout_);
  copy.counter_ = counter_;
  if (shareCancel) {
    copy.cancel_ = cancel_;
  }
  return copy;
}

ApiResult ApiClient::call(std::string method, std::string_view path,
                          const nlohmann::json& body) const {
  const std::string what = describe(method, path);
  HttpRequest r = api_request(config_, credentials_, std::move(method), path, timeout_);
  if (!body.is_null()) {
    r.body = body.dump();
    r.headers.emplace_back("Content-Type", "application/json");
  }
  if (*cancel_) {
    r.cancelled = *cancel_;
  }
  ++*counter_;
  HttpResult result = http_->send(r);
  if (!result) {
    return transport_error(what, result.error());
  }
  if (result->status < 200 || result->status >= 300) {
    return http_error(what, *result);
  }
  Result<nlohmann::json> json = parse_json(result->body);
  if (!json) {
    return ApiError{result->status, TransportError::other, {}, what + ": " + json.error().message};
  }
  return std::move(*json);
}

ApiResult ApiClient::get(std::string_view path) const {
  return call("GET", path, nullptr);
}

ApiResult ApiClient::post(std::string_view path, const nlohmann::json& body) const {
  return call("POST", path, body);
}

ApiResult ApiClient::del(std::string_view path, const nlohmann::json& body) const {
  return call("DELETE", path, body);
}

Result<std::size_t, ApiError> ApiClient::list_pages(
    std::string_view path, std::size_t limit,
    const std::function<bool(nlohmann::json&)>& onPage) const {
  const std::size_t question = path.find('?');
  const std::string_view bare = path.substr(0, question);
  const std::string query = question == std::string_view::npos
                                ? std::string()
                                : "&" + std::string(path.substr(question + 1));
  limit = std::max<std::size_t>(1, limit);
  std::size_t pages = 0;
  std::string token;
  std::set<std::string> seen;
  for (;;) {
    const std::string page = std::string(bare) + "?limit=" + std::to_string(limit) + query +
                             (token.empty() ? "" : "&continue=" + url_escape(token));
    ApiResult answer = get(page);
    if (!answer) {
      if (answer.error().status == 0 && answer.error().transport == TransportError::tooLarge &&
          limit > 1) {
        limit = std::max<std::size_t>(1, limit / 10);
        continue;
      }
      return answer.error();
    }
    ++pages;
    // Read before onPage, which may take the page away.
    std::string next = json_string(json_member(*answer, "metadata"), "continue");
    if (!onPage(*answer)) {
      return pages;
    }
    if (next.empty()) {
      return pages;
    }
    if (!seen.insert(next).second) {
      return ApiError{
          200,
          TransportError::other,
          {},
          describe("GET", path) + ": the API server returned the same continue token twice"};
    }
    token = std::move(next);
  }
}

Result<bool, ApiError> ApiClient::watch(std::string_view path,
                                        const std::function<bool(const nlohmann::json&)>& onEvent,
                                        std::chrono::milliseconds deadline,
                                        const std::function<bool()>& cancelled) const {
  const std::string separator = path.find('?') == std::string_view::npos ? "?" : "&";
  const long seconds = std::max<long>(1, static_cast<long>(deadline.count() / 1000));
  const std::string full =
      std::string(path) + separator +
      "watch=1&allowWatchBookmarks=false&timeoutSeconds=" + std::to_string(seconds);
  const std::string what = describe("WATCH", path);
  HttpRequest r = api_request(config_, credentials_, "GET", full, deadline);
  std::string pending;
  std::string errorBody;
  bool stopped = false;
  bool garbage = false;
  r.onBody = [&](std::string_view chunk) {
    // The bytes already pending hold no newline: only the new ones are searched, and the lines
    // read are dropped at once, so a long line in many chunks costs linear time.
    const std::size_t fresh = pending.size();
    pending.append(chunk);
    std::size_t start = 0;
    for (auto newline = pending.find('\n', fresh); newline != std::string::npos;
         newline = pending.find('\n', start)) {
      const std::string_view line(pending.data() + start, newline - start);
      start = newline + 1;
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) {
        continue;
      }
      Result<nlohmann::json> event = parse_json(line);
      if (!event || !event->is_object() || !event->contains("type")) {
        errorBody = std::string(line);  // an error answer (a Status), or not a watch at all
        garbage = true;
        return false;
      }
      if (!onEvent(*event)) {
        stopped = true;
        return false;
      }
    }
    pending.erase(0, start);
    if (pending.size() > kMaxBodyBytes) {
      garbage = true;
      return false;
    }
    return true;
  };
  r.cancelled = [&]() { return (cancelled && cancelled()) || (*cancel_ && (*cancel_)()); };
  ++*counter_;
  HttpResult result = http_->send(r);
  if (!result) {
    if (result.error().kind == TransportError::timeout && !garbage) {
      return false;  // the deadline passed without the awaited event
    }
    return transport_error(what, result.error());
  }
  if (result->status < 200 || result->status >= 300 || garbage) {
    HttpResponse answer = *result;
    answer.body = errorBody.empty() ? pending : errorBody;
    if (answer.status >= 200 && answer.status < 300) {
      return ApiError{
          answer.status, TransportError::other, {}, what + ": the answer is not a watch stream"};
    }
    return http_error(what, answer);
  }
  return stopped;
}

Result<ApiClient> connect(const LoadingRules& rules, const ConfigOverrides& overrides,
                          std::chrono::milliseconds timeout, int verbosity) {
  Result<ClientConfig> config = load_client_config(rules, overrides);
  if (!config) {
    return config.error();
  }
  Result<Credentials, ExecError> credentials =
      resolve_credentials(*config, system_exec_runner(), timeout);
  if (!credentials) {
    return Error{describe(credentials.error())};
  }
  HttpLog log;
  log.verbosity = verbosity;
  if (verbosity > 0) {
    log.sink = [](const std::string& line) { std::cerr << line << '\n'; };
  }
  return ApiClient(
      std::move(*config), std::move(*credentials),
      [log] { return std::make_unique<CurlHttpClient>(log); }, timeout);
}

std::string url_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if (std::isalnum(byte) != 0 || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    }
  }
  return out;
}

}  // namespace kp::core
