#include "core/cli/helper.h"

#include <string>
#include <vector>

#include "core/util/files.h"

namespace kp::core {

bool is_completion_helper(std::string_view argv0, std::string_view tool) {
  const std::string_view base = program_file_name(argv0);
  constexpr std::string_view kPrefix = "kubectl_complete-";
  return base.size() == kPrefix.size() + tool.size() && base.starts_with(kPrefix) &&
         base.substr(kPrefix.size()) == tool;
}

int plugin_main(std::string_view tool, int argc, char** argv, int (*main)(int, char**)) {
  if (argc < 1 || !is_completion_helper(argv[0], tool)) {
    return main(argc, argv);
  }
  std::string program = "kubectl-" + std::string(tool);
  std::string entry = "__complete";
  std::vector<char*> args{program.data(), entry.data()};
  args.insert(args.end(), argv + 1, argv + argc);
  args.push_back(nullptr);  // argv[argc] == nullptr, as in main()
  return main(static_cast<int>(args.size()) - 1, args.data());
}

}  // namespace kp::core
