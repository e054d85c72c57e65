// The certs plugin's building blocks: one check per certificate (expiry, validity window, weak
// signature or key), the kubeadm-like table and the Prometheus textfile exposition, and the
// `file` subcommand built from them.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "core/cli/command.h"
#include "core/net/x509.h"
#include "core/report/report.h"
#include "core/report/stream.h"
#include "core/util/result.h"

namespace kp::certs {

// -o: the core formats plus Prometheus text exposition (node_exporter's textfile collector).
enum class Output { text, json, yaml, prometheus };
core::Result<Output> parse_output(std::string_view text);

// --warn-within: a core::parse_duration() value, or whole days with a `d` suffix ("30d").
core::Result<std::int64_t> parse_warn_within(std::string_view text);

// The flags every certs subcommand shares, read and validated.
struct CommonOptions {
  Output output = Output::text;
  core::FailOn failOn = core::FailOn::fail;
  std::int64_t warnWithinSeconds = 30 * 86400;
  std::function<std::int64_t()> now;  // unix seconds; the system clock when empty
  bool colour = false;

  std::int64_t now_unix() const;
};

// One `cert` layer check for `cert`, id `id`, details.source = `source`. Fails when expired or
// not yet valid; warns when expiring within the window or weak (SHA-1/MD5 signature, RSA < 2048
// bits). `renewHint` is the fix for expiry.
core::Check check_certificate(const core::Certificate& cert, std::string_view id,
                              std::string_view source, std::int64_t nowUnix,
                              std::int64_t warnWithinSeconds, std::string_view renewHint);

// The last CN of an RFC 2253 name ("CN=a,O=b" -> "a"); "" when none.
std::string common_name_of(std::string_view rfc2253);

// kubeadm's residual time: "expired", "45s", "12m", "23h" (under 48h), "364d", "9y".
std::string residual_time(std::int64_t secondsLeft);

// "Nov 26, 2027 06:50 UTC"
std::string expires_text(std::int64_t unixSeconds);

// The table of certificates (checks whose details hold a notAfter; named by details.name, else
// the subject CN, else the file name), soonest expiry first, CAs in
// a second table; then every other non-ok check; then the verdict line.
void render_table(std::ostream& out, const core::Report& report, std::int64_t nowUnix);

// kubectl_certs_not_after_seconds, one series per certificate.
void render_prometheus(std::ostream& out, const core::Report& report);

// A Prometheus label value escaped per the text exposition format.
std::string prometheus_escape(std::string_view value);

// A subcommand's flags after the part every subcommand shares.
struct ParsedCommand {
  std::string usage;  // "kubectl certs pki", for messages
  cxxopts::ParseResult parsed;
  CommonOptions common;
  core::KubeFlags kube;
};

// Adds --warn-within and parses through core::Command (-o, --fail-on, -h and the kubectl flags,
// which kubectl passes to plugins). An int result is the exit code when the command ends here:
// --help printed or a completion answered (0), or an error printed (2): a bad common flag, or an
// argument when `positional` is false.
core::Result<ParsedCommand, int> parse_command(const core::Invocation& invocation,
                                               cxxopts::Options& cli, bool positional);

// Makes `check` fail with `problem` put before what it said, and `hint` as the fix.
void add_problem(core::Check& check, const std::string& problem, const std::string& hint);

// Renders in `options.output`; returns the exit code.
int finish(std::ostream& out, const core::Report& report, const CommonOptions& options);

// `kubectl certs file PATH...`
struct FileOptions {
  CommonOptions common;
  std::vector<std::string> paths;
};
// Each path read and checked (two threads), its checks added to `sink` in the paths' order.
void check_files_into(const FileOptions& options, core::CheckSink& sink);
core::Report check_files(const FileOptions& options);
int run_file(const FileOptions& options, std::ostream& out, std::ostream& err);

// The subcommand entry point from the command table: parses flags (exit 2 on bad ones).
int file_command(const core::Invocation& invocation);

}  // namespace kp::certs
