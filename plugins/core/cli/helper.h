// kubectl's completion helper, kubectl_complete-<tool>, as the plugin binary itself.
//
// kubectl (>= 1.26) runs kubectl_complete-<tool> with the words after `kubectl <tool>`
// (../shared/K8S-CLIENT-SPEC.md 9.4). The releases ship that helper as a copy of the plugin
// binary (no shell script: Windows has no /bin/sh); each cmd/kubectl-<tool>.cpp main() goes
// through plugin_main(), which sees the name and runs the plugin as
// `kubectl-<tool> __complete ARGS` (answered by run_main(), complete.h).
#pragma once

#include <string_view>

namespace kp::core {

// True when argv[0]'s file name (program_file_name: less ".exe" on Windows) is
// kubectl_complete-<tool>.
bool is_completion_helper(std::string_view argv0, std::string_view tool);

// Runs `main` (the plugin's) with argv as given, or, called as the completion helper of `tool`,
// with {kubectl-<tool>, __complete, argv[1..]}.
int plugin_main(std::string_view tool, int argc, char** argv, int (*main)(int, char**));

}  // namespace kp::core
