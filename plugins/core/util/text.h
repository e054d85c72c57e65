// Small string helpers every core module and plugin needs, in one place.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kp::core {

// `text` without leading and trailing blanks (space, tab, CR, LF).
std::string_view trim(std::string_view text);

// The pieces between the separators, empty ones kept ("a::b" -> "a", "", "b").
std::vector<std::string> split(std::string_view text, char separator);

// The parts with `separator` between them.
std::string join(const std::vector<std::string>& parts, std::string_view separator = ", ");

// `text` with A-Z as a-z (Go's strings.ToLower for the ASCII names we compare: hosts, schemes,
// header and flag values).
std::string ascii_lower(std::string_view text);

// strerror() in Go's lower-case form ("no such file or directory"), as kubectl prints it and
// users search for it.
std::string describe_errno(int errorNumber);

// How much of outside text quote_bytes() and escape_bytes() show.
enum class Lines { first, all };

// Outside text (what a server, a proxy, a file or a command sent) made safe to print, the one
// way reports show it: in double quotes as Go's %q writes them ('"' and '\\' escaped, tab, CR
// and LF as \t \r \n, other bytes outside printable ASCII as \xNN), at most `maxBytes` bytes
// with "..." after the closing quote when there were more. Lines::first stops at the first line
// break. Keep it short: a mistaken input may be a secret.
std::string quote_bytes(std::string_view bytes, std::size_t maxBytes, Lines lines = Lines::first);

// The same escaping without the quotes (so '"' stays as it is), for a server's text that reads
// as part of a sentence ("HTTP 500: etcd failed").
std::string escape_bytes(std::string_view bytes, std::size_t maxBytes, Lines lines = Lines::first);

// A name or value from the user or a config in double quotes, as client-go's messages show it
// ("context \"lab\" does not exist"). Not for outside text: use quote_bytes().
std::string quote(std::string_view text);

// The names of an enum's values, one table per enum, read both ways:
//   constexpr NameTable<Colour> kColours[] = {{"red", Colour::red}, {"blue", Colour::blue}};
template <class E>
using NameTable = std::pair<std::string_view, E>;

// The value called `name` in `table`; nullopt when none is.
template <class E, std::size_t N>
std::optional<E> value_named(const NameTable<E> (&table)[N], std::string_view name) {
  for (const auto& [candidate, value] : table) {
    if (candidate == name) {
      return value;
    }
  }
  return std::nullopt;
}

// The name of `value` in `table`; `fallback` when it has none.
template <class E, std::size_t N>
std::string_view name_of(const NameTable<E> (&table)[N], E value, std::string_view fallback) {
  for (const auto& [name, candidate] : table) {
    if (candidate == value) {
      return name;
    }
  }
  return fallback;
}

// What `table` maps `key` to; `fallback` when it maps nothing (a switch as data):
//   constexpr std::pair<int, Failure> kErrnos[] = {{ECONNREFUSED, Failure::refused}, ...};
template <class K, class V, std::size_t N>
V mapped(const std::pair<K, V> (&table)[N], const K& key, V fallback) {
  for (const auto& [candidate, value] : table) {
    if (candidate == key) {
      return value;
    }
  }
  return fallback;
}

}  // namespace kp::core
