// Owners for C handles: std::unique_ptr with the library's free function as the deleter.
//   using X509Ptr = Owned<X509, X509_free>;
#pragma once

#include <memory>

namespace kp::core {

// A deleter that calls `Free` (a function, not a macro).
template <auto Free>
struct FreeWith {
  template <class T>
  void operator()(T* handle) const noexcept {
    Free(handle);
  }
};

template <class T, auto Free>
using Owned = std::unique_ptr<T, FreeWith<Free>>;

}  // namespace kp::core
