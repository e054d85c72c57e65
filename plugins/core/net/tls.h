// A diagnostic TLS client handshake: it reports everything (version, cipher, ALPN, the chain as
// served, whether a client certificate was asked for) even when verification fails, and then
// verifies the chain and the name itself so the report can say which step broke and why.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/net/x509.h"
#include "core/util/result.h"

namespace kp::core {

struct TlsProbeOptions {
  // SNI (omitted for IP literals, as Go does) and the name checked against the SANs.
  std::string serverName;
  std::string caPem;  // roots; empty = the system trust store
  std::vector<std::string> alpn{"h2", "http/1.1"};
  std::chrono::milliseconds timeout{5000};  // the whole handshake
};

struct TlsProbe {
  std::string version;  // "TLSv1.3", "TLSv1.2", ...
  std::string cipher;   // the IANA name Go also prints, "TLS_AES_128_GCM_SHA256"
  std::string alpn;     // negotiated, "" if none
  bool clientCertRequested = false;
  std::vector<std::string> acceptableClientCaNames;  // from CertificateRequest, RFC 2253 lines
  std::vector<Certificate> chain;                    // as served, leaf first
  VerifyOutcome verify;  // chain against caPem, purpose serverAuth, at the local clock
  bool nameMatches = false;
  std::string nameChecked;   // = serverName
  std::string nameMismatch;  // host_mismatch_message(), "" when it matches
  double handshakeMs = 0;
};

enum class TlsFailure { timeout, notTls, alert, closed, other };

// Messages: notTls "the server answered in plain HTTP, not TLS" (or "the server did not answer
// with TLS (it sent \"SSH-2.0-OpenSSH_9.2\")"), alert "tlsv1 alert handshake failure" (OpenSSL's
// reason), closed "the server closed the connection during the handshake" / "the connection was
// reset during the handshake", timeout "the server accepted the connection but sent nothing
// within 500ms" / "the TLS handshake did not complete within 500ms".
struct TlsError {
  TlsFailure kind = TlsFailure::other;
  std::string message;
  double ms = 0;  // time spent before failing
};

// Runs a TLS client handshake on an already-connected socket `fd` (not owned: the caller closes
// it; its blocking mode is restored). The handshake itself does not verify (SSL_VERIFY_NONE) so
// the chain is captured even when it is bad; verification is then verify_chain() and
// certificate_matches_host() against serverName. Never presents a client certificate: the
// client-certificate callback only records that the server asked, and which CAs it accepts.
// Legacy versions and ciphers are allowed so an old server is described rather than refused;
// judging `version` is the caller's job. Non-blocking I/O with poll() enforces the deadline.
// Sends no application data and ends with close_notify.
Result<TlsProbe, TlsError> probe_tls(int fd, const TlsProbeOptions& options);

}  // namespace kp::core
