#include "certs/secrets.h"

#include <algorithm>
#include <array>
#include <future>
#include <map>
#include <optional>
#include <ostream>

#include "core/cli/cli.h"
#include "core/kube/kube.h"
#include "core/net/x509.h"
#include "core/report/stream.h"
#include "core/report/transport.h"
#include "core/util/base64.h"

namespace kp::certs {
namespace {

constexpr std::string_view kCheckId = "cert.secret";
constexpr std::string_view kListId = "cert.secrets";
constexpr std::string_view kTlsType = "kubernetes.io/tls";
constexpr std::string_view kTokenType = "kubernetes.io/service-account-token";
constexpr std::string_view kCertManagerAnnotation = "cert-manager.io/certificate-name";
// Bounds the CaCache: distinct CA values of one run (more: the cache starts again).
constexpr std::size_t kCaCacheEntries = 256;
// Stands for the Secret's renewal hint in checks shared through the CaCache.
constexpr std::string_view kHintSlot = "\x01renew-hint";
// Request logs above this level print response bodies, which here are Secret data.
constexpr int kMaxVerbosity = 7;

bool ends_with_any(std::string_view text, std::initializer_list<std::string_view> suffixes) {
  return std::any_of(suffixes.begin(), suffixes.end(),
                     [text](std::string_view suffix) { return text.ends_with(suffix); });
}

// A name that says "certificate": tls.crt, ca.crt, server.cert, chain.pem, ...
bool certificate_name(std::string_view key) {
  return ends_with_any(key, {".crt", ".cert", ".cer", ".pem"});
}

// A .crt/.cert/.cer name can only hold certificates; .pem is also used for keys (key.pem).
bool strict_certificate_name(std::string_view key) {
  return ends_with_any(key, {".crt", ".cert", ".cer"});
}

std::string_view skip_space(std::string_view data) {
  const auto start = data.find_first_not_of(" \t\r\n");
  return start == std::string_view::npos ? std::string_view() : data.substr(start);
}

bool has_certificate_block(std::string_view data) {
  return data.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos ||
         data.find("-----BEGIN X509 CERTIFICATE-----") != std::string_view::npos ||
         data.find("-----BEGIN TRUSTED CERTIFICATE-----") != std::string_view::npos;
}

bool has_private_key_block(std::string_view data) {
  return data.find("PRIVATE KEY-----") != std::string_view::npos;
}

// parse_certificates' message, without quoting the bytes (they may be a password).
std::string unreadable_message(std::string_view data, const std::string& error) {
  if (error.starts_with("not PEM or DER")) {
    return "not PEM or DER: " + describe_bytes(data);
  }
  return error;
}

core::Check base_check(const std::string& source, const std::string& key, const std::string& type) {
  core::Check check;
  check.id = std::string(kCheckId);
  check.layer = core::Layer::cert;
  check.details = {{"source", source}, {"key", key}, {"secretType", type}};
  return check;
}

// The key holding the private key of certificate key `certKey`, if the Secret has one.
std::optional<std::string> private_key_for(const std::string& certKey,
                                           const std::map<std::string, std::string>& data) {
  const auto dot = certKey.rfind('.');
  const std::string stem = dot == std::string::npos ? certKey : certKey.substr(0, dot);
  std::vector<std::string> candidates{stem + ".key", stem + "-key.pem", stem + ".key.pem"};
  if (stem == "cert" || stem == "certificate" || stem == "crt") {
    candidates.emplace_back("key.pem");
    candidates.emplace_back("key");
  }
  for (const std::string& candidate : candidates) {
    const auto it = data.find(candidate);
    if (candidate != certKey && it != data.end() && !skip_space(it->second).empty()) {
      return candidate;
    }
  }
  return std::nullopt;
}

// One key's certificates and the index of the first one's check.
struct Member {
  std::string key;
  std::vector<core::Certificate> certs;
  std::size_t firstCheck = 0;
};

std::string source_of(const std::string& base, const std::string& key, std::size_t index,
                      std::size_t count) {
  return base + "#" + key + (count > 1 ? "[" + std::to_string(index) + "]" : std::string());
}

std::string scope_text(const SecretsOptions& options) {
  std::string text = options.allNamespaces ? std::string("in all namespaces")
                                           : "in namespace \"" + options.namespaceName + "\"";
  if (!options.labelSelector.empty()) {
    text += " matching \"" + options.labelSelector + "\"";
  }
  return text;
}

// The source of the listing's own checks: secret/NAMESPACE, or secret/* for -A.
std::string list_source(const SecretsOptions& options) {
  return "secret/" + (options.allNamespaces ? std::string("*") : options.namespaceName);
}

core::Check list_failure(const core::ApiError& error, const SecretsOptions& options) {
  core::Check check;
  check.id = std::string(kListId);
  check.layer = core::Layer::cert;
  check.status = core::CheckStatus::fail;
  check.details = {{"source", list_source(options)}, {"httpStatus", error.status}};
  const std::string scope =
      options.allNamespaces ? std::string("--all-namespaces") : "-n " + options.namespaceName;
  if (error.status == 403) {
    check.id = "auth.secrets";
    check.layer = core::Layer::auth;
    check.message = "cannot list secrets " + scope_text(options) + ": " + error.message;
    check.hint =
        "your user may not list secrets there (RBAC); check with kubectl auth can-i "
        "list secrets " +
        scope +
        ", and ask for a Role (or ClusterRole for -A) granting get and list on secrets"
        " bound to you" +
        (options.allNamespaces ? ", or use -n NAMESPACE" : std::string());
  } else if (error.status == 401) {
    check.id = "auth.secrets";
    check.layer = core::Layer::auth;
    check.message = "the API server rejected the credential: " + error.message;
    check.hint =
        "the kubeconfig's credential is not accepted (expired or unknown): "
        "kubectl apicheck explains the auth layer";
  } else if (error.status == 0) {
    check.layer = core::transport_layer(error.transport, error.phase, core::Layer::health);
    check.message = "cannot list secrets " + scope_text(options) + ": " + error.message;
    check.hint = "the API server could not be reached: kubectl apicheck shows which layer breaks";
  } else {
    check.message = "cannot list secrets " + scope_text(options) + ": " + error.message;
    check.hint =
        "see the API server's message; kubectl get secrets " + scope + " shows the same answer";
  }
  return check;
}

}  // namespace

std::string describe_bytes(std::string_view bytes) {
  if (bytes.empty()) {
    return "empty";
  }
  const bool text = std::all_of(bytes.begin(), bytes.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 || c == '\n' || c == '\r' || c == '\t';  // UTF-8 counts as text
  });
  const std::string count = std::to_string(bytes.size()) + (bytes.size() == 1 ? " byte" : " bytes");
  return count + (text ? " of text" : " of binary data");
}

KeyKind classify_secret_key(std::string_view key, std::string_view data,
                            std::string_view secretType) {
  const std::string_view start = skip_space(data);
  if (start.empty()) {
    return key == "tls.crt" && secretType == kTlsType ? KeyKind::certificates : KeyKind::ignored;
  }
  if (start.starts_with("-----BEGIN")) {
    if (has_certificate_block(data) || strict_certificate_name(key)) {
      return KeyKind::certificates;
    }
    return KeyKind::ignored;  // tls.key, key.pem, a CSR, a public key
  }
  return certificate_name(key) ? KeyKind::certificates : KeyKind::ignored;
}

std::string renew_hint(const nlohmann::json& secret, std::string_view key) {
  const nlohmann::json& metadata = core::json_member(secret, "metadata");
  const std::string ns = core::json_string(metadata, "namespace");
  const std::string name = core::json_string(metadata, "name");
  const std::string type = core::json_string(secret, "type");
  const std::string certificate =
      core::json_string(core::json_member(metadata, "annotations"), kCertManagerAnnotation.data());
  if (!certificate.empty()) {
    return "managed by cert-manager (Certificate " + certificate + "): cmctl renew " + certificate +
           " -n " + ns;
  }
  if (std::optional<DistroSecret> own = distro_secret(secret)) {
    return own->hint;
  }
  if (type == kTokenType && key == "ca.crt") {
    return "this is the cluster CA, copied into service-account tokens by "
           "kube-controller-manager (--root-ca-file): renew the cluster CA (kubeadm: see "
           "'Manual rotation of CA certificates'), then the token controller refreshes ca.crt";
  }
  if (type == kTlsType) {
    return "re-issue the certificate, then: kubectl create secret tls " + name +
           " --cert=tls.crt --key=tls.key -n " + ns +
           " --dry-run=client -o yaml | kubectl apply -f -";
  }
  return "re-issue the certificate, then: kubectl create secret generic " + name +
         " --from-file=" + std::string(key) + "=NEW-FILE (and every other key) -n " + ns +
         " --dry-run=client -o yaml | kubectl apply -f -";
}

const CaCache::Entry* CaCache::find(const std::string& bytes) const {
  const auto it = entries_.find(bytes);
  return it == entries_.end() ? nullptr : &it->second;
}

void CaCache::add(const std::string& bytes, Entry entry) {
  if (entries_.size() >= kCaCacheEntries) {
    entries_.clear();
  }
  entries_.emplace(bytes, std::move(entry));
}

std::vector<core::Check> check_secret(const nlohmann::json& secret, std::int64_t nowUnix,
                                      std::int64_t warnWithinSeconds, CaCache* cache) {
  std::vector<core::Check> checks;
  const nlohmann::json& metadata = core::json_member(secret, "metadata");
  const nlohmann::json& rawData = core::json_member(secret, "data");
  if (!rawData.is_object()) {
    return checks;
  }
  const std::string ns = core::json_string(metadata, "namespace");
  const std::string name = core::json_string(metadata, "name");
  const std::string type = core::json_string(secret, "type");
  const std::string base = "secret/" + ns + "/" + name;
  const std::string certManager =
      core::json_string(core::json_member(metadata, "annotations"), kCertManagerAnnotation.data());
  const std::optional<DistroSecret> own = distro_secret(secret);

  // Decoded values, sorted by key. A value that is not base64 (never from a real API server)
  // is unreadable when its name says certificate, and ignored otherwise.
  std::map<std::string, std::string> data;
  for (const auto& [key, value] : rawData.items()) {
    if (!value.is_string()) {
      continue;
    }
    core::Result<std::string> decoded = core::decode_base64(value.get<std::string>());
    if (decoded) {
      data.emplace(key, std::move(*decoded));
    } else if (certificate_name(key)) {
      core::Check check = base_check(source_of(base, key, 0, 1), key, type);
      add_problem(check,
                  key + ": the Secret's data is not base64 (" + decoded.error().message + ")",
                  renew_hint(secret, key));
      checks.push_back(std::move(check));
    }
  }

  std::vector<Member> members;
  for (const auto& keyValue : data) {
    // Named, not a structured binding: clang before 16 cannot capture bindings in lambdas.
    const std::string& key = keyValue.first;
    const std::string& bytes = keyValue.second;
    if (classify_secret_key(key, bytes, type) != KeyKind::certificates) {
      continue;
    }
    const std::string hint = renew_hint(secret, key);
    const auto fill = [&](core::Check check, std::size_t i, std::size_t count) {
      check.details["source"] = source_of(base, key, i, count);
      if (check.hint == kHintSlot) {
        check.hint = hint;
      }
      check.details["key"] = key;
      check.details["secretType"] = type;
      if (!certManager.empty()) {
        check.details["certManagerCertificate"] = certManager;
      }
      if (own) {
        check.details["distro"] = own->distro;
        check.details["role"] = own->role;
      }
      checks.push_back(std::move(check));
    };
    if (const CaCache::Entry* hit = cache != nullptr ? cache->find(bytes) : nullptr) {
      Member member{key, hit->certs, checks.size()};
      for (std::size_t i = 0; i < hit->checks.size(); ++i) {
        fill(hit->checks[i], i, hit->checks.size());
      }
      members.push_back(std::move(member));
      continue;
    }
    core::Result<core::ParsedCertificates> parsed = core::parse_certificates(bytes);
    if (!parsed) {
      core::Check check = base_check(source_of(base, key, 0, 1), key, type);
      add_problem(check, key + ": " + unreadable_message(bytes, parsed.error().message),
                  "put PEM certificates in " + key +
                      " (the Secret's data is the PEM file, base64-encoded once); " + hint);
      checks.push_back(std::move(check));
      continue;
    }
    Member member{key, parsed->certs, checks.size()};
    CaCache::Entry entry{member.certs, {}};
    bool onlyCAs = true;
    for (const core::Certificate& cert : member.certs) {
      // The renewal hint depends on the Secret: a slot here, filled in by fill().
      core::Check check =
          check_certificate(cert, kCheckId, "", nowUnix, warnWithinSeconds, kHintSlot);
      onlyCAs = onlyCAs && check.details.value("isCA", false);
      entry.checks.push_back(std::move(check));
    }
    for (std::size_t i = 0; i < entry.checks.size(); ++i) {
      fill(entry.checks[i], i, entry.checks.size());
    }
    if (cache != nullptr && onlyCAs) {
      cache->add(bytes, std::move(entry));
    }
    members.push_back(std::move(member));
  }

  // Each link of a chain: certificate i signed by certificate i + 1. A bundle that starts with
  // a CA is a set of trust anchors, not a chain, unless it is tls.crt.
  std::map<std::string, bool> brokenChain;
  for (const Member& member : members) {
    if (member.certs.size() < 2 ||
        (member.key != "tls.crt" && core::inspect(member.certs.front()).isCA)) {
      continue;
    }
    for (std::size_t i = 0; i + 1 < member.certs.size(); ++i) {
      if (core::issued_by(member.certs[i], member.certs[i + 1])) {
        continue;
      }
      const core::CertInfo self = core::inspect(member.certs[i]);
      const core::CertInfo next = core::inspect(member.certs[i + 1]);
      brokenChain[member.key] = true;
      add_problem(checks[member.firstCheck + i],
                  "chain broken: not signed by the next certificate, " + member.key + "[" +
                      std::to_string(i + 1) + "] (issuer " + self.issuer + ", next is " +
                      next.subject + ")",
                  "put the chain in order in " + member.key +
                      " (leaf first, each certificate followed by its issuer) or re-issue it; " +
                      renew_hint(secret, member.key));
    }
  }

  const auto member_of = [&members](const std::string& key) -> const Member* {
    for (const Member& member : members) {
      if (member.key == key) {
        return &member;
      }
    }
    return nullptr;
  };

  // The tls.crt chain against ca.crt.
  const Member* tls = member_of("tls.crt");
  const Member* ca = member_of("ca.crt");
  if (tls != nullptr && ca != nullptr && !brokenChain[tls->key]) {
    const std::vector<core::Certificate> intermediates(tls->certs.begin() + 1, tls->certs.end());
    const core::VerifyOutcome outcome =
        core::verify_chain(tls->certs.front(), intermediates, ca->certs, nowUnix, "");
    core::Check& leaf = checks[tls->firstCheck];
    leaf.details["verifiedAgainstCaCrt"] = outcome.ok;
    for (const core::VerifyProblem& problem : outcome.problems) {
      if (problem.failure == core::VerifyFailure::expired ||
          problem.failure == core::VerifyFailure::notYetValid) {
        continue;  // each certificate's own check says so
      }
      add_problem(leaf,
                  "tls.crt does not verify against ca.crt (depth " + std::to_string(problem.depth) +
                      "): " + problem.reason,
                  "tls.crt was not issued by the CA in ca.crt: put the issuing CA in ca.crt, or "
                  "re-issue tls.crt from it; " +
                      renew_hint(secret, "tls.crt"));
      break;
    }
  }

  // Each certificate with its private key, by public key. Key material is never printed:
  // pair_private_key's errors (parse_private_key's) do not quote the bytes.
  for (const Member& member : members) {
    const bool sameKey = has_private_key_block(data.at(member.key));
    const std::optional<std::string> keyName =
        sameKey ? std::optional<std::string>(member.key) : private_key_for(member.key, data);
    if (!keyName) {
      continue;
    }
    core::Check& leaf = checks[member.firstCheck];
    leaf.details["privateKey"] = *keyName;
    const core::Result<core::KeyPairing> pairing =
        core::pair_private_key(member.certs.front(), data.at(*keyName));
    if (!pairing) {
      add_problem(leaf, *keyName + " cannot be read as a private key: " + pairing.error().message,
                  "put the PEM private key of " + member.key + " in " + *keyName + "; " +
                      renew_hint(secret, member.key));
    } else if (!pairing->matches) {
      add_problem(leaf,
                  *keyName + " does not match " + member.key +
                      " (the public keys differ: clients will fail the TLS handshake)",
                  "put the key that belongs to " + member.key + " in " + *keyName +
                      ", or re-issue both; " + renew_hint(secret, member.key));
    }
  }
  return checks;
}

std::string secrets_list_path(const SecretsOptions& options) {
  std::string path =
      options.allNamespaces
          ? std::string("/api/v1/secrets")
          : "/api/v1/namespaces/" + core::url_escape(options.namespaceName) + "/secrets";
  if (!options.labelSelector.empty()) {
    path += "?labelSelector=" + core::url_escape(options.labelSelector);
  }
  return path;
}

namespace {

// A run of a page's Secrets, checked on a worker thread.
struct Checked {
  std::vector<core::Check> checks;
  std::size_t withCertificates = 0;
};

Checked check_items(const nlohmann::json& items, std::size_t begin, std::size_t end,
                    std::int64_t now, std::int64_t warnWithinSeconds, CaCache* cache) {
  Checked out;
  for (std::size_t i = begin; i < end; ++i) {
    std::vector<core::Check> checks = check_secret(items[i], now, warnWithinSeconds, cache);
    out.withCertificates += checks.empty() ? 0 : 1;
    std::move(checks.begin(), checks.end(), std::back_inserter(out.checks));
  }
  return out;
}

}  // namespace

core::Status check_secrets_into(const core::ApiClient& client, const SecretsOptions& options,
                                core::CheckSink& sink) {
  const std::int64_t now = options.common.now_unix();
  const std::int64_t warn = options.common.warnWithinSeconds;
  std::size_t secrets = 0, withCertificates = 0, pages = 0;
  std::optional<core::Check> failure;
  // A page is checked on kWorkers threads (one part each, with its own CaCache) while this
  // thread downloads the next one; then its checks go to the sink in order and it is dropped.
  // So at most two pages are held: the one being checked and the one arriving.
  constexpr std::size_t kWorkers = 2;
  std::array<CaCache, kWorkers> caches;
  nlohmann::json checking;
  std::vector<std::future<Checked>> parts;
  const auto drain = [&] {
    for (std::future<Checked>& part : parts) {
      Checked checked = part.get();
      withCertificates += checked.withCertificates;
      for (core::Check& check : checked.checks) {
        sink.add(std::move(check));
      }
    }
    parts.clear();
    checking = nullptr;
  };
  core::Result<std::size_t, core::ApiError> listed =
      client.list_pages(secrets_list_path(options), options.pageSize, [&](nlohmann::json& page) {
        ++pages;
        if (!core::json_member(page, "items").is_array()) {
          core::ApiError error;
          error.status = 200;
          error.message = "the answer is not a SecretList (no items)";
          failure = list_failure(error, options);
          return false;
        }
        drain();
        checking = std::move(page);
        const nlohmann::json& items = checking["items"];
        secrets += items.size();
        for (std::size_t w = 0; w < kWorkers; ++w) {
          const std::size_t begin = items.size() * w / kWorkers;
          const std::size_t end = items.size() * (w + 1) / kWorkers;
          CaCache* cache = &caches[w];
          parts.push_back(std::async(std::launch::async, [&items, begin, end, now, warn, cache] {
            return check_items(items, begin, end, now, warn, cache);
          }));
        }
        return true;
      });
  drain();
  if (!listed) {
    const core::ApiError& error = listed.error();
    if (error.status == 400 && !options.labelSelector.empty()) {
      return core::Error{"-l \"" + options.labelSelector + "\": " + error.message};
    }
    failure = list_failure(error, options);
  }

  core::Check summary;
  summary.id = std::string(kListId);
  summary.layer = core::Layer::cert;
  summary.status = withCertificates > 0 ? core::CheckStatus::ok : core::CheckStatus::skip;
  summary.message = "listed " + std::to_string(secrets) +
                    (secrets == 1 ? " secret " : " secrets ") + scope_text(options) + " in " +
                    std::to_string(pages) + (pages == 1 ? " page" : " pages") + ": " +
                    std::to_string(withCertificates) +
                    (withCertificates == 1 ? " holds" : " hold") + " certificates";
  if (failure) {
    summary.message += " before the listing failed";
  }
  summary.details = {{"source", list_source(options)},
                     {"namespace", options.allNamespaces ? std::string() : options.namespaceName},
                     {"allNamespaces", options.allNamespaces},
                     {"labelSelector", options.labelSelector},
                     {"secrets", secrets},
                     {"secretsWithCertificates", withCertificates},
                     {"pages", pages}};
  if (!failure || secrets > 0) {
    sink.add_first(std::move(summary));
  }
  if (failure) {
    sink.add(std::move(*failure));
  }
  return {};
}

namespace {

core::Target target_of(const core::ApiClient& client) {
  core::Target target;
  target.context = client.config().contextName;
  target.cluster = client.config().clusterName;
  target.server = client.config().server;
  return target;
}

}  // namespace

core::Result<core::Report> check_secrets(const core::ApiClient& client,
                                         const SecretsOptions& options) {
  core::Report report;
  report.tool = "certs";
  report.target = target_of(client);
  core::ReportSink sink(report);
  if (core::Status done = check_secrets_into(client, options, sink); !done) {
    return done.error();
  }
  return report;
}

int run_secrets(const core::ApiClient& client, const SecretsOptions& options, std::ostream& out,
                std::ostream& err) {
  const Output output = options.common.output;
  if (output == Output::json || output == Output::yaml) {
    // Streamed: thousands of Secrets' checks are written as they are made, not kept.
    core::ReportStream stream(
        out, output == Output::json ? core::OutputFormat::json : core::OutputFormat::yaml, "certs",
        target_of(client));
    if (core::Status done = check_secrets_into(client, options, stream); !done) {
      return core::print_error(err, "certs", done.error().message);
    }
    stream.finish();
    return stream.exit_code(options.common.failOn);
  }
  core::Result<core::Report> report = check_secrets(client, options);
  if (!report) {
    return core::print_error(err, "certs", report.error().message);
  }
  return finish(out, *report, options.common);
}

int secrets_command(const core::Invocation& invocation) {
  cxxopts::Options cli = core::command_options(
      invocation,
      ": one check per certificate in the Secrets of -n NAMESPACE\n"
      "(default: the context's namespace, like kubectl) or of every namespace (-A).\n\n"
      "Every Secret type and every key is read. A key holds certificates when its name ends in\n"
      ".crt, .cert, .cer or .pem (then anything else in it fails: garbage, DER that does not\n"
      "parse, a private key; only a .pem holding nothing but a key is taken as a key), or when\n"
      "its value is PEM with a CERTIFICATE block. Other values (passwords, tokens, tls.key) are\n"
      "ignored and never printed; an empty ca.crt is ignored, an empty tls.crt fails.\n"
      "A bundle is a chain, checked link by link, when it is tls.crt or starts with a non-CA\n"
      "certificate (otherwise it is a set of trust anchors). tls.crt is verified against ca.crt\n"
      "when both are present. A certificate is paired by public key with its private key:\n"
      "tls.key for tls.crt, NAME.key or NAME-key.pem for NAME.crt/NAME.pem, key.pem for\n"
      "cert.pem, or a key in the same PEM value.\n"
      "Sources read secret/NAMESPACE/NAME#KEY, and #KEY[i] for each member of a bundle.\n"
      "Secrets are listed in pages of 500, each checked (on two threads) while the next one\n"
      "downloads, then dropped; -o json and -o yaml are written as the checks are made.\n"
      "-v logs requests up to level 7: response bodies hold Secret data and are never logged.",
      "[-n NAMESPACE | -A] [-l SELECTOR] [flags]");
  cli.add_options("")                                                                //
      ("A,all-namespaces", "Every namespace (-n is then ignored, as kubectl does)")  //
      ("l,selector", "Only Secrets matching this label selector (e.g. app=web,tier!=db)",
       cxxopts::value<std::string>(), "SELECTOR")  //
      ("timeout", "Deadline for each API request",
       cxxopts::value<std::string>()->default_value("30s"), "DURATION")  //
      ("v", "Log level for request logs (6 or 7, like kubectl; bodies are never logged)",
       cxxopts::value<int>()->default_value("0"), "N");
  core::Result<ParsedCommand, int> command = parse_command(invocation, cli, false);
  if (!command) {
    return command.error();
  }
  const cxxopts::ParseResult& parsed = command->parsed;
  const auto fail = [&invocation](const std::string& message) {
    return core::print_error(invocation.err, invocation.tool, message);
  };
  const core::KubeFlags& flags = command->kube;
  std::string timeoutText = parsed["timeout"].as<std::string>();
  // kubectl's --request-timeout sets the deadline when --timeout is not given ("0": none,
  // which this command never allows).
  if (parsed.count("timeout") == 0 && !flags.requestTimeout.empty() &&
      flags.requestTimeout != "0") {
    timeoutText = flags.requestTimeout;
  }
  core::Result<std::chrono::milliseconds> timeout = core::parse_duration(timeoutText);
  if (!timeout) {
    return fail(timeout.error().prefixed("--timeout").message);
  }
  if (timeout->count() <= 0) {
    return fail("--timeout: must be greater than 0");
  }
  const int verbosity = parsed["v"].as<int>();
  if (verbosity < 0 || verbosity > 10) {
    return fail("-v: must be between 0 and 10");
  }
  SecretsOptions options;
  options.common = command->common;
  options.allNamespaces = parsed.count("all-namespaces") > 0;
  if (parsed.count("selector") > 0) {
    options.labelSelector = parsed["selector"].as<std::string>();
  }
  core::Result<core::ApiClient> client = core::connect(
      flags.loading_rules(), flags.overrides, *timeout, std::min(verbosity, kMaxVerbosity));
  if (!client) {
    return fail(client.error().message);
  }
  options.namespaceName = client->config().namespaceName;
  if (options.namespaceName.empty()) {
    options.namespaceName = "default";
  }
  return run_secrets(*client, options, invocation.out, invocation.err);
}

}  // namespace kp::certs
