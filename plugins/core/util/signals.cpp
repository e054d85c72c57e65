#include "core/util/signals.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <mutex>

#ifdef _WIN32
#include <windows.h>
#endif

namespace kp::core {
namespace {

std::atomic<int> g_signal{0};

#ifdef _WIN32
using Clock = std::chrono::steady_clock;
// When the console was closed (steady clock, ms; 0: not closed).
std::atomic<std::int64_t> g_closedAtMs{0};
// Windows ends a process about 5 s after CTRL_CLOSE_EVENT; the cleanup keeps a margin.
constexpr std::chrono::milliseconds kCloseGrace{4000};
constexpr std::chrono::milliseconds kMinCleanup{500};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// The console's events as the POSIX signals Go maps them to (runtime/os_windows.go; the exit
// code is 128 + the number, as on Linux): Ctrl-C and Ctrl-Break are SIGINT; closing the console
// window, logging off and shutting down are SIGTERM. (A process that loads user32.dll, as
// OpenSSL does, gets no logoff or shutdown event from the console: Windows' rule.)

BOOL WINAPI kp_on_console_event(DWORD event) {
  switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
      g_signal.store(SIGINT);
      return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      g_closedAtMs.store(std::max<std::int64_t>(1, now_ms()));
      g_signal.store(SIGTERM);
      // Windows ends the process as soon as this handler returns (and at the latest 5 s after
      // the event): wait here, so the main thread's waits see the flag and clean up (delete
      // the debug pod); its exit ends this thread too.
      ::Sleep(10000);
      return TRUE;
    default:
      return FALSE;
  }
}
#else
extern "C" void kp_on_stop_signal(int signal) {
  g_signal.store(signal);
}
#endif

}  // namespace

void StopSignals::install() {
  static std::once_flag once;
  std::call_once(once, [] {
#ifdef _WIN32
    ::SetConsoleCtrlHandler(kp_on_console_event, TRUE);
#else
    struct sigaction action {};
    action.sa_handler = kp_on_stop_signal;
    sigemptyset(&action.sa_mask);  // a macro on macOS: no ::
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
      ::sigaction(signal, &action, nullptr);
    }
#endif
  });
}

bool StopSignals::raised() {
  return g_signal.load() != 0;
}

int StopSignals::signal() {
  return g_signal.load();
}

std::optional<std::chrono::milliseconds> StopSignals::cleanup_budget() {
#ifdef _WIN32
  const std::int64_t closedAt = g_closedAtMs.load();
  if (closedAt != 0) {
    const std::chrono::milliseconds left =
        kCloseGrace - std::chrono::milliseconds(now_ms() - closedAt);
    return std::max(left, kMinCleanup);
  }
#endif
  return std::nullopt;
}

void StopSignals::set_for_test(int signal) {
  g_signal.store(signal);
}

}  // namespace kp::core
