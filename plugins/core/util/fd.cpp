#include "core/util/fd.h"

#ifdef _WIN32
#include <winsock2.h>
#else
#include <unistd.h>
#endif

namespace kp::core {

UniqueFd::~UniqueFd() {
  reset();
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset(other.release());
  }
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0 && fd_ != fd) {
#ifdef _WIN32
    // On Windows a UniqueFd owns a socket (processes use handles of their own: process_win.cpp).
    ::closesocket(static_cast<SOCKET>(fd_));
#else
    // Not retried on EINTR: on Linux the descriptor is gone either way.
    ::close(fd_);
#endif
  }
  fd_ = fd;
}

}  // namespace kp::core
