// libFuzzer target: an exec credential plugin's stdout (core::parse_exec_credential) for both
// apiVersions client-go accepts, and the RFC 3339 reader of its expirationTimestamp.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/kube/exec_credential.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace core = kp::core;
  const std::string_view text = kp::fuzz::as_text(data, size);
  for (const std::string_view apiVersion :
       {"client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"}) {
    const auto credential = core::parse_exec_credential(text, apiVersion);
    if (credential) {
      KP_FUZZ_ASSERT(credential->apiVersion == apiVersion);
      KP_FUZZ_ASSERT(!credential->token.empty() || !credential->clientCertPem.empty());
    } else {
      KP_FUZZ_ASSERT(credential.error().kind == core::ExecFailure::badOutput);
      KP_FUZZ_ASSERT(!credential.error().message.empty());
    }
  }
  (void)core::parse_rfc3339(text.substr(0, 64));
  return 0;
}
