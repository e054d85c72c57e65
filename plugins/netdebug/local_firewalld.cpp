// node.firewalld: firewall-cmd's state and the default zone's ports and services.
#include "core/util/text.h"
#include "netdebug/local.h"
#include "netdebug/local_detail.h"

namespace kp::netdebug {

using detail::command_failure;
using detail::first_line;
using detail::node_check;
using detail::port_in_range;
using detail::set;
using detail::words;

core::Check check_firewalld(const LocalSystem& sys, int port) {
  core::Check check = node_check("node.firewalld");
  const std::string target = std::to_string(port) + "/tcp";
  const CommandOutput state = sys.run({"firewall-cmd", "--state"}, kCommandTimeout);
  if (state.notFound) {
    set(check, core::CheckStatus::skip, "firewall-cmd is not installed: firewalld is not in use");
    return check;
  }
  const std::string stateText = first_line(state.out + state.err);
  if (state.exitCode != 0 || stateText != "running") {
    if (stateText.find("not running") != std::string::npos) {
      set(check, core::CheckStatus::ok, "firewalld is not running");
    } else {
      set(check, core::CheckStatus::skip, command_failure("firewall-cmd --state", state));
    }
    return check;
  }
  const CommandOutput zone = sys.run({"firewall-cmd", "--get-default-zone"}, kCommandTimeout);
  const CommandOutput ports = sys.run({"firewall-cmd", "--list-ports"}, kCommandTimeout);
  const CommandOutput services = sys.run({"firewall-cmd", "--list-services"}, kCommandTimeout);
  const std::string zoneName = zone.exitCode == 0 ? first_line(zone.out) : "default";
  if (ports.exitCode != 0 || services.exitCode != 0) {
    set(check, core::CheckStatus::skip,
        "firewalld is running, but " +
            (ports.exitCode != 0 ? command_failure("firewall-cmd --list-ports", ports)
                                 : command_failure("firewall-cmd --list-services", services)));
    return check;
  }
  check.details = {
      {"zone", zoneName}, {"ports", words(ports.out)}, {"services", words(services.out)}};
  for (const std::string& entry : words(ports.out)) {
    const std::size_t slash = entry.find('/');
    if (slash != std::string::npos && entry.substr(slash + 1) == "tcp" &&
        port_in_range(entry.substr(0, slash), port).value_or(false)) {
      set(check, core::CheckStatus::ok,
          "firewalld is running; zone " + zoneName + " opens " + entry);
      return check;
    }
  }
  for (const std::string& service : words(services.out)) {
    if (port == 6443 && (service == "kube-apiserver" || service == "kube-control-plane" ||
                         service == "kube-control-plane-secure")) {
      set(check, core::CheckStatus::ok,
          "firewalld is running; zone " + zoneName + " has the " + service + " service (" + target +
              ")");
      return check;
    }
  }
  set(check, core::CheckStatus::warn,
      "firewalld is running and zone " + zoneName + " opens neither " + target +
          " nor the kube-apiserver service (ports: " +
          (words(ports.out).empty() ? std::string("none") : core::join(words(ports.out), " ")) +
          "; services: " +
          (words(services.out).empty() ? std::string("none")
                                       : core::join(words(services.out), " ")) +
          ")",
      "firewall-cmd --permanent --add-port=" + target +
          " && firewall-cmd --reload (or the "
          "zone of the interface clients come through: firewall-cmd --get-active-zones)");
  return check;
}

}  // namespace kp::netdebug
