#include "netdebug/local_detail.h"

#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <system_error>
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

// A decimal number within [0, max], or nullopt. 64 bits everywhere: `long` is 32 bits on
// Windows, and socket inodes go past 2^31.
std::optional<std::int64_t> parse_number(std::string_view text, std::int64_t max) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > max) {
    return std::nullopt;  // past 2^63 - 1 (std::errc::result_out_of_range) or past max
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
