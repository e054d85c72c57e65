// The inside of Options::check(): the state one run carries from layer to layer, the helpers
// several layers share, and one function per layer, so a layer can be called (and tested) alone.
// checks.cpp (run_layers) calls the layers in the order a request meets them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apicheck/apicheck.h"
#include "core/kube/apiclient.h"
#include "core/kube/exec_credential.h"
#include "core/kube/kubeconfig.h"
#include "core/net/http.h"
#include "core/net/net.h"
#include "core/net/tls.h"
#include "core/net/x509.h"
#include "core/report/report.h"
#include "core/util/fd.h"
#include "core/util/result.h"
#include "core/util/url.h"

namespace kp::apicheck::detail {

using core::Check;
using core::CheckStatus;
using core::Layer;

// A certificate that expires within this many days is a warning.
inline constexpr int kWarnDays = 30;

// A check that judged [notBefore, notAfter) by this machine's clock and found it outside.
struct TimedVerdict {
  std::size_t check = 0;  // index in Report::checks
  std::optional<std::int64_t> notBefore;
  std::optional<std::int64_t> notAfter;
  std::string fix;      // the fix when the clock is right (renew, a new token)
  std::string besides;  // the fix of a problem that is not about dates, "" when none
  // The check's status when it holds by the server's clock: fail when the client itself refuses
  // (kubectl verifies the serving chain), warn when only the server judges (tokens, client
  // certificates) and it would accept.
  CheckStatus statusIfClock = CheckStatus::warn;

  // A verdict on [notBefore, notAfter) whose fix, when the clock is right, is `fix`.
  static TimedVerdict window(std::optional<std::int64_t> notBefore,
                             std::optional<std::int64_t> notAfter, std::string fix) {
    TimedVerdict v;
    v.notBefore = notBefore;
    v.notAfter = notAfter;
    v.fix = std::move(fix);
    return v;
  }
};

// State carried from one layer to the next within one run.
struct Run {
  // Splits the client's server URL into url, nameHost, port and timing.endpoint.
  Run(const Options& o, const core::ClientConfig& c, core::Report& r);

  const Options& options;
  const core::ClientConfig& client;
  core::Report& report;
  core::UrlParts url;
  std::string nameHost;  // the name the certificate must carry (tls-server-name or host)
  int port = 0;
  core::EndpointTiming timing;
  // The IP the diagnostic connection reached; "" through a proxy.
  std::string connectedAddress;
  std::optional<core::TlsProbe> tls;
  std::optional<core::CertInfo> clientCert;
  // When /etc/hosts overrides DNS with other addresses: the dns.hosts check and DNS's answer.
  std::optional<std::size_t> hostsCheck;
  std::vector<std::string> dnsAddresses;
  // The health requests broke at the HTTP level (timeouts, oversized or non-Kubernetes
  // answers): the server is the problem, and later requests would only repeat it.
  bool serverBroken = false;
  // The kubeconfig's client key is not the certificate's: no request can authenticate with it.
  bool clientKeyMismatch = false;
  // The credential, resolved (and an exec plugin run) at the first authenticated request.
  std::optional<core::Result<core::Credentials, core::ExecError>> credentials;
  // This machine's clock minus the server's (its Date header), once an answer carried one;
  // the tls.clock check that reports it.
  std::optional<std::int64_t> skew;
  std::optional<std::size_t> clockCheck;
  // Checks that found something out of its validity window by this machine's clock; once the
  // server's clock is known, explain_clock() tells a wrong clock from a real expiry.
  std::vector<TimedVerdict> timed;

  void add(Check check) { report.checks.push_back(std::move(check)); }
  void log(const std::string& line) const {
    if (options.deps.log && options.deps.verbosity >= 6) {
      options.deps.log(line);
    }
  }
  // Marks every check of the layers after `from` that this run will not reach.
  void skip_after(Layer from, const std::string& reason);
};

// ------------------------------------------------------------------ shared helpers (run.cpp)

// The diagnostic TLS handshake on a connected socket, as every apicheck connection makes it:
// the cluster's name (tls-server-name or host) and the kubeconfig's CA, within `timeout`.
core::Result<core::TlsProbe, core::TlsError> handshake(const Run& run, int fd,
                                                       std::chrono::milliseconds timeout);

// "0.5 ms", "12 ms".
std::string fmt_ms(double ms);

using core::make_check;

// "3 days", "1 day", or hours under a day.
std::string days_text(std::int64_t seconds);

// "800 days", "5 hours", "12 minutes", "40 s": a span of seconds at the unit that reads best.
std::string span_text(std::int64_t seconds);

// A request to `path` on the kubeconfig's server, with its CA, proxy and the run's timeout.
core::HttpRequest request_to(const Run& run, std::string path);

// The first line of a server's answer, short and without control characters (a hostile
// server must not write escape sequences to the user's terminal).
std::string snippet(std::string_view body);

// A request that failed on its own connection, made after the diagnostic connection passed
// TCP and TLS: the layer is where this one broke (`layer` when the server got the request).
Check transport_failure(std::string id, Layer layer, const core::HttpError& e,
                        const std::string& endpoint);

// The request headers that carry the credential (and impersonation), and the client
// certificate into `r`; nullopt when the credential could not be had (the check says why). The
// exec plugin runs once per run (core::resolve_credentials); later requests reuse its answer.
std::optional<core::HttpHeaders> credential_headers(Run& run, core::HttpRequest& r);

// ------------------------------------------------------------------ clocks and tokens

// The Unix time of an answer's Date header; nullopt without one.
std::optional<std::int64_t> date_of(const core::HttpResponse& response);

// Records the server's clock from `response` (once per run) as run.skew and the tls.clock check.
void note_server_clock(Run& run, const core::HttpResponse& response);

// Adds `check`, which found [verdict.notBefore, verdict.notAfter) not to hold by this machine's
// clock, and remembers it for explain_clock() (verdict.check is set here); its hint says both
// causes until the server's clock is known.
void add_timed(Run& run, Check check, TimedVerdict verdict);

// At the end of a run: each timed verdict against the server's clock (when known and more than
// a minute away: the Date header has whole seconds). Valid by the server's clock: the cause is
// the clocks (and tls.clock fails); invalid by both: the fix the check proposed.
void explain_clock(Run& run);

// config.token: what the bearer token in effect says about itself (a JWT: whose, for whom,
// until when; opaque tokens are not judged). Never prints the token.
void token_check(Run& run);

// For a 401 on a bearer token: what the token's claims say about the refusal (expired, another
// audience, a legacy Secret token, another issuer); false when it is opaque.
bool explain_rejected_token(const Run& run, std::string_view token, Check& check);

// ------------------------------------------------------------------ the layers, in order

// config.*: the kubeconfig, its TLS settings, file permissions and the client certificate.
void config_layer(Run& run);

// proxy.*: returns the open tunnel when a proxy is used and works; nullopt with failures added
// otherwise. `used` tells the caller whether the proxy path applies at all.
std::optional<core::UniqueFd> proxy_layer(Run& run, bool& used);

// dns.*: returns the addresses to dial; empty after adding a failure.
std::vector<std::string> dns_layer(Run& run);

// tcp.connect: dials every address; returns the first connection, nullopt when none worked.
std::optional<core::UniqueFd> tcp_layer(Run& run, const std::vector<std::string>& addresses);

// After tcp_layer found no address: when DNS's own address accepts connections, /etc/hosts is
// the cause and the dns.hosts warning becomes the failure that names it.
void blame_hosts_file(Run& run);

// tls.*: adds the TLS checks on the connected `fd`; returns whether credentials may be sent.
bool tls_layer(Run& run, int fd);

// The anonymous requests of the health layer: /livez, /readyz?verbose, /healthz, /version.
std::vector<core::HttpRequest> health_requests(const Run& run);
// Sends them: /livez, then the others unless /livez got no answer in time. Adds nothing to
// the report, so it can run beside the diagnostic handshake.
std::vector<core::HttpResult> fetch_health(core::HttpClient& http,
                                           const std::vector<core::HttpRequest>& requests);
// health.* (and tls.clock): judges fetch_health's answers.
void health_layer(Run& run, std::vector<core::HttpResult> results);

// auth.whoami: who the server takes the credential for.
void auth_layer(Run& run, core::HttpClient& http);

// One server row of HAProxy's `show stat` CSV (haproxy.cpp). Values as HAProxy wrote them:
// outside text, escaped when shown.
struct HaproxyServer {
  std::string proxy, server;  // pxname, svname
  std::string status;         // "UP", "DOWN", "UP 1/3", "no check", "MAINT", ...
  std::string checkStatus;    // "L4OK", "L7OK", "L7STS", "L4CON", ...; "" without a check
  std::string checkDesc;      // "Layer4 check passed", ...
  std::string address;        // addr: "198.18.0.51:6443" (HAProxy 1.9 and later)
  // HAProxy sends it new requests (UP, also while going down; or no check at all).
  bool sends_traffic() const;
  // What its check tests, from check_status: "a TCP-connect-only check", "an HTTP check", ...
  std::string check_kind() const;
};

// The server rows (FRONTEND and BACKEND rows left out); an error when the text is not that CSV.
core::Result<std::vector<HaproxyServer>> parse_haproxy_stats(std::string_view csv);

// --haproxy-stats read through Deps::haproxyStats and parsed; errors name the source.
core::Result<std::vector<HaproxyServer>> read_haproxy_stats(const Run& run);

// ha.*: each API server backend checked directly, HAProxy's view of each (--haproxy-stats)
// against it, and a summary.
void ha_layer(Run& run, core::HttpClient& http, bool authOk, bool lbReady);

// metrics.*: 5xx ratio, latency and APF rejections from /metrics.
void metrics_layer(Run& run, core::HttpClient& http);

}  // namespace kp::apicheck::detail
