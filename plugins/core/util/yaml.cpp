#include "core/util/yaml.h"

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

}  // namespace kp::core
