// kubectl-apicheck: parse nothing here; the plugin owns its flags and its work.
#include "apicheck/apicheck.h"

int main(int argc, char** argv) {
  return kp::apicheck::main(argc, argv);
}
