// libFuzzer target: the hidden `__complete` entry point (core/complete.cpp) through the real
// main() of each plugin, so every option table and subcommand is completed. The value completers
// that would read a kubeconfig or ask the API server are fakes (set_completion_sources_override),
// and KUBECONFIG/HOME point nowhere, so a path that escaped completion mode could not reach a
// cluster either.
//
// Input: the first byte picks the plugin and __complete or __completeNoDesc; the rest is split at
// newlines into the words typed (the last one is the word being completed).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "apicheck/apicheck.h"
#include "certs/certs.h"
#include "core/cli/complete.h"
#include "fuzz/fuzz_util.h"
#include "netdebug/netdebug.h"

namespace {

namespace core = kp::core;

core::CompletionSources fake_sources() {
  core::CompletionSources sources;
  sources.kubeconfig = [](const core::LoadingRules&) -> core::Result<core::Kubeconfig> {
    core::Kubeconfig config;
    config.contexts["kind-lab"] = {};
    config.contexts["prod"] = {};
    config.clusters["lab"] = {};
    config.users["admin"] = {};
    return config;
  };
  sources.apiNames = [](const core::LoadingRules&, const core::ConfigOverrides& overrides,
                        std::string_view resource) -> core::Result<std::vector<std::string>> {
    if (overrides.namespaceName == "fail") {
      return core::Error{"connection refused"};
    }
    if (resource == "nodes") {
      return std::vector<std::string>{"kwok-node-0", "kwok-node-1"};
    }
    return std::vector<std::string>{"default", "kube-system"};
  };
  return sources;
}

// Restores std::cout and std::cerr.
struct Capture {
  std::ostringstream out, err;
  std::streambuf* oldOut = std::cout.rdbuf(out.rdbuf());
  std::streambuf* oldErr = std::cerr.rdbuf(err.rdbuf());
  ~Capture() {
    std::cout.rdbuf(oldOut);
    std::cerr.rdbuf(oldErr);
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("KUBECONFIG", "/nonexistent/kp-fuzz/config", 1);
  setenv("HOME", "/nonexistent/kp-fuzz", 1);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBECTL_PATH");
  core::set_completion_sources_override(fake_sources);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  static constexpr const char* kTools[] = {"kubectl-apicheck", "kubectl-certs", "kubectl-netdebug"};
  static int (*const kMains[])(int, char**) = {kp::apicheck::main, kp::certs::main,
                                               kp::netdebug::main};
  const int tool = data[0] % 3;
  std::vector<std::string> words{kTools[tool],
                                 (data[0] & 0x80) ? "__completeNoDesc" : "__complete"};
  const std::string_view text = kp::fuzz::as_text(data + 1, size - 1);
  for (std::size_t start = 0; words.size() < 34;) {
    const auto newline = text.find('\n', start);
    // NUL never occurs in an argument: argv strings end there.
    std::string word(
        text.substr(start, newline == std::string_view::npos ? newline : newline - start));
    word = word.substr(0, word.find('\0'));
    words.push_back(std::move(word));
    if (newline == std::string_view::npos) {
      break;
    }
    start = newline + 1;
  }
  std::vector<char*> argv;
  for (std::string& word : words) {
    argv.push_back(word.data());
  }
  argv.push_back(nullptr);
  int code = 0;
  std::string out;
  {
    const Capture capture;
    code = kMains[tool](static_cast<int>(words.size()), argv.data());
    out = capture.out.str();
  }
  KP_FUZZ_ASSERT(code == 0);
  KP_FUZZ_ASSERT(core::completion_request() == nullptr);
  // cobra's answer: candidate lines, then ":<directive>" as the last line.
  KP_FUZZ_ASSERT(out.ends_with('\n'));
  const auto last = out.rfind('\n', out.size() - 2);
  const std::string directive = out.substr(last == std::string::npos ? 0 : last + 1);
  KP_FUZZ_ASSERT(directive.size() >= 3 && directive[0] == ':');
  for (std::size_t i = 1; i + 1 < directive.size(); ++i) {
    KP_FUZZ_ASSERT(directive[i] >= '0' && directive[i] <= '9');
  }
  return 0;
}
