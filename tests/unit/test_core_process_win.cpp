// core::run_process on Windows against real children (cmd.exe and ping.exe, which every
// Windows and wine has): CreateProcess, the pipes, PATH with PATHEXT, the job object at the
// deadline. Built only for Windows (tests/unit/CMakeLists.txt); test_core_process.cpp is the
// POSIX counterpart.
#include <chrono>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "core/util/process.h"

using namespace kp::core;

namespace {

// %SystemRoot%\System32, where cmd.exe and ping.exe live.
std::string system32() {
  const char* root = std::getenv("SystemRoot");
  return std::string(root != nullptr ? root : "C:\\windows") + "\\system32";
}

ProcessResult run_ok(const ProcessSpec& spec) {
  Result<ProcessResult, SpawnFailure> ran = run_process(spec);
  REQUIRE(ran);
  return *ran;
}

}  // namespace

TEST_CASE("core::run_process on Windows captures stdout, stderr and the exit code",
          "[process][windows]") {
  ProcessSpec spec;
  spec.argv = {system32() + "\\cmd.exe", "/c", "echo out& echo err>&2& exit /b 7"};
  const ProcessResult result = run_ok(spec);
  CHECK(result.out == "out\r\n");
  CHECK(result.err == "err\r\n");
  CHECK(result.exitCode == 7);
  CHECK_FALSE(result.timedOut);
}

TEST_CASE("core::run_process on Windows finds a bare name with PATHEXT's extensions",
          "[process][windows]") {
  ProcessSpec spec;
  spec.argv = {"CMD", "/c", "exit /b 3"};  // cmd.exe, in any case
  spec.searchPath = "C:\\nonexistent;" + system32();
  CHECK(run_ok(spec).exitCode == 3);
  spec.searchPath = "C:\\nonexistent";
  const Result<ProcessResult, SpawnFailure> missing = run_process(spec);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().notFound);
  CHECK(missing.error().errorNumber == 0);
}

TEST_CASE("core::run_process on Windows kills the child at the deadline", "[process][windows]") {
  ProcessSpec spec;
  spec.argv = {system32() + "\\ping.exe", "-n", "30", "127.0.0.1"};
  spec.timeout = std::chrono::milliseconds(1000);
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult result = run_ok(spec);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(result.timedOut);
  CHECK(result.exitCode == -1);
  CHECK(seconds < 10);  // ping would run for 29 s
}
