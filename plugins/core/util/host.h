// This machine's files and accounts as POSIX describes them (stat, access, passwd, group), for
// the checks that read ownership and modes (apicheck's kubeconfig checks). On Windows files have
// ACLs, not modes: file_mode() gives the owner's bits only (so nothing is "readable by others"),
// accounts are not looked up, and the uid is 0.
#pragma once

#include <optional>
#include <string>

namespace kp::core {

struct FileMode {
  bool directory = false;
  unsigned uid = 0, gid = 0;
  unsigned mode = 0;  // permission bits (07777)
  // stat() was refused (EACCES): the path may exist behind a directory we cannot search.
  bool denied = false;
};

// stat(path): nullopt when it is not there (ENOENT, ENOTDIR).
std::optional<FileMode> file_mode(const std::string& path);
// access(path, R_OK) and access(dir, X_OK).
bool may_read(const std::string& path);
bool may_search(const std::string& dir);
// Account names: "uid 1000" / "gid 1000" when unknown; a user's home directory, "" if unknown.
std::string user_name(unsigned uid);
std::string group_name(unsigned gid);
std::string home_of_user(const std::string& user);
// getuid().
unsigned current_uid();
// Whether the file descriptor is a terminal: isatty(); on Windows a console (GetConsoleMode, as
// Go's term.IsTerminal: NUL and other character devices are none).
bool is_terminal(int fd);

}  // namespace kp::core
