#include "core/util/json.h"

#include <algorithm>

namespace kp::core {
namespace {

// The deepest [ / { nesting outside strings, stopping as soon as `limit` is passed.
std::size_t nesting_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool inString = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (inString) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) {
        return deepest;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// nlohmann's what() without its "[json.exception.x.y] " prefix and without the "last read"
// tail, which echoes input bytes (a token, for an exec plugin's stdout).
std::string json_error_text(const std::string& what) {
  std::string text = what;
  if (text.starts_with("[json.exception.")) {
    const auto close = text.find("] ");
    if (close != std::string::npos) {
      text.erase(0, close + 2);
    }
  }
  const auto lastRead = text.find("; last read:");
  if (lastRead != std::string::npos) {
    text.erase(lastRead);
  }
  return text;
}

}  // namespace

Result<nlohmann::json> parse_json(std::string_view body, std::size_t maxDepth) {
  if (nesting_depth(body, maxDepth) > maxDepth) {
    return Error{"JSON nested deeper than " + std::to_string(maxDepth) + " levels"};
  }
  try {
    return nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::exception& e) {
    return Error{"invalid JSON: " + json_error_text(e.what())};
  }
}

const nlohmann::json& json_member(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (object.is_object()) {
    const auto it = object.find(key);
    if (it != object.end()) {
      return *it;
    }
  }
  return kNull;
}

std::string json_string(const nlohmann::json& object, const char* key) {
  const nlohmann::json& value = json_member(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

}  // namespace kp::core
