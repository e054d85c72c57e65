// kubectl-apicheck: parse nothing here; the plugin owns its flags and its work. Called as
// kubectl_complete-apicheck (kubectl's completion helper), it answers completion
// (core/cli/helper.h).
#include "apicheck/apicheck.h"
#include "core/cli/helper.h"

int main(int argc, char** argv) {
  return kp::core::plugin_main("apicheck", argc, argv, kp::apicheck::main);
}
