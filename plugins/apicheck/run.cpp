// The shared part of a run: Run's setup and skip marks, the check builder and the formatting and
// HTTP helpers that more than one layer uses (credentials: auth, ha and metrics).
#include "apicheck/run.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "core/kube/apiclient.h"
#include "core/kube/jwt.h"
#include "core/net/proxy.h"
#include "core/net/x509.h"
#include "core/report/transport.h"
#include "core/util/signals.h"
#include "core/util/text.h"
#include "core/util/url.h"

namespace kp::apicheck::detail {

Run::Run(const Options& o, const core::ClientConfig& c, core::Report& r)
    : options(o), client(c), report(r) {
  url = core::split_url(client.server);
  nameHost = client.tlsServerName.empty() ? url.host : client.tlsServerName;
  port = std::atoi(url.port.c_str());
  timing.endpoint = core::endpoint_of(client.server);
}

void Run::skip_after(Layer from, const std::string& reason) {
  static const std::vector<std::pair<Layer, const char*>> later = {
      {Layer::dns, "dns.resolve"},
      {Layer::tcp, "tcp.connect"},
      {Layer::tls, "tls.handshake"},
      {Layer::auth, "auth.whoami"},
      {Layer::health, "health.readyz"}};
  for (const auto& [layer, id] : later) {
    if (layer > from) {
      add(make_check(id, layer, CheckStatus::skip, "not checked: " + reason));
    }
  }
}

std::string fmt_ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, ms < 10 ? "%.1f ms" : "%.0f ms", ms);
  return text;
}

std::string days_text(std::int64_t seconds) {
  const std::int64_t days = seconds / 86400;
  if (days != 0) {
    return std::to_string(days) + (days == 1 ? " day" : " days");
  }
  const std::int64_t hours = seconds / 3600;
  return std::to_string(hours) + (hours == 1 ? " hour" : " hours");
}

std::string span_text(std::int64_t seconds) {
  const std::int64_t s = seconds < 0 ? -seconds : seconds;
  const auto unit = [&](std::int64_t per, const char* one, const char* many) {
    const std::int64_t n = (s + per / 2) / per;  // nearest: a Date header is a second late
    return std::to_string(n) + (n == 1 ? one : many);
  };
  if (s >= 2 * 86400) {
    return unit(86400, " day", " days");
  }
  if (s >= 2 * 3600) {
    return unit(3600, " hour", " hours");
  }
  if (s >= 2 * 60) {
    return unit(60, " minute", " minutes");
  }
  return std::to_string(s) + " s";
}

core::HttpRequest request_to(const Run& run, std::string path) {
  core::HttpRequest r;
  r.url = core::join_url(run.client.server, path);
  r.caPem = run.client.caPem;
  r.insecure = run.client.insecure;
  r.tlsServerName = run.client.tlsServerName;
  r.proxyUrl = core::chosen_proxy(run.client.server, run.client.proxyUrl, run.options.deps.env);
  r.timeout = run.options.timeout;
  // --watch installs the stop signals: Ctrl-C then ends a request in flight at once (the
  // flag stays down otherwise, and without --watch a signal ends the process anyway).
  r.cancelled = [] { return core::StopSignals::raised(); };
  return r;
}

core::Result<core::TlsProbe, core::TlsError> handshake(const Run& run, int fd,
                                                       std::chrono::milliseconds timeout) {
  core::TlsProbeOptions opts;
  opts.serverName = run.nameHost;
  opts.caPem = run.client.caPem;
  opts.timeout = timeout;
  return run.options.deps.tls(fd, opts);
}

std::string snippet(std::string_view body) {
  return core::escape_bytes(body, 160);
}

Check transport_failure(std::string id, Layer layer, const core::HttpError& e,
                        const std::string& endpoint) {
  const Layer at = core::transport_layer(e.kind, e.phase, layer);
  std::string hint;
  if (at == Layer::tls) {
    hint =
        "this connection's TLS handshake failed although the first one passed: behind a load "
        "balancer, a backend serves another certificate (check each with --all-endpoints), or "
        "the certificate changed in between";
  } else if (at == Layer::tcp || at == Layer::dns) {
    hint =
        "a new connection failed although the first one worked: the load balancer or a "
        "backend is flapping (check each with --all-endpoints)";
  } else if (e.kind == core::TransportError::timeout) {
    hint =
        "the server accepted the connection but did not answer in time: check kube-apiserver "
        "load and logs";
  } else {
    hint =
        "the request failed after the connection was made: check kube-apiserver and the load "
        "balancer";
  }
  Check c = make_check(std::move(id), at, CheckStatus::fail, e.message, hint, endpoint);
  c.durationMs = e.timings.totalMs;
  return c;
}

std::optional<core::HttpHeaders> credential_headers(Run& run, core::HttpRequest& r) {
  const core::ClientConfig& c = run.client;
  if (!run.credentials) {
    run.credentials = core::resolve_credentials(c, run.options.deps.exec, run.options.timeout);
    const auto& credentials = *run.credentials;
    if (!credentials) {
      const core::ExecError& e = credentials.error();
      std::string hint = !e.installHint.empty()
                             ? e.installHint
                             : "fix the exec credential plugin " + c.exec->command +
                                   " (run it by hand with KUBERNETES_EXEC_INFO set)";
      if (!e.returnedApiVersion.empty()) {
        // kubectl-aws-eks#6 and its kin: the plugin and the kubeconfig disagree on the version.
        // Only a version kubectl still accepts is worth writing into the kubeconfig.
        const bool accepted = e.returnedApiVersion == "client.authentication.k8s.io/v1" ||
                              e.returnedApiVersion == "client.authentication.k8s.io/v1beta1";
        hint = accepted ? "set users[].user.exec.apiVersion to " + e.returnedApiVersion +
                              " (what " + c.exec->command + " answers), or update the plugin"
                        : "update " + c.exec->command + ": it answers " +
                              core::quote_bytes(e.returnedApiVersion, 80) +
                              ", which kubectl no longer accepts";
        if (c.exec->command.find("aws") != std::string::npos) {
          hint += " (for EKS: aws eks update-kubeconfig with a current AWS CLI)";
        }
      }
      Check check = make_check("auth.credential", Layer::auth, CheckStatus::fail, e.message, hint);
      check.details = {{"command", c.exec->command}, {"apiVersion", c.exec->apiVersion}};
      if (!e.stderrTail.empty()) {
        check.details["stderr"] = e.stderrTail;
      }
      run.add(std::move(check));
    } else if (credentials->exec) {
      const core::ExecCredential& cred = *credentials->exec;
      std::string message = "exec plugin " + c.exec->command + " returned a " +
                            (cred.token.empty() ? "client certificate" : "token");
      // Until when: the ExecCredential's expirationTimestamp, or the token's own exp.
      std::optional<std::int64_t> until = cred.expirationUnix;
      if (const auto claims = core::decode_jwt(cred.token); claims && claims->exp) {
        until = until ? std::min(*until, *claims->exp) : *claims->exp;
      }
      if (until) {
        message += " valid until " + core::rfc3339(*until);
      }
      Check check = make_check("auth.credential", Layer::auth, CheckStatus::ok, message);
      if (until && run.options.deps.now() >= *until) {
        check.status = CheckStatus::warn;
        check.message += ", which has passed";
        add_timed(
            run, std::move(check),
            TimedVerdict::window(std::nullopt, until,
                                 "the plugin handed out a credential that already expired (a stale "
                                 "cache): log in again with " +
                                     c.exec->command + ", or clear its token cache"));
      } else {
        run.add(std::move(check));
      }
    }
  }
  if (!*run.credentials) {
    return std::nullopt;
  }
  const core::Credentials& credentials = **run.credentials;
  r.clientCertPem = credentials.clientCertPem;
  r.clientKeyPem = credentials.clientKeyPem;
  return credentials.headers;
}

}  // namespace kp::apicheck::detail
