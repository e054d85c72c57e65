#include <sstream>

#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include "core/report/report.h"
#include "core/report/stream.h"

using namespace kp::core;

namespace {

Check seen_check(std::string id, Layer layer, CheckStatus status) {
  Check check;
  check.id = std::move(id);
  check.layer = layer;
  check.status = status;
  check.message = "seen";
  if (status == CheckStatus::warn || status == CheckStatus::fail) {
    check.hint = "do this";
  }
  return check;
}

Report make_report(std::vector<Check> checks) {
  Report report;
  report.tool = "apicheck";
  report.target = {"lab", "lab", "https://api.lab.test:6443"};
  report.checks = std::move(checks);
  return report;
}

}  // namespace

TEST_CASE("core::verdict is the worst status", "[report]") {
  CHECK(verdict(make_report({})) == CheckStatus::ok);
  CHECK(verdict(make_report({seen_check("a", Layer::config, CheckStatus::ok),
                             seen_check("b", Layer::dns, CheckStatus::skip)})) == CheckStatus::ok);
  CHECK(verdict(make_report({seen_check("a", Layer::config, CheckStatus::skip)})) ==
        CheckStatus::skip);
  CHECK(verdict(make_report({seen_check("a", Layer::config, CheckStatus::warn),
                             seen_check("b", Layer::dns, CheckStatus::ok)})) == CheckStatus::warn);
  CHECK(verdict(make_report({seen_check("a", Layer::config, CheckStatus::warn),
                             seen_check("b", Layer::dns, CheckStatus::fail),
                             seen_check("c", Layer::tcp, CheckStatus::ok)})) == CheckStatus::fail);
}

TEST_CASE("core::failed_layer follows the layer order, not the check order", "[report]") {
  CHECK_FALSE(failed_layer(make_report({seen_check("a", Layer::tls, CheckStatus::warn)})));
  const Report report = make_report({seen_check("health.readyz", Layer::health, CheckStatus::fail),
                                     seen_check("tls.verify", Layer::tls, CheckStatus::fail),
                                     seen_check("dns.resolve", Layer::dns, CheckStatus::warn)});
  REQUIRE(failed_layer(report));
  CHECK(*failed_layer(report) == Layer::tls);
}

TEST_CASE("core::exit_code", "[report]") {
  const Report ok = make_report({seen_check("a", Layer::config, CheckStatus::ok)});
  const Report warn = make_report({seen_check("a", Layer::config, CheckStatus::warn)});
  const Report fail = make_report({seen_check("a", Layer::config, CheckStatus::fail)});
  CHECK(exit_code(ok, FailOn::fail) == 0);
  CHECK(exit_code(warn, FailOn::fail) == 0);
  CHECK(exit_code(fail, FailOn::fail) == 1);
  CHECK(exit_code(ok, FailOn::warn) == 0);
  CHECK(exit_code(warn, FailOn::warn) == 1);
  CHECK(exit_code(fail, FailOn::warn) == 1);
}

TEST_CASE("core::parse_output_format and core::parse_fail_on", "[report]") {
  CHECK(parse_output_format("json").value() == OutputFormat::json);
  CHECK(parse_output_format("yaml").value() == OutputFormat::yaml);
  CHECK(parse_output_format("text").value() == OutputFormat::text);
  CHECK(parse_output_format("wide").error().message ==
        "--output: unsupported format \"wide\", must be text, json or yaml");
  CHECK(parse_fail_on("warn").value() == FailOn::warn);
  CHECK(parse_fail_on("never").error().message ==
        "--fail-on: unsupported value \"never\", must be fail or warn");
}

TEST_CASE("core::to_json has the ../shared/DESIGN.md shape", "[report]") {
  Check tls = seen_check("tls.verify", Layer::tls, CheckStatus::fail);
  tls.endpoint = "198.18.0.2:6443";
  tls.message = "certificate expired 3 days ago";
  tls.hint = "renew the serving certificate";
  tls.durationMs = 2.1234;
  Check ok = seen_check("config.kubeconfig", Layer::config, CheckStatus::ok);
  ok.details = {{"sourceFiles", {"/k/config"}}};
  const Report report = make_report({ok, tls});
  CHECK(to_json(report).dump() ==
        R"({"schemaVersion":1,"tool":"apicheck",)"
        R"("target":{"context":"lab","cluster":"lab","server":"https://api.lab.test:6443"},)"
        R"("verdict":"fail","failedLayer":"tls","checks":[)"
        R"({"id":"config.kubeconfig","layer":"config","status":"ok","message":"seen",)"
        R"("durationMs":0.0,"details":{"sourceFiles":["/k/config"]}},)"
        R"({"id":"tls.verify","layer":"tls","endpoint":"198.18.0.2:6443","status":"fail",)"
        R"("message":"certificate expired 3 days ago","hint":"renew the serving certificate",)"
        R"("durationMs":2.1}]})");
  SECTION("failedLayer is null when nothing failed") {
    CHECK(to_json(make_report({ok}))["failedLayer"].is_null());
  }
}

TEST_CASE("core::render_yaml is the same object as the JSON", "[report]") {
  Check check = seen_check("health.version", Layer::health, CheckStatus::warn);
  check.message = "1.5";  // looks like a number, must stay a string
  check.hint = "true";    // looks like a bool, must stay a string
  check.durationMs = 12.5;
  check.details = {{"major", "1"}, {"count", 3}, {"empty", nullptr}};
  std::ostringstream out;
  render_yaml(out, make_report({check}));
  const YAML::Node yaml = YAML::Load(out.str());
  CHECK(yaml["schemaVersion"].as<int>() == 1);
  CHECK(yaml["verdict"].as<std::string>() == "warn");
  CHECK(yaml["failedLayer"].IsNull());
  const YAML::Node first = yaml["checks"][0];
  CHECK(first["message"].Tag() == "!");  // quoted: a string, not a float
  CHECK(first["message"].as<std::string>() == "1.5");
  CHECK(first["hint"].Tag() == "!");
  CHECK(first["durationMs"].as<double>() == 12.5);
  CHECK(first["details"]["major"].Tag() == "!");
  CHECK(first["details"]["count"].as<int>() == 3);
  CHECK(first["details"]["empty"].IsNull());
}

TEST_CASE("core::render_text", "[report]") {
  Check ok = seen_check("config.kubeconfig", Layer::config, CheckStatus::ok);
  ok.message = "context lab";
  Check fail = seen_check("tcp.connect", Layer::tcp, CheckStatus::fail);
  fail.endpoint = "10.0.0.1:6443";
  fail.message = "connection refused";
  fail.hint = "start kube-apiserver";
  std::ostringstream out;
  render_text(out, make_report({ok, fail}), false);
  CHECK(out.str() ==
        "ok    config.kubeconfig  context lab\n"
        "fail  tcp.connect        10.0.0.1:6443: connection refused\n"
        "      hint: start kube-apiserver\n"
        "verdict: fail (failed layer: tcp)\n"
        "fix: start kube-apiserver\n");
  SECTION("colour wraps the status words") {
    std::ostringstream coloured;
    render_text(coloured, make_report({ok}), true);
    CHECK(coloured.str().rfind("\033[32mok   \033[0m config.kubeconfig", 0) == 0);
  }
}

namespace {

// The report streamed: `first` checks through add_first (in that order, so the last one ends up
// first), the rest through add().
std::string streamed(const Report& report, OutputFormat format, std::size_t firstCount = 0) {
  std::ostringstream out;
  ReportStream stream(out, format, report.tool, report.target, report.schemaVersion);
  for (std::size_t i = firstCount; i < report.checks.size(); ++i) {
    stream.add(report.checks[i]);
  }
  for (std::size_t i = firstCount; i > 0; --i) {
    stream.add_first(report.checks[i - 1]);
  }
  CHECK(stream.verdict() == verdict(report));
  CHECK(stream.failed_layer() == failed_layer(report));
  CHECK(stream.exit_code(FailOn::warn) == exit_code(report, FailOn::warn));
  CHECK(stream.checks() == report.checks.size());
  stream.finish(report.timings);
  return out.str();
}

std::string rendered(const Report& report, OutputFormat format) {
  std::ostringstream out;
  render(out, report, format, false);
  return out.str();
}

}  // namespace

TEST_CASE("core::ReportStream writes byte for byte what render() writes", "[report]") {
  Check tls = seen_check("tls.verify", Layer::tls, CheckStatus::fail);
  tls.endpoint = "198.18.0.2:6443";
  tls.message = "certificate expired 3 days ago\nsecond line \"quoted\"";
  tls.durationMs = 2.1234;
  tls.details = {{"sans", nlohmann::ordered_json::array()},
                 {"nested", {{"a", {1, 2}}, {"b", nlohmann::ordered_json::object()}}},
                 {"bad", std::string("caf\xe9 \xff")},  // not UTF-8: replaced in both
                 {"checks", "[]"},
                 {"yes", "true"},
                 {"none", nullptr}};
  Check ok = seen_check("config.kubeconfig", Layer::config, CheckStatus::ok);
  ok.details = {{"sourceFiles", {"/k/config"}}};
  Check skip = seen_check("cert.secrets", Layer::cert, CheckStatus::skip);
  Check warn = seen_check("auth.token", Layer::auth, CheckStatus::warn);
  warn.message = "checks: []";
  Report timed = make_report({ok, tls, warn});
  timed.timings.push_back({"198.18.0.2:6443", 0.11, 0.25, 3.04, 1.1, 4.45});

  const std::vector<Report> reports{make_report({}),    make_report({skip}),
                                    make_report({ok}),  make_report({skip, ok, tls, warn}),
                                    make_report({tls}), timed};
  for (const OutputFormat format : {OutputFormat::json, OutputFormat::yaml}) {
    for (const Report& report : reports) {
      CAPTURE(format == OutputFormat::json, report.checks.size());
      const std::string expected = rendered(report, format);
      CHECK(streamed(report, format) == expected);
      for (std::size_t first = 1; first <= report.checks.size(); ++first) {
        CHECK(streamed(report, format, first) == expected);
      }
    }
  }
}

TEST_CASE("core::ReportStream keeps thousands of checks in order past its memory bound",
          "[report]") {
  std::vector<Check> checks;
  for (int i = 0; i < 6000; ++i) {  // about 6 MiB of JSON: part of it goes to the file
    Check check =
        seen_check("cert.file", Layer::cert, i % 7 == 0 ? CheckStatus::warn : CheckStatus::ok);
    check.message = "check " + std::to_string(i) + " " + std::string(900, 'x');
    checks.push_back(std::move(check));
  }
  const Report report = make_report(std::move(checks));
  CHECK(streamed(report, OutputFormat::json, 1) == rendered(report, OutputFormat::json));
  CHECK(streamed(report, OutputFormat::yaml) == rendered(report, OutputFormat::yaml));
}

TEST_CASE("core::ReportSink collects into a Report", "[report]") {
  Report report;
  ReportSink sink(report);
  sink.add(seen_check("b", Layer::cert, CheckStatus::ok));
  sink.add_first(seen_check("a", Layer::cert, CheckStatus::ok));
  sink.add(seen_check("c", Layer::cert, CheckStatus::ok));
  REQUIRE(report.checks.size() == 3);
  CHECK(report.checks[0].id == "a");
  CHECK(report.checks[1].id == "b");
  CHECK(report.checks[2].id == "c");
}
