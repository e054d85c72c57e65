// Chain verification that explains its failures: every problem OpenSSL finds, described with
// the certificate it concerns, ordered as Go reports them; and the one-step issued_by check.
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "core/net/x509.h"
#include "core/net/x509_detail.h"
#include "core/util/text.h"

namespace kp::core {

using namespace detail;

namespace {

// Go refuses these for any certificate whose signature it checks (all but the trust anchor).
bool insecure_hash(std::string_view hash) {
  return hash == "SHA1" || hash == "MD5" || hash == "MD4" || hash == "MD2";
}

VerifyFailure classify_verify_error(int code) {
  static constexpr std::pair<int, VerifyFailure> kFailures[] = {
      {X509_V_OK, VerifyFailure::none},
      {X509_V_ERR_CERT_HAS_EXPIRED, VerifyFailure::expired},
      {X509_V_ERR_CERT_NOT_YET_VALID, VerifyFailure::notYetValid},
      {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, VerifyFailure::unknownAuthority},
      {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, VerifyFailure::unknownAuthority},
      {X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, VerifyFailure::unknownAuthority},
      {X509_V_ERR_CERT_UNTRUSTED, VerifyFailure::unknownAuthority},
      {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, VerifyFailure::selfSigned},
      {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, VerifyFailure::selfSigned},
      {X509_V_ERR_CERT_SIGNATURE_FAILURE, VerifyFailure::badSignature},
      {X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE, VerifyFailure::badSignature},
      {X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, VerifyFailure::badSignature},
      {X509_V_ERR_CA_MD_TOO_WEAK, VerifyFailure::badSignature},
      {X509_V_ERR_INVALID_CA, VerifyFailure::notCA},
      {X509_V_ERR_PATH_LENGTH_EXCEEDED, VerifyFailure::notCA},
      {X509_V_ERR_KEYUSAGE_NO_CERTSIGN, VerifyFailure::notCA},
      {X509_V_ERR_INVALID_PURPOSE, VerifyFailure::purpose}};
  return mapped(kFailures, code, VerifyFailure::other);
}

// The system trust store, loaded once: reading the distribution bundle (~150 roots) per call
// would cost milliseconds for every certificate `kubectl certs` verifies. X509_STORE is
// reference-counted and locks its own lookups, so verifications on any thread can share it.
X509_STORE* system_store() {
  static const StorePtr store = [] {
    StorePtr s(X509_STORE_new());
    if (s) {
      add_system_roots(s.get());
    }
    ERR_clear_error();  // a missing default path is not an error: the store is just empty
    return s;
  }();
  return store.get();
}

}  // namespace

std::string system_roots_note() {
#ifdef __APPLE__
  const char* file = std::getenv(X509_get_default_cert_file_env());
  return std::string(" (") +
         (file != nullptr && *file != '\0' ? file : X509_get_default_cert_file()) + ")";
#elif defined(_WIN32)
  return " (the Windows ROOT certificate store)";  // add_system_roots(), roots_win.cpp
#else
  return "";
#endif
}

namespace {

struct VerifyState {
  std::string purpose;
  std::vector<VerifyProblem> problems;
};

VerifyProblem describe_problem(int code, int depth, X509* cert, const VerifyState& state) {
  VerifyProblem problem;
  problem.failure = classify_verify_error(code);
  problem.opensslCode = code;
  problem.depth = depth;
  problem.reason = X509_verify_cert_error_string(code);
  if (cert == nullptr) {
    return problem;
  }
  const std::string subject = name_oneline(X509_get_subject_name(cert));
  // The leaf is obvious from depth 0; deeper certificates are named.
  const std::string who = depth > 0 ? ", subject " + subject : "";
  switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      problem.reason +=
          " (notAfter " + rfc3339(asn1_time_unix(X509_get0_notAfter(cert))) + who + ")";
      break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      problem.reason +=
          " (notBefore " + rfc3339(asn1_time_unix(X509_get0_notBefore(cert))) + who + ")";
      break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      problem.reason += " (issuer " + name_oneline(X509_get_issuer_name(cert)) + ")";
      break;
    case X509_V_ERR_INVALID_PURPOSE: {
      const auto eku = ext_key_usage(cert);
      problem.reason += " (wanted " + state.purpose + ", subject " + subject + " has extKeyUsage " +
                        (eku.empty() ? std::string("none") : join(eku, ", ")) + ")";
      break;
    }
    default:
      problem.reason += " (subject " + subject + ")";
  }
  return problem;
}

// Called by OpenSSL for each problem; returning 1 goes on so every problem is collected.
int on_verify(int ok, X509_STORE_CTX* ctx) {
  if (ok == 1) {
    return 1;
  }
  auto* state = static_cast<VerifyState*>(X509_STORE_CTX_get_app_data(ctx));
  const int code = X509_STORE_CTX_get_error(ctx);
  const int depth = X509_STORE_CTX_get_error_depth(ctx);
  VerifyProblem problem =
      describe_problem(code, depth, X509_STORE_CTX_get_current_cert(ctx), *state);
  // OpenSSL reports a missing issuer twice (while building, then "unable to verify the first
  // certificate"); one per kind and depth is the useful amount.
  const bool seen = std::any_of(state->problems.begin(), state->problems.end(), [&](const auto& p) {
    return p.failure == problem.failure && p.depth == problem.depth;
  });
  if (!seen) {
    state->problems.push_back(std::move(problem));
  }
  return 1;
}

}  // namespace

// ---- verification ----

bool issued_by(const Certificate& cert, const Certificate& issuer) {
  if (!cert || !issuer) {
    return false;
  }
  bool ok = X509_check_issued(issuer.native(), cert.native()) == X509_V_OK;
  if (ok) {
    EVP_PKEY* issuerKey = X509_get0_pubkey(issuer.get());
    ok = issuerKey != nullptr && X509_verify(cert.native(), issuerKey) == 1;
  }
  ERR_clear_error();
  return ok;
}

VerifyOutcome verify_chain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                           const std::vector<Certificate>& roots, std::int64_t atUnix,
                           std::string_view purpose) {
  VerifyOutcome outcome;
  auto fail = [&outcome](std::string reason) {
    outcome.failure = VerifyFailure::other;
    outcome.reason = reason;
    outcome.problems.push_back(VerifyProblem{VerifyFailure::other, 0, 0, std::move(reason)});
    return outcome;
  };
  if (!leaf) {
    return fail("no certificate to verify");
  }
  int purposeId = 0;
  if (purpose == "serverAuth") {
    purposeId = X509_PURPOSE_SSL_SERVER;
  } else if (purpose == "clientAuth") {
    purposeId = X509_PURPOSE_SSL_CLIENT;
  } else if (!purpose.empty()) {
    return fail("unknown purpose \"" + std::string(purpose) + "\"");
  }

  ERR_clear_error();
  StorePtr ownStore(roots.empty() ? nullptr : X509_STORE_new());
  X509_STORE* store = roots.empty() ? system_store() : ownStore.get();
  X509StackPtr untrusted(sk_X509_new_null());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (store == nullptr || !untrusted || !ctx) {
    return fail("out of memory: " + openssl_reason());
  }
  for (const auto& root : roots) {
    if (root) {
      X509_STORE_add_cert(store, root.native());  // takes its own reference
    }
  }
  for (const auto& cert : intermediates) {
    if (cert) {
      sk_X509_push(untrusted.get(), cert.native());
    }
  }
  ERR_clear_error();  // a duplicate root or an unreadable default path is not a failure
  if (X509_STORE_CTX_init(ctx.get(), store, leaf.native(), untrusted.get()) != 1) {
    return fail("cannot start verification: " + openssl_reason());
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // Go treats every root in the pool as an anchor, self-signed or not (a CA bundle holding only
  // an intermediate works with kubectl); OpenSSL needs partial-chain mode for that.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (atUnix != 0) {
    X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(atUnix));
  }
  if (purposeId != 0) {
    X509_STORE_CTX_set_purpose(ctx.get(), purposeId);
  }
  VerifyState state;
  state.purpose = std::string(purpose);
  X509_STORE_CTX_set_app_data(ctx.get(), &state);
  X509_STORE_CTX_set_verify_cb(ctx.get(), on_verify);

  const int verified = X509_verify_cert(ctx.get());
  if (verified != 1 && state.problems.empty()) {
    const int code = X509_STORE_CTX_get_error(ctx.get());
    VerifyProblem problem = describe_problem(code, X509_STORE_CTX_get_error_depth(ctx.get()),
                                             X509_STORE_CTX_get_current_cert(ctx.get()), state);
    state.problems.push_back(std::move(problem));
  }
  ERR_clear_error();

  if (STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get()); chain != nullptr) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      outcome.verifiedChain.push_back(Certificate::share(sk_X509_value(chain, i)));
    }
  }
  // OpenSSL without a security level accepts SHA-1; Go does not (except on the anchor, whose
  // signature nobody checks, and on the last certificate when no anchor was found).
  for (std::size_t depth = 0; depth + 1 < outcome.verifiedChain.size(); ++depth) {
    const X509* cert = outcome.verifiedChain[depth].get();
    const std::string hash = signature_hash(cert);
    if (insecure_hash(hash)) {
      VerifyProblem problem;
      problem.failure = VerifyFailure::badSignature;
      problem.opensslCode = X509_V_ERR_CA_MD_TOO_WEAK;
      problem.depth = static_cast<int>(depth);
      problem.reason = "insecure signature algorithm " +
                       inspect(outcome.verifiedChain[depth]).signatureAlgorithm +
                       " (Go and so kubectl reject " + hash + " signatures)";
      state.problems.push_back(std::move(problem));
    }
  }

  if (state.problems.empty()) {
    outcome.ok = true;
    return outcome;
  }
  // Go reports validity-period errors before chain errors; keep that order for the headline.
  auto primary = state.problems.begin();
  for (auto it = state.problems.begin(); it != state.problems.end(); ++it) {
    const bool timeError =
        it->failure == VerifyFailure::expired || it->failure == VerifyFailure::notYetValid;
    const bool primaryIsTime = primary->failure == VerifyFailure::expired ||
                               primary->failure == VerifyFailure::notYetValid;
    if (timeError && (!primaryIsTime || it->depth < primary->depth)) {
      primary = it;
    }
  }
  std::rotate(state.problems.begin(), primary, primary + 1);
  outcome.problems = std::move(state.problems);
  outcome.failure = outcome.problems.front().failure;
  outcome.opensslCode = outcome.problems.front().opensslCode;
  outcome.depth = outcome.problems.front().depth;
  outcome.reason = outcome.problems.front().reason;
  return outcome;
}

}  // namespace kp::core
