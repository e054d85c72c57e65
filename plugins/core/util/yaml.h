// YAML loading for outside files (kubeconfigs, static pod manifests): yaml-cpp's YAML::Load plus
// the one check yaml-cpp 0.7 skips. A quoted scalar that is never closed runs to the end of the
// input and is accepted: `token: "abc` swallows every line after it, and the file reads as if
// its contexts were missing. Go's YAML (kubectl) refuses it with "found unexpected end of
// stream"; so do we.
#pragma once

#include <string_view>

#include <yaml-cpp/yaml.h>

namespace kp::core {

// YAML::Load(text), throwing YAML::ParserException (with the quote's line and column) when the
// last scalar is a quoted string with no closing quote.
YAML::Node load_yaml(std::string_view text);

}  // namespace kp::core
