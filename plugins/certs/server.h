// `kubectl certs server`: the API server's live serving chain, one check per certificate,
// verified against the kubeconfig CA (or --ca) and the name dialled.
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <string>

#include "certs/certcheck.h"
#include "core/net/tls.h"

namespace kp::certs {

// Dials host:port and runs the TLS probe; the error says what failed (resolve, connect, TLS).
using ServerProbe = std::function<core::Result<core::TlsProbe>(
    const std::string& host, int port, const core::TlsProbeOptions& options)>;

// resolve_system + connect_tcp (each address in turn) + probe_tls.
core::Result<core::TlsProbe> probe_server(const std::string& host, int port,
                                          const core::TlsProbeOptions& options);

struct ServerOptions {
  CommonOptions common;
  std::string host;  // host (no brackets for IPv6)
  int port = 443;
  std::string serverName;  // SNI and the name checked against the SANs; "" = host
  std::string caPem;       // roots; "" = the system trust store
  std::string caSource;    // where caPem came from, for messages ("--ca /x", "kubeconfig")
  std::chrono::milliseconds timeout{5000};
  ServerProbe probe;  // probe_server when empty
};

core::Report check_server(const ServerOptions& options);
int run_server(const ServerOptions& options, std::ostream& out, std::ostream& err);

// Splits "host:port" / "[v6]:port"; the error names --host.
core::Result<std::pair<std::string, int>> parse_host_port(std::string_view text);

// The subcommand entry point from the command table.
int server_command(const core::Invocation& invocation);

}  // namespace kp::certs
