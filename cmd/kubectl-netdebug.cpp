// kubectl-netdebug: parse nothing here; the plugin owns its flags and its work.
#include "netdebug/netdebug.h"

int main(int argc, char** argv) {
  return kp::netdebug::main(argc, argv);
}
