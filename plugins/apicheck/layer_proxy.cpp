// The proxy layer: which proxy (if any) the request takes, and whether it tunnels to the server.
#include <optional>

#include "apicheck/run.h"
#include "core/net/proxy.h"

namespace kp::apicheck::detail {

std::optional<core::UniqueFd> proxy_layer(Run& run, bool& used) {
  const core::ProxyChoice choice =
      core::choose_proxy(run.client.server, run.client.proxyUrl, run.options.deps.env);
  used = choice.used;
  if (!choice.used) {
    run.add(
        make_check("proxy.select", Layer::proxy, CheckStatus::ok, "no proxy: " + choice.reason));
    return std::nullopt;
  }
  run.add(make_check("proxy.select", Layer::proxy, CheckStatus::ok,
                     "through " + choice.url + " (from " + choice.source + ")"));
  run.log("proxy: CONNECT " + run.url.host + ":" + run.url.port + " via " + choice.url);
  core::Result<core::ProxyTunnel, core::ProxyError> tunnel = core::probe_proxy(
      *run.options.deps.net, choice.rawUrl, run.url.host, run.port, run.options.timeout);
  if (!tunnel) {
    const core::ProxyError& e = tunnel.error();
    const bool reached = e.kind == core::ProxyFailure::rejected ||
                         e.kind == core::ProxyFailure::malformed ||
                         e.kind == core::ProxyFailure::unsupported;
    Check check =
        make_check(reached ? "proxy.tunnel" : "proxy.connect", Layer::proxy, CheckStatus::fail,
                   "proxy " + choice.url + ": " + e.message,
                   reached ? "the proxy refuses to tunnel to " + run.url.host + ":" + run.url.port +
                                 ": allow it in the proxy, or add the server to NO_PROXY"
                           : "the proxy does not answer: fix " + choice.source +
                                 ", or bypass it with NO_PROXY=" + run.url.host);
    check.details = {{"proxy", choice.url}, {"source", choice.source}};
    if (e.probe.connectStatus != 0) {
      check.details["connectStatus"] = e.probe.connectStatus;
    }
    run.add(std::move(check));
    run.skip_after(Layer::proxy, "the proxy failed");
    return std::nullopt;
  }
  Check ok = make_check("proxy.tunnel", Layer::proxy, CheckStatus::ok,
                        "tunnel to " + run.url.host + ":" + run.url.port + " open (" +
                            tunnel->probe.statusLine + ")");
  ok.durationMs = tunnel->probe.connectMs + tunnel->probe.tunnelMs;
  run.add(std::move(ok));
  run.timing.connectMs = tunnel->probe.connectMs + tunnel->probe.tunnelMs;
  run.add(make_check("dns.resolve", Layer::dns, CheckStatus::skip,
                     "resolved by the proxy (" + choice.url + ")"));
  return std::move(tunnel->fd);
}

}  // namespace kp::apicheck::detail
