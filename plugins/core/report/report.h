// The check model shared by every plugin and its renderers (../shared/DESIGN.md "The check model").
// The JSON shape is a stable contract: change it only together with schemaVersion.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/result.h"

namespace kp::core {

enum class CheckStatus { ok, warn, fail, skip };

// In the order a request meets them; failed_layer() relies on this order.
enum class Layer { config, proxy, dns, tcp, tls, auth, health, ha, metrics, cert, incluster, node };

std::string_view to_string(CheckStatus status);
std::string_view to_string(Layer layer);

// One observation: what was seen (message), what to do (hint, required for warn and fail).
struct Check {
  std::string id;  // e.g. "tls.verify"
  Layer layer = Layer::config;
  std::string endpoint;  // host:port, empty when not tied to one address
  CheckStatus status = CheckStatus::skip;
  std::string message;
  std::string hint;
  double durationMs = 0;
  nlohmann::ordered_json details;  // null: none
};

// The one way a check is built: its id and layer, the verdict, and where it applies.
Check make_check(std::string id, Layer layer, CheckStatus status = CheckStatus::skip,
                 std::string message = {}, std::string hint = {}, std::string endpoint = {});

// What was checked, as the user would name it.
struct Target {
  std::string context;
  std::string cluster;
  std::string server;
};

// One endpoint's request, phase by phase (a waterfall): each phase's own duration.
struct EndpointTiming {
  std::string endpoint;  // host:port as dialled
  double dnsMs = 0;
  double connectMs = 0;
  double tlsMs = 0;
  double firstByteMs = 0;
  double totalMs = 0;
};

struct Report {
  int schemaVersion = 1;
  std::string tool;  // "apicheck", without the kubectl- prefix
  Target target;
  std::vector<Check> checks;
  std::vector<EndpointTiming> timings;  // rendered as "timings" (JSON) and a waterfall (text)
};

// The first failing check of the failed layer: the one whose hint is the fix; null if none.
const Check* first_failure(const Report& report);

enum class OutputFormat { text, json, yaml };

// --fail-on: which status makes the exit code 1.
enum class FailOn { fail, warn };

// Parses -o/--output; the error lists the accepted values.
Result<OutputFormat> parse_output_format(std::string_view text);

// Parses --fail-on.
Result<FailOn> parse_fail_on(std::string_view text);

// "ok", "warn", "fail" or "skip" (what to_string() writes); nullopt for anything else.
std::optional<CheckStatus> parse_check_status(std::string_view text);

// The worst status among the checks (fail > warn > ok > skip); ok for an empty report.
CheckStatus verdict(const Report& report);

// The earliest layer, in request order, holding a failed check; nullopt when nothing failed.
std::optional<Layer> failed_layer(const Report& report);

// 0 when nothing failed (warnings allowed unless fail-on=warn), 1 otherwise (../shared/DESIGN.md).
int exit_code(const Report& report, FailOn failOn);

// The report as the ../shared/DESIGN.md JSON object, keys in contract order.
nlohmann::ordered_json to_json(const Report& report);

// One line per check plus a verdict line, for people; colour only when asked.
void render_text(std::ostream& out, const Report& report, bool colour);

// to_json(), pretty-printed.
void render_json(std::ostream& out, const Report& report);

// The same object as render_json, as YAML.
void render_yaml(std::ostream& out, const Report& report);

// Renders in the format chosen with -o; `colour` only affects text.
void render(std::ostream& out, const Report& report, OutputFormat format, bool colour);

// True when `fd` is a terminal and NO_COLOR is unset or empty (https://no-color.org).
bool colour_enabled(int fd);

}  // namespace kp::core
