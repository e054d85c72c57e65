// Times as Kubernetes writes them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kp::core {

// Parses "2006-01-02T15:04:05Z07:00" with optional fractional seconds (Go's time.RFC3339Nano,
// as in expirationTimestamp and every metav1.Time) into Unix seconds; nullopt when malformed.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace kp::core
