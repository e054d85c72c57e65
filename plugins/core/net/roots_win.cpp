// The Windows ROOT store into an OpenSSL store. <windows.h> and <wincrypt.h> come first: OpenSSL
// then undoes the names wincrypt.h defines that clash with its own (X509_NAME...).
// clang-format off
#include <windows.h>
#include <wincrypt.h>
// clang-format on

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "core/net/x509.h"

namespace kp::core {

void add_system_roots(X509_STORE* store) {
  // CertOpenSystemStore(ROOT): the roots of the user and the machine, as Go's crypto/x509
  // verifies against on Windows (there through CertGetCertificateChain).
  HCERTSTORE roots = ::CertOpenSystemStoreA(0, "ROOT");
  if (roots == nullptr) {
    return;
  }
  const CERT_CONTEXT* cert = nullptr;
  while ((cert = ::CertEnumCertificatesInStore(roots, cert)) != nullptr) {
    const unsigned char* der = cert->pbCertEncoded;
    X509* x509 = d2i_X509(nullptr, &der, static_cast<long>(cert->cbCertEncoded));
    if (x509 != nullptr) {
      X509_STORE_add_cert(store, x509);  // a duplicate is refused, harmlessly
      X509_free(x509);
    }
  }
  ERR_clear_error();
  ::CertCloseStore(roots, 0);
}

}  // namespace kp::core
