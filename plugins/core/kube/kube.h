// Parsers for what the API server answers (../shared/K8S-CLIENT-SPEC.md sections 5 and 6): health
// bodies, Status objects, auth reviews, the kubernetes EndpointSlices and /version. Each takes
// the body as received and tolerates anything (HTML from a proxy, truncation, megabytes of
// junk): the error says what was wrong; nothing throws.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/json.h"
#include "core/util/result.h"

namespace kp::core {

// One `[+]name ok` / `[+]name excluded: ok` / `[-]name failed: reason withheld` line.
struct HealthLine {
  std::string name;
  bool ok = false;
  bool excluded = false;
  std::string detail;  // what followed the name: "ok", "excluded: ok", "failed: reason withheld"
};

struct HealthReport {
  bool passed = false;
  std::vector<HealthLine> checks;
  std::string summary;                // "readyz check passed", "ok", "internal server error: ..."
  std::vector<std::string> warnings;  // "warn: ..." lines without the "warn: " prefix
};

// A /livez, /readyz or /healthz body (../shared/K8S-CLIENT-SPEC.md 5.2-5.5): plain "ok"; the
// ?verbose form ending in
// "<endpoint> check passed|failed"; or a single check's "internal server error: <err>".
// Anything else (an HTML page, a truncated body) is an error naming the line.
Result<HealthReport> parse_health(std::string_view body);

// A metav1.Status (../shared/K8S-CLIENT-SPEC.md 5.8).
struct ApiStatus {
  std::string status;  // "Failure" or "Success"
  std::string message;
  std::string reason;  // "Unauthorized", "Forbidden", ...
  int code = 0;
  nlohmann::json details;  // null when absent
};

// Only for a JSON object with kind "Status"; anything else is nullopt.
std::optional<ApiStatus> parse_status(std::string_view body);

// status.userInfo of a SelfSubjectReview (../shared/K8S-CLIENT-SPEC.md 6.1).
struct UserInfo {
  std::string username;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
};

// The POST body for /apis/authentication.k8s.io/v1/selfsubjectreviews.
std::string self_subject_review_request();

// Reads status.userInfo; a Status body (403, 404 on servers before 1.28) becomes an error with
// its message.
Result<UserInfo> parse_self_subject_review(std::string_view body);

// status of a SelfSubjectAccessReview (../shared/K8S-CLIENT-SPEC.md 6.2).
struct AccessReview {
  bool allowed = false;
  bool denied = false;
  std::string reason;
  std::string evaluationError;
};

// The POST body for /apis/authorization.k8s.io/v1/selfsubjectaccessreviews with
// spec.resourceAttributes; "pods/log" is split into resource and subresource; an empty
// namespace or group is left out.
std::string self_subject_access_review_request(std::string_view verb, std::string_view resource,
                                               std::string_view ns, std::string_view group = "");

Result<AccessReview> parse_self_subject_access_review(std::string_view body);

// One API-server endpoint from the EndpointSlices of default/kubernetes.
struct ApiEndpoint {
  std::string address;
  int port = 0;
  bool ready = true;  // conditions.ready; absent means ready
};

// An EndpointSliceList (or one EndpointSlice) of the kubernetes service: every address with the
// port named "https" (or the slice's only port), duplicates across slices dropped. Slices
// labelled for another service are skipped. An empty list is an empty vector, not an error.
Result<std::vector<ApiEndpoint>> parse_kubernetes_endpoint_slices(std::string_view listBody);

// /version (../shared/K8S-CLIENT-SPEC.md 5.7).
struct VersionInfo {
  std::string gitVersion;
  std::string major;
  std::string minor;
  std::string platform;
  std::string goVersion;
};

// Requires a string gitVersion; the other fields are optional.
Result<VersionInfo> parse_version(std::string_view body);

// "v1.37.2" -> {1, 37}; "1.30+" style minors ("30+") are accepted by the digit scan.
std::optional<std::pair<int, int>> major_minor(std::string_view version);

// Client minor minus server minor ("v1.37.2" vs "v1.34.0" -> 3); nullopt when either is not a
// "vMAJOR.MINOR..." version or the majors differ. Accepts suffixes like "-eks-1" and "+k3s1".
std::optional<int> minor_skew(std::string_view clientGitVersion, std::string_view serverGitVersion);

// The version skew policy: kubectl is supported within one minor version of kube-apiserver.
inline bool skew_supported(int skew) {
  return skew >= -1 && skew <= 1;
}

}  // namespace kp::core
