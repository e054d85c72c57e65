#include <cerrno>
#include <io.h>
#include <sys/stat.h>
#include <windows.h>

#include "core/util/host.h"

namespace kp::core {

std::optional<FileMode> file_mode(const std::string& path) {
  struct _stat64 st {};
  if (::_stat64(path.c_str(), &st) != 0) {
    if (errno != EACCES) {
      return std::nullopt;
    }
    FileMode denied;
    denied.denied = true;
    return denied;
  }
  // The C runtime copies the owner's read/write bits to group and others; Windows guards files
  // with ACLs, which these checks do not read: only the owner's bits are reported.
  return FileMode{(st.st_mode & _S_IFDIR) != 0, 0, 0, st.st_mode & 0700u, false};
}

bool may_read(const std::string& path) {
  return ::_access(path.c_str(), 4) == 0;
}

bool may_search(const std::string& dir) {
  return ::_access(dir.c_str(), 0) == 0;
}

std::string user_name(unsigned uid) {
  return "uid " + std::to_string(uid);
}

std::string group_name(unsigned gid) {
  return "gid " + std::to_string(gid);
}

std::string home_of_user(const std::string&) {
  return {};
}

unsigned current_uid() {
  return 0;
}

bool is_terminal(int fd) {
  const auto handle = reinterpret_cast<HANDLE>(::_get_osfhandle(fd));
  DWORD mode = 0;
  return handle != INVALID_HANDLE_VALUE && ::GetConsoleMode(handle, &mode) != 0;
}

}  // namespace kp::core
