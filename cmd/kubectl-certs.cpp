// kubectl-certs: parse nothing here; the plugin owns its flags and its work.
#include "certs/certs.h"

int main(int argc, char** argv) {
  return kp::certs::main(argc, argv);
}
