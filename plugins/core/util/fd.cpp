#include "core/util/fd.h"

#include <unistd.h>

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
    // Not retried on EINTR: on Linux the descriptor is gone either way.
    ::close(fd_);
  }
  fd_ = fd;
}

}  // namespace kp::core
