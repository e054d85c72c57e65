#include "core/util/signals.h"

#include <atomic>
#include <csignal>
#include <mutex>

namespace kp::core {
namespace {

std::atomic<int> g_signal{0};

extern "C" void kp_on_stop_signal(int signal) {
  g_signal.store(signal);
}

}  // namespace

void StopSignals::install() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = kp_on_stop_signal;
    sigemptyset(&action.sa_mask);  // a macro on macOS: no ::
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
      ::sigaction(signal, &action, nullptr);
    }
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
