#include <openssl/x509_vfy.h>

#include "core/net/x509.h"

namespace kp::core {

void add_system_roots(X509_STORE* store) {
  X509_STORE_set_default_paths(store);
}

}  // namespace kp::core
