// The DNS and TCP layers: the addresses of the server (and whether /etc/hosts or another DNS
// server disagrees), then a connection to each; /etc/hosts is blamed when only its address fails.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "apicheck/config_load.h"
#include "apicheck/run.h"
#include "core/net/net.h"
#include "core/util/text.h"
#include "core/util/url.h"

namespace kp::apicheck::detail {

using core::join;

namespace {

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// What the configured DNS servers (not the hosts file) say about `host`.
std::string dns_opinion(Run& run, const std::string& host, std::vector<std::string>* addrs) {
  core::Network& net = *run.options.deps.net;
  const std::vector<std::string> servers = net.dns_servers();
  for (const std::string& server : servers) {
    auto answer = net.query(server, host, run.options.timeout);
    if (answer) {
      *addrs = sorted(answer->addresses);
      return "DNS (" + server + ") answers " + join(*addrs);
    }
    if (answer.error().kind == core::DnsFailure::nxdomain) {
      return "DNS (" + server + ") says the name does not exist";
    }
  }
  return servers.empty() ? "no DNS server in " + core::dns_servers_origin()
                         : "no DNS server answered";
}

}  // namespace

std::vector<std::string> dns_layer(Run& run) {
  const std::string& host = run.url.host;
  if (core::is_ip_literal(host)) {
    run.add(make_check("dns.resolve", Layer::dns, CheckStatus::skip,
                       "the server is an IP address (" + host + ")"));
    return {host};
  }
  core::Network& net = *run.options.deps.net;
  auto resolved = net.resolve(host, run.options.timeout);
  const std::vector<std::string> fromHosts =
      core::hosts_file_lookup(net.read_file(core::hosts_file_path()), host);
  if (!resolved) {
    std::vector<std::string> ignored;
    Check check =
        make_check("dns.resolve", Layer::dns, CheckStatus::fail,
                   host + " does not resolve: " + resolved.error().message + "; " +
                       dns_opinion(run, host, &ignored),
                   "check the server name in the kubeconfig for typos, then the DNS record "
                   "(dig " +
                       host + ") and the resolvers in " + core::dns_servers_origin());
    check.durationMs = 0;
    run.add(std::move(check));
    run.skip_after(Layer::dns, host + " did not resolve");
    return {};
  }
  run.timing.dnsMs = resolved->ms;
  run.log("DNS " + host + " -> " + join(resolved->addresses) + " in " + fmt_ms(resolved->ms));
  Check check = make_check("dns.resolve", Layer::dns, CheckStatus::ok,
                           host + " -> " + join(resolved->addresses));
  check.durationMs = resolved->ms;
  check.details = {{"addresses", resolved->addresses}};
  run.add(std::move(check));

  // localhost is the hosts file's by definition (RFC 6761 6.3): DNS has no say to compare.
  const std::string lower = core::ascii_lower(host);
  const bool loopbackName = lower == "localhost" || lower.ends_with(".localhost");
  if (!fromHosts.empty() && !loopbackName) {
    std::vector<std::string> dnsAddrs;
    const std::string opinion = dns_opinion(run, host, &dnsAddrs);
    const bool same = sorted(fromHosts) == dnsAddrs;
    Check hosts = make_check(
        "dns.hosts", Layer::dns, same ? CheckStatus::ok : CheckStatus::warn,
        core::hosts_file_path() + " maps " + host + " to " + join(fromHosts) + "; " + opinion);
    if (!same) {
      hosts.hint = core::hosts_file_path() + " overrides DNS for " + host +
                   ": remove or fix that line unless the override is deliberate";
    }
    hosts.details = {{"hostsFile", fromHosts}, {"dns", dnsAddrs}};
    if (!same) {
      run.hostsCheck = run.report.checks.size();
      run.dnsAddresses = dnsAddrs;
    }
    run.add(std::move(hosts));
  }
  if (!run.options.dnsServer.empty()) {
    auto answer = net.query(run.options.dnsServer, host, run.options.timeout);
    if (!answer) {
      run.add(make_check("dns.compare", Layer::dns, CheckStatus::warn,
                         run.options.dnsServer + ": " + answer.error().message,
                         "the named DNS server does not know " + host));
    } else {
      const bool same = sorted(answer->addresses) == sorted(resolved->addresses);
      run.add(make_check(
          "dns.compare", Layer::dns, same ? CheckStatus::ok : CheckStatus::warn,
          run.options.dnsServer + " answers " + join(answer->addresses) +
              (same ? ", the same as the system resolver"
                    : "; the system resolver gave " + join(resolved->addresses)),
          same ? ""
               : "resolvers disagree: check split-horizon DNS and " + core::hosts_file_path()));
    }
  }
  return resolved->addresses;
}

std::optional<core::UniqueFd> tcp_layer(Run& run, const std::vector<std::string>& addresses) {
  std::optional<core::UniqueFd> first;
  for (const std::string& address : addresses) {
    const std::string endpoint = core::host_port(address, run.url.port);
    auto conn = run.options.deps.net->connect(address, run.port, run.options.timeout);
    if (!conn) {
      const core::ConnectError& e = conn.error();
      std::string hint;
      switch (e.kind) {
        case core::ConnectFailure::refused:
          hint = local_cluster_hint(run.client.contextName, run.client.server);
          if (run.options.defaultServer) {
            hint = endpoint +
                   " is only kubectl's default address (kube-apiserver has not served plain "
                   "HTTP on 8080 since 1.20): the fix is a kubeconfig, see config.kubeconfig";
          } else if (hint.empty()) {
            hint = "nothing listens on " + endpoint +
                   ": check that kube-apiserver (or its load balancer) runs and binds this "
                   "address (ss -tlnp | grep " +
                   run.url.port + ")";
          }
          break;
        case core::ConnectFailure::timeout:
          hint = "packets to " + endpoint +
                 " are dropped: check firewalls (iptables -L, security groups), routes, and "
                 "that the address is right";
          break;
        case core::ConnectFailure::unreachable:
          hint = "no route to " + address + ": check the network path and the address";
          break;
        default:
          hint = "the connection failed: check the network path to " + endpoint;
      }
      Check check =
          make_check("tcp.connect", Layer::tcp, CheckStatus::fail,
                     std::string("connection ") + std::string(core::to_string(e.kind)) + " after " +
                         fmt_ms(e.ms) + (e.message.empty() ? "" : " (" + e.message + ")"),
                     hint, endpoint);
      check.durationMs = e.ms;
      run.add(std::move(check));
      continue;
    }
    run.log("TCP connect " + endpoint + " in " + fmt_ms(conn->ms));
    Check check = make_check("tcp.connect", Layer::tcp, CheckStatus::ok,
                             "connected in " + fmt_ms(conn->ms), {}, endpoint);
    check.durationMs = conn->ms;
    run.add(std::move(check));
    if (!first) {
      run.timing.endpoint = endpoint;
      run.timing.connectMs = conn->ms;
      run.connectedAddress = address;
      first = std::move(conn->fd);
    }
  }
  if (!first) {
    run.skip_after(Layer::tcp, "no address accepted a connection");
    return first;
  }
  // Another address works: Go's dialer (and most clients) fall back to it, so a dead address
  // is a warning (say, an AAAA record without an IPv6 route), not the broken layer.
  for (Check& check : run.report.checks) {
    if (check.id == "tcp.connect" && check.status == CheckStatus::fail) {
      check.status = CheckStatus::warn;
      check.message += "; another address of " + run.url.host + " works";
    }
  }
  return first;
}

void blame_hosts_file(Run& run) {
  if (!run.hostsCheck || run.dnsAddresses.empty()) {
    return;
  }
  for (const std::string& address : run.dnsAddresses) {
    auto conn = run.options.deps.net->connect(address, run.port, run.options.timeout);
    if (!conn) {
      continue;
    }
    Check& hosts = run.report.checks[*run.hostsCheck];
    hosts.status = CheckStatus::fail;
    hosts.message += "; the " + core::hosts_file_path() + " address fails while " + address +
                     " (from DNS) accepts "
                     "connections";
    hosts.hint = "remove or correct the " + run.url.host + " line in " + core::hosts_file_path() +
                 ": it sends " + "clients to a dead address";
    return;
  }
}

}  // namespace kp::apicheck::detail
