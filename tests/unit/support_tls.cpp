#include "support_tls.h"

#include <memory>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/util/owned.h"

namespace kp::testsupport {
namespace {

using SslCtxPtr = kp::core::Owned<SSL_CTX, SSL_CTX_free>;
using SslPtr = kp::core::Owned<SSL, SSL_free>;

int alpn_select(SSL*, const unsigned char** out, unsigned char* outSize, const unsigned char* in,
                unsigned inSize, void* arg) {
  const auto* wire = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(
          &selected, outSize, reinterpret_cast<const unsigned char*>(wire->data()),
          static_cast<unsigned>(wire->size()), in, inSize) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int accept_any_client_cert(int, X509_STORE_CTX*) {
  return 1;
}

std::string alpn_wire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& protocol : protocols) {
    wire += static_cast<char>(protocol.size());
    wire += protocol;
  }
  return wire;
}

}  // namespace

// An OpenSSL server on the accepted socket, as the API server would run it.
void serve_tls(int fd, const TlsServerConfig& config, TlsServerSeen& seen) {
  const std::string alpnWire = alpn_wire(config.alpn);
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_use_certificate(ctx.get(), config.leaf->cert.native());
  SSL_CTX_use_PrivateKey(ctx.get(), config.leaf->key.native());
  for (const auto& cert : config.extraChain) {
    SSL_CTX_add1_chain_cert(ctx.get(), cert.native());
  }
  if (config.maxVersion != 0) {
    SSL_CTX_set_max_proto_version(ctx.get(), config.maxVersion);
  }
  if (!alpnWire.empty()) {
    SSL_CTX_set_alpn_select_cb(ctx.get(), alpn_select, const_cast<std::string*>(&alpnWire));
  }
  if (!config.clientCas.empty()) {
    for (const auto& ca : config.clientCas) {
      SSL_CTX_add_client_CA(ctx.get(), ca.native());
    }
    SSL_CTX_set_verify(
        ctx.get(),
        SSL_VERIFY_PEER | (config.requireClientCert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
        accept_any_client_cert);
  }
  SslPtr ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  if (SSL_accept(ssl.get()) == 1) {
    if (const char* name = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name)) {
      seen.sni = name;
      seen.gotSni = true;
    }
    X509* peer = SSL_get1_peer_certificate(ssl.get());
    seen.gotClientCert = peer != nullptr;
    X509_free(peer);
    seen.handshakeOk = true;
    // Wait for the client's close_notify (or its close), then answer it.
    char byte = 0;
    SSL_read(ssl.get(), &byte, 1);
    SSL_shutdown(ssl.get());
  }
  ERR_clear_error();
}

}  // namespace kp::testsupport
