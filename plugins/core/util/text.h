// Small string helpers every core module and plugin needs, in one place.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kp::core {

// `text` without leading and trailing blanks (space, tab, CR, LF).
std::string_view trim(std::string_view text);

// The parts with `separator` between them.
std::string join(const std::vector<std::string>& parts, std::string_view separator = ", ");

// Go's %q of at most `maxBytes` of `bytes`, cut at the first line break: how reports show what
// an unrecognised input or peer sent. Keep it short: a mistaken input may be a secret.
std::string quote_bytes(std::string_view bytes, std::size_t maxBytes);

}  // namespace kp::core
