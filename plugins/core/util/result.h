// Result<T>: expected failures (a bad kubeconfig field, a refused connection) travel as values;
// exceptions are reserved for bugs and are caught once at the top (core::run_main).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kp::core {

// A human-readable failure; the message already names the file, field or flag at fault.
struct Error {
  std::string message;

  // Returns a copy whose message is prefixed with `context: ` (a file, a field path, a flag).
  Error prefixed(std::string_view context) const {
    return Error{std::string(context) + ": " + message};
  }
};

// Holds either a T or an E; a tiny stand-in for C++23 std::expected, which g++ 12 lacks.
template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    expect_value();
    return std::get<0>(v_);
  }
  const T& value() const& {
    expect_value();
    return std::get<0>(v_);
  }
  T&& value() && {
    expect_value();
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const& {
    expect_error();
    return std::get<1>(v_);
  }
  E&& error() && {
    expect_error();
    return std::get<1>(std::move(v_));
  }

 private:
  // Misuse is a bug: assert in debug builds; std::get still throws in release builds.
  void expect_value() const { assert(has_value() && "Result::value() called on an error"); }
  void expect_error() const { assert(!has_value() && "Result::error() called on a value"); }

  std::variant<T, E> v_;
};

// Success carries nothing; failure carries an E.
template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E error) : error_(std::move(error)) {}

  bool has_value() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }

  const E& error() const& {
    assert(!has_value() && "Result::error() called on a success");
    return error_.value();  // throws in release builds rather than reading garbage
  }

 private:
  std::optional<E> error_;
};

// Alias for functions that succeed with no value.
using Status = Result<void>;

}  // namespace kp::core
