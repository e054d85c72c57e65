#include "core/util/env.h"

#include <cstdlib>

namespace kp::core {

std::optional<std::string> env_value(const EnvLookup& env, const std::string& name) {
  if (env) {
    return env(name);
  }
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

EnvLookup process_env() {
  return [](const std::string& name) { return env_value(nullptr, name); };
}

}  // namespace kp::core
