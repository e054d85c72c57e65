#include "core/util/yaml.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

namespace kp::core {

namespace {

// The scalar that starts last in the text. An unterminated quoted scalar ends the input, so
// it is always this one. Aliases make the tree a graph that a walk can make exponential (a
// "billion laughs" file) or a cycle, so the walk gives up (false: not found) after `budget`
// nodes or 256 levels.
bool last_scalar(const YAML::Node& node, YAML::Mark& last, std::size_t& budget, int depth = 0) {
  if (budget == 0 || depth > 256) {
    return false;
  }
  --budget;
  if (node.IsScalar()) {
    if (node.Mark().pos > last.pos || last.is_null()) {
      last = node.Mark();
    }
  } else if (node.IsSequence() || node.IsMap()) {
    for (const auto& item : node) {
      const bool walked = node.IsMap() ? last_scalar(item.first, last, budget, depth + 1) &&
                                             last_scalar(item.second, last, budget, depth + 1)
                                       : last_scalar(item, last, budget, depth + 1);
      if (!walked) {
        return false;
      }
    }
  }
  return true;
}

// Whether the quoted scalar opening at text[at] (a " or ') has its closing quote.
bool closed(std::string_view text, std::size_t at) {
  const char quote = text[at];
  for (std::size_t i = at + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;  // an escape: the next character is content
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is a quote inside a single-quoted scalar
      } else {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

YAML::Node load_yaml(std::string_view text) {
  YAML::Node doc = YAML::Load(std::string(text));
  // Positions count the bytes of UTF-8 input; yaml-cpp converts UTF-16 and UTF-32 first.
  const bool utf8 = text.empty() || (text[0] != '\0' && text[0] != '\xfe' && text[0] != '\xff');
  YAML::Mark last = YAML::Mark::null_mark();
  std::size_t budget = 100000;  // nodes; a kubeconfig has hundreds
  if (utf8 && last_scalar(doc, last, budget) && !last.is_null() && last.pos >= 0 &&
      static_cast<std::size_t>(last.pos) < text.size()) {
    const auto at = static_cast<std::size_t>(last.pos);
    if ((text[at] == '"' || text[at] == '\'') && !closed(text, at)) {
      throw YAML::ParserException(last, std::string("found unexpected end of stream: the ") +
                                            (text[at] == '"' ? "double" : "single") +
                                            "-quoted string opened here is never closed");
    }
  }
  return doc;
}

namespace {

// Go's strconv.ParseInt(s, 0, 64), then ParseUint(s, 0, 64): an optional sign, then 0x/0o/0b
// or a leading 0 (octal) or decimal digits. Underscores are removed by the caller.
bool parse_go_integer(std::string_view s, Yaml11Scalar& out) {
  bool negative = false;
  bool sign = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    sign = true;
    s.remove_prefix(1);
  }
  unsigned base = 10;
  if (s.size() >= 2 && s[0] == '0') {
    const char p = static_cast<char>(s[1] | 0x20);
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  if (s.empty()) {
    return false;
  }
  std::uint64_t value = 0;
  for (char c : s) {
    unsigned digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      digit = static_cast<unsigned>((c | 0x20) - 'a' + 10);
    } else {
      return false;
    }
    if (digit >= base || value > (std::numeric_limits<std::uint64_t>::max() - digit) / base) {
      return false;
    }
    value = value * base + digit;
  }
  constexpr std::uint64_t kMaxInt = std::numeric_limits<std::int64_t>::max();
  if (negative) {
    if (value > kMaxInt + 1) {
      return false;
    }
    out.kind = Yaml11Scalar::Kind::integer;
    out.integer = value == kMaxInt + 1 ? std::numeric_limits<std::int64_t>::min()
                                       : -static_cast<std::int64_t>(value);
    return true;
  }
  if (value <= kMaxInt) {
    out.kind = Yaml11Scalar::Kind::integer;
    out.integer = static_cast<std::int64_t>(value);
    return true;
  }
  if (sign) {
    return false;  // ParseUint takes no sign
  }
  out.kind = Yaml11Scalar::Kind::unsignedInteger;
  out.unsignedInteger = value;
  return true;
}

// Go's strconv.ParseFloat(s, 64) on text already shaped like a decimal float: out of range is
// an error (go-yaml then keeps the string), underflow is not.
bool parse_go_float(const std::string& s, Yaml11Scalar& out) {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || (errno == ERANGE && std::isinf(value))) {
    return false;
  }
  out.kind = Yaml11Scalar::Kind::floating;
  out.floating = value;
  return true;
}

// go-yaml's yamlStyleFloat, ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ (with
// `signed` false: the part after the sign).
bool yaml_style_float(std::string_view s, bool signedAllowed = true) {
  auto digits = [&](std::size_t& i) {
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
    return i > start;
  };
  std::size_t i = 0;
  if (signedAllowed && i < s.size() && (s[i] == '+' || s[i] == '-')) {
    ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits(i)) {
      return false;
    }
  } else {
    if (!digits(i)) {
      return false;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits(i);
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (!digits(i)) {
      return false;
    }
  }
  return i == s.size();
}

}  // namespace

Yaml11Scalar resolve_yaml11(std::string_view in) {
  using Kind = Yaml11Scalar::Kind;
  Yaml11Scalar out;
  const auto is = [&](std::initializer_list<std::string_view> words) {
    for (std::string_view w : words) {
      if (in == w) {
        return true;
      }
    }
    return false;
  };
  if (is({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    out.kind = Kind::boolean;
    out.boolean = true;
    return out;
  }
  if (is({"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    out.kind = Kind::boolean;
    return out;
  }
  if (is({"", "~", "null", "Null", "NULL"})) {
    out.kind = Kind::null;
    return out;
  }
  if (is({".nan", ".NaN", ".NAN"})) {
    out.kind = Kind::floating;
    out.floating = std::numeric_limits<double>::quiet_NaN();
    return out;
  }
  if (is({".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"})) {
    out.kind = Kind::floating;
    out.floating = in[0] == '-' ? -std::numeric_limits<double>::infinity()
                                : std::numeric_limits<double>::infinity();
    return out;
  }
  const char first = in[0];
  if (first == '.') {
    // ParseFloat on ".5", ".5e3" (go-yaml tries it on anything starting with '.').
    if (yaml_style_float(in, false)) {
      parse_go_float(std::string(in), out);
    }
    return out;
  }
  if ((first >= '0' && first <= '9') || first == '+' || first == '-') {
    std::string plain;
    for (char c : in) {
      if (c != '_') {
        plain += c;
      }
    }
    if (parse_go_integer(plain, out)) {
      return out;
    }
    if (yaml_style_float(plain)) {
      parse_go_float(plain, out);
    }
  }
  return out;
}

std::string_view json_type_name(const Yaml11Scalar& scalar) {
  switch (scalar.kind) {
    case Yaml11Scalar::Kind::null:
      return "null";
    case Yaml11Scalar::Kind::boolean:
      return "bool";
    case Yaml11Scalar::Kind::integer:
    case Yaml11Scalar::Kind::unsignedInteger:
    case Yaml11Scalar::Kind::floating:
      return "number";
    case Yaml11Scalar::Kind::string:
      break;
  }
  return "string";
}

std::string yaml11_key_text(const Yaml11Scalar& key, std::string_view plain) {
  switch (key.kind) {
    case Yaml11Scalar::Kind::null:
    case Yaml11Scalar::Kind::unsignedInteger:
      return {};
    case Yaml11Scalar::Kind::boolean:
      return key.boolean ? "true" : "false";
    case Yaml11Scalar::Kind::integer:
      return std::to_string(key.integer);
    case Yaml11Scalar::Kind::string:
      return std::string(plain);
    case Yaml11Scalar::Kind::floating:
      break;
  }
  // strconv.FormatFloat(f, 'g', -1, 32) rounds to float32 first, so a finite key past float32's
  // range (1e39) is spelled as an infinity too: sigs.k8s.io/yaml maps "+Inf" to ".inf".
  const float single = static_cast<float>(key.floating);
  if (std::isnan(single)) {
    return ".nan";
  }
  if (std::isinf(single)) {
    return single > 0 ? ".inf" : "-.inf";
  }
  // The fewest digits that read back as the same float32, then %e when the exponent is below -4
  // or at least 6 (Go's shortest 'g'), else %f.
  char buffer[64];
  int digits = 1;
  for (; digits < 9; ++digits) {
    std::snprintf(buffer, sizeof buffer, "%.*e", digits - 1, static_cast<double>(single));
    if (std::strtof(buffer, nullptr) == single) {
      break;
    }
  }
  std::snprintf(buffer, sizeof buffer, "%.*e", digits - 1, static_cast<double>(single));
  const std::string scientific(buffer);
  const auto e = scientific.find('e');
  const int exponent = std::atoi(scientific.c_str() + e + 1);
  if (exponent < -4 || exponent >= 6) {
    // Go writes at least two exponent digits, as C does; drop a trailing ".0..." never arises
    // since %.*e with the shortest digits has no trailing zeros beyond what is needed.
    return scientific;
  }
  const int decimals = std::max(0, digits - 1 - exponent);
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, static_cast<double>(single));
  return buffer;
}

}  // namespace kp::core
