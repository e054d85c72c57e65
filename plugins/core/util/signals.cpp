#include "core/util/signals.h"

#include <atomic>
#include <csignal>
#include <mutex>

#ifdef _WIN32
#include <windows.h>
#endif

namespace kp::core {
namespace {

std::atomic<int> g_signal{0};

#ifdef _WIN32
// The console's events as the POSIX signals they stand for (the exit code is 128 + the number,
// as on Linux): Ctrl-C and Ctrl-Break are SIGINT, closing the console window, logging off and
// shutting down are SIGHUP (1; Windows has no SIGHUP).
constexpr int kHangup = 1;

BOOL WINAPI kp_on_console_event(DWORD event) {
  switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
      g_signal.store(SIGINT);
      return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      g_signal.store(kHangup);
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

void StopSignals::set_for_test(int signal) {
  g_signal.store(signal);
}

}  // namespace kp::core
