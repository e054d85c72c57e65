// This machine's clock against the server's. A certificate or token that looks expired (or not
// yet valid) may be fine and the clock here wrong: the server's Date header tells the two apart,
// and the fix is NTP, not a renewal.
#include <cstdlib>
#include <ctime>
#include <string>
#include <utility>

#include "apicheck/run.h"
#include "core/net/x509.h"
#include "core/util/time.h"

namespace kp::apicheck::detail {

namespace {

// Clocks further apart than this make certificates and tokens look wrong.
constexpr std::int64_t kSkewWarnSeconds = 60;

constexpr const char* kClockFix = "timedatectl set-ntp true, or chronyc makestep";

bool outside(std::int64_t t, const TimedVerdict& v) {
  return (v.notBefore && t < *v.notBefore) || (v.notAfter && t >= *v.notAfter);
}

std::string with_besides(const TimedVerdict& v) {
  return v.besides.empty() ? "" : "; besides, " + v.besides;
}

std::string direction(std::int64_t skew) {
  return span_text(skew) + (skew > 0 ? " ahead of" : " behind");
}

}  // namespace

std::optional<std::int64_t> date_of(const core::HttpResponse& response) {
  return core::parse_http_date(response.header("Date"));
}

void note_server_clock(Run& run, const core::HttpResponse& response) {
  const std::optional<std::int64_t> server = date_of(response);
  if (run.skew || !server) {
    return;
  }
  const std::int64_t skew = run.options.deps.now() - *server;
  run.skew = skew;
  Check clock = make_check("tls.clock", Layer::tls, CheckStatus::ok,
                           "local clock " + std::string(skew >= 0 ? "+" : "") +
                               std::to_string(skew) + " s from the server's Date header");
  clock.details = {{"skewSeconds", skew}, {"serverDate", core::rfc3339(*server)}};
  if (std::llabs(skew) > kSkewWarnSeconds) {
    clock.status = CheckStatus::warn;
    clock.message = "this machine's clock is " + direction(skew) + " the server's (local " +
                    core::rfc3339(run.options.deps.now()) + ", server " + core::rfc3339(*server) +
                    ")";
    clock.hint =
        "clocks differ by more than a minute: certificates and tokens can look expired or not "
        "yet valid on one side; check NTP on both (timedatectl, chronyc tracking)";
  }
  run.clockCheck = run.report.checks.size();
  run.add(std::move(clock));
}

void add_timed(Run& run, Check check, TimedVerdict verdict) {
  check.hint = "judged by this machine's clock (" + core::rfc3339(run.options.deps.now()) +
               "); if it is right: " + verdict.fix + "; if not, fix the clock (" + kClockFix + ")" +
               with_besides(verdict);
  verdict.check = run.report.checks.size();
  run.timed.push_back(std::move(verdict));
  run.add(std::move(check));
}

void explain_clock(Run& run) {
  if (!run.skew) {
    return;  // the hints say both causes
  }
  const std::int64_t skew = *run.skew;
  const bool apart = std::llabs(skew) > kSkewWarnSeconds;
  const std::int64_t serverNow = run.options.deps.now() - skew;
  bool clockIsTheCause = false;
  for (const TimedVerdict& v : run.timed) {
    if (!v.notBefore && !v.notAfter) {
      continue;  // no window to judge again: the hint keeps both causes
    }
    Check& check = run.report.checks[v.check];
    if (!apart || outside(serverNow, v)) {
      check.hint = v.fix + (apart ? "" : " (the server's clock agrees with this machine's)") +
                   with_besides(v);
      continue;
    }
    clockIsTheCause = true;
    check.status = v.statusIfClock;
    check.message += "; valid by the server's clock (" + core::rfc3339(serverNow) + ")";
    check.hint = "this machine's clock is " + direction(skew) + " the server's: fix the clock (" +
                 kClockFix + "; timedatectl shows whether it is synchronized)" +
                 (v.besides.empty() ? "; nothing needs renewing" : with_besides(v));
    check.details["validByServerClock"] = true;
  }
  if (clockIsTheCause && run.clockCheck) {
    Check& clock = run.report.checks[*run.clockCheck];
    clock.status = CheckStatus::fail;
    clock.hint = "the clocks disagree by " + span_text(skew) +
                 ", and what looks expired or not yet valid here is valid by the server's "
                 "clock: fix this machine's clock (" +
                 kClockFix +
                 "); if `timedatectl` here says \"System clock synchronized: yes\", "
                 "check the server's instead";
  }
}

}  // namespace kp::apicheck::detail
