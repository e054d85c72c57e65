// run_process's loop over a started child, the same on every platform (process_detail.h).
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/util/process_detail.h"

namespace kp::core::detail {
namespace {

using Clock = std::chrono::steady_clock;

void keep(std::string& sink, std::string_view chunk, std::size_t limit, bool tail) {
  if (tail) {
    sink.append(chunk);
    if (sink.size() > limit) {
      sink.erase(0, sink.size() - limit);
    }
  } else if (sink.size() < limit) {
    sink.append(chunk.substr(0, limit - sink.size()));
  }
}

}  // namespace

ProcessResult supervise(const ProcessSpec& spec, RunningChild& child) {
  ProcessResult result;
  const bool hasDeadline = spec.timeout.count() > 0;
  const Clock::time_point deadline = Clock::now() + spec.timeout;
  std::optional<Clock::time_point> exitedAt;
  std::string chunk;
  for (;;) {
    if (!exitedAt && child.exited()) {
      exitedAt = Clock::now();
    }
    if (!child.out_open() && !child.err_open()) {
      if (exitedAt) {
        break;
      }
    } else if (exitedAt && Clock::now() - *exitedAt > spec.graceAfterExit) {
      break;
    }
    if (hasDeadline && Clock::now() >= deadline) {
      result.timedOut = true;
      break;
    }
    if (spec.cancelled && spec.cancelled()) {
      result.cancelled = true;
      break;
    }
    std::size_t got = 0;
    if (child.err_open()) {
      chunk.clear();
      child.read_err(chunk);
      got += chunk.size();
      if (!chunk.empty()) {
        if (spec.onStderr) {
          spec.onStderr(chunk);
        }
        keep(result.err, chunk, spec.stderrLimit, spec.stderrKeepsTail);
      }
    }
    if (child.out_open()) {
      chunk.clear();
      child.read_out(chunk);
      got += chunk.size();
      if (result.out.size() + chunk.size() > spec.stdoutLimit) {
        result.stdoutOverLimit = true;
        keep(result.out, chunk, spec.stdoutLimit, false);
        if (spec.killOverStdoutLimit) {
          break;
        }
      } else {
        result.out += chunk;
      }
    }
    if (got == 0) {
      // Nothing to read: wait a short slice for output or the exit; the loop also watches the
      // deadline and cancellation.
      int sliceMs = 20;
      if (hasDeadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        sliceMs = static_cast<int>(std::clamp<long long>(left, 1, sliceMs));
      }
      if (!child.wait(sliceMs)) {
        break;
      }
    }
  }
  child.kill();  // a no-op for one that exited
  result.exitCode =
      result.timedOut || result.cancelled || (result.stdoutOverLimit && spec.killOverStdoutLimit)
          ? -1
          : child.exit_code();
  return result;
}

}  // namespace kp::core::detail
