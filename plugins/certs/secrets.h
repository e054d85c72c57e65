// `kubectl certs secrets`: every certificate held in the cluster's Secrets (kubernetes.io/tls
// and any other type, every key, whole chains, ca.crt too), listed page by page through the API.
// Secret values are never printed: only the certificates' public fields.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "certs/certcheck.h"
#include "core/kube/apiclient.h"
#include "core/report/report.h"
#include "core/report/stream.h"
#include "core/util/result.h"

namespace kp::certs {

// Which keys of a Secret hold certificates (the rule --help documents):
//  - a key whose name suggests a certificate (ends in .crt, .cert, .cer or .pem) is read as
//    certificates, PEM or DER, and fails when it holds anything else, except that PEM holding
//    only private keys or other non-certificate blocks under a .pem name (key.pem) is a key,
//    not a broken certificate;
//  - any other key counts only when its data starts with "-----BEGIN" and holds a CERTIFICATE
//    block; passwords, tokens, keys (tls.key) and other values are ignored silently;
//  - an empty value is ignored (cert-manager leaves ca.crt empty for ACME), except tls.crt of a
//    kubernetes.io/tls Secret.
enum class KeyKind { ignored, certificates };
KeyKind classify_secret_key(std::string_view key, std::string_view data,
                            std::string_view secretType);

// What non-certificate bytes were, without quoting them: "empty", "12 bytes of text",
// "300 bytes of binary data".
std::string describe_bytes(std::string_view bytes);

// The checks (id cert.secret, layer cert) of one Secret as the API returns it (data in
// base64): one per certificate (details.source secret/NS/NAME#key, or #key[i] for each member
// of a bundle), plus one per unreadable key. Chains are checked link by link (each certificate
// signed by the next; only when the bundle starts with a non-CA certificate, or is tls.crt), the
// tls.crt leaf against ca.crt when present, and each certificate key against its private key
// (tls.crt/tls.key, NAME.crt/NAME.key, NAME.pem/NAME-key.pem, cert.pem/key.pem, or a key in
// the same PEM) by public key. No certificates: no checks.
// One issuer's CA sits in the ca.crt of every Secret it signed: values holding only CA
// certificates are parsed and checked once per run (OpenSSL 3.0 spends most of a Secret's time
// decoding keys). Bounded; a value not seen before costs nothing extra.
class CaCache {
 public:
  struct Entry {
    std::vector<core::Certificate> certs;
    std::vector<core::Check> checks;  // source and renewal hint filled in per Secret
  };
  const Entry* find(const std::string& bytes) const;
  void add(const std::string& bytes, Entry entry);

 private:
  std::map<std::string, Entry> entries_;
};

std::vector<core::Check> check_secret(const nlohmann::json& secret, std::int64_t nowUnix,
                                      std::int64_t warnWithinSeconds, CaCache* cache = nullptr);

// A Secret a distribution keeps its own control-plane certificate in (k3s-serving and
// rke2-serving in kube-system, OpenShift's control-plane operators' Secrets): which
// distribution (details.distro), what it is (details.role), and how that distribution renews it.
struct DistroSecret {
  std::string distro;
  std::string role;
  std::string hint;
};
std::optional<DistroSecret> distro_secret(const nlohmann::json& secret);

// The renewal command for a certificate of this Secret: cmctl renew for cert-manager's, the
// distribution's way for its own (distro_secret), the cluster CA for a service-account token's
// ca.crt, else re-issue and kubectl create secret.
std::string renew_hint(const nlohmann::json& secret, std::string_view key);

struct SecretsOptions {
  CommonOptions common;
  std::string namespaceName;  // used unless allNamespaces
  bool allNamespaces = false;
  std::string labelSelector;
  std::size_t pageSize = 500;
};

// The list path: /api/v1/secrets or /api/v1/namespaces/NS/secrets, with the labelSelector
// (ApiClient::list_pages adds limit and continue).
std::string secrets_list_path(const SecretsOptions& options);

// Lists the Secrets page by page and checks them: each page on two worker threads while the
// next one downloads, its checks added to `sink` in order, then dropped; the listing's summary
// (cert.secrets) is added first once the listing ends. Listing failures become checks; an error
// result is an invalid invocation (a label selector the server rejects), exit 2, and then
// `sink` holds what was checked before it.
core::Status check_secrets_into(const core::ApiClient& client, const SecretsOptions& options,
                                core::CheckSink& sink);

// check_secrets_into() a Report. Listing
// failures become checks (403: the RBAC to ask for; transport: the layer); an error result is
// an invalid invocation (a label selector the server rejects), exit 2.
core::Result<core::Report> check_secrets(const core::ApiClient& client,
                                         const SecretsOptions& options);

int run_secrets(const core::ApiClient& client, const SecretsOptions& options, std::ostream& out,
                std::ostream& err);

// The subcommand entry point from the command table.
int secrets_command(const core::Invocation& invocation);

}  // namespace kp::certs
