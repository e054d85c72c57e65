#include "netdebug/local.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <unistd.h>

#include "core/cli/command.h"
#include "core/net/net.h"
#include "core/util/text.h"
#include "core/util/url.h"
#include "netdebug/local_detail.h"

namespace kp::netdebug {

using detail::basename_of;
using detail::join_path;
using detail::node_check;
using detail::parse_number;
using detail::set;

namespace {

constexpr std::string_view kTool = "netdebug";
constexpr const char* kDefaultManifest = "etc/kubernetes/manifests/kube-apiserver.yaml";

using Clock = std::chrono::steady_clock;

template <class F>
core::Check timed(F&& body) {
  const Clock::time_point start = Clock::now();
  core::Check check = body();
  check.durationMs = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return check;
}

core::Check listen_check(const LocalSystem& sys, int port,
                         const std::vector<ProcessInfo>& processes,
                         const std::optional<ApiServerFlags>& manifest) {
  std::vector<TcpSocket> sockets;
  std::vector<std::string> unreadable;
  for (const char* name : {"net/tcp", "net/tcp6"}) {
    const std::string path = join_path(sys.procDir, name);
    core::Result<std::string> contents = sys.readFile(path);
    if (!contents) {
      unreadable.push_back(contents.error().message);
      continue;
    }
    std::vector<TcpSocket> parsed = parse_proc_net_tcp(*contents);
    sockets.insert(sockets.end(), parsed.begin(), parsed.end());
  }
  if (unreadable.size() == 2) {
    core::Check check = node_check("node.listen");
    set(check, core::CheckStatus::skip,
        core::join(unreadable, "; ") + ": cannot see which sockets listen");
    return check;
  }
  std::set<std::uint64_t> inodes;
  for (const TcpSocket& socket : sockets) {
    if (socket.state == kTcpListen && socket.localPort == port && socket.inode != 0) {
      inodes.insert(socket.inode);
    }
  }
  const std::map<std::uint64_t, int> owners = sys.socketOwners(inodes);
  std::map<int, std::string> names;
  for (const ProcessInfo& process : processes) {
    if (!process.argv.empty()) {
      names[process.pid] = basename_of(process.argv[0]);
    }
  }
  return check_listen(port, sockets, owners, names, manifest);
}

core::Check mtu_check(const LocalSystem& sys, const LocalOptions& options) {
  core::Check check = node_check("node.mtu");
  if (options.server.empty()) {
    set(check, core::CheckStatus::skip,
        "no API server to probe: " + (options.serverError.empty()
                                          ? std::string("no server in the kubeconfig")
                                          : options.serverError));
    return check;
  }
  const core::UrlParts url = core::split_url(options.server);
  std::string ip = url.host;
  if (!core::is_ip_literal(ip)) {
    const std::vector<std::string> addresses = sys.resolve(url.host);
    if (addresses.empty()) {
      set(check, core::CheckStatus::skip,
          "cannot resolve " + url.host + ": path MTU not probed (kubectl apicheck checks DNS)");
      return check;
    }
    ip = addresses.front();
  }
  return check_mtu(sys, ip);
}

}  // namespace

core::Report run_local(const LocalSystem& sys, const LocalOptions& options) {
  core::Report report;
  report.tool = std::string(kTool);
  report.target = options.target;
  const std::string manifestPath = options.manifestPath.empty()
                                       ? join_path(sys.rootDir, kDefaultManifest)
                                       : options.manifestPath;
  ManifestState manifest;
  const core::Check manifestCheck = timed([&] {
    manifest = check_manifest(sys, manifestPath, !options.manifestPath.empty(), options.port);
    return manifest.check;
  });
  std::vector<ProcessInfo> processes;
  const Clock::time_point listStart = Clock::now();
  processes = sys.processes();
  const double listMs = std::chrono::duration<double, std::milli>(Clock::now() - listStart).count();
  report.checks.push_back(
      timed([&] { return listen_check(sys, options.port, processes, manifest.flags); }));
  report.checks.push_back(timed([&] { return check_iptables(sys, options.port); }));
  report.checks.push_back(timed([&] { return check_nftables(sys, options.port); }));
  report.checks.push_back(timed([&] { return check_firewalld(sys, options.port); }));
  report.checks.push_back(manifestCheck);
  core::Check process =
      timed([&] { return check_process(processes, options.port, manifest.flags); });
  process.durationMs += listMs;
  report.checks.push_back(process);
  report.checks.push_back(timed([&] { return mtu_check(sys, options); }));
  return report;
}

int local_command(const core::Invocation& invocation) {
  core::Command command(
      invocation,
      ": what listens on the API server's port, iptables/nftables rules and firewalld, the "
      "kube-apiserver static pod manifest and process, and the path MTU towards the current "
      "context's server. Run it on a control-plane node, as root.",
      "[flags]");
  command.options().add_options("")  //
      ("port",
       "The API server's port (default: the port of the current context's server, else 6443)",
       cxxopts::value<std::string>(), "PORT")  //
      ("manifest",
       "kube-apiserver's static pod manifest (default: "
       "/etc/kubernetes/manifests/kube-apiserver.yaml under --root)",
       cxxopts::value<std::string>(), "FILE")  //
      ("proc", "Read /proc from this directory (for testing on another root)",
       cxxopts::value<std::string>()->default_value("/proc"), "DIR")  //
      ("root", "Read /etc and /sys under this directory (for testing on another root)",
       cxxopts::value<std::string>()->default_value("/"), "DIR");
  if (std::optional<int> done = command.parse()) {
    return *done;
  }
  const auto fail = [&command](const std::string& message) { return command.fail(message); };
#ifdef _WIN32
  // What `local` reads (/proc/net, iptables and nftables, the static pod manifest, the
  // kube-apiserver process) exists only on the Linux node itself.
  return core::print_error(
      invocation.err, "netdebug",
      "`netdebug local` cannot run on Windows: it reads the node's Linux /proc and netfilter "
      "rules\nhint: run kubectl-netdebug local on the control-plane node itself (as root), or "
      "`kubectl netdebug run` from here to check the nodes through debug pods");
#endif
#ifdef __APPLE__
  // Everything `local` reads is Linux's (/proc, netfilter, a kubelet's static pods): a
  // control-plane node's, never a Mac's.
  return fail(
      "local checks a Linux control-plane node (/proc, iptables/nftables, the kube-apiserver "
      "static pod) and this is macOS; run it on the node itself (a Linux kubectl-netdebug, e.g. "
      "over ssh), or check the nodes from here with `kubectl netdebug run`");
#endif
  const cxxopts::ParseResult& parsed = command.flags();
  LocalOptions options;
  for (const char* flag : {"proc", "root"}) {
    const std::string dir = parsed[flag].as<std::string>();
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      return fail(std::string("--") + flag + ": " + core::quote(dir) + " is not a directory");
    }
  }
  const LocalSystem sys =
      LocalSystem::system(parsed["proc"].as<std::string>(), parsed["root"].as<std::string>());
  if (parsed.count("manifest") > 0) {
    options.manifestPath = parsed["manifest"].as<std::string>();
    if (options.manifestPath.empty()) {
      return fail("--manifest: give a file");
    }
  }
  std::optional<int> port;
  if (parsed.count("port") > 0) {
    const std::string text = parsed["port"].as<std::string>();
    const std::optional<std::int64_t> number = parse_number(text, 65535);
    if (!number || *number == 0) {
      return fail("--port: " + core::quote(text) + " is not a port number (1-65535)");
    }
    port = static_cast<int>(*number);
  }
  // The kubeconfig only supplies the port and the MTU probe's target: a broken one is a skip
  // reason here (kubectl apicheck is the tool that judges it).
  core::Result<core::ClientConfig> client = command.client_config();
  if (client) {
    options.server = client->server;
    options.target = {client->contextName, client->clusterName, client->server};
    const core::UrlParts url = core::split_url(client->server);
    if (!port) {
      port = static_cast<int>(parse_number(url.port, 65535).value_or(6443));
    }
  } else {
    options.serverError = "kubeconfig: " + client.error().message;
  }
  options.port = port.value_or(6443);
  const core::Report report = run_local(sys, options);
  core::render(invocation.out, report, command.output(),
               &invocation.out == &std::cout && core::colour_enabled(STDOUT_FILENO));
  return core::exit_code(report, command.fail_on());
}

}  // namespace kp::netdebug
