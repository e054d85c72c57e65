// --haproxy-stats: HAProxy's `show stat` CSV parsed, and its view of each backend compared
// with the backend's own /readyz.
#include <string>

#include <catch2/catch.hpp>

#include "apicheck/run.h"
#include "support_apicheck.h"

using kp::apicheck::detail::parse_haproxy_stats;
using kp::core::CheckStatus;
using World = kp::testsupport::ApicheckWorld;

namespace {

// The columns HAProxy 2.6 writes, cut to the ones read and a few around them.
const std::string kHead =
    "# pxname,svname,qcur,scur,status,weight,check_status,check_code,last_chk,check_desc,addr,\n";

std::string row(const std::string& server, const std::string& status, const std::string& check,
                const std::string& addr, const std::string& proxy = "be") {
  return proxy + "," + server + ",0,0," + status + ",1," + check + ",,," +
         (check == "L4OK" ? "Layer4 check passed" : "") + "," + addr + ",\n";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const kp::core::Check* haproxy_check(const kp::core::Report& report, const std::string& addr) {
  for (const kp::core::Check& c : report.checks) {
    if (c.id == "ha.haproxy" && c.endpoint == addr) {
      return &c;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("parse_haproxy_stats reads the server rows of show stat", "[apicheck][haproxy]") {
  const auto servers = parse_haproxy_stats(
      kHead + "fe,FRONTEND,0,0,OPEN,,,,,,,\n" + row("api1", "UP", "L7OK", "198.18.0.2:6443") +
      row("api2", "DOWN", "* L4CON", "198.18.0.51:6443") + "be,BACKEND,0,0,UP,2,,,,,,\n\n");
  REQUIRE(servers);
  REQUIRE(servers->size() == 2);
  CHECK((*servers)[0].server == "api1");
  CHECK((*servers)[0].sends_traffic());
  CHECK((*servers)[0].check_kind() == "an HTTP check");
  CHECK((*servers)[1].checkStatus == "L4CON");  // "* " (a check in progress) dropped
  CHECK((*servers)[1].address == "198.18.0.51:6443");
  CHECK_FALSE((*servers)[1].sends_traffic());
  CHECK(parse_haproxy_stats("<html>stats</html>")
            .error()
            .message.starts_with("not HAProxy's CSV statistics"));
  CHECK_FALSE(parse_haproxy_stats("# a,b,c\nx,y,z\n"));  // no pxname/svname/status
  // Short rows, missing columns and stray commas are tolerated, never read past.
  const auto old = parse_haproxy_stats("# pxname,svname,status\nbe,s1\nbe,s2,UP,extra,,\n");
  REQUIRE(old);
  REQUIRE(old->size() == 2);
  CHECK((*old)[0].status.empty());
  CHECK((*old)[1].address.empty());
}

TEST_CASE("apicheck --haproxy-stats compares HAProxy's view with each /readyz",
          "[apicheck][haproxy]") {
  World w;
  w.options.haproxyStats = "/run/haproxy/admin.sock";
  std::string csv;
  std::string asked;
  w.options.deps.haproxyStats = [&](const std::string& source, std::chrono::milliseconds) {
    asked = source;
    return kp::core::Result<std::string>(csv);
  };
  // The backend at .52 is live but not ready (its etcd is down).
  w.http.hook(
      [](const kp::core::HttpRequest& r, std::size_t) -> std::optional<kp::core::HttpResult> {
        if (r.connectTo == "198.18.0.52:6443") {
          return kp::core::HttpResult(kp::testsupport::answer(
              500, "[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n"));
        }
        return std::nullopt;
      });

  SECTION("a TCP-only check keeps an unready backend in rotation: fail, check /readyz") {
    csv = kHead + row("api1", "UP", "L4OK", "198.18.0.2:6443") +
          row("api2", "UP", "L4OK", "198.18.0.52:6443");
    const kp::core::Report report = w.options.check();
    CHECK(asked == "/run/haproxy/admin.sock");
    const kp::core::Check* good = haproxy_check(report, "198.18.0.2:6443");
    REQUIRE(good != nullptr);
    CHECK(good->status == CheckStatus::ok);
    CHECK(has(good->message, "they agree"));
    const kp::core::Check* bad = haproxy_check(report, "198.18.0.52:6443");
    REQUIRE(bad != nullptr);
    CHECK(bad->status == CheckStatus::fail);
    CHECK(has(bad->message, "HAProxy server be/api2 is UP by a TCP-connect-only check (L4OK)"));
    CHECK(has(bad->message, "checked directly: not ready (HTTP 500): etcd failed"));
    CHECK(has(bad->hint, "option httpchk GET /readyz"));
    CHECK(has(bad->hint, "check-ssl"));
    // Without --endpoints the backends are HAProxy's own, each checked directly.
    CHECK(w.net->connects.size() >= 3);
    const kp::core::Check* summary = w.find(report, "ha.summary");
    CHECK(has(summary->message, "HAProxy still sends requests to 1 of them"));
    CHECK_FALSE(has(summary->message, "hides"));
    CHECK(kp::core::failed_layer(report) == kp::core::Layer::ha);
  }
  SECTION("an HTTP check that passes where /readyz fails: its path, or another route") {
    csv = kHead + row("api2", "UP", "L7OK", "198.18.0.52:6443");
    const kp::core::Report report = w.options.check();
    const kp::core::Check* bad = haproxy_check(report, "198.18.0.52:6443");
    REQUIRE(bad != nullptr);
    CHECK(bad->status == CheckStatus::fail);
    CHECK(has(bad->hint, "make it ask GET /readyz"));
    CHECK(has(bad->hint, "another path"));
  }
  SECTION("DOWN in HAProxy, ready from here: a wrong check or no route from the balancer") {
    csv = kHead + row("api1", "DOWN", "L7STS", "198.18.0.2:6443");
    const kp::core::Report report = w.options.check();
    const kp::core::Check* c = haproxy_check(report, "198.18.0.2:6443");
    REQUIRE(c != nullptr);
    CHECK(c->status == CheckStatus::warn);
    CHECK(has(c->message, "checked directly it is ready"));
    CHECK(has(c->hint, "the check may be wrong"));
    CHECK(has(c->hint, "cannot reach"));
  }
  SECTION("UP in HAProxy, refused from here: the paths differ, not the check") {
    csv = kHead + row("api3", "UP", "L4OK", "198.18.0.53:6443");
    w.net->broken["198.18.0.53:6443"] = kp::core::ConnectFailure::refused;
    const kp::core::Report report = w.options.check();
    const kp::core::Check* c = haproxy_check(report, "198.18.0.53:6443");
    REQUIRE(c != nullptr);
    CHECK(c->status == CheckStatus::warn);
    CHECK(has(c->hint, "firewall or route"));
    CHECK_FALSE(has(c->hint, "httpchk"));
  }
  SECTION("no health check at all: every server in rotation, the fix adds one") {
    csv = kHead + row("api2", "no check", "", "198.18.0.52:6443");
    const kp::core::Report report = w.options.check();
    const kp::core::Check* bad = haproxy_check(report, "198.18.0.52:6443");
    REQUIRE(bad != nullptr);
    CHECK(bad->status == CheckStatus::fail);
    CHECK(has(bad->message, "be/api2 is in rotation without a health check"));
    CHECK(has(bad->hint, "add a health check of /readyz"));
  }
  SECTION("in maintenance by an operator: neither blamed") {
    csv = kHead + row("api1", "MAINT", "L7OK", "198.18.0.2:6443");
    const kp::core::Report report = w.options.check();
    const kp::core::Check* c = haproxy_check(report, "198.18.0.2:6443");
    REQUIRE(c != nullptr);
    CHECK(c->status == CheckStatus::ok);
    CHECK(has(c->message, "is MAINT (set by an operator); checked directly it is ready"));
  }
  SECTION("--endpoints narrows the direct checks; HAProxy's others are named, not probed") {
    csv = kHead + row("api1", "UP", "L7OK", "198.18.0.2:6443") +
          row("api9", "UP", "L7OK", "198.18.0.99:6443");
    w.options.endpoints = {"198.18.0.2:6443"};
    const kp::core::Report report = w.options.check();
    CHECK(haproxy_check(report, "198.18.0.99:6443")->status == CheckStatus::skip);
    CHECK(haproxy_check(report, "198.18.0.2:6443")->status == CheckStatus::ok);
  }
  SECTION("a stats page without addresses: each server named, how to get them said") {
    csv = kHead + row("api1", "UP", "L4OK", "");
    const kp::core::Report report = w.options.check();
    const kp::core::Check* c = w.find(report, "ha.haproxy");
    REQUIRE(c != nullptr);
    CHECK(c->status == CheckStatus::skip);
    CHECK(has(c->message, "be/api1 is UP by a TCP-connect-only check (L4OK)"));
    CHECK(has(c->message, "stats show-legends"));
    CHECK(w.find(report, "ha.backend") == nullptr);
  }
  SECTION("a stats URL's password is never shown") {
    w.options.haproxyStats = "http://admin:s3cret-stats@lb.test:8404/stats";
    csv = "<html>login</html>";
    w.options.endpoints = {"198.18.0.2:6443"};
    const kp::core::Report report = w.options.check();
    CHECK(asked == "http://admin:s3cret-stats@lb.test:8404/stats");
    const kp::core::Check* c = w.find(report, "ha.haproxy");
    REQUIRE(c != nullptr);
    CHECK(c->status == CheckStatus::warn);
    CHECK(has(c->message, "http://admin:***@lb.test:8404/stats: not HAProxy's CSV statistics"));
    CHECK_FALSE(has(kp::core::to_json(report).dump(), "s3cret-stats"));
  }
  SECTION("stats that cannot be read: a warning naming the source") {
    w.options.deps.haproxyStats = [](const std::string&, std::chrono::milliseconds) {
      return kp::core::Result<std::string>(
          kp::core::Error{"dial unix /run/haproxy/admin.sock: connect: permission denied"});
    };
    w.options.endpoints = {"198.18.0.2:6443"};
    const kp::core::Report report = w.options.check();
    const kp::core::Check* c = w.find(report, "ha.haproxy");
    REQUIRE(c != nullptr);
    CHECK(c->status == CheckStatus::warn);
    CHECK(has(c->message, "permission denied"));
    CHECK(w.find(report, "ha.backend")->status == CheckStatus::ok);  // still checked
  }
}
