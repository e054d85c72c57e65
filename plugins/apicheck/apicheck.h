// kubectl-apicheck: checks the path from this client to the API server, layer by layer
// (config, proxy, DNS, TCP, TLS, auth, health, HA backends, metrics), and says which broke.
#pragma once

#include <chrono>
#include <cstdint>
#include <cxxopts.hpp>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/cli/cli.h"
#include "core/cli/command.h"
#include "core/kube/apiclient.h"
#include "core/kube/exec_credential.h"
#include "core/kube/kubeconfig.h"
#include "core/kube/kubectl_binary.h"
#include "core/net/http.h"
#include "core/net/net.h"
#include "core/net/proxy.h"
#include "core/net/tls.h"
#include "core/report/report.h"
#include "core/util/result.h"

namespace kp::apicheck {

// Everything apicheck does to the outside world, so unit tests can fake it.
struct Deps {
  std::shared_ptr<core::Network> net;
  // The diagnostic TLS handshake on a connected socket (core::probe_tls).
  std::function<core::Result<core::TlsProbe, core::TlsError>(int, const core::TlsProbeOptions&)>
      tls;
  // A fresh HTTP client: one per endpoint, so each endpoint's requests share one connection.
  std::function<std::unique_ptr<core::HttpClient>()> http;
  core::EnvLookup env;
  std::function<std::int64_t()> now;  // Unix seconds, the local clock
  core::ExecRunner exec;
  // The kubectl beside us (KUBECTL_PATH, else PATH), inspected without running it; an empty
  // path when there is none.
  std::function<core::KubectlBinary()> kubectl;
  // The gitVersion that running a kubectl binary reports, cached per binary ("" for none).
  std::function<std::string(const std::string&)> kubectlVersion;
  // HAProxy's `show stat` CSV from a stats socket path or a stats page URL (--haproxy-stats).
  std::function<core::Result<std::string>(const std::string&, std::chrono::milliseconds)>
      haproxyStats;
  // -v lines; empty: silent.
  std::function<void(const std::string&)> log;
  int verbosity = 0;

  // The real implementations, logging at `verbosity` to stderr.
  static Deps system(int verbosity);
};

// The whole invocation: filled by complete(), checked by validate(), executed by run().
struct Options {
  core::KubeFlags kube;
  core::OutputFormat output = core::OutputFormat::text;
  core::FailOn failOn = core::FailOn::fail;
  std::string timeoutText = "5s";
  std::string intervalText = "2s";
  std::vector<std::string> endpoints;  // --endpoints host:port,...
  bool allEndpoints = false;           // --all-endpoints: the EndpointSlices of default/kubernetes
  std::string haproxyStats;            // --haproxy-stats SOCKET|URL
  bool metrics = false;                // --metrics
  std::string dnsServer;               // --dns-server IP[:port]
  bool watch = false;                  // --watch
  int verbosity = 0;                   // -v

  // Set by validate().
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds interval{2000};

  // Set by load(); tests fill them directly.
  core::ClientConfig client;
  // Config-layer findings of loading (no kubeconfig, an unreadable one, ...; config_load.h).
  std::vector<core::Check> configChecks;
  // kubectl would stop before dialling (an unreadable kubeconfig): only the config layer runs.
  bool nothingToDial = false;
  // Why no authenticated request is made although the server is checked; "" otherwise.
  std::string credentialsRefused;
  // The server is kubectl's default (no kubeconfig gave one): see config_load.h.
  bool defaultServer = false;
  double configMs = 0;  // time spent loading the kubeconfig
  Deps deps;
  bool colour = false;

  // Reads the flags (-o, --fail-on and the kubectl flags already checked by the command).
  void complete(const core::Command& command);

  // Parses the other flag values; errors name the flag. Reads no file.
  core::Status validate();

  // Resolves the kubeconfig (after validate(), so a bad flag is named before any file is read);
  // errors name the file and field.
  core::Status load();

  // Runs every layer once and returns the report; never throws for network failures.
  core::Report check() const;

  // Runs the checks (or the watch loop), renders to `out` (warnings to `err`), returns the exit
  // code.
  int run(std::ostream& out, std::ostream& err) const;
};

// The flag definitions, with `program` as shown in --help.
// kubectl apicheck as a command: parse, validate, load, run; the exit code.
int run_command(const core::Invocation& invocation);

// --watch: probes every interval until `stop` says so, one line per round, then a summary of
// flaps and latency percentiles. Returns the exit code of the last round.
int watch(const Options& options, std::ostream& out, const std::function<bool()>& stop);

// The kubectl-apicheck entry point, called by cmd/kubectl-apicheck.cpp.
int main(int argc, char** argv);

}  // namespace kp::apicheck
