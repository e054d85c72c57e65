#include "core/kube/exec_credential.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <nlohmann/json.hpp>

#include "core/kube/kube.h"
#include "core/util/base64.h"

namespace kp::core {
namespace {

namespace bp = boost::process;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kInstallHintVerboseHelp =
    "\n\nIt looks like you are trying to use a client-go credential plugin that is not "
    "installed.\n\nTo learn more about this feature, consult the documentation available at:\n"
    "      https://kubernetes.io/docs/reference/access-authn-authz/authentication/"
    "#client-go-credential-plugins";

constexpr std::size_t kStderrTailBytes = 4096;

ExecError make_error(ExecFailure kind, std::string message) {
  ExecError error;
  error.kind = kind;
  error.message = std::move(message);
  return error;
}

ExecError bad_output(std::string message) {
  return make_error(ExecFailure::badOutput, std::move(message));
}

std::string quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// strerror() capitalises; Go prints the lower-case form.
std::string describe_errno(int err) {
  std::string text = std::strerror(err);
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

// Go's Duration.String() for whole milliseconds: "500ms", "2s", "1.5s".
std::string format_duration(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms < 1000) {
    return std::to_string(ms) + "ms";
  }
  std::string text = std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    std::string fraction = std::to_string(1000 + ms % 1000).substr(1);
    while (fraction.ends_with('0')) {
      fraction.pop_back();
    }
    text += "." + fraction;
  }
  return text + "s";
}

std::optional<std::string> lookup(const ExecEnvironment& env, const std::string& name) {
  if (env.getenv) {
    return env.getenv(name);
  }
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

// Go's exec.LookPath: a regular file with an execute bit, in PATH order; "" means ".".
std::optional<std::string> look_path(const std::string& file, const ExecEnvironment& env) {
  const std::string path = lookup(env, "PATH").value_or("");
  std::size_t start = 0;
  for (;;) {
    const auto end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? end : end - start);
    if (dir.empty()) {
      dir = ".";
    }
    const std::string candidate = dir + "/" + file;
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        (info.st_mode & 0111) != 0) {
      return candidate;
    }
    if (end == std::string::npos) {
      return std::nullopt;
    }
    start = end + 1;
  }
}

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

// Close-on-exec pipes: only the ends the child dup2()s onto 1 and 2 survive its exec.
std::optional<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return std::nullopt;
  }
  Pipe pipe{Fd(fds[0]), Fd(fds[1])};
  ::fcntl(pipe.read.get(), F_SETFL, ::fcntl(pipe.read.get(), F_GETFL) | O_NONBLOCK);
  return pipe;
}

// Runs in the forked child before exec: wire stdout/stderr to the pipes, stdin to /dev/null
// unless interactive, and a process group of its own so a timeout can kill the plugin's
// children too. An interactive plugin stays in ours, or it could not read the terminal.
struct ChildSetup {
  int stdoutFd;
  int stderrFd;
  bool interactive;

  template <class Executor>
  void operator()(Executor&) const {
    if (!interactive) {
      ::setpgid(0, 0);
      const int devNull = ::open("/dev/null", O_RDONLY);
      if (devNull >= 0) {
        ::dup2(devNull, STDIN_FILENO);
        ::close(devNull);
      }
    }
    ::dup2(stdoutFd, STDOUT_FILENO);
    ::dup2(stderrFd, STDERR_FILENO);
  }
};

// The child's environment as execve() wants it. Built by hand rather than with
// bp::environment, whose find() in Boost 1.74 reads past shorter entries (ASan catches it).
class ChildEnvironment {
 public:
  // This process's environment with `overrides` applied, later entries winning like Go's
  // dedupEnv.
  explicit ChildEnvironment(const std::vector<std::pair<std::string, std::string>>& overrides) {
    std::map<std::string, std::string> wanted;
    std::vector<std::string> order;
    for (const auto& [name, value] : overrides) {
      if (wanted.insert_or_assign(name, value).second) {
        order.push_back(name);
      }
    }
    for (char** entry = ::environ; entry != nullptr && *entry != nullptr; ++entry) {
      const std::string_view text(*entry);
      if (wanted.count(std::string(text.substr(0, text.find('=')))) == 0) {
        entries_.emplace_back(text);
      }
    }
    for (const std::string& name : order) {
      entries_.push_back(name + "=" + wanted[name]);
    }
    for (std::string& entry : entries_) {
      pointers_.push_back(entry.data());
    }
    pointers_.push_back(nullptr);
  }

  char** envp() { return pointers_.data(); }

 private:
  std::vector<std::string> entries_;
  std::vector<char*> pointers_;
};

// Runs in the parent before fork: hands execve() our environment.
struct UseEnvironment {
  char** envp;

  template <class Executor>
  void operator()(Executor& executor) const {
    executor.env = envp;
  }
};

// The child and how to stop it; its destructor never leaves a zombie behind.
class RunningPlugin {
 public:
  RunningPlugin(bp::child child, bool ownGroup) : child_(std::move(child)), ownGroup_(ownGroup) {
    if (ownGroup_) {
      ::setpgid(child_.id(), child_.id());  // also from here, so a kill cannot race the child
    }
  }
  ~RunningPlugin() { kill(); }
  RunningPlugin(const RunningPlugin&) = delete;
  RunningPlugin& operator=(const RunningPlugin&) = delete;

  bool running() {
    std::error_code ec;
    return !reaped_ && child_.running(ec) && !ec;
  }

  // Kills a plugin that is still running (its group too, so a `sleep` it started dies with it)
  // and reaps it. One that exited is left alone with whatever it started: a credential helper
  // may leave a caching agent behind on purpose.
  void kill() {
    if (reaped_) {
      return;
    }
    std::error_code ec;
    if (child_.running(ec)) {
      if (!ownGroup_ || ::kill(-child_.id(), SIGKILL) != 0) {
        ::kill(child_.id(), SIGKILL);
      }
      child_.wait(ec);
    }
    reaped_ = true;
  }

  // Go's ProcessState.ExitCode(): the exit status, or -1 when a signal ended it.
  int exit_code() const {
    const int status = child_.native_exit_code();
    if (WIFEXITED(status)) {
      return WEXITSTATUS(status);
    }
    return -1;
  }

 private:
  bp::child child_;
  bool ownGroup_;
  bool reaped_ = false;
};

// Reads what is available without blocking; false at end of file.
bool drain(Fd& fd, std::string& into) {
  char buffer[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      fd.reset();
      return false;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      fd.reset();
      return false;
    }
    return true;
  }
}

}  // namespace

namespace {

// An optional string field of `status`; a present non-string is a decoding error.
Result<std::string, ExecError> status_string(const nlohmann::json& status, const char* key) {
  const auto found = status.find(key);
  if (found == status.end() || found->is_null()) {
    return std::string();
  }
  if (!found->is_string()) {
    return bad_output(std::string("decoding stdout: status.") + key + ": expected a string");
  }
  return found->get<std::string>();
}

}  // namespace

std::string describe(const ExecError& error) {
  std::string text = error.message;
  if (error.kind == ExecFailure::notFound) {
    text += kInstallHintVerboseHelp;
    if (!error.installHint.empty()) {
      text += "\n\n" + error.installHint;
    }
  }
  return text;
}

ExecEnvironment ExecEnvironment::system() {
  ExecEnvironment env;
  env.stdinIsTerminal = ::isatty(STDIN_FILENO) == 1;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
  env.pluginStderr = &std::cerr;
  return env;
}

std::string exec_info_json(const ExecConfig& exec, const ClientConfig& cluster, bool interactive) {
  // ordered_json keeps client-go's field order, which makes -v logs compare line for line.
  nlohmann::ordered_json spec = nlohmann::ordered_json::object();
  if (exec.provideClusterInfo) {
    nlohmann::ordered_json c = nlohmann::ordered_json::object();
    c["server"] = cluster.server;
    if (!cluster.tlsServerName.empty()) {
      c["tls-server-name"] = cluster.tlsServerName;
    }
    if (cluster.insecure) {
      c["insecure-skip-tls-verify"] = true;
    }
    if (!cluster.caPem.empty()) {
      c["certificate-authority-data"] = encode_base64(cluster.caPem);
    }
    if (!cluster.proxyUrl.empty()) {
      c["proxy-url"] = cluster.proxyUrl;
    }
    if (cluster.disableCompression) {
      c["disable-compression"] = true;
    }
    // A RawExtension is a struct to encoding/json, so omitempty keeps it: null when unset.
    c["config"] = nlohmann::ordered_json::parse(cluster.execClusterConfig.dump());
    spec["cluster"] = std::move(c);
  }
  spec["interactive"] = interactive;
  nlohmann::ordered_json info = nlohmann::ordered_json::object();
  info["kind"] = "ExecCredential";
  info["apiVersion"] = exec.apiVersion;
  info["spec"] = std::move(spec);
  return info.dump();
}

Result<ExecCredential, ExecError> parse_exec_credential(std::string_view json,
                                                        std::string_view expectedApiVersion) {
  Result<nlohmann::json> parsed = parse_json(json);
  if (!parsed) {
    return bad_output("decoding stdout: " + parsed.error().message);
  }
  const nlohmann::json& doc = *parsed;
  if (!doc.is_object()) {
    return bad_output("decoding stdout: expected a JSON object");
  }
  const auto kind = doc.find("kind");
  if (kind == doc.end() || !kind->is_string() || kind->get<std::string>().empty()) {
    return bad_output("decoding stdout: Object 'Kind' is missing");
  }
  const auto apiVersion = doc.find("apiVersion");
  if (apiVersion == doc.end() || !apiVersion->is_string() ||
      apiVersion->get<std::string>().empty()) {
    return bad_output("decoding stdout: Object 'apiVersion' is missing");
  }
  ExecCredential credential;
  credential.apiVersion = apiVersion->get<std::string>();
  if (credential.apiVersion != expectedApiVersion) {
    return bad_output("exec plugin is configured to use API version " +
                      std::string(expectedApiVersion) + ", plugin returned version " +
                      credential.apiVersion);
  }
  if (kind->get<std::string>() != "ExecCredential") {
    return bad_output("decoding stdout: no kind " + quote(kind->get<std::string>()) +
                      " is registered for version " + quote(credential.apiVersion));
  }
  const auto status = doc.find("status");
  if (status == doc.end() || status->is_null()) {
    return bad_output("exec plugin didn't return a status field");
  }
  if (!status->is_object()) {
    return bad_output("decoding stdout: status: expected an object");
  }
  Result<std::string, ExecError> token = status_string(*status, "token");
  if (!token) {
    return token.error();
  }
  Result<std::string, ExecError> cert = status_string(*status, "clientCertificateData");
  if (!cert) {
    return cert.error();
  }
  Result<std::string, ExecError> key = status_string(*status, "clientKeyData");
  if (!key) {
    return key.error();
  }
  Result<std::string, ExecError> expiration = status_string(*status, "expirationTimestamp");
  if (!expiration) {
    return expiration.error();
  }
  credential.token = std::move(token).value();
  credential.clientCertPem = std::move(cert).value();
  credential.clientKeyPem = std::move(key).value();
  if (credential.token.empty() && credential.clientCertPem.empty() &&
      credential.clientKeyPem.empty()) {
    return bad_output("exec plugin didn't return a token or cert/key pair");
  }
  if (credential.clientCertPem.empty() != credential.clientKeyPem.empty()) {
    return bad_output("exec plugin returned only certificate or key, not both");
  }
  // metav1.Time: an empty string is the zero time, which client-go treats as no expiry.
  if (!expiration->empty()) {
    credential.expirationUnix = parse_rfc3339(*expiration);
    if (!credential.expirationUnix) {
      return bad_output("decoding stdout: parsing time " + quote(*expiration) +
                        " as \"2006-01-02T15:04:05Z07:00\": not RFC 3339");
    }
  }
  return credential;
}

Result<ExecCredential, ExecError> run_exec_plugin(const ExecConfig& exec,
                                                  const ClientConfig& cluster,
                                                  const ExecEnvironment& env,
                                                  std::chrono::milliseconds timeout) {
  // isInteractive() in exec.go (spec 3.4).
  bool interactive = false;
  if (exec.interactiveMode == "Always") {
    if (!env.stdinIsTerminal) {
      ExecError error = make_error(ExecFailure::interactiveRequired,
                                   "exec plugin cannot support interactive mode: standard input "
                                   "is not a terminal");
      error.installHint = exec.installHint;
      return error;
    }
    interactive = true;
  } else if (exec.interactiveMode == "IfAvailable") {
    interactive = env.stdinIsTerminal;
  } else if (exec.interactiveMode != "Never") {
    return make_error(ExecFailure::failed,
                      "exec plugin cannot support interactive mode: unknown "
                      "interactiveMode: " +
                          quote(exec.interactiveMode));
  }

  // exec.Command: a bare name is looked up on PATH, a path is used as given.
  std::string executable = exec.command;
  if (exec.command.find('/') == std::string::npos) {
    std::optional<std::string> found = look_path(exec.command, env);
    if (!found) {
      ExecError error =
          make_error(ExecFailure::notFound, "exec: executable " + exec.command + " not found");
      error.installHint = exec.installHint;
      return error;
    }
    executable = *found;
  } else if (::access(executable.c_str(), F_OK) != 0) {
    ExecError error = make_error(ExecFailure::notFound,
                                 "exec: fork/exec " + executable + ": " + describe_errno(errno));
    error.installHint = exec.installHint;
    return error;
  }

  // cmd.Env = os.Environ() + exec.env + KUBERNETES_EXEC_INFO; later entries win, as in Go.
  std::vector<std::pair<std::string, std::string>> overrides = exec.env;
  overrides.emplace_back("KUBERNETES_EXEC_INFO", exec_info_json(exec, cluster, interactive));
  ChildEnvironment childEnv(overrides);

  std::optional<Pipe> out = make_pipe();
  std::optional<Pipe> err = make_pipe();
  if (!out || !err) {
    return make_error(ExecFailure::failed, "exec: pipe: " + describe_errno(errno));
  }

  std::error_code spawnError;
  bp::child child(
      bp::exe = executable, bp::args = exec.args,
      bp::extend::on_setup = UseEnvironment{childEnv.envp()},
      bp::extend::on_exec_setup = ChildSetup{out->write.get(), err->write.get(), interactive},
      spawnError);
  if (spawnError) {
    const ExecFailure kind =
        spawnError.value() == ENOENT ? ExecFailure::notFound : ExecFailure::failed;
    ExecError error = make_error(
        kind, "exec: fork/exec " + executable + ": " + describe_errno(spawnError.value()));
    error.installHint = exec.installHint;
    return error;
  }
  RunningPlugin plugin(std::move(child), !interactive);
  out->write.reset();  // the child holds the write ends now; EOF comes when it (and its kids) exit
  err->write.reset();

  const auto deadline = Clock::now() + timeout;
  std::string stdoutText;
  std::string stderrText;
  auto flush_stderr = [&](std::string& chunk) {
    if (chunk.empty()) {
      return;
    }
    if (env.pluginStderr != nullptr) {
      env.pluginStderr->write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      env.pluginStderr->flush();
    }
    stderrText += chunk;
    if (stderrText.size() > kStderrTailBytes) {
      stderrText.erase(0, stderrText.size() - kStderrTailBytes);
    }
    chunk.clear();
  };
  auto timed_out = [&]() {
    plugin.kill();
    ExecError error = make_error(ExecFailure::timeout,
                                 "exec: executable " + exec.command + " did not finish within " +
                                     format_duration(timeout) + " and was killed");
    error.installHint = exec.installHint;
    error.stderrTail = stderrText;
    return error;
  };

  // Read until both pipes close. A plugin whose background helper keeps the pipes open must not
  // cost the whole deadline (Go would wait forever): once the plugin itself has exited, a short
  // grace period collects the rest of its output.
  constexpr auto kGraceAfterExit = std::chrono::milliseconds(200);
  std::optional<Clock::time_point> exitedAt;
  std::string chunk;
  for (;;) {
    if (!exitedAt && !plugin.running()) {
      exitedAt = Clock::now();
    }
    if (!out->read.open() && !err->read.open()) {
      if (exitedAt) {
        break;
      }
    } else if (exitedAt && Clock::now() - *exitedAt > kGraceAfterExit) {
      break;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      return timed_out();
    }
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    // Poll in short slices: the loop also watches for the plugin's exit.
    const int sliceMs = static_cast<int>(std::clamp<long long>(remaining.count(), 1, 20));
    pollfd fds[2];
    nfds_t count = 0;
    if (out->read.open()) {
      fds[count++] = pollfd{out->read.get(), POLLIN, 0};
    }
    if (err->read.open()) {
      fds[count++] = pollfd{err->read.get(), POLLIN, 0};
    }
    if (count == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(sliceMs));
    } else if (::poll(fds, count, sliceMs) < 0 && errno != EINTR) {
      return make_error(ExecFailure::failed, "exec: poll: " + describe_errno(errno));
    }
    if (out->read.open()) {
      drain(out->read, stdoutText);
    }
    if (err->read.open()) {
      drain(err->read, chunk);
      flush_stderr(chunk);
    }
    if (stdoutText.size() > kMaxExecOutputBytes) {
      plugin.kill();
      ExecError error = bad_output("exec: executable " + exec.command + " wrote more than " +
                                   std::to_string(kMaxExecOutputBytes) + " bytes to stdout");
      error.stderrTail = stderrText;
      return error;
    }
  }
  plugin.kill();  // a no-op: it has exited; marks it reaped
  const int exitCode = plugin.exit_code();
  if (exitCode != 0) {
    ExecError error =
        make_error(ExecFailure::failed, "exec: executable " + exec.command +
                                            " failed with exit code " + std::to_string(exitCode));
    error.installHint = exec.installHint;
    error.exitCode = exitCode;
    error.stderrTail = stderrText;
    return error;
  }
  Result<ExecCredential, ExecError> credential = parse_exec_credential(stdoutText, exec.apiVersion);
  if (!credential) {
    ExecError error = std::move(credential).error();
    error.stderrTail = stderrText;
    return error;
  }
  return credential;
}

}  // namespace kp::core
