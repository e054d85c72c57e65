// YAML loading for outside files (kubeconfigs, static pod manifests): yaml-cpp's YAML::Load plus
// the one check yaml-cpp 0.7 skips. A quoted scalar that is never closed runs to the end of the
// input and is accepted: `token: "abc` swallows every line after it, and the file reads as if
// its contexts were missing. Go's YAML (kubectl) refuses it with "found unexpected end of
// stream"; so do we.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

namespace kp::core {

// YAML::Load(text), throwing YAML::ParserException (with the quote's line and column) when the
// last scalar is a quoted string with no closing quote.
YAML::Node load_yaml(std::string_view text);

// A plain (unquoted, untagged) scalar as kubectl's YAML reads it: go-yaml v2, YAML 1.1, where
// y/n/yes/no/on/off are booleans and 0x1F, 0o17, 017, 0b101 and 1_000 are integers
// (go-yaml's resolve.go). Timestamps stay strings, as go-yaml gives them to interface{}.
struct Yaml11Scalar {
  enum class Kind { null, boolean, integer, unsignedInteger, floating, string };
  Kind kind = Kind::string;
  bool boolean = false;
  std::int64_t integer = 0;
  std::uint64_t unsignedInteger = 0;
  double floating = 0;
};
Yaml11Scalar resolve_yaml11(std::string_view plain);

// A YAML 1.1 scalar's type as Go's encoding/json names it in "cannot unmarshal <type> into":
// "bool", "number", "string" (and "null").
std::string_view json_type_name(const Yaml11Scalar& scalar);

// How sigs.k8s.io/yaml turns a non-string map key into a JSON key: "true", "16", "1.5"
// (float keys as strconv.FormatFloat(f, 'g', -1, 32)); empty for the keys it refuses: null, and
// integers above 2^63-1 (go-yaml gives those as uint64, which it has no case for).
std::string yaml11_key_text(const Yaml11Scalar& key, std::string_view plain);

}  // namespace kp::core
