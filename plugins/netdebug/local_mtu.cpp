// node.mtu: the route towards the API server (`ip -j route get`), the interface MTU and
// don't-fragment pings.
#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "core/util/text.h"
#include "netdebug/local.h"
#include "netdebug/local_detail.h"

namespace kp::netdebug {

using core::ascii_lower;
using detail::command_failure;
using detail::first_line;
using detail::join_path;
using detail::json_text;
using detail::node_check;
using detail::parse_number;
using detail::run_installed;
using detail::set;

using Json = nlohmann::json;

core::Result<RouteInfo> parse_ip_route_get(std::string_view json) {
  const Json doc = Json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_array() || doc.empty() || !doc[0].is_object()) {
    return core::Error{"not the JSON of ip -j route get: " + core::quote_bytes(json, 80)};
  }
  const Json& route = doc[0];
  RouteInfo info;
  info.type = json_text(route.value("type", Json("")));
  info.dev = json_text(route.value("dev", Json("")));
  info.gateway = json_text(route.value("gateway", Json("")));
  if (route.contains("metrics") && route["metrics"].is_array()) {
    for (const Json& metric : route["metrics"]) {
      if (metric.is_object() && metric.contains("mtu") && metric["mtu"].is_number_integer()) {
        info.mtu = metric["mtu"].get<int>();
      }
    }
  }
  if (route.contains("mtu") && route["mtu"].is_number_integer()) {
    info.mtu = route["mtu"].get<int>();
  }
  info.learned = info.mtu > 0 && route.contains("expires");
  if (info.dev.empty()) {
    return core::Error{"ip -j route get names no device: " + core::quote_bytes(json, 80)};
  }
  return info;
}

std::optional<int> parse_ping_mtu(std::string_view output) {
  for (const std::string_view marker : {"mtu = ", "mtu="}) {
    const std::size_t at = output.find(marker);
    if (at == std::string_view::npos) {
      continue;
    }
    std::size_t end = at + marker.size();
    while (end < output.size() && std::isdigit(static_cast<unsigned char>(output[end])) != 0) {
      ++end;
    }
    const auto value =
        parse_number(output.substr(at + marker.size(), end - at - marker.size()), 1 << 20);
    if (value) {
      return static_cast<int>(*value);
    }
  }
  return std::nullopt;
}

namespace {

bool ping_not_permitted(const CommandOutput& output) {
  const std::string text = ascii_lower(output.out + output.err);
  return text.find("operation not permitted") != std::string::npos ||
         text.find("permission denied") != std::string::npos;
}

}  // namespace

core::Check check_mtu(const LocalSystem& sys, const std::string& ip) {
  core::Check check = node_check("node.mtu");
  check.endpoint = ip;
  check.details = {{"target", ip}};
  const std::optional<CommandOutput> ran =
      run_installed(sys, check, {"ip", "-j", "route", "get", ip}, "iproute2",
                    "cannot find the route to the server");
  if (!ran) {
    return check;
  }
  const CommandOutput& routeOut = *ran;
  if (routeOut.exitCode != 0) {
    set(check, core::CheckStatus::warn,
        "no route: " + command_failure("ip route get " + ip, routeOut),
        "add a route to the API server's address (ip route), or fix the kubeconfig's server");
    return check;
  }
  core::Result<RouteInfo> route = parse_ip_route_get(routeOut.out);
  if (!route) {
    set(check, core::CheckStatus::skip, route.error().message);
    return check;
  }
  check.details["dev"] = route->dev;
  if (route->type == "local") {
    set(check, core::CheckStatus::ok,
        "an address of this machine (dev " + route->dev + "): no path MTU to probe");
    return check;
  }
  int devMtu = 0;
  const std::string mtuFile = join_path(sys.rootDir, "sys/class/net/" + route->dev + "/mtu");
  if (core::Result<std::string> text = sys.readFile(mtuFile); text) {
    devMtu = static_cast<int>(parse_number(core::trim(*text), 1 << 20).value_or(0));
  }
  check.details["interfaceMtu"] = devMtu;
  int localMtu = devMtu;
  if (route->mtu > 0 && !route->learned) {
    check.details["routeMtu"] = route->mtu;
    localMtu = localMtu == 0 ? route->mtu : std::min(localMtu, route->mtu);
  }
  if (route->learned) {
    check.details["learnedPathMtu"] = route->mtu;
  }
  if (localMtu <= 0) {
    set(check, core::CheckStatus::skip,
        "cannot read the MTU of " + route->dev + " (" + mtuFile + "): path MTU not probed");
    return check;
  }
  const bool v6 = ip.find(':') != std::string::npos;
  const int headers = v6 ? 48 : 28;
  const int probe = localMtu - headers;
  // Two echo requests 0.2 s apart, so one lost packet is not a finding; ping's own 2 s wait
  // plus a second of grace is the deadline.
  const std::chrono::milliseconds pingTimeout = kCommandTimeout + std::chrono::seconds(1);
  const auto pingArgv = [&ip](int size) -> std::vector<std::string> {
    return {"ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", std::to_string(size),
            ip};
  };
  const auto ping = [&](int size) { return sys.run(pingArgv(size), pingTimeout); };
  const std::optional<CommandOutput> pinged =
      run_installed(sys, check, pingArgv(56), "iputils-ping", "path MTU not probed", pingTimeout);
  if (!pinged) {
    return check;
  }
  const CommandOutput& small = *pinged;
  if (small.exitCode != 0 && ping_not_permitted(small)) {
    set(check, core::CheckStatus::skip,
        "ping is not permitted here (" + first_line(small.err.empty() ? small.out : small.err) +
            "): run as root or allow ICMP sockets (net.ipv4.ping_group_range) to probe the "
            "path MTU");
    return check;
  }
  if (small.exitCode != 0) {
    const std::string why = first_line(small.err);
    set(check, core::CheckStatus::skip,
        "no answer to a 56-byte ping" + (why.empty() ? "" : " (" + why + ")") +
            ": ICMP may be filtered; path MTU not probed");
    return check;
  }
  check.details["probeBytes"] = probe;
  const CommandOutput large = ping(probe);
  const std::string via =
      "dev " + route->dev + " mtu " + std::to_string(devMtu) +
      (check.details.contains("routeMtu") ? ", route mtu " + std::to_string(route->mtu)
                                          : std::string());
  const std::string sizes = "56-byte pings are answered, but a don't-fragment ping of " +
                            std::to_string(probe) + " bytes";
  if (large.exitCode == 0) {
    set(check, core::CheckStatus::ok,
        "path MTU is at least " + std::to_string(localMtu) + ": a don't-fragment ping of " +
            std::to_string(probe) + " bytes is answered (" + via + ")");
    return check;
  }
  const std::optional<int> reported = parse_ping_mtu(large.out + "\n" + large.err);
  const std::optional<int> pathMtu =
      reported ? reported : (route->learned ? std::optional<int>(route->mtu) : std::nullopt);
  if (pathMtu) {
    check.details["pathMtu"] = *pathMtu;
    set(check, core::CheckStatus::fail,
        "path MTU below interface MTU: " + sizes + " is not; the path MTU is " +
            std::to_string(*pathMtu) + " (" + via + ")",
        "set the MTU of " + route->dev + " (or of the CNI/overlay) to " + std::to_string(*pathMtu) +
            " or less; otherwise large TLS records to the API server depend on ICMP "
            "'fragmentation needed' getting through");
    return check;
  }
  set(check, core::CheckStatus::fail,
      "path MTU below interface MTU: " + sizes + " gets no answer and no 'fragmentation needed' (" +
          via + ")",
      "a hop drops large packets silently (a PMTU black hole): lower the MTU of " + route->dev +
          " (or of the CNI/overlay) until ping -M do -s SIZE " + ip +
          " passes, or let ICMP 'fragmentation needed' through");
  return check;
}

}  // namespace kp::netdebug
