#include "core/kube/kubeconfig.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <system_error>

#include <yaml-cpp/yaml.h>

#include "core/net/x509.h"
#include "core/util/base64.h"
#include "core/util/files.h"
#include "core/util/text.h"
#include "core/util/url.h"
#include "core/util/yaml.h"

namespace kp::core {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kNoConfiguration =
    "invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER "
    "environment variable";

// Prefixes `message` with where the offending value came from, when that is known.
Error at(std::string_view origin, std::string_view message) {
  if (origin.empty()) {
    return Error{std::string(message)};
  }
  return Error{std::string(origin) + ": " + std::string(message)};
}

std::string quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// "clusters[0].cluster" + "server"; the top level has an empty path.
std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Reads typed fields out of one file's YAML. The first error sticks and later reads are no-ops,
// so the entry parsers below read like a field list instead of a ladder of error checks.
class FieldReader {
 public:
  FieldReader(std::string file, fs::path dir) : file_(std::move(file)), dir_(std::move(dir)) {}

  const std::string& file() const { return file_; }
  bool ok() const { return !error_.has_value(); }
  Error error() const { return *error_; }

  void fail(std::string_view path, std::string_view message) {
    if (ok()) {
      error_ = Error{file_ + ": " + std::string(path) + ": " + std::string(message)};
    }
  }

  // Null and absent mean "not set"; a mapping or list where a string belongs is an error.
  std::string string(const YAML::Node& map, const std::string& path, const char* key) {
    const YAML::Node node = map[key];
    if (!ok() || !node || node.IsNull()) {
      return {};
    }
    if (!node.IsScalar()) {
      fail(child(path, key), "expected a string");
      return {};
    }
    return node.Scalar();
  }

  bool boolean(const YAML::Node& map, const std::string& path, const char* key) {
    const YAML::Node node = map[key];
    bool value = false;
    if (!ok() || !node || node.IsNull()) {
      return false;
    }
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      fail(child(path, key), "expected true or false");
    }
    return value;
  }

  std::string base64(const YAML::Node& map, const std::string& path, const char* key) {
    const std::string text = string(map, path, key);
    if (text.empty()) {
      return {};
    }
    Result<std::string> bytes = decode_base64(text);
    if (!bytes) {
      fail(child(path, key), bytes.error().message);
      return {};
    }
    return std::move(bytes).value();
  }

  // A file reference; relative paths resolve against the defining file's directory (spec 1.5).
  std::string file_path(const YAML::Node& map, const std::string& path, const char* key) {
    return resolve(string(map, path, key));
  }

  std::string resolve(const std::string& value) const {
    if (value.empty() || dir_.empty() || fs::path(value).is_absolute()) {
      return value;
    }
    return (dir_ / value).lexically_normal().string();
  }

  std::vector<std::string> strings(const YAML::Node& map, const std::string& path,
                                   const char* key) {
    const YAML::Node node = map[key];
    std::vector<std::string> out;
    if (!ok() || !node || node.IsNull()) {
      return out;
    }
    if (!node.IsSequence()) {
      fail(child(path, key), "expected a list of strings");
      return out;
    }
    for (std::size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar()) {
        fail(child(path, key) + "[" + std::to_string(i) + "]", "expected a string");
        return out;
      }
      out.push_back(node[i].Scalar());
    }
    return out;
  }

  // Fails unless `node` is a mapping or empty; callers then read fields from it safely.
  bool expect_map(const YAML::Node& node, const std::string& path) {
    if (ok() && node && !node.IsNull() && !node.IsMap()) {
      fail(path, "expected a mapping");
    }
    return ok();
  }

  // A map of strings, like auth-provider's `config`.
  std::map<std::string, std::string> string_map(const YAML::Node& map, const std::string& path,
                                                const char* key) {
    std::map<std::string, std::string> out;
    const YAML::Node node = map[key];
    if (!expect_map(node, child(path, key)) || !node || node.IsNull()) {
      return out;
    }
    for (const auto& item : node) {
      const std::string name = item.first.Scalar();
      if (item.second.IsNull()) {
        out[name];
        continue;
      }
      if (!item.second.IsScalar()) {
        fail(child(child(path, key), name), "expected a string");
        return out;
      }
      out[name] = item.second.Scalar();
    }
    return out;
  }

 private:
  std::string file_;
  fs::path dir_;
  std::optional<Error> error_;
};

// A plain YAML scalar typed by the YAML 1.2 core schema; quoted scalars stay strings.
nlohmann::json plain_scalar_to_json(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  std::int64_t integer = 0;
  const char* end = text.data() + text.size();
  auto [intEnd, intError] = std::from_chars(text.data(), end, integer);
  if (intError == std::errc() && intEnd == end) {
    return integer;
  }
  double number = 0;
  auto [floatEnd, floatError] = std::from_chars(text.data(), end, number);
  if (floatError == std::errc() && floatEnd == end && std::isfinite(number)) {
    return number;
  }
  return text;
}

// Extensions are arbitrary objects; the exec plugin receives them as JSON (spec 1.17).
nlohmann::json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      // yaml-cpp tags plain scalars "?"; quoted ones "!" and explicit tags spell themselves out.
      if (node.Tag() == "?") {
        return plain_scalar_to_json(node.Scalar());
      }
      return node.Scalar();
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) {
        array.push_back(yaml_to_json(item));
      }
      return array;
    }
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& item : node) {
        object[item.first.Scalar()] = yaml_to_json(item.second);
      }
      return object;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return nullptr;
}

// `extensions: [{name: ..., extension: {...}}]`, as in clientcmd's v1 NamedExtension list.
std::map<std::string, nlohmann::json> parse_extensions(FieldReader& r, const YAML::Node& n,
                                                       const std::string& path) {
  std::map<std::string, nlohmann::json> out;
  const YAML::Node list = n["extensions"];
  const std::string listPath = child(path, "extensions");
  if (!r.ok() || !list || list.IsNull()) {
    return out;
  }
  if (!list.IsSequence()) {
    r.fail(listPath, "expected a list");
    return out;
  }
  for (std::size_t i = 0; i < list.size() && r.ok(); ++i) {
    const std::string itemPath = listPath + "[" + std::to_string(i) + "]";
    if (!list[i].IsMap()) {
      r.fail(itemPath, "expected a mapping");
      break;
    }
    const std::string name = r.string(list[i], itemPath, "name");
    out[name] = yaml_to_json(list[i]["extension"]);
  }
  return out;
}

Cluster parse_cluster(FieldReader& r, const YAML::Node& n, const std::string& path) {
  Cluster c;
  c.server = r.string(n, path, "server");
  c.tlsServerName = r.string(n, path, "tls-server-name");
  c.insecureSkipTlsVerify = r.boolean(n, path, "insecure-skip-tls-verify");
  c.certificateAuthority = r.file_path(n, path, "certificate-authority");
  c.certificateAuthorityData = r.base64(n, path, "certificate-authority-data");
  c.proxyUrl = r.string(n, path, "proxy-url");
  c.disableCompression = r.boolean(n, path, "disable-compression");
  c.extensions = parse_extensions(r, n, path);
  return c;
}

ExecConfig parse_exec(FieldReader& r, const YAML::Node& n, const std::string& path) {
  ExecConfig e;
  e.command = r.string(n, path, "command");
  // Only a command with a path separator is a file reference; "aws" is looked up on PATH.
  if (e.command.find('/') != std::string::npos) {
    e.command = r.resolve(e.command);
  }
  e.args = r.strings(n, path, "args");
  e.apiVersion = r.string(n, path, "apiVersion");
  e.installHint = r.string(n, path, "installHint");
  e.provideClusterInfo = r.boolean(n, path, "provideClusterInfo");
  e.interactiveMode = r.string(n, path, "interactiveMode");
  // clientcmd's v1 defaulting: the older plugin APIs predate the field (spec 3.3).
  if (e.interactiveMode.empty() && (e.apiVersion == "client.authentication.k8s.io/v1beta1" ||
                                    e.apiVersion == "client.authentication.k8s.io/v1alpha1")) {
    e.interactiveMode = "IfAvailable";
  }
  const YAML::Node env = n["env"];
  if (!r.ok() || !env || env.IsNull()) {
    return e;
  }
  if (!env.IsSequence()) {
    r.fail(path + ".env", "expected a list");
    return e;
  }
  for (std::size_t i = 0; i < env.size() && r.ok(); ++i) {
    const std::string itemPath = path + ".env[" + std::to_string(i) + "]";
    if (!r.expect_map(env[i], itemPath)) {
      break;
    }
    e.env.emplace_back(r.string(env[i], itemPath, "name"), r.string(env[i], itemPath, "value"));
  }
  return e;
}

std::map<std::string, std::vector<std::string>> parse_user_extra(FieldReader& r,
                                                                 const YAML::Node& n,
                                                                 const std::string& path) {
  std::map<std::string, std::vector<std::string>> extra;
  const YAML::Node node = n["as-user-extra"];
  if (!r.expect_map(node, path + ".as-user-extra") || !node || node.IsNull()) {
    return extra;
  }
  for (const auto& item : node) {
    const std::string key = item.first.Scalar();
    extra[key] = r.strings(node, path + ".as-user-extra", key.c_str());
  }
  return extra;
}

AuthInfo parse_auth_info(FieldReader& r, const YAML::Node& n, const std::string& path) {
  AuthInfo u;
  u.clientCertificate = r.file_path(n, path, "client-certificate");
  u.clientCertificateData = r.base64(n, path, "client-certificate-data");
  u.clientKey = r.file_path(n, path, "client-key");
  u.clientKeyData = r.base64(n, path, "client-key-data");
  u.token = r.string(n, path, "token");
  u.tokenFile = r.file_path(n, path, "tokenFile");
  u.username = r.string(n, path, "username");
  u.password = r.string(n, path, "password");
  u.impersonate = r.string(n, path, "as");
  u.impersonateUid = r.string(n, path, "as-uid");
  u.impersonateGroups = r.strings(n, path, "as-groups");
  u.impersonateUserExtra = parse_user_extra(r, n, path);
  const YAML::Node authProvider = n["auth-provider"];
  if (authProvider && !authProvider.IsNull() &&
      r.expect_map(authProvider, path + ".auth-provider")) {
    AuthProvider provider;
    provider.name = r.string(authProvider, path + ".auth-provider", "name");
    provider.config = r.string_map(authProvider, path + ".auth-provider", "config");
    u.authProvider = std::move(provider);
  }
  const YAML::Node exec = n["exec"];
  if (exec && !exec.IsNull() && r.expect_map(exec, path + ".exec")) {
    u.exec = parse_exec(r, exec, path + ".exec");
  }
  return u;
}

Context parse_context(FieldReader& r, const YAML::Node& n, const std::string& path) {
  Context c;
  c.cluster = r.string(n, path, "cluster");
  c.user = r.string(n, path, "user");
  c.namespaceName = r.string(n, path, "namespace");
  return c;
}

// Reads one `<list>: [{name: ..., <entry>: {...}}]` section into a map keyed by name.
template <class Entry, class ParseEntry>
void parse_named_list(FieldReader& r, const YAML::Node& root, const char* listKey,
                      const char* entryKey, std::map<std::string, Entry>& out,
                      ParseEntry parse_entry) {
  const YAML::Node list = root[listKey];
  if (!r.ok() || !list || list.IsNull()) {
    return;
  }
  if (!list.IsSequence()) {
    r.fail(listKey, "expected a list");
    return;
  }
  for (std::size_t i = 0; i < list.size() && r.ok(); ++i) {
    const std::string itemPath = std::string(listKey) + "[" + std::to_string(i) + "]";
    const YAML::Node item = list[i];
    if (!item.IsMap()) {
      r.fail(itemPath, "expected a mapping");
      return;
    }
    const std::string name = r.string(item, itemPath, "name");
    const std::string entryPath = itemPath + "." + entryKey;
    const YAML::Node body = item[entryKey];
    if (!r.expect_map(body, entryPath)) {
      return;
    }
    Entry entry = parse_entry(r, body, entryPath);
    entry.origin = r.file() + ": " + entryPath;
    // client-go's list-to-map conversion rejects a name repeated within one file.
    if (r.ok() && !out.try_emplace(name, std::move(entry)).second) {
      r.fail(itemPath + ".name", "duplicate name " + quote(name));
    }
  }
}

Result<Kubeconfig> parse_document(FieldReader& r, const YAML::Node& root) {
  Kubeconfig config;
  if (!root || root.IsNull()) {
    return config;  // an empty file is an empty config (spec 1.2)
  }
  if (!root.IsMap()) {
    return Error{r.file() + ": expected a mapping at the top level"};
  }
  config.currentContext = r.string(root, "", "current-context");
  parse_named_list(r, root, "clusters", "cluster", config.clusters, parse_cluster);
  parse_named_list(r, root, "users", "user", config.users, parse_auth_info);
  parse_named_list(r, root, "contexts", "context", config.contexts, parse_context);
  if (!r.ok()) {
    return r.error();
  }
  return config;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

// The flags win over the kubeconfig, with client-go's extra clearing rules (spec 1.13).
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
  // --token is an explicit credential and beats the kubeconfig's tokenFile (spec 1.12). client-go
  // itself keeps the tokenFile next to a --token and lets a readable file win; we follow the spec,
  // since a user typing --token means that token.
  if (!o.token.empty()) {
    u.token = o.token;
    u.tokenFile.clear();
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

Status validate_cluster(const Cluster& c) {
  if (!c.certificateAuthority.empty() && !c.certificateAuthorityData.empty()) {
    return at(c.origin, "certificate-authority-data and certificate-authority are both specified");
  }
  const bool hasCa = !c.certificateAuthority.empty() || !c.certificateAuthorityData.empty();
  if (c.insecureSkipTlsVerify && hasCa) {
    return at(c.origin,
              "specifying a root certificates file with the insecure flag is not allowed");
  }
  return validate_proxy_url(c);
}

// client-go names the auth info in its messages ("... for admin ..."); flags-only has no name.
std::string for_name(const std::string& name) {
  return name.empty() ? std::string() : " for " + name;
}

constexpr std::string_view kExecV1 = "client.authentication.k8s.io/v1";
constexpr std::string_view kExecV1beta1 = "client.authentication.k8s.io/v1beta1";

// clientcmd's validateAuthInfo exec checks (spec 3.1-3.3, 3.9), then exec.go's apiVersion check,
// which client-go only reaches when it builds the transport; here it fails at load time.
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
  if (e.apiVersion != kExecV1 && e.apiVersion != kExecV1beta1) {
    return at(u.origin, "exec plugin: invalid apiVersion " + quote(e.apiVersion));
  }
  return {};
}

Status validate_auth_info(const AuthInfo& u, const std::string& name) {
  if (!u.clientCertificate.empty() && !u.clientCertificateData.empty()) {
    return at(u.origin, "client-certificate-data and client-certificate are both specified");
  }
  if (!u.clientKey.empty() && !u.clientKeyData.empty()) {
    return at(u.origin, "client-key-data and client-key are both specified");
  }
  const bool hasCert = !u.clientCertificate.empty() || !u.clientCertificateData.empty();
  const bool hasKey = !u.clientKey.empty() || !u.clientKeyData.empty();
  if (hasCert && !hasKey) {
    return at(u.origin,
              "client-key-data or client-key must be specified to use the clientCert "
              "authentication method");
  }
  if (hasKey && !hasCert) {
    return at(u.origin,
              "client-certificate-data or client-certificate must be specified to use the "
              "clientCert authentication method");
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

// A namespace must be an RFC 1123 DNS label (spec 1.7).
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

std::string field_source(const std::string& flagValue, std::string_view flag,
                         const std::string& origin, std::string_view field) {
  if (!flagValue.empty()) {
    return std::string(flag);
  }
  return origin.empty() ? std::string(field) : origin + "." + std::string(field);
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

// The legacy auth-provider plugins client-go still registers (spec 3.10). gcp and azure are
// stubs whose only job is this message; anything else unknown fails like rest.GetAuthProvider.
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

// Reads the user's credentials into `out` and picks authMethod (spec 1.9, 1.12, 3.10).
Status load_credentials(const AuthInfo& user, const ConfigOverrides& o, ClientConfig& out) {
  Result<std::string> cert = data_or_file(
      user.clientCertificateData, user.clientCertificate,
      field_source(o.clientCertificate, "--client-certificate", user.origin, "client-certificate"));
  if (!cert) {
    return cert.error();
  }
  out.clientCertPem = std::move(cert).value();
  Status pem = check_pem(out.clientCertPem,
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

  Result<TokenChoice> token = resolve_token(user);
  if (!token) {
    return token.error();
  }
  out.token = token->token;
  if (token->fromFile) {
    out.tokenFilePath = user.tokenFile;
  }
  if (!token->warning.empty()) {
    out.warnings.push_back(token->warning);
  }
  out.username = user.username;
  out.password = user.password;
  if (user.exec) {
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

std::optional<std::string> lookup_env(const InClusterEnvironment& env, const std::string& name) {
  if (env.getenv) {
    return env.getenv(name);
  }
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

std::string env_or_empty(const InClusterEnvironment& env, const std::string& name) {
  return lookup_env(env, name).value_or("");
}

// net.JoinHostPort: an IPv6 literal needs brackets before the port.
std::string join_host_port(const std::string& host, const std::string& port) {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + port;
  }
  return host + ":" + port;
}

Status validate_namespace(const std::string& name) {
  if (is_dns_label(name)) {
    return {};
  }
  return Error{"invalid namespace " + quote(name) +
               ": must be a lowercase RFC 1123 label (a-z, 0-9 and '-', at most 63 characters, "
               "starting and ending with a letter or digit)"};
}

}  // namespace

LoadingRules LoadingRules::from_environment(std::string explicitPath) {
  LoadingRules rules;
  rules.explicitPath = std::move(explicitPath);
  const char* env = std::getenv("KUBECONFIG");
  rules.kubeconfigEnv = env != nullptr ? env : "";
  const char* home = std::getenv("HOME");
  rules.home = home != nullptr ? home : "";
  return rules;
}

std::vector<fs::path> LoadingRules::precedence() const {
  if (!explicitPath.empty()) {
    return {fs::path(explicitPath)};
  }
  if (!kubeconfigEnv.empty()) {
    std::vector<fs::path> files;
    std::set<std::string> seen;
    for (const auto& entry : split(kubeconfigEnv, ':')) {
      if (!entry.empty() && seen.insert(entry).second) {
        files.emplace_back(entry);
      }
    }
    return files;
  }
  if (home.empty()) {
    return {};
  }
  return {fs::path(home) / ".kube" / "config"};
}

Result<Kubeconfig> parse_kubeconfig(std::string_view contents, const fs::path& path) {
  FieldReader reader(path.string(), path.parent_path());
  try {
    return parse_document(reader, load_yaml(contents));
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports 0-based positions; editors count from 1.
    if (e.mark.is_null()) {
      return Error{path.string() + ": " + e.msg};
    }
    return Error{path.string() + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                 std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
}

Kubeconfig merge_kubeconfigs(std::vector<Kubeconfig> configs) {
  Kubeconfig merged;
  for (Kubeconfig& config : configs) {
    if (merged.currentContext.empty()) {
      merged.currentContext = config.currentContext;
    }
    // std::map::merge leaves a key already present in the target alone: first writer wins.
    merged.clusters.merge(config.clusters);
    merged.users.merge(config.users);
    merged.contexts.merge(config.contexts);
    merged.sourceFiles.insert(merged.sourceFiles.end(), config.sourceFiles.begin(),
                              config.sourceFiles.end());
    merged.warnings.insert(merged.warnings.end(), config.warnings.begin(), config.warnings.end());
  }
  return merged;
}

Result<Kubeconfig> load_kubeconfig(const LoadingRules& rules) {
  std::vector<Kubeconfig> configs;
  std::vector<std::string> missing;
  for (const fs::path& file : rules.precedence()) {
    if (!path_exists(file)) {
      if (!rules.explicitPath.empty()) {
        return Error{"--kubeconfig: stat " + file.string() + ": no such file or directory"};
      }
      missing.push_back(file.string());
      continue;
    }
    std::error_code ec;
    fs::path absolute = fs::absolute(file, ec);
    if (ec) {
      absolute = file;
    }
    Result<std::string> contents = read_file(absolute);
    if (!contents) {
      return contents.error();
    }
    Result<Kubeconfig> parsed = parse_kubeconfig(*contents, absolute);
    if (!parsed) {
      return parsed.error();
    }
    parsed->sourceFiles = {absolute.string()};
    configs.push_back(std::move(parsed).value());
  }
  Kubeconfig merged = merge_kubeconfigs(std::move(configs));
  // Like client-go: a missing KUBECONFIG entry is normal, all of them missing deserves a word.
  if (merged.sourceFiles.empty() && !missing.empty() && rules.explicitPath.empty() &&
      !rules.kubeconfigEnv.empty()) {
    merged.warnings.push_back("Config not found: " + join(missing, ", "));
  }
  return merged;
}

Result<ClientConfig> resolve_client_config(const Kubeconfig& config, const ConfigOverrides& o) {
  if (config.empty() && o.server.empty()) {
    return Error{std::string(kNoConfiguration)};
  }
  ClientConfig out;
  out.sourceFiles = config.sourceFiles;
  out.warnings = config.warnings;
  out.contextName = o.context.empty() ? config.currentContext : o.context;

  Context context;
  if (!out.contextName.empty()) {
    const auto found = config.contexts.find(out.contextName);
    if (found == config.contexts.end()) {
      return Error{"context " + quote(out.contextName) + " does not exist"};
    }
    context = found->second;
  }
  out.clusterName = o.cluster.empty() ? context.cluster : o.cluster;
  out.userName = o.user.empty() ? context.user : o.user;

  Cluster cluster;
  if (!out.clusterName.empty()) {
    const auto found = config.clusters.find(out.clusterName);
    if (found == config.clusters.end()) {
      return Error{"cluster " + quote(out.clusterName) + " does not exist"};
    }
    cluster = found->second;
  }
  AuthInfo user;
  if (!out.userName.empty()) {
    const auto found = config.users.find(out.userName);
    if (found == config.users.end()) {
      return Error{"auth info " + quote(out.userName) + " does not exist"};
    }
    user = found->second;
  }
  apply_cluster_overrides(cluster, o);
  apply_auth_overrides(user, o);

  if (cluster.server.empty()) {
    if (out.contextName.empty()) {
      return Error{"no context is selected: set current-context or pass --context or --server"};
    }
    if (out.clusterName.empty()) {
      return at(context.origin, "context " + quote(out.contextName) + " names no cluster");
    }
    return at(cluster.origin, "no server found for cluster " + quote(out.clusterName));
  }
  Status valid = validate_cluster(cluster);
  if (!valid) {
    return valid.error();
  }
  valid = validate_auth_info(user, out.userName);
  if (!valid) {
    return valid.error();
  }

  out.namespaceName = !o.namespaceName.empty()         ? o.namespaceName
                      : !context.namespaceName.empty() ? context.namespaceName
                                                       : "default";
  valid = validate_namespace(out.namespaceName);
  if (!valid) {
    return valid.error();
  }

  out.server = normalize_server_url(cluster.server);
  out.insecure = cluster.insecureSkipTlsVerify;
  out.tlsServerName = cluster.tlsServerName;
  out.proxyUrl = cluster.proxyUrl;
  out.disableCompression = cluster.disableCompression;
  const auto extension = cluster.extensions.find(std::string(kExecClusterExtension));
  if (extension != cluster.extensions.end()) {
    out.execClusterConfig = extension->second;
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
    return pem.error();
  }
  if (cluster.certificateAuthorityData.empty()) {
    out.caFile = cluster.certificateAuthority;
  }
  // Impersonation is set before client-go's TLS check, so it applies to http servers too.
  out.impersonate = user.impersonate;
  out.impersonateUid = user.impersonateUid;
  out.impersonateGroups = user.impersonateGroups;
  out.impersonateUserExtra = user.impersonateUserExtra;
  out.tokenFile = user.tokenFile;

  // client-go reads user credentials only when the transport is TLS (spec 1.11).
  if (split_url(out.server).scheme != "https") {
    if (has_credentials(user)) {
      out.warnings.push_back(
          "the server " + out.server + " is not https: the credentials of " +
          (out.userName.empty() ? std::string("the flags") : "user " + quote(out.userName)) +
          " are not sent");
    }
    return out;
  }
  valid = load_credentials(user, o, out);
  if (!valid) {
    return valid.error();
  }
  return out;
}

InClusterEnvironment InClusterEnvironment::system() {
  InClusterEnvironment env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
  return env;
}

bool in_cluster_possible(const InClusterEnvironment& env) {
  if (env_or_empty(env, "KUBERNETES_SERVICE_HOST").empty() ||
      env_or_empty(env, "KUBERNETES_SERVICE_PORT").empty()) {
    return false;
  }
  std::error_code ec;
  const fs::file_status token = fs::status(env.serviceAccountDir / "token", ec);
  return !ec && fs::exists(token) && !fs::is_directory(token);
}

Result<ClientConfig> in_cluster_config(const ConfigOverrides& o, const InClusterEnvironment& env) {
  const std::string host = env_or_empty(env, "KUBERNETES_SERVICE_HOST");
  const std::string port = env_or_empty(env, "KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Error{
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT must be defined"};
  }
  ClientConfig out;
  out.inCluster = true;
  out.server =
      o.server.empty() ? "https://" + join_host_port(host, port) : normalize_server_url(o.server);

  if (!o.token.empty()) {
    out.token = o.token;
    out.authMethod = "token";
  } else {
    const fs::path tokenPath = env.serviceAccountDir / "token";
    Result<std::string> token = read_file(tokenPath);
    if (!token) {
      return token.error().prefixed("in-cluster configuration");
    }
    out.token = std::string(trim(*token));
    if (out.token.empty()) {
      return Error{"in-cluster configuration: read " + tokenPath.string() + ": empty token file"};
    }
    out.tokenFile = tokenPath.string();
    out.tokenFilePath = out.tokenFile;
    out.authMethod = "token-file";
  }

  if (!o.certificateAuthority.empty()) {
    Result<std::string> ca = read_file(o.certificateAuthority);
    if (!ca) {
      return ca.error().prefixed("--certificate-authority");
    }
    out.caPem = std::move(ca).value();
    out.caFile = o.certificateAuthority;
  } else {
    // rest.InClusterConfig logs an unreadable CA and goes on with the system roots.
    const fs::path caPath = env.serviceAccountDir / "ca.crt";
    Result<std::string> ca = read_file(caPath);
    if (ca) {
      out.caPem = std::move(ca).value();
      out.caFile = caPath.string();
    } else {
      out.warnings.push_back("in-cluster configuration: " + ca.error().message +
                             "; using the system trust store");
    }
  }

  // -n still wins: client-go's deferred loader asks the in-cluster namespace only when the
  // flags and the kubeconfig set none.
  out.namespaceName = o.namespaceName;
  if (out.namespaceName.empty()) {
    out.namespaceName = env_or_empty(env, "POD_NAMESPACE");
  }
  if (out.namespaceName.empty()) {
    Result<std::string> ns = read_file(env.serviceAccountDir / "namespace");
    if (ns) {
      out.namespaceName = std::string(trim(*ns));
    }
  }
  if (out.namespaceName.empty()) {
    out.namespaceName = "default";
  }
  Status valid = validate_namespace(out.namespaceName);
  if (!valid) {
    return valid.error();
  }
  return out;
}

Result<ClientConfig> load_client_config(const LoadingRules& rules,
                                        const ConfigOverrides& overrides) {
  return load_client_config(rules, overrides, InClusterEnvironment::system());
}

Result<ClientConfig> load_client_config(const LoadingRules& rules, const ConfigOverrides& o,
                                        const InClusterEnvironment& inCluster) {
  Result<Kubeconfig> config = load_kubeconfig(rules);
  if (!config) {
    return config.error();
  }
  // client-go falls back to in-cluster when the kubeconfig yields only the default config:
  // nothing selected by current-context and no flag that picks a server or an entry.
  const bool selectsNothing = config->currentContext.empty() && o.server.empty() &&
                              o.context.empty() && o.cluster.empty() && o.user.empty();
  if (selectsNothing && in_cluster_possible(inCluster)) {
    Result<ClientConfig> client = in_cluster_config(o, inCluster);
    if (client) {
      client->warnings.insert(client->warnings.begin(), config->warnings.begin(),
                              config->warnings.end());
    }
    return client;
  }
  return resolve_client_config(*config, o);
}

}  // namespace kp::core
