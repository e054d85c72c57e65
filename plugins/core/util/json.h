// Reading JSON that came from outside (a server, a plugin) without throwing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/util/result.h"

namespace kp::core {

// Parses JSON without throwing. Nesting deeper than `maxDepth` is refused before parsing, so a
// hostile body cannot exhaust the stack; errors read "invalid JSON: <what>" or "JSON nested
// deeper than N levels".
Result<nlohmann::json> parse_json(std::string_view body, std::size_t maxDepth = 100);

// Reading what a server sent without throwing: `object`'s member `key`, or a null when
// `object` is not an object or has no such member.
const nlohmann::json& json_member(const nlohmann::json& object, const char* key);
// `object`'s member `key` when it is a string, else "".
std::string json_string(const nlohmann::json& object, const char* key);

}  // namespace kp::core
