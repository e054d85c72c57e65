#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/base64.h"
#include "core/kubeconfig.h"

using namespace kp::core;
namespace fs = std::filesystem;

namespace {

Kubeconfig parse(std::string_view yaml, const fs::path& path = "/k/config") {
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

  fs::path write(const std::string& name, std::string_view contents) const {
    const fs::path file = path_ / name;
    std::ofstream(file) << contents;
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

TEST_CASE("core::parse_kubeconfig reads the fields") {
  const Kubeconfig config = parse(kLab);
  CHECK(config.currentContext == "lab");
  REQUIRE(config.clusters.count("lab") == 1);
  const Cluster& lab = config.clusters.at("lab");
  CHECK(lab.server == "https://api.lab.test:6443");
  CHECK(lab.certificateAuthorityData == "CA-PEM");
  CHECK(lab.origin == "/k/config: clusters[0].cluster");
  CHECK(config.users.at("admin").clientCertificateData == "CERT");
  CHECK(config.users.at("admin").clientKeyData == "KEY");
  CHECK(config.contexts.at("lab").namespaceName == "kube-system");
}

TEST_CASE("core::parse_kubeconfig treats an empty file as an empty config") {
  CHECK(parse("").empty());
  CHECK(parse("   \n\n").empty());
  CHECK(parse("# only a comment\n").empty());
  CHECK(parse("apiVersion: v1\nkind: Config\n").empty());
}

TEST_CASE("core::parse_kubeconfig resolves relative paths against the file") {
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

TEST_CASE("core::parse_kubeconfig errors name the file and field") {
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
          "/k/config: clusters[0].cluster.insecure-skip-tls-verify: expected true or false");
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
}

TEST_CASE("core::merge_kubeconfigs merges by first writer") {
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

TEST_CASE("core::resolve_client_config picks context, cluster and user") {
  const Kubeconfig config = parse(kLab);
  SECTION("from current-context") {
    const auto client = resolve_client_config(config, {});
    REQUIRE(client);
    CHECK(client->contextName == "lab");
    CHECK(client->clusterName == "lab");
    CHECK(client->userName == "admin");
    CHECK(client->server == "https://api.lab.test:6443");
    CHECK(client->caPem == "CA-PEM");
    CHECK(client->clientCertPem == "CERT");
    CHECK(client->clientKeyPem == "KEY");
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
    o.namespaceName = "Not_A_Label";
    CHECK(resolve_client_config(config, o).error().message.rfind(
              "invalid namespace \"Not_A_Label\": ", 0) == 0);
  }
  SECTION("missing names") {
    ConfigOverrides o;
    o.context = "nope";
    CHECK(resolve_client_config(config, o).error().message == "context \"nope\" does not exist");
    o = {};
    o.cluster = "nope";
    CHECK(resolve_client_config(config, o).error().message == "cluster \"nope\" does not exist");
    o = {};
    o.user = "nope";
    CHECK(resolve_client_config(config, o).error().message == "auth info \"nope\" does not exist");
  }
  SECTION("a current-context that names nothing") {
    const Kubeconfig dangling = parse("current-context: gone\n");
    CHECK(resolve_client_config(dangling, {}).error().message == "context \"gone\" does not exist");
  }
}

TEST_CASE("core::resolve_client_config without any configuration") {
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

TEST_CASE("core::resolve_client_config normalizes the server") {
  ConfigOverrides o;
  o.server = "https://h:6443/prefix?watch=1#frag";
  CHECK(resolve_client_config({}, o)->server == "https://h:6443/prefix");
  o.server = "h:6443";
  CHECK(resolve_client_config({}, o)->server == "https://h:6443");
}

TEST_CASE("core::resolve_client_config applies flag overrides") {
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
    CHECK(client->caPem == "CA-PEM");
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
    CHECK(client->caPem == "FLAG-CA");
    CHECK(client->clientCertPem == "FLAG-CERT");
    CHECK(client->clientKeyPem == "FLAG-KEY");
  }
  SECTION("a missing flag file names the flag") {
    ConfigOverrides o;
    o.certificateAuthority = "/nonexistent/ca.crt";
    CHECK(resolve_client_config(config, o).error().message ==
          "--certificate-authority: open /nonexistent/ca.crt: no such file or directory");
  }
}

TEST_CASE("core::resolve_client_config validates the selected entries") {
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
)") == "/k/config: users[0].user: more than one authentication method found; found [token "
       "basicAuth], only one is allowed");
  }
  SECTION("insecure with a CA") {
    CHECK(resolve(R"(
current-context: c
clusters: [{name: c, cluster: {server: "https://h", insecure-skip-tls-verify: true, certificate-authority-data: QQ==}}]
contexts: [{name: c, context: {cluster: c}}]
)") == "/k/config: clusters[0].cluster: specifying a root certificates file with the insecure "
       "flag is not allowed");
  }
  SECTION("a cluster without a server") {
    CHECK(resolve(R"(
current-context: c
clusters: [{name: c, cluster: {}}]
contexts: [{name: c, context: {cluster: c}}]
)") == "/k/config: clusters[0].cluster: no server found for cluster \"c\"");
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

TEST_CASE("core::resolve_client_config reads tokenFile") {
  TempDir dir;
  const fs::path token = dir.write("token", "  secret-token\n");
  const fs::path empty = dir.write("empty", "\n");
  const std::string base = R"(
current-context: c
clusters: [{name: c, cluster: {server: "https://h"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
)";
  const fs::path config = dir.path() / "config";
  SECTION("the file wins and is trimmed") {
    const auto client = resolve_client_config(
        parse(base + "users: [{name: u, user: {token: static, tokenFile: token}}]\n", config), {});
    REQUIRE(client);
    CHECK(client->token == "secret-token");
  }
  SECTION("an empty file is an error when there is no static token") {
    const auto client = resolve_client_config(
        parse(base + "users: [{name: u, user: {tokenFile: empty}}]\n", config), {});
    CHECK(client.error().message == config.string() + ": users[0].user.tokenFile: read " +
                                        empty.string() + ": empty token file");
  }
}

TEST_CASE("core::LoadingRules::precedence") {
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

TEST_CASE("core::load_kubeconfig") {
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
