#include "core/report/report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#ifdef _WIN32
#include <io.h>
#include <windows.h>
#endif

#include <yaml-cpp/yaml.h>

#include "core/report/report_detail.h"
#include "core/util/host.h"
#include "core/util/text.h"

namespace kp::core {

Check make_check(std::string id, Layer layer, CheckStatus status, std::string message,
                 std::string hint, std::string endpoint) {
  Check c;
  c.id = std::move(id);
  c.layer = layer;
  c.status = status;
  c.message = std::move(message);
  c.hint = std::move(hint);
  c.endpoint = std::move(endpoint);
  return c;
}
namespace {

constexpr NameTable<CheckStatus> kStatusNames[] = {{"ok", CheckStatus::ok},
                                                   {"warn", CheckStatus::warn},
                                                   {"fail", CheckStatus::fail},
                                                   {"skip", CheckStatus::skip}};
constexpr NameTable<Layer> kLayerNames[] = {{"config", Layer::config},
                                            {"proxy", Layer::proxy},
                                            {"dns", Layer::dns},
                                            {"tcp", Layer::tcp},
                                            {"tls", Layer::tls},
                                            {"auth", Layer::auth},
                                            {"health", Layer::health},
                                            {"ha", Layer::ha},
                                            {"metrics", Layer::metrics},
                                            {"cert", Layer::cert},
                                            {"incluster", Layer::incluster},
                                            {"node", Layer::node}};

std::string_view colour_code(CheckStatus status) {
  constexpr NameTable<CheckStatus> kColours[] = {{"\033[32m", CheckStatus::ok},
                                                 {"\033[33m", CheckStatus::warn},
                                                 {"\033[31m", CheckStatus::fail},
                                                 {"\033[2m", CheckStatus::skip}};
  return name_of(kColours, status, "");
}

constexpr std::string_view kColourReset = "\033[0m";

// Durations are measured in microseconds; a tenth of a millisecond is all a reader can use.
double round_ms(double ms) {
  return std::round(ms * 10.0) / 10.0;
}

// Plain YAML scalars that a YAML reader would turn into a bool, null, number or (YAML 1.1)
// timestamp must be quoted so `-o yaml` reads back as the same object as `-o json`.
bool needs_quotes(const std::string& text) {
  if (text.empty()) {
    return true;
  }
  // Numbers, dates, times and sexagesimals all start like this; quoting a few more is harmless.
  const char first = text.front();
  if ((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.') {
    return true;
  }
  static const char* const kReserved[] = {"true", "false", "yes",  "no", "on",   "off",
                                          "y",    "n",     "null", "~",  ".inf", ".nan"};
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : kReserved) {
    if (lowered == word) {
      return true;
    }
  }
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();  // the whole text reads as a number
}

void emit_yaml(YAML::Emitter& out, const nlohmann::ordered_json& value) {
  switch (value.type()) {
    case nlohmann::ordered_json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key << key << YAML::Value;
        emit_yaml(out, item);
      }
      out << YAML::EndMap;
      return;
    case nlohmann::ordered_json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) {
        emit_yaml(out, item);
      }
      out << YAML::EndSeq;
      return;
    case nlohmann::ordered_json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (needs_quotes(text)) {
        out << YAML::DoubleQuoted;
      }
      out << text;
      return;
    }
    case nlohmann::ordered_json::value_t::boolean:
      out << value.get<bool>();
      return;
    case nlohmann::ordered_json::value_t::null:
    case nlohmann::ordered_json::value_t::discarded:
      out << YAML::Null;
      return;
    default:
      // Numbers: nlohmann prints the shortest form that round-trips ("2.1", not 2.10000001).
      out << value.dump();
      return;
  }
}

}  // namespace

std::string_view to_string(CheckStatus status) {
  return name_of(kStatusNames, status, "fail");
}

std::string_view to_string(Layer layer) {
  return name_of(kLayerNames, layer, "config");
}

Result<OutputFormat> parse_output_format(std::string_view text) {
  constexpr NameTable<OutputFormat> kFormats[] = {
      {"text", OutputFormat::text}, {"json", OutputFormat::json}, {"yaml", OutputFormat::yaml}};
  if (std::optional<OutputFormat> format = value_named(kFormats, text)) {
    return *format;
  }
  return Error{"--output: unsupported format \"" + std::string(text) +
               "\", must be text, json or yaml"};
}

std::optional<CheckStatus> parse_check_status(std::string_view text) {
  return value_named(kStatusNames, text);
}

Result<FailOn> parse_fail_on(std::string_view text) {
  constexpr NameTable<FailOn> kFailOn[] = {{"fail", FailOn::fail}, {"warn", FailOn::warn}};
  if (std::optional<FailOn> failOn = value_named(kFailOn, text)) {
    return *failOn;
  }
  return Error{"--fail-on: unsupported value \"" + std::string(text) + "\", must be fail or warn"};
}

CheckStatus verdict(const Report& report) {
  CheckStatus worst = CheckStatus::ok;
  if (!report.checks.empty()) {
    worst = report.checks.front().status;
  }
  for (const Check& check : report.checks) {
    if (detail::severity(check.status) > detail::severity(worst)) {
      worst = check.status;
    }
  }
  return worst;
}

std::optional<Layer> failed_layer(const Report& report) {
  std::optional<Layer> earliest;
  for (const Check& check : report.checks) {
    if (check.status != CheckStatus::fail) {
      continue;
    }
    if (!earliest || check.layer < *earliest) {
      earliest = check.layer;
    }
  }
  return earliest;
}

int exit_code(const Report& report, FailOn failOn) {
  const CheckStatus worst = verdict(report);
  if (worst == CheckStatus::fail) {
    return 1;
  }
  if (worst == CheckStatus::warn && failOn == FailOn::warn) {
    return 1;
  }
  return 0;
}

namespace detail {

int severity(CheckStatus status) {
  switch (status) {
    case CheckStatus::skip:
      return 0;
    case CheckStatus::ok:
      return 1;
    case CheckStatus::warn:
      return 2;
    case CheckStatus::fail:
      return 3;
  }
  return 3;
}

nlohmann::ordered_json check_json(const Check& check) {
  nlohmann::ordered_json item;
  item["id"] = check.id;
  item["layer"] = to_string(check.layer);
  if (!check.endpoint.empty()) {
    item["endpoint"] = check.endpoint;
  }
  item["status"] = to_string(check.status);
  item["message"] = check.message;
  if (!check.hint.empty()) {
    item["hint"] = check.hint;
  }
  item["durationMs"] = round_ms(check.durationMs);
  if (!check.details.is_null()) {
    item["details"] = check.details;
  }
  return item;
}

nlohmann::ordered_json document_json(const Report& report, CheckStatus worst,
                                     std::optional<Layer> layer) {
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const Check& check : report.checks) {
    checks.push_back(check_json(check));
  }
  nlohmann::ordered_json out;
  out["schemaVersion"] = report.schemaVersion;
  out["tool"] = report.tool;
  out["target"] = {{"context", report.target.context},
                   {"cluster", report.target.cluster},
                   {"server", report.target.server}};
  out["verdict"] = to_string(worst);
  out["failedLayer"] = layer ? nlohmann::ordered_json(to_string(*layer)) : nullptr;
  out["checks"] = std::move(checks);
  if (!report.timings.empty()) {
    nlohmann::ordered_json timings = nlohmann::ordered_json::array();
    for (const EndpointTiming& t : report.timings) {
      timings.push_back({{"endpoint", t.endpoint},
                         {"dnsMs", round_ms(t.dnsMs)},
                         {"connectMs", round_ms(t.connectMs)},
                         {"tlsMs", round_ms(t.tlsMs)},
                         {"firstByteMs", round_ms(t.firstByteMs)},
                         {"totalMs", round_ms(t.totalMs)}});
    }
    out["timings"] = std::move(timings);
  }
  return out;
}

// Messages and details quote what servers sent, which need not be UTF-8: invalid bytes become
// U+FFFD instead of making nlohmann throw while rendering.
std::string dump_utf8(const nlohmann::ordered_json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string yaml_text(const nlohmann::ordered_json& value, bool asSequence) {
  YAML::Emitter emitter;
  emitter.SetNullFormat(YAML::LowerNull);
  // Through the JSON text, so invalid UTF-8 is replaced as in -o json.
  const nlohmann::ordered_json clean = nlohmann::ordered_json::parse(dump_utf8(value, -1));
  if (asSequence) {
    emitter << YAML::BeginSeq;
  }
  emit_yaml(emitter, clean);
  if (asSequence) {
    emitter << YAML::EndSeq;
  }
  return emitter.c_str();
}

}  // namespace detail

nlohmann::ordered_json to_json(const Report& report) {
  return detail::document_json(report, verdict(report), failed_layer(report));
}

namespace {

// Each phase as a bar of '=' scaled to the slowest endpoint's total, then the numbers:
//   198.18.0.2:6443  |d|c|==t==|=f=|            dns 0.1  connect 0.2  tls 3.0  first byte 1.1
//   total 4.4 ms
void render_waterfall(std::ostream& out, const std::vector<EndpointTiming>& timings) {
  if (timings.empty()) {
    return;
  }
  constexpr int kWidth = 30;
  double longest = 0;
  std::size_t nameWidth = 0;
  for (const EndpointTiming& t : timings) {
    longest = std::max(longest, t.totalMs);
    nameWidth = std::max(nameWidth, t.endpoint.size());
  }
  auto bar = [&](double ms, char mark) {
    const int cells = longest > 0 ? static_cast<int>(ms / longest * kWidth + 0.5) : 0;
    return std::string(static_cast<std::size_t>(cells), mark);
  };
  auto num = [](double ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", ms);
    return std::string(text);
  };
  out << "timing (d dns, c connect, t tls, f first byte):\n";
  for (const EndpointTiming& t : timings) {
    std::string name = t.endpoint;
    name.resize(nameWidth, ' ');
    std::string bars =
        bar(t.dnsMs, 'd') + bar(t.connectMs, 'c') + bar(t.tlsMs, 't') + bar(t.firstByteMs, 'f');
    bars.resize(kWidth, ' ');
    out << "  " << name << "  |" << bars << "|  dns " << num(t.dnsMs) << "  connect "
        << num(t.connectMs) << "  tls " << num(t.tlsMs) << "  first byte " << num(t.firstByteMs)
        << "  total " << num(t.totalMs) << " ms\n";
  }
}

}  // namespace

void render_text(std::ostream& out, const Report& report, bool colour) {
  std::size_t idWidth = 0;
  for (const Check& check : report.checks) {
    idWidth = std::max(idWidth, check.id.size());
  }
  auto status_word = [colour](CheckStatus status) {
    std::string word(to_string(status));
    word.resize(5, ' ');
    if (!colour) {
      return word;
    }
    return std::string(colour_code(status)) + word + std::string(kColourReset);
  };
  for (const Check& check : report.checks) {
    std::string id = check.id;
    id.resize(idWidth, ' ');
    out << status_word(check.status) << ' ' << id << "  ";
    if (!check.endpoint.empty()) {
      out << check.endpoint << ": ";
    }
    out << check.message << '\n';
    if (!check.hint.empty()) {
      out << std::string(6, ' ') << "hint: " << check.hint << '\n';
    }
  }
  render_waterfall(out, report.timings);
  const CheckStatus worst = verdict(report);
  out << "verdict: " << (colour ? std::string(colour_code(worst)) : std::string())
      << to_string(worst) << (colour ? kColourReset : std::string_view());
  const std::optional<Layer> layer = failed_layer(report);
  if (layer) {
    out << " (failed layer: " << to_string(*layer) << ")";
  }
  out << '\n';
  const Check* cause = first_failure(report);
  if (cause != nullptr && !cause->hint.empty()) {
    out << "fix: " << cause->hint << '\n';
  }
}

const Check* first_failure(const Report& report) {
  const std::optional<Layer> layer = failed_layer(report);
  if (!layer) {
    return nullptr;
  }
  for (const Check& check : report.checks) {
    if (check.layer == *layer && check.status == CheckStatus::fail) {
      return &check;
    }
  }
  return nullptr;
}

void render_json(std::ostream& out, const Report& report) {
  out << detail::dump_utf8(to_json(report), 2) << '\n';
}

void render_yaml(std::ostream& out, const Report& report) {
  out << detail::yaml_text(to_json(report), false) << '\n';
}

void render(std::ostream& out, const Report& report, OutputFormat format, bool colour) {
  switch (format) {
    case OutputFormat::text:
      render_text(out, report, colour);
      return;
    case OutputFormat::json:
      render_json(out, report);
      return;
    case OutputFormat::yaml:
      render_yaml(out, report);
      return;
  }
}

bool colour_enabled(int fd) {
  const char* noColour = std::getenv("NO_COLOR");
  if (noColour != nullptr && noColour[0] != '\0') {
    return false;
  }
#ifdef _WIN32
  // A console shows the colour escapes once asked to (virtual terminal processing, Windows 10);
  // a console that refuses gets plain text.
  if (!is_terminal(fd)) {
    return false;
  }
  HANDLE console = reinterpret_cast<HANDLE>(_get_osfhandle(fd));
  DWORD mode = 0;
  return console != INVALID_HANDLE_VALUE && ::GetConsoleMode(console, &mode) &&
         ((mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING) != 0 ||
          ::SetConsoleMode(console, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING));
#else
  return is_terminal(fd);
#endif
}

}  // namespace kp::core
