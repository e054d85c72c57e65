#include "core/kube/manifest.h"

#include <cstddef>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "core/util/yaml.h"

namespace kp::core {

ApiServerFlags apiserver_flags(const std::vector<std::string>& args) {
  ApiServerFlags flags;
  const std::vector<std::pair<std::string, std::string*>> wanted{
      {"--bind-address", &flags.bindAddress},
      {"--secure-port", &flags.securePort},
      {"--advertise-address", &flags.advertiseAddress}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    for (const auto& [name, value] : wanted) {
      if (args[i].starts_with(name + "=")) {
        *value = args[i].substr(name.size() + 1);
      } else if (args[i] == name && i + 1 < args.size()) {
        *value = args[i + 1];
      }
    }
  }
  return flags;
}

Result<ApiServerFlags> parse_manifest(std::string_view yaml) {
  try {
    const YAML::Node doc = load_yaml(yaml);
    if (!doc.IsMap()) {
      return Error{"not a Pod manifest (expected a YAML mapping)"};
    }
    // A missing key is an invalid ("zombie") node: ask IsDefined() before anything else.
    const auto get = [](const YAML::Node& node, const char* key) {
      if (!node.IsDefined() || !node.IsMap()) {
        return YAML::Node();
      }
      const YAML::Node value = node[key];
      return value.IsDefined() ? value : YAML::Node();
    };
    const YAML::Node containers = get(get(doc, "spec"), "containers");
    if (!containers.IsDefined() || !containers.IsSequence() || containers.size() == 0) {
      return Error{"no spec.containers[0].command"};
    }
    std::size_t index = 0;
    for (std::size_t i = 0; i < containers.size(); ++i) {
      const YAML::Node name = get(containers[i], "name");
      if (name.IsDefined() && name.IsScalar() && name.Scalar() == "kube-apiserver") {
        index = i;
        break;
      }
    }
    const YAML::Node container = containers[index];
    const std::string field = "spec.containers[" + std::to_string(index) + "].";
    std::vector<std::string> args;
    for (const char* key : {"command", "args"}) {
      const YAML::Node list = get(container, key);
      if (!list.IsDefined() || list.IsNull()) {
        continue;
      }
      if (!list.IsSequence()) {
        return Error{field + key + " is not a list"};
      }
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (!list[i].IsDefined() || !list[i].IsScalar()) {
          return Error{field + key + "[" + std::to_string(i) + "] is not a string"};
        }
        args.push_back(list[i].Scalar());
      }
    }
    if (args.empty()) {
      return Error{"no " + field + "command"};
    }
    return apiserver_flags(args);
  } catch (const YAML::Exception& e) {
    return Error{std::string("invalid YAML: ") + e.what()};
  }
}

}  // namespace kp::core
