// The environment, behind a seam tests can fake.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace kp::core {

// The getenv seam: nullopt when the variable is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The real process environment.
EnvLookup process_env();

// `name` through `env`, or from the process environment when `env` is empty.
std::optional<std::string> env_value(const EnvLookup& env, const std::string& name);

}  // namespace kp::core
