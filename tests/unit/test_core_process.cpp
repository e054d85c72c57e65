// core::run_process against real children (/bin/sh and friends): the one process runner.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/util/process.h"

using namespace kp::core;

namespace {

ProcessSpec shell(const std::string& script) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  return spec;
}

ProcessResult run_ok(const ProcessSpec& spec) {
  Result<ProcessResult, SpawnFailure> ran = run_process(spec);
  REQUIRE(ran);
  return *ran;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool process_alive(const std::string& pidText) {
  return !pidText.empty() && ::kill(std::stoi(pidText), 0) == 0;
}

}  // namespace

TEST_CASE("core::run_process captures stdout, stderr and the exit code", "[process]") {
  const ProcessResult result = run_ok(shell("printf out; printf err >&2; exit 7"));
  CHECK(result.out == "out");
  CHECK(result.err == "err");
  CHECK(result.exitCode == 7);
  CHECK_FALSE(result.timedOut);
}

TEST_CASE("core::run_process gives stdin /dev/null unless asked to inherit it", "[process]") {
  const ProcessResult result = run_ok(shell("cat; echo end"));
  CHECK(result.out == "end\n");
}

TEST_CASE("core::run_process sets, overrides and unsets environment variables", "[process]") {
  ::setenv("KP_PROCESS_TEST_KEEP", "kept", 1);
  ::setenv("KP_PROCESS_TEST_DROP", "dropped", 1);
  ProcessSpec spec = shell("echo \"$KP_PROCESS_TEST_KEEP|${KP_PROCESS_TEST_DROP-unset}|$KP_NEW\"");
  spec.env = {{"KP_NEW", "first"}, {"KP_NEW", "second"}};
  spec.unset = {"KP_PROCESS_TEST_DROP"};
  CHECK(run_ok(spec).out == "kept|unset|second\n");
  ::unsetenv("KP_PROCESS_TEST_KEEP");
  ::unsetenv("KP_PROCESS_TEST_DROP");
}

TEST_CASE("core::run_process looks a bare name up on the search path it is given", "[process]") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kp-process-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path tool = dir / "kp-tool";
  std::ofstream(tool) << "#!/bin/sh\necho found \"$@\"\n";
  std::filesystem::permissions(tool, std::filesystem::perms::owner_all);
  const std::filesystem::path plain = dir / "kp-plain";
  std::ofstream(plain) << "not executable\n";
  std::filesystem::permissions(plain, std::filesystem::perms::owner_read);

  ProcessSpec spec;
  spec.argv = {"kp-tool", "a b"};
  spec.searchPath = "/nonexistent:" + dir.string();
  CHECK(run_ok(spec).out == "found a b\n");
  CHECK(find_executable("kp-tool", "/nonexistent", {dir.string()}) == tool.string());
  CHECK_FALSE(find_executable("kp-plain", dir.string()));  // no execute bit
  std::filesystem::create_directories(dir / "kp-dir");
  CHECK_FALSE(find_executable("kp-dir", dir.string()));  // a directory is not a program

  spec.argv = {"kp-missing"};
  Result<ProcessResult, SpawnFailure> missing = run_process(spec);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().notFound);
  CHECK(missing.error().errorNumber == 0);
  CHECK(missing.error().message == "kp-missing: executable file not found in $PATH");

  spec.argv = {(dir / "kp-gone").string()};
  Result<ProcessResult, SpawnFailure> gone = run_process(spec);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().notFound);
  CHECK(gone.error().message == (dir / "kp-gone").string() + ": no such file or directory");
  std::filesystem::remove_all(dir);
}

TEST_CASE("core::run_process kills the child and its process group at the deadline", "[process]") {
  // The grandchild writes its pid and would hold the pipes open for 30 s.
  ProcessSpec spec = shell("sleep 30 & echo $!; sleep 30");
  spec.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult result = run_ok(spec);
  const double took = seconds_since(start);
  CHECK(result.timedOut);
  CHECK(result.exitCode == -1);
  CHECK(took < 3.0);
  const std::string grandchild = result.out.substr(0, result.out.find('\n'));
  REQUIRE_FALSE(grandchild.empty());
  // Killed with the group (it may linger a moment as a zombie of init).
  for (int i = 0; i < 100 && process_alive(grandchild); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::ifstream stat("/proc/" + grandchild + "/stat");
  std::string line;
  std::getline(stat, line);
  CHECK((line.empty() || line.find(") Z ") != std::string::npos));
}

TEST_CASE("core::run_process stops waiting for pipes a background helper keeps open", "[process]") {
  // The child exits at once; what it left running holds stdout for 30 s and is left alone.
  ProcessSpec spec = shell("sleep 30 & echo $!; echo done");
  spec.timeout = std::chrono::seconds(20);
  spec.graceAfterExit = std::chrono::milliseconds(100);
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult result = run_ok(spec);
  CHECK(seconds_since(start) < 5.0);
  CHECK_FALSE(result.timedOut);
  CHECK(result.exitCode == 0);
  CHECK(result.out.ends_with("done\n"));
  const std::string helper = result.out.substr(0, result.out.find('\n'));
  CHECK(process_alive(helper));
  ::kill(std::stoi(helper), SIGKILL);
}

TEST_CASE("core::run_process limits stdout: killed or truncated, as asked", "[process]") {
  ProcessSpec spec = shell("head -c 100000 /dev/zero; echo tail >&2; sleep 30");
  spec.stdoutLimit = 1000;
  spec.killOverStdoutLimit = true;
  spec.timeout = std::chrono::seconds(20);
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult killed = run_ok(spec);
  CHECK(seconds_since(start) < 5.0);
  CHECK(killed.stdoutOverLimit);
  CHECK(killed.exitCode == -1);
  CHECK(killed.out.size() == 1000);

  ProcessSpec truncate = shell("head -c 100000 /dev/zero; exit 3");
  truncate.stdoutLimit = 1000;
  const ProcessResult kept = run_ok(truncate);
  CHECK(kept.stdoutOverLimit);
  CHECK(kept.exitCode == 3);
  CHECK(kept.out.size() == 1000);
}

TEST_CASE("core::run_process keeps the head or the tail of stderr and streams it", "[process]") {
  ProcessSpec spec = shell("printf 0123456789 >&2");
  spec.stderrLimit = 4;
  CHECK(run_ok(spec).err == "0123");
  spec.stderrKeepsTail = true;
  std::string streamed;
  spec.onStderr = [&streamed](std::string_view chunk) { streamed += chunk; };
  CHECK(run_ok(spec).err == "6789");
  CHECK(streamed == "0123456789");
}

TEST_CASE("core::run_process kills the child when cancelled", "[process]") {
  ProcessSpec spec = shell("sleep 30");
  const auto start = std::chrono::steady_clock::now();
  spec.cancelled = [&start] { return seconds_since(start) > 0.2; };
  const ProcessResult result = run_ok(spec);
  CHECK(result.cancelled);
  CHECK(result.exitCode == -1);
  CHECK(seconds_since(start) < 3.0);
}

TEST_CASE("core::run_process with inherited stdio returns the exit code", "[process]") {
  ProcessSpec spec = shell("exit 5");
  spec.io = ProcessSpec::Io::inherit;
  spec.ownProcessGroup = false;
  const ProcessResult result = run_ok(spec);
  CHECK(result.exitCode == 5);
  CHECK(result.out.empty());
}

TEST_CASE("core::run_process starts the child with SIGPIPE not ignored", "[process]") {
  // We ignore SIGPIPE (for sockets); a child that inherited that would never die of a closed
  // pipe. SigIgn in /proc/<pid>/status is a hex mask; SIGPIPE is bit 13 - 1.
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  const ProcessResult result = run_ok(shell("grep SigIgn /proc/self/status"));
  ::sigaction(SIGPIPE, &previous, nullptr);
  REQUIRE(result.out.starts_with("SigIgn:"));
  const unsigned long long mask = std::stoull(result.out.substr(7), nullptr, 16);
  CHECK((mask & (1ULL << (SIGPIPE - 1))) == 0);
}

TEST_CASE("core::find_executable searches nothing on an empty PATH, as Go", "[process]") {
  // In a directory holding the program: an empty entry of a PATH means ".", an empty PATH
  // means no directory at all (Go's filepath.SplitList).
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kp-emptypath-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "kp-here") << "#!/bin/sh\n";
  std::filesystem::permissions(dir / "kp-here", std::filesystem::perms::owner_all);
  const std::filesystem::path previous = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  const std::optional<std::string> viaEmptyEntry = find_executable("kp-here", "/nonexistent:");
  const std::optional<std::string> viaEmptyPath = find_executable("kp-here", "");
  std::filesystem::current_path(previous);
  std::filesystem::remove_all(dir);
  CHECK(viaEmptyEntry == "./kp-here");
  CHECK_FALSE(viaEmptyPath);
  CHECK(find_executable("sh", "/nonexistent:/bin") == "/bin/sh");
}

TEST_CASE("core::run_process reports -1 when the exit status was lost", "[process]") {
  // With SIGCHLD ignored the kernel reaps the child: no status, so no claim of success.
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGCHLD, &ignore, &previous);
  const ProcessResult result = run_ok(shell("exit 0"));
  ::sigaction(SIGCHLD, &previous, nullptr);
  CHECK(result.exitCode == -1);
}

TEST_CASE("core::run_process keeps the stderr written before stdout went over the limit",
          "[process]") {
  ProcessSpec spec = shell("echo why >&2; sleep 0.2; head -c 100000 /dev/zero; sleep 30");
  spec.stdoutLimit = 1000;
  spec.killOverStdoutLimit = true;
  spec.timeout = std::chrono::seconds(20);
  const ProcessResult result = run_ok(spec);
  CHECK(result.stdoutOverLimit);
  CHECK(result.err == "why\n");
}

TEST_CASE("core::run_process checks its deadline against a child that writes without pause",
          "[process]") {
  ProcessSpec spec = shell("yes");
  spec.stdoutLimit = 1000;  // kept: the first 1000 bytes, the rest read and dropped
  spec.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult result = run_ok(spec);
  CHECK(result.timedOut);
  CHECK(result.out.size() == 1000);
  CHECK(seconds_since(start) < 5.0);
}

TEST_CASE("core::describe_errno reads like Go", "[process]") {
  CHECK(describe_errno(ENOENT) == "no such file or directory");
  CHECK(describe_errno(EACCES) == "permission denied");
}
