// libFuzzer target: a kubeconfig file (core::parse_kubeconfig), merged with itself as KUBECONFIG
// would, then resolved as a plugin resolves it (core::resolve_client_config) with and without
// flag overrides. The file "lives" in a directory that does not exist, so relative CA, cert, key
// and token paths read nothing; the exec plugin is never run here.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "core/kube/kubeconfig.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace core = kp::core;
  const std::string_view text = kp::fuzz::as_text(data, size);
  const std::filesystem::path path = "/nonexistent/kp-fuzz/.kube/config";
  const auto parsed = core::parse_kubeconfig(text, path);
  if (!parsed) {
    // Errors name the file.
    KP_FUZZ_ASSERT(parsed.error().message.find(path.string()) != std::string::npos);
    return 0;
  }
  const core::Kubeconfig merged = core::merge_kubeconfigs({*parsed, *parsed});
  KP_FUZZ_ASSERT(merged.contexts.size() == parsed->contexts.size());
  (void)core::resolve_client_config(*parsed, {});
  core::ConfigOverrides overrides;
  overrides.namespaceName = "kp-fuzz";
  overrides.insecureSkipTlsVerify = true;
  overrides.impersonate = "system:serviceaccount:kp-fuzz:default";
  overrides.impersonateGroups = {"system:authenticated"};
  for (const auto& [name, context] : parsed->contexts) {
    overrides.context = name;
    (void)core::resolve_client_config(*parsed, overrides);
    break;
  }
  for (const auto& [name, cluster] : parsed->clusters) {
    core::ConfigOverrides byCluster;
    byCluster.cluster = name;
    byCluster.server = "198.18.0.2:6443";
    (void)core::resolve_client_config(*parsed, byCluster);
    break;
  }
  return 0;
}
