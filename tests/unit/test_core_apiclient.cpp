// core::ApiClient::list_pages: the one pager behind `netdebug cleanup`, netdebug's node list,
// `certs secrets` and completion, against a fake API server that records each path.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/kube/apiclient.h"
#include "support_http.h"

using namespace kp::core;

namespace {

// Answers the n-th request (0-based) with `answer(n, path)`; gives up after 50 requests, so a
// pager that never stops fails the test instead of hanging it.
void answer_pages(kp::testsupport::FakeHttp& server,
                  std::function<HttpResult(std::size_t, const std::string&)> answer) {
  server.maxRequests = 50;
  server.hook([answer = std::move(answer)](const HttpRequest& request,
                                           std::size_t n) -> std::optional<HttpResult> {
    return answer(n, kp::testsupport::path_of(request.url));
  });
}

ApiClient paged_client(kp::testsupport::FakeHttp& server) {
  ClientConfig config;
  config.server = "https://198.18.0.2:6443";
  return ApiClient(config, {}, server.factory(), std::chrono::milliseconds(1000));
}

HttpResponse ok(std::string body) {
  HttpResponse response;
  response.status = 200;
  response.body = std::move(body);
  return response;
}

// A page with `items` (names) and, unless empty, a continue token.
HttpResponse page(const std::vector<std::string>& names, const std::string& token) {
  nlohmann::json list = {{"kind", "List"}, {"items", nlohmann::json::array()}};
  for (const std::string& name : names) {
    list["items"].push_back({{"metadata", {{"name", name}}}});
  }
  list["metadata"] = nlohmann::json::object();
  if (!token.empty()) {
    list["metadata"]["continue"] = token;
  }
  return ok(list.dump());
}

std::vector<std::string> names_of(const nlohmann::json& page) {
  std::vector<std::string> names;
  for (const nlohmann::json& item : page["items"]) {
    names.push_back(item["metadata"]["name"].get<std::string>());
  }
  return names;
}

}  // namespace

TEST_CASE("core::ApiClient::list_pages follows continue tokens, limit first, query kept",
          "[apiclient]") {
  kp::testsupport::FakeHttp server;
  answer_pages(server, [](std::size_t n, const std::string&) -> HttpResult {
    if (n == 0) {
      return page({"a", "b"}, "tok/1+");
    }
    if (n == 1) {
      return page({"c"}, "t2");
    }
    return page({"d"}, "");
  });
  std::vector<std::string> seen;
  const auto pages = paged_client(server).list_pages("/api/v1/pods?labelSelector=app%3Dweb", 2,
                                                     [&seen](const nlohmann::json& p) {
                                                       for (const std::string& name : names_of(p)) {
                                                         seen.push_back(name);
                                                       }
                                                       return true;
                                                     });
  REQUIRE(pages);
  CHECK(*pages == 3);
  CHECK(seen == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(server.paths() ==
        std::vector<std::string>{"/api/v1/pods?limit=2&labelSelector=app%3Dweb",
                                 "/api/v1/pods?limit=2&labelSelector=app%3Dweb&continue=tok%2F1%2B",
                                 "/api/v1/pods?limit=2&labelSelector=app%3Dweb&continue=t2"});
}

TEST_CASE("core::ApiClient::list_pages: the callback may take the page away", "[apiclient]") {
  kp::testsupport::FakeHttp server;
  answer_pages(server, [](std::size_t n, const std::string&) -> HttpResult {
    return n == 0 ? page({"a"}, "t1") : page({"b"}, "");
  });
  std::vector<nlohmann::json> kept;
  const auto pages =
      paged_client(server).list_pages("/api/v1/secrets", 500, [&kept](nlohmann::json& p) {
        kept.push_back(std::move(p));  // e.g. to a worker thread; the token was read already
        return true;
      });
  REQUIRE(pages);
  CHECK(*pages == 2);
  REQUIRE(kept.size() == 2);
  CHECK(names_of(kept[0]) == std::vector<std::string>{"a"});
  CHECK(names_of(kept[1]) == std::vector<std::string>{"b"});
  CHECK(server.paths().back() == "/api/v1/secrets?limit=500&continue=t1");
}

TEST_CASE("core::ApiClient::list_pages stops when the page callback says so", "[apiclient]") {
  kp::testsupport::FakeHttp server;
  answer_pages(server,
               [](std::size_t, const std::string&) -> HttpResult { return page({"a"}, "more"); });
  const auto pages = paged_client(server).list_pages("/api/v1/nodes", 500,
                                                     [](const nlohmann::json&) { return false; });
  REQUIRE(pages);
  CHECK(*pages == 1);
  CHECK(server.paths() == std::vector<std::string>{"/api/v1/nodes?limit=500"});
}

TEST_CASE("core::ApiClient::list_pages refuses a continue token it has seen before",
          "[apiclient]") {
  kp::testsupport::FakeHttp server;
  std::size_t expectedRequests = 0;
  SECTION("the same token twice in a row") {
    answer_pages(server,
                 [](std::size_t, const std::string&) -> HttpResult { return page({}, "t"); });
    expectedRequests = 2;
  }
  SECTION("a cycle of two tokens") {
    answer_pages(server, [](std::size_t n, const std::string&) -> HttpResult {
      return page({}, n % 2 == 0 ? "a" : "b");
    });
    expectedRequests = 3;
  }
  const auto pages = paged_client(server).list_pages("/api/v1/secrets?labelSelector=x", 500,
                                                     [](const nlohmann::json&) { return true; });
  REQUIRE_FALSE(pages);
  CHECK(pages.error().status == 200);
  // The path without its query: the selector is the user's, the token the server's.
  CHECK(pages.error().message ==
        "GET /api/v1/secrets: the API server returned the same continue token twice");
  CHECK(server.paths().size() == expectedRequests);
}

TEST_CASE("core::ApiClient::list_pages asks again with smaller pages when one is too large",
          "[apiclient]") {
  kp::testsupport::FakeHttp server;
  answer_pages(server, [](std::size_t, const std::string& path) -> HttpResult {
    const std::size_t limit = std::stoul(path.substr(path.find("limit=") + 6));
    if (limit > 5) {  // pages of more than 5 nodes are over the body cap
      return HttpError{TransportError::tooLarge, 63, "body over 16777216 bytes", {}};
    }
    return path.find("continue=") == std::string::npos ? page({"a"}, "n") : page({"b"}, "");
  });
  std::size_t items = 0;
  const auto pages =
      paged_client(server).list_pages("/api/v1/nodes", 500, [&items](const nlohmann::json& p) {
        items += p["items"].size();
        return true;
      });
  REQUIRE(pages);
  CHECK(*pages == 2);
  CHECK(items == 2);
  // The smaller limit is kept for the pages after.
  CHECK(server.paths() ==
        std::vector<std::string>{"/api/v1/nodes?limit=500", "/api/v1/nodes?limit=50",
                                 "/api/v1/nodes?limit=5", "/api/v1/nodes?limit=5&continue=n"});
}

TEST_CASE("core::ApiClient::list_pages: too large at a limit of 1, and other failures",
          "[apiclient]") {
  kp::testsupport::FakeHttp server;
  SECTION("one object over the cap") {
    answer_pages(server, [](std::size_t, const std::string&) -> HttpResult {
      return HttpError{TransportError::tooLarge, 63, "body over 16777216 bytes", {}};
    });
    const auto pages = paged_client(server).list_pages("/api/v1/secrets", 10,
                                                       [](const nlohmann::json&) { return true; });
    REQUIRE_FALSE(pages);
    CHECK(pages.error().transport == TransportError::tooLarge);
    CHECK(server.paths() ==
          std::vector<std::string>{"/api/v1/secrets?limit=10", "/api/v1/secrets?limit=1"});
  }
  SECTION("an error on the second page, after the first was read") {
    answer_pages(server, [](std::size_t n, const std::string&) -> HttpResult {
      if (n == 0) {
        return page({"a"}, "n");
      }
      HttpResponse gone;
      gone.status = 410;
      gone.body =
          R"({"kind":"Status","status":"Failure","reason":"Expired","message":"the continue token is too old"})";
      return gone;
    });
    std::size_t calls = 0;
    const auto pages =
        paged_client(server).list_pages("/api/v1/pods", 500, [&calls](const nlohmann::json&) {
          ++calls;
          return true;
        });
    REQUIRE_FALSE(pages);
    CHECK(calls == 1);
    CHECK(pages.error().status == 410);
    CHECK(pages.error().reason == "Expired");
  }
  SECTION("answers that are not lists end after one page") {
    answer_pages(server, [](std::size_t n, const std::string&) -> HttpResult {
      return ok(n == 0 ? R"({"metadata":{"continue":7}})" : "[1,2]");
    });
    std::size_t calls = 0;
    const auto pages =
        paged_client(server).list_pages("/api/v1/pods", 0, [&calls](const nlohmann::json&) {
          ++calls;
          return true;
        });
    REQUIRE(pages);
    CHECK(calls == 1);
    CHECK(server.paths() == std::vector<std::string>{"/api/v1/pods?limit=1"});  // 0: at least 1
  }
}

namespace {

// A watch answered with `chunks` through onBody, as libcurl hands them over.
ApiClient chunked_client(std::vector<std::string> chunks) {
  auto http = std::make_shared<kp::testsupport::FakeHttp>();
  http->hook([chunks = std::move(chunks)](const HttpRequest& request,
                                          std::size_t) -> std::optional<HttpResult> {
    for (const std::string& chunk : chunks) {
      if (!request.onBody(chunk)) {
        break;
      }
    }
    return kp::testsupport::http_answer(200);
  });
  ClientConfig config;
  config.server = "https://198.18.0.2:6443";
  return ApiClient(
      config, {}, [http] { return http->client(); }, std::chrono::milliseconds(1000));
}

}  // namespace

TEST_CASE("core::ApiClient::watch splits the stream into events wherever the chunks end",
          "[apiclient]") {
  const std::string stream =
      "{\"type\":\"ADDED\",\"object\":{\"n\":1}}\n\r\n"
      "{\"type\":\"MODIFIED\",\"object\":{\"n\":2}}\r\n"
      "\n{\"type\":\"DELETED\",\"object\":{\"n\":3}}\n";
  for (std::size_t size : {std::size_t{1}, std::size_t{2}, std::size_t{7}, stream.size()}) {
    std::vector<std::string> chunks;
    for (std::size_t at = 0; at < stream.size(); at += size) {
      chunks.push_back(stream.substr(at, size));
    }
    std::vector<std::string> seen;
    const auto watched = chunked_client(chunks).watch(
        "/api/v1/pods",
        [&seen](const nlohmann::json& event) {
          seen.push_back(event["type"].get<std::string>() +
                         std::to_string(event["object"]["n"].get<int>()));
          return true;
        },
        std::chrono::milliseconds(1000));
    INFO("chunks of " << size << " bytes");
    REQUIRE(watched);
    CHECK_FALSE(*watched);  // the server ended the watch
    CHECK(seen == std::vector<std::string>{"ADDED1", "MODIFIED2", "DELETED3"});
  }
}

TEST_CASE("core::ApiClient::watch stops early on request and on bad or endless lines",
          "[apiclient]") {
  SECTION("onEvent stops at the second event of one chunk") {
    int calls = 0;
    const auto watched =
        chunked_client({"{\"type\":\"A\"}\n{\"type\":\"B\"}\n{\"type\":\"C\"}\n"})
            .watch(
                "/api/v1/pods", [&calls](const nlohmann::json&) { return ++calls < 2; },
                std::chrono::milliseconds(1000));
    REQUIRE(watched);
    CHECK(*watched);
    CHECK(calls == 2);
  }
  SECTION("a line that is not an event ends the watch with an error") {
    const auto watched = chunked_client({"{\"type\":\"A\"}\n{\"ty", "pe\":1}x\n"})
                             .watch(
                                 "/api/v1/pods", [](const nlohmann::json&) { return true; },
                                 std::chrono::milliseconds(1000));
    REQUIRE_FALSE(watched);
    CHECK(watched.error().message == "WATCH /api/v1/pods: the answer is not a watch stream");
  }
  SECTION("one line longer than the body cap, in 64 KiB chunks") {
    const std::string chunk(64 * 1024, 'x');
    std::vector<std::string> chunks(16 * 1024 * 1024 / chunk.size() + 2, chunk);
    const auto watched = chunked_client(chunks).watch(
        "/api/v1/pods", [](const nlohmann::json&) { return true; },
        std::chrono::milliseconds(1000));
    REQUIRE_FALSE(watched);
    CHECK(watched.error().message == "WATCH /api/v1/pods: the answer is not a watch stream");
  }
}

// tests/differential: a user with username/password and an exec plugin made kubectl send basic
// auth while we ran the plugin and sent its token.
TEST_CASE("core::resolve_credentials runs the exec plugin only when nothing else is configured",
          "[apiclient]") {
  int runs = 0;
  const ExecRunner exec = [&](const ExecConfig&, const ClientConfig&,
                              std::chrono::milliseconds) -> Result<ExecCredential, ExecError> {
    ++runs;
    ExecCredential credential;
    credential.token = "exec-token";
    return credential;
  };
  ClientConfig c;
  ExecConfig plugin;
  plugin.command = "plugin";
  c.exec = plugin;
  SECTION("basic auth") {
    c.username = "alice";
    c.password = "pw";
    auto credentials = resolve_credentials(c, exec, std::chrono::milliseconds(1000));
    REQUIRE(credentials.has_value());
    CHECK(runs == 0);
    REQUIRE(credentials->headers.size() == 1);
    CHECK(credentials->headers[0].second == "Basic YWxpY2U6cHc=");
  }
  SECTION("a token") {
    c.token = "static";
    auto credentials = resolve_credentials(c, exec, std::chrono::milliseconds(1000));
    REQUIRE(credentials.has_value());
    CHECK(runs == 0);
    CHECK(credentials->headers[0].second == "Bearer static");
  }
  SECTION("nothing else: the plugin") {
    auto credentials = resolve_credentials(c, exec, std::chrono::milliseconds(1000));
    REQUIRE(credentials.has_value());
    CHECK(runs == 1);
    CHECK(credentials->headers[0].second == "Bearer exec-token");
  }
}
