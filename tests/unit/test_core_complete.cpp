#include <iostream>
#include <sstream>

#include <catch2/catch.hpp>

#include "apicheck/apicheck.h"
#include "certs/certs.h"
#include "core/cli/complete.h"
#include "core/cli/helper.h"
#include "core/util/version.h"
#include "support_invoke.h"

using namespace kp::core;
using kp::testsupport::invoke_main;
using kp::testsupport::Invoked;

namespace {

using Values = std::vector<std::string>;

Values values_of(const Completion& completion) {
  Values out;
  for (const Completion::Candidate& candidate : completion.candidates) {
    out.push_back(candidate.value);
  }
  return out;
}

// A command like netdebug's `run`: its own flags, then the kubectl flags.
cxxopts::Options run_like_cli() {
  cxxopts::Options cli("kubectl-netdebug run");
  cli.add_options("")                                                                         //
      ("node", "The node to check from", cxxopts::value<std::string>(), "NAME")               //
      ("all-nodes", "Check from every node")                                                  //
      ("profile", "Pod security profile: default, restricted or netadmin",                    //
       cxxopts::value<std::string>()->default_value("default"), "PROFILE")                    //
      ("dir", "Where to write", cxxopts::value<std::string>(), "DIR")                         //
      ("timeout", "How long a pod may take", cxxopts::value<std::string>(), "DURATION")       //
      ("o,output", "Output format: text, json or yaml", cxxopts::value<std::string>(), "F");  //
  KubeFlags::add_to(cli);
  return cli;
}

// Fake sources that record what they were asked.
struct Fakes {
  std::vector<LoadingRules> kubeconfigAsked;
  std::vector<std::pair<ConfigOverrides, std::string>> apiAsked;
  bool fail = false;

  CompletionSources sources() {
    CompletionSources s;
    s.kubeconfig = [this](const LoadingRules& rules) -> Result<Kubeconfig> {
      kubeconfigAsked.push_back(rules);
      if (fail) {
        return Error{"no kubeconfig"};
      }
      Kubeconfig config;
      config.contexts["lab"] = {};
      config.contexts["prod"] = {};
      config.clusters["lab-cluster"] = {};
      config.users["admin"] = {};
      config.users["viewer"] = {};
      return config;
    };
    s.apiNames = [this](const LoadingRules&, const ConfigOverrides& overrides,
                        std::string_view resource) -> Result<std::vector<std::string>> {
      apiAsked.emplace_back(overrides, std::string(resource));
      if (fail) {
        return Error{"connection refused"};
      }
      return resource == "nodes" ? Values{"kwok-node-0", "kwok-node-1"}
                                 : Values{"default", "kube-system"};
    };
    return s;
  }
};

Completion complete(const Values& args, std::string_view word, Fakes& fakes,
                    Positionals positionals = Positionals::none) {
  cxxopts::Options cli = run_like_cli();
  return complete_command(cli, args, word, positionals, fakes.sources());
}

}  // namespace

TEST_CASE("core::write_completion", "[complete]") {
  const Completion completion{{{"--context", "The kubeconfig context"}, {"lab", ""}},
                              kDirectiveNoFileComp};
  SECTION("cobra's format: value, tab, description; the directive last") {
    std::ostringstream out;
    write_completion(out, completion, true);
    CHECK(out.str() == "--context\tThe kubeconfig context\nlab\n:4\n");
  }
  SECTION("__completeNoDesc: values only") {
    std::ostringstream out;
    write_completion(out, completion, false);
    CHECK(out.str() == "--context\nlab\n:4\n");
  }
  SECTION("a newline cannot start another candidate") {
    std::ostringstream out;
    write_completion(out, {{{"a\nb", "one\ntwo"}}, kDirectiveDefault}, true);
    CHECK(out.str() == "a\tone\n:0\n");
  }
}

TEST_CASE("core::enum_values", "[complete]") {
  CHECK(enum_values("Output format: text, json or yaml") == Values{"text", "json", "yaml"});
  CHECK(enum_values("Output format: text, json, yaml or prometheus") ==
        Values{"text", "json", "yaml", "prometheus"});
  CHECK(enum_values("Exit 1 on: fail, or warn") == Values{"fail", "warn"});
  CHECK(enum_values("Pod security profile: default, restricted or netadmin") ==
        Values{"default", "restricted", "netadmin"});
  CHECK(enum_values("The kubeadm PKI directory").empty());
  CHECK(enum_values("Time to wait for a single server request, e.g. 1s, 2m; 0 = none").empty());
  CHECK(enum_values("Compare with: Google DNS").empty());
  CHECK(enum_values("Only one: text").empty());
}

TEST_CASE("core::complete_command flag names", "[complete]") {
  Fakes fakes;
  SECTION("long names with their descriptions, by prefix") {
    const Completion c = complete({}, "--con", fakes);
    REQUIRE(values_of(c) == Values{"--context"});
    CHECK(c.candidates[0].description == "The name of the kubeconfig context to use");
    CHECK(c.directive == kDirectiveNoFileComp);
  }
  SECTION("'-' offers every flag, short forms too") {
    const Values v = values_of(complete({}, "-", fakes));
    for (const char* flag : {"--node", "--all-nodes", "-o", "--output", "-n", "--namespace",
                             "--kubeconfig", "--as-group"}) {
      CHECK(std::find(v.begin(), v.end(), flag) != v.end());
    }
  }
  SECTION("a flag given once is not offered again, a repeatable one is") {
    const Values v = values_of(complete({"--context", "lab", "--as-group", "g"}, "--", fakes));
    CHECK(std::find(v.begin(), v.end(), "--context") == v.end());
    CHECK(std::find(v.begin(), v.end(), "--as-group") != v.end());
    CHECK(values_of(complete({"-o", "json"}, "--out", fakes)).empty());
  }
  SECTION("nothing for an unknown prefix") {
    CHECK(values_of(complete({}, "--bogus", fakes)).empty());
  }
}

TEST_CASE("core::complete_command flag values", "[complete]") {
  Fakes fakes;
  SECTION("--context, --cluster, --user: names in the kubeconfig") {
    CHECK(values_of(complete({"--context"}, "", fakes)) == Values{"lab", "prod"});
    CHECK(values_of(complete({"--context"}, "p", fakes)) == Values{"prod"});
    CHECK(values_of(complete({"--cluster"}, "", fakes)) == Values{"lab-cluster"});
    CHECK(values_of(complete({"--user"}, "", fakes)) == Values{"admin", "viewer"});
    CHECK(complete({"--user"}, "", fakes).directive == kDirectiveNoFileComp);
  }
  SECTION("the kubeconfig named by --kubeconfig typed before") {
    complete({"--kubeconfig", "/k/config", "--context"}, "", fakes);
    REQUIRE(fakes.kubeconfigAsked.size() == 1);
    CHECK(fakes.kubeconfigAsked[0].explicitPath == "/k/config");
  }
  SECTION("--flag=value: bare values, as cobra answers") {
    CHECK(values_of(complete({}, "--context=l", fakes)) == Values{"lab"});
    CHECK(values_of(complete({}, "--output=", fakes)) == Values{"text", "json", "yaml"});
    CHECK(values_of(complete({}, "--all-nodes=", fakes)).empty());
  }
  SECTION("-n/--namespace and --node: from the API server the typed flags select") {
    CHECK(values_of(complete({"--context", "prod", "-n"}, "", fakes)) ==
          Values{"default", "kube-system"});
    CHECK(values_of(complete({"--node"}, "kwok-node-1", fakes)) == Values{"kwok-node-1"});
    REQUIRE(fakes.apiAsked.size() == 2);
    CHECK(fakes.apiAsked[0].first.context == "prod");
    CHECK(fakes.apiAsked[0].second == "namespaces");
    CHECK(fakes.apiAsked[1].second == "nodes");
  }
  SECTION("quiet when the kubeconfig or the API server fails") {
    fakes.fail = true;
    const Completion context = complete({"--context"}, "", fakes);
    CHECK(context.candidates.empty());
    CHECK(context.directive == kDirectiveNoFileComp);
    CHECK(complete({"--node"}, "", fakes).candidates.empty());
  }
  SECTION("values listed in the help text") {
    CHECK(values_of(complete({"-o"}, "", fakes)) == Values{"text", "json", "yaml"});
    CHECK(values_of(complete({"--profile"}, "r", fakes)) == Values{"restricted"});
  }
  SECTION("files and directories") {
    CHECK(complete({"--kubeconfig"}, "", fakes).directive == kDirectiveDefault);
    CHECK(complete({"--certificate-authority"}, "/et", fakes).directive == kDirectiveDefault);
    CHECK(complete({"--dir"}, "", fakes).directive == kDirectiveFilterDirs);
  }
  SECTION("anything else: nothing, and no files") {
    const Completion c = complete({"--timeout"}, "", fakes);
    CHECK(c.candidates.empty());
    CHECK(c.directive == kDirectiveNoFileComp);
  }
}

TEST_CASE("core::complete_command positional words", "[complete]") {
  Fakes fakes;
  SECTION("after a boolean flag the word is not its value") {
    const Completion c = complete({"--all-nodes"}, "", fakes);
    CHECK(c.candidates.empty());
    CHECK(c.directive == kDirectiveNoFileComp);
    CHECK(fakes.apiAsked.empty());
  }
  SECTION("after a flag's value") {
    CHECK(complete({"--node", "a"}, "", fakes).directive == kDirectiveNoFileComp);
  }
  SECTION("a command that takes files") {
    CHECK(complete({}, "", fakes, Positionals::files).directive == kDirectiveDefault);
  }
  SECTION("a command that takes a node") {
    CHECK(values_of(complete({"--context", "lab"}, "kwok-node-0", fakes, Positionals::nodes)) ==
          Values{"kwok-node-0"});
    REQUIRE(fakes.apiAsked.size() == 1);
    CHECK(fakes.apiAsked[0].first.context == "lab");
  }
}

TEST_CASE("core::complete_subcommands", "[complete]") {
  SECTION("names with their summaries") {
    const Completion c = complete_subcommands(kp::certs::commands(), "");
    CHECK(values_of(c) == Values{"server", "kubeconfig", "pki", "node", "secrets", "file"});
    CHECK(c.candidates[0].description == "Inspect the API server's live serving certificate chain");
    CHECK(c.directive == kDirectiveNoFileComp);
  }
  SECTION("by prefix") {
    CHECK(values_of(complete_subcommands(kp::certs::commands(), "s")) ==
          Values{"server", "secrets"});
  }
  SECTION("flags before a command") {
    CHECK(values_of(complete_subcommands(kp::certs::commands(), "-")) ==
          Values{"--help", "--version"});
  }
}

TEST_CASE("core::parse_or_complete", "[complete]") {
  SECTION("outside completion mode it parses") {
    cxxopts::Options cli = run_like_cli();
    const ArgvView argv("kubectl-netdebug run", {"--node", "n1"});
    CHECK(completion_request() == nullptr);
    const std::optional<cxxopts::ParseResult> parsed =
        parse_or_complete(cli, argv.argc(), argv.argv());
    REQUIRE(parsed);
    CHECK((*parsed)["node"].as<std::string>() == "n1");
  }
}

TEST_CASE("core::run_main __complete", "[complete]") {
  SECTION("a command's flag values, through the plugin's own parse") {
    const Invoked r =
        invoke_main(kp::certs::main, {"kubectl-certs", "__complete", "server", "--fail-on", ""});
    CHECK(r.code == 0);
    CHECK(r.out == "fail\nwarn\n:4\n");
    CHECK(r.err.empty());
  }
  SECTION("the command names, with and without descriptions") {
    CHECK(
        invoke_main(kp::certs::main, {"kubectl-certs", "__complete", "p"}).out ==
        "pki\tInspect the PKI of kubeadm, k3s, RKE2, MicroK8s or OpenShift on this machine\n:4\n");
    CHECK(invoke_main(kp::certs::main, {"kubectl-certs", "__completeNoDesc", "p"}).out ==
          "pki\n:4\n");
    CHECK(
        invoke_main(kp::certs::main, {"kubectl-certs", "__complete"}).out.starts_with("server\t"));
  }
  SECTION("apicheck, which has no commands") {
    const Invoked r = invoke_main(kp::apicheck::main, {"kubectl-apicheck", "__complete", "--all"});
    CHECK(r.out ==
          "--all-endpoints\tCheck every backend of the EndpointSlices of "
          "default/kubernetes\n:4\n");
  }
  SECTION("`certs file` takes files") {
    CHECK(invoke_main(kp::certs::main, {"kubectl-certs", "__complete", "file", ""}).out == ":0\n");
  }
  SECTION("what a command prints while being completed stays out of the answer") {
    const Invoked r = invoke_main(kp::certs::main, {"kubectl-certs", "__complete", "bogus", ""});
    CHECK(r.code == 0);
    CHECK(r.out == ":4\n");
    CHECK(r.err.empty());
    CHECK(completion_request() == nullptr);
  }
  SECTION("the shells of `completion`") {
    CHECK(invoke_main(kp::certs::main, {"kubectl-certs", "__complete", "completion", ""}).out ==
          "bash\nfish\nzsh\n:4\n");
  }
  SECTION("called as its completion helper, kubectl_complete-<tool>: as `__complete ARGS`") {
    const auto certs = [](int argc, char** argv) {
      return plugin_main("certs", argc, argv, kp::certs::main);
    };
    const Invoked r = invoke_main(
        certs, {"/opt/krew/store/certs/v1/kubectl_complete-certs", "server", "--fail-on", ""});
    CHECK(r.code == 0);
    CHECK(r.out == "fail\nwarn\n:4\n");
    CHECK(r.err.empty());
    const auto apicheck = [](int argc, char** argv) {
      return plugin_main("apicheck", argc, argv, kp::apicheck::main);
    };
    CHECK(invoke_main(apicheck, {"kubectl_complete-apicheck.exe", "--all"}).out ==
          "--all-endpoints\tCheck every backend of the EndpointSlices of "
          "default/kubernetes\n:4\n");
    CHECK(invoke_main(certs, {"kubectl_complete-certs"}).out.starts_with("server\t"));
  }
  SECTION("as itself, or under another plugin's helper name, it runs as called") {
    const auto certs = [](int argc, char** argv) {
      return plugin_main("certs", argc, argv, kp::certs::main);
    };
    const Invoked r = invoke_main(certs, {"kubectl_complete-apicheck", "server", "-h"});
    CHECK(r.code == 0);
    CHECK(r.out.find("--fail-on") != std::string::npos);
    CHECK(invoke_main(certs, {"kubectl-certs", "--version"}).out ==
          "kubectl-certs version " + std::string(kp::core::kVersion) + "\n");
  }
}

TEST_CASE("core::completion_command", "[complete]") {
  SECTION("a script per shell, for the binary it belongs to") {
    const Invoked bash = invoke_main(kp::certs::main, {"kubectl-certs", "completion", "bash"});
    CHECK(bash.code == 0);
    CHECK(bash.out.find("complete -F __kubectl_certs_complete kubectl-certs\n") !=
          std::string::npos);
    CHECK(bash.out.find("@BIN@") == std::string::npos);
    CHECK(bash.out.find("@FN@") == std::string::npos);
    const Invoked zsh = invoke_main(kp::apicheck::main, {"kubectl-apicheck", "completion", "zsh"});
    CHECK(zsh.out.starts_with("#compdef kubectl-apicheck\n"));
    CHECK(zsh.out.find("compdef __kubectl_apicheck_complete kubectl-apicheck\n") !=
          std::string::npos);
    const Invoked fish = invoke_main(kp::certs::main, {"kubectl-certs", "completion", "fish"});
    CHECK(fish.out.find("complete -c kubectl-certs -f -a '(__kubectl_certs_complete)'\n") !=
          std::string::npos);
  }
  SECTION("bad input: exit 2 and a clear error") {
    const Invoked tcsh = invoke_main(kp::certs::main, {"kubectl-certs", "completion", "tcsh"});
    CHECK(tcsh.code == 2);
    CHECK(tcsh.err ==
          "kubectl-certs: error: unsupported shell \"tcsh\": choose bash, zsh or fish\n");
    const Invoked none = invoke_main(kp::apicheck::main, {"kubectl-apicheck", "completion"});
    CHECK(none.code == 2);
    CHECK(none.err ==
          "kubectl-apicheck: error: give one shell: kubectl-apicheck completion "
          "bash|zsh|fish\n");
    CHECK(invoke_main(kp::certs::main, {"kubectl-certs", "completion", "--help"}).code == 0);
  }
}
