#include <map>
#include <sstream>

#include <catch2/catch.hpp>

#include "apicheck/apicheck.h"

using namespace kp;
using core::CheckStatus;

namespace {

// Answers by URL path and records what was sent, so tests can assert on both sides.
class FakeHttpClient final : public core::HttpClient {
 public:
  std::map<std::string, core::HttpResult> answers;
  std::vector<core::HttpRequest> sent;

  core::HttpResult send(const core::HttpRequest& request) override {
    sent.push_back(request);
    const std::string path =
        request.url.substr(request.url.find('/', std::string("https://").size()));
    const auto found = answers.find(path);
    if (found == answers.end()) {
      return core::HttpError{core::TransportError::other, 0, "no fake answer for " + path, {}};
    }
    return found->second;
  }
};

core::HttpResponse response(long status, std::string body) {
  core::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.timings.totalMs = 3;
  return r;
}

constexpr std::string_view kVersionJson = R"({
  "major": "1",
  "minor": "37",
  "gitVersion": "v1.37.2",
  "gitCommit": "abc",
  "gitTreeState": "clean",
  "buildDate": "2026-11-01T00:00:00Z",
  "goVersion": "go1.26.0",
  "compiler": "gc",
  "platform": "linux/amd64"
})";

struct Fixture {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  apicheck::Options options;

  Fixture() {
    options.client.contextName = "lab";
    options.client.clusterName = "lab";
    options.client.server = "https://api.lab.test:6443";
    options.client.caPem = "CA-PEM";
    // Credentials that must never reach the unauthenticated health endpoints.
    options.client.token = "secret-token";
    options.client.clientCertPem = "CERT";
    options.client.clientKeyPem = "KEY";
    options.http = http;
    http->answers.emplace("/version", response(200, std::string(kVersionJson)));
  }

  const core::Check& find(const core::Report& report, std::string_view id) {
    for (const core::Check& check : report.checks) {
      if (check.id == id) {
        return check;
      }
    }
    FAIL("no check " << id);
    throw std::logic_error("unreachable");
  }
};

}  // namespace

TEST_CASE_METHOD(Fixture, "apicheck::Options::check with a ready server") {
  http->answers.emplace("/readyz", response(200, "ok"));
  const core::Report report = options.check();
  REQUIRE(report.checks.size() == 3);
  CHECK(report.checks[0].id == "config.kubeconfig");
  CHECK(report.checks[0].message == "context lab, cluster lab, server https://api.lab.test:6443");
  CHECK(find(report, "health.readyz").status == CheckStatus::ok);
  const core::Check& version = find(report, "health.version");
  CHECK(version.status == CheckStatus::ok);
  CHECK(version.message == "server version v1.37.2 (go1.26.0, linux/amd64)");
  CHECK(version.details["minor"] == "37");
  CHECK(core::verdict(report) == CheckStatus::ok);
  CHECK_FALSE(core::failed_layer(report));
  CHECK(core::exit_code(report, core::FailOn::fail) == 0);

  SECTION("no credential is sent, but the CA is used") {
    REQUIRE(http->sent.size() == 2);
    for (const core::HttpRequest& request : http->sent) {
      CHECK(request.headers.empty());
      CHECK(request.clientCertPem.empty());
      CHECK(request.clientKeyPem.empty());
      CHECK(request.caPem == "CA-PEM");
      CHECK(request.timeout == std::chrono::milliseconds(5000));
    }
    CHECK(http->sent[0].url == "https://api.lab.test:6443/readyz");
    CHECK(http->sent[1].url == "https://api.lab.test:6443/version");
  }
  SECTION("text output") {
    std::ostringstream out;
    std::ostringstream err;
    CHECK(options.run(out, err) == 0);
    CHECK(out.str() ==
          "ok    config.kubeconfig  context lab, cluster lab, server https://api.lab.test:6443\n"
          "ok    health.readyz      ready\n"
          "ok    health.version     server version v1.37.2 (go1.26.0, linux/amd64)\n"
          "verdict: ok\n");
    CHECK(err.str().empty());
  }
}

TEST_CASE_METHOD(Fixture, "apicheck::Options::check with a failing /readyz") {
  http->answers.emplace("/readyz",
                        response(500,
                                 "[+]ping ok\n[+]log ok\n[-]etcd failed: reason "
                                 "withheld\n[+]informer-sync ok\nreadyz check failed\n"));
  const core::Report report = options.check();
  const core::Check& readyz = find(report, "health.readyz");
  CHECK(readyz.status == CheckStatus::fail);
  CHECK(readyz.message == "not ready (HTTP 500): etcd failed");
  CHECK_FALSE(readyz.hint.empty());
  CHECK(readyz.details["failed"] == nlohmann::ordered_json::array({"etcd"}));
  CHECK(core::verdict(report) == CheckStatus::fail);
  REQUIRE(core::failed_layer(report));
  CHECK(*core::failed_layer(report) == core::Layer::health);

  SECTION("json output and exit code 1") {
    options.output = core::OutputFormat::json;
    std::ostringstream out;
    std::ostringstream err;
    CHECK(options.run(out, err) == 1);
    const auto json = nlohmann::json::parse(out.str());
    CHECK(json["verdict"] == "fail");
    CHECK(json["failedLayer"] == "health");
    CHECK(json["checks"][1]["id"] == "health.readyz");
  }
}

TEST_CASE_METHOD(Fixture, "apicheck::Options::check when the connection is refused") {
  http->answers.clear();
  http->answers.emplace(
      "/readyz",
      core::HttpError{
          core::TransportError::connect, 7, "Couldn't connect to server: Connection refused", {}});
  const core::Report report = options.check();
  REQUIRE(report.checks.size() == 4);
  const core::Check& connect = find(report, "tcp.connect");
  CHECK(connect.status == CheckStatus::fail);
  CHECK(connect.endpoint == "api.lab.test:6443");
  CHECK(find(report, "health.readyz").status == CheckStatus::skip);
  CHECK(find(report, "health.version").message == "not checked: tcp.connect failed");
  CHECK(*core::failed_layer(report) == core::Layer::tcp);
}

TEST_CASE_METHOD(Fixture, "apicheck::Options::check warns on anonymous 401 and insecure") {
  options.client.insecure = true;
  http->answers.emplace("/readyz", response(401, "Unauthorized"));
  const core::Report report = options.check();
  CHECK(find(report, "config.kubeconfig").status == CheckStatus::warn);
  CHECK(find(report, "health.readyz").status == CheckStatus::warn);
  CHECK(core::exit_code(report, core::FailOn::fail) == 0);
  CHECK(core::exit_code(report, core::FailOn::warn) == 1);
  CHECK(http->sent[0].insecure);
}

TEST_CASE("apicheck::Options::validate") {
  apicheck::Options options;
  options.outputText = "yaml";
  options.timeoutText = "250ms";
  REQUIRE(options.validate());
  CHECK(options.output == core::OutputFormat::yaml);
  CHECK(options.timeout == std::chrono::milliseconds(250));
  options.timeoutText = "0";
  CHECK(options.validate().error().message == "--timeout: must be greater than 0");
  options.timeoutText = "5s";
  options.outputText = "xml";
  CHECK(options.validate().error().message ==
        "--output: unsupported format \"xml\", must be text, json or yaml");
}
