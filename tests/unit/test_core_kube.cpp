#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/kube/kube.h"

using namespace kp::core;

namespace {

// kube-apiserver 1.37, GET /readyz?verbose on a healthy control plane.
constexpr std::string_view kReadyzPassed = R"([+]ping ok
[+]log ok
[+]etcd ok
[+]etcd-readiness ok
[+]kms-providers ok
[+]informer-sync ok
[+]poststarthook/start-apiserver-admission-initializer ok
[+]poststarthook/generic-apiserver-start-informers ok
[+]poststarthook/priority-and-fairness-config-consumer ok
[+]poststarthook/priority-and-fairness-filter ok
[+]poststarthook/storage-object-count-tracker-hook ok
[+]poststarthook/start-apiextensions-informers ok
[+]poststarthook/start-apiextensions-controllers ok
[+]poststarthook/crd-informer-synced ok
[+]poststarthook/start-system-namespaces-controller ok
[+]poststarthook/start-cluster-authentication-info-controller ok
[+]poststarthook/start-kube-apiserver-identity-lease-controller ok
[+]poststarthook/start-kube-apiserver-identity-lease-garbage-collector ok
[+]poststarthook/start-legacy-token-tracking-controller ok
[+]poststarthook/start-service-ip-repair-controllers ok
[+]poststarthook/rbac/bootstrap-roles ok
[+]poststarthook/scheduling/bootstrap-system-priority-classes ok
[+]poststarthook/priority-and-fairness-config-producer ok
[+]poststarthook/bootstrap-controller ok
[+]poststarthook/aggregator-reload-proxy-client-cert ok
[+]poststarthook/start-kube-aggregator-informers ok
[+]poststarthook/apiservice-status-local-available-controller ok
[+]poststarthook/apiservice-status-remote-available-controller ok
[+]poststarthook/apiservice-registration-controller ok
[+]poststarthook/apiservice-discovery-controller ok
[+]poststarthook/kube-apiserver-autoregistration ok
[+]autoregister-completion ok
[+]poststarthook/apiservice-openapi-controller ok
[+]poststarthook/apiservice-openapiv3-controller ok
[+]shutdown ok
readyz check passed
)";

// The same server with etcd stopped: HTTP 500, always verbose, reasons withheld.
constexpr std::string_view kReadyzFailed = R"([+]ping ok
[+]log ok
[-]etcd failed: reason withheld
[-]etcd-readiness failed: reason withheld
[+]informer-sync ok
[+]poststarthook/start-apiserver-admission-initializer ok
[+]shutdown ok
readyz check failed
)";

}  // namespace

TEST_CASE("core::parse_health reads a passing /readyz?verbose", "[kube]") {
  const auto report = parse_health(kReadyzPassed);
  REQUIRE(report);
  CHECK(report->passed);
  CHECK(report->summary == "readyz check passed");
  REQUIRE(report->checks.size() == 35);
  CHECK(report->checks[0].name == "ping");
  CHECK(report->checks[0].ok);
  CHECK(report->checks[0].detail == "ok");
  CHECK(report->checks[6].name == "poststarthook/start-apiserver-admission-initializer");
  CHECK(report->checks.back().name == "shutdown");
  CHECK(report->warnings.empty());
}

TEST_CASE("core::parse_health reads a failing body with reasons withheld", "[kube]") {
  const auto report = parse_health(kReadyzFailed);
  REQUIRE(report);
  CHECK_FALSE(report->passed);
  CHECK(report->summary == "readyz check failed");
  REQUIRE(report->checks.size() == 7);
  CHECK(report->checks[2].name == "etcd");
  CHECK_FALSE(report->checks[2].ok);
  CHECK(report->checks[2].detail == "failed: reason withheld");
  // http.Error ends the body with a newline; CRLF from a proxy is tolerated too.
  std::string crlf = "[+]ping ok\r\n[-]etcd failed: reason withheld\r\nlivez check failed\r\n";
  const auto viaProxy = parse_health(crlf);
  REQUIRE(viaProxy);
  CHECK(viaProxy->summary == "livez check failed");
  CHECK(viaProxy->checks.size() == 2);
}

TEST_CASE("core::parse_health reads excluded checks and the exclude warning", "[kube]") {
  const auto report = parse_health(
      "[+]ping ok\n[+]etcd excluded: ok\n[+]shutdown ok\n"
      "warn: some health checks cannot be excluded: no matches for \"etcd-typo\",\"x\"\n"
      "healthz check passed\n");
  REQUIRE(report);
  CHECK(report->passed);
  REQUIRE(report->checks.size() == 3);
  CHECK(report->checks[1].name == "etcd");
  CHECK(report->checks[1].ok);
  CHECK(report->checks[1].excluded);
  CHECK(report->checks[1].detail == "excluded: ok");
  CHECK(report->warnings ==
        std::vector<std::string>{
            "some health checks cannot be excluded: no matches for \"etcd-typo\",\"x\""});
}

TEST_CASE("core::parse_health reads the plain and single-check bodies", "[kube]") {
  const auto ok = parse_health("ok");
  REQUIRE(ok);
  CHECK(ok->passed);
  CHECK(ok->checks.empty());
  CHECK(ok->summary == "ok");
  const auto single =
      parse_health("internal server error: etcd client connection not yet established\n");
  REQUIRE(single);
  CHECK_FALSE(single->passed);
  CHECK(single->summary == "internal server error: etcd client connection not yet established");
}

TEST_CASE("core::parse_health rejects garbage, truncation and empty bodies", "[kube]") {
  CHECK(parse_health("").error().message == "empty health response");
  CHECK(parse_health("\n \n").error().message == "empty health response");
  CHECK(parse_health("<html><body><h1>502 Bad Gateway</h1></body></html>\n").error().message ==
        "line 1: not a health check line: \"<html><body><h1>502 Bad "
        "Gateway</h1></body></html>\"");
  CHECK(parse_health("<html>\n<body>oops</body>\nreadyz check passed\n").error().message ==
        "line 1: not a health check line: \"<html>\"");
  const std::string_view truncated = kReadyzPassed.substr(0, 60);
  CHECK(parse_health(truncated).error().message ==
        "health response is truncated: its last line is \"[+]kms-\", not \"<endpoint> check "
        "passed\" or \"<endpoint> check failed\"");
  CHECK(parse_health("[+] ok\nreadyz check passed").error().message ==
        "line 1: not a health check line: \"[+] ok\"");
  CHECK(parse_health(std::string("[+]ping ok\n\x01\x02\n")).error().message ==
        "line 2: not a health check line: \"\\x01\\x02\"");
  CHECK(parse_health("[+]ping ok\n[+]etcd ok\n").error().message ==
        "health response is truncated: its last line is \"[+]etcd ok\", not \"<endpoint> check "
        "passed\" or \"<endpoint> check failed\"");
}

TEST_CASE("core::parse_health handles a huge body", "[kube]") {
  std::string body;
  for (int i = 0; i < 200000; ++i) {
    body += "[+]check-" + std::to_string(i) + " ok\n";
  }
  body += "readyz check passed\n";
  const auto report = parse_health(body);
  REQUIRE(report);
  CHECK(report->checks.size() == 200000);
  const std::string junk(5 * 1024 * 1024, 'x');
  const auto error = parse_health(junk);
  REQUIRE_FALSE(error);
  CHECK(error.error().message.size() < 300);  // the line is cut short in the message
}

TEST_CASE("core::parse_status reads a Status and nothing else", "[kube]") {
  const auto status = parse_status(
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"("message":"pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"",)"
      R"("reason":"Forbidden","details":{"kind":"pods"},"code":403})");
  REQUIRE(status);
  CHECK(status->status == "Failure");
  CHECK(status->reason == "Forbidden");
  CHECK(status->code == 403);
  CHECK(status->message.rfind("pods is forbidden: User \"jane\"", 0) == 0);
  CHECK(status->details == nlohmann::json{{"kind", "pods"}});
  const auto unauthorized = parse_status(
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})");
  REQUIRE(unauthorized);
  CHECK(unauthorized->code == 401);
  CHECK(unauthorized->details.is_null());
  CHECK_FALSE(parse_status("Too many requests, please try again later.\n"));
  CHECK_FALSE(parse_status(R"({"kind":"Pod"})"));
  CHECK_FALSE(parse_status(R"({"kind":"Status")"));
  CHECK_FALSE(parse_status("[]"));
  CHECK_FALSE(parse_status(""));
}

TEST_CASE("core::self_subject_review_request", "[kube]") {
  CHECK(self_subject_review_request() ==
        R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})");
}

TEST_CASE("core::parse_self_subject_review reads status.userInfo", "[kube]") {
  const auto user = parse_self_subject_review(
      R"({"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1",)"
      R"("metadata":{"creationTimestamp":null},"status":{"userInfo":{"username":"system:serviceaccount:default:probe",)"
      R"("uid":"4b4d1d3c-0d1e-4c0f-9f5e-1c2a3b4c5d6e","groups":["system:serviceaccounts",)"
      R"("system:serviceaccounts:default","system:authenticated"],)"
      R"("extra":{"authentication.kubernetes.io/pod-name":["probe-abc"],"authentication.kubernetes.io/node-name":["kind-control-plane"]}}}})");
  REQUIRE(user);
  CHECK(user->username == "system:serviceaccount:default:probe");
  CHECK(user->uid == "4b4d1d3c-0d1e-4c0f-9f5e-1c2a3b4c5d6e");
  CHECK(user->groups.size() == 3);
  CHECK(user->extra.at("authentication.kubernetes.io/pod-name") ==
        std::vector<std::string>{"probe-abc"});
  const auto admin = parse_self_subject_review(
      R"({"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"status":{"userInfo":{"username":"kubernetes-admin","groups":["kubeadm:cluster-admins","system:authenticated"]}}})");
  REQUIRE(admin);
  CHECK(admin->uid.empty());
  CHECK(admin->extra.empty());
}

TEST_CASE("core::parse_self_subject_review errors", "[kube]") {
  CHECK(
      parse_self_subject_review(
          R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404})")
          .error()
          .message ==
      "SelfSubjectReview: the server answered with a Status: the server could not find the "
      "requested resource (reason NotFound, code 404)");
  CHECK(parse_self_subject_review(R"({"kind":"SelfSubjectReview","status":{}})").error().message ==
        "SelfSubjectReview: no status.userInfo in the response");
  CHECK(parse_self_subject_review(
            R"({"kind":"SelfSubjectReview","status":{"userInfo":{"groups":"admins"}}})")
            .error()
            .message == "SelfSubjectReview: status.userInfo.groups: expected a list of strings");
  CHECK(parse_self_subject_review(R"({"kind":"Pod"})").error().message ==
        "SelfSubjectReview: unexpected kind \"Pod\"");
  CHECK(parse_self_subject_review("<html>").error().message.rfind(
            "SelfSubjectReview: invalid JSON: ", 0) == 0);
  CHECK(parse_self_subject_review(
            R"({"kind":"SelfSubjectReview","status":{"userInfo":{"username":"a")")
            .error()
            .message.rfind("SelfSubjectReview: invalid JSON: ", 0) == 0);
}

TEST_CASE("core::self_subject_access_review_request", "[kube]") {
  CHECK(
      self_subject_access_review_request("list", "pods", "default") ==
      R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}})");
  CHECK(
      self_subject_access_review_request("get", "pods/log", "kube-system") ==
      R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"namespace":"kube-system","verb":"get","resource":"pods","subresource":"log"}}})");
  CHECK(
      self_subject_access_review_request("list", "endpointslices", "", "discovery.k8s.io") ==
      R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"list","group":"discovery.k8s.io","resource":"endpointslices"}}})");
  // Values are JSON-escaped, never spliced.
  const auto odd = nlohmann::json::parse(self_subject_access_review_request("get", "a\"b", "ns"));
  CHECK(odd["spec"]["resourceAttributes"]["resource"] == "a\"b");
}

TEST_CASE("core::parse_self_subject_access_review", "[kube]") {
  const auto allowed = parse_self_subject_access_review(
      R"({"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},)"
      R"("spec":{"resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}},)"
      R"("status":{"allowed":true,"reason":"RBAC: allowed by ClusterRoleBinding \"kubeadm:cluster-admins\" of ClusterRole \"cluster-admin\" to Group \"kubeadm:cluster-admins\""}})");
  REQUIRE(allowed);
  CHECK(allowed->allowed);
  CHECK_FALSE(allowed->denied);
  CHECK(allowed->reason.rfind("RBAC: allowed by", 0) == 0);
  const auto denied = parse_self_subject_access_review(
      R"({"kind":"SelfSubjectAccessReview","status":{"allowed":false,"denied":true,"evaluationError":"webhook timed out"}})");
  REQUIRE(denied);
  CHECK_FALSE(denied->allowed);
  CHECK(denied->denied);
  CHECK(denied->evaluationError == "webhook timed out");
  CHECK(parse_self_subject_access_review(R"({"kind":"SelfSubjectAccessReview","status":{}})")
            .error()
            .message == "SelfSubjectAccessReview: status.allowed is missing or not a boolean");
  CHECK(parse_self_subject_access_review(R"({"kind":"SelfSubjectAccessReview"})").error().message ==
        "SelfSubjectAccessReview: no status in the response");
  CHECK(
      parse_self_subject_access_review(
          R"({"kind":"Status","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})")
          .error()
          .message ==
      "SelfSubjectAccessReview: the server answered with a Status: Unauthorized (reason "
      "Unauthorized, code 401)");
}

TEST_CASE("core::parse_kubernetes_endpoint_slices reads the https endpoints", "[kube]") {
  // Three control-plane nodes, dual-stack, one not ready.
  const auto endpoints = parse_kubernetes_endpoint_slices(R"({
  "kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1",
  "metadata": {"resourceVersion": "1234"},
  "items": [
    {"metadata": {"name": "kubernetes", "namespace": "default",
                  "labels": {"kubernetes.io/service-name": "kubernetes"}},
     "addressType": "IPv4",
     "endpoints": [
       {"addresses": ["172.18.0.2"], "conditions": {"ready": true}},
       {"addresses": ["172.18.0.3"], "conditions": {"ready": false}},
       {"addresses": ["172.18.0.4"], "conditions": {}},
       {"addresses": ["172.18.0.2"]}
     ],
     "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]},
    {"metadata": {"name": "kubernetes-ipv6", "labels": {"kubernetes.io/service-name": "kubernetes"}},
     "addressType": "IPv6",
     "endpoints": [{"addresses": ["fd00::2"], "conditions": {"ready": null}}],
     "ports": [{"name": "metrics", "port": 9000}, {"name": "https", "port": 6443}]},
    {"metadata": {"name": "other-x", "labels": {"kubernetes.io/service-name": "other"}},
     "endpoints": [{"addresses": ["10.0.0.9"]}], "ports": [{"name": "https", "port": 443}]}
  ]})");
  REQUIRE(endpoints);
  REQUIRE(endpoints->size() == 4);
  CHECK((*endpoints)[0].address == "172.18.0.2");
  CHECK((*endpoints)[0].port == 6443);
  CHECK((*endpoints)[0].ready);
  CHECK_FALSE((*endpoints)[1].ready);
  CHECK((*endpoints)[2].ready);  // absent means ready
  CHECK((*endpoints)[3].address == "fd00::2");
  CHECK((*endpoints)[3].ready);
}

TEST_CASE("core::parse_kubernetes_endpoint_slices edge cases", "[kube]") {
  CHECK(parse_kubernetes_endpoint_slices(R"({"kind":"EndpointSliceList","items":[]})")->empty());
  CHECK(parse_kubernetes_endpoint_slices(R"({"kind":"EndpointSliceList","items":null})")->empty());
  const auto single = parse_kubernetes_endpoint_slices(
      R"({"kind":"EndpointSlice","endpoints":[{"addresses":["10.1.1.1"]}],"ports":[{"port":443}]})");
  REQUIRE(single);
  REQUIRE(single->size() == 1);
  CHECK(single->front().port == 443);  // the only port, even unnamed
  const auto noEndpoints = parse_kubernetes_endpoint_slices(
      R"({"kind":"EndpointSliceList","items":[{"ports":[{"name":"https","port":6443}]}]})");
  REQUIRE(noEndpoints);
  CHECK(noEndpoints->empty());
  CHECK(
      parse_kubernetes_endpoint_slices(
          R"({"kind":"EndpointSliceList","items":[{"ports":[{"name":"a","port":1},{"name":"b","port":2}]}]})")
          .error()
          .message == "EndpointSliceList: items[0]: no port named \"https\"");
  CHECK(parse_kubernetes_endpoint_slices(
            R"({"kind":"EndpointSliceList","items":[{"ports":[{"name":"https","port":70000}]}]})")
            .error()
            .message == "EndpointSliceList: items[0]: the https port has no valid port number");
  CHECK(
      parse_kubernetes_endpoint_slices(
          R"({"kind":"EndpointSliceList","items":[{"ports":[{"name":"https","port":1}],"endpoints":[{"addresses":[1]}]}]})")
          .error()
          .message ==
      "EndpointSliceList: items[0].endpoints[0].addresses: expected a list of strings");
  CHECK(
      parse_kubernetes_endpoint_slices(
          R"({"kind":"Status","status":"Failure","message":"endpointslices.discovery.k8s.io is forbidden","reason":"Forbidden","code":403})")
          .error()
          .message ==
      "EndpointSliceList: the server answered with a Status: endpointslices.discovery.k8s.io "
      "is forbidden (reason Forbidden, code 403)");
  CHECK(parse_kubernetes_endpoint_slices("{}").error().message ==
        "EndpointSliceList: no items in the response");
  CHECK(parse_kubernetes_endpoint_slices(R"({"items":[1]})").error().message ==
        "EndpointSliceList: items[0]: expected an object");
  CHECK(parse_kubernetes_endpoint_slices(R"({"items":[{"ports":[)")
            .error()
            .message.rfind("EndpointSliceList: invalid JSON: ", 0) == 0);
}

TEST_CASE("core::parse_version", "[kube]") {
  const auto version = parse_version(R"({
  "major": "1",
  "minor": "37",
  "emulationMajor": "1",
  "emulationMinor": "37",
  "minCompatibilityMajor": "1",
  "minCompatibilityMinor": "36",
  "gitVersion": "v1.37.2",
  "gitCommit": "0123456789abcdef0123456789abcdef01234567",
  "gitTreeState": "clean",
  "buildDate": "2026-09-10T12:00:00Z",
  "goVersion": "go1.26.1",
  "compiler": "gc",
  "platform": "linux/amd64"
})");
  REQUIRE(version);
  CHECK(version->gitVersion == "v1.37.2");
  CHECK(version->major == "1");
  CHECK(version->minor == "37");
  CHECK(version->platform == "linux/amd64");
  CHECK(version->goVersion == "go1.26.1");
  CHECK(parse_version(R"({"major":"1"})").error().message ==
        "version: no gitVersion in the response");
  CHECK(parse_version(R"({"gitVersion":7})").error().message ==
        "version: no gitVersion in the response");
  CHECK(parse_version("ok").error().message.rfind("version: invalid JSON: ", 0) == 0);
  CHECK(parse_version("\"v1.30.0\"").error().message == "version: expected a JSON object");
  CHECK(
      parse_version(
          R"({"kind":"Status","status":"Failure","message":"forbidden","reason":"Forbidden","code":403})")
          .error()
          .message ==
      "version: the server answered with a Status: forbidden (reason Forbidden, code 403)");
}

TEST_CASE("core::minor_skew follows the version skew policy", "[kube]") {
  CHECK(minor_skew("v1.37.2", "v1.34.0") == 3);
  CHECK(minor_skew("v1.33.1", "v1.34.0") == -1);
  CHECK(minor_skew("v1.34.0", "v1.34.9-eks-113cf36") == 0);
  CHECK(minor_skew("v1.31.0", "v1.30.4+k3s1") == 1);
  CHECK(minor_skew("1.31.0", "v1.30.4") == 1);
  CHECK_FALSE(minor_skew("v2.0.0", "v1.30.0"));
  CHECK_FALSE(minor_skew("", "v1.30.0"));
  CHECK_FALSE(minor_skew("v1", "v1.30.0"));
  CHECK_FALSE(minor_skew("latest", "v1.30.0"));
  CHECK(skew_supported(*minor_skew("v1.35.0", "v1.34.0")));
  CHECK(skew_supported(*minor_skew("v1.33.0", "v1.34.0")));
  CHECK_FALSE(skew_supported(*minor_skew("v1.37.2", "v1.34.0")));
}

TEST_CASE("core::parse_json refuses deep nesting and reports errors without throwing", "[kube]") {
  CHECK(parse_json(std::string(100000, '[')).error().message ==
        "JSON nested deeper than 100 levels");
  CHECK(parse_json(R"({"a":"[[[[[["})")->at("a") == "[[[[[[");  // brackets inside strings
  CHECK(parse_json("{\"a\":\"\xff\"}").error().message.rfind("invalid JSON: ", 0) == 0);
  CHECK(parse_json(R"({"a":1} trailing)").error().message.rfind("invalid JSON: ", 0) == 0);
}
