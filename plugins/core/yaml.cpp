#include "core/yaml.h"

#include <string>

namespace kp::core {

namespace {

// The scalar that starts last in the text. An unterminated quoted scalar ends the input, so
// it is always this one.
void last_scalar(const YAML::Node& node, YAML::Mark& last, int depth) {
  if (depth > 256) {
    return;  // yaml-cpp's own recursion limit is lower; this only bounds ours
  }
  if (node.IsScalar()) {
    if (node.Mark().pos > last.pos || last.is_null()) {
      last = node.Mark();
    }
  } else if (node.IsSequence() || node.IsMap()) {
    for (const auto& item : node) {
      if (node.IsMap()) {
        last_scalar(item.first, last, depth + 1);
        last_scalar(item.second, last, depth + 1);
      } else {
        last_scalar(item, last, depth + 1);
      }
    }
  }
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
  YAML::Mark last = YAML::Mark::null_mark();
  last_scalar(doc, last, 0);
  if (!last.is_null() && last.pos >= 0 && static_cast<std::size_t>(last.pos) < text.size()) {
    const auto at = static_cast<std::size_t>(last.pos);
    if ((text[at] == '"' || text[at] == '\'') && !closed(text, at)) {
      throw YAML::ParserException(last, std::string("found unexpected end of stream: the ") +
                                            (text[at] == '"' ? "double" : "single") +
                                            "-quoted string opened here is never closed");
    }
  }
  return doc;
}

}  // namespace kp::core
