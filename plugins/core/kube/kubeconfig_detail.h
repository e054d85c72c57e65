// Internals shared by the kubeconfig files of core/kube (kubeconfig_parse.cpp,
// kubeconfig_resolve.cpp, incluster.cpp). Not a public header: only those files include it.
#pragma once

#include <string>
#include <string_view>

#include "core/util/result.h"
#include "core/util/text.h"

namespace kp::core::detail {

using core::quote;

// The namespace must be an RFC 1123 DNS label (../shared/K8S-CLIENT-SPEC.md 1.7); the error says
// so. Defined in kubeconfig_resolve.cpp.
Status validate_namespace(const std::string& name);

}  // namespace kp::core::detail
