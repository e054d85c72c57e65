// The real machine behind LocalSystem: files, the process list and socket owners from /proc,
// external commands (run_command, through core::run_process) and the system resolver. Tests fake
// all of it.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/net/net.h"
#include "core/util/files.h"
#include "core/util/process.h"
#include "netdebug/local.h"
#include "netdebug/local_detail.h"

namespace kp::netdebug {

using detail::parse_number;
using detail::split;

namespace {

constexpr std::size_t kMaxCommandOutput = 4 * 1024 * 1024;

// A node tool (iptables-save, nft, ss, ip...): on PATH, else in the sbin directories a root
// shell would search; C locale; stdin /dev/null; killed with whatever it started at the deadline.
CommandOutput run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandOutput result;
  core::ProcessSpec spec;
  spec.argv = argv;
  const std::string path = core::process_search_path();
  spec.searchPath = path.empty() ? "/usr/local/bin:/usr/bin:/bin" : path;
  spec.extraSearchDirs = {"/usr/local/sbin", "/usr/sbin", "/sbin"};
  spec.env = {{"LC_ALL", "C"}};
  spec.unset = {"LANGUAGE"};
  spec.timeout = timeout;
  spec.stdoutLimit = kMaxCommandOutput;
  spec.stderrLimit = kMaxCommandOutput;
  core::Result<core::ProcessResult, core::SpawnFailure> ran = core::run_process(spec);
  if (!ran) {
    result.notFound = ran.error().notFound;
    result.err = ran.error().message;
    return result;
  }
  result.timedOut = ran->timedOut;
  result.exitCode = ran->exitCode;
  result.out = std::move(ran->out);
  result.err = std::move(ran->err);
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
