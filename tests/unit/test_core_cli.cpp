#include <iostream>
#include <sstream>

#include <catch2/catch.hpp>

#include "certs/certs.h"
#include "core/cli/cli.h"
#include "core/cli/helper.h"
#include "support_invoke.h"

using namespace kp::core;

namespace {

// Runs a table-driven plugin in-process and captures what it prints.
kp::testsupport::Invoked run_certs(std::vector<std::string> args) {
  args.insert(args.begin(), "kubectl-certs");
  return kp::testsupport::invoke_main(
      [](int argc, char** argv) {
        return dispatch_subcommand("certs", "Certificates.", kp::certs::commands(), argc, argv,
                                   std::cout, std::cerr);
      },
      std::move(args));
}

}  // namespace

TEST_CASE("core::program_name", "[cli]"){SECTION("kubectl dispatch shows the kubectl form"){CHECK(
    program_name("/usr/local/bin/kubectl-apicheck", "/usr/bin/kubectl") == "kubectl apicheck");
}
SECTION("underscores in the file name are dashes in the command") {
  CHECK(program_name("kubectl-foo_bar", "/usr/bin/kubectl") == "kubectl foo-bar");
}
SECTION("run directly, the basename is kept") {
  CHECK(program_name("/usr/local/bin/kubectl-apicheck", nullptr) == "kubectl-apicheck");
  CHECK(program_name("./build/kubectl-certs", nullptr) == "kubectl-certs");
}
SECTION("a binary not named kubectl-* keeps its name even under kubectl") {
  CHECK(program_name("/tmp/apicheck", "/usr/bin/kubectl") == "apicheck");
}
#ifdef _WIN32
SECTION("on Windows kubectl runs a plugin by its full path, .exe and all") {
  CHECK(program_name("C:\\Users\\me\\.krew\\bin\\kubectl-netdebug.exe", "C:\\bin\\kubectl.exe") ==
        "kubectl netdebug");
  CHECK(program_name("C:\\tools\\KUBECTL-CERTS.EXE", nullptr) == "KUBECTL-CERTS");
}
#else
SECTION("a backslash is no separator outside Windows") {
  CHECK(program_name("dir\\kubectl-certs", "/usr/bin/kubectl") == "dir\\kubectl-certs");
}
#endif
}

TEST_CASE("core::is_completion_helper", "[cli]") {
  SECTION("kubectl_complete-<tool>, by basename, with or without .exe") {
    CHECK(is_completion_helper("kubectl_complete-certs", "certs"));
    CHECK(is_completion_helper("/root/.krew/store/certs/v0.1.0/kubectl_complete-certs", "certs"));
    CHECK(is_completion_helper("kubectl_complete-certs.exe", "certs"));
#ifdef _WIN32
    CHECK(is_completion_helper("C:\\krew\\bin\\kubectl_complete-certs.EXE", "certs"));
#endif
  }
  SECTION("any other name is the plugin itself") {
    CHECK_FALSE(is_completion_helper("kubectl-certs", "certs"));
    CHECK_FALSE(is_completion_helper("/usr/bin/kubectl_complete-certs/kubectl-certs", "certs"));
    CHECK_FALSE(is_completion_helper("kubectl_complete-apicheck", "certs"));
    CHECK_FALSE(is_completion_helper("kubectl_complete-certsx", "certs"));
    CHECK_FALSE(is_completion_helper("kubectl_complete-", "certs"));
    CHECK_FALSE(is_completion_helper("", "certs"));
  }
}

TEST_CASE("core::edit_distance", "[cli]") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("server", "server") == 0);
  CHECK(edit_distance("sever", "server") == 1);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
}

TEST_CASE("core::did_you_mean", "[cli]") {
  const std::vector<std::string> names{"server", "kubeconfig", "pki", "node", "secrets", "file"};
  SECTION("close typos") {
    CHECK(did_you_mean("sever", names) == std::vector<std::string>{"server"});
    CHECK(did_you_mean("secret", names) == std::vector<std::string>{"secrets"});
  }
  SECTION("prefixes") {
    CHECK(did_you_mean("kube", names) == std::vector<std::string>{"kubeconfig"});
  }
  SECTION("best match first") {
    CHECK(did_you_mean("rnu", {"ran", "run", "rnu"}) ==
          std::vector<std::string>{"rnu", "ran", "run"});
  }
  SECTION("nothing close") {
    CHECK(did_you_mean("zzzzzz", names).empty());
  }
}

TEST_CASE("core::parse_duration", "[cli]") {
  using std::chrono::milliseconds;
  CHECK(parse_duration("0").value() == milliseconds(0));
  CHECK(parse_duration("30").value() == milliseconds(30000));
  CHECK(parse_duration("5s").value() == milliseconds(5000));
  CHECK(parse_duration("500ms").value() == milliseconds(500));
  CHECK(parse_duration("1m30s").value() == milliseconds(90000));
  CHECK(parse_duration("1.5h").value() == milliseconds(5400000));
  CHECK(parse_duration("5x").error().message ==
        "invalid duration \"5x\": use seconds or a duration such as 500ms, 5s, 2m or 1m30s");
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("-5s"));
}

TEST_CASE("core::parse_positive_duration names the flag", "[cli]") {
  CHECK(*parse_positive_duration("--timeout", "2s") == std::chrono::seconds(2));
  const auto zero = parse_positive_duration("--timeout", "0");
  REQUIRE_FALSE(zero);
  CHECK(zero.error().message == "--timeout: must be greater than 0");
  const auto bad = parse_positive_duration("--interval", "abc");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.starts_with("--interval: invalid duration \"abc\""));
}

TEST_CASE("core::KubeFlags::read_from", "[cli]") {
  cxxopts::Options options("kubectl-test");
  KubeFlags::add_to(options);
  SECTION("reads every kind of flag") {
    const ArgvView argv(
        "kubectl-test",
        {"-n", "kube-system", "--context=lab", "-s", "https://h:6443", "--insecure-skip-tls-verify",
         "--as=alice", "--as-group", "a", "--as-group", "b,c", "--as-user-extra", "scopes=view",
         "--request-timeout", "2s"});
    const auto flags = KubeFlags::read_from(options.parse(argv.argc(), argv.argv()));
    REQUIRE(flags);
    CHECK(flags->overrides.namespaceName == "kube-system");
    CHECK(flags->overrides.context == "lab");
    CHECK(flags->overrides.server == "https://h:6443");
    CHECK(flags->overrides.insecureSkipTlsVerify);
    CHECK(flags->overrides.impersonate == "alice");
    // A comma belongs to the value, as in kubectl's string arrays.
    CHECK(flags->overrides.impersonateGroups == std::vector<std::string>{"a", "b,c"});
    CHECK(flags->overrides.impersonateUserExtra.at("scopes") == std::vector<std::string>{"view"});
    CHECK(flags->requestTimeout == "2s");
    CHECK_FALSE(flags->overrides.disableCompression);
  }
  SECTION("unset flags stay empty") {
    const ArgvView argv("kubectl-test", {});
    const auto flags = KubeFlags::read_from(options.parse(argv.argc(), argv.argv()));
    REQUIRE(flags);
    CHECK(flags->kubeconfig.empty());
    CHECK(flags->overrides.server.empty());
    CHECK_FALSE(flags->overrides.insecureSkipTlsVerify);
  }
  SECTION("errors name the flag") {
    const ArgvView extra("kubectl-test", {"--as-user-extra", "novalue"});
    CHECK(KubeFlags::read_from(options.parse(extra.argc(), extra.argv())).error().message ==
          "--as-user-extra: \"novalue\" is not in key=value form");
    const ArgvView timeout("kubectl-test", {"--request-timeout", "soon"});
    CHECK(KubeFlags::read_from(options.parse(timeout.argc(), timeout.argv())).error().message ==
          "--request-timeout: invalid duration \"soon\": use seconds or a duration such as "
          "500ms, 5s, 2m or 1m30s");
  }
}

TEST_CASE("core::dispatch_subcommand", "[cli]") {
  SECTION("help lists the table") {
    const kp::testsupport::Invoked r = run_certs({"--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("Usage:\n  kubectl-certs <command> [flags]") != std::string::npos);
    CHECK(r.out.find("  server      Inspect the API server's live serving certificate chain\n") !=
          std::string::npos);
    CHECK(r.err.empty());
  }
  SECTION("version") {
    const kp::testsupport::Invoked r = run_certs({"--version"});
    CHECK(r.code == 0);
    CHECK(r.out == "kubectl-certs version 0.1.0\n");
  }
  SECTION("unknown command with a suggestion") {
    const kp::testsupport::Invoked r = run_certs({"sever"});
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(r.err ==
          "kubectl-certs: error: unknown command \"sever\" for \"kubectl-certs\"\n\n"
          "Did you mean this?\n\tserver\n\n"
          "Run 'kubectl-certs --help' for usage.\n");
  }
  SECTION("unknown command without a suggestion") {
    const kp::testsupport::Invoked r = run_certs({"frobnicate"});
    CHECK(r.code == 2);
    CHECK(r.err ==
          "kubectl-certs: error: unknown command \"frobnicate\" for \"kubectl-certs\"\n"
          "Run 'kubectl-certs --help' for usage.\n");
  }
  SECTION("a command's --help") {
    const kp::testsupport::Invoked r = run_certs({"server", "--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("Usage:\n  kubectl-certs server [flags]") != std::string::npos);
  }
}

TEST_CASE("core::run_main", "[cli]") {
  const kp::testsupport::Invoked r = kp::testsupport::invoke_main(
      [](int argc, char** argv) {
        return run_main("apicheck", argc, argv, [](int, char**) -> int {
          throw cxxopts::exceptions::no_such_option("bogus");
        });
      },
      {"kubectl-apicheck"});
  CHECK(r.code == 2);
#ifdef _WIN32
  // cxxopts quotes with ' on Windows (its LQUOTE/RQUOTE), " elsewhere.
  CHECK(r.err == "kubectl-apicheck: error: Option 'bogus' does not exist\n");
#else
  CHECK(r.err == "kubectl-apicheck: error: Option \"bogus\" does not exist\n");
#endif
}
