#include <cerrno>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util/host.h"

namespace kp::core {

std::optional<FileMode> file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != EACCES) {
      return std::nullopt;  // ENOENT, ENOTDIR: not there
    }
    FileMode denied;
    denied.denied = true;
    return denied;
  }
  return FileMode{S_ISDIR(st.st_mode), st.st_uid, st.st_gid, st.st_mode & 07777u, false};
}

bool may_read(const std::string& path) {
  return ::access(path.c_str(), R_OK) == 0;
}

bool may_search(const std::string& dir) {
  return ::access(dir.c_str(), X_OK) == 0;
}

std::string user_name(unsigned uid) {
  const passwd* entry = ::getpwuid(uid);
  return entry != nullptr ? std::string(entry->pw_name) : "uid " + std::to_string(uid);
}

std::string group_name(unsigned gid) {
  const group* entry = ::getgrgid(gid);
  return entry != nullptr ? std::string(entry->gr_name) : "gid " + std::to_string(gid);
}

std::string home_of_user(const std::string& user) {
  const passwd* entry = ::getpwnam(user.c_str());
  return entry != nullptr ? std::string(entry->pw_dir) : std::string();
}

bool is_terminal(int fd) {
  return ::isatty(fd) == 1;
}

unsigned current_uid() {
  return ::getuid();
}

}  // namespace kp::core
