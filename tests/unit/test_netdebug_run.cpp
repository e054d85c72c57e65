#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "certs/node.h"
#include "core/util/base64.h"
#include "core/util/text.h"
#include "netdebug/run.h"
#include "support_http.h"

using namespace kp;
using core::CheckStatus;

TEST_CASE("netdebug::parse_suite_output check lines become incluster checks on the node",
          "[netdebug][run]") {
  const std::string out =
      R"({"id":"incluster.dns.fqdn","status":"ok","message":"resolves to 10.96.0.1","hint":"","durationMs":12,"details":{"addresses":["10.96.0.1"]}})"
      "\n"
      R"({"id":"incluster.endpoint.tcp","endpoint":"10.0.0.5:6443","status":"fail","message":"timed out","hint":"check the node's route"})"
      "\n\n"
      R"({"id":"incluster.mtu","status":"warn","message":"odd"})"
      "\n";
  const std::vector<core::Check> checks = netdebug::parse_suite_output(out, "node-a");
  REQUIRE(checks.size() == 3);
  CHECK(checks[0].id == "incluster.dns.fqdn");
  CHECK(checks[0].layer == core::Layer::incluster);
  CHECK(checks[0].endpoint == "node-a");
  CHECK(checks[0].status == CheckStatus::ok);
  CHECK(checks[0].durationMs == 12);
  CHECK(checks[0].details["addresses"][0] == "10.96.0.1");
  CHECK(checks[1].status == CheckStatus::fail);
  CHECK(checks[1].details["endpoint"] == "10.0.0.5:6443");
  CHECK(checks[1].hint == "check the node's route");
  CHECK(checks[2].hint == "see the details");  // warn and fail always carry a hint
}

TEST_CASE("netdebug::parse_suite_output garbage and silence are findings, never crashes",
          "[netdebug][run]") {
  std::vector<core::Check> checks =
      netdebug::parse_suite_output("sh: 1: curl: not found\n\x1b[31m{\"id\":1}\n", "n");
  REQUIRE(checks.size() == 2);
  CHECK(checks[0].id == "incluster.suite");
  CHECK(checks[0].status == CheckStatus::warn);
  CHECK(checks[0].message.find("sh: 1: curl: not found") != std::string::npos);
  CHECK(checks[1].message.find('\x1b') == std::string::npos);  // no escape codes to a terminal
  checks = netdebug::parse_suite_output(R"({"id":"x","status":"maybe","message":"m"})", "n");
  CHECK(checks.front().status == CheckStatus::warn);
  checks = netdebug::parse_suite_output(std::string(100, '[') + "\n", "n");
  CHECK(checks.front().id == "incluster.suite");
  checks = netdebug::parse_suite_output("", "n");
  REQUIRE(checks.size() == 1);
  CHECK(checks.front().status == CheckStatus::fail);
  checks = netdebug::parse_suite_output(R"({"id":"dns","status":"skip","message":"no dig"})", "n");
  CHECK(checks.front().id == "incluster.dns");
}

TEST_CASE("netdebug::suite_command the suite's environment, then sh -c SCRIPT", "[netdebug][run]") {
  const std::vector<std::string> argv = netdebug::suite_command(
      "echo hi", {"10.0.0.5:6443", "10.0.0.6:6443"}, core::PodProfile::restricted, 3, "corp.local");
  CHECK(argv == std::vector<std::string>{"env", "KP_ENDPOINTS=10.0.0.5:6443 10.0.0.6:6443",
                                         "KP_PROFILE=restricted", "KP_TIMEOUT=3",
                                         "KP_CLUSTER_DOMAIN=corp.local", "sh", "-c", "echo hi",
                                         "kubectl-netdebug-suite"});
}

TEST_CASE("netdebug::render_matrix nodes by checks, failing cells explained", "[netdebug][run]") {
  core::Report report;
  report.tool = "netdebug";
  for (const char* node : {"node-a", "node-b"}) {
    for (core::Check c : netdebug::parse_suite_output(
             R"({"id":"incluster.dns.fqdn","status":"ok","message":"ok"})", node)) {
      report.checks.push_back(c);
    }
  }
  report.checks.push_back(netdebug::parse_suite_output(
      R"({"id":"incluster.endpoint.tcp","endpoint":"10.0.0.5:6443","status":"fail","message":"refused","hint":"start it"})",
      "node-b")[0]);
  std::ostringstream out;
  netdebug::render_matrix(out, report, {"node-a", "node-b"});
  const std::string text = out.str();
  CHECK(text.find("NODE    dns.fqdn  endpoint.tcp@10.0.0.5:6443") == 0);
  CHECK(text.find("node-a  ok        -") != std::string::npos);
  CHECK(text.find("node-b  ok        FAIL") != std::string::npos);
  CHECK(text.find("FAIL node-b endpoint.tcp@10.0.0.5:6443: refused\n     fix: start it") !=
        std::string::npos);
  CHECK(text.find("verdict: fail (2 nodes, 1 with failures)") != std::string::npos);
}

TEST_CASE("certs::parse_node_output the script's output, files and errors, keys as public halves",
          "[certs][node]") {
  const std::string crt = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  const std::string output = "file /etc/kubernetes/pki/ca.crt " + core::encode_base64(crt) +
                             "\nerror /etc/kubernetes/pki/ca.key " +
                             core::encode_base64("permission denied") + "\ndone 2\n";
  core::Result<certs::NodeFiles> files = certs::parse_node_output(output);
  REQUIRE(files);
  const certs::PkiFiles pki = certs::node_pki_files(*files);
  CHECK(pki.exists("/etc/kubernetes/pki/ca.crt"));
  CHECK(pki.isDirectory("/etc/kubernetes/pki"));
  CHECK_FALSE(pki.isDirectory("/etc/kubernetes/pki/etcd"));
  CHECK(pki.read("/etc/kubernetes/pki/ca.crt").value() == crt);
  CHECK(pki.read("/etc/kubernetes/pki/ca.key").error().message ==
        "/etc/kubernetes/pki/ca.key: permission denied (on the node)");
  CHECK_FALSE(pki.exists("/etc/kubernetes/admin.conf"));
  CHECK_FALSE(pki.parseKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));

  CHECK(certs::parse_node_output("file /a QUFB\n").error().message.find("no \"done\"") !=
        std::string::npos);
  CHECK(certs::parse_node_output("garbage\ndone 0\n").error().message.find("line 1") !=
        std::string::npos);
  CHECK_FALSE(certs::parse_node_output("file /a !!!\ndone 1\n"));
}

namespace {

// render_matrix() as it was before `run` kept its checks in CompactChecks (commit 5ce4c7a),
// word for word: the oracle the new one is held to.
std::string matrix_before(const core::Report& report, const std::vector<std::string>& nodes) {
  using core::Check;
  const auto cell = [](const Check* check) -> std::string {
    if (check == nullptr) {
      return "-";
    }
    switch (check->status) {
      case CheckStatus::ok:
        return "ok";
      case CheckStatus::warn:
        return "WARN";
      case CheckStatus::fail:
        return "FAIL";
      case CheckStatus::skip:
        break;
    }
    return "skip";
  };
  const auto column_of = [](const Check& check) {
    std::string column = check.id;
    if (column.starts_with("incluster.")) {
      column.erase(0, 10);
    }
    if (check.details.is_object() && check.details.contains("endpoint") &&
        check.details["endpoint"].is_string()) {
      column += "@" + check.details["endpoint"].get<std::string>();
    }
    return column;
  };
  std::ostringstream out;
  std::vector<std::string> columns;
  std::map<std::pair<std::string, std::string>, const Check*> cells;
  for (const Check& c : report.checks) {
    const std::string column = column_of(c);
    if (std::find(columns.begin(), columns.end(), column) == columns.end()) {
      columns.push_back(column);
    }
    cells[{c.endpoint, column}] = &c;
  }
  std::size_t nodeWidth = 4;
  for (const std::string& n : nodes) {
    nodeWidth = std::max(nodeWidth, n.size());
  }
  std::string header = "NODE";
  header.resize(nodeWidth + 2, ' ');
  for (const std::string& column : columns) {
    header += column + "  ";
  }
  out << core::trim(header) << '\n';
  for (const std::string& node : nodes) {
    std::string row = node;
    row.resize(nodeWidth + 2, ' ');
    for (const std::string& column : columns) {
      auto found = cells.find({node, column});
      std::string text = cell(found == cells.end() ? nullptr : found->second);
      text.resize(column.size() + 2, ' ');
      row += text;
    }
    out << core::trim(row) << '\n';
  }
  bool first = true;
  for (const Check& c : report.checks) {
    if (c.status != CheckStatus::fail && c.status != CheckStatus::warn) {
      continue;
    }
    if (first) {
      out << '\n';
      first = false;
    }
    out << (c.status == CheckStatus::fail ? "FAIL " : "WARN ") << c.endpoint << ' ' << column_of(c)
        << ": " << c.message << '\n';
    if (!c.hint.empty()) {
      out << "     fix: " << c.hint << '\n';
    }
  }
  const CheckStatus verdict = core::verdict(report);
  std::size_t failedNodes = 0;
  for (const std::string& node : nodes) {
    failedNodes += std::any_of(report.checks.begin(), report.checks.end(), [&](const Check& c) {
      return c.endpoint == node && c.status == CheckStatus::fail;
    });
  }
  out << '\n'
      << "verdict: " << core::to_string(verdict) << " (" << nodes.size() << " nodes, "
      << failedNodes << " with failures)\n";
  return out.str();
}

// What one node's run yields: the pod check, then the suite's, as run.cpp's node_checks().
std::vector<core::Check> node_run(const std::string& node, const std::string& suite, double podMs) {
  core::Check pod = core::make_check("incluster.pod", core::Layer::incluster, CheckStatus::ok,
                                     "pod kubectl-netdebug-x ran the suite", {}, node);
  pod.durationMs = podMs;
  pod.details = {{"pod", "kubectl-netdebug-x"}, {"namespace", "default"}, {"hostNetwork", false}};
  std::vector<core::Check> checks{pod};
  for (core::Check& c : netdebug::parse_suite_output(suite, node)) {
    checks.push_back(std::move(c));
  }
  return checks;
}

// A run over three nodes that exercises what a report holds: nested details, numbers of every
// kind, empty details, endpoint columns, lines that are not checks (with invalid UTF-8 and
// control characters), a node whose pod failed, a check of the run itself, several checks of
// one column on a node.
struct SampleRun {
  core::Report head;
  std::vector<std::string> nodes{"node-a", "node-bb", "node-c"};
  std::vector<std::vector<core::Check>> perNode;
};

SampleRun sample_run() {
  SampleRun run;
  run.head.tool = "netdebug";
  run.head.target = {"lab \"ctx\"", "lab", "https://198.18.0.2:6443"};
  run.head.checks.push_back(core::make_check(
      "incluster.endpoints", core::Layer::incluster, CheckStatus::warn,
      "cannot list the API server's endpoints: forbidden", "grant get on endpointslices", ""));
  run.perNode.push_back(node_run(
      "node-a",
      R"({"id":"incluster.resolvconf","status":"ok","message":"nameservers 10.96.0.10","hint":"","durationMs":30,"details":{"nameservers":["10.96.0.10"],"ndots":5,"options":["ndots:5"],"nested":{"a":[1,-2,3.25,1e300,0.1,null,true]}}})"
      "\n"
      R"({"id":"incluster.endpoint.tcp","endpoint":"10.0.0.5:6443","status":"ok","message":"connected","hint":"","durationMs":0.05,"details":{}})"
      "\n"
      R"({"id":"incluster.endpoint.tcp","endpoint":"10.0.0.6:6443","status":"fail","message":"timed out after 5 s","hint":"check the route","durationMs":5000.04,"details":{"errno":"ETIMEDOUT"}})"
      "\n"
      R"({"id":"incluster.mtu","status":"skip","message":"no ping (restricted) \u00e9 \u2028","hint":"","durationMs":1234.5678,"details":{"unicode":"\u00e9\u4e2d"}})"
      "\n",
      990.0));
  run.perNode.push_back(
      {core::make_check("incluster.pod", core::Layer::incluster, CheckStatus::fail,
                        "pod kubectl-netdebug-y on node node-bb did not start "
                        "within 120 s: ImagePullBackOff",
                        "mirror the image", "node-bb")});
  run.perNode.back().front().details = {{"pod", "kubectl-netdebug-y"}, {"namespace", "default"}};
  run.perNode.push_back(node_run("node-c",
                                 "sh: 1: curl: not found \xff\xfe\xc3\n"
                                 "\x1b[31mbroken\x1b[0m\n"
                                 R"({"id":"dns.fqdn","status":"warn","message":"slow"})"
                                 "\n",
                                 12.345));
  return run;
}

core::Report whole_report(const SampleRun& run) {
  core::Report report = run.head;
  for (const std::vector<core::Check>& checks : run.perNode) {
    report.checks.insert(report.checks.end(), checks.begin(), checks.end());
  }
  return report;
}

netdebug::CompactChecks compact(const SampleRun& run) {
  netdebug::CompactChecks checks(run.perNode.size());
  for (std::size_t i = 0; i < run.perNode.size(); ++i) {
    checks.set(i, run.perNode[i]);
  }
  return checks;
}

std::string rendered(const core::Report& report, core::OutputFormat format, bool colour) {
  std::ostringstream out;
  core::render(out, report, format, colour);
  return out.str();
}

}  // namespace

TEST_CASE("netdebug::render_run_report the same bytes as rendering the whole report",
          "[netdebug][run]") {
  const SampleRun run = sample_run();
  const core::Report whole = whole_report(run);
  const netdebug::CompactChecks checks = compact(run);
  for (const core::OutputFormat format :
       {core::OutputFormat::json, core::OutputFormat::yaml, core::OutputFormat::text}) {
    for (const bool colour : {false, true}) {
      INFO("format " << static_cast<int>(format) << ", colour " << colour);
      std::ostringstream one;  // one node (--node): core's own renderers
      netdebug::render_run_report(one, run.head, checks, {"node-a"}, format, colour);
      CHECK(one.str() == rendered(whole, format, colour));
      std::ostringstream many;  // --all-nodes: the matrix for text
      netdebug::render_run_report(many, run.head, checks, run.nodes, format, colour);
      CHECK(many.str() == (format == core::OutputFormat::text ? matrix_before(whole, run.nodes)
                                                              : rendered(whole, format, colour)));
    }
  }
  // The JSON is what the contract says, and the invalid bytes became U+FFFD as before.
  std::ostringstream json;
  netdebug::render_run_report(json, run.head, checks, run.nodes, core::OutputFormat::json, false);
  const nlohmann::json parsed = nlohmann::json::parse(json.str());
  CHECK(parsed["verdict"] == "fail");
  CHECK(parsed["failedLayer"] == "incluster");
  CHECK(parsed["checks"].size() == whole.checks.size());
  CHECK(json.str().find("\xef\xbf\xbd") != std::string::npos);
  // The matrix text keeps the suite's bytes as they were (control characters replaced by '?').
  std::ostringstream text;
  netdebug::render_run_report(text, run.head, checks, run.nodes, core::OutputFormat::text, false);
  CHECK(text.str().find("curl: not found \xff\xfe\xc3\n") != std::string::npos);
  CHECK(text.str().find("?[31mbroken?[0m") != std::string::npos);
  CHECK(text.str().find("verdict: fail (3 nodes, 2 with failures)") != std::string::npos);
}

TEST_CASE("netdebug::render_run_report without node checks, or without any check",
          "[netdebug][run]") {
  SampleRun run = sample_run();
  for (std::vector<core::Check>& checks : run.perNode) {
    checks.clear();
  }
  for (const bool withHead : {true, false}) {
    if (!withHead) {
      run.head.checks.clear();
    }
    const core::Report whole = whole_report(run);
    const netdebug::CompactChecks checks = compact(run);
    for (const core::OutputFormat format :
         {core::OutputFormat::json, core::OutputFormat::yaml, core::OutputFormat::text}) {
      std::ostringstream out;
      netdebug::render_run_report(out, run.head, checks, {"node-a"}, format, false);
      CHECK(out.str() == rendered(whole, format, false));
    }
    std::ostringstream matrix;
    netdebug::render_run_report(matrix, run.head, checks, run.nodes, core::OutputFormat::text,
                                false);
    CHECK(matrix.str() == matrix_before(whole, run.nodes));
  }
}

TEST_CASE("netdebug::CompactChecks gives back the checks it was given, small", "[netdebug][run]") {
  const SampleRun run = sample_run();
  const netdebug::CompactChecks checks = compact(run);
  REQUIRE(checks.slots() == 3);
  for (std::size_t slot = 0; slot < run.perNode.size(); ++slot) {
    const std::vector<core::Check> back = checks.get(slot);
    const std::vector<core::Check>& given = run.perNode[slot];
    REQUIRE(back.size() == given.size());
    for (std::size_t i = 0; i < back.size(); ++i) {
      CHECK(back[i].id == given[i].id);
      CHECK(back[i].layer == given[i].layer);
      CHECK(back[i].endpoint == given[i].endpoint);
      CHECK(back[i].status == given[i].status);
      CHECK(back[i].message == given[i].message);  // byte for byte, invalid UTF-8 too
      CHECK(back[i].hint == given[i].hint);
      CHECK(back[i].durationMs == Approx(given[i].durationMs).margin(0.05));
      CHECK(back[i].details == given[i].details);
    }
  }
  CHECK(checks.get(0)[4].durationMs == 1234.6);      // rounded as the report rounds
  CHECK(netdebug::CompactChecks(2).get(1).empty());  // a slot never set: a node interrupted

  // A node of 13 checks like the lab's (messages and details a little longer) packs into a few
  // KiB: what its JSON takes, not what its Check objects do.
  std::string suite;
  for (const char* id : {"resolvconf", "dns.fqdn", "dns.search", "service.tcp", "service.tls",
                         "service.livez", "service.readyz", "route.default", "mtu"}) {
    suite +=
        std::string(R"({"id":"incluster.)") + id +
        R"(","status":"ok","message":"kubernetes.default.svc.cluster.local resolves to 198.18.0.2","hint":"","durationMs":93,"details":{"addresses":["198.18.0.2"],"name":"kubernetes.default.svc.cluster.local","nameservers":["198.18.0.53"],"rcode":"ok","tool":"dig"}})"
        "\n";
  }
  for (const char* id : {"tcp", "tls", "readyz"}) {
    suite +=
        std::string(R"({"id":"incluster.endpoint.)") + id +
        R"(","endpoint":"198.18.0.2:6443","status":"ok","message":"connected to 198.18.0.2:6443","hint":"","durationMs":4,"details":{"address":"198.18.0.2:6443"}})"
        "\n";
  }
  netdebug::CompactChecks one(1);
  one.set(0, node_run("kwok-node-999", suite, 990));
  CHECK(one.get(0).size() == 13);
  CHECK(one.bytes() < 4 * 1024);
}

TEST_CASE("netdebug::run_exit_code core's exit code of the whole report", "[netdebug][run]") {
  SampleRun run = sample_run();
  const auto expect_same = [&] {
    const core::Report whole = whole_report(run);
    const netdebug::CompactChecks checks = compact(run);
    for (const core::FailOn failOn : {core::FailOn::fail, core::FailOn::warn}) {
      CHECK(netdebug::run_exit_code(run.head, checks, failOn) == core::exit_code(whole, failOn));
    }
    core::Report summary = run.head;
    summary.checks = checks.summary();
    summary.checks.insert(summary.checks.end(), run.head.checks.begin(), run.head.checks.end());
    CHECK(core::verdict(summary) == core::verdict(whole));
    CHECK(core::failed_layer(summary) == core::failed_layer(whole));
  };
  expect_same();  // fail
  run.perNode.erase(run.perNode.begin(), run.perNode.begin() + 2);
  expect_same();  // warn
  run.head.checks.clear();
  run.perNode = {{core::make_check("incluster.mtu", core::Layer::incluster, CheckStatus::skip)}};
  expect_same();  // skip only
  run.perNode.push_back(
      {core::make_check("incluster.pod", core::Layer::incluster, CheckStatus::ok)});
  expect_same();  // ok
}

TEST_CASE("netdebug::list_nodes asks for pages of 100 nodes", "[netdebug][run]") {
  testsupport::FakeHttp server;
  server.maxRequests = 10;
  server.hook([](const core::HttpRequest& request,
                 std::size_t n) -> std::optional<core::HttpResult> {
    CHECK(testsupport::path_of(request.url) ==
          (n == 0 ? "/api/v1/nodes?limit=100" : "/api/v1/nodes?limit=100&continue=next"));
    core::HttpResponse response;
    response.status = 200;
    response.body = n == 0
                        ? R"({"items":[{"metadata":{"name":"b"}}],"metadata":{"continue":"next"}})"
                        : R"({"items":[{"metadata":{"name":"a"}}],"metadata":{}})";
    return response;
  });
  core::ClientConfig config;
  config.server = "https://198.18.0.2:6443";
  const auto nodes = netdebug::list_nodes(
      core::ApiClient(config, {}, server.factory(), std::chrono::milliseconds(1000)));
  REQUIRE(nodes);
  REQUIRE(nodes->size() == 2);
  CHECK(nodes->front().name == "a");
  CHECK(server.paths().size() == 2);
}
