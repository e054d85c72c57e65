#include "netdebug/netdebug.h"

#include <array>
#include <iostream>

#include "netdebug/local.h"
#include "netdebug/run.h"

namespace kp::netdebug {

std::span<const core::Subcommand> commands() {
  static const std::array<core::Subcommand, 4> kCommands{{
      {"run", "Run the in-cluster checks from a netshoot pod on one node or every node",
       run_command},
      {"shell", "Open an interactive netshoot shell on a node", shell_command},
      {"local", "Run the node-local checks on this machine", local_command},
      {"cleanup", "Delete pods left behind by earlier runs", cleanup_command},
  }};
  return kCommands;
}

int main(int argc, char** argv) {
  return core::subcommand_main(
      "netdebug",
      "Check the path to the Kubernetes API server from inside the cluster: DNS, the service IP, "
      "every API-server endpoint, routes and resolv.conf.",
      commands(), argc, argv);
}

}  // namespace kp::netdebug
