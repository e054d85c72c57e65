// An owned file descriptor (POSIX); on Windows an owned socket (a SOCKET kept in an int: Winsock's
// handles are small values, as every port of BSD-socket code relies on), closed with closesocket.
#pragma once

namespace kp::core {

// An owned file descriptor: closed exactly once, by whoever holds it last.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;

  int get() const { return fd_; }
  // Gives up ownership without closing; the caller now owns the descriptor.
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  explicit operator bool() const { return fd_ >= 0; }
  // Closes the current descriptor (if any) and owns `fd` instead.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace kp::core
