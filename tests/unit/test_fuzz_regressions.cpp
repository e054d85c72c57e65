// Inputs the libFuzzer targets in fuzz/ found (each also in fuzz/corpus/<target>/), and the seam
// the `complete` target uses. One TEST_CASE per finding, named after the function it broke.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "certs/certs.h"
#include "core/cli/complete.h"
#include "core/kube/apiclient.h"
#include "core/kube/debugpod.h"
#include "core/kube/kubeconfig.h"
#include "netdebug/local.h"
#include "netdebug/run.h"
#include "support_http.h"
#include "support_invoke.h"

using namespace kp::core;
using kp::testsupport::invoke_main;

namespace {

// An API server that answers every request with the next of `bodies` (then the last again) and
// gives up after 50 requests, so a pager that never stops fails the test instead of hanging it.
struct RepeatingServer {
  std::vector<std::string> bodies;
  kp::testsupport::FakeHttp http;

  RepeatingServer() {
    http.maxRequests = 50;
    http.hook([this](const HttpRequest&, std::size_t n) -> std::optional<HttpResult> {
      return kp::testsupport::http_answer(200, bodies[std::min(n + 1, bodies.size()) - 1]);
    });
  }
  std::size_t requests() const { return http.sent.size(); }
};

ApiClient repeating_client(RepeatingServer& server) {
  ClientConfig config;
  config.server = "https://198.18.0.2:6443";
  return ApiClient(config, {}, server.http.factory(), std::chrono::milliseconds(1000));
}

}  // namespace

// fuzz/corpus/api_lists/regress-pods-continue-loop: a server (or proxy) that ignores `continue`
// and returns the same token made `netdebug cleanup` list forever.
TEST_CASE("core::list_debug_pods stops when the continue token repeats", "[regression][fuzz]") {
  RepeatingServer server;
  SECTION("the same token twice in a row") {
    server.bodies = {R"({"items":[],"metadata":{"continue":"t"}})"};
  }
  SECTION("a cycle of two tokens") {
    server.bodies = {R"({"items":[],"metadata":{"continue":"a"}})",
                     R"({"items":[],"metadata":{"continue":"b"}})",
                     R"({"items":[],"metadata":{"continue":"a"}})"};
  }
  const auto pods = list_debug_pods(repeating_client(server), "", "netdebug");
  REQUIRE_FALSE(pods);
  CHECK(pods.error().message ==
        "GET /api/v1/pods: the API server returned the same continue token twice");
  CHECK(server.requests() <= 3);
}

TEST_CASE("core::list_debug_pods pages with distinct tokens", "[regression][fuzz]") {
  RepeatingServer server;
  server.bodies = {
      R"({"items":[{"metadata":{"name":"p1","namespace":"a"}}],"metadata":{"continue":"x"}})",
      R"({"items":[{"metadata":{"name":"p2","namespace":"b"}}],"metadata":{}})"};
  const auto pods = list_debug_pods(repeating_client(server), "", "");
  REQUIRE(pods);
  REQUIRE(pods->size() == 2);
  CHECK((*pods)[1].name == "p2");
  CHECK(server.requests() == 2);
}

// fuzz/corpus/api_lists/regress-nodes-*: `netdebug run` without --node threw nlohmann's
// type_error 306/302 out of list_nodes on a node list with a member of the wrong type (exit 2,
// "[json.exception.type_error.306] cannot use value() with number"), and looped forever on a
// repeated continue token.
TEST_CASE("netdebug::list_nodes reads malformed node lists without throwing",
          "[regression][fuzz]") {
  RepeatingServer server;
  server.bodies = {R"({"items":[1,"x",null,{"metadata":5,"spec":[],"status":{"conditions":7}},)"
                   R"({"metadata":{"name":"n2"},"spec":{"unschedulable":"yes"},)"
                   R"("status":{"conditions":[3,{"type":"Ready","status":"True"}]}},)"
                   R"({"metadata":{"name":"n1"},"spec":{"unschedulable":true}}],"metadata":[]})"};
  const auto nodes = kp::netdebug::list_nodes(repeating_client(server));
  REQUIRE(nodes);
  REQUIRE(nodes->size() == 6);
  // Sorted by name: the four nameless items first.
  CHECK((*nodes)[4].name == "n1");
  CHECK((*nodes)[4].unschedulable);
  CHECK_FALSE((*nodes)[4].ready);
  CHECK((*nodes)[5].name == "n2");
  CHECK_FALSE((*nodes)[5].unschedulable);
  CHECK((*nodes)[5].ready);
}

TEST_CASE("netdebug::list_nodes answers that are not node lists", "[regression][fuzz]") {
  RepeatingServer server;
  SECTION("an array") {
    server.bodies = {"[1,2]"};
  }
  SECTION("a number") {
    server.bodies = {"42"};
  }
  const auto nodes = kp::netdebug::list_nodes(repeating_client(server));
  REQUIRE(nodes);
  CHECK(nodes->empty());
}

TEST_CASE("netdebug::list_nodes stops when the continue token repeats", "[regression][fuzz]") {
  RepeatingServer server;
  server.bodies = {R"({"items":[{"metadata":{"name":"n"}}],"metadata":{"continue":"t"}})"};
  const auto nodes = kp::netdebug::list_nodes(repeating_client(server));
  REQUIRE_FALSE(nodes);
  CHECK(nodes.error().message ==
        "GET /api/v1/nodes: the API server returned the same continue token twice");
  CHECK(server.requests() == 2);
}

// fuzz/corpus/netdebug_local/regress-nft-op-object (found by CI's fuzz run): `netdebug local`
// threw nlohmann's type_error 302 ("type must be string, but is object") out of
// analyze_nft_json when a match's "op" was not a string; json::value(key, std::string) throws
// on a member of another type instead of returning the default.
TEST_CASE("netdebug::analyze_nft_json reads a match whose op is not a string",
          "[regression][fuzz]") {
  const std::string json =
      R"({"nftables":[{"chain":{"family":"inet","table":"t","name":"input","handle":1,)"
      R"("type":"filter","hook":"input","prio":0,"policy":"accept"}},)"
      R"({"rule":{"family":"inet","table":"t","chain":"input","handle":2,"expr":[)"
      R"({"match":{"op":{"x":1},"left":{"payload":{"protocol":"tcp","field":"dport"}},)"
      R"("right":6443}},{"drop":null}]}}]})";
  const auto analysis = kp::netdebug::analyze_nft_json(json, 6443, {});
  REQUIRE(analysis);
  // An op nft never writes is not "!=": the rule matches the port and drops it.
  REQUIRE(analysis->hits.size() == 1);
  CHECK(analysis->hits[0].verdict == "drop");
  CHECK(analysis->rulesSeen == 1);
}

// fuzz/corpus/kubeconfig/regress-float32-overflow-key (found by CI's fuzz run): a float key past
// float32's range (1e39) in an extension became an infinity in the cast to float, which printf
// spells "inf", and yaml11_key_text read an exponent past the end of a string with no 'e' (UBSan:
// pointer overflow). kubectl (sigs.k8s.io/yaml, FormatFloat(k, 'g', -1, 32)) spells it ".inf";
// the other keys are its spelling too, checked with `kubectl config view -o json`.
TEST_CASE("core::yaml11_key_text spells keys past float32's range as infinities",
          "[regression][fuzz]") {
  const auto config = parse_kubeconfig(
      "clusters:\n- name: k\n  cluster:\n    server: https://198.18.0.2:6443\n"
      "    extensions:\n    - name: x\n"
      "      extension: {1e39: a, -1e39: b, 3.4028235e38: c, 1e-50: d, -1e-50: e, 1e-45: f}\n",
      "/k/config");
  REQUIRE(config);
  CHECK(config->clusters.at("k").extensions.at("x") ==
        nlohmann::json::parse(R"({".inf": "a", "-.inf": "b", "3.4028235e+38": "c", "0": "d",
                                  "-0": "e", "1e-45": "f"})"));
}

TEST_CASE("core::set_completion_sources_override", "[regression][fuzz]") {
  std::vector<std::string> asked;
  set_completion_sources_override([&asked] {
    CompletionSources sources;
    sources.kubeconfig = [](const LoadingRules&) -> Result<Kubeconfig> {
      return Error{"not read"};
    };
    sources.apiNames = [&asked](const LoadingRules&, const ConfigOverrides&,
                                std::string_view resource) -> Result<std::vector<std::string>> {
      asked.emplace_back(resource);
      return std::vector<std::string>{"fake-a", "fake-b"};
    };
    return sources;
  });
  const std::string out =
      invoke_main(kp::certs::main, {"kubectl-certs", "__complete", "secrets", "-n", "fake-"}).out;
  set_completion_sources_override({});
  CHECK(out == "fake-a\nfake-b\n:4\n");
  CHECK(asked == std::vector<std::string>{"namespaces"});
}
