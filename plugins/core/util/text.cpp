#include "core/util/text.h"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace kp::core {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) {
      out += separator;
    }
    out += part;
  }
  return out;
}

namespace {

// The escaped text, and whether it was cut at maxBytes. `quotes`: '"' is escaped too (for text
// put in double quotes).
std::pair<std::string, bool> escaped(std::string_view bytes, std::size_t maxBytes, Lines lines,
                                     bool quotes) {
  std::string out;
  std::size_t i = 0;
  for (; i < bytes.size() && i < maxBytes; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (lines == Lines::first && (c == '\n' || c == '\r')) {
      return {out, false};
    }
    if ((c == '"' && quotes) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      std::array<char, 8> hex{};
      std::snprintf(hex.data(), hex.size(), "\\x%02x", c);
      out += hex.data();
    }
  }
  const bool cut =
      i < bytes.size() && !(lines == Lines::first && (bytes[i] == '\n' || bytes[i] == '\r'));
  return {out, cut};
}

}  // namespace

std::string quote_bytes(std::string_view bytes, std::size_t maxBytes, Lines lines) {
  auto [text, cut] = escaped(bytes, maxBytes, lines, true);
  return "\"" + text + (cut ? "\"..." : "\"");
}

std::string escape_bytes(std::string_view bytes, std::size_t maxBytes, Lines lines) {
  auto [text, cut] = escaped(bytes, maxBytes, lines, false);
  return cut ? text + "..." : text;
}

std::string quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::string describe_errno(int errorNumber) {
#ifdef _WIN32
  // The C runtime of Windows names only the classic errno values; the socket ones (which the
  // core's Winsock layer sets, core/net/socket.h) get glibc's words, so messages match Linux.
  static constexpr std::pair<int, const char*> kSocketErrors[] = {
      {ECONNREFUSED, "connection refused"},
      {ETIMEDOUT, "connection timed out"},
      {ECONNRESET, "connection reset by peer"},
      {ECONNABORTED, "software caused connection abort"},
      {EHOSTUNREACH, "no route to host"},
      {ENETUNREACH, "network is unreachable"},
      {ENETDOWN, "network is down"},
      {EADDRNOTAVAIL, "cannot assign requested address"},
      {EADDRINUSE, "address already in use"},
      {EAFNOSUPPORT, "address family not supported by protocol"},
      {ENOTCONN, "transport endpoint is not connected"},
      {EWOULDBLOCK, "resource temporarily unavailable"},
      {EINPROGRESS, "operation now in progress"},
      {ENOTSOCK, "socket operation on non-socket"},
      {ENOPROTOOPT, "protocol not available"},
      {EOPNOTSUPP, "operation not supported"},
      {ENOBUFS, "no buffer space available"},
      {EMSGSIZE, "message too long"},
      {EPIPE, "broken pipe"}};
  for (const auto& [number, text] : kSocketErrors) {
    if (number == errorNumber) {
      return text;
    }
  }
#endif
  std::string text = std::strerror(errorNumber);
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') {
    text[0] = static_cast<char>(text[0] - 'A' + 'a');
  }
  return text;
}

}  // namespace kp::core
