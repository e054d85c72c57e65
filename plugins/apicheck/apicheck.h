// kubectl-apicheck: checks the path from this client to the API server and says which layer
// broke. This version covers the kubeconfig and the unauthenticated health endpoints.
#pragma once

#include <chrono>
#include <cxxopts.hpp>
#include <iosfwd>
#include <memory>
#include <string>

#include "core/cli.h"
#include "core/http.h"
#include "core/kubeconfig.h"
#include "core/report.h"
#include "core/result.h"

namespace kp::apicheck {

// The whole invocation: filled by complete(), checked by validate(), executed by run().
struct Options {
  core::KubeFlags kube;
  std::string outputText = "text";
  std::string failOnText = "fail";
  std::string timeoutText = "5s";

  // Set by validate().
  core::OutputFormat output = core::OutputFormat::text;
  core::FailOn failOn = core::FailOn::fail;
  std::chrono::milliseconds timeout{5000};

  // Set by complete(); tests fill them directly.
  core::ClientConfig client;
  double configMs = 0;                     // time spent loading the kubeconfig
  std::shared_ptr<core::HttpClient> http;  // complete() installs CurlHttpClient if unset
  bool colour = false;

  // Reads the flags and resolves the kubeconfig; errors name the file, field or flag.
  core::Status complete(const cxxopts::ParseResult& parsed);

  // Parses the flag values; errors name the flag.
  core::Status validate();

  // Runs the checks and returns the report; never throws for network failures.
  core::Report check() const;

  // Runs the checks, renders the report to `out` (warnings to `err`), returns the exit code.
  int run(std::ostream& out, std::ostream& err) const;
};

// The flag definitions, with `program` as shown in --help.
cxxopts::Options make_cli(const std::string& program);

// The kubectl-apicheck entry point, called by cmd/kubectl-apicheck.cpp.
int main(int argc, char** argv);

}  // namespace kp::apicheck
