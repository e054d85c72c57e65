// kubectl-certs: parse nothing here; the plugin owns its flags and its work. Called as
// kubectl_complete-certs (kubectl's completion helper), it answers completion (core/cli/helper.h).
#include "certs/certs.h"
#include "core/cli/helper.h"

int main(int argc, char** argv) {
  return kp::core::plugin_main("certs", argc, argv, kp::certs::main);
}
