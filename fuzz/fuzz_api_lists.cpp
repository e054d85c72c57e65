// libFuzzer target: what the API server answers to the plugins that list and watch objects,
// through core::ApiClient on a fake HttpClient (no network): the Secret pages of `certs secrets`
// (check_secrets, check_secret on every item), the pod pages of `netdebug cleanup`
// (list_debug_pods), the node pages of `netdebug run` (list_nodes), a Pod object (pod_state) and
// a debug pod's whole life (create, watch until running, exec, delete) in with_debug_pod.
//
// The input is a sequence of HTTP answers separated by lines "@@"; an answer may start with a
// line "HTTP <status>" (default 200). The fake serves them in order and repeats the last one, so
// a pager that never stops is a finding. A watch gets its answer in chunks.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "certs/secrets.h"
#include "core/kube/apiclient.h"
#include "core/kube/debugpod.h"
#include "fuzz/fuzz_util.h"
#include "netdebug/run.h"

namespace {

namespace core = kp::core;

// No listing in these plugins needs more pages than this from answers that repeat.
constexpr std::size_t kMaxRequests = 200;

struct Answer {
  long status = 200;
  std::string body;
};

std::vector<Answer> split_answers(std::string_view text) {
  std::vector<Answer> answers;
  for (;;) {
    const auto separator = text.find("\n@@\n");
    std::string_view part = text.substr(0, separator);
    Answer answer;
    if (part.starts_with("HTTP ") && part.size() >= 8) {
      long status = 0;
      for (const char c : part.substr(5, 3)) {
        status = status * 10 + (c >= '0' && c <= '9' ? c - '0' : 0);
      }
      answer.status = status;
      const auto newline = part.find('\n');
      part = newline == std::string_view::npos ? std::string_view() : part.substr(newline + 1);
    }
    answer.body = std::string(part);
    answers.push_back(std::move(answer));
    if (separator == std::string_view::npos || answers.size() >= 16) {
      return answers;
    }
    text = text.substr(separator + 4);
  }
}

struct Server {
  std::vector<Answer> answers;
  std::size_t next = 0;
  std::size_t requests = 0;
  std::size_t deletes = 0;
};

class FakeHttp final : public core::HttpClient {
 public:
  explicit FakeHttp(std::shared_ptr<Server> server) : server_(std::move(server)) {}

  core::HttpResult send(const core::HttpRequest& request) override {
    Server& s = *server_;
    ++s.requests;
    KP_FUZZ_ASSERT(s.requests <= kMaxRequests);  // a pager or watch loop that does not end
    s.deletes += request.method == "DELETE" ? 1 : 0;
    const Answer& answer = s.answers[std::min(s.next, s.answers.size() - 1)];
    ++s.next;
    core::HttpResponse response;
    response.status = answer.status;
    response.httpVersion = "HTTP/2";
    response.headers.emplace_back("Content-Type", "application/json");
    if (answer.status == 0) {
      return core::HttpError{core::TransportError::timeout, 28, "timed out", {}};
    }
    if (request.onBody) {
      const std::size_t chunk = 1 + answer.body.size() % 61;
      for (std::size_t at = 0; at < answer.body.size(); at += chunk) {
        if (!request.onBody(std::string_view(answer.body).substr(at, chunk))) {
          break;
        }
      }
      return response;
    }
    if (answer.body.size() > request.maxBodyBytes) {
      return core::HttpError{core::TransportError::tooLarge, 63, "too large", {}};
    }
    response.body = answer.body;
    return response;
  }

 private:
  std::shared_ptr<Server> server_;
};

struct Fixture {
  std::shared_ptr<Server> server = std::make_shared<Server>();
  core::ApiClient client;

  explicit Fixture(const std::vector<Answer>& answers)
      : client(
            config(), {}, [s = server] { return std::make_unique<FakeHttp>(s); },
            std::chrono::milliseconds(5000)) {
    server->answers = answers;
  }

  static core::ClientConfig config() {
    core::ClientConfig c;
    c.server = "https://198.18.0.2:6443";
    c.contextName = "fuzz";
    c.clusterName = "fuzz";
    return c;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<Answer> answers = split_answers(kp::fuzz::as_text(data, size));
  {
    Fixture f(answers);
    const core::ApiResult pod = f.client.get("/api/v1/namespaces/default/pods/p");
    if (pod) {
      (void)core::pod_state(*pod);
      kp::certs::check_secret(*pod, 1795000000, 30 * 86400);
    }
  }
  {
    Fixture f(answers);
    const auto pods = core::list_debug_pods(f.client, "", "netdebug");
    (void)pods;
  }
  {
    Fixture f(answers);
    const auto nodes = kp::netdebug::list_nodes(f.client);
    (void)nodes;
  }
  {
    Fixture f(answers);
    kp::certs::SecretsOptions options;
    options.common.now = [] { return std::int64_t{1795000000}; };
    options.namespaceName = "default";
    const auto report = kp::certs::check_secrets(f.client, options);
    (void)report;
  }
  // The debug pod's life only for inputs whose first answer is a creation (201): a pod that
  // keeps waiting costs a real 100 ms pause per watch, which would slow every other input down.
  if (answers.front().status == 201) {
    Fixture f(answers);
    core::DebugPodSpec spec;
    spec.tool = "netdebug";
    spec.runId = "0123456789ab";
    spec.image = "nicolaka/netshoot:v0.13";
    core::PodRegistry registry;
    core::DebugPodDeps deps;
    auto now = std::chrono::steady_clock::time_point();
    deps.clock = [&now] { return now += std::chrono::seconds(1); };
    deps.exec = [](const core::ApiClient&, const core::PodExecRequest&)
        -> core::Result<core::PodExecResult, core::ApiError> { return core::PodExecResult{}; };
    const core::DebugPodRun run = core::with_debug_pod(
        f.client, spec, std::chrono::seconds(6), registry, false,
        [](core::DebugPodRun& r) { r.exec.out = "ok"; }, deps);
    // Every debug pod created is deleted (or at least its deletion was asked for).
    KP_FUZZ_ASSERT(registry.peak() == 0 || f.server->deletes > 0);
    KP_FUZZ_ASSERT(run.started || !run.failure.empty());
  }
  return 0;
}
