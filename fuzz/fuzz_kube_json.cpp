// libFuzzer target: the parsers of the API server's JSON answers in core/kube.h (Status,
// SelfSubjectReview, SelfSubjectAccessReview, EndpointSlices, /version, version skew), the
// bounded JSON reader under them and the JWT claims reader (core/jwt.h: base64url around JSON).
// The same bytes go to every parser: each must refuse what is not its object without throwing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/kube/jwt.h"
#include "core/kube/kube.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace core = kp::core;
  const std::string_view body = kp::fuzz::as_text(data, size);
  const auto shallow = core::parse_json(body, 4);
  const auto json = core::parse_json(body);
  KP_FUZZ_ASSERT(!shallow || json);  // what parses 4 deep parses 100 deep
  if (json) {
    (void)json->dump();
  }
  const auto status = core::parse_status(body);
  if (status) {
    (void)status->details.dump();
  }
  const auto user = core::parse_self_subject_review(body);
  const auto access = core::parse_self_subject_access_review(body);
  const auto endpoints = core::parse_kubernetes_endpoint_slices(body);
  if (endpoints) {
    for (const core::ApiEndpoint& endpoint : *endpoints) {
      KP_FUZZ_ASSERT(endpoint.port >= 0 && endpoint.port <= 65535);
    }
  }
  const auto version = core::parse_version(body);
  if (version) {
    (void)core::minor_skew("v1.37.0", version->gitVersion);
    (void)core::minor_skew(version->gitVersion, "v1.37.0");
  }
  // The skew parser on raw text: the first half against the second.
  const std::string_view a = body.substr(0, body.size() / 2);
  const std::string_view b = body.substr(body.size() / 2);
  if (const auto skew = core::minor_skew(a, b)) {
    (void)core::skew_supported(*skew);
  }
  if (const auto claims = core::decode_jwt(body)) {
    (void)core::jwt_subject(*claims);
    KP_FUZZ_ASSERT(body.find('.') != std::string_view::npos);
  }
  return 0;
}
