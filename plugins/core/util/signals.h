// Stop signals for long-running commands (apicheck --watch, debug pods): SIGINT, SIGTERM and
// SIGHUP only set a flag, which every wait polls, so the command can clean up and exit.
#pragma once

namespace kp::core {

// Stop signals: SIGINT, SIGTERM and SIGHUP set a flag that every wait polls.
class StopSignals {
 public:
  // Installs the handlers (once per process; later calls are no-ops).
  static void install();
  static bool raised();
  static int signal();  // the signal received, 0 if none
  // For tests: raises the flag as if a signal had arrived, or clears it.
  static void set_for_test(int signal);
};

}  // namespace kp::core
