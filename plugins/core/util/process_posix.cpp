#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "core/util/fd.h"
#include "core/util/files.h"
#include "core/util/process.h"
#include "core/util/process_detail.h"

extern char** environ;

namespace kp::core {
namespace {

bool is_executable_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

// NAME=VALUE strings for execve: ours, less `unset`, with `overrides` over them.
std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& overrides,
    const std::vector<std::string>& unset) {
  std::map<std::string, std::string> wanted;
  std::vector<std::string> order;
  for (const auto& [name, value] : overrides) {
    if (wanted.insert_or_assign(name, value).second) {
      order.push_back(name);
    }
  }
  std::vector<std::string> entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::string name(text.substr(0, text.find('=')));
    if (wanted.count(name) == 0 && std::find(unset.begin(), unset.end(), name) == unset.end()) {
      entries.emplace_back(text);
    }
  }
  for (const std::string& name : order) {
    entries.push_back(name + "=" + wanted[name]);
  }
  return entries;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (std::string& s : strings) {
    result.push_back(s.data());
  }
  result.push_back(nullptr);
  return result;
}

// A posix_spawn object set up by `Init` and torn down by `Destroy` on every path.
template <class T, int (*Init)(T*), int (*Destroy)(T*)>
struct SpawnObject {
  T value;
  SpawnObject() { Init(&value); }
  ~SpawnObject() { Destroy(&value); }
  SpawnObject(const SpawnObject&) = delete;
  SpawnObject& operator=(const SpawnObject&) = delete;
};
using SpawnActions = SpawnObject<posix_spawn_file_actions_t, posix_spawn_file_actions_init,
                                 posix_spawn_file_actions_destroy>;
using SpawnAttributes =
    SpawnObject<posix_spawnattr_t, posix_spawnattr_init, posix_spawnattr_destroy>;

// Close-on-exec pipe, read end non-blocking: only the write end the child dup2()s survives.
bool make_pipe(UniqueFd& read, UniqueFd& write) {
  int fds[2];
#ifdef __APPLE__
  // No pipe2 on macOS: close-on-exec right after; the spawn's POSIX_SPAWN_CLOEXEC_DEFAULT keeps
  // a child started in between from inheriting the pipe.
  if (::pipe(fds) != 0) {
    return false;
  }
  ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  ::fcntl(fds[1], F_SETFD, FD_CLOEXEC);
#else
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return false;
  }
#endif
  read.reset(fds[0]);
  write.reset(fds[1]);
  ::fcntl(read.get(), F_SETFL, ::fcntl(read.get(), F_GETFL) | O_NONBLOCK);
  return true;
}

// Reads what is there without blocking, at most 64 KiB a call (so the caller's limits and
// deadline are checked between calls however fast the child writes); closes `fd` at end of
// file or on an error.
void drain(UniqueFd& fd, std::string& into) {
  char buffer[16 * 1024];
  for (int reads = 0; reads < 4; ++reads) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      fd.reset();
    }
    return;
  }
}

// A started child and its output pipes; the destructor kills and reaps one still running, so no
// path leaves a zombie or an orphan behind.
class Child final : public detail::RunningChild {
 public:
  Child(pid_t pid, bool ownGroup, UniqueFd out, UniqueFd err)
      : pid_(pid), ownGroup_(ownGroup), out_(std::move(out)), err_(std::move(err)) {}
  ~Child() override { kill(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool out_open() const override { return static_cast<bool>(out_); }
  bool err_open() const override { return static_cast<bool>(err_); }
  void read_out(std::string& into) override { drain(out_, into); }
  void read_err(std::string& into) override { drain(err_, into); }

  bool wait(int ms) override {
    pollfd fds[2];
    nfds_t count = 0;
    for (const UniqueFd* fd : {&out_, &err_}) {
      if (*fd) {
        fds[count++] = pollfd{fd->get(), POLLIN, 0};
      }
    }
    if (count == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return true;
    }
    return ::poll(fds, count, ms) >= 0 || errno == EINTR;
  }

  // True once it has exited (reaped here).
  bool exited() override {
    if (!reaped_) {
      const pid_t done = ::waitpid(pid_, &status_, WNOHANG);
      known_ = done == pid_;
      reaped_ = known_ || (done < 0 && errno == ECHILD);
    }
    return reaped_;
  }

  // Kills one still running (its group too) and reaps it. One that exited is left alone with
  // whatever it started: a credential helper may leave a caching agent behind on purpose.
  void kill() override {
    if (exited()) {
      return;
    }
    if (!ownGroup_ || ::kill(-pid_, SIGKILL) != 0) {
      ::kill(pid_, SIGKILL);
    }
    wait();
  }

  void wait() {
    while (!reaped_) {
      const pid_t done = ::waitpid(pid_, &status_, 0);
      known_ = done == pid_;
      reaped_ = known_ || (done < 0 && errno != EINTR);
    }
  }

  // -1 when a signal ended it, or its status was lost (SIGCHLD ignored: the kernel reaped it).
  int exit_code() const override {
    return known_ && WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

 private:
  pid_t pid_;
  bool ownGroup_;
  UniqueFd out_;
  UniqueFd err_;
  bool reaped_ = false;
  bool known_ = false;
  int status_ = 0;
};

}  // namespace

std::string process_search_path() {
  const char* path = std::getenv("PATH");
  return path != nullptr ? path : "";
}

std::optional<std::string> find_executable(std::string_view name, std::string_view searchPath,
                                           const std::vector<std::string>& extraDirs) {
  if (name.empty()) {
    return std::nullopt;
  }
  if (name.find('/') != std::string_view::npos) {
    const std::string path(name);
    return is_executable_file(path) ? std::optional<std::string>(path) : std::nullopt;
  }
  // Go's filepath.SplitList: an empty PATH is no directory at all; an empty entry is ".".
  std::vector<std::string> dirs = split_path_list(searchPath);
  dirs.insert(dirs.end(), extraDirs.begin(), extraDirs.end());
  for (const std::string& dir : dirs) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + std::string(name);
    if (is_executable_file(candidate)) {
      return candidate;
    }
  }
  return std::nullopt;
}

Result<ProcessResult, SpawnFailure> run_process(const ProcessSpec& spec) {
  SpawnFailure failure;
  if (spec.argv.empty()) {
    failure.message = "no command";
    return failure;
  }
  const std::string& name = spec.argv.front();
  std::string executable = name;
  if (name.find('/') == std::string::npos) {
    std::optional<std::string> found = find_executable(
        name, spec.searchPath ? *spec.searchPath : process_search_path(), spec.extraSearchDirs);
    if (!found) {
      failure.notFound = true;
      failure.executable = name;
      failure.message = name + ": executable file not found in $PATH";
      return failure;
    }
    executable = std::move(*found);
  }
  failure.executable = executable;
  const bool capture = spec.io == ProcessSpec::Io::capture;

  UniqueFd outRead, outWrite, errRead, errWrite;
  if (capture && (!make_pipe(outRead, outWrite) || !make_pipe(errRead, errWrite))) {
    failure.errorNumber = errno;
    failure.message = "pipe: " + describe_errno(errno);
    return failure;
  }
  SpawnActions actions;
  if (capture) {
    if (!spec.inheritStdin) {
      posix_spawn_file_actions_addopen(&actions.value, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&actions.value, outWrite.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions.value, errWrite.get(), STDERR_FILENO);
  }
  SpawnAttributes attributes;
  // SIGPIPE back to its default (we ignore it for sockets) and no signal blocked. Other
  // ignored signals stay ignored, as a shell leaves them (nohup).
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes.value, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes.value, &none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (spec.ownProcessGroup) {
    posix_spawnattr_setpgroup(&attributes.value, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
#ifdef __APPLE__
  // macOS creates sockets and pipes without close-on-exec and sets it a moment later: the
  // child inherits only its standard streams (those the actions above do not set are passed on
  // as they are), whatever another thread opened meanwhile.
  for (int stream : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    if (!capture || (stream == STDIN_FILENO && spec.inheritStdin)) {
      posix_spawn_file_actions_addinherit_np(&actions.value, stream);
    }
  }
  flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
  posix_spawnattr_setflags(&attributes.value, flags);

  std::vector<std::string> envStrings = child_environment(spec.env, spec.unset);
  std::vector<char*> envp = pointers(envStrings);
  std::vector<std::string> argStrings = spec.argv;
  std::vector<char*> argp = pointers(argStrings);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, executable.c_str(), &actions.value, &attributes.value,
                                    argp.data(), envp.data());
  outWrite.reset();  // the child holds the write ends now: EOF when it (and its children) exit
  errWrite.reset();
  if (spawned != 0) {
    failure.notFound = spawned == ENOENT;
    failure.errorNumber = spawned;
    failure.message = executable + ": " + describe_errno(spawned);
    return failure;
  }
  Child child(pid, spec.ownProcessGroup, std::move(outRead), std::move(errRead));
  return detail::supervise(spec, child);
}

}  // namespace kp::core
