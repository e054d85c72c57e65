// kubectl-netdebug: parse nothing here; the plugin owns its flags and its work. Called as
// kubectl_complete-netdebug (kubectl's completion helper), it answers completion
// (core/cli/helper.h).
#include "core/cli/helper.h"
#include "netdebug/netdebug.h"

int main(int argc, char** argv) {
  return kp::core::plugin_main("netdebug", argc, argv, kp::netdebug::main);
}
