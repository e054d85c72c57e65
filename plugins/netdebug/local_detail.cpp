#include "netdebug/local_detail.h"

#include <cctype>
#include <cstddef>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/util/text.h"

namespace kp::netdebug::detail {

core::Check node_check(std::string id) {
  return core::make_check(std::move(id), core::Layer::node);
}

void set(core::Check& check, core::CheckStatus status, std::string message, std::string hint) {
  check.status = status;
  check.message = std::move(message);
  check.hint = std::move(hint);
}

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> result;
  std::string current;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (!current.empty()) {
        result.push_back(current);
        current.clear();
      }
    } else {
      current += c;
    }
  }
  if (!current.empty()) {
    result.push_back(current);
  }
  return result;
}

// A decimal number within [0, max], or nullopt.
std::optional<long> parse_number(std::string_view text, long max) {
  if (text.empty() || text.size() > 10 ||
      text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const long value = std::stol(std::string(text));
  if (value > max) {
    return std::nullopt;
  }
  return value;
}

std::string first_line(std::string_view text) {
  text = core::trim(text);
  return std::string(text.substr(0, text.find('\n')));
}

std::string join_path(const std::string& dir, std::string_view rest) {
  if (dir.empty() || dir == "/") {
    return "/" + std::string(rest);
  }
  return (dir.back() == '/' ? dir : dir + "/") + std::string(rest);
}

std::string basename_of(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string json_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string command_failure(const std::string& command, const CommandOutput& output) {
  if (output.timedOut) {
    return command + " did not finish within " + std::to_string(kCommandTimeout.count() / 1000) +
           " s";
  }
  const std::string why = first_line(output.err.empty() ? output.out : output.err);
  return command + " exited " + std::to_string(output.exitCode) + (why.empty() ? "" : ": " + why);
}

std::optional<CommandOutput> run_installed(const LocalSystem& sys, core::Check& check,
                                           const std::vector<std::string>& argv,
                                           std::string_view package, std::string_view consequence,
                                           std::chrono::milliseconds timeout) {
  CommandOutput output = sys.run(argv, timeout);
  if (output.notFound) {
    set(check, core::CheckStatus::skip,
        argv.front() + " is not installed (package " + std::string(package) +
            "): " + std::string(consequence));
    return std::nullopt;
  }
  return output;
}

}  // namespace kp::netdebug::detail
