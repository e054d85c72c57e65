// The small file-reading layer: every module that reads a file goes through here so errors
// read the same everywhere ("open /x: no such file or directory").
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "core/util/result.h"

namespace kp::core {

// Files we read are configs and PEM bundles; anything bigger is a mistake, not an input.
inline constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;

// Reads the whole file; errors look like Go's: "open <path>: <reason>".
Result<std::string> read_file(const std::filesystem::path& path,
                              std::size_t maxBytes = kMaxFileBytes);

// Whether the file opens for reading, as Go's os.Open: a directory opens; a missing or
// forbidden file gives "open <path>: <reason>". Nothing is read.
Status check_opens(const std::filesystem::path& path);

// True when `path` names an existing file system entry; false on any error.
bool path_exists(const std::filesystem::path& path);

}  // namespace kp::core
