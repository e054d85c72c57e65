#include "support_http.h"

#include <utility>

namespace kp::testsupport {

std::string path_of(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

core::HttpResponse http_answer(long status, std::string body) {
  core::HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

void FakeHttp::on(const std::string& path, core::HttpResult result) {
  on("", path, std::move(result));
}

void FakeHttp::on(const std::string& method, const std::string& path, core::HttpResult result) {
  std::lock_guard lock(mutex_);
  byPath_.insert_or_assign(method + " " + path, std::move(result));
}

void FakeHttp::hook(Hook hook) {
  std::lock_guard lock(mutex_);
  hooks_.push_back(std::move(hook));
}

std::vector<std::string> FakeHttp::paths() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> paths;
  for (const core::HttpRequest& request : sent) {
    paths.push_back(path_of(request.url));
  }
  return paths;
}

std::size_t FakeHttp::count(const std::string& method) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const core::HttpRequest& request : sent) {
    n += request.method == method ? 1 : 0;
  }
  return n;
}

core::HttpResult FakeHttp::send(const core::HttpRequest& request) {
  std::lock_guard lock(mutex_);
  const std::size_t number = sent.size();
  sent.push_back(request);
  if (maxRequests != 0 && sent.size() > maxRequests) {
    return core::HttpError{
        core::TransportError::other,
        0,
        "the test's fake gave up after " + std::to_string(maxRequests) + " requests",
        {}};
  }
  for (const Hook& hook : hooks_) {
    if (std::optional<core::HttpResult> answer = hook(request, number)) {
      return std::move(*answer);
    }
  }
  const std::string path = path_of(request.url);
  if (const auto it = byPath_.find(request.method + " " + path); it != byPath_.end()) {
    return it->second;
  }
  if (const auto it = byPath_.find(" " + path); it != byPath_.end()) {
    return it->second;
  }
  return fallback;
}

namespace {

class ForwardingHttp final : public core::HttpClient {
 public:
  explicit ForwardingHttp(FakeHttp& fake) : fake_(fake) {}
  core::HttpResult send(const core::HttpRequest& request) override { return fake_.send(request); }

 private:
  FakeHttp& fake_;
};

}  // namespace

std::unique_ptr<core::HttpClient> FakeHttp::client() {
  return std::make_unique<ForwardingHttp>(*this);
}

std::function<std::unique_ptr<core::HttpClient>()> FakeHttp::factory() {
  return [this] { return client(); };
}

}  // namespace kp::testsupport
