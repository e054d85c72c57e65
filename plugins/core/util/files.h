// The small file-reading layer: every module that reads a file goes through here so errors
// read the same everywhere ("open /x: no such file or directory").
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

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

// Go's filepath.Separator: '\\' on Windows, '/' elsewhere. client-go takes an exec command
// holding it for a file reference (resolved against the kubeconfig's directory), anything else
// for a name looked up on PATH.
#ifdef _WIN32
inline constexpr char kPathSeparator = '\\';
// Every separator the platform's file names accept.
inline constexpr std::string_view kPathSeparators = "/\\";
#else
inline constexpr char kPathSeparator = '/';
inline constexpr std::string_view kPathSeparators = "/";
#endif

// Go's filepath.ListSeparator: what separates the paths of PATH and KUBECONFIG.
#ifdef _WIN32
inline constexpr char kPathListSeparator = ';';
#else
inline constexpr char kPathListSeparator = ':';
#endif

// Go's filepath.SplitList: a path list's entries, empty ones kept (callers skip them), none for
// "". On Windows a double-quoted part may hold a ';', and every '"' is removed
// (path_windows.go); elsewhere the list is split on ':' as written. The three-argument form
// follows either platform's rules, for tests.
std::vector<std::string> split_path_list(std::string_view list);
std::vector<std::string> split_path_list(std::string_view list, char separator, bool quotes);

// A program's name from its argv[0]: the last element, less a trailing ".exe" in any case.
// "/usr/bin/kubectl-certs" is "kubectl-certs", and so is "C:\\bin\\kubectl-certs.EXE" on
// Windows (where kubectl runs a plugin by its full path).
std::string_view program_file_name(std::string_view argv0);

// True when `path` names an existing file system entry; false on any error.
bool path_exists(const std::filesystem::path& path);

}  // namespace kp::core
