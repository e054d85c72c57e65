// Starting a child process: the one place in plugins/ that does. Exec credential plugins,
// `kubectl version`, `kubectl exec -it` for `netdebug shell` and the node tools of
// `netdebug local` all run through run_process(); a port to another OS changes process.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/util/result.h"
#include "core/util/text.h"  // describe_errno for SpawnFailure::errorNumber

namespace kp::core {

struct ProcessSpec {
  // argv[0] names the program: a name without '/' is looked up on `searchPath` (Go's
  // exec.LookPath), a path is used as given.
  std::vector<std::string> argv;
  // The PATH to look argv[0] up on; nullopt: this process's PATH. Empty entries mean ".".
  std::optional<std::string> searchPath;
  // Directories tried after `searchPath` (`netdebug local` adds the sbin directories).
  std::vector<std::string> extraSearchDirs;

  // The child's environment: this process's, less `unset`, with `env` set over it (later
  // entries win, as in Go's dedupEnv).
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> unset;

  // capture: stdout and stderr come back in ProcessResult, stdin is /dev/null unless
  // `inheritStdin`. inherit: the child shares our terminal (an interactive shell).
  enum class Io { capture, inherit };
  Io io = Io::capture;
  bool inheritStdin = false;
  // A process group of its own, so a kill takes whatever it started too. A child that must
  // read the terminal stays in ours.
  bool ownProcessGroup = true;

  // 0: no deadline. Past it the child (and its group) is killed: ProcessResult::timedOut.
  std::chrono::milliseconds timeout{0};
  // Asked every few milliseconds while the child runs; true kills it: ProcessResult::cancelled.
  std::function<bool()> cancelled;

  // What is kept of stdout; past it the child is killed (ProcessResult::stdoutOverLimit) when
  // `killOverStdoutLimit`, else the rest is read and dropped.
  std::size_t stdoutLimit = 4 * 1024 * 1024;
  bool killOverStdoutLimit = false;
  // What is kept of stderr: its first bytes, or its last with `stderrKeepsTail`.
  std::size_t stderrLimit = 4 * 1024 * 1024;
  bool stderrKeepsTail = false;
  // Each piece of stderr as it arrives (an exec plugin's prompts go to the user's terminal).
  std::function<void(std::string_view)> onStderr;
  // Once the child has exited, how long to keep reading output that something it left running
  // still writes (a helper holding the pipes open must not cost the whole deadline).
  std::chrono::milliseconds graceAfterExit{200};
};

struct ProcessResult {
  int exitCode = -1;  // Go's ExitCode(): -1 when a signal ended it or it was killed
  bool timedOut = false;
  bool cancelled = false;
  bool stdoutOverLimit = false;
  std::string out;
  std::string err;
};

// The process could not be started.
struct SpawnFailure {
  bool notFound = false;   // no such program (on the search path, or at the path given)
  int errorNumber = 0;     // errno of the failed step; 0 for "not found on the search path"
  std::string executable;  // the file we tried to run, or argv[0] when it was not found
  std::string message;     // "<executable>: <strerror>", or "<name>: executable file not
                           // found in $PATH"
};

// Runs the process to its end (or its deadline, cancellation or output limit).
Result<ProcessResult, SpawnFailure> run_process(const ProcessSpec& spec);

// Go's exec.LookPath: the first regular, executable `name` in `searchPath` (':'-separated,
// "" is "."), then in `extraDirs`. A name with '/' is returned as is when it is executable.
std::optional<std::string> find_executable(std::string_view name, std::string_view searchPath,
                                           const std::vector<std::string>& extraDirs = {});

// This process's PATH ("" when unset).
std::string process_search_path();

}  // namespace kp::core
