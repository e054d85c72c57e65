// Times as Kubernetes writes them.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

namespace kp::core {

// Parses "2006-01-02T15:04:05Z07:00" with optional fractional seconds (Go's time.RFC3339Nano,
// as in expirationTimestamp and every metav1.Time) into Unix seconds; nullopt when malformed.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

// An HTTP Date header ("Mon, 02 Jan 2006 15:04:05 GMT", RFC 7231's IMF-fixdate) in Unix
// seconds; nullopt when it is not one.
std::optional<std::int64_t> parse_http_date(std::string_view text);

// The broken-down local time of `t` (localtime_r; localtime_s on Windows), and its UTC time,
// computed for every year (Windows' gmtime_s stops at 3000).
std::tm local_time(std::time_t t);
std::tm utc_time(std::time_t t);

}  // namespace kp::core
