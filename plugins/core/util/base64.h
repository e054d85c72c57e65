// Standard base64 (RFC 4648 section 4), as Go's encoding/base64.StdEncoding reads kubeconfig
// `*-data` fields: padding required, CR and LF ignored, anything else outside the alphabet fails.
#pragma once

#include <string>
#include <string_view>

#include "core/util/result.h"

namespace kp::core {

// Decodes `text` strictly; the error names the offending byte offset, like Go's
// "illegal base64 data at input byte N".
Result<std::string> decode_base64(std::string_view text);

// Encodes `bytes` with padding and without line breaks.
std::string encode_base64(std::string_view bytes);

}  // namespace kp::core
