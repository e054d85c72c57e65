// Stop signals for long-running commands (apicheck --watch, debug pods): SIGINT, SIGTERM and
// SIGHUP only set a flag, which every wait polls, so the command can clean up and exit.
#pragma once

#include <chrono>
#include <optional>

namespace kp::core {

// Stop signals: SIGINT, SIGTERM and SIGHUP set a flag that every wait polls.
class StopSignals {
 public:
  // Installs the handlers (once per process; later calls are no-ops).
  static void install();
  static bool raised();
  static int signal();  // the signal received, 0 if none
  // The time the cleanup (deleting debug pods) may take, when it is bounded: after the console
  // window was closed, Windows ends the process about 5 s later, so what is left of 4 s (at
  // least 0.5 s). nullopt otherwise, and always outside Windows: the usual timeouts apply.
  static std::optional<std::chrono::milliseconds> cleanup_budget();
  // For tests: raises the flag as if a signal had arrived, or clears it.
  static void set_for_test(int signal);
};

}  // namespace kp::core
