// Test support: runs a plugin's main(argc, argv), or one of its commands, in-process with what
// it prints captured, as the process would be run. Named invoke_* so as not to be mistaken for
// kp::core::run_process, which starts real processes.
#pragma once

#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/cli/cli.h"

namespace kp::testsupport {

// What a run returned and printed.
struct Invoked {
  int code = 0;
  std::string out;
  std::string err;
};

// Runs `main` with `args` (args[0] is the program) while std::cout and std::cerr go to strings;
// they are restored even when `main` throws.
inline Invoked invoke_main(const std::function<int(int, char**)>& main,
                           std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  std::ostringstream out;
  std::ostringstream err;
  struct Restore {
    std::streambuf* out;
    std::streambuf* err;
    ~Restore() {
      std::cout.rdbuf(out);
      std::cerr.rdbuf(err);
    }
  } restore{std::cout.rdbuf(out.rdbuf()), std::cerr.rdbuf(err.rdbuf())};
  const int code = main(static_cast<int>(args.size()), argv.data());
  return {code, out.str(), err.str()};
}

// The names an Invocation carries besides its arguments and streams.
struct CommandName {
  std::string program;  // "kubectl netdebug"
  std::string tool;     // "netdebug"
  std::string command;  // "local"
  std::string_view summary;
};

// Runs a command with `args` (after the subcommand name), its out and err captured.
inline Invoked invoke_command(const std::function<int(const core::Invocation&)>& command,
                              const CommandName& name, std::vector<std::string> args) {
  std::ostringstream out;
  std::ostringstream err;
  const core::Invocation invocation{name.program,    name.tool, name.command, name.summary,
                                    std::move(args), out,       err};
  const int code = command(invocation);
  return {code, out.str(), err.str()};
}

}  // namespace kp::testsupport
