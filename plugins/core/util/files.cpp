#include "core/util/files.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

#include "core/util/text.h"

namespace kp::core {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

Result<std::string> read_file(const std::filesystem::path& path, std::size_t maxBytes) {
  const std::string name = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Error{"read " + name + ": is a directory"};
  }
  FilePtr file(std::fopen(name.c_str(), "rb"));
  if (!file) {
    return Error{"open " + name + ": " + describe_errno(errno)};
  }
  std::string contents;
  char buffer[64 * 1024];
  for (;;) {
    const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    contents.append(buffer, n);
    if (contents.size() > maxBytes) {
      return Error{"read " + name + ": file is larger than " + std::to_string(maxBytes) + " bytes"};
    }
    if (n < sizeof buffer) {
      break;
    }
  }
  if (std::ferror(file.get()) != 0) {
    return Error{"read " + name + ": " + describe_errno(errno)};
  }
  return contents;
}

std::vector<std::string> split_path_list(std::string_view list, char separator, bool quotes) {
  std::vector<std::string> out;
  if (list.empty()) {
    return out;
  }
  std::string current;
  bool quoted = false;
  for (char c : list) {
    if (quotes && c == '"') {
      quoted = !quoted;
    } else if (c == separator && !quoted) {
      out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  out.push_back(std::move(current));
  return out;
}

std::vector<std::string> split_path_list(std::string_view list) {
#ifdef _WIN32
  return split_path_list(list, kPathListSeparator, true);
#else
  return split_path_list(list, kPathListSeparator, false);
#endif
}

std::string_view program_file_name(std::string_view argv0) {
  const auto separator = argv0.find_last_of(kPathSeparators);
  std::string_view base = separator == std::string_view::npos ? argv0 : argv0.substr(separator + 1);
  if (base.size() > 4 && ascii_lower(base.substr(base.size() - 4)) == ".exe") {
    base.remove_suffix(4);
  }
  return base;
}

Status check_opens(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return {};
  }
  const std::string name = path.string();
  FilePtr file(std::fopen(name.c_str(), "rb"));
  if (!file) {
    return Error{"open " + name + ": " + describe_errno(errno)};
  }
  return {};
}

bool path_exists(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

}  // namespace kp::core
