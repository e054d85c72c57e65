#include "core/net/tls.h"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/net/net_detail.h"
#include "core/net/socket.h"
#include "core/util/owned.h"
#include "core/util/text.h"

namespace kp::core {
namespace {

using SslCtxDeleter = FreeWith<SSL_CTX_free>;
using SslDeleter = FreeWith<SSL_free>;  // also frees its BIOs
using BioDeleter = FreeWith<BIO_free>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

using Clock = std::chrono::steady_clock;

// Puts the caller's socket in non-blocking mode for the probe and restores its mode after.
#ifdef _WIN32
// Winsock cannot tell a socket's mode: every socket the core hands out is blocking
// (connect_tcp, the proxy tunnels), so that is the mode restored.
class NonBlockingScope {
 public:
  explicit NonBlockingScope(int fd) : fd_(fd) { sock::set_nonblocking(fd_, true); }
  ~NonBlockingScope() { sock::set_nonblocking(fd_, false); }
  NonBlockingScope(const NonBlockingScope&) = delete;
  NonBlockingScope& operator=(const NonBlockingScope&) = delete;

 private:
  int fd_;
};
#else
class NonBlockingScope {
 public:
  explicit NonBlockingScope(int fd) : fd_(fd), flags_(fcntl(fd, F_GETFL)) {
    if (flags_ != -1 && (flags_ & O_NONBLOCK) == 0) {
      fcntl(fd_, F_SETFL, flags_ | O_NONBLOCK);
    }
  }
  ~NonBlockingScope() {
    if (flags_ != -1 && (flags_ & O_NONBLOCK) == 0) {
      fcntl(fd_, F_SETFL, flags_);
    }
  }
  NonBlockingScope(const NonBlockingScope&) = delete;
  NonBlockingScope& operator=(const NonBlockingScope&) = delete;

 private:
  int fd_;
  int flags_;
};
#endif

// What the client-certificate callback saw; reached through SSL_get_app_data.
struct ClientCertRequest {
  bool requested = false;
  std::vector<std::string> caNames;
};

std::string name_oneline(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) {
    return "";
  }
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

// Records the request and declines: a probe never authenticates, so no credential can reach a
// server whose certificate has not been verified yet (../shared/DESIGN.md rules).
int on_client_cert(SSL* ssl, X509** cert, EVP_PKEY** key) {
  auto* request = static_cast<ClientCertRequest*>(SSL_get_app_data(ssl));
  request->requested = true;
  request->caNames.clear();
  if (const STACK_OF(X509_NAME)* names = SSL_get_client_CA_list(ssl); names != nullptr) {
    for (int i = 0; i < sk_X509_NAME_num(names); ++i) {
      request->caNames.push_back(name_oneline(sk_X509_NAME_value(names, i)));
    }
  }
  *cert = nullptr;
  *key = nullptr;
  return 0;
}

// Go sends no SNI for an IP literal (RFC 6066 forbids it).
bool is_ip(const std::string& host) {
  std::array<unsigned char, 16> bytes{};
  return inet_pton(AF_INET, host.c_str(), bytes.data()) == 1 ||
         inet_pton(AF_INET6, host.c_str(), bytes.data()) == 1;
}

std::string alpn_wire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& protocol : protocols) {
    if (!protocol.empty() && protocol.size() <= 255) {
      wire.push_back(static_cast<char>(protocol.size()));
      wire += protocol;
    }
  }
  return wire;
}

enum class Wait { ready, timeout, error };

Wait wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return Wait::timeout;
    }
    pollfd entry = sock::poll_entry(fd, events);
    const int ready = sock::poll(&entry, 1, static_cast<int>(left));
    if (ready > 0) {
      return Wait::ready;  // including POLLERR/POLLHUP: the next recv/send says what happened
    }
    if (ready < 0 && errno != EINTR) {
      return Wait::error;
    }
  }
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A TLS record starts with a content type (20..23) and major version 3.
bool looks_like_tls(std::string_view bytes) {
  if (bytes.empty()) {
    return true;
  }
  const auto type = static_cast<unsigned char>(bytes[0]);
  if (type < 20 || type > 23) {
    return false;
  }
  return bytes.size() < 2 || bytes[1] == 3;
}

// The socket side of the memory-BIO handshake.
class Transport {
 public:
  Transport(int fd, BIO* rbio, BIO* wbio, Clock::time_point deadline)
      : fd_(fd), rbio_(rbio), wbio_(wbio), deadline_(deadline) {
    detail::no_sigpipe(fd_);
  }

  // Sends whatever OpenSSL queued. False on timeout or a dead connection.
  bool flush() {
    std::array<char, 16384> buffer{};
    while (BIO_ctrl_pending(wbio_) > 0) {
      const int size = BIO_read(wbio_, buffer.data(), static_cast<int>(buffer.size()));
      if (size <= 0) {
        return true;
      }
      std::size_t sent = 0;
      while (sent < static_cast<std::size_t>(size)) {
        // kNoSigPipe: a peer that already closed must not kill the process with SIGPIPE.
        const long n = sock::send(fd_, buffer.data() + sent, static_cast<std::size_t>(size) - sent,
                                  detail::kNoSigPipe);
        if (n > 0) {
          sent += static_cast<std::size_t>(n);
          continue;
        }
        if (n < 0 && retry_after_wait(POLLOUT)) {
          continue;
        }
        if (!timedOut) {
          noteSocketError(n < 0 ? errno : EPIPE);
        }
        return false;
      }
    }
    return true;
  }

  // Moves what the socket has into OpenSSL. False on timeout, end of stream or an error.
  bool fill() {
    std::array<char, 16384> buffer{};
    while (true) {
      const long n = sock::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n > 0) {
        BIO_write(rbio_, buffer.data(), static_cast<int>(n));
        if (firstBytes.size() < 64) {
          firstBytes.append(buffer.data(), std::min<std::size_t>(static_cast<std::size_t>(n),
                                                                 64 - firstBytes.size()));
        }
        received += static_cast<std::size_t>(n);
        return true;
      }
      if (n == 0) {
        peerClosed = true;
        BIO_set_mem_eof_return(rbio_, 0);  // now an empty BIO means end of stream to OpenSSL
        return false;
      }
      if (retry_after_wait(POLLIN)) {
        continue;
      }
      if (!timedOut) {
        noteSocketError(errno);
      }
      return false;
    }
  }

  bool timedOut = false;
  bool peerClosed = false;
  bool reset = false;
  int socketError = 0;
  std::size_t received = 0;
  std::string firstBytes;  // the first bytes the server sent, to recognise non-TLS servers

 private:
  // After a send or recv that failed: when it only would have blocked (errno EAGAIN,
  // EWOULDBLOCK or EINTR), waits for `events` until the deadline. True to try again; false
  // when the deadline passed (timedOut is then set) or the socket failed (errno says how).
  bool retry_after_wait(short events) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return false;
    }
    const Wait wait = wait_for(fd_, events, deadline_);
    timedOut = wait == Wait::timeout;
    return wait == Wait::ready;
  }

  void noteSocketError(int error) {
    socketError = error;
    if (error == ECONNRESET || error == EPIPE) {
      reset = true;
    }
  }

  int fd_;
  BIO* rbio_;
  BIO* wbio_;
  Clock::time_point deadline_;
};

TlsError classify_failure(const Transport& transport, unsigned long sslError,
                          const TlsProbeOptions& options, double ms) {
  TlsError error;
  error.ms = ms;
  if (!looks_like_tls(transport.firstBytes)) {
    error.kind = TlsFailure::notTls;
    error.message = transport.firstBytes.starts_with("HTTP/")
                        ? "the server answered in plain HTTP, not TLS"
                        : "the server did not answer with TLS (it sent " +
                              quote_bytes(transport.firstBytes, 24) + ")";
    return error;
  }
  // Alerts the peer sent are reported by OpenSSL as reason SSL_AD_REASON_OFFSET + description.
  if (sslError != 0 && ERR_GET_LIB(sslError) == ERR_LIB_SSL &&
      ERR_GET_REASON(sslError) >= SSL_AD_REASON_OFFSET) {
    const char* reason = ERR_reason_error_string(sslError);
    error.kind = TlsFailure::alert;
    error.message = reason != nullptr ? reason : "the server sent a TLS alert";
    return error;
  }
  if (transport.timedOut) {
    error.kind = TlsFailure::timeout;
    const std::string within = std::to_string(options.timeout.count()) + "ms";
    error.message = transport.received == 0
                        ? "the server accepted the connection but sent nothing within " + within
                        : "the TLS handshake did not complete within " + within;
    return error;
  }
  if (transport.reset) {
    error.kind = TlsFailure::closed;
    error.message = "the connection was reset during the handshake";
    return error;
  }
  if (transport.peerClosed) {
    error.kind = TlsFailure::closed;
    error.message = "the server closed the connection during the handshake";
    return error;
  }
  error.kind = TlsFailure::other;
  if (transport.socketError != 0) {
    error.message = std::string("socket error: ") + std::strerror(transport.socketError);
  } else if (const char* reason = sslError != 0 ? ERR_reason_error_string(sslError) : nullptr;
             reason != nullptr) {
    error.message = reason;
  } else {
    error.message = "TLS handshake failed";
  }
  return error;
}

}  // namespace

Result<TlsProbe, TlsError> probe_tls(int fd, const TlsProbeOptions& options) {
  const auto start = Clock::now();
  const auto deadline = start + options.timeout;
  auto setup_error = [&](std::string what) {
    return TlsError{TlsFailure::other, std::move(what), ms_since(start)};
  };

  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    return setup_error("cannot create a TLS context");
  }
  // Describe rather than refuse: a server speaking TLS 1.0 or using a 1024-bit key still gets
  // its version and chain reported; verify_chain() and the caller judge them.
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_client_cert_cb(ctx.get(), on_client_cert);

  SslPtr ssl(SSL_new(ctx.get()));
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (!ssl || rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    return setup_error("cannot create a TLS session");
  }
  // Memory BIOs: we move the bytes ourselves, so we see what a non-TLS server sent and own
  // every wait (poll with the deadline).
  BIO_set_mem_eof_return(rbio, -1);    // empty = "try again" until the socket reports EOF
  SSL_set_bio(ssl.get(), rbio, wbio);  // the SSL owns both BIOs from here on
  SSL_set_connect_state(ssl.get());

  if (!options.serverName.empty() && !is_ip(options.serverName)) {
    SSL_set_tlsext_host_name(ssl.get(), options.serverName.c_str());
  }
  const std::string alpn = alpn_wire(options.alpn);
  if (!alpn.empty()) {
    SSL_set_alpn_protos(ssl.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                        static_cast<unsigned>(alpn.size()));
  }
  ClientCertRequest request;
  SSL_set_app_data(ssl.get(), &request);

  NonBlockingScope nonBlocking(fd);
  Transport transport(fd, rbio, wbio, deadline);
  while (true) {
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl.get());
    const int sslError = SSL_get_error(ssl.get(), result);
    const unsigned long errorCode = ERR_peek_error();
    const bool flushed = transport.flush();
    if (result == 1) {
      break;  // our last flight is out (or the server is gone, which it may tell us later)
    }
    if (!flushed) {
      ERR_clear_error();
      return classify_failure(transport, errorCode, options, ms_since(start));
    }
    if (sslError == SSL_ERROR_WANT_READ) {
      if (transport.peerClosed) {  // OpenSSL had its turn at the end of the stream
        ERR_clear_error();
        return classify_failure(transport, errorCode, options, ms_since(start));
      }
      if (!transport.fill() && !transport.peerClosed) {
        ERR_clear_error();
        return classify_failure(transport, 0, options, ms_since(start));
      }
      continue;  // on EOF OpenSSL gets one more turn to report what it makes of it
    }
    ERR_clear_error();
    return classify_failure(transport, errorCode, options, ms_since(start));
  }

  TlsProbe probe;
  probe.handshakeMs = ms_since(start);
  probe.version = SSL_get_version(ssl.get());
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl.get()); cipher != nullptr) {
    const char* name = SSL_CIPHER_standard_name(cipher);
    probe.cipher = name != nullptr ? name : SSL_CIPHER_get_name(cipher);
  }
  const unsigned char* selected = nullptr;
  unsigned selectedSize = 0;
  SSL_get0_alpn_selected(ssl.get(), &selected, &selectedSize);
  if (selected != nullptr) {
    probe.alpn.assign(reinterpret_cast<const char*>(selected), selectedSize);
  }
  probe.clientCertRequested = request.requested;
  probe.acceptableClientCaNames = request.caNames;
  // On the client side this stack holds the leaf too, in the order the server sent it.
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get()); chain != nullptr) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      probe.chain.push_back(Certificate::share(sk_X509_value(chain, i)));
    }
  }

  // close_notify, best effort: the handshake result is already known.
  SSL_shutdown(ssl.get());
  transport.flush();
  ERR_clear_error();

  std::vector<Certificate> roots;
  std::string rootsProblem;
  if (!options.caPem.empty()) {
    auto parsed = parse_certificates(options.caPem);
    if (parsed) {
      roots = std::move(parsed->certs);
    } else {
      rootsProblem = "the CA bundle is unusable: " + parsed.error().message;
    }
  }
  if (probe.chain.empty()) {
    rootsProblem = "the server sent no certificate";
  }
  if (rootsProblem.empty()) {
    const std::vector<Certificate> intermediates(probe.chain.begin() + 1, probe.chain.end());
    probe.verify = verify_chain(probe.chain.front(), intermediates, roots, 0, "serverAuth");
  } else {
    probe.verify.failure = VerifyFailure::other;
    probe.verify.reason = rootsProblem;
    probe.verify.problems.push_back(VerifyProblem{VerifyFailure::other, 0, 0, rootsProblem});
  }

  probe.nameChecked = options.serverName;
  if (probe.chain.empty()) {
    probe.nameMismatch = "the server sent no certificate";
  } else if (options.serverName.empty()) {
    probe.nameMismatch = "no server name to check";
  } else {
    probe.nameMatches = certificate_matches_host(probe.chain.front(), options.serverName);
    probe.nameMismatch =
        probe.nameMatches ? "" : host_mismatch_message(probe.chain.front(), options.serverName);
  }
  return probe;
}

}  // namespace kp::core
