// The real machine behind LocalSystem: files, the process list and socket owners from /proc,
// external commands (run_command, find_executable) and the system resolver. Tests fake all of
// it.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "core/net/net.h"
#include "core/util/files.h"
#include "netdebug/local.h"
#include "netdebug/local_detail.h"

extern char** environ;

namespace kp::netdebug {

using detail::parse_number;
using detail::split;

namespace {

constexpr std::size_t kMaxCommandOutput = 4 * 1024 * 1024;

using Clock = std::chrono::steady_clock;

std::string find_executable(const std::string& name) {
  const auto runnable = [](const std::string& path) {
    std::error_code ec;
    return ::access(path.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(path, ec);
  };
  if (name.find('/') != std::string::npos) {
    return runnable(name) ? name : std::string();
  }
  const char* path = std::getenv("PATH");
  const std::string dirs = std::string(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin") +
                           ":/usr/local/sbin:/usr/sbin:/sbin";
  for (const std::string& dir : split(dirs, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (runnable(candidate)) {
      return candidate;
    }
  }
  return {};
}

struct SpawnActions {
  posix_spawn_file_actions_t actions;
  SpawnActions() { posix_spawn_file_actions_init(&actions); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
};

struct SpawnAttributes {
  posix_spawnattr_t attributes;
  SpawnAttributes() { posix_spawnattr_init(&attributes); }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attributes); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

CommandOutput run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandOutput result;
  if (argv.empty()) {
    result.err = "no command";
    return result;
  }
  const std::string exe = find_executable(argv[0]);
  if (exe.empty()) {
    result.notFound = true;
    result.err = argv[0] + ": executable file not found in $PATH";
    return result;
  }
  int outPipe[2];
  int errPipe[2];
  if (::pipe2(outPipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  core::UniqueFd outRead(outPipe[0]);
  core::UniqueFd outWrite(outPipe[1]);
  if (::pipe2(errPipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  core::UniqueFd errRead(errPipe[0]);
  core::UniqueFd errWrite(errPipe[1]);
  SpawnActions actions;
  posix_spawn_file_actions_addopen(&actions.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions.actions, outWrite.get(), 1);
  posix_spawn_file_actions_adddup2(&actions.actions, errWrite.get(), 2);
  SpawnAttributes attributes;
  // Its own process group, so a timeout kills whatever it started too; default signals.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes.attributes, &defaults);
  posix_spawnattr_setpgroup(&attributes.attributes, 0);
  posix_spawnattr_setflags(&attributes.attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!text.starts_with("LC_ALL=") && !text.starts_with("LANGUAGE=")) {
      env.emplace_back(text);
    }
  }
  env.emplace_back("LC_ALL=C");
  std::vector<char*> envp;
  for (std::string& e : env) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& a : args) {
    argp.push_back(a.data());
  }
  argp.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, exe.c_str(), &actions.actions, &attributes.attributes,
                                    argp.data(), envp.data());
  outWrite.reset();
  errWrite.reset();
  if (spawned != 0) {
    result.notFound = spawned == ENOENT;
    result.err = exe + ": " + std::strerror(spawned);
    return result;
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  const auto remaining_ms = [&deadline] {
    return static_cast<int>(std::max<long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  bool outOpen = true;
  bool errOpen = true;
  char buffer[8192];
  while ((outOpen || errOpen) && !result.timedOut) {
    pollfd fds[2];
    int count = 0;
    if (outOpen) {
      fds[count++] = {outRead.get(), POLLIN, 0};
    }
    if (errOpen) {
      fds[count++] = {errRead.get(), POLLIN, 0};
    }
    const int left = remaining_ms();
    if (left == 0) {
      result.timedOut = true;
      break;
    }
    const int ready = ::poll(fds, static_cast<nfds_t>(count), left);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      result.timedOut = ready == 0;
      break;
    }
    for (int i = 0; i < count; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      const bool isOut = fds[i].fd == outRead.get();
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        (isOut ? outOpen : errOpen) = false;
        continue;
      }
      std::string& sink = isOut ? result.out : result.err;
      if (sink.size() < kMaxCommandOutput) {
        sink.append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  int status = 0;
  for (;;) {
    if (result.timedOut) {
      // Its process group: whatever it started goes too.
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
    const pid_t done = ::waitpid(pid, &status, result.timedOut ? 0 : WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) {
      break;
    }
    if (done == 0 && remaining_ms() == 0) {
      result.timedOut = true;
      continue;
    }
    if (done == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  result.exitCode = !result.timedOut && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool is_pid(const std::string& name) {
  return !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
}

std::vector<ProcessInfo> list_processes(const std::string& procDir) {
  std::vector<ProcessInfo> processes;
  std::error_code ec;
  const std::string selfNetns =
      std::filesystem::read_symlink(std::filesystem::path(procDir) / "self" / "ns" / "net", ec)
          .string();
  for (const auto& entry : std::filesystem::directory_iterator(procDir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!is_pid(name)) {
      continue;
    }
    core::Result<std::string> cmdline = core::read_file(entry.path() / "cmdline");
    if (!cmdline || cmdline->empty()) {
      continue;
    }
    ProcessInfo process;
    process.pid = std::stoi(name);
    process.argv = split(*cmdline, '\0');
    if (!process.argv.empty() && process.argv.back().empty()) {
      process.argv.pop_back();
    }
    std::error_code linkError;
    process.exe = std::filesystem::read_symlink(entry.path() / "exe", linkError).string();
    if (!selfNetns.empty()) {
      std::error_code nsError;
      const std::string netns =
          std::filesystem::read_symlink(entry.path() / "ns" / "net", nsError).string();
      process.otherNetns = !nsError && netns != selfNetns;
    }
    if (core::Result<std::string> stat = core::read_file(entry.path() / "stat"); stat) {
      const std::size_t close = stat->rfind(')');
      if (close != std::string::npos && close + 2 < stat->size()) {
        process.state = (*stat)[close + 2];
      }
    }
    processes.push_back(process);
  }
  std::sort(processes.begin(), processes.end(),
            [](const ProcessInfo& a, const ProcessInfo& b) { return a.pid < b.pid; });
  return processes;
}

std::map<std::uint64_t, int> find_socket_owners(const std::string& procDir,
                                                const std::set<std::uint64_t>& inodes) {
  std::map<std::uint64_t, int> owners;
  if (inodes.empty()) {
    return owners;
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(procDir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!is_pid(name)) {
      continue;
    }
    std::error_code fdError;
    for (const auto& fd : std::filesystem::directory_iterator(entry.path() / "fd", fdError)) {
      std::error_code linkError;
      const std::string target = std::filesystem::read_symlink(fd.path(), linkError).string();
      if (linkError || !target.starts_with("socket:[") || target.back() != ']') {
        continue;
      }
      const auto inode = parse_number(target.substr(8, target.size() - 9), 0x7fffffff'ffffffff);
      if (inode && inodes.count(static_cast<std::uint64_t>(*inode)) > 0) {
        owners.emplace(static_cast<std::uint64_t>(*inode), std::stoi(name));
      }
    }
    if (owners.size() == inodes.size()) {
      break;
    }
  }
  return owners;
}

}  // namespace

LocalSystem LocalSystem::system(std::string procDir, std::string rootDir) {
  LocalSystem sys;
  sys.procDir = std::move(procDir);
  sys.rootDir = std::move(rootDir);
  sys.readFile = [](const std::string& path) { return core::read_file(path); };
  sys.fileExists = [](const std::string& path) { return core::path_exists(path); };
  sys.processes = [dir = sys.procDir] { return list_processes(dir); };
  sys.socketOwners = [dir = sys.procDir](const std::set<std::uint64_t>& inodes) {
    return find_socket_owners(dir, inodes);
  };
  sys.run = run_command;
  sys.resolve = [](const std::string& host) {
    auto resolved = core::resolve_system(host, kCommandTimeout);
    return resolved ? resolved->addresses : std::vector<std::string>();
  };
  return sys;
}

}  // namespace kp::netdebug
