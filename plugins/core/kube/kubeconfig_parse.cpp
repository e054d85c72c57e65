// Parsing one kubeconfig file's contents (no I/O): typed fields, relative paths resolved against
// the file, extensions as JSON, and errors that name the file and the field.
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/kube/kubeconfig.h"
#include "core/kube/kubeconfig_detail.h"
#include "core/util/base64.h"
#include "core/util/files.h"
#include "core/util/yaml.h"

namespace kp::core {
namespace fs = std::filesystem;
using detail::quote;
namespace {

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

  // Null and absent mean "not set"; a mapping or list where a string belongs is an error, and
  // so is an unquoted value YAML 1.1 reads as a bool or number (kubectl refuses it).
  std::string string(const YAML::Node& map, const std::string& path, const char* key) {
    return string_value(map[key], child(path, key));
  }

  std::string string_value(const YAML::Node& node, const std::string& path) {
    if (!ok() || !node || node.IsNull()) {
      return {};
    }
    if (!node.IsScalar()) {
      fail(path, "expected a string");
      return {};
    }
    if (is_plain(node)) {
      const Yaml11Scalar typed = resolve_yaml11(node.Scalar());
      if (typed.kind == Yaml11Scalar::Kind::null) {
        return {};
      }
      if (typed.kind != Yaml11Scalar::Kind::string) {
        // The value itself is not quoted back: it may be a token or a password.
        const std::string type(json_type_name(typed));
        fail(path, "expected a string: unquoted, YAML 1.1 reads this value as a " + type +
                       " (kubectl: \"json: cannot unmarshal " + type +
                       " into Go struct field ... of type string\"); put it in quotes");
        return {};
      }
    }
    return node.Scalar();
  }

  // YAML 1.1's booleans (true, yes, on, y, ...), unquoted: a quoted "true" is a string to
  // kubectl, which refuses it.
  bool boolean(const YAML::Node& map, const std::string& path, const char* key) {
    const YAML::Node node = map[key];
    if (!ok() || !node || node.IsNull()) {
      return false;
    }
    if (!node.IsScalar()) {
      fail(child(path, key), "expected true or false");
      return false;
    }
    const Yaml11Scalar typed = is_plain(node) ? resolve_yaml11(node.Scalar()) : Yaml11Scalar{};
    if (typed.kind == Yaml11Scalar::Kind::null) {
      return false;
    }
    if (typed.kind != Yaml11Scalar::Kind::boolean) {
      const std::string type(json_type_name(typed));
      fail(child(path, key), "expected true or false, not a " + type +
                                 " (kubectl: \"json: cannot unmarshal " + type +
                                 " into Go struct field ... of type bool\")" +
                                 (is_plain(node) ? "" : ": write it without quotes"));
      return false;
    }
    return typed.boolean;
  }

  // yaml-cpp tags plain scalars "?"; quoted ones "!", and explicit tags spell themselves out.
  static bool is_plain(const YAML::Node& node) { return node.Tag() == "?"; }

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

  // A file reference; relative paths resolve against the defining file's directory
  // (../shared/K8S-CLIENT-SPEC.md 1.5).
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
    for (std::size_t i = 0; i < node.size() && ok(); ++i) {
      out.push_back(string_value(node[i], child(path, key) + "[" + std::to_string(i) + "]"));
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
      const std::string name = key_text(item.first, child(path, key));
      if (!ok()) {
        break;
      }
      out[name] = string_value(item.second, child(child(path, key), name));
    }
    return out;
  }

  // A mapping key as kubectl's YAML-to-JSON step spells it: unquoted YAML 1.1 booleans and
  // numbers become "true", "16", "1.5"; a null key is refused, an integer key above 2^63-1, a
  // mapping or list as a key too.
  std::string key_text(const YAML::Node& key, const std::string& path) {
    if (!ok()) {
      return {};
    }
    if (!key.IsScalar() && !key.IsNull()) {
      fail(path, "a mapping or list as a key (kubectl: \"unsupported map key\")");
      return {};
    }
    if (!key.IsNull() && !is_plain(key)) {
      return key.Scalar();
    }
    const std::string text = key.IsNull() ? std::string() : key.Scalar();
    const Yaml11Scalar typed = resolve_yaml11(text);
    const std::string spelled = yaml11_key_text(typed, text);
    if (spelled.empty()) {
      fail(path, typed.kind == Yaml11Scalar::Kind::unsignedInteger
                     ? "an integer key above 9223372036854775807 (kubectl: \"unsupported map "
                       "key of type: uint64\"); put it in quotes"
                     : "a null key (kubectl: \"unsupported map key of type: <nil>\")");
    }
    return spelled;
  }

 private:
  std::string file_;
  fs::path dir_;
  std::optional<Error> error_;
};

// Extensions are arbitrary objects; the exec plugin receives them as JSON
// (../shared/K8S-CLIENT-SPEC.md 1.17), typed as kubectl's YAML types them (YAML 1.1: `n` is
// false, `0x10` is 16; keys too, spelled "false", "16"). Quoted scalars stay strings.
nlohmann::json yaml_to_json(FieldReader& r, const YAML::Node& node, const std::string& path) {
  if (!r.ok()) {
    return nullptr;
  }
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      if (!FieldReader::is_plain(node)) {
        return node.Scalar();
      }
      const Yaml11Scalar typed = resolve_yaml11(node.Scalar());
      switch (typed.kind) {
        case Yaml11Scalar::Kind::null:
          return nullptr;
        case Yaml11Scalar::Kind::boolean:
          return typed.boolean;
        case Yaml11Scalar::Kind::integer:
          return typed.integer;
        case Yaml11Scalar::Kind::unsignedInteger:
          return typed.unsignedInteger;
        case Yaml11Scalar::Kind::floating:
          if (!std::isfinite(typed.floating)) {
            r.fail(path,
                   "unquoted, YAML reads this value as an infinity or NaN, which JSON cannot hold "
                   "(kubectl: \"json: unsupported value\"); put it in quotes");
            return nullptr;
          }
          return typed.floating;
        case Yaml11Scalar::Kind::string:
          break;
      }
      return node.Scalar();
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      std::size_t i = 0;
      for (const auto& item : node) {
        array.push_back(yaml_to_json(r, item, path + "[" + std::to_string(i++) + "]"));
      }
      return array;
    }
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& item : node) {
        const std::string key = r.key_text(item.first, path);
        if (!r.ok()) {
          break;
        }
        object[key] = yaml_to_json(r, item.second, child(path, key));
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
    out[name] = yaml_to_json(r, list[i]["extension"], itemPath + ".extension");
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
  // Only a command holding the platform's separator (Go's filepath.Separator: '\\' on Windows)
  // is a file reference; "aws" is looked up on PATH.
  if (e.command.find(kPathSeparator) != std::string::npos) {
    e.command = r.resolve(e.command);
  }
  e.args = r.strings(n, path, "args");
  e.apiVersion = r.string(n, path, "apiVersion");
  e.installHint = r.string(n, path, "installHint");
  e.provideClusterInfo = r.boolean(n, path, "provideClusterInfo");
  e.interactiveMode = r.string(n, path, "interactiveMode");
  // clientcmd's v1 defaulting: the older plugin APIs predate the field
  // (../shared/K8S-CLIENT-SPEC.md 3.3).
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
    const std::string key = r.key_text(item.first, path + ".as-user-extra");
    if (!r.ok()) {
      break;
    }
    extra[key] = r.strings(node, path + ".as-user-extra", item.first.Scalar().c_str());
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
    return config;  // an empty file is an empty config (../shared/K8S-CLIENT-SPEC.md 1.2)
  }
  if (!root.IsMap()) {
    return Error{r.file() + ": expected a mapping at the top level"};
  }
  config.currentContext = r.string(root, "", "current-context");
  if (!config.currentContext.empty()) {
    config.currentContextOrigin = r.file() + ": current-context";
  }
  parse_named_list(r, root, "clusters", "cluster", config.clusters, parse_cluster);
  parse_named_list(r, root, "users", "user", config.users, parse_auth_info);
  parse_named_list(r, root, "contexts", "context", config.contexts, parse_context);
  if (!r.ok()) {
    return r.error();
  }
  return config;
}

}  // namespace

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

}  // namespace kp::core
