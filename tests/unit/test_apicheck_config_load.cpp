#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "apicheck/apicheck.h"
#include "apicheck/config_load.h"
#include "core/kube/kubeconfig.h"
#include "support_posix.h"

using kp::apicheck::HostView;
using kp::apicheck::LoadedConfig;
using kp::core::Check;
using kp::core::CheckStatus;
using kp::core::LoadingRules;

namespace {

// A machine made of a table: paths with their owner and mode, who runs, what is on PATH.
struct FakeHost {
  std::map<std::string, HostView::File> files;
  std::set<std::string> unreadable;
  std::map<std::string, std::string> env;
  std::set<std::string> programs;
  std::map<std::string, std::string> homes;
  unsigned uid = 1000;

  HostView view() const {
    HostView host;
    host.stat = [this](const std::string& path) -> std::optional<HostView::File> {
      const auto found = files.find(path);
      return found == files.end() ? std::nullopt : std::optional(found->second);
    };
    host.readable = [this](const std::string& path) { return unreadable.count(path) == 0; };
    host.user_name = [](unsigned id) { return id == 0 ? std::string("root") : "alice"; };
    host.group_name = [](unsigned id) { return id == 0 ? std::string("root") : "alice"; };
    host.on_path = [this](const std::string& program) { return programs.count(program) > 0; };
    host.home_of = [this](const std::string& user) {
      const auto found = homes.find(user);
      return found == homes.end() ? std::string() : found->second;
    };
    host.uid = uid;
    // Not in a pod, whatever machine the test runs on.
    host.inCluster.serviceAccountDir = "/nonexistent/kp-test/serviceaccount";
    host.inCluster.getenv = [this](const std::string& name) -> std::optional<std::string> {
      const auto found = env.find(name);
      return found == env.end() ? std::nullopt : std::optional(found->second);
    };
    host.env = [this](const std::string& name) -> std::optional<std::string> {
      const auto found = env.find(name);
      return found == env.end() ? std::nullopt : std::optional(found->second);
    };
    return host;
  }
};

const HostView::File kRootOnly{false, 0, 0, 0600, {}};
const HostView::File kDirectory{true, 1000, 1000, 0755, {}};

// Rules that find nothing on the real disk: KUBECONFIG names a file that does not exist.
LoadingRules nothing_there() {
  LoadingRules rules;
  rules.kubeconfigEnv = "/nonexistent/kp-test/config";
  return rules;
}

// A kubeconfig file for one test, removed at scope end.
class KubeconfigFile {
 public:
  explicit KubeconfigFile(const std::string& contents) {
    char dirTemplate[] = "/tmp/kp-config-load-XXXXXX";
    REQUIRE(::mkdtemp(dirTemplate) != nullptr);
    dir_ = dirTemplate;
    std::ofstream(path()) << contents;
  }
  ~KubeconfigFile() { std::filesystem::remove_all(dir_); }
  KubeconfigFile(const KubeconfigFile&) = delete;
  KubeconfigFile& operator=(const KubeconfigFile&) = delete;
  std::string path() const { return (dir_ / "config").string(); }

 private:
  std::filesystem::path dir_;
};

const Check& only_failure(const LoadedConfig& loaded) {
  const Check* failure = nullptr;
  for (const Check& check : loaded.checks) {
    if (check.status == CheckStatus::fail) {
      REQUIRE(failure == nullptr);
      failure = &check;
    }
  }
  REQUIRE(failure != nullptr);
  return *failure;
}

}  // namespace

// [posix]: the expected paths are Unix ones (/nonexistent/kp-test/...); Windows spells them with
// backslashes
TEST_CASE("apicheck::load_config with no kubeconfig goes on to localhost:8080 as kubectl does",
          "[apicheck][config][posix]") {
  FakeHost fake;
  SECTION("nothing on the machine: the generic way to get one") {
    auto loaded = kp::apicheck::load_config(nothing_there(), {}, fake.view());
    REQUIRE(loaded);
    REQUIRE(loaded->client);
    CHECK(loaded->client->server == "http://localhost:8080");
    const Check& failure = only_failure(*loaded);
    CHECK(failure.id == "config.kubeconfig");
    CHECK(failure.message.find(
              "no kubeconfig: looked at /nonexistent/kp-test/config (no such file)") == 0);
    CHECK(failure.message.find("kubectl then dials http://localhost:8080") != std::string::npos);
    CHECK(failure.hint.find("~/.kube/config") != std::string::npos);
  }
  SECTION("--context with nothing defining it: refused, as kubectl refuses it") {
    kp::core::ConfigOverrides o;
    o.context = "prod";
    auto loaded = kp::apicheck::load_config(nothing_there(), o, fake.view());
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().message == "context \"prod\" does not exist");
  }
  SECTION("the other flags still apply to the default server (-n here)") {
    kp::core::ConfigOverrides o;
    o.namespaceName = "apps";
    auto loaded = kp::apicheck::load_config(nothing_there(), o, fake.view());
    REQUIRE(loaded);
    CHECK(loaded->client->namespaceName == "apps");
    CHECK(loaded->defaultServer);
  }
  SECTION("in a pod without a service-account token: said so") {
    fake.env["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
    fake.env["KUBERNETES_SERVICE_PORT"] = "443";
    auto loaded = kp::apicheck::load_config(nothing_there(), {}, fake.view());
    REQUIRE(loaded);
    CHECK(only_failure(*loaded).message.find("in a pod, but "
                                             "/nonexistent/kp-test/serviceaccount/token is "
                                             "missing") != std::string::npos);
  }
  SECTION("KUBERNETES_MASTER moves the fallback, a bare host:port gets http://") {
    fake.env["KUBERNETES_MASTER"] = "127.0.0.1:9";
    auto loaded = kp::apicheck::load_config(nothing_there(), {}, fake.view());
    REQUIRE(loaded);
    CHECK(loaded->client->server == "http://127.0.0.1:9");
  }
  SECTION("a k3s kubeconfig on this machine: how to use it") {
    fake.files["/etc/rancher/k3s/k3s.yaml"] = kRootOnly;
    fake.programs = {"gcloud"};
    auto loaded = kp::apicheck::load_config(nothing_there(), {}, fake.view());
    REQUIRE(loaded);
    const Check& failure = only_failure(*loaded);
    CHECK(failure.details["found"][0] == "/etc/rancher/k3s/k3s.yaml (k3s's)");
    CHECK(failure.hint.find("sudo cp /etc/rancher/k3s/k3s.yaml ~/.kube/config && sudo chown "
                            "$(id -u):$(id -g) ~/.kube/config") != std::string::npos);
    // A kubeconfig on the machine is the evidence: no cloud CLI guesses beside it.
    CHECK(failure.hint.find("gcloud") == std::string::npos);
  }
  SECTION("no local kubeconfig but a cloud CLI: its get-credentials command") {
    fake.programs = {"aws"};
    auto loaded = kp::apicheck::load_config(nothing_there(), {}, fake.view());
    REQUIRE(loaded);
    CHECK(only_failure(*loaded).hint == "aws eks update-kubeconfig --name CLUSTER --region REGION");
  }
  SECTION("under sudo: the invoking user's kubeconfig") {
    fake.uid = 0;
    fake.env["SUDO_USER"] = "alice";
    fake.homes["alice"] = "/home/alice";
    fake.files["/home/alice/.kube/config"] = HostView::File{false, 1000, 1000, 0600, {}};
    auto loaded = kp::apicheck::load_config(nothing_there(), {}, fake.view());
    REQUIRE(loaded);
    CHECK(only_failure(*loaded).hint.find("sudo KUBECONFIG=/home/alice/.kube/config kubectl") !=
          std::string::npos);
  }
}

// [posix]: Unix paths, owners and modes (k3s.yaml, sudo); Windows has ACLs and backslash paths
TEST_CASE("apicheck::load_config stops at a kubeconfig kubectl cannot read, and says why",
          "[apicheck][config][posix]") {
  FakeHost fake;
  LoadingRules rules;
  SECTION("permission denied: owner, mode, who runs, and a fix that is not chmod") {
    rules.explicitPath = "/etc/rancher/k3s/k3s.yaml";
    fake.files[rules.explicitPath] = kRootOnly;
    fake.unreadable.insert(rules.explicitPath);
    auto loaded = kp::apicheck::load_config(rules, {}, fake.view());
    REQUIRE(loaded);
    CHECK_FALSE(loaded->client);
    const Check& failure = only_failure(*loaded);
    CHECK(failure.message ==
          "cannot read /etc/rancher/k3s/k3s.yaml: permission denied (owner root:root, mode 0600; "
          "this is alice (uid 1000))");
    CHECK(failure.hint.find("write-kubeconfig-mode") != std::string::npos);
    CHECK(failure.hint.find("sudo cp /etc/rancher/k3s/k3s.yaml ~/.kube/config") !=
          std::string::npos);
    CHECK(failure.hint.find("chmod") == std::string::npos);
  }
  SECTION("the default ~/.kube/config copied with sudo: chown, not a copy onto itself") {
    rules.home = "/home/alice";
    fake.files["/home/alice/.kube/config"] = kRootOnly;
    fake.unreadable.insert("/home/alice/.kube/config");
    auto loaded = kp::apicheck::load_config(rules, {}, fake.view());
    REQUIRE(loaded);
    CHECK(only_failure(*loaded).hint ==
          "it was copied with sudo and never given to you: sudo chown $(id -u):$(id -g) "
          "/home/alice/.kube/config");
  }
  SECTION("a directory on the way may not be entered: not 'no such file'") {
    rules.kubeconfigEnv = "/root/.kube/config";
    HostView::File blocked;
    blocked.blockedBy = "/root";
    fake.files["/root/.kube/config"] = blocked;
    auto loaded = kp::apicheck::load_config(rules, {}, fake.view());
    REQUIRE(loaded);
    CHECK_FALSE(loaded->client);
    CHECK(only_failure(*loaded).message.find("who may not enter /root") != std::string::npos);
  }
  SECTION("kubeadm's admin.conf") {
    rules.kubeconfigEnv = "/etc/kubernetes/admin.conf";
    fake.files[rules.kubeconfigEnv] = kRootOnly;
    fake.unreadable.insert(rules.kubeconfigEnv);
    auto loaded = kp::apicheck::load_config(rules, {}, fake.view());
    REQUIRE(loaded);
    CHECK(only_failure(*loaded).hint.find("what kubeadm init prints") != std::string::npos);
  }
  SECTION("a KUBECONFIG entry that is a directory, with the file inside named") {
    rules.kubeconfigEnv = "/home/alice/.kube";
    fake.files["/home/alice/.kube"] = kDirectory;
    fake.files["/home/alice/.kube/config"] = HostView::File{false, 1000, 1000, 0600, {}};
    auto loaded = kp::apicheck::load_config(rules, {}, fake.view());
    REQUIRE(loaded);
    CHECK_FALSE(loaded->client);
    const Check& failure = only_failure(*loaded);
    CHECK(failure.message.find("is a directory") != std::string::npos);
    CHECK(failure.hint == "name the file inside it: /home/alice/.kube/config");
  }
  SECTION("--kubeconfig=~/...: the shell left the ~ alone") {
    rules.explicitPath = "~/.kube/lab";
    auto loaded = kp::apicheck::load_config(rules, {}, fake.view());
    REQUIRE(loaded);
    const Check& failure = only_failure(*loaded);
    CHECK(failure.message.find("the ~ was not expanded") != std::string::npos);
    CHECK(failure.hint == "write --kubeconfig ~/.kube/lab (a space, not '=') or $HOME/.kube/lab");
  }
}

// [posix]: KUBECONFIG split on ':', where ';' is a mistake (Windows: the [windows] case below)
TEST_CASE("apicheck::kubeconfig_env_checks warns on a literal ~ and on ';'",
          "[apicheck][config][posix]") {
  FakeHost fake;
  LoadingRules rules;
  rules.kubeconfigEnv = "~/.kube/config:/a;/b";
  const std::vector<Check> checks = kp::apicheck::kubeconfig_env_checks(rules, fake.view());
  REQUIRE(checks.size() == 2);
  CHECK(checks[0].status == CheckStatus::warn);
  // The fix keeps every entry of the list.
  CHECK(checks[0].hint == "write $HOME instead of ~: export KUBECONFIG=$HOME/.kube/config:/a;/b");
  CHECK(checks[1].message.find("\"/a;/b\" is one path") != std::string::npos);
  rules.explicitPath = "/x";  // --kubeconfig: KUBECONFIG is not read, so not judged
  CHECK(kp::apicheck::kubeconfig_env_checks(rules, fake.view()).empty());
}

#ifdef _WIN32
// On Windows ';' is KUBECONFIG's separator (and every drive letter has a ':').
TEST_CASE("apicheck::kubeconfig_env_checks on Windows: ';' separates, ~ is still literal",
          "[apicheck][config][windows]") {
  FakeHost fake;
  LoadingRules rules;
  rules.kubeconfigEnv = "~/.kube/config;C:\\a;\"C:\\my;dir\\config\"";
  const std::vector<Check> checks = kp::apicheck::kubeconfig_env_checks(rules, fake.view());
  REQUIRE(checks.size() == 1);
  CHECK(checks[0].details["entry"] == "~/.kube/config");
  CHECK(checks[0].hint ==
        "write $HOME instead of ~: export "
        "KUBECONFIG=$HOME/.kube/config;C:\\a;\"C:\\my;dir\\config\"");
}
#endif

TEST_CASE("apicheck::load_config refuses a v1alpha1 exec plugin as kubectl does, and goes on",
          "[apicheck][config]") {
  const KubeconfigFile file(R"(apiVersion: v1
kind: Config
current-context: eks
clusters:
- name: eks
  cluster:
    server: https://198.18.0.1:443
contexts:
- name: eks
  context: {cluster: eks, user: eks}
users:
- name: eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1alpha1
      command: aws
      args: [eks, get-token, --cluster-name, demo]
)");
  LoadingRules rules;
  rules.explicitPath = file.path();
  auto loaded = kp::apicheck::load_config(rules, {}, HostView::system({}));
  REQUIRE(loaded);
  REQUIRE(loaded->client);
  CHECK(loaded->client->server == "https://198.18.0.1:443");
  CHECK_FALSE(loaded->client->exec);
  CHECK(loaded->credentialsRefused.find("apiVersion") != std::string::npos);
  const Check& failure = only_failure(*loaded);
  CHECK(failure.id == "config.exec");
  CHECK(failure.hint.find("aws eks update-kubeconfig") != std::string::npos);
}

TEST_CASE("apicheck::local_cluster_hint names the local cluster and its start command",
          "[apicheck][config]") {
  using kp::apicheck::local_cluster_hint;
  CHECK(local_cluster_hint("minikube", "https://192.168.49.2:8443").find("minikube start") !=
        std::string::npos);
  CHECK(local_cluster_hint("kind-dev", "https://127.0.0.1:40123")
            .find("docker start dev-control-plane") != std::string::npos);
  CHECK(local_cluster_hint("k3d-lab", "https://0.0.0.0:6550").find("k3d cluster start lab") !=
        std::string::npos);
  CHECK(local_cluster_hint("colima-work", "https://127.0.0.1:6443")
            .find("colima start --kubernetes --profile work") != std::string::npos);
  CHECK(local_cluster_hint("prod", "https://127.0.0.1:16443").find("microk8s start") !=
        std::string::npos);
  CHECK(local_cluster_hint("docker-desktop", "https://kubernetes.docker.internal:6443")
            .find("Docker Desktop") != std::string::npos);
  CHECK(local_cluster_hint("prod", "https://10.0.0.1:6443").empty());
}

TEST_CASE("apicheck::Options::check stops after config when kubectl would", "[apicheck][config]") {
  kp::apicheck::Options options;
  options.nothingToDial = true;
  options.configChecks.push_back(kp::core::make_check("config.kubeconfig", kp::core::Layer::config,
                                                      CheckStatus::fail, "cannot read", "copy it"));
  const kp::core::Report report = options.check();
  CHECK(kp::core::failed_layer(report) == kp::core::Layer::config);
  for (const Check& check : report.checks) {
    if (check.layer != kp::core::Layer::config) {
      CHECK(check.status == CheckStatus::skip);
    }
  }
  CHECK(report.checks.size() == 6);  // config + dns, tcp, tls, auth, health skipped
}

TEST_CASE("apicheck::load_config goes on past a context's missing user or cluster as kubectl does",
          "[apicheck][config]") {
  const KubeconfigFile file(R"(apiVersion: v1
kind: Config
current-context: x2
clusters:
- name: c0
  cluster: {server: "https://198.18.0.9:6443"}
contexts:
- name: x2
  context: {cluster: c0, user: u1}
- name: x3
  context: {cluster: c1, user: u0}
users:
- name: u0
  user: {token: abc}
)");
  LoadingRules rules;
  rules.explicitPath = file.path();
  FakeHost fake;
  kp::core::ConfigOverrides o;
  SECTION("a missing user: no credentials, a config.user failure") {
    auto loaded = kp::apicheck::load_config(rules, o, fake.view());
    REQUIRE(loaded);
    REQUIRE(loaded->client);
    CHECK(loaded->client->server == "https://198.18.0.9:6443");
    CHECK(loaded->client->authMethod == "none");
    const Check& failure = only_failure(*loaded);
    CHECK(failure.id == "config.user");
    CHECK(failure.message.find("names user \"u1\", which no kubeconfig defines") !=
          std::string::npos);
  }
  SECTION("a missing user with --token: kubectl sends the flag's token, so does apicheck") {
    o.token = "flag-token";
    auto loaded = kp::apicheck::load_config(rules, o, fake.view());
    REQUIRE(loaded);
    CHECK(loaded->client->authMethod == "token");
    CHECK(loaded->credentialsRefused.empty());
    CHECK(only_failure(*loaded).id == "config.user");
  }
  SECTION("a missing user and no flag: no credentialed request, pointing at config.user") {
    auto loaded = kp::apicheck::load_config(rules, o, fake.view());
    REQUIRE(loaded);
    CHECK(loaded->credentialsRefused.find("config.user") != std::string::npos);
  }
  SECTION("a missing cluster with --server: kubectl dials --server, with the user's token") {
    o.context = "x3";
    o.server = "https://198.18.0.10:6443";
    auto loaded = kp::apicheck::load_config(rules, o, fake.view());
    REQUIRE(loaded);
    CHECK(loaded->client->server == "https://198.18.0.10:6443");
    CHECK(loaded->client->authMethod == "token");
    // the request goes where --server says, as kubectl's does: a warning, not the failure
    REQUIRE(loaded->checks.size() == 1);
    CHECK(loaded->checks[0].id == "config.cluster");
    CHECK(loaded->checks[0].status == CheckStatus::warn);
    CHECK_FALSE(loaded->defaultServer);
  }
  SECTION("a missing cluster without --server: kubectl's default server") {
    o.context = "x3";
    auto loaded = kp::apicheck::load_config(rules, o, fake.view());
    REQUIRE(loaded);
    CHECK(loaded->client->server == "http://localhost:8080");
    CHECK(only_failure(*loaded).id == "config.cluster");
    CHECK(loaded->defaultServer);  // so the tcp layer says it is kubectl's default address
  }
  SECTION("names given by --user or --cluster stay refused, as kubectl refuses them") {
    o.user = "nope";
    auto user = kp::apicheck::load_config(rules, o, fake.view());
    REQUIRE_FALSE(user);
    CHECK(user.error().message == "auth info \"nope\" does not exist");
    o = {};
    o.cluster = "nope";
    auto cluster = kp::apicheck::load_config(rules, o, fake.view());
    REQUIRE_FALSE(cluster);
    // kubectl without -n validates first and words it "no server found for cluster"
    CHECK(cluster.error().message ==
          "cluster \"nope\" does not exist (kubectl: \"no server found for cluster \"nope\"\")");
  }
}

// [posix]: sudo and root's /root/.kube/config exist on Unix only
TEST_CASE("apicheck::load_config warns when sudo reads root's kubeconfig beside the user's",
          "[apicheck][config][posix]") {
  const KubeconfigFile root(R"(apiVersion: v1
kind: Config
current-context: old
clusters:
- name: old
  cluster: {server: "https://198.18.0.11:6443"}
contexts:
- name: old
  context: {cluster: old}
)");
  // The file sits at <dir>/config; make <dir> root's HOME with .kube/config in it.
  const std::filesystem::path home = std::filesystem::path(root.path()).parent_path();
  std::filesystem::create_directories(home / ".kube");
  std::filesystem::copy_file(root.path(), home / ".kube" / "config");
  LoadingRules rules;
  rules.home = home.string();
  FakeHost fake;
  fake.uid = 0;
  fake.env["SUDO_USER"] = "alice";
  fake.homes["alice"] = "/home/alice";
  fake.files["/home/alice/.kube/config"] = HostView::File{false, 1000, 1000, 0600, {}};
  fake.files[(home / ".kube" / "config").string()] = HostView::File{false, 0, 0, 0600, {}};
  auto loaded = kp::apicheck::load_config(rules, {}, fake.view());
  REQUIRE(loaded);
  REQUIRE(loaded->client);
  CHECK(loaded->client->server == "https://198.18.0.11:6443");  // root's, as kubectl reads it
  REQUIRE(loaded->checks.size() == 1);
  CHECK(loaded->checks[0].id == "config.sudo");
  CHECK(loaded->checks[0].status == CheckStatus::warn);
  CHECK(loaded->checks[0].hint ==
        "run kubectl as alice (without sudo), or sudo "
        "KUBECONFIG=/home/alice/.kube/config kubectl ...");
  fake.env.erase("SUDO_USER");  // plain root: nothing to say
  auto plain = kp::apicheck::load_config(rules, {}, fake.view());
  REQUIRE(plain);
  CHECK(plain->checks.empty());
}
