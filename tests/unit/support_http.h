// Test support: one scriptable fake kp::core::HttpClient for every test that stands in for an
// API server without a socket. Answers are scripted by method and path (the URL after
// scheme://host:port, query included), every request is recorded, and hooks give a test
// behaviour of its own (pages by continue token, a stream through onBody, a failure).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/net/http.h"

namespace kp::testsupport {

// "/api/v1/pods?limit=1" of "https://host:6443/api/v1/pods?limit=1".
std::string path_of(const std::string& url);

// A response with `status` and `body`.
core::HttpResponse http_answer(long status, std::string body = {});

// The script and the record, shared by every client it hands out (an ApiClient makes one client
// per thread). Requests are answered one at a time; it must outlive its clients.
class FakeHttp {
 public:
  // Sees each request and its 0-based number before the script; an answer ends the lookup,
  // nullopt goes on to the next hook and then to the scripted answers.
  using Hook =
      std::function<std::optional<core::HttpResult>(const core::HttpRequest&, std::size_t)>;

  // The answer to `path` for any method, or only for `method`; a later call replaces it.
  void on(const std::string& path, core::HttpResult result);
  void on(const std::string& method, const std::string& path, core::HttpResult result);
  void hook(Hook hook);
  // Past this many requests every answer is a transport error, so a client that never stops
  // fails its test instead of hanging it (0: no limit).
  std::size_t maxRequests = 0;
  // The answer when neither a hook nor the script has one.
  core::HttpResult fallback = http_answer(404);

  // Every request so far, in order.
  std::vector<core::HttpRequest> sent;
  std::vector<std::string> paths() const;
  std::size_t count(const std::string& method) const;

  core::HttpResult send(const core::HttpRequest& request);
  // A client that forwards to this fake.
  std::unique_ptr<core::HttpClient> client();
  // For ApiClient and apicheck::Options::deps.http.
  std::function<std::unique_ptr<core::HttpClient>()> factory();

 private:
  mutable std::recursive_mutex mutex_;
  std::vector<Hook> hooks_;
  std::map<std::string, core::HttpResult> byPath_;  // "METHOD path", or " path" for any method
};

}  // namespace kp::testsupport
