#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "certs/node.h"
#include "core/util/base64.h"
#include "netdebug/run.h"

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
