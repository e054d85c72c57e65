#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/kube/exec_credential.h"

using namespace kp::core;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kV1 = "client.authentication.k8s.io/v1";
constexpr const char* kV1beta1 = "client.authentication.k8s.io/v1beta1";

// A scratch directory of tiny shell-script plugins, removed at scope exit.
class PluginDir {
 public:
  PluginDir() {
    path_ = fs::temp_directory_path() /
            ("kp-exec-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~PluginDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  PluginDir(const PluginDir&) = delete;
  PluginDir& operator=(const PluginDir&) = delete;

  // Writes an executable `#!/bin/sh` script.
  std::string script(const std::string& name, const std::string& body) const {
    const fs::path file = path_ / name;
    std::ofstream(file) << "#!/bin/sh\n" << body;
    fs::permissions(file, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
    return file.string();
  }
  fs::path file(const std::string& name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ExecConfig plugin(const std::string& command, std::string apiVersion = kV1,
                  std::string mode = "Never") {
  ExecConfig exec;
  exec.command = command;
  exec.apiVersion = std::move(apiVersion);
  exec.interactiveMode = std::move(mode);
  return exec;
}

// No terminal, PATH limited to the system directories (plus `extraPath`), stderr captured.
ExecEnvironment test_env(std::ostream* err, std::string extraPath = "") {
  ExecEnvironment env;
  env.stdinIsTerminal = false;
  env.getenv = [extraPath](const std::string& name) -> std::optional<std::string> {
    if (name == "PATH") {
      return extraPath.empty() ? "/usr/bin:/bin" : extraPath + ":/usr/bin:/bin";
    }
    return std::nullopt;
  };
  env.pluginStderr = err;
  return env;
}

ClientConfig cluster() {
  ClientConfig c;
  c.server = "https://api.lab.test:6443";
  c.caPem = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
  return c;
}

// True when this process has no child left, zombie or alive.
bool no_children() {
  int status = 0;
  const pid_t pid = ::waitpid(-1, &status, WNOHANG);
  return pid == -1 && errno == ECHILD;
}

// "Z" for a zombie, "" when the process is gone.
std::string process_state(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) {
    return "";
  }
  return text.substr(close + 2, 1);
}

const char* kTokenV1 =
    R"(echo '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",)"
    R"("status":{"token":"tok-v1","expirationTimestamp":"2030-01-02T03:04:05Z"}}')"
    "\n";

}  // namespace

TEST_CASE("core::run_exec_plugin returns a v1 token", "[exec]") {
  PluginDir dir;
  std::ostringstream err;
  const auto credential =
      run_exec_plugin(plugin(dir.script("p", kTokenV1)), cluster(), test_env(&err), 5s);
  REQUIRE(credential);
  CHECK(credential->token == "tok-v1");
  CHECK(credential->apiVersion == kV1);
  CHECK(credential->expirationUnix == 1893553445);
  CHECK(err.str().empty());
  CHECK(no_children());
}

TEST_CASE("core::run_exec_plugin returns a v1beta1 certificate and key", "[exec]") {
  PluginDir dir;
  const std::string body =
      R"(printf '%s' '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1",)"
      R"("status":{"clientCertificateData":"-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",)"
      R"("clientKeyData":"-----BEGIN EC PRIVATE KEY-----\nY\n-----END EC PRIVATE KEY-----\n"}}')"
      "\n";
  const auto credential = run_exec_plugin(plugin(dir.script("p", body), kV1beta1, "IfAvailable"),
                                          cluster(), test_env(nullptr), 5s);
  REQUIRE(credential);
  CHECK(credential->token.empty());
  CHECK(credential->clientCertPem == "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n");
  CHECK(credential->clientKeyPem ==
        "-----BEGIN EC PRIVATE KEY-----\nY\n-----END EC PRIVATE KEY-----\n");
  CHECK_FALSE(credential->expirationUnix);
}

TEST_CASE("core::run_exec_plugin rejects an apiVersion other than the configured one", "[exec]") {
  PluginDir dir;
  const auto credential = run_exec_plugin(plugin(dir.script("p", kTokenV1), kV1beta1), cluster(),
                                          test_env(nullptr), 5s);
  REQUIRE_FALSE(credential);
  CHECK(credential.error().kind == ExecFailure::badOutput);
  CHECK(credential.error().message ==
        "exec plugin is configured to use API version client.authentication.k8s.io/v1beta1, "
        "plugin returned version client.authentication.k8s.io/v1");
  CHECK(credential.error().returnedApiVersion == "client.authentication.k8s.io/v1");
}

TEST_CASE("core::run_exec_plugin needs a status field", "[exec]") {
  PluginDir dir;
  const auto credential = run_exec_plugin(
      plugin(dir.script(
          "p", R"(echo '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1"}')"
               "\n")),
      cluster(), test_env(nullptr), 5s);
  REQUIRE_FALSE(credential);
  CHECK(credential.error().kind == ExecFailure::badOutput);
  CHECK(credential.error().message == "exec plugin didn't return a status field");
}

TEST_CASE("core::run_exec_plugin reports the exit code and passes stderr to the user", "[exec]") {
  PluginDir dir;
  std::ostringstream err;
  const std::string path =
      dir.script("p", "echo 'error: SSO session expired, run aws sso login' >&2\nexit 1\n");
  ExecConfig exec = plugin(path);
  exec.installHint = "install the aws CLI";
  const auto credential = run_exec_plugin(exec, cluster(), test_env(&err), 5s);
  REQUIRE_FALSE(credential);
  CHECK(credential.error().kind == ExecFailure::failed);
  CHECK(credential.error().message == "exec: executable " + path + " failed with exit code 1");
  CHECK(credential.error().exitCode == 1);
  CHECK(credential.error().stderrTail == "error: SSO session expired, run aws sso login\n");
  CHECK(err.str() == "error: SSO session expired, run aws sso login\n");
  CHECK(describe(credential.error()) == credential.error().message);  // no hint for failures
  CHECK(no_children());
}

TEST_CASE("core::run_exec_plugin reports a plugin killed by a signal as exit code -1", "[exec]") {
  PluginDir dir;
  const auto credential =
      run_exec_plugin(plugin(dir.script("p", "kill -9 $$\n")), cluster(), test_env(nullptr), 5s);
  REQUIRE_FALSE(credential);
  CHECK(credential.error().kind == ExecFailure::failed);
  CHECK(credential.error().exitCode == -1);
}

TEST_CASE("core::run_exec_plugin names a missing executable and its installHint", "[exec]") {
  ExecConfig exec = plugin("kplab-missing-credential-plugin");
  exec.installHint = "kplab-missing-credential-plugin is part of the lab: run tests/lab/lab up";
  const auto credential = run_exec_plugin(exec, cluster(), test_env(nullptr), 5s);
  REQUIRE_FALSE(credential);
  CHECK(credential.error().kind == ExecFailure::notFound);
  CHECK(credential.error().message == "exec: executable kplab-missing-credential-plugin not found");
  CHECK(credential.error().installHint == exec.installHint);
  CHECK(describe(credential.error()) ==
        "exec: executable kplab-missing-credential-plugin not found\n\n"
        "It looks like you are trying to use a client-go credential plugin that is not "
        "installed.\n\n"
        "To learn more about this feature, consult the documentation available at:\n"
        "      https://kubernetes.io/docs/reference/access-authn-authz/authentication/"
        "#client-go-credential-plugins\n\n"
        "kplab-missing-credential-plugin is part of the lab: run tests/lab/lab up");
}

TEST_CASE("core::run_exec_plugin runs a path as given and looks bare names up on PATH", "[exec]") {
  PluginDir dir;
  dir.script("kplab-cred", kTokenV1);
  SECTION("found on PATH") {
    const auto credential = run_exec_plugin(plugin("kplab-cred"), cluster(),
                                            test_env(nullptr, dir.path().string()), 5s);
    REQUIRE(credential);
    CHECK(credential->token == "tok-v1");
  }
  SECTION("not on PATH") {
    const auto credential = run_exec_plugin(plugin("kplab-cred"), cluster(), test_env(nullptr), 5s);
    REQUIRE_FALSE(credential);
    CHECK(credential.error().kind == ExecFailure::notFound);
  }
  SECTION("a missing path is Go's fork/exec error") {
    const std::string missing = (dir.path() / "nope").string();
    const auto credential = run_exec_plugin(plugin(missing), cluster(), test_env(nullptr), 5s);
    REQUIRE_FALSE(credential);
    CHECK(credential.error().kind == ExecFailure::notFound);
    CHECK(credential.error().message ==
          "exec: fork/exec " + missing + ": no such file or directory");
  }
  SECTION("a file without the execute bit is skipped on PATH") {
    fs::permissions(dir.file("kplab-cred"), fs::perms::owner_read | fs::perms::owner_write);
    const auto credential = run_exec_plugin(plugin("kplab-cred"), cluster(),
                                            test_env(nullptr, dir.path().string()), 5s);
    REQUIRE_FALSE(credential);
    CHECK(credential.error().kind == ExecFailure::notFound);
  }
}

TEST_CASE("core::run_exec_plugin kills a plugin that outlives the deadline", "[exec]") {
  PluginDir dir;
  const fs::path pidFile = dir.file("sleeper.pid");
  // The shell forks `sleep`; killing only the shell would leave sleep holding the pipes.
  const std::string path =
      dir.script("p", "sleep 1000 &\necho $! > " + pidFile.string() + "\nwait\n");
  std::ostringstream err;
  const auto start = std::chrono::steady_clock::now();
  const auto credential = run_exec_plugin(plugin(path), cluster(), test_env(&err), 300ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(credential);
  CHECK(credential.error().kind == ExecFailure::timeout);
  CHECK(credential.error().message ==
        "exec: executable " + path + " did not finish within 300ms and was killed");
  CHECK(elapsed >= 300ms);
  CHECK(elapsed < 1300ms);
  CHECK(no_children());
  // The plugin's own child died with it (gone, or a zombie waiting for init).
  const pid_t sleeper = std::stoi(slurp(pidFile));
  for (int i = 0; i < 100 && process_state(sleeper) != "" && process_state(sleeper) != "Z"; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  const std::string state = process_state(sleeper);
  CHECK((state.empty() || state == "Z"));
}

TEST_CASE("core::run_exec_plugin does not wait for a helper the plugin left running", "[exec]") {
  PluginDir dir;
  // The background job inherits stdout, so the pipe stays open after the plugin exits.
  const std::string body = std::string("(sleep 3) &\n") + kTokenV1;
  const auto start = std::chrono::steady_clock::now();
  const auto credential =
      run_exec_plugin(plugin(dir.script("p", body)), cluster(), test_env(nullptr), 5s);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  REQUIRE(credential);
  CHECK(credential->token == "tok-v1");
}

TEST_CASE("core::run_exec_plugin bounds the output", "[exec]") {
  PluginDir dir;
  const auto credential =
      run_exec_plugin(plugin(dir.script("p", "head -c 2000000 /dev/zero | tr '\\0' 'a'\n")),
                      cluster(), test_env(nullptr), 5s);
  REQUIRE_FALSE(credential);
  CHECK(credential.error().kind == ExecFailure::badOutput);
  CHECK(credential.error().message ==
        "exec: executable " + dir.file("p").string() + " wrote more than 1048576 bytes to stdout");
  CHECK(no_children());
}

TEST_CASE("core::run_exec_plugin sets KUBERNETES_EXEC_INFO without cluster info", "[exec]") {
  PluginDir dir;
  const fs::path out = dir.file("info.json");
  const std::string body =
      "printf '%s' \"$KUBERNETES_EXEC_INFO\" > " + out.string() + "\n" + kTokenV1;
  REQUIRE(run_exec_plugin(plugin(dir.script("p", body)), cluster(), test_env(nullptr), 5s));
  CHECK(slurp(out) == R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",)"
                      R"("spec":{"interactive":false}})");
}

TEST_CASE("core::exec_info_json tells the plugin client-go's Host", "[exec]") {
  ExecConfig exec;
  exec.provideClusterInfo = true;
  ClientConfig c = cluster();
  c.host = "https://api.lab.test:6443?q=1#frag";  // no path: client-go keeps the query
  const nlohmann::json info = nlohmann::json::parse(exec_info_json(exec, c, false));
  CHECK(info["spec"]["cluster"]["server"] == "https://api.lab.test:6443?q=1#frag");
  c.host.clear();  // in-cluster: the server
  CHECK(nlohmann::json::parse(exec_info_json(exec, c, false))["spec"]["cluster"]["server"] ==
        c.server);
}

TEST_CASE("core::run_exec_plugin sets KUBERNETES_EXEC_INFO with cluster info", "[exec]") {
  PluginDir dir;
  const fs::path out = dir.file("info.json");
  const std::string body =
      "printf '%s' \"$KUBERNETES_EXEC_INFO\" > " + out.string() + "\n" + kTokenV1;
  ExecConfig exec = plugin(dir.script("p", body));
  exec.provideClusterInfo = true;
  ClientConfig c = cluster();
  c.tlsServerName = "api.internal";
  c.proxyUrl = "socks5://proxy:1080";
  c.disableCompression = true;
  c.execClusterConfig = nlohmann::json{{"audience", "lab"}};
  REQUIRE(run_exec_plugin(exec, c, test_env(nullptr), 5s));
  const nlohmann::json info = nlohmann::json::parse(slurp(out));
  CHECK(info["spec"]["interactive"] == false);
  CHECK(info["spec"]["cluster"] == nlohmann::json::parse(R"({"server":"https://api.lab.test:6443",
            "tls-server-name":"api.internal",
            "certificate-authority-data":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K",
            "proxy-url":"socks5://proxy:1080","disable-compression":true,
            "config":{"audience":"lab"}})"));
}

TEST_CASE("core::run_exec_plugin passes the parent environment plus exec.env", "[exec]") {
  PluginDir dir;
  const fs::path out = dir.file("env.txt");
  ::setenv("KP_EXEC_TEST_PARENT", "from-parent", 1);
  ::setenv("KP_EXEC_TEST_OVERRIDDEN", "parent", 1);
  ExecConfig exec = plugin(
      dir.script("p", "echo \"$KP_EXEC_TEST_PARENT $KP_EXEC_TEST_OVERRIDDEN $AWS_PROFILE\" > " +
                          out.string() + "\n" + kTokenV1));
  exec.env = {{"AWS_PROFILE", "lab"}, {"KP_EXEC_TEST_OVERRIDDEN", "exec"}};
  REQUIRE(run_exec_plugin(exec, cluster(), test_env(nullptr), 5s));
  CHECK(slurp(out) == "from-parent exec lab\n");
  ::unsetenv("KP_EXEC_TEST_PARENT");
  ::unsetenv("KP_EXEC_TEST_OVERRIDDEN");
}

TEST_CASE("core::run_exec_plugin interactiveMode decides stdin", "[exec]") {
  PluginDir dir;
  const fs::path out = dir.file("stdin.txt");
  const std::string path =
      dir.script("p", "readlink /proc/$$/fd/0 > " + out.string() + "\n" + kTokenV1);
  SECTION("Never: /dev/null") {
    REQUIRE(run_exec_plugin(plugin(path, kV1, "Never"), cluster(), test_env(nullptr), 5s));
    CHECK(slurp(out) == "/dev/null\n");
  }
  SECTION("IfAvailable without a terminal: /dev/null") {
    REQUIRE(run_exec_plugin(plugin(path, kV1, "IfAvailable"), cluster(), test_env(nullptr), 5s));
    CHECK(slurp(out) == "/dev/null\n");
  }
  SECTION("Always without a terminal: an error, nothing run") {
    const auto credential =
        run_exec_plugin(plugin(path, kV1, "Always"), cluster(), test_env(nullptr), 5s);
    REQUIRE_FALSE(credential);
    CHECK(credential.error().kind == ExecFailure::interactiveRequired);
    CHECK(credential.error().message ==
          "exec plugin cannot support interactive mode: standard input is not a terminal");
    CHECK_FALSE(fs::exists(out));
  }
  SECTION("IfAvailable with a terminal: interactive, stdin inherited") {
    const fs::path info = dir.file("info.json");
    ExecEnvironment env = test_env(nullptr);
    env.stdinIsTerminal = true;
    REQUIRE(run_exec_plugin(plugin(dir.script("q", "printf '%s' \"$KUBERNETES_EXEC_INFO\" > " +
                                                       info.string() + "\n" + kTokenV1),
                                   kV1, "IfAvailable"),
                            cluster(), env, 5s));
    CHECK(nlohmann::json::parse(slurp(info))["spec"]["interactive"] == true);
  }
}

TEST_CASE("core::parse_exec_credential validates the response", "[exec]") {
  auto error = [](std::string_view json) {
    const auto parsed = parse_exec_credential(json, kV1);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == ExecFailure::badOutput);
    return parsed.error().message;
  };
  const std::string head =
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",)";
  CHECK(error("") ==
        "decoding stdout: invalid JSON: parse error at line 1, column 1: syntax error "
        "while parsing value - unexpected end of input; expected '[', '{', or a "
        "literal");
  CHECK(error("<html>502 Bad Gateway</html>").rfind("decoding stdout: invalid JSON: ", 0) == 0);
  CHECK(error("[1,2]") == "decoding stdout: expected a JSON object");
  CHECK(error(R"({"apiVersion":"client.authentication.k8s.io/v1"})") ==
        "decoding stdout: Object 'Kind' is missing");
  CHECK(error(R"({"kind":"ExecCredential"})") == "decoding stdout: Object 'apiVersion' is missing");
  CHECK(error(R"({"kind":"Secret","apiVersion":"client.authentication.k8s.io/v1"})") ==
        "decoding stdout: no kind \"Secret\" is registered for version "
        "\"client.authentication.k8s.io/v1\"");
  CHECK(error(head + R"("status":[]})") == "decoding stdout: status: expected an object");
  CHECK(error(head + R"("status":{}})") == "exec plugin didn't return a token or cert/key pair");
  CHECK(error(head + R"("status":{"token":42}})") ==
        "decoding stdout: status.token: expected a string");
  CHECK(error(head + R"("status":{"clientCertificateData":"C"}})") ==
        "exec plugin returned only certificate or key, not both");
  CHECK(error(head + R"("status":{"token":"t","expirationTimestamp":"tomorrow"}})") ==
        "decoding stdout: parsing time \"tomorrow\" as \"2006-01-02T15:04:05Z07:00\": not RFC "
        "3339");
  CHECK(error(std::string(1000, '[')) == "decoding stdout: JSON nested deeper than 100 levels");
}

TEST_CASE("core::parse_exec_credential never quotes the token in errors", "[exec]") {
  const std::string secret = "eyJhbGciOiJSUzI1NiJ9.super-secret";
  for (
      const std::string& json :
      {R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":")" +
           secret,
       R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":")" +
           secret + "\"}}",
       R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":")" +
           secret + "\",\"expirationTimestamp\":5}}"}) {
    const auto parsed = parse_exec_credential(json, kV1);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message.find("secret") == std::string::npos);
  }
}

TEST_CASE("core::parse_exec_credential reads RFC 3339 expirations", "[exec]") {
  auto expiry = [](const std::string& timestamp) {
    const auto parsed = parse_exec_credential(
        R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"t","expirationTimestamp":")" +
            timestamp + "\"}}",
        kV1);
    REQUIRE(parsed);
    return parsed->expirationUnix;
  };
  CHECK(expiry("1970-01-01T00:00:00Z") == 0);
  CHECK(expiry("2024-02-29T12:00:00.123456789Z") == 1709208000);
  CHECK(expiry("2024-02-29T14:00:00+02:00") == 1709208000);
  CHECK(expiry("2024-02-29T07:30:00-04:30") == 1709208000);
  CHECK(expiry("") == std::nullopt);
  CHECK_FALSE(parse_exec_credential(
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"t","expirationTimestamp":"2023-02-29T00:00:00Z"}})",
      kV1));
}

TEST_CASE("core::exec_info_json matches client-go's encoding", "[exec]") {
  ExecConfig exec = plugin("aws");
  CHECK(
      exec_info_json(exec, cluster(), true) ==
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}})");
  exec.provideClusterInfo = true;
  ClientConfig c;
  c.server = "https://h:6443";
  c.insecure = true;
  CHECK(
      exec_info_json(exec, c, false) ==
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://h:6443","insecure-skip-tls-verify":true,"config":null},"interactive":false}})");
}
