#include "core/kube/kube.h"

#include <charconv>
#include <set>
#include <utility>

#include "core/util/text.h"

namespace kp::core {
namespace {

using Json = nlohmann::json;

const Json* member(const Json& object, const char* key) {
  if (!object.is_object()) {
    return nullptr;
  }
  const auto found = object.find(key);
  if (found == object.end() || found->is_null()) {
    return nullptr;
  }
  return &*found;
}

std::string string_member(const Json& object, const char* key) {
  const Json* value = member(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

// "<message> (reason Forbidden, code 403)", the part of a Status a person needs.
Error status_error(const ApiStatus& status, std::string_view what) {
  std::string text = std::string(what) + ": the server answered with a Status: ";
  text += status.message.empty() ? status.status : status.message;
  std::string meta;
  if (!status.reason.empty()) {
    meta = "reason " + status.reason;
  }
  if (status.code != 0) {
    meta += (meta.empty() ? "" : ", ") + std::string("code ") + std::to_string(status.code);
  }
  if (!meta.empty()) {
    text += " (" + meta + ")";
  }
  return Error{text};
}

// Parses `body` as an object of `kind` (when it names one); a Status becomes an error.
Result<Json> parse_object(std::string_view body, std::string_view kind) {
  Result<Json> parsed = parse_json(body);
  if (!parsed) {
    return parsed.error().prefixed(kind);
  }
  if (!parsed->is_object()) {
    return Error{std::string(kind) + ": expected a JSON object"};
  }
  const std::string actualKind = string_member(*parsed, "kind");
  if (actualKind == "Status") {
    return status_error(*parse_status(body), kind);
  }
  if (!actualKind.empty() && actualKind != kind) {
    return Error{std::string(kind) + ": unexpected kind " + quote(actualKind)};
  }
  return parsed;
}

Result<std::vector<std::string>> string_list(const Json& object, const char* key,
                                             const std::string& path) {
  std::vector<std::string> out;
  const Json* value = member(object, key);
  if (value == nullptr) {
    return out;
  }
  if (!value->is_array()) {
    return Error{path + "." + key + ": expected a list of strings"};
  }
  for (const Json& item : *value) {
    if (!item.is_string()) {
      return Error{path + "." + key + ": expected a list of strings"};
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

// "[+]etcd ok" -> {etcd, ok, "ok"}; nullopt when the line is not a check line.
std::optional<HealthLine> parse_check_line(std::string_view line) {
  if (line.size() < 4 || line[0] != '[' || (line[1] != '+' && line[1] != '-') || line[2] != ']') {
    return std::nullopt;
  }
  const std::string_view rest = line.substr(3);
  const auto space = rest.find(' ');
  if (space == 0 || space == std::string_view::npos || space + 1 >= rest.size()) {
    return std::nullopt;
  }
  HealthLine check;
  check.name = std::string(rest.substr(0, space));
  check.detail = std::string(rest.substr(space + 1));
  check.ok = line[1] == '+';
  check.excluded = check.detail == "excluded: ok";
  return check;
}

// "readyz check passed" -> (true, true); "... check failed" -> (true, false).
std::optional<bool> summary_verdict(std::string_view line) {
  constexpr std::string_view kPassed = " check passed";
  constexpr std::string_view kFailed = " check failed";
  if (line.size() > kPassed.size() && line.ends_with(kPassed) &&
      line.find(' ') == line.size() - kPassed.size()) {
    return true;
  }
  if (line.size() > kFailed.size() && line.ends_with(kFailed) &&
      line.find(' ') == line.size() - kFailed.size()) {
    return false;
  }
  return std::nullopt;
}

}  // namespace

Result<HealthReport> parse_health(std::string_view body) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= body.size()) {
    const auto end = body.find('\n', start);
    std::string_view line = body.substr(start, end == std::string_view::npos ? end : end - start);
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    lines.push_back(line);
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  while (!lines.empty() && lines.back().find_first_not_of(" \t") == std::string_view::npos) {
    lines.pop_back();
  }
  if (lines.empty()) {
    return Error{"empty health response"};
  }
  HealthReport report;
  const std::string_view last = lines.back();
  if (lines.size() == 1 && last == "ok") {
    report.passed = true;
    report.summary = "ok";
    return report;
  }
  // /readyz/<name> reports its one check's real error this way (../shared/K8S-CLIENT-SPEC.md 5.5).
  if (lines.size() == 1 && last.starts_with("internal server error: ")) {
    report.summary = std::string(last);
    return report;
  }
  const std::optional<bool> verdict = summary_verdict(last);
  bool anyFailed = false;
  const std::size_t checkLines = verdict ? lines.size() - 1 : lines.size();
  for (std::size_t i = 0; i < checkLines; ++i) {
    const std::string_view line = lines[i];
    if (line.starts_with("warn: ")) {
      report.warnings.emplace_back(line.substr(6));
      continue;
    }
    std::optional<HealthLine> check = parse_check_line(line);
    // A cut-off last line ("[+]kms-") is truncation, not garbage.
    const bool cutOff = !verdict && i + 1 == checkLines &&
                        (line.starts_with("[+]") || line.starts_with("[-]") || line == "[" ||
                         line == "[+" || line == "[-");
    if (cutOff) {
      break;
    }
    if (!check) {
      return Error{"line " + std::to_string(i + 1) +
                   ": not a health check line: " + quote_bytes(line, 80, Lines::all)};
    }
    anyFailed = anyFailed || !check->ok;
    report.checks.push_back(std::move(*check));
  }
  if (!verdict) {
    // Every line was a check line; only the closing "<endpoint> check ..." line is missing.
    return Error{"health response is truncated: its last line is " +
                 quote_bytes(last, 80, Lines::all) +
                 ", not \"<endpoint> check passed\" or \"<endpoint> check failed\""};
  }
  report.summary = std::string(last);
  report.passed = *verdict && !anyFailed;
  return report;
}

std::optional<ApiStatus> parse_status(std::string_view body) {
  Result<Json> parsed = parse_json(body);
  if (!parsed || !parsed->is_object() || string_member(*parsed, "kind") != "Status") {
    return std::nullopt;
  }
  ApiStatus status;
  status.status = string_member(*parsed, "status");
  status.message = string_member(*parsed, "message");
  status.reason = string_member(*parsed, "reason");
  const Json* code = member(*parsed, "code");
  if (code != nullptr && code->is_number_integer()) {
    const auto value = code->get<std::int64_t>();
    status.code = value >= 0 && value <= 999 ? static_cast<int>(value) : 0;
  }
  const Json* details = member(*parsed, "details");
  if (details != nullptr) {
    status.details = *details;
  }
  return status;
}

std::string self_subject_review_request() {
  nlohmann::ordered_json request;
  request["apiVersion"] = "authentication.k8s.io/v1";
  request["kind"] = "SelfSubjectReview";
  return request.dump();
}

Result<UserInfo> parse_self_subject_review(std::string_view body) {
  Result<Json> parsed = parse_object(body, "SelfSubjectReview");
  if (!parsed) {
    return parsed.error();
  }
  const Json* status = member(*parsed, "status");
  const Json* userInfo = status != nullptr ? member(*status, "userInfo") : nullptr;
  if (userInfo == nullptr || !userInfo->is_object()) {
    return Error{"SelfSubjectReview: no status.userInfo in the response"};
  }
  const std::string path = "SelfSubjectReview: status.userInfo";
  UserInfo user;
  user.username = string_member(*userInfo, "username");
  user.uid = string_member(*userInfo, "uid");
  Result<std::vector<std::string>> groups = string_list(*userInfo, "groups", path);
  if (!groups) {
    return groups.error();
  }
  user.groups = std::move(groups).value();
  const Json* extra = member(*userInfo, "extra");
  if (extra != nullptr) {
    if (!extra->is_object()) {
      return Error{path + ".extra: expected a mapping"};
    }
    for (const auto& [key, values] : extra->items()) {
      Result<std::vector<std::string>> list = string_list(*extra, key.c_str(), path + ".extra");
      if (!list) {
        return list.error();
      }
      user.extra[key] = std::move(list).value();
    }
  }
  return user;
}

std::string self_subject_access_review_request(std::string_view verb, std::string_view resource,
                                               std::string_view ns, std::string_view group) {
  nlohmann::ordered_json attributes;
  if (!ns.empty()) {
    attributes["namespace"] = ns;
  }
  attributes["verb"] = verb;
  if (!group.empty()) {
    attributes["group"] = group;
  }
  const auto slash = resource.find('/');
  attributes["resource"] = resource.substr(0, slash);
  if (slash != std::string_view::npos) {
    attributes["subresource"] = resource.substr(slash + 1);
  }
  nlohmann::ordered_json request;
  request["apiVersion"] = "authorization.k8s.io/v1";
  request["kind"] = "SelfSubjectAccessReview";
  request["spec"]["resourceAttributes"] = std::move(attributes);
  return request.dump();
}

Result<AccessReview> parse_self_subject_access_review(std::string_view body) {
  Result<Json> parsed = parse_object(body, "SelfSubjectAccessReview");
  if (!parsed) {
    return parsed.error();
  }
  const Json* status = member(*parsed, "status");
  if (status == nullptr || !status->is_object()) {
    return Error{"SelfSubjectAccessReview: no status in the response"};
  }
  const Json* allowed = member(*status, "allowed");
  if (allowed == nullptr || !allowed->is_boolean()) {
    return Error{"SelfSubjectAccessReview: status.allowed is missing or not a boolean"};
  }
  AccessReview review;
  review.allowed = allowed->get<bool>();
  const Json* denied = member(*status, "denied");
  review.denied = denied != nullptr && denied->is_boolean() && denied->get<bool>();
  review.reason = string_member(*status, "reason");
  review.evaluationError = string_member(*status, "evaluationError");
  return review;
}

Result<std::vector<ApiEndpoint>> parse_kubernetes_endpoint_slices(std::string_view listBody) {
  Result<Json> parsed = parse_json(listBody);
  if (!parsed) {
    return parsed.error().prefixed("EndpointSliceList");
  }
  if (!parsed->is_object()) {
    return Error{"EndpointSliceList: expected a JSON object"};
  }
  const std::string kind = string_member(*parsed, "kind");
  if (kind == "Status") {
    return status_error(*parse_status(listBody), "EndpointSliceList");
  }
  std::vector<Json> slices;
  if (kind == "EndpointSlice") {
    slices.push_back(*parsed);
  } else {
    const Json* items = member(*parsed, "items");
    if (items == nullptr && kind != "EndpointSliceList") {
      return Error{"EndpointSliceList: no items in the response"};
    }
    if (items != nullptr && !items->is_array()) {
      return Error{"EndpointSliceList: items: expected a list"};
    }
    if (items != nullptr) {
      slices.assign(items->begin(), items->end());
    }
  }
  std::vector<ApiEndpoint> endpoints;
  std::set<std::pair<std::string, int>> seen;
  for (std::size_t i = 0; i < slices.size(); ++i) {
    const Json& slice = slices[i];
    const std::string path = "EndpointSliceList: items[" + std::to_string(i) + "]";
    if (!slice.is_object()) {
      return Error{path + ": expected an object"};
    }
    const Json* metadata = member(slice, "metadata");
    const Json* labels = metadata != nullptr ? member(*metadata, "labels") : nullptr;
    if (labels != nullptr) {
      const Json* service = member(*labels, "kubernetes.io/service-name");
      if (service != nullptr && service->is_string() &&
          service->get<std::string>() != "kubernetes") {
        continue;
      }
    }
    const Json* ports = member(slice, "ports");
    if (ports == nullptr || !ports->is_array() || ports->empty()) {
      return Error{path + ": no ports"};
    }
    const Json* chosen = nullptr;
    for (const Json& port : *ports) {
      if (string_member(port, "name") == "https") {
        chosen = &port;
        break;
      }
    }
    if (chosen == nullptr && ports->size() == 1) {
      chosen = &ports->front();
    }
    if (chosen == nullptr) {
      return Error{path + ": no port named \"https\""};
    }
    const Json* portNumber = member(*chosen, "port");
    if (portNumber == nullptr || !portNumber->is_number_integer() ||
        portNumber->get<std::int64_t>() < 1 || portNumber->get<std::int64_t>() > 65535) {
      return Error{path + ": the https port has no valid port number"};
    }
    const int port = static_cast<int>(portNumber->get<std::int64_t>());
    const Json* list = member(slice, "endpoints");
    if (list == nullptr) {
      continue;  // no endpoints at all is valid: the service has no backend right now
    }
    if (!list->is_array()) {
      return Error{path + ".endpoints: expected a list"};
    }
    for (std::size_t j = 0; j < list->size(); ++j) {
      const Json& endpoint = (*list)[j];
      const std::string endpointPath = path + ".endpoints[" + std::to_string(j) + "]";
      Result<std::vector<std::string>> addresses = string_list(endpoint, "addresses", endpointPath);
      if (!addresses) {
        return addresses.error();
      }
      bool ready = true;
      const Json* conditions = member(endpoint, "conditions");
      const Json* readyValue = conditions != nullptr ? member(*conditions, "ready") : nullptr;
      if (readyValue != nullptr && readyValue->is_boolean()) {
        ready = readyValue->get<bool>();
      }
      for (std::string& address : *addresses) {
        if (seen.emplace(address, port).second) {
          endpoints.push_back(ApiEndpoint{std::move(address), port, ready});
        }
      }
    }
  }
  return endpoints;
}

Result<VersionInfo> parse_version(std::string_view body) {
  Result<Json> parsed = parse_json(body);
  if (!parsed) {
    return parsed.error().prefixed("version");
  }
  if (!parsed->is_object()) {
    return Error{"version: expected a JSON object"};
  }
  if (string_member(*parsed, "kind") == "Status") {
    return status_error(*parse_status(body), "version");
  }
  VersionInfo info;
  info.gitVersion = string_member(*parsed, "gitVersion");
  if (info.gitVersion.empty()) {
    return Error{"version: no gitVersion in the response"};
  }
  info.major = string_member(*parsed, "major");
  info.minor = string_member(*parsed, "minor");
  info.platform = string_member(*parsed, "platform");
  info.goVersion = string_member(*parsed, "goVersion");
  return info;
}

std::optional<std::pair<int, int>> major_minor(std::string_view version) {
  if (version.starts_with('v')) {
    version.remove_prefix(1);
  }
  int major = 0;
  int minor = 0;
  const char* end = version.data() + version.size();
  auto [afterMajor, majorError] = std::from_chars(version.data(), end, major);
  if (majorError != std::errc() || afterMajor == end || *afterMajor != '.') {
    return std::nullopt;
  }
  auto [afterMinor, minorError] = std::from_chars(afterMajor + 1, end, minor);
  if (minorError != std::errc() || afterMinor == afterMajor + 1) {
    return std::nullopt;
  }
  return std::pair{major, minor};
}

std::optional<int> minor_skew(std::string_view clientGitVersion,
                              std::string_view serverGitVersion) {
  const auto client = major_minor(clientGitVersion);
  const auto server = major_minor(serverGitVersion);
  if (!client || !server || client->first != server->first) {
    return std::nullopt;
  }
  return client->second - server->second;
}

}  // namespace kp::core
