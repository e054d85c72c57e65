// Test support: a TLS server for LoopbackServer's connections, an OpenSSL server as the API
// server would run it (a leaf and its chain, ALPN, a maximum version, client certificates),
// recording what it saw of the client.
//   LoopbackServer server([&](int fd, const std::atomic<bool>&) { serve_tls(fd, config, seen); });
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "core/net/x509.h"
#include "test_support_certs.h"

namespace kp::testsupport {

using kp::core::Certificate;
using kp::testcerts::Issued;

struct TlsServerConfig {
  const Issued* leaf = nullptr;
  std::vector<Certificate> extraChain;  // sent after the leaf
  std::vector<std::string> alpn;        // server preference; empty = no ALPN
  int maxVersion = 0;                   // e.g. TLS1_2_VERSION; 0 = library default
  std::vector<Certificate> clientCas;   // non-empty: request a client certificate
  bool requireClientCert = false;
};

// What the server saw, for assertions on the test thread after join().
struct TlsServerSeen {
  std::atomic<bool> handshakeOk{false};
  std::atomic<bool> gotClientCert{false};
  std::atomic<bool> gotSni{false};
  std::string sni;  // written before handshakeOk is set, read after join()
};

// Serves one TLS connection on `fd` with `config`: the handshake, then waits for the client's
// close_notify (or its close) and answers it.
void serve_tls(int fd, const TlsServerConfig& config, TlsServerSeen& seen);

}  // namespace kp::testsupport
