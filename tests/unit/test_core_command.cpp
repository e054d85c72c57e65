// core::Command: the one shape every subcommand parses with.
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/cli/command.h"

using namespace kp::core;

namespace {

struct Parsed {
  std::optional<int> done;
  std::string out;
  std::string err;
};

// Builds `kubectl demo try` with one flag of its own and parses `args`.
struct Demo {
  std::ostringstream out;
  std::ostringstream err;
  Invocation invocation{"kubectl demo", "demo", "try", "Try it", {}, out, err};
  Command command{invocation, ": a demonstration.", "[flags]"};

  std::optional<int> parse(std::vector<std::string> args, const CommonFlags& flags = {}) {
    invocation.args = std::move(args);
    command.options().add_options("")("size", "A size", cxxopts::value<int>()->default_value("1"),
                                      "N");
    return command.parse(flags);
  }
};

}  // namespace

TEST_CASE("core::Command parses its own, the common and the kubectl flags", "[cli][command]") {
  Demo demo;
  CommonFlags flags;
  flags.verbosity = "Log level";
  REQUIRE_FALSE(demo.parse({"--size", "3", "-o", "json", "--fail-on", "warn", "-v", "6",
                            "--context", "c1", "-n", "ns", "--request-timeout", "2s"},
                           flags));
  CHECK(demo.command.flags()["size"].as<int>() == 3);
  CHECK(demo.command.output() == OutputFormat::json);
  CHECK(demo.command.output_text() == "json");
  CHECK(demo.command.fail_on() == FailOn::warn);
  CHECK(demo.command.verbosity() == 6);
  CHECK(demo.command.kube().overrides.context == "c1");
  CHECK(demo.command.kube().overrides.namespaceName == "ns");
  CHECK(demo.command.request_timeout(std::chrono::seconds(10)) == std::chrono::seconds(2));
  CHECK(demo.command.usage() == "kubectl demo try");
  CHECK(demo.err.str().empty());
}

TEST_CASE("core::Command ends with 0 after --help, printing the command's flags",
          "[cli][command]") {
  Demo demo;
  CHECK(demo.parse({"--help"}) == 0);
  CHECK(demo.out.str().find("Try it: a demonstration.") != std::string::npos);
  CHECK(demo.out.str().find("--size N") != std::string::npos);
  CHECK(demo.out.str().find("--fail-on") != std::string::npos);
  CHECK(demo.out.str().find("--kubeconfig") != std::string::npos);
}

TEST_CASE("core::Command refuses bad common flags with exit 2, naming the flag", "[cli][command]") {
  SECTION("-o") {
    Demo demo;
    CHECK(demo.parse({"-o", "xml"}) == 2);
    CHECK(demo.err.str() ==
          "kubectl-demo: error: --output: unsupported format \"xml\", must be text, json or "
          "yaml\n");
  }
  SECTION("--fail-on") {
    Demo demo;
    CHECK(demo.parse({"--fail-on", "never"}) == 2);
    CHECK(demo.err.str() ==
          "kubectl-demo: error: --fail-on: unsupported value \"never\", must be fail or warn\n");
  }
  SECTION("an argument a command without positionals does not take") {
    Demo demo;
    CHECK(demo.parse({"extra"}) == 2);
    CHECK(demo.err.str() ==
          "kubectl-demo: error: unexpected argument \"extra\"; see kubectl demo try --help\n");
  }
  SECTION("a kubectl flag") {
    Demo demo;
    CHECK(demo.parse({"--request-timeout", "soon"}) == 2);
    CHECK(demo.err.str().starts_with("kubectl-demo: error: --request-timeout"));
  }
}

TEST_CASE("core::Command leaves -o to the command when it is not a core format", "[cli][command]") {
  Demo demo;
  CommonFlags flags;
  flags.output = "Output format: text, json, yaml or prometheus";
  flags.coreOutput = false;
  flags.failOn = false;
  flags.positionals = Positionals::files;
  REQUIRE_FALSE(demo.parse({"-o", "prometheus", "a.pem", "b.pem"}, flags));
  CHECK(demo.command.output_text() == "prometheus");
  CHECK(demo.command.positionals() == std::vector<std::string>{"a.pem", "b.pem"});
}
