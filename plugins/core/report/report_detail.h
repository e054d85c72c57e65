// The pieces of report.cpp's renderers that ReportStream (stream.cpp) shares, so a streamed
// document is built from the same code as a rendered one. Not a public header.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/report/report.h"

namespace kp::core::detail {

// Higher is worse; skip ranks lowest so "ok + skipped" is still ok (verdict()'s order).
int severity(CheckStatus status);

// One element of the document's "checks".
nlohmann::ordered_json check_json(const Check& check);
// The document to_json() returns, with this verdict and failed layer.
nlohmann::ordered_json document_json(const Report& report, CheckStatus worst,
                                     std::optional<Layer> layer);
// dump() with invalid UTF-8 replaced by U+FFFD.
std::string dump_utf8(const nlohmann::ordered_json& value, int indent);
// render_yaml's text of `value` (no final newline); as a one-element block sequence when
// `asSequence`.
std::string yaml_text(const nlohmann::ordered_json& value, bool asSequence);

}  // namespace kp::core::detail
