// --watch: the same probe every interval, one line per round, and on Ctrl-C what changed
// (flaps: a check whose status changed between rounds) and how latency was distributed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <ostream>
#include <thread>

#include "apicheck/apicheck.h"
#include "core/util/time.h"

namespace kp::apicheck {
namespace {

std::string clock_now() {
  const std::time_t t = std::time(nullptr);
  const std::tm tm = core::local_time(t);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &tm);
  return text;
}

// Nearest-rank percentile of sorted samples.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// The round's latency: the waterfall total of the first endpoint (the one clients use).
double round_latency(const core::Report& report) {
  return report.timings.empty() ? 0 : report.timings.front().totalMs;
}

}  // namespace

int watch(const Options& options, std::ostream& out, const std::function<bool()>& stop) {
  std::map<std::string, core::CheckStatus> last;  // check id (+endpoint) -> status
  std::map<std::string, int> flaps;
  std::vector<double> latencies;
  int rounds = 0;
  int failedRounds = 0;
  int exitCode = 0;
  while (!stop()) {
    const auto started = std::chrono::steady_clock::now();
    const core::Report report = options.check();
    if (stop()) {
      break;  // Ctrl-C cut this round short: its failures are ours, not the server's
    }
    ++rounds;
    exitCode = core::exit_code(report, options.failOn);
    const core::CheckStatus worst = core::verdict(report);
    failedRounds += worst == core::CheckStatus::fail ? 1 : 0;
    const double latency = round_latency(report);
    if (latency > 0) {
      latencies.push_back(latency);
    }
    std::vector<std::string> changed;
    for (const core::Check& c : report.checks) {
      const std::string key = c.id + (c.endpoint.empty() ? "" : "@" + c.endpoint);
      const auto it = last.find(key);
      if (it != last.end() && it->second != c.status) {
        ++flaps[key];
        changed.push_back(key + " " + std::string(core::to_string(it->second)) + "->" +
                          std::string(core::to_string(c.status)));
      }
      last[key] = c.status;
    }
    char ms[32];
    std::snprintf(ms, sizeof ms, "%7.1f ms", latency);
    out << clock_now() << "  " << core::to_string(worst);
    if (const core::Check* cause = core::first_failure(report)) {
      out << "  " << core::to_string(cause->layer) << ": " << cause->id << " " << cause->message;
    } else {
      out << "  " << ms;
    }
    if (!changed.empty()) {
      out << "  [changed: ";
      for (std::size_t i = 0; i < changed.size(); ++i) {
        out << (i ? ", " : "") << changed[i];
      }
      out << "]";
    }
    out << '\n' << std::flush;
    // Sleep in small steps so Ctrl-C ends the wait at once.
    while (!stop() && std::chrono::steady_clock::now() - started < options.interval) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::sort(latencies.begin(), latencies.end());
  out << "\n--- " << rounds << " rounds, " << failedRounds << " failed ---\n";
  if (!latencies.empty()) {
    char line[160];
    std::snprintf(line, sizeof line,
                  "latency ms: min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
                  latencies.front(), percentile(latencies, 50), percentile(latencies, 90),
                  percentile(latencies, 99), latencies.back());
    out << line;
  }
  if (flaps.empty()) {
    out << "flaps: none\n";
  } else {
    out << "flaps:\n";
    for (const auto& [key, count] : flaps) {
      out << "  " << key << ": " << count << " change" << (count == 1 ? "" : "s") << '\n';
    }
  }
  return exitCode;
}

}  // namespace kp::apicheck
