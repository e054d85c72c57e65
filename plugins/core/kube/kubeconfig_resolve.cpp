// From a merged kubeconfig and the flags to a ClientConfig: picking the context, cluster and
// user, applying the overrides, validating, reading the CA, certificate, key and token files,
// and choosing the authentication method.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/kube/kubeconfig.h"
#include "core/kube/kubeconfig_detail.h"
#include "core/net/x509.h"
#include "core/util/files.h"
#include "core/util/text.h"
#include "core/util/url.h"

namespace kp::core {
using detail::quote;
namespace {

// Prefixes `message` with where the offending value came from, when that is known.
Error at(std::string_view origin, std::string_view message) {
  if (origin.empty()) {
    return Error{std::string(message)};
  }
  return Error{std::string(origin) + ": " + std::string(message)};
}

// The entry called `name`: an empty one when no name is given, nullopt when none is defined.
template <class Entry>
std::optional<Entry> entry_named(const std::map<std::string, Entry>& entries,
                                 const std::string& name) {
  if (name.empty()) {
    return Entry{};
  }
  const auto found = entries.find(name);
  if (found == entries.end()) {
    return std::nullopt;
  }
  return found->second;
}

// A name given by a flag that nothing defines: kubectl refuses it, worded as client-go words it
// ("auth info \"x\" does not exist").
Error not_defined(std::string_view kind, const std::string& name) {
  return Error{std::string(kind) + " " + quote(name) + " does not exist"};
}

// The flags win over the kubeconfig, with client-go's extra clearing rules
// (../shared/K8S-CLIENT-SPEC.md 1.13).
void apply_cluster_overrides(Cluster& c, const ConfigOverrides& o) {
  if (!o.server.empty()) {
    c.server = o.server;
  }
  if (o.insecureSkipTlsVerify || !o.certificateAuthority.empty()) {
    c.insecureSkipTlsVerify = o.insecureSkipTlsVerify;
    c.certificateAuthority = o.certificateAuthority;
    c.certificateAuthorityData.clear();
  }
  // A new --server makes the kubeconfig's SNI name stale unless --tls-server-name comes too.
  if (!o.tlsServerName.empty() || !o.server.empty()) {
    c.tlsServerName = o.tlsServerName;
  }
  if (o.disableCompression) {
    c.disableCompression = true;
  }
}

void apply_auth_overrides(AuthInfo& u, const ConfigOverrides& o) {
  if (!o.clientCertificate.empty()) {
    u.clientCertificate = o.clientCertificate;
    u.clientCertificateData.clear();
  }
  if (!o.clientKey.empty()) {
    u.clientKey = o.clientKey;
    u.clientKeyData.clear();
  }
  auto override_string = [](std::string& field, const std::string& value) {
    if (!value.empty()) {
      field = value;
    }
  };
  // client-go keeps the kubeconfig's tokenFile next to a --token, and a readable file wins at
  // the transport (kubectl sends the file's token: seen by the differential harness's
  // recording server); load_credentials() says so.
  if (!o.token.empty()) {
    u.token = o.token;
  }
  override_string(u.username, o.username);
  override_string(u.password, o.password);
  override_string(u.impersonate, o.impersonate);
  override_string(u.impersonateUid, o.impersonateUid);
  if (!o.impersonateGroups.empty()) {
    u.impersonateGroups = o.impersonateGroups;
  }
  if (!o.impersonateUserExtra.empty()) {
    u.impersonateUserExtra = o.impersonateUserExtra;
  }
}

Status validate_proxy_url(const Cluster& c) {
  if (c.proxyUrl.empty()) {
    return {};
  }
  const std::string scheme = split_url(c.proxyUrl).scheme;
  if (scheme == "http" || scheme == "https" || scheme == "socks5") {
    return {};
  }
  return at(c.origin,
            "proxy-url: unsupported scheme " + quote(scheme) + ", must be http, https, or socks5");
}

std::string field_source(const std::string& flagValue, std::string_view flag,
                         const std::string& origin, std::string_view field) {
  if (!flagValue.empty()) {
    return std::string(flag);
  }
  return origin.empty() ? std::string(field) : origin + "." + std::string(field);
}

// The file named by `path` opens (client-go's validation opens CA, certificate and key files
// and closes them again; reading them, and so "is a directory", comes later, with TLS only).
Status openable(const std::string& path, const std::string& source) {
  if (path.empty()) {
    return {};
  }
  Status opens = check_opens(path);
  return opens ? opens : Status{opens.error().prefixed(source)};
}

// clientcmd's validateClusterInfo, run whatever the scheme: proxy-url, CA file and data both
// set, a CA file that does not open.
Status validate_cluster(const Cluster& c, const std::string& caSource) {
  if (Status proxy = validate_proxy_url(c); !proxy) {
    return proxy;
  }
  if (!c.certificateAuthority.empty() && !c.certificateAuthorityData.empty()) {
    return at(c.origin, "certificate-authority-data and certificate-authority are both specified");
  }
  return openable(c.certificateAuthority, caSource);
}

// client-go names the auth info in its messages ("... for admin ..."); flags-only has no name.
std::string for_name(const std::string& name) {
  return name.empty() ? std::string() : " for " + name;
}

constexpr std::string_view kExecV1 = "client.authentication.k8s.io/v1";
constexpr std::string_view kExecV1beta1 = "client.authentication.k8s.io/v1beta1";

// clientcmd's validateAuthInfo exec checks (../shared/K8S-CLIENT-SPEC.md 3.1-3.3, 3.9).
Status validate_exec(const AuthInfo& u, const std::string& name) {
  const ExecConfig& e = *u.exec;
  const std::string suffix = for_name(name) + " to use exec authentication plugin";
  if (u.authProvider) {
    return at(u.origin, "authProvider cannot be provided in combination with an exec plugin" +
                            for_name(name));
  }
  if (e.command.empty()) {
    return at(u.origin, "command must be specified" + suffix);
  }
  if (e.apiVersion.empty()) {
    return at(u.origin, "apiVersion must be specified" + suffix);
  }
  for (const auto& [envName, value] : e.env) {
    if (envName.empty()) {
      return at(u.origin, "env variable name must be specified" + suffix);
    }
  }
  if (e.interactiveMode.empty()) {
    return at(u.origin, "interactiveMode must be specified" + suffix);
  }
  if (e.interactiveMode != "Never" && e.interactiveMode != "IfAvailable" &&
      e.interactiveMode != "Always") {
    return at(u.origin,
              "invalid interactiveMode" + for_name(name) + ": " + quote(e.interactiveMode));
  }
  return {};
}

// exec.go's apiVersion check: client-go reaches it when it builds the transport of an https
// server, after the validation above.
Status check_exec_api_version(const AuthInfo& u) {
  const std::string& version = u.exec->apiVersion;
  if (version != kExecV1 && version != kExecV1beta1) {
    return at(u.origin, "exec plugin: invalid apiVersion " + quote(version));
  }
  return {};
}

// clientcmd's validateAuthInfo, run whatever the scheme (ConfirmUsable): the certificate and key
// fields, the files they name opening, the exec plugin's fields, token beside basic auth, and
// impersonation without a user. A key without a certificate is no error there: the transport
// ignores it (kubectl then has no client certificate).
Status validate_auth_info(const AuthInfo& u, const std::string& name, const ConfigOverrides& o) {
  const bool hasCert = !u.clientCertificate.empty() || !u.clientCertificateData.empty();
  if (hasCert) {
    if (!u.clientCertificate.empty() && !u.clientCertificateData.empty()) {
      return at(u.origin, "client-certificate-data and client-certificate are both specified");
    }
    if (!u.clientKey.empty() && !u.clientKeyData.empty()) {
      return at(u.origin, "client-key-data and client-key are both specified");
    }
    if (u.clientKey.empty() && u.clientKeyData.empty()) {
      return at(u.origin,
                "client-key-data or client-key must be specified to use the clientCert "
                "authentication method");
    }
    Status opens = openable(
        u.clientCertificate,
        field_source(o.clientCertificate, "--client-certificate", u.origin, "client-certificate"));
    if (opens) {
      opens =
          openable(u.clientKey, field_source(o.clientKey, "--client-key", u.origin, "client-key"));
    }
    if (!opens) {
      return opens;
    }
  }
  if (u.exec) {
    Status exec = validate_exec(u, name);
    if (!exec) {
      return exec;
    }
  }
  // A tokenFile is not a method of its own to clientcmd's validation: only token vs basic.
  const bool hasBasic = !u.username.empty() || !u.password.empty();
  if (!u.token.empty() && hasBasic) {
    return at(u.origin, "more than one authentication method found" + for_name(name) +
                            "; found [token basicAuth], only one is allowed");
  }
  const bool partialImpersonation =
      !u.impersonateUid.empty() || !u.impersonateGroups.empty() || !u.impersonateUserExtra.empty();
  if (u.impersonate.empty() && partialImpersonation) {
    return at(u.origin, "requesting uid, groups or user-extra" + for_name(name) +
                            " without impersonating a user");
  }
  return {};
}

// A namespace must be an RFC 1123 DNS label (../shared/K8S-CLIENT-SPEC.md 1.7).
bool is_dns_label(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : name) {
    if (!alnum(c) && c != '-') {
      return false;
    }
  }
  return alnum(name.front()) && alnum(name.back());
}

// `<data>` wins over `<file>`; `source` names the field or flag in the error.
Result<std::string> data_or_file(const std::string& data, const std::string& file,
                                 const std::string& source) {
  if (!data.empty() || file.empty()) {
    return data;
  }
  Result<std::string> contents = read_file(file);
  if (!contents) {
    return contents.error().prefixed(source);
  }
  return contents;
}

// Where PEM bytes came from: the -data field when it was set (it wins), else the file field.
std::string pem_source(const std::string& data, const std::string& flagValue, std::string_view flag,
                       const std::string& origin, std::string_view field) {
  if (flagValue.empty() && !data.empty()) {
    return field_source("", flag, origin, std::string(field) + "-data");
  }
  return field_source(flagValue, flag, origin, field);
}

// PEM from a kubeconfig must parse before it is used: garbage is bad input (exit 2) naming the
// field, not a TLS failure later that looks like the server's fault.
Status check_pem(const std::string& pem, const std::string& source, bool key) {
  if (pem.empty()) {
    return {};
  }
  // client-go reads PEM only (tls.X509KeyPair, CertPool.AppendCertsFromPEM): DER, which our
  // parsers would take, fails in kubectl with "tls: failed to find any PEM data".
  if (pem.find("-----BEGIN ") == std::string::npos) {
    if (key && parse_private_key(pem)) {
      return Error{source +
                   ": a DER private key, not PEM (kubectl: \"tls: failed to find any PEM data "
                   "in key input\"); convert it: openssl pkey -inform DER -in KEY -out KEY.pem"};
    }
    if (!key) {
      Result<ParsedCertificates> der = parse_certificates(pem);
      if (der && !der->certs.empty()) {
        return Error{source +
                     ": a DER certificate, not PEM (kubectl refuses it: \"failed to find any PEM "
                     "data\"); convert it: openssl x509 -inform DER -in CERT -out CERT.pem"};
      }
    }
  }
  if (key) {
    Result<PrivateKey> parsed = parse_private_key(pem);
    return parsed ? Status{} : Status{parsed.error().prefixed(source)};
  }
  Result<ParsedCertificates> parsed = parse_certificates(pem);
  if (!parsed) {
    return parsed.error().prefixed(source);
  }
  if (parsed->certs.empty()) {
    return Error{source + ": no certificate in it"};
  }
  return {};
}

// The token in effect and where it came from.
struct TokenChoice {
  std::string token;
  bool fromFile = false;
  std::string warning;  // a tokenFile that could not be used next to a static token
  bool blank = false;   // the tokenFile alone holds only white space
};

// Spec 1.9: only tokenFile -> read now, trimmed, unreadable or empty is an error naming the
// file; token and tokenFile -> the file wins when readable and non-empty, else the token.
Result<TokenChoice> resolve_token(const AuthInfo& u) {
  if (u.tokenFile.empty()) {
    return TokenChoice{u.token, false, {}};
  }
  const std::string source = field_source("", "", u.origin, "tokenFile");
  Result<std::string> contents = read_file(u.tokenFile);
  if (contents && !trim(*contents).empty()) {
    return TokenChoice{std::string(trim(*contents)), true, {}};
  }
  const Error failure = contents ? Error{source + ": read " + u.tokenFile + ": empty token file"}
                                 : contents.error().prefixed(source);
  if (!u.token.empty()) {
    return TokenChoice{u.token, false, failure.message + "; using the static token instead"};
  }
  if (contents && contents->empty()) {
    // kubectl loads it and sends no token (its file token source refuses an empty file and the
    // request goes without a header): anonymous, not a refusal.
    return TokenChoice{{}, false, failure.message + ": kubectl sends no token", false};
  }
  if (contents) {
    // White space only: client-go puts the file's bytes, untrimmed, in the Authorization header,
    // and Go's HTTP client refuses every request (seen by the differential harness).
    return TokenChoice{{}, false, {}, true};
  }
  return failure;
}

// Go's %U for what cleanANSIEscapeCodes replaces: "U+001B".
std::string unicode_escape(unsigned codePoint) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "U+";
  for (int shift = 12; shift >= 0; shift -= 4) {
    out += kHex[(codePoint >> shift) & 0xF];
  }
  return out;
}

// client-go strips terminal control sequences from installHint before printing it, so a
// kubeconfig cannot drive the user's terminal: control characters other than \t..\r (C0, DEL,
// and the UTF-8 encoded C1 range) become their U+XXXX spelling.
std::string clean_ansi_escape_codes(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && (c < 0x09 || c > 0x0D)) || c == 0x7F) {
      out += unicode_escape(c);
    } else if (c == 0xC2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      out += unicode_escape(static_cast<unsigned char>(text[i + 1]));
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// The legacy auth-provider plugins client-go still registers (../shared/K8S-CLIENT-SPEC.md 3.10).
// gcp and azure are stubs whose only job is this message; anything else unknown fails like
// rest.GetAuthProvider.
Status check_auth_provider(const AuthProvider& p, const std::string& origin) {
  const std::string where = origin.empty() ? "auth-provider" : origin + ".auth-provider";
  if (p.name == "gcp") {
    return at(where,
              "The gcp auth plugin has been removed.\n"
              "Please use the \"gke-gcloud-auth-plugin\" kubectl/client-go credential plugin "
              "instead.\n"
              "See https://cloud.google.com/blog/products/containers-kubernetes/"
              "kubectl-auth-changes-in-gke for further details");
  }
  if (p.name == "azure") {
    return at(where,
              "The azure auth plugin has been removed.\n"
              "Please use the https://github.com/Azure/kubelogin kubectl/client-go credential "
              "plugin instead.\n"
              "See https://kubernetes.io/docs/reference/access-authn-authz/authentication/"
              "#client-go-credential-plugins for further details");
  }
  if (p.name != "oidc") {
    return at(where, "no Auth Provider found for name " + quote(p.name));
  }
  for (const char* required : {"idp-issuer-url", "client-id"}) {
    const auto found = p.config.find(required);
    if (found == p.config.end() || found->second.empty()) {
      return at(where, std::string("Must provide ") + required);
    }
  }
  return {};
}

// The TLS side of an https server, in the order client-go's transport meets it: the CA with
// the insecure flag, then the CA, client certificate and key files read and parsed. A key
// without a certificate is left out, as client-go's transport does (HasCertAuth).
Status load_tls(const Cluster& cluster, const AuthInfo& user, const ConfigOverrides& o,
                ClientConfig& out) {
  const bool hasCa =
      !cluster.certificateAuthority.empty() || !cluster.certificateAuthorityData.empty();
  if (cluster.insecureSkipTlsVerify && hasCa) {
    return at(
        !o.certificateAuthority.empty() ? std::string("--certificate-authority") : cluster.origin,
        "specifying a root certificates file with the insecure flag is not allowed");
  }
  Result<std::string> ca =
      data_or_file(cluster.certificateAuthorityData, cluster.certificateAuthority,
                   field_source(o.certificateAuthority, "--certificate-authority", cluster.origin,
                                "certificate-authority"));
  if (!ca) {
    return ca.error();
  }
  out.caPem = std::move(ca).value();
  Status pem =
      check_pem(out.caPem,
                pem_source(cluster.certificateAuthorityData, o.certificateAuthority,
                           "--certificate-authority", cluster.origin, "certificate-authority"),
                false);
  if (!pem) {
    return pem;
  }
  if (cluster.certificateAuthorityData.empty()) {
    out.caFile = cluster.certificateAuthority;
  }
  if (user.clientCertificate.empty() && user.clientCertificateData.empty()) {
    return {};
  }
  Result<std::string> cert = data_or_file(
      user.clientCertificateData, user.clientCertificate,
      field_source(o.clientCertificate, "--client-certificate", user.origin, "client-certificate"));
  if (!cert) {
    return cert.error();
  }
  out.clientCertPem = std::move(cert).value();
  pem = check_pem(out.clientCertPem,
                  pem_source(user.clientCertificateData, o.clientCertificate,
                             "--client-certificate", user.origin, "client-certificate"),
                  false);
  if (!pem) {
    return pem;
  }
  Result<std::string> key =
      data_or_file(user.clientKeyData, user.clientKey,
                   field_source(o.clientKey, "--client-key", user.origin, "client-key"));
  if (!key) {
    return key.error();
  }
  out.clientKeyPem = std::move(key).value();
  pem = check_pem(
      out.clientKeyPem,
      pem_source(user.clientKeyData, o.clientKey, "--client-key", user.origin, "client-key"), true);
  if (!pem) {
    return pem;
  }
  if (user.clientCertificateData.empty()) {
    out.clientCertificateFile = user.clientCertificate;
  }
  if (user.clientKeyData.empty()) {
    out.clientKeyFile = user.clientKey;
  }
  return {};
}

// Reads the credentials of an https server into `out` and picks authMethod, in client-go's
// order: the token (file) when the config is built, the exec plugin's apiVersion and the
// auth-provider when the transport config is, the TLS files, then token beside basic auth in
// the transport's wrappers (../shared/K8S-CLIENT-SPEC.md 1.9, 1.12, 3.10).
Status load_credentials(const Cluster& cluster, const AuthInfo& user, const ConfigOverrides& o,
                        ClientConfig& out) {
  Result<TokenChoice> token = resolve_token(user);
  if (!token) {
    return token.error();
  }
  out.token = token->token;
  if (token->blank) {
    out.problems.push_back(
        {"config.token",
         true,
         field_source("", "", user.origin, "tokenFile") + " (" + user.tokenFile +
             ") holds only white space: kubectl puts it in the Authorization header and fails "
             "every request (net/http: invalid header field value for \"Authorization\")",
         "write the token into " + user.tokenFile + " (one line), or remove tokenFile",
         {{"tokenFile", user.tokenFile}}});
  }
  if (token->fromFile) {
    out.tokenFilePath = user.tokenFile;
    if (!o.token.empty()) {
      out.problems.push_back(
          {"config.token",
           false,
           "--token is not sent: kubectl sends the token of " +
               field_source("", "", user.origin, "tokenFile") + " (" + user.tokenFile +
               "), which wins over a static token while it is readable",
           "remove tokenFile from the user, or select a user without one (--user)",
           {{"tokenFile", user.tokenFile}}});
    }
  }
  if (user.exec) {
    if (Status version = check_exec_api_version(user); !version) {
      return version;
    }
    out.exec = user.exec;
    out.exec->installHint = clean_ansi_escape_codes(out.exec->installHint);
  }
  if (user.authProvider) {
    Status provider = check_auth_provider(*user.authProvider, user.origin);
    if (!provider) {
      return provider;
    }
    out.authProvider = user.authProvider;
  }
  if (Status tls = load_tls(cluster, user, o, out); !tls) {
    return tls;
  }
  // client-go's transport refuses a bearer token (a tokenFile counts) beside basic auth; its
  // validation before that only compares token with basic.
  if ((!out.token.empty() || !user.tokenFile.empty()) &&
      (!user.username.empty() || !user.password.empty())) {
    return at(user.origin, "username/password or bearer token may be set, but not both");
  }
  if (!token->warning.empty()) {
    out.warnings.push_back(token->warning);
  }
  out.username = user.username;
  out.password = user.password;

  // exec.go's UpdateTransportConfig steps aside when a token, basic auth or a client
  // certificate is configured; a bearer or basic header set first also makes the auth-provider
  // wrappers pass the request through untouched.
  if (!out.clientCertPem.empty()) {
    out.authMethod = "client-certificate";
  } else if (!out.token.empty()) {
    out.authMethod = token->fromFile ? "token-file" : "token";
  } else if (!out.username.empty()) {
    out.authMethod = "basic";
  } else if (out.exec) {
    out.authMethod = "exec";
  } else if (out.authProvider) {
    out.authMethod = "auth-provider:" + out.authProvider->name;
  }
  // oidc sends its cached id-token as a bearer token; refreshing an expired one needs the
  // identity provider, which kubectl would call and we do not.
  if (out.authProvider && out.authProvider->name == "oidc" && out.token.empty()) {
    const auto idToken = out.authProvider->config.find("id-token");
    if (idToken != out.authProvider->config.end() && !idToken->second.empty()) {
      out.token = idToken->second;
    } else {
      out.warnings.push_back(
          at(user.origin,
             "auth-provider oidc has no id-token; kubectl would fetch one with the "
             "refresh-token, which this tool does not do")
              .message);
    }
  }
  return {};
}

bool has_credentials(const AuthInfo& u) {
  return !u.clientCertificate.empty() || !u.clientCertificateData.empty() || !u.token.empty() ||
         !u.tokenFile.empty() || !u.username.empty() || !u.password.empty() || u.exec ||
         u.authProvider;
}

}  // namespace

namespace detail {

Status validate_namespace(const std::string& name) {
  if (is_dns_label(name)) {
    return {};
  }
  return Error{"invalid namespace " + quote(name) +
               ": must be a lowercase RFC 1123 label (a-z, 0-9 and '-', at most 63 characters, "
               "starting and ending with a letter or digit)"};
}

}  // namespace detail

using detail::validate_namespace;

std::string kubectl_default_server(const EnvLookup& env) {
  std::string server = env_value(env, "KUBERNETES_MASTER").value_or("");
  if (server.empty()) {
    return "http://localhost:8080";
  }
  return server.find("://") == std::string::npos ? "http://" + server : server;
}

Result<ClientConfig> resolve_client_config(const Kubeconfig& config, const ConfigOverrides& o) {
  if (config.empty() && o.server.empty()) {
    return Error{std::string(kNoConfigurationError)};
  }
  ClientConfig out;
  out.sourceFiles = config.sourceFiles;
  out.warnings = config.warnings;
  out.contextName = o.context.empty() ? config.currentContext : o.context;

  std::optional<Context> context = entry_named(config.contexts, out.contextName);
  const Context selected = context.value_or(Context{});
  out.clusterName = o.cluster.empty() ? selected.cluster : o.cluster;
  out.userName = o.user.empty() ? selected.user : o.user;
  std::optional<Cluster> foundCluster = entry_named(config.clusters, out.clusterName);
  std::optional<AuthInfo> foundUser = entry_named(config.users, out.userName);
  Cluster cluster = foundCluster.value_or(Cluster{});
  AuthInfo user = foundUser.value_or(AuthInfo{});
  apply_cluster_overrides(cluster, o);
  apply_auth_overrides(user, o);

  // client-go's DirectClientConfig. ClientConfig() wants a user, context or cluster named by a
  // flag to exist (checked in that order), then ConfirmUsable(): the selected context exists,
  // the user's validation, the cluster's. kubectl asks for the namespace first unless -n is
  // given, and that runs ConfirmUsable() before the rest; names the context gives need not exist.
  auto required_names = [&]() -> Status {
    if (!o.user.empty() && !foundUser) {
      return not_defined("auth info", o.user);
    }
    if (!o.context.empty() && !context) {
      return not_defined("context", o.context);
    }
    if (!o.cluster.empty() && !foundCluster) {
      return not_defined("cluster", o.cluster);
    }
    return {};
  };
  auto confirm_usable = [&]() -> Status {
    if (!context) {
      if (!o.context.empty()) {
        return not_defined("context", o.context);
      }
      return at(config.currentContextOrigin,
                "context " + quote(out.contextName) +
                    " does not exist (kubectl: \"context was not found for specified context: " +
                    out.contextName + "\")");
    }
    // A --user naming nothing validates as an empty user; a --cluster naming nothing has no
    // server.
    if (o.user.empty() || foundUser) {
      if (Status valid = validate_auth_info(user, out.userName, o); !valid) {
        return valid;
      }
    }
    if (!o.cluster.empty() && !foundCluster) {
      return Error{"cluster " + quote(o.cluster) +
                   " does not exist (kubectl: \"no server found for cluster " + quote(o.cluster) +
                   "\")"};
    }
    return validate_cluster(cluster, field_source(o.certificateAuthority, "--certificate-authority",
                                                  cluster.origin, "certificate-authority"));
  };
  // ClientConfig() runs ConfirmUsable again after the names; once passed, it passes again.
  const bool namespaceFirst = o.namespaceName.empty();
  if (Status first = namespaceFirst ? confirm_usable() : required_names(); !first) {
    return first.error();
  }
  if (Status second = namespaceFirst ? required_names() : confirm_usable(); !second) {
    return second.error();
  }

  const std::string setContext =
      "kubectl config set-context " + (out.contextName.empty() ? "NAME" : out.contextName);
  if (!foundUser) {
    out.userMissing = true;
    out.problems.push_back(
        {"config.user",
         true,
         "context " + quote(out.contextName) + " names user " + quote(out.userName) +
             ", which no kubeconfig defines: kubectl goes on without credentials (and asks for a "
             "username when it has a terminal)",
         "define user " + quote(out.userName) +
             " in the kubeconfig, or point the context at an existing user: " + setContext +
             " --user=NAME",
         {{"context", out.contextName}, {"user", out.userName}}});
  }

  // kubectl merges its cluster defaults under the cluster: with no server from the kubeconfig
  // or --server, it dials $KUBERNETES_MASTER or http://localhost:8080 ("The connection to the
  // server localhost:8080 was refused").
  const std::string fallback =
      o.clusterDefaultServer.empty() ? kubectl_default_server() : o.clusterDefaultServer;
  if (!foundCluster) {
    const bool given = !cluster.server.empty();  // --server
    const std::string server = given ? cluster.server : fallback;
    out.problems.push_back(
        {"config.cluster",
         !given,
         "context " + quote(out.contextName) + " names cluster " + quote(out.clusterName) +
             ", which no kubeconfig defines: kubectl dials " + server +
             (given ? " (--server)" : " (its default)") + " instead",
         "define cluster " + quote(out.clusterName) +
             " in the kubeconfig, or point the context at an existing cluster: " + setContext +
             " --cluster=NAME",
         {{"context", out.contextName}, {"cluster", out.clusterName}, {"server", server}}});
  } else if (cluster.server.empty()) {
    std::string why;
    std::string fix;
    std::string where;
    if (out.contextName.empty()) {
      why = "no context is selected (no current-context, no --context)";
      fix = "select a context: kubectl config use-context NAME, or pass --context or --server";
    } else if (out.clusterName.empty()) {
      why = "context " + quote(out.contextName) + " names no cluster";
      fix = "point the context at a cluster: " + setContext + " --cluster=NAME";
      where = selected.origin;
    } else {
      why = "cluster " + quote(out.clusterName) + " has no server";
      fix = "set the cluster's server: kubectl config set-cluster " + out.clusterName +
            " --server=https://HOST:PORT";
      where = cluster.origin;
    }
    out.problems.push_back(
        {"config.cluster",
         true,
         (where.empty() ? std::string() : where + ": ") + why + ": kubectl dials " + fallback +
             " (its default)",
         fix,
         {{"context", out.contextName}, {"cluster", out.clusterName}, {"server", fallback}}});
  }
  if (cluster.server.empty()) {
    cluster.server = fallback;
    out.serverIsDefault = true;
  }
  const bool keyWithoutCert = (!user.clientKey.empty() || !user.clientKeyData.empty()) &&
                              user.clientCertificate.empty() && user.clientCertificateData.empty();
  if (keyWithoutCert) {
    out.problems.push_back(
        {"config.client-cert",
         false,
         field_source(o.clientKey, "--client-key", user.origin, "client-key") +
             " is set without a client certificate: kubectl ignores the key and sends no "
             "client certificate",
         "add the certificate beside the key (client-certificate or client-certificate-data), "
         "or remove the key",
         {{"user", out.userName}}});
  }

  out.namespaceName = !o.namespaceName.empty()          ? o.namespaceName
                      : !selected.namespaceName.empty() ? selected.namespaceName
                                                        : "default";
  // kubectl does not check the namespace's name; the API server refuses it in the URL.
  if (Status name = validate_namespace(out.namespaceName); !name) {
    out.problems.push_back(
        {"config.namespace",
         false,
         name.error().message + ": the API server will refuse requests in it",
         !o.namespaceName.empty()
             ? std::string("pass a valid name to -n")
             : "set the context's namespace to a valid name: " + setContext + " --namespace=NAME",
         {{"namespace", out.namespaceName}}});
  }

  // client-go picks http or https before it merges the TLS settings (IsConfigTransportTLS on a
  // bare host says no), so a server without a scheme is dialled over plain http, without
  // credentials; one with a path but no scheme is refused.
  std::string server = cluster.server;
  if (server.find("://") == std::string::npos) {
    const std::string origin =
        !o.server.empty() ? std::string("--server") : cluster.origin + ".server";
    if (server.find('/') != std::string::npos) {
      return at(origin, "host must be a URL or a host:port pair: " + quote(server));
    }
    server = "http://" + server;
    out.problems.push_back(
        {"config.server",
         true,
         origin + " " + quote(cluster.server) + " has no scheme: kubectl dials " + server +
             " over plain http and sends no credentials",
         "write the scheme: https://" + cluster.server +
             (o.server.empty() ? " (kubectl config set-cluster " +
                                     (out.clusterName.empty() ? "NAME" : out.clusterName) +
                                     " --server=https://" + cluster.server + ")"
                               : std::string()),
         {{"server", server}}});
  }
  out.server = normalize_server_url(server);
  out.host = client_go_host(server);
  out.insecure = cluster.insecureSkipTlsVerify;
  out.tlsServerName = cluster.tlsServerName;
  out.proxyUrl = cluster.proxyUrl;
  out.disableCompression = cluster.disableCompression;
  const auto extension = cluster.extensions.find(std::string(kExecClusterExtension));
  if (extension != cluster.extensions.end()) {
    out.execClusterConfig = extension->second;
  }
  // Impersonation is set before client-go's TLS check, so it applies to http servers too.
  out.impersonate = user.impersonate;
  out.impersonateUid = user.impersonateUid;
  out.impersonateGroups = user.impersonateGroups;
  out.impersonateUserExtra = user.impersonateUserExtra;
  out.tokenFile = user.tokenFile;

  // client-go reads the TLS settings and user credentials only when the transport is TLS
  // (../shared/K8S-CLIENT-SPEC.md 1.11): for http the CA, certificate and key files are only
  // checked to open (above), and the transport's checks never run.
  if (split_url(out.server).scheme != "https") {
    if (has_credentials(user)) {
      out.warnings.push_back(
          "the server " + out.server + " is not https: the credentials of " +
          (out.userName.empty() ? std::string("the flags") : "user " + quote(out.userName)) +
          " are not sent");
    }
    return out;
  }
  Status valid = load_credentials(cluster, user, o, out);
  if (!valid) {
    return valid.error();
  }
  return out;
}

}  // namespace kp::core
