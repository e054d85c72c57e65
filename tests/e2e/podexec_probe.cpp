// kp-podexec-probe: core::exec_in_pod from the command line, for e2e_podexec.py.
//
//   kp-podexec-probe [--kubeconfig PATH] [-n NS] [-c CONTAINER] [--stdin] [--timeout MS]
//                    [--max-output BYTES] POD -- CMD...
//
// Prints one JSON object: {"out", "err", "exitCode", "statusMessage", "elapsedMs"} (exit 0), or
// {"error": {"status", "reason", "transport", "message"}, "elapsedMs"} (exit 1); bad usage exits
// 2. --stdin sends this process's whole stdin to the command.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/kube/apiclient.h"
#include "core/kube/podexec.h"

namespace {

int usage(const std::string& problem) {
  std::cerr << "kp-podexec-probe: " << problem
            << "\nusage: kp-podexec-probe [--kubeconfig PATH] [-n NS] [-c CONTAINER] [--stdin] "
               "[--timeout MS] [--max-output BYTES] POD -- CMD...\n";
  return 2;
}

const char* transport_name(kp::core::TransportError kind) {
  using kp::core::TransportError;
  switch (kind) {
    case TransportError::badUrl:
      return "badUrl";
    case TransportError::proxy:
      return "proxy";
    case TransportError::dns:
      return "dns";
    case TransportError::connect:
      return "connect";
    case TransportError::timeout:
      return "timeout";
    case TransportError::tlsVerify:
      return "tlsVerify";
    case TransportError::tlsCa:
      return "tlsCa";
    case TransportError::tlsHandshake:
      return "tlsHandshake";
    case TransportError::tooLarge:
      return "tooLarge";
    case TransportError::cancelled:
      return "cancelled";
    case TransportError::other:
      return "other";
  }
  return "other";
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig;
  kp::core::ConfigOverrides overrides;
  kp::core::PodExecRequest request;
  bool readStdin = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::size_t i = 0;
  try {
    for (; i < args.size(); ++i) {
      const std::string& arg = args[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) {
          throw std::runtime_error(arg + " needs a value");
        }
        return args[++i];
      };
      if (arg == "--") {
        ++i;
        break;
      }
      if (arg == "--kubeconfig") {
        kubeconfig = value();
      } else if (arg == "-n" || arg == "--namespace") {
        overrides.namespaceName = value();
      } else if (arg == "-c" || arg == "--container") {
        request.container = value();
      } else if (arg == "--stdin") {
        readStdin = true;
      } else if (arg == "--timeout") {
        request.timeout = std::chrono::milliseconds(std::stol(value()));
      } else if (arg == "--max-output") {
        request.maxOutputBytes = std::stoul(value());
      } else if (!arg.empty() && arg[0] == '-') {
        return usage("unknown flag " + arg);
      } else if (request.pod.empty()) {
        request.pod = arg;
      } else {
        return usage("unexpected argument " + arg);
      }
    }
  } catch (const std::exception& e) {
    return usage(e.what());
  }
  request.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (request.pod.empty() || request.command.empty()) {
    return usage("a pod and a command are needed");
  }
  if (readStdin) {
    request.stdinData.assign(std::istreambuf_iterator<char>(std::cin),
                             std::istreambuf_iterator<char>());
  }
  kp::core::Result<kp::core::ApiClient> client = kp::core::connect(
      kp::core::LoadingRules::from_environment(kubeconfig), overrides, request.timeout);
  if (!client) {
    std::cerr << "kp-podexec-probe: " << client.error().message << "\n";
    return 2;
  }
  request.namespaceName = client->config().namespaceName.empty() ? std::string("default")
                                                                 : client->config().namespaceName;
  const auto start = std::chrono::steady_clock::now();
  auto result = kp::core::exec_in_pod(*client, request);
  const double elapsedMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json out;
  out["elapsedMs"] = elapsedMs;
  out["requests"] = client->requests();
  if (!result) {
    const kp::core::ApiError& e = result.error();
    out["error"] = {{"status", e.status},
                    {"reason", e.reason},
                    {"transport", transport_name(e.transport)},
                    {"message", e.message}};
  } else {
    out["out"] = result->out;
    out["err"] = result->err;
    out["exitCode"] = result->exitCode;
    out["statusMessage"] = result->statusMessage;
  }
  // Binary output is not valid UTF-8: replace instead of throwing.
  std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return result ? 0 : 1;
}
