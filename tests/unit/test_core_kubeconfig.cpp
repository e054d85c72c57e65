#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/kube/kubeconfig.h"
#include "core/util/base64.h"
#include "core/util/files.h"
#include "core/util/yaml.h"
#include "test_support_certs.h"

using namespace kp::core;
namespace fs = std::filesystem;

namespace {

// The loader parses certificates and keys before using them, so the fixtures' placeholders
// ("CA-PEM", "CERT", "KEY", and the FLAG- ones for flag overrides) stand for real PEM, made
// once per run; each placeholder gets its own certificate or key so tests can tell them apart.
const std::string& pem_for(const std::string& placeholder) {
  static const std::map<std::string, std::string> pems = [] {
    std::map<std::string, std::string> m;
    for (const char* name : {"CA-PEM", "CERT", "FLAG-CA", "FLAG-CERT"}) {
      kp::testcerts::CertSpec spec;
      spec.commonName = name;
      m[name] = kp::testcerts::issue(spec).certPem();
    }
    for (const char* name : {"KEY", "FLAG-KEY"}) {
      m[name] =
          kp::testcerts::key_pem_pkcs8(kp::testcerts::make_key(kp::testcerts::KeyKind::ecdsaP256));
    }
    return m;
  }();
  return pems.at(placeholder);
}

// Replaces the base64 placeholders of the YAML fixtures (base64 of "CA-PEM", "CERT", "KEY").
std::string with_real_pem(std::string_view yaml) {
  std::string text(yaml);
  const std::pair<const char*, const char*> tokens[] = {
      {"Q0EtUEVN", "CA-PEM"}, {"Q0VSVA==", "CERT"}, {"S0VZ", "KEY"}};
  for (const auto& [token, placeholder] : tokens) {
    for (auto at = text.find(token); at != std::string::npos; at = text.find(token, at)) {
      const std::string real = encode_base64(pem_for(placeholder));
      text.replace(at, std::string_view(token).size(), real);
      at += real.size();
    }
  }
  return text;
}

Kubeconfig parse(std::string_view fixture, const fs::path& path = "/k/config") {
  const std::string yaml = with_real_pem(fixture);
  Result<Kubeconfig> config = parse_kubeconfig(yaml, path);
  if (!config) {
    FAIL("parse failed: " << config.error().message);
  }
  return std::move(config).value();
}

// A scratch directory removed at scope exit, for the few tests that need real files.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("kp-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Placeholder contents ("CERT", "FLAG-KEY", ...) are written as the real PEM they stand for.
  fs::path write(const std::string& name, std::string_view contents) const {
    const fs::path file = path_ / name;
    static const std::set<std::string_view> placeholders = {"CA-PEM",  "CERT",      "KEY",
                                                            "FLAG-CA", "FLAG-CERT", "FLAG-KEY"};
    std::ofstream(file) << (placeholders.count(contents) > 0 ? pem_for(std::string(contents))
                                                             : with_real_pem(contents));
    return file;
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

constexpr std::string_view kLab = R"(
apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: https://api.lab.test:6443
    certificate-authority-data: Q0EtUEVN
- name: other
  cluster:
    server: https://other.test:6443
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
contexts:
- name: lab
  context:
    cluster: lab
    user: admin
    namespace: kube-system
- name: empty
  context:
    cluster: other
)";

}  // namespace

TEST_CASE("core::parse_kubeconfig reads the fields", "[kubeconfig]") {
  const Kubeconfig config = parse(kLab);
  CHECK(config.currentContext == "lab");
  REQUIRE(config.clusters.count("lab") == 1);
  const Cluster& lab = config.clusters.at("lab");
  CHECK(lab.server == "https://api.lab.test:6443");
  CHECK(lab.certificateAuthorityData == pem_for("CA-PEM"));
  CHECK(lab.origin == "/k/config: clusters[0].cluster");
  CHECK(config.users.at("admin").clientCertificateData == pem_for("CERT"));
  CHECK(config.users.at("admin").clientKeyData == pem_for("KEY"));
  CHECK(config.contexts.at("lab").namespaceName == "kube-system");
}

TEST_CASE("core::parse_kubeconfig treats an empty file as an empty config", "[kubeconfig]") {
  CHECK(parse("").empty());
  CHECK(parse("   \n\n").empty());
  CHECK(parse("# only a comment\n").empty());
  CHECK(parse("apiVersion: v1\nkind: Config\n").empty());
}

// [posix]: relative paths joined with '/' as on Unix; Windows joins with backslashes
TEST_CASE("core::parse_kubeconfig resolves relative paths against the file",
          "[kubeconfig][posix]") {
  const Kubeconfig config = parse(R"(
clusters:
- name: c
  cluster:
    server: https://h
    certificate-authority: ca.crt
- name: abs
  cluster:
    server: https://h
    certificate-authority: /etc/pki/ca.crt
users:
- name: u
  user:
    client-certificate: ../pki/client.crt
    client-key: keys/client.key
    tokenFile: token
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/credential-helper
- name: path-lookup
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: aws
      args: [eks, get-token]
      env:
      - name: AWS_PROFILE
        value: lab
)",
                                  "/home/u/.kube/config");
  CHECK(config.clusters.at("c").certificateAuthority == "/home/u/.kube/ca.crt");
  CHECK(config.clusters.at("abs").certificateAuthority == "/etc/pki/ca.crt");
  const AuthInfo& u = config.users.at("u");
  CHECK(u.clientCertificate == "/home/u/pki/client.crt");
  CHECK(u.clientKey == "/home/u/.kube/keys/client.key");
  CHECK(u.tokenFile == "/home/u/.kube/token");
  REQUIRE(u.exec);
  CHECK(u.exec->command == "/home/u/.kube/bin/credential-helper");
  const AuthInfo& lookup = config.users.at("path-lookup");
  REQUIRE(lookup.exec);
  CHECK(lookup.exec->command == "aws");
  CHECK(lookup.exec->args == std::vector<std::string>{"eks", "get-token"});
  CHECK(lookup.exec->env ==
        std::vector<std::pair<std::string, std::string>>{{"AWS_PROFILE", "lab"}});
}

// client-go resolves an exec command against the kubeconfig's directory when it holds Go's
// filepath.Separator: '/' here, '\\' on Windows (where "./bin/x" is left to the current
// directory, and "bin\\x" is the file's).
TEST_CASE("core::parse_kubeconfig resolves an exec command holding the path separator",
          "[kubeconfig]") {
  const auto command_of = [](const std::string& command, const std::string& file) {
    const auto config = parse_kubeconfig(
        "users:\n- name: u\n  user:\n    exec:\n"
        "      apiVersion: client.authentication.k8s.io/v1\n"
        "      command: '" +
            command + "'\n",
        file);
    REQUIRE(config);
    REQUIRE(config->users.at("u").exec);
    return config->users.at("u").exec->command;
  };
#ifdef _WIN32
  CHECK(command_of("bin\\kubelogin.exe", "C:\\Users\\me\\.kube\\config") ==
        "C:\\Users\\me\\.kube\\bin\\kubelogin.exe");
  CHECK(command_of("./bin/kubelogin", "C:\\Users\\me\\.kube\\config") == "./bin/kubelogin");
#else
  CHECK(command_of("./bin/kubelogin", "/home/me/.kube/config") == "/home/me/.kube/bin/kubelogin");
  CHECK(command_of("bin\\kubelogin", "/home/me/.kube/config") == "bin\\kubelogin");
#endif
  CHECK(command_of("kubelogin", "/home/me/.kube/config") == "kubelogin");
}

TEST_CASE("core::parse_kubeconfig errors name the file and field", "[kubeconfig]") {
  SECTION("bad base64") {
    const auto config = parse_kubeconfig(R"(
clusters:
- name: c
  cluster:
    server: https://h
    certificate-authority-data: not*base64
)",
                                         "/k/config");
    CHECK(config.error().message ==
          "/k/config: clusters[0].cluster.certificate-authority-data: illegal base64 data at "
          "input byte 3");
  }
  SECTION("bad base64 in a user") {
    const auto config = parse_kubeconfig(R"(
users:
- name: a
  user: {}
- name: b
  user:
    client-key-data: "QQ="
)",
                                         "/k/config");
    CHECK(config.error().message ==
          "/k/config: users[1].user.client-key-data: illegal base64 data at input byte 3");
  }
  SECTION("wrong type") {
    const auto config =
        parse_kubeconfig("clusters:\n- name: c\n  cluster:\n    server: [a]\n", "/k/config");
    CHECK(config.error().message == "/k/config: clusters[0].cluster.server: expected a string");
    const auto list = parse_kubeconfig("contexts: {a: b}\n", "/k/config");
    CHECK(list.error().message == "/k/config: contexts: expected a list");
    const auto flag = parse_kubeconfig(
        "clusters:\n- name: c\n  cluster:\n    insecure-skip-tls-verify: maybe\n", "/k/config");
    CHECK(flag.error().message ==
          "/k/config: clusters[0].cluster.insecure-skip-tls-verify: expected true or false, not "
          "a string (kubectl: \"json: cannot unmarshal string into Go struct field ... of type "
          "bool\")");
  }
  SECTION("duplicate name in one file") {
    const auto config = parse_kubeconfig(
        "clusters:\n- name: c\n  cluster: {server: a}\n- name: c\n  cluster: {server: b}\n",
        "/k/config");
    CHECK(config.error().message == "/k/config: clusters[1].name: duplicate name \"c\"");
  }
  SECTION("YAML syntax errors carry the line") {
    const auto config = parse_kubeconfig("clusters:\n- name: [c\n", "/k/config");
    REQUIRE_FALSE(config);
    CHECK(config.error().message.rfind("/k/config: line ", 0) == 0);
  }
  SECTION("a top level that is not a mapping") {
    CHECK(parse_kubeconfig("- a\n- b\n", "/k/config").error().message ==
          "/k/config: expected a mapping at the top level");
  }
  SECTION("a quoted token never closed") {
    // yaml-cpp alone reads the rest of the file into the token and finds no contexts.
    const auto config = parse_kubeconfig(R"(users:
- name: u
  user:
    token: "abc
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
)",
                                         "/k/config");
    REQUIRE_FALSE(config);
    CHECK(config.error().message ==
          "/k/config: line 4, column 12: found unexpected end of stream: the double-quoted "
          "string opened here is never closed");
  }
}

TEST_CASE("core::load_yaml refuses only quoted scalars that are never closed", "[kubeconfig]") {
  const auto refused = [](std::string_view text) {
    try {
      (void)load_yaml(text);
      return std::string();
    } catch (const YAML::ParserException& e) {
      return std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + " " +
             e.msg;
    }
  };
  CHECK(refused("a: 'it''s\n") ==
        "1:4 found unexpected end of stream: the single-quoted string opened here is never closed");
  CHECK(refused("a: x\nb: \"c\\\"\n") ==
        "2:4 found unexpected end of stream: the double-quoted string opened here is never closed");
  // Closed, with escapes, over lines, in flow, not last, or quotes inside plain scalars.
  CHECK(refused("a: 'it''s'\n").empty());
  CHECK(refused("a: \"c\\\\\"\n").empty());
  CHECK(refused("a: \"x\n  y\"\nb: 1\n").empty());
  CHECK(refused("a: {b: \"x\", c: 'y'}\n").empty());
  CHECK(refused("a: \"x\"\nb: it's\n").empty());
  CHECK(refused("a: it's \"q\n").empty());
  CHECK(refused("").empty());
  CHECK(load_yaml("a: \"x\n  y\"\n")["a"].as<std::string>() == "x y");
  // A billion laughs (9^9 scalars through aliases) is not walked node by node: the check gives
  // up after 100,000 nodes instead of running for minutes.
  std::string bomb = "a: &a [\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\"]\n";
  for (char name = 'b'; name <= 'i'; ++name) {
    const std::string prev = std::string("*") + static_cast<char>(name - 1);
    bomb += std::string(1, name) + ": &" + name + " [" + prev;
    for (int i = 0; i < 8; ++i) {
      bomb += "," + prev;
    }
    bomb += "]\n";
  }
  CHECK(load_yaml(bomb).IsMap());
  CHECK(refused(bomb + "z: \"open\n").empty());  // not found within the budget: no check
}

TEST_CASE("core::merge_kubeconfigs merges by first writer", "[kubeconfig]") {
  const Kubeconfig first = parse(R"(
current-context: one
clusters:
- name: shared
  cluster:
    server: https://first
contexts:
- name: one
  context: {cluster: shared}
)",
                                 "/a/config");
  const Kubeconfig second = parse(R"(
current-context: two
clusters:
- name: shared
  cluster:
    server: https://second
    insecure-skip-tls-verify: true
- name: only-second
  cluster:
    server: https://only-second
contexts:
- name: two
  context: {cluster: only-second}
)",
                                  "/b/config");
  const Kubeconfig merged = merge_kubeconfigs({first, second});
  CHECK(merged.currentContext == "one");
  // The first file's entry wins whole: no field of the second file's "shared" leaks in.
  CHECK(merged.clusters.at("shared").server == "https://first");
  CHECK_FALSE(merged.clusters.at("shared").insecureSkipTlsVerify);
  CHECK(merged.clusters.at("shared").origin == "/a/config: clusters[0].cluster");
  CHECK(merged.clusters.at("only-second").server == "https://only-second");
  CHECK(merged.contexts.count("two") == 1);

  SECTION("an empty current-context does not claim the slot") {
    const Kubeconfig none = parse("clusters: []\n", "/z/config");
    CHECK(merge_kubeconfigs({none, second}).currentContext == "two");
  }
}

TEST_CASE("core::resolve_client_config picks context, cluster and user", "[kubeconfig]") {
  const Kubeconfig config = parse(kLab);
  SECTION("from current-context") {
    const auto client = resolve_client_config(config, {});
    REQUIRE(client);
    CHECK(client->contextName == "lab");
    CHECK(client->clusterName == "lab");
    CHECK(client->userName == "admin");
    CHECK(client->server == "https://api.lab.test:6443");
    CHECK(client->caPem == pem_for("CA-PEM"));
    CHECK(client->clientCertPem == pem_for("CERT"));
    CHECK(client->clientKeyPem == pem_for("KEY"));
    CHECK(client->namespaceName == "kube-system");
  }
  SECTION("--context, and namespace defaults to default") {
    ConfigOverrides o;
    o.context = "empty";
    const auto client = resolve_client_config(config, o);
    REQUIRE(client);
    CHECK(client->clusterName == "other");
    CHECK(client->userName.empty());
    CHECK(client->namespaceName == "default");
  }
  SECTION("-n beats the context's namespace") {
    ConfigOverrides o;
    o.namespaceName = "apps";
    CHECK(resolve_client_config(config, o)->namespaceName == "apps");
    // kubectl does not check the name (the API server refuses it): a warning, not a refusal
    o.namespaceName = "Not_A_Label";
    const auto odd = resolve_client_config(config, o);
    REQUIRE(odd);
    CHECK(odd->namespaceName == "Not_A_Label");
    REQUIRE(odd->problems.size() == 1);
    CHECK(odd->problems[0].id == "config.namespace");
    CHECK_FALSE(odd->problems[0].failure);
    CHECK(odd->problems[0].message.starts_with("invalid namespace \"Not_A_Label\": "));
  }
  SECTION("missing names") {
    ConfigOverrides o;
    o.context = "nope";
    CHECK(resolve_client_config(config, o).error().message == "context \"nope\" does not exist");
    o = {};
    o.cluster = "nope";
    // kubectl asks for the namespace first, which validates an empty cluster (the lab's
    // kubectl: `no server found for cluster "nope"`); with -n it reaches getCluster() first.
    CHECK(resolve_client_config(config, o).error().message ==
          "cluster \"nope\" does not exist (kubectl: \"no server found for cluster \"nope\"\")");
    o.namespaceName = "ns";
    CHECK(resolve_client_config(config, o).error().message == "cluster \"nope\" does not exist");
    o = {};
    o.user = "nope";
    CHECK(resolve_client_config(config, o).error().message == "auth info \"nope\" does not exist");
  }
  SECTION("a current-context that names nothing: refused, as kubectl refuses it") {
    const Kubeconfig dangling = parse("current-context: gone\n");
    CHECK(resolve_client_config(dangling, {}).error().message ==
          "/k/config: current-context: context \"gone\" does not exist (kubectl: \"context was "
          "not found for specified context: gone\")");
  }
}

// kubectl goes on where the context names what nothing defines, and where no server is given
// at all: checked with the lab's kubectl (-v=6 shows the URL it dials).
TEST_CASE("core::resolve_client_config goes on where kubectl goes on, recording the problem",
          "[kubeconfig]") {
  const Kubeconfig config = parse(R"(
current-context: x2
clusters:
- {name: c0, cluster: {server: "https://198.18.0.9:6443"}}
- {name: bare, cluster: {insecure-skip-tls-verify: true}}
users:
- {name: u0, user: {token: abc}}
contexts:
- {name: x2, context: {cluster: c0, user: u1}}
- {name: x3, context: {cluster: c1, user: u0}}
- {name: none, context: {user: u0}}
- {name: bare, context: {cluster: bare, user: u0}}
)");
  ConfigOverrides o;
  SECTION("a user defined nowhere: no credentials, a config.user failure") {
    const auto client = resolve_client_config(config, o);
    REQUIRE(client);
    CHECK(client->server == "https://198.18.0.9:6443");
    CHECK(client->authMethod == "none");
    CHECK(client->userMissing);
    CHECK_FALSE(client->serverIsDefault);
    REQUIRE(client->problems.size() == 1);
    CHECK(client->problems[0].id == "config.user");
    CHECK(client->problems[0].failure);
    CHECK(client->problems[0].message ==
          "context \"x2\" names user \"u1\", which no kubeconfig defines: kubectl goes on without "
          "credentials (and asks for a username when it has a terminal)");
    CHECK(client->problems[0].hint.find("kubectl config set-context x2 --user=NAME") !=
          std::string::npos);
  }
  SECTION("--token with a user defined nowhere: the flag's token, as kubectl sends it") {
    o.token = "flag-token";
    const auto client = resolve_client_config(config, o);
    REQUIRE(client);
    CHECK(client->authMethod == "token");
    CHECK(client->token == "flag-token");
  }
  SECTION("a cluster defined nowhere, with --server: a warning, the flag's server") {
    o.context = "x3";
    o.server = "https://198.18.0.10:6443";
    const auto client = resolve_client_config(config, o);
    REQUIRE(client);
    CHECK(client->server == "https://198.18.0.10:6443");
    CHECK(client->authMethod == "token");
    REQUIRE(client->problems.size() == 1);
    CHECK(client->problems[0].id == "config.cluster");
    CHECK_FALSE(client->problems[0].failure);
    CHECK(client->problems[0].details["server"] == "https://198.18.0.10:6443");
    CHECK_FALSE(client->serverIsDefault);
  }
  SECTION("a cluster defined nowhere, without --server: kubectl's default server, a failure") {
    o.context = "x3";
    o.clusterDefaultServer = "http://198.18.0.11:8080";
    const auto client = resolve_client_config(config, o);
    REQUIRE(client);
    CHECK(client->server == "http://198.18.0.11:8080");
    CHECK(client->serverIsDefault);
    REQUIRE(client->problems.size() == 1);
    CHECK(client->problems[0].failure);
    CHECK(client->problems[0].message ==
          "context \"x3\" names cluster \"c1\", which no kubeconfig defines: kubectl dials "
          "http://198.18.0.11:8080 (its default) instead");
    // over plain http client-go sends no credential
    CHECK(client->authMethod == "none");
  }
  SECTION("no clusterDefaultServer: http://localhost:8080") {
    o.context = "x3";
    CHECK(resolve_client_config(config, o)->server == "http://localhost:8080");
  }
  SECTION("a context without a cluster, a cluster without a server, no context at all") {
    for (const auto& [context, message] : std::vector<std::pair<std::string, std::string>>{
             {"none",
              "/k/config: contexts[2].context: context \"none\" names no cluster: kubectl "
              "dials http://localhost:8080 (its default)"},
             {"bare",
              "/k/config: clusters[1].cluster: cluster \"bare\" has no server: kubectl "
              "dials http://localhost:8080 (its default)"}}) {
      o.context = context;
      const auto client = resolve_client_config(config, o);
      REQUIRE(client);
      CHECK(client->server == "http://localhost:8080");
      CHECK(client->serverIsDefault);
      REQUIRE(client->problems.size() == 1);
      CHECK(client->problems[0].id == "config.cluster");
      CHECK(client->problems[0].message == message);
    }
    const auto unselected =
        resolve_client_config(parse("clusters: [{name: c, cluster: {}}]\n"), {});
    REQUIRE(unselected);
    CHECK(unselected->server == "http://localhost:8080");
    REQUIRE(unselected->problems.size() == 1);
    CHECK(unselected->problems[0].message.starts_with("no context is selected"));
  }
  SECTION("names given by flags stay refused") {
    o.user = "u1";
    CHECK(resolve_client_config(config, o).error().message == "auth info \"u1\" does not exist");
    o = {};
    o.cluster = "c1";
    o.namespaceName = "ns";
    CHECK(resolve_client_config(config, o).error().message == "cluster \"c1\" does not exist");
  }
  SECTION("in client-go's order") {
    // --user before --context before --cluster (ClientConfig), then ConfirmUsable; without -n
    // kubectl runs ConfirmUsable first (differential harness: kubectl names the missing
    // context, not the --user).
    o.user = "u1";
    o.context = "c-nope";
    o.cluster = "c1";
    CHECK(resolve_client_config(config, o).error().message == "context \"c-nope\" does not exist");
    o.namespaceName = "ns";
    CHECK(resolve_client_config(config, o).error().message == "auth info \"u1\" does not exist");
    o.user.clear();
    CHECK(resolve_client_config(config, o).error().message == "context \"c-nope\" does not exist");
    o.context.clear();
    CHECK(resolve_client_config(config, o).error().message == "cluster \"c1\" does not exist");
  }
}

TEST_CASE("core::kubectl_default_server", "[kubeconfig]") {
  const auto env = [](std::optional<std::string> master) -> kp::core::EnvLookup {
    return [master](const std::string& name) {
      return name == "KUBERNETES_MASTER" ? master : std::nullopt;
    };
  };
  CHECK(kp::core::kubectl_default_server(env(std::nullopt)) == "http://localhost:8080");
  CHECK(kp::core::kubectl_default_server(env("")) == "http://localhost:8080");
  CHECK(kp::core::kubectl_default_server(env("198.18.0.3:9")) == "http://198.18.0.3:9");
  CHECK(kp::core::kubectl_default_server(env("https://198.18.0.3:9")) == "https://198.18.0.3:9");
}

TEST_CASE("core::resolve_client_config without any configuration", "[kubeconfig]") {
  CHECK(resolve_client_config({}, {}).error().message ==
        "invalid configuration: no configuration has been provided, try setting "
        "KUBERNETES_MASTER environment variable");
  ConfigOverrides o;
  o.server = "https://flags-only:6443";
  const auto client = resolve_client_config({}, o);
  REQUIRE(client);
  CHECK(client->server == "https://flags-only:6443");
  CHECK(client->namespaceName == "default");
}

TEST_CASE("core::resolve_client_config normalizes the server", "[kubeconfig]") {
  ConfigOverrides o;
  o.server = "https://h:6443/prefix?watch=1#frag";
  CHECK(resolve_client_config({}, o)->server == "https://h:6443/prefix");
  // kubectl dials a server without a scheme over plain http (-v=6 with the lab's kubectl:
  // url="http://127.0.0.1:1/api", even with --certificate-authority)
  o.server = "h:6443";
  CHECK(resolve_client_config({}, o)->server == "http://h:6443");
}

TEST_CASE("core::resolve_client_config keeps client-go's Host for exec plugins", "[kubeconfig]") {
  // client_config.go cuts query and fragment only when the URL has a path longer than "/"; the
  // exec plugin's spec.cluster.server is that Host (seen by the differential harness).
  ConfigOverrides o;
  auto host = [&](const std::string& server) {
    o.server = server;
    const auto client = resolve_client_config({}, o);
    REQUIRE(client);
    return client->host;
  };
  CHECK(host("https://h:6443?q=1#frag") == "https://h:6443?q=1#frag");
  CHECK(host("https://h:6443/?q=1") == "https://h:6443/?q=1");
  CHECK(host("https://h:6443/prefix?q=1#frag") == "https://h:6443/prefix");
  CHECK(host("https://h:6443/prefix#frag") == "https://h:6443/prefix%23frag");
  CHECK(host("https://H:6443") == "https://H:6443");
}

// [posix]: file flags compared as Unix paths; Windows joins with backslashes
TEST_CASE("core::resolve_client_config applies flag overrides", "[kubeconfig][posix]") {
  const Kubeconfig config = parse(R"(
current-context: c
clusters:
- name: c
  cluster:
    server: https://kubeconfig:6443
    tls-server-name: kubeconfig-sni
    certificate-authority-data: Q0EtUEVN
users:
- name: u
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
contexts:
- name: c
  context: {cluster: c, user: u}
)");
  SECTION("-data is used without touching any file") {
    const auto client = resolve_client_config(config, {});
    REQUIRE(client);
    CHECK(client->caPem == pem_for("CA-PEM"));
    CHECK(client->tlsServerName == "kubeconfig-sni");
  }
  SECTION("--server clears the kubeconfig tls-server-name") {
    ConfigOverrides o;
    o.server = "https://flag:6443";
    CHECK(resolve_client_config(config, o)->tlsServerName.empty());
    o.tlsServerName = "flag-sni";
    CHECK(resolve_client_config(config, o)->tlsServerName == "flag-sni");
  }
  SECTION("--insecure-skip-tls-verify clears the kubeconfig CA") {
    ConfigOverrides o;
    o.insecureSkipTlsVerify = true;
    const auto client = resolve_client_config(config, o);
    REQUIRE(client);
    CHECK(client->insecure);
    CHECK(client->caPem.empty());
  }
  SECTION("file flags replace their -data twins") {
    TempDir dir;
    ConfigOverrides o;
    o.certificateAuthority = dir.write("ca.crt", "FLAG-CA").string();
    o.clientCertificate = dir.write("client.crt", "FLAG-CERT").string();
    o.clientKey = dir.write("client.key", "FLAG-KEY").string();
    const auto client = resolve_client_config(config, o);
    REQUIRE(client);
    CHECK(client->caPem == pem_for("FLAG-CA"));
    CHECK(client->clientCertPem == pem_for("FLAG-CERT"));
    CHECK(client->clientKeyPem == pem_for("FLAG-KEY"));
  }
  SECTION("a missing flag file names the flag") {
    ConfigOverrides o;
    o.certificateAuthority = "/nonexistent/ca.crt";
    CHECK(resolve_client_config(config, o).error().message ==
          "--certificate-authority: open /nonexistent/ca.crt: no such file or directory");
  }
}

// [posix]: the error quotes Unix paths; Windows spells them with backslashes
TEST_CASE("core::resolve_client_config validates the selected entries", "[kubeconfig][posix]") {
  auto resolve = [](std::string_view yaml) {
    return resolve_client_config(parse(yaml), {}).error().message;
  };
  SECTION("CA file and data both set") {
    CHECK(resolve(R"(
current-context: c
clusters:
- name: c
  cluster: {server: "https://h", certificate-authority: ca.crt, certificate-authority-data: QQ==}
contexts:
- name: c
  context: {cluster: c}
)") == "/k/config: clusters[0].cluster: certificate-authority-data and certificate-authority are "
       "both specified");
  }
  SECTION("client certificate file and data both set") {
    CHECK(resolve(R"(
current-context: c
clusters: [{name: c, cluster: {server: "https://h"}}]
users:
- name: u
  user: {client-certificate: c.crt, client-certificate-data: QQ==, client-key-data: QQ==}
contexts: [{name: c, context: {cluster: c, user: u}}]
)") == "/k/config: users[0].user: client-certificate-data and client-certificate are both "
       "specified");
  }
  SECTION("client certificate without a key") {
    CHECK(resolve(R"(
current-context: c
clusters: [{name: c, cluster: {server: "https://h"}}]
users: [{name: u, user: {client-certificate-data: QQ==}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
)") == "/k/config: users[0].user: client-key-data or client-key must be specified to use the "
       "clientCert authentication method");
  }
  SECTION("token and basic auth") {
    CHECK(resolve(R"(
current-context: c
clusters: [{name: c, cluster: {server: "https://h"}}]
users: [{name: u, user: {token: t, username: a, password: b}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
)") == "/k/config: users[0].user: more than one authentication method found for u; found "
       "[token basicAuth], only one is allowed");
  }
  SECTION("insecure with a CA") {
    CHECK(resolve(R"(
current-context: c
clusters: [{name: c, cluster: {server: "https://h", insecure-skip-tls-verify: true, certificate-authority-data: QQ==}}]
contexts: [{name: c, context: {cluster: c}}]
)") == "/k/config: clusters[0].cluster: specifying a root certificates file with the insecure "
       "flag is not allowed");
  }
  SECTION("an unsupported proxy scheme") {
    CHECK(resolve(R"(
current-context: c
clusters: [{name: c, cluster: {server: "https://h", proxy-url: "ftp://proxy:21"}}]
contexts: [{name: c, context: {cluster: c}}]
)") == "/k/config: clusters[0].cluster: proxy-url: unsupported scheme \"ftp\", must be http, "
       "https, or socks5");
  }
  SECTION("a missing CA file names the field") {
    CHECK(resolve(R"(
current-context: c
clusters: [{name: c, cluster: {server: "https://h", certificate-authority: missing-ca.crt}}]
contexts: [{name: c, context: {cluster: c}}]
)") == "/k/config: clusters[0].cluster.certificate-authority: open /k/missing-ca.crt: no such "
       "file or directory");
  }
}

// [posix]: KUBECONFIG split on ':' (Windows: ';', the [windows] case below)
TEST_CASE("core::LoadingRules::precedence", "[kubeconfig][posix]") {
  SECTION("--kubeconfig alone") {
    const LoadingRules rules{"/x/config", "/a:/b", "/home/u"};
    CHECK(rules.precedence() == std::vector<fs::path>{"/x/config"});
  }
  SECTION("KUBECONFIG without empty entries and duplicates") {
    const LoadingRules rules{"", "/a::/b:/a:", "/home/u"};
    CHECK(rules.precedence() == std::vector<fs::path>{"/a", "/b"});
  }
  SECTION("the default file") {
    const LoadingRules rules{"", "", "/home/u"};
    CHECK(rules.precedence() == std::vector<fs::path>{"/home/u/.kube/config"});
  }
}

// Go's filepath.SplitList, by either platform's rules (path/filepath/path_unix.go and
// path_windows.go): KUBECONFIG and PATH.
TEST_CASE("core::split_path_list as Go's filepath.SplitList", "[kubeconfig]") {
  using V = std::vector<std::string>;
  CHECK(split_path_list("", ':', false).empty());
  CHECK(split_path_list("/a::/b:", ':', false) == V{"/a", "", "/b", ""});
  // Outside Windows a quote is a character like any other.
  CHECK(split_path_list("\"/a:b\":/c", ':', false) == V{"\"/a", "b\"", "/c"});
  CHECK(split_path_list("", ';', true).empty());
  CHECK(split_path_list("C:\\a;;D:\\b;", ';', true) == V{"C:\\a", "", "D:\\b", ""});
  // On Windows a quoted part may hold ';', and every quote goes.
  CHECK(split_path_list("\"C:\\a;b\\config\";C:\\x", ';', true) == V{"C:\\a;b\\config", "C:\\x"});
  CHECK(split_path_list("C:\\\"my dir\"\\config", ';', true) == V{"C:\\my dir\\config"});
  // An unclosed quote runs to the end.
  CHECK(split_path_list("\"C:\\a;b", ';', true) == V{"C:\\a;b"});
  // The one-argument form is the platform's.
  CHECK(split_path_list(std::string("x") + kPathListSeparator + "y") == V{"x", "y"});
}

// client-go's homedir.HomeDir() on Windows (util/homedir/homedir.go), run on this platform's
// files: %HOME%, %HOMEDRIVE%%HOMEPATH%, %USERPROFILE%.
TEST_CASE("core::windows_home_directory picks the home as client-go on Windows", "[kubeconfig]") {
  TempDir dir;
  const auto make = [&](const std::string& name) {
    fs::create_directories(dir.path() / name);
    return (dir.path() / name).string();
  };
  const std::string home = make("home"), drive = make("drive"), profile = make("profile");
  const std::string missing = (dir.path() / "missing").string();
  const auto kubeconfig_in = [&](const std::string& d) {
    fs::create_directories(fs::path(d) / ".kube");
    std::ofstream(fs::path(d) / ".kube" / "config") << "{}";
  };
  SECTION("1. the first of HOME, HOMEDRIVE+HOMEPATH, USERPROFILE that holds .kube/config") {
    kubeconfig_in(profile);
    CHECK(windows_home_directory(home, drive, profile) == profile);
    kubeconfig_in(drive);
    CHECK(windows_home_directory(home, drive, profile) == drive);
    CHECK(windows_home_directory("", drive, profile) == drive);
  }
  SECTION("2. else the first of HOME, USERPROFILE, HOMEDRIVE+HOMEPATH that is a writable dir") {
    CHECK(windows_home_directory(home, drive, profile) == home);
    CHECK(windows_home_directory(missing, drive, profile) == profile);
    CHECK(windows_home_directory("", drive, "") == drive);
#ifndef _WIN32
    // Go reads the mode's owner write bit (on Windows: no read-only attribute), not access():
    // even root skips such a directory.
    fs::permissions(profile, fs::perms::owner_write, fs::perm_options::remove);
    CHECK(windows_home_directory(missing, drive, profile) == drive);
    SECTION("3. else the first that exists, a file too") {
      const std::string file = (dir.path() / "file").string();
      std::ofstream(file) << "x";
      CHECK(windows_home_directory(missing, file, profile) == profile);
      CHECK(windows_home_directory(file, "", profile) == file);
    }
    fs::permissions(profile, fs::perms::owner_write, fs::perm_options::add);
#endif
  }
  SECTION("4. else the first that is set, even if it does not exist") {
    CHECK(windows_home_directory("", missing, missing + "2") == missing + "2");
    CHECK(windows_home_directory("", "", "").empty());
  }
}

#ifdef _WIN32
// client-go splits KUBECONFIG with filepath.SplitList: ';' on Windows, where ':' is in every
// drive letter.
TEST_CASE("core::LoadingRules::precedence splits KUBECONFIG on ';' on Windows",
          "[kubeconfig][windows]") {
  const LoadingRules rules{"", "C:\\a;;D:\\b;C:\\a;", "C:\\Users\\u"};
  CHECK(rules.precedence() == std::vector<fs::path>{"C:\\a", "D:\\b"});
  const LoadingRules quoted{"", "\"C:\\my;dir\\config\";C:\\a", ""};
  CHECK(quoted.precedence() == std::vector<fs::path>{"C:\\my;dir\\config", "C:\\a"});
  TempDir dir;
  const fs::path real = dir.write("config", kLab);
  const LoadingRules missing{"", "C:\\nonexistent\\a;" + real.string(), ""};
  const auto config = load_kubeconfig(missing);
  REQUIRE(config);
  CHECK(config->currentContext == "lab");
  CHECK(config->sourceFiles == std::vector<std::string>{real.string()});
}
#endif

// [posix]: KUBECONFIG split on ':' and Unix paths (Windows: ';', the [windows] case)
TEST_CASE("core::load_kubeconfig", "[kubeconfig][posix]") {
  TempDir dir;
  const fs::path real = dir.write("config", kLab);
  SECTION("--kubeconfig naming a missing file is an error") {
    const LoadingRules rules{"/nonexistent/config", "", ""};
    CHECK(load_kubeconfig(rules).error().message ==
          "--kubeconfig: stat /nonexistent/config: no such file or directory");
  }
  SECTION("missing KUBECONFIG entries are skipped") {
    const LoadingRules rules{"", "/nonexistent/a:" + real.string(), ""};
    const auto config = load_kubeconfig(rules);
    REQUIRE(config);
    CHECK(config->currentContext == "lab");
    CHECK(config->sourceFiles == std::vector<std::string>{real.string()});
    CHECK(config->warnings.empty());
  }
  SECTION("all KUBECONFIG entries missing gives an empty config and a warning") {
    const LoadingRules rules{"", "/nonexistent/a:/nonexistent/b", ""};
    const auto config = load_kubeconfig(rules);
    REQUIRE(config);
    CHECK(config->empty());
    CHECK(config->warnings ==
          std::vector<std::string>{"Config not found: /nonexistent/a, /nonexistent/b"});
  }
  SECTION("a missing default file is simply empty") {
    const LoadingRules rules{"", "", "/nonexistent-home"};
    const auto config = load_kubeconfig(rules);
    REQUIRE(config);
    CHECK(config->empty());
    CHECK(config->warnings.empty());
  }
  SECTION("an unparsable file is an error naming it") {
    const fs::path bad = dir.write("bad", "clusters: 5\n");
    const LoadingRules rules{"", bad.string() + ":" + real.string(), ""};
    CHECK(load_kubeconfig(rules).error().message == bad.string() + ": clusters: expected a list");
  }
  SECTION("load_client_config end to end") {
    const LoadingRules rules{real.string(), "", ""};
    const auto client = load_client_config(rules, {});
    REQUIRE(client);
    CHECK(client->server == "https://api.lab.test:6443");
    CHECK(client->sourceFiles == std::vector<std::string>{real.string()});
  }
}

// ---- authentication (../shared/K8S-CLIENT-SPEC.md 1.9-1.12, 1.17, 1.18, 3.1-3.3, 3.9, 3.10)
// ----------------------------

namespace {

// One context "c" on an https cluster with the given `user:` mapping (flow style).
std::string with_user(std::string_view user, std::string_view cluster = "server: https://h") {
  return "current-context: c\n"
         "clusters: [{name: c, cluster: {" +
         std::string(cluster) +
         "}}]\n"
         "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
         "users:\n- name: u\n  user:\n" +
         std::string(user);
}

Result<ClientConfig> resolve_yaml(const std::string& yaml, const ConfigOverrides& o = {},
                                  const fs::path& path = "/k/config") {
  return resolve_client_config(parse(yaml, path), o);
}

}  // namespace

TEST_CASE("core::resolve_client_config reads tokenFile alone at start, trimmed", "[kubeconfig]") {
  TempDir dir;
  const fs::path token = dir.write("token", "  secret-token\n\n");
  const auto client = resolve_yaml(with_user("    tokenFile: token\n"), {}, dir.path() / "config");
  REQUIRE(client);
  CHECK(client->token == "secret-token");
  CHECK(client->authMethod == "token-file");
  CHECK(client->tokenFile == token.string());
  CHECK(client->tokenFilePath == token.string());
  CHECK(client->warnings.empty());
}

TEST_CASE(
    "core::resolve_client_config tokenFile alone that is empty: no token, as kubectl sends none",
    "[kubeconfig]") {
  TempDir dir;
  const fs::path empty = dir.write("empty", "");
  const fs::path config = dir.path() / "config";
  const auto client = resolve_yaml(with_user("    tokenFile: empty\n"), {}, config);
  REQUIRE(client);
  CHECK(client->token.empty());
  CHECK(client->authMethod == "none");
  CHECK(client->problems.empty());
  CHECK(client->warnings ==
        std::vector<std::string>{config.string() + ": users[0].user.tokenFile: read " +
                                 empty.string() + ": empty token file: kubectl sends no token"});
  // White space only: kubectl sends it untrimmed and Go refuses the header: a failure.
  dir.write("empty", " \n");
  const auto blank = resolve_yaml(with_user("    tokenFile: empty\n"), {}, config);
  REQUIRE(blank);
  CHECK(blank->authMethod == "none");
  REQUIRE(blank->problems.size() == 1);
  CHECK(blank->problems[0].id == "config.token");
  CHECK(blank->problems[0].failure);
  CHECK(blank->problems[0].message ==
        config.string() + ": users[0].user.tokenFile (" + empty.string() +
            ") holds only white space: kubectl puts it in the Authorization header and fails every "
            "request (net/http: invalid header field value for \"Authorization\")");
}

// [posix]: the error quotes the Unix path; Windows spells it with backslashes
TEST_CASE("core::resolve_client_config tokenFile alone that is missing is an error naming the file",
          "[kubeconfig][posix]") {
  CHECK(resolve_yaml(with_user("    tokenFile: /nonexistent/token\n")).error().message ==
        "/k/config: users[0].user.tokenFile: open /nonexistent/token: no such file or directory");
}

TEST_CASE("core::resolve_client_config tokenFile wins over token when readable", "[kubeconfig]") {
  TempDir dir;
  const fs::path token = dir.write("token", "from-file\n");
  const auto client = resolve_yaml(with_user("    token: static\n    tokenFile: token\n"), {},
                                   dir.path() / "config");
  REQUIRE(client);
  CHECK(client->token == "from-file");
  CHECK(client->authMethod == "token-file");
  CHECK(client->tokenFile == token.string());
}

TEST_CASE("core::resolve_client_config token is kept when tokenFile is unreadable or empty",
          "[kubeconfig]") {
  TempDir dir;
  dir.write("empty", "");
  const fs::path config = dir.path() / "config";
  SECTION("missing file") {
    const auto client =
        resolve_yaml(with_user("    token: static\n    tokenFile: gone\n"), {}, config);
    REQUIRE(client);
    CHECK(client->token == "static");
    CHECK(client->authMethod == "token");
    CHECK(client->tokenFilePath.empty());
    CHECK(client->tokenFile == (dir.path() / "gone").string());  // kept for a later re-read
    CHECK(client->warnings ==
          std::vector<std::string>{config.string() + ": users[0].user.tokenFile: open " +
                                   (dir.path() / "gone").string() +
                                   ": no such file or directory; using the static token instead"});
  }
  SECTION("empty file") {
    const auto client =
        resolve_yaml(with_user("    token: static\n    tokenFile: empty\n"), {}, config);
    REQUIRE(client);
    CHECK(client->token == "static");
    CHECK(client->warnings.size() == 1);
  }
}

TEST_CASE("core::resolve_client_config token plus username/password is more than one method",
          "[kubeconfig]") {
  CHECK(resolve_yaml(with_user("    token: t\n    password: p\n")).error().message ==
        "/k/config: users[0].user: more than one authentication method found for u; found [token "
        "basicAuth], only one is allowed");
  ConfigOverrides o;
  o.server = "https://flags";
  o.token = "t";
  o.username = "a";
  CHECK(resolve_client_config({}, o).error().message ==
        "more than one authentication method found; found [token basicAuth], only one is "
        "allowed");
}

TEST_CASE("core::resolve_client_config sends credentials only over https", "[kubeconfig]") {
  const auto client = resolve_yaml(with_user("    token: t\n", "server: http://plain:8080"));
  REQUIRE(client);
  CHECK(client->token.empty());
  CHECK(client->authMethod == "none");
  CHECK(client->warnings ==
        std::vector<std::string>{"the server http://plain:8080 is not https: the credentials of "
                                 "user \"u\" are not sent"});
  // A server without a scheme is plain http to kubectl, so no credential goes either.
  CHECK(resolve_yaml(with_user("    token: t\n", "server: \"h:6443\""))->authMethod == "none");
}

TEST_CASE("core::resolve_client_config a readable tokenFile wins over --token, as in kubectl",
          "[kubeconfig]") {
  // client-go keeps the tokenFile beside the flag's token and its file token source wins: the
  // differential harness's recording server saw kubectl send the file's token.
  TempDir dir;
  const fs::path token = dir.write("token", "from-file");
  ConfigOverrides o;
  o.token = "from-flag";
  const auto client = resolve_yaml(with_user("    tokenFile: token\n"
                                             "    exec:\n"
                                             "      apiVersion: client.authentication.k8s.io/v1\n"
                                             "      command: aws\n"
                                             "      interactiveMode: Never\n"),
                                   o, dir.path() / "config");
  REQUIRE(client);
  CHECK(client->token == "from-file");
  CHECK(client->authMethod == "token-file");
  CHECK(client->tokenFilePath == token.string());
  REQUIRE(client->exec);  // still reported, but not the method in use
  REQUIRE(client->problems.size() == 1);
  CHECK(client->problems[0].id == "config.token");
  CHECK_FALSE(client->problems[0].failure);
  CHECK(client->problems[0].message.starts_with("--token is not sent: kubectl sends the token of " +
                                                (dir.path() / "config").string() +
                                                ": users[0].user.tokenFile"));
  // Without a tokenFile the flag's token is the one.
  const auto flagOnly = resolve_yaml(with_user("    token: from-config\n"), o);
  REQUIRE(flagOnly);
  CHECK(flagOnly->token == "from-flag");
  CHECK(flagOnly->problems.empty());
}

TEST_CASE(
    "core::resolve_client_config refuses a tokenFile beside basic auth, as the transport does",
    "[kubeconfig]") {
  TempDir dir;
  dir.write("token", "from-file");
  CHECK(resolve_yaml(with_user("    tokenFile: token\n    username: a\n    password: b\n"), {},
                     dir.path() / "config")
            .error()
            .message == (dir.path() / "config").string() +
                            ": users[0].user: username/password or bearer token may be set, but "
                            "not both");
}

TEST_CASE("core::resolve_client_config a server without a scheme is plain http, as in kubectl",
          "[kubeconfig]") {
  const auto bare = resolve_yaml(R"(
current-context: c
clusters: [{name: c, cluster: {server: "api.test:7443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
)");
  REQUIRE(bare);
  CHECK(bare->server == "http://api.test:7443");
  CHECK(bare->token.empty());  // client-go reads no credential for a plain http server
  REQUIRE(bare->problems.size() == 1);
  CHECK(bare->problems[0].id == "config.server");
  CHECK(bare->problems[0].failure);
  CHECK(bare->problems[0].message ==
        "/k/config: clusters[0].cluster.server \"api.test:7443\" has no scheme: kubectl dials "
        "http://api.test:7443 over plain http and sends no credentials");
  CHECK(bare->problems[0].hint.starts_with("write the scheme: https://api.test:7443"));
  ConfigOverrides o;
  o.server = "api.test:7443/prefix";
  CHECK(resolve_yaml(with_user("    token: t\n"), o).error().message ==
        "--server: host must be a URL or a host:port pair: \"api.test:7443/prefix\"");
}

TEST_CASE("core::resolve_client_config picks the authentication method by precedence",
          "[kubeconfig]") {
  const std::string exec =
      "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}\n";
  CHECK(resolve_yaml(with_user(exec))->authMethod == "exec");
  CHECK(resolve_yaml(with_user("    client-certificate-data: Q0VSVA==\n    client-key-data: "
                               "S0VZ\n" +
                               exec))
            ->authMethod == "client-certificate");
  CHECK(resolve_yaml(with_user("    token: t\n" + exec))->authMethod == "token");
  CHECK(resolve_yaml(with_user("    username: a\n    password: b\n" + exec))->authMethod ==
        "basic");
  CHECK(resolve_yaml(with_user("    as: someone\n"))->authMethod == "none");
  const auto cert =
      resolve_yaml(with_user("    client-certificate-data: Q0VSVA==\n"
                             "    client-key-data: S0VZ\n"));
  CHECK(cert->clientCertificateFile.empty());  // inline data: no file to check permissions of
  CHECK(cert->clientKeyFile.empty());
}

TEST_CASE("core::resolve_client_config reports the files secrets came from", "[kubeconfig]") {
  TempDir dir;
  const fs::path crt = dir.write("client.crt", "CERT");
  const fs::path key = dir.write("client.key", "KEY");
  const fs::path ca = dir.write("ca.crt", "CA-PEM");
  const auto client =
      resolve_yaml(with_user("    client-certificate: client.crt\n    client-key: client.key\n",
                             "server: https://h, certificate-authority: ca.crt"),
                   {}, dir.path() / "config");
  REQUIRE(client);
  CHECK(client->clientCertificateFile == crt.string());
  CHECK(client->clientKeyFile == key.string());
  CHECK(client->caFile == ca.string());
  CHECK(client->authMethod == "client-certificate");
}

TEST_CASE("core::parse_kubeconfig keeps cluster extensions and the exec extension as JSON",
          "[kubeconfig]") {
  const auto client = resolve_yaml(R"(
current-context: c
clusters:
- name: c
  cluster:
    server: https://h
    extensions:
    - name: client.authentication.k8s.io/exec
      extension:
        audience: "sts.example"
        port: 443
        ratio: 0.5
        enabled: true
        quoted: "443"
        list: [a, 1]
        nothing: null
    - name: other
      extension: {x: y}
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: t}}]
)");
  REQUIRE(client);
  CHECK(client->execClusterConfig ==
        nlohmann::json::parse(R"({"audience":"sts.example","port":443,"ratio":0.5,"enabled":true,
                                  "quoted":"443","list":["a",1],"nothing":null})"));
  const Kubeconfig config = parse(
      "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
      "    extensions:\n    - name: other\n      extension: {x: y}\n");
  // YAML 1.1, as kubectl reads it: an unquoted y is true
  CHECK(config.clusters.at("c").extensions.at("other") == nlohmann::json{{"x", true}});
  CHECK(resolve_yaml(with_user("    token: t\n"))->execClusterConfig.is_null());
  CHECK(parse_kubeconfig("clusters:\n- name: c\n  cluster:\n    extensions: {a: b}\n", "/k/config")
            .error()
            .message == "/k/config: clusters[0].cluster.extensions: expected a list");
}

TEST_CASE("core::parse_kubeconfig types unquoted values as kubectl's YAML 1.1 does",
          "[kubeconfig]") {
  // kubectl reads kubeconfigs with go-yaml v2 (YAML 1.1) and decodes the JSON it makes of them:
  // the lab's kubectl refuses `namespace: no` with "json: cannot unmarshal bool into Go struct
  // field Context.contexts.context.namespace of type string".
  auto error_of = [](const std::string& yaml) {
    const auto config = parse_kubeconfig(yaml, "/k/config");
    return config ? std::string() : config.error().message;
  };
  CHECK(error_of("contexts:\n- name: c\n  context: {cluster: k, namespace: no}\n") ==
        "/k/config: contexts[0].context.namespace: expected a string: unquoted, YAML 1.1 reads "
        "this value as a bool (kubectl: \"json: cannot unmarshal bool into Go struct field ... "
        "of type string\"); put it in quotes");
  CHECK(error_of("contexts:\n- name: c\n  context: {cluster: k, namespace: \"no\"}\n").empty());
  CHECK(error_of("contexts:\n- name: c\n  context: {cluster: k, namespace: 2024-01-02}\n")
            .empty());  // a timestamp stays a string
  // a number where a string belongs, and the value (a secret here) is not repeated
  const std::string token = error_of("users:\n- name: u\n  user: {token: 0x1F2E3D}\n");
  CHECK(token.find("as a number") != std::string::npos);
  CHECK(token.find("1F2E3D") == std::string::npos);
  CHECK(error_of("users:\n- name: u\n  user: {exec: {command: x, args: [a, 1]}}\n") ==
        "/k/config: users[0].user.exec.args[1]: expected a string: unquoted, YAML 1.1 reads this "
        "value as a number (kubectl: \"json: cannot unmarshal number into Go struct field ... of "
        "type string\"); put it in quotes");
  // booleans: YAML 1.1's words unquoted; a quoted "true" is a string
  const auto on = parse_kubeconfig(
      "clusters:\n- name: k\n  cluster: {server: https://h, insecure-skip-tls-verify: on}\n",
      "/k/config");
  REQUIRE(on);
  CHECK(on->clusters.at("k").insecureSkipTlsVerify);
  CHECK(error_of("clusters:\n- name: k\n  cluster: {insecure-skip-tls-verify: \"true\"}\n") ==
        "/k/config: clusters[0].cluster.insecure-skip-tls-verify: expected true or false, not a "
        "string (kubectl: \"json: cannot unmarshal string into Go struct field ... of type "
        "bool\"): write it without quotes");
  // extensions: keys and values typed, keys spelled as sigs.k8s.io/yaml spells them
  const auto ext = parse_kubeconfig(R"(
clusters:
- name: k
  cluster:
    extensions:
    - name: x
      extension: {n: 1, Y: off, 0x10: 010, 1.5: 1_000, 1234567.0: a, q: "yes", dec: 08,
                  big: 18446744073709551615, neg: -0b11, ts: 2024-01-02, "~": quoted}
)",
                                    "/k/config");
  REQUIRE(ext);
  CHECK(ext->clusters.at("k").extensions.at("x") ==
        nlohmann::json::parse(R"({"false": 1, "true": false, "16": 8, "1.5": 1000,
                                  "1.234567e+06": "a", "q": "yes", "dec": 8.0,
                                  "big": 18446744073709551615, "neg": -3, "ts": "2024-01-02",
                                  "~": "quoted"})"));
  CHECK(error_of("clusters:\n- name: k\n  cluster:\n    extensions:\n    - name: x\n"
                 "      extension: {a: .nan}\n") ==
        "/k/config: clusters[0].cluster.extensions[0].extension.a: unquoted, YAML reads this "
        "value as an infinity or NaN, which JSON cannot hold (kubectl: \"json: unsupported "
        "value\"); put it in quotes");
  CHECK(error_of("clusters:\n- name: k\n  cluster:\n    extensions:\n    - name: x\n"
                 "      extension: {~: 1}\n") ==
        "/k/config: clusters[0].cluster.extensions[0].extension: a null key (kubectl: "
        "\"unsupported map key of type: <nil>\")");
  // go-yaml gives an integer above int64 as uint64, a key type sigs.k8s.io/yaml refuses; one
  // below stays an int, and one past uint64 is a float.
  CHECK(error_of("clusters:\n- name: k\n  cluster:\n    extensions:\n    - name: x\n"
                 "      extension: {9223372036854775808: 1}\n") ==
        "/k/config: clusters[0].cluster.extensions[0].extension: an integer key above "
        "9223372036854775807 (kubectl: \"unsupported map key of type: uint64\"); put it in "
        "quotes");
  const auto wide = parse_kubeconfig(
      "clusters:\n- name: k\n  cluster:\n    extensions:\n"
      "    - name: x\n      extension: {9223372036854775807: 1, "
      "18446744073709551616: 2}\n",
      "/k/config");
  REQUIRE(wide);
  CHECK(wide->clusters.at("k").extensions.at("x") ==
        nlohmann::json::parse(R"({"9223372036854775807": 1, "1.8446744e+19": 2})"));
}

TEST_CASE("core::resolve_client_config impersonation needs a user", "[kubeconfig]") {
  CHECK(resolve_yaml(with_user("    token: t\n    as-groups: [admins]\n")).error().message ==
        "/k/config: users[0].user: requesting uid, groups or user-extra for u without "
        "impersonating a user");
  ConfigOverrides o;
  o.server = "https://flags";
  o.impersonateUid = "1234";
  CHECK(resolve_client_config({}, o).error().message ==
        "requesting uid, groups or user-extra without impersonating a user");
  const auto client =
      resolve_yaml(with_user("    token: t\n    as: jane\n    as-uid: \"42\"\n"
                             "    as-groups: [a, b]\n"
                             "    as-user-extra: {scopes: [view]}\n"));
  REQUIRE(client);
  CHECK(client->impersonate == "jane");
  CHECK(client->impersonateUid == "42");
  CHECK(client->impersonateGroups == std::vector<std::string>{"a", "b"});
  CHECK(client->impersonateUserExtra.at("scopes") == std::vector<std::string>{"view"});
}

TEST_CASE("core::resolve_client_config exec apiVersion must be v1 or v1beta1", "[kubeconfig]") {
  CHECK(resolve_yaml(with_user("    exec: {apiVersion: client.authentication.k8s.io/v2, command: "
                               "x, interactiveMode: Never}\n"))
            .error()
            .message ==
        "/k/config: users[0].user: exec plugin: invalid apiVersion "
        "\"client.authentication.k8s.io/v2\"");
  CHECK(resolve_yaml(with_user("    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, "
                               "command: x}\n"))
            .error()
            .message ==
        "/k/config: users[0].user: exec plugin: invalid apiVersion "
        "\"client.authentication.k8s.io/v1alpha1\"");
  CHECK(
      resolve_yaml(with_user("    exec: {command: x, interactiveMode: Never}\n")).error().message ==
      "/k/config: users[0].user: apiVersion must be specified for u to use exec authentication "
      "plugin");
  CHECK(resolve_yaml(with_user("    exec: {apiVersion: client.authentication.k8s.io/v1, "
                               "interactiveMode: Never}\n"))
            .error()
            .message ==
        "/k/config: users[0].user: command must be specified for u to use exec authentication "
        "plugin");
}

TEST_CASE("core::parse_kubeconfig reads every exec field", "[kubeconfig]") {
  const auto client = resolve_yaml(with_user(R"(    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: aws
      args: [eks, get-token]
      env: [{name: AWS_PROFILE, value: lab}]
      installHint: "install aws: \e[1mbrew install awscli\e[0m"
      provideClusterInfo: true
      interactiveMode: Always
)"));
  REQUIRE(client);
  REQUIRE(client->exec);
  const ExecConfig& e = *client->exec;
  CHECK(e.command == "aws");
  CHECK(e.args == std::vector<std::string>{"eks", "get-token"});
  CHECK(e.env == std::vector<std::pair<std::string, std::string>>{{"AWS_PROFILE", "lab"}});
  CHECK(e.provideClusterInfo);
  CHECK(e.interactiveMode == "Always");
  // Like client-go's cleanANSIEscapeCodes: a kubeconfig must not drive the terminal.
  CHECK(e.installHint == "install aws: U+001B[1mbrew install awscliU+001B[0m");
  CHECK(resolve_yaml(with_user("    exec: {apiVersion: client.authentication.k8s.io/v1, command: "
                               "x, interactiveMode: Never, env: [{value: v}]}\n"))
            .error()
            .message ==
        "/k/config: users[0].user: env variable name must be specified for u to use exec "
        "authentication plugin");
}

TEST_CASE("core::resolve_client_config interactiveMode is required for v1, IfAvailable for v1beta1",
          "[kubeconfig]") {
  CHECK(resolve_yaml(with_user("    exec: {apiVersion: client.authentication.k8s.io/v1, command: "
                               "aws}\n"))
            .error()
            .message ==
        "/k/config: users[0].user: interactiveMode must be specified for u to use exec "
        "authentication plugin");
  const auto beta = resolve_yaml(
      with_user("    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}\n"));
  REQUIRE(beta);
  CHECK(beta->exec->interactiveMode == "IfAvailable");
  CHECK(resolve_yaml(with_user("    exec: {apiVersion: client.authentication.k8s.io/v1, command: "
                               "aws, interactiveMode: Sometimes}\n"))
            .error()
            .message == "/k/config: users[0].user: invalid interactiveMode for u: \"Sometimes\"");
  for (const char* mode : {"Never", "IfAvailable", "Always"}) {
    CHECK(resolve_yaml(with_user(std::string("    exec: {apiVersion: "
                                             "client.authentication.k8s.io/v1, command: aws, "
                                             "interactiveMode: ") +
                                 mode + "}\n")));
  }
}

TEST_CASE("core::resolve_client_config exec and auth-provider together are invalid",
          "[kubeconfig]") {
  CHECK(resolve_yaml(with_user("    exec: {apiVersion: client.authentication.k8s.io/v1, command: "
                               "aws, interactiveMode: Never}\n"
                               "    auth-provider: {name: oidc, config: {client-id: k}}\n"))
            .error()
            .message ==
        "/k/config: users[0].user: authProvider cannot be provided in combination with an exec "
        "plugin for u");
}

TEST_CASE("core::resolve_client_config legacy auth-providers", "[kubeconfig]") {
  SECTION("gcp points to gke-gcloud-auth-plugin") {
    CHECK(resolve_yaml(with_user("    auth-provider: {name: gcp, config: {cmd-path: gcloud}}\n"))
              .error()
              .message ==
          "/k/config: users[0].user.auth-provider: The gcp auth plugin has been removed.\n"
          "Please use the \"gke-gcloud-auth-plugin\" kubectl/client-go credential plugin "
          "instead.\n"
          "See https://cloud.google.com/blog/products/containers-kubernetes/"
          "kubectl-auth-changes-in-gke for further details");
  }
  SECTION("azure points to kubelogin") {
    CHECK(resolve_yaml(with_user("    auth-provider: {name: azure}\n")).error().message ==
          "/k/config: users[0].user.auth-provider: The azure auth plugin has been removed.\n"
          "Please use the https://github.com/Azure/kubelogin kubectl/client-go credential plugin "
          "instead.\n"
          "See https://kubernetes.io/docs/reference/access-authn-authz/authentication/"
          "#client-go-credential-plugins for further details");
  }
  SECTION("oidc sends its id-token") {
    const auto client = resolve_yaml(with_user(R"(    auth-provider:
      name: oidc
      config:
        idp-issuer-url: https://dex.example
        client-id: kubernetes
        id-token: eyJhbGciOi.payload.sig
        refresh-token: r
)"));
    REQUIRE(client);
    CHECK(client->authMethod == "auth-provider:oidc");
    CHECK(client->token == "eyJhbGciOi.payload.sig");
    REQUIRE(client->authProvider);
    CHECK(client->authProvider->config.at("client-id") == "kubernetes");
  }
  SECTION("oidc without an id-token warns") {
    const auto client = resolve_yaml(with_user(
        "    auth-provider: {name: oidc, config: {idp-issuer-url: https://i, client-id: k}}\n"));
    REQUIRE(client);
    CHECK(client->token.empty());
    CHECK(client->warnings.size() == 1);
  }
  SECTION("oidc needs an issuer and a client id") {
    CHECK(resolve_yaml(with_user("    auth-provider: {name: oidc, config: {client-id: k}}\n"))
              .error()
              .message == "/k/config: users[0].user.auth-provider: Must provide idp-issuer-url");
    CHECK(resolve_yaml(
              with_user("    auth-provider: {name: oidc, config: {idp-issuer-url: https://i}}\n"))
              .error()
              .message == "/k/config: users[0].user.auth-provider: Must provide client-id");
  }
  SECTION("an unknown provider") {
    CHECK(resolve_yaml(with_user("    auth-provider: {name: openstack}\n")).error().message ==
          "/k/config: users[0].user.auth-provider: no Auth Provider found for name "
          "\"openstack\"");
  }
  SECTION("a config that is not a map of strings") {
    CHECK(parse_kubeconfig(with_user("    auth-provider: {name: oidc, config: [a]}\n"), "/k/config")
              .error()
              .message == "/k/config: users[0].user.auth-provider.config: expected a mapping");
  }
}

// ---- in-cluster (../shared/K8S-CLIENT-SPEC.md 2)
// -----------------------------------------------------------------------

namespace {

// A fake pod: a service-account directory and an environment.
struct FakePod {
  TempDir dir;
  std::map<std::string, std::string> env{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                         {"KUBERNETES_SERVICE_PORT", "443"}};

  FakePod() {
    dir.write("token", "sa-token\n");
    dir.write("ca.crt", "SA-CA");
    dir.write("namespace", "team-a\n");
  }

  InClusterEnvironment environment() const {
    InClusterEnvironment ic;
    ic.serviceAccountDir = dir.path();
    ic.getenv = [env = env](const std::string& name) -> std::optional<std::string> {
      const auto found = env.find(name);
      if (found == env.end()) {
        return std::nullopt;
      }
      return found->second;
    };
    return ic;
  }
};

const LoadingRules kNoFiles{"", "/nonexistent/kubeconfig", ""};

}  // namespace

TEST_CASE("core::load_client_config uses in-cluster only for an empty kubeconfig", "[kubeconfig]") {
  FakePod pod;
  SECTION("no kubeconfig, variables and token present") {
    const auto client = load_client_config(kNoFiles, {}, pod.environment());
    REQUIRE(client);
    CHECK(client->inCluster);
    CHECK(client->server == "https://10.96.0.1:443");
    // The KUBECONFIG warning still tells the user why no file was used.
    CHECK(client->warnings ==
          std::vector<std::string>{"Config not found: /nonexistent/kubeconfig"});
  }
  SECTION("--server means the flags configure the client") {
    ConfigOverrides o;
    o.server = "https://elsewhere:6443";
    const auto client = load_client_config(kNoFiles, o, pod.environment());
    REQUIRE(client);
    CHECK_FALSE(client->inCluster);
    CHECK(client->server == "https://elsewhere:6443");
    CHECK(client->authMethod == "none");
  }
  SECTION("a kubeconfig with a current context wins") {
    TempDir dir;
    const fs::path file = dir.write("config", kLab);
    const auto client = load_client_config({file.string(), "", ""}, {}, pod.environment());
    REQUIRE(client);
    CHECK_FALSE(client->inCluster);
    CHECK(client->server == "https://api.lab.test:6443");
  }
  SECTION("without the token file it is not possible") {
    fs::remove(pod.dir.path() / "token");
    CHECK_FALSE(in_cluster_possible(pod.environment()));
    CHECK(load_client_config(kNoFiles, {}, pod.environment()).error().message ==
          "invalid configuration: no configuration has been provided, try setting "
          "KUBERNETES_MASTER environment variable");
  }
  SECTION("without KUBERNETES_SERVICE_PORT it is not possible") {
    pod.env.erase("KUBERNETES_SERVICE_PORT");
    CHECK_FALSE(in_cluster_possible(pod.environment()));
    CHECK(in_cluster_config({}, pod.environment()).error().message ==
          "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
          "KUBERNETES_SERVICE_PORT must be defined");
  }
  SECTION("a token path that is a directory does not count") {
    fs::remove(pod.dir.path() / "token");
    fs::create_directory(pod.dir.path() / "token");
    CHECK_FALSE(in_cluster_possible(pod.environment()));
  }
}

TEST_CASE("core::in_cluster_config builds host, CA and token from the service account",
          "[kubeconfig]") {
  FakePod pod;
  SECTION("IPv4") {
    const auto client = in_cluster_config({}, pod.environment());
    REQUIRE(client);
    CHECK(client->server == "https://10.96.0.1:443");
    CHECK(client->caPem == "SA-CA");
    CHECK(client->caFile == (pod.dir.path() / "ca.crt").string());
    CHECK(client->token == "sa-token");
    CHECK(client->tokenFile == (pod.dir.path() / "token").string());
    CHECK(client->tokenFilePath == client->tokenFile);
    CHECK(client->authMethod == "token-file");
    CHECK(client->contextName.empty());
  }
  SECTION("IPv6 is bracketed") {
    pod.env["KUBERNETES_SERVICE_HOST"] = "fd00:10:96::1";
    CHECK(in_cluster_config({}, pod.environment())->server == "https://[fd00:10:96::1]:443");
  }
  SECTION("an unreadable CA falls back to the system roots with a warning") {
    fs::remove(pod.dir.path() / "ca.crt");
    const auto client = in_cluster_config({}, pod.environment());
    REQUIRE(client);
    CHECK(client->caPem.empty());
    CHECK(client->caFile.empty());
    CHECK(client->warnings ==
          std::vector<std::string>{"in-cluster configuration: open " +
                                   (pod.dir.path() / "ca.crt").string() +
                                   ": no such file or directory; using the system trust store"});
  }
  SECTION("an empty token file is an error naming it") {
    pod.dir.write("token", "\n");
    CHECK(in_cluster_config({}, pod.environment()).error().message ==
          "in-cluster configuration: read " + (pod.dir.path() / "token").string() +
              ": empty token file");
  }
}

// [posix]: file paths compared as Unix paths; Windows joins with backslashes
TEST_CASE("core::in_cluster_config applies only --server, --token and --certificate-authority",
          "[kubeconfig][posix]") {
  FakePod pod;
  const fs::path ca = pod.dir.write("flag-ca.crt", "FLAG-CA");
  ConfigOverrides o;
  o.server = "https://api.internal:6443";
  o.token = "flag-token";
  o.certificateAuthority = ca.string();
  o.insecureSkipTlsVerify = true;  // not an in-cluster override: ignored
  o.tlsServerName = "ignored";
  const auto client = in_cluster_config(o, pod.environment());
  REQUIRE(client);
  CHECK(client->server == "https://api.internal:6443");
  CHECK(client->token == "flag-token");
  CHECK(client->authMethod == "token");
  CHECK(client->tokenFilePath.empty());
  CHECK(client->caPem == pem_for("FLAG-CA"));
  CHECK(client->caFile == ca.string());
  CHECK_FALSE(client->insecure);
  CHECK(client->tlsServerName.empty());
  o.certificateAuthority = "/nonexistent/ca.crt";
  CHECK(in_cluster_config(o, pod.environment()).error().message ==
        "--certificate-authority: open /nonexistent/ca.crt: no such file or directory");
}

TEST_CASE("core::in_cluster_config namespace: -n, POD_NAMESPACE, the file, default",
          "[kubeconfig]") {
  FakePod pod;
  ConfigOverrides o;
  o.namespaceName = "from-flag";
  pod.env["POD_NAMESPACE"] = "from-env";
  CHECK(in_cluster_config(o, pod.environment())->namespaceName == "from-flag");
  CHECK(in_cluster_config({}, pod.environment())->namespaceName == "from-env");
  pod.env.erase("POD_NAMESPACE");
  CHECK(in_cluster_config({}, pod.environment())->namespaceName == "team-a");
  fs::remove(pod.dir.path() / "namespace");
  CHECK(in_cluster_config({}, pod.environment())->namespaceName == "default");
  pod.env["POD_NAMESPACE"] = "Bad_NS";
  CHECK(in_cluster_config({}, pod.environment())
            .error()
            .message.rfind("invalid namespace \"Bad_NS\": ", 0) == 0);
}

TEST_CASE("core::resolve_client_config refuses PEM that does not parse, naming the field",
          "[kubeconfig]") {
  const std::string garbage = encode_base64(
      "-----BEGIN CERTIFICATE-----\nnot base64!\n"
      "-----END CERTIFICATE-----\n");
  CHECK(resolve_yaml(with_user("    token: t\n",
                               "server: https://h, certificate-authority-data: " + garbage))
            .error()
            .message.starts_with("/k/config: clusters[0].cluster.certificate-authority-data: "));
  CHECK(resolve_yaml(with_user("    client-certificate-data: Q0VSVA==\n    client-key-data: " +
                               encode_base64("hello") + "\n"))
            .error()
            .message.starts_with("/k/config: users[0].user.client-key-data: "));
  CHECK(resolve_yaml(with_user("    client-certificate-data: " + encode_base64("hello") +
                               "\n    client-key-data: S0VZ\n"))
            .error()
            .message ==
        "/k/config: users[0].user.client-certificate-data: not PEM or DER "
        "(starts with \"hello\")");
}

TEST_CASE("core::resolve_client_config refuses DER, which kubectl cannot read", "[kubeconfig]") {
  namespace tc = kp::testcerts;
  tc::CertSpec spec;
  spec.commonName = "alice";
  spec.key = tc::make_key(tc::KeyKind::ecdsaP256);
  const tc::Issued alice = tc::issue(spec);
  const std::string certDer = encode_base64(alice.cert.der());
  const std::string keyDer = encode_base64(tc::key_der(alice.key));
  const std::string certPem = encode_base64(alice.certPem());
  const std::string keyPem = encode_base64(tc::key_pem_pkcs8(alice.key));
  CHECK(resolve_yaml(with_user("    client-certificate-data: " + certPem +
                               "\n    client-key-data: " + keyPem + "\n")));
  CHECK(resolve_yaml(with_user("    client-certificate-data: " + certPem +
                               "\n    client-key-data: " + keyDer + "\n"))
            .error()
            .message ==
        "/k/config: users[0].user.client-key-data: a DER private key, not PEM (kubectl: \"tls: "
        "failed to find any PEM data in key input\"); convert it: openssl pkey -inform DER -in "
        "KEY -out KEY.pem");
  CHECK(resolve_yaml(with_user("    client-certificate-data: " + certDer +
                               "\n    client-key-data: " + keyPem + "\n"))
            .error()
            .message ==
        "/k/config: users[0].user.client-certificate-data: a DER certificate, not PEM (kubectl "
        "refuses it: \"failed to find any PEM data\"); convert it: openssl x509 -inform DER -in "
        "CERT -out CERT.pem");
  CHECK(resolve_yaml(with_user("    token: t\n",
                               "server: https://h, certificate-authority-data: " + certDer))
            .error()
            .message.starts_with(
                "/k/config: clusters[0].cluster.certificate-authority-data: a DER certificate"));
}

// [posix]: stat("file/") is ENOTDIR on Unix; Windows reports no such file, and KUBECONFIG splits on
// ';'
TEST_CASE("core::load_kubeconfig skips only missing files: a path through a file is an error",
          "[kubeconfig][posix]") {
  // client-go's loader skips os.IsNotExist (ENOENT) only; a KUBECONFIG entry with a slash after
  // a file name fails with "not a directory" in kubectl, and here.
  TempDir dir;
  const fs::path file = dir.write("config", "apiVersion: v1\nkind: Config\n");
  LoadingRules rules;
  rules.kubeconfigEnv = file.string() + "/:" + file.string();
  CHECK(load_kubeconfig(rules).error().message == "error loading config file \"" + file.string() +
                                                      "/\": open " + file.string() +
                                                      "/: not a directory");
  rules.kubeconfigEnv = (dir.path() / "missing").string() + ":" + file.string();
  CHECK(load_kubeconfig(rules));
}
