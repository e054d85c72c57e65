#include "certs/certcheck.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <future>
#include <ostream>
#include <system_error>
#include <unistd.h>

#include "certs/layout.h"
#include "core/report/stream.h"
#include "core/util/files.h"
#include "core/util/text.h"
#include "core/util/time.h"

namespace kp::certs {
namespace {

constexpr std::string_view kTool = "certs";

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) {
    --q;
  }
  return q;
}

std::string plural_days(std::int64_t days) {
  return std::to_string(days) + (days == 1 ? " day" : " days");
}

bool is_weak_hash(const std::string& hash) {
  return hash == "SHA1" || hash == "MD5" || hash == "MD4" || hash == "MD2";
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) {
    text.resize(width, ' ');
  }
  return text;
}

std::string detail_string(const core::Check& check, const char* key) {
  if (check.details.is_object() && check.details.contains(key) && check.details[key].is_string()) {
    return check.details[key].get<std::string>();
  }
  return {};
}

bool is_certificate_check(const core::Check& check) {
  return check.details.is_object() && check.details.contains("notAfterUnix");
}

void write_rows(std::ostream& out, const std::string& header,
                const std::vector<std::vector<std::string>>& rows) {
  const std::vector<std::string> headers{header,          "SOURCE", "EXPIRES",
                                         "RESIDUAL TIME", "CA",     "STATUS"};
  std::vector<std::size_t> widths;
  for (const std::string& h : headers) {
    widths.push_back(h.size());
  }
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      text += i + 1 == cells.size() ? cells[i] : pad(cells[i], widths[i] + 3);
    }
    out << text << '\n';
  };
  line(headers);
  for (const auto& row : rows) {
    line(row);
  }
}

}  // namespace

core::Result<Output> parse_output(std::string_view text) {
  constexpr core::NameTable<Output> kOutputs[] = {{"text", Output::text},
                                                  {"json", Output::json},
                                                  {"yaml", Output::yaml},
                                                  {"prometheus", Output::prometheus}};
  if (std::optional<Output> output = core::value_named(kOutputs, text)) {
    return *output;
  }
  return core::Error{"-o: unknown output format \"" + std::string(text) +
                     "\": use text, json, yaml or prometheus"};
}

core::Result<std::int64_t> parse_warn_within(std::string_view text) {
  const core::Error invalid{"--warn-within: invalid duration \"" + std::string(text) +
                            "\": use days (30d) or a duration such as 720h"};
  if (text.size() > 1 && text.back() == 'd') {
    const std::string_view digits = text.substr(0, text.size() - 1);
    if (digits.size() > 6 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return invalid;
    }
    return static_cast<std::int64_t>(std::stoll(std::string(digits))) * 86400;
  }
  core::Result<std::chrono::milliseconds> parsed = core::parse_duration(text);
  if (!parsed) {
    return invalid;
  }
  return static_cast<std::int64_t>(parsed->count() / 1000);
}

std::int64_t CommonOptions::now_unix() const {
  return now ? now() : static_cast<std::int64_t>(std::time(nullptr));
}

std::string common_name_of(std::string_view name) {
  // Split on unescaped commas; keep the last CN= component (Go's CommonName).
  std::string result;
  std::string part;
  auto take = [&result](const std::string& component) {
    const std::string_view trimmed = core::trim(component);
    if (trimmed.starts_with("CN=")) {
      std::string value;
      for (std::size_t i = 3; i < trimmed.size(); ++i) {
        if (trimmed[i] == '\\' && i + 1 < trimmed.size()) {
          ++i;
        }
        value += trimmed[i];
      }
      result = value;
    }
  };
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\\' && i + 1 < name.size()) {
      part += name[i];
      part += name[++i];
    } else if (name[i] == ',' || name[i] == '+') {
      take(part);
      part.clear();
    } else {
      part += name[i];
    }
  }
  take(part);
  return result;
}

std::string residual_time(std::int64_t secondsLeft) {
  if (secondsLeft <= 0) {
    return "expired";
  }
  if (secondsLeft < 60) {
    return std::to_string(secondsLeft) + "s";
  }
  if (secondsLeft < 3600) {
    return std::to_string(secondsLeft / 60) + "m";
  }
  if (secondsLeft < 48 * 3600) {
    return std::to_string(secondsLeft / 3600) + "h";
  }
  if (secondsLeft < 8LL * 365 * 86400) {
    return std::to_string(secondsLeft / 86400) + "d";
  }
  return std::to_string(secondsLeft / (365 * 86400)) + "y";
}

std::string expires_text(std::int64_t unixSeconds) {
  const auto t = static_cast<std::time_t>(unixSeconds);
  const std::tm tm = core::utc_time(t);
  char text[64];
  std::strftime(text, sizeof text, "%b %d, %Y %H:%M UTC", &tm);
  return text;
}

core::Check check_certificate(const core::Certificate& cert, std::string_view id,
                              std::string_view source, std::int64_t nowUnix,
                              std::int64_t warnWithinSeconds, std::string_view renewHint) {
  const core::CertInfo info = core::inspect(cert);
  core::Check check;
  check.id = std::string(id);
  check.layer = core::Layer::cert;
  const std::int64_t left = info.notAfterUnix - nowUnix;
  const std::int64_t daysLeft = floor_div(left, 86400);
  nlohmann::ordered_json sans = nlohmann::ordered_json::array();
  for (const std::string& name : info.dnsNames) {
    sans.push_back(name);
  }
  for (const std::string& ip : info.ipAddresses) {
    sans.push_back(ip);
  }
  check.details = {{"source", std::string(source)},
                   {"subject", info.subject},
                   {"issuer", info.issuer},
                   {"serial", info.serial},
                   {"notBefore", info.notBefore},
                   {"notAfter", info.notAfter},
                   {"notAfterUnix", info.notAfterUnix},
                   {"daysLeft", daysLeft},
                   {"sans", sans},
                   {"isCA", info.isCA},
                   {"keyType", info.keyType},
                   {"keyBits", info.keyBits},
                   {"signatureAlgorithm", info.signatureAlgorithm}};

  std::vector<std::string> weak;
  if (is_weak_hash(info.signatureHash)) {
    weak.push_back(info.signatureHash + " signature (" + info.signatureAlgorithm +
                   "): Go clients such as kubectl reject it");
  }
  if (info.keyType == "RSA" && info.keyBits < 2048) {
    weak.push_back("RSA key of " + std::to_string(info.keyBits) + " bits (under 2048)");
  }
  const std::string weakHint =
      "re-issue it with a SHA-256 signature and an RSA key of at least 2048 bits (or ECDSA)";

  if (nowUnix < info.notBeforeUnix) {
    const std::int64_t until = info.notBeforeUnix - nowUnix;
    check.status = core::CheckStatus::fail;
    check.message = "not yet valid: valid from " + info.notBefore + " (in " + residual_time(until) +
                    "; check this machine's clock)";
    check.hint =
        "check the clock of the machine that issued it and of this one; re-issue it "
        "if its notBefore is wrong";
  } else if (left <= 0) {
    const std::int64_t ago = floor_div(-left, 86400);
    check.status = core::CheckStatus::fail;
    check.message = "expired " + (ago == 0 ? std::string("today") : plural_days(ago) + " ago") +
                    " (notAfter " + info.notAfter + ")";
    check.hint = std::string(renewHint);
  } else if (left < warnWithinSeconds) {
    check.status = core::CheckStatus::warn;
    check.message = "expires in " + (daysLeft == 0 ? residual_time(left) : plural_days(daysLeft)) +
                    " (notAfter " + info.notAfter + ")";
    check.hint = std::string(renewHint);
  } else {
    check.status = weak.empty() ? core::CheckStatus::ok : core::CheckStatus::warn;
    check.message = "valid until " + info.notAfter + " (" + plural_days(daysLeft) + " left)";
    if (!weak.empty()) {
      check.hint = weakHint;
    }
  }
  if (!weak.empty()) {
    check.message += "; weak: " + core::join(weak, "; ");
  }
  return check;
}

void render_table(std::ostream& out, const core::Report& report, std::int64_t nowUnix) {
  if (const std::string header = distro_header(report); !header.empty()) {
    out << header << "\n\n";
  }
  std::vector<const core::Check*> leaves, cas, others;
  for (const core::Check& check : report.checks) {
    if (!is_certificate_check(check)) {
      others.push_back(&check);
    } else if (check.details.value("isCA", false)) {
      cas.push_back(&check);
    } else {
      leaves.push_back(&check);
    }
  }
  auto by_expiry = [](const core::Check* a, const core::Check* b) {
    return a->details["notAfterUnix"].get<std::int64_t>() <
           b->details["notAfterUnix"].get<std::int64_t>();
  };
  std::stable_sort(leaves.begin(), leaves.end(), by_expiry);
  std::stable_sort(cas.begin(), cas.end(), by_expiry);
  auto rows_of = [nowUnix](const std::vector<const core::Check*>& checks) {
    std::vector<std::vector<std::string>> rows;
    for (const core::Check* check : checks) {
      const std::string source = detail_string(*check, "source");
      // kubeadm's name in a PKI report, else the subject CN, else the file name.
      std::string name = detail_string(*check, "name");
      if (name.empty()) {
        name = common_name_of(detail_string(*check, "subject"));
      }
      if (name.empty()) {
        name = std::filesystem::path(source.substr(0, source.find('#'))).filename().string();
      }
      const std::int64_t notAfter = check->details["notAfterUnix"].get<std::int64_t>();
      std::string ca = common_name_of(detail_string(*check, "issuer"));
      if (ca.empty()) {
        ca = "-";
      }
      rows.push_back({name, source, expires_text(notAfter), residual_time(notAfter - nowUnix), ca,
                      std::string(core::to_string(check->status))});
    }
    return rows;
  };
  bool printed = false;
  if (!leaves.empty()) {
    write_rows(out, "CERTIFICATE", rows_of(leaves));
    printed = true;
  }
  if (!cas.empty()) {
    if (printed) {
      out << '\n';
    }
    write_rows(out, "CERTIFICATE AUTHORITY", rows_of(cas));
    printed = true;
  }
  std::vector<const core::Check*> notes;
  for (const core::Check& check : report.checks) {
    if (check.status == core::CheckStatus::warn || check.status == core::CheckStatus::fail ||
        (!is_certificate_check(check) && check.status == core::CheckStatus::skip)) {
      notes.push_back(&check);
    }
  }
  if (!notes.empty()) {
    if (printed) {
      out << '\n';
    }
    for (const core::Check* check : notes) {
      std::string status(core::to_string(check->status));
      status.resize(5, ' ');
      const std::string source = detail_string(*check, "source");
      const std::string where = source.empty() ? check->id : source;
      out << status << ' ';
      if (!check->message.starts_with(where + ":")) {
        out << where << ": ";
      }
      out << check->message << '\n';
      if (!check->hint.empty()) {
        out << std::string(6, ' ') << "hint: " << check->hint << '\n';
      }
    }
  }
  if (printed || !notes.empty()) {
    out << '\n';
  }
  out << "verdict: " << core::to_string(core::verdict(report)) << '\n';
}

std::string prometheus_escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void render_prometheus(std::ostream& out, const core::Report& report) {
  out << "# HELP kubectl_certs_not_after_seconds The certificate's notAfter as a Unix timestamp.\n"
         "# TYPE kubectl_certs_not_after_seconds gauge\n";
  for (const core::Check& check : report.checks) {
    if (!is_certificate_check(check)) {
      continue;
    }
    out << "kubectl_certs_not_after_seconds{source=\""
        << prometheus_escape(detail_string(check, "source")) << "\",subject=\""
        << prometheus_escape(detail_string(check, "subject")) << "\",issuer=\""
        << prometheus_escape(detail_string(check, "issuer")) << "\"} "
        << check.details["notAfterUnix"].get<std::int64_t>() << '\n';
  }
}

int finish(std::ostream& out, const core::Report& report, const CommonOptions& options) {
  switch (options.output) {
    case Output::text:
      render_table(out, report, options.now_unix());
      break;
    case Output::json:
      core::render(out, report, core::OutputFormat::json, false);
      break;
    case Output::yaml:
      core::render(out, report, core::OutputFormat::yaml, false);
      break;
    case Output::prometheus:
      render_prometheus(out, report);
      break;
  }
  return core::exit_code(report, options.failOn);
}

namespace {

// One path's checks: one per certificate, or one failure.
std::vector<core::Check> check_file(const std::string& path, std::int64_t now,
                                    std::int64_t warnWithinSeconds) {
  const std::string hint = "re-issue it from its CA; for kubeadm: kubeadm certs renew <name>";
  core::Check failure;
  failure.id = "cert.file";
  failure.layer = core::Layer::cert;
  failure.status = core::CheckStatus::fail;
  failure.details = {{"source", path}};
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    failure.message = path + ": no such file";
    failure.hint = "check the path";
    return {failure};
  }
  core::Result<std::string> bytes = core::read_file(path);
  if (!bytes) {
    failure.message = bytes.error().message;
    failure.hint = "check the path and its permissions";
    return {failure};
  }
  core::Result<core::ParsedCertificates> parsed = core::parse_certificates(*bytes);
  if (!parsed) {
    failure.message = path + ": " + parsed.error().message;
    failure.hint = "give a PEM or DER certificate file";
    return {failure};
  }
  std::vector<core::Check> checks;
  const bool bundle = parsed->certs.size() > 1;
  for (std::size_t i = 0; i < parsed->certs.size(); ++i) {
    const std::string source = bundle ? path + "#" + std::to_string(i) : path;
    checks.push_back(
        check_certificate(parsed->certs[i], "cert.file", source, now, warnWithinSeconds, hint));
  }
  return checks;
}

}  // namespace

void check_files_into(const FileOptions& options, core::CheckSink& sink) {
  const std::int64_t now = options.common.now_unix();
  const std::int64_t warn = options.common.warnWithinSeconds;
  // Batches of paths, each read and checked on two threads; checks go to the sink in order.
  constexpr std::size_t kBatch = 256;
  const std::vector<std::string>& paths = options.paths;
  const auto check_range = [&paths, now, warn](std::size_t begin, std::size_t end) {
    std::vector<core::Check> checks;
    for (std::size_t i = begin; i < end; ++i) {
      std::vector<core::Check> own = check_file(paths[i], now, warn);
      std::move(own.begin(), own.end(), std::back_inserter(checks));
    }
    return checks;
  };
  for (std::size_t begin = 0; begin < paths.size(); begin += kBatch) {
    const std::size_t end = std::min(paths.size(), begin + kBatch);
    const std::size_t middle = begin + (end - begin) / 2;
    std::future<std::vector<core::Check>> second =
        std::async(std::launch::async, check_range, middle, end);
    // The first half here, then the second: in order, each vector moved, not copied.
    for (core::Check& check : check_range(begin, middle)) {
      sink.add(std::move(check));
    }
    for (core::Check& check : second.get()) {
      sink.add(std::move(check));
    }
  }
}

core::Report check_files(const FileOptions& options) {
  core::Report report;
  report.tool = std::string(kTool);
  core::ReportSink sink(report);
  check_files_into(options, sink);
  return report;
}

int run_file(const FileOptions& options, std::ostream& out, std::ostream& /*err*/) {
  const Output output = options.common.output;
  if (output == Output::json || output == Output::yaml) {
    core::ReportStream stream(
        out, output == Output::json ? core::OutputFormat::json : core::OutputFormat::yaml,
        std::string(kTool), {});
    check_files_into(options, stream);
    stream.finish();
    return stream.exit_code(options.common.failOn);
  }
  return finish(out, check_files(options), options.common);
}

void add_problem(core::Check& check, const std::string& problem, const std::string& hint) {
  check.status = core::CheckStatus::fail;
  check.message = check.message.empty() ? problem : problem + "; " + check.message;
  check.hint = hint;
}

core::Result<ParsedCommand, int> parse_command(const core::Invocation& invocation,
                                               cxxopts::Options& cli, bool positional) {
  cli.add_options("")  //
      ("warn-within", "Warn when a certificate expires within this time (30d, 720h)",
       cxxopts::value<std::string>()->default_value("30d"), "DURATION");
  core::Command command(invocation, std::move(cli));
  core::CommonFlags flags;
  flags.output = "Output format: text, json, yaml or prometheus";
  flags.coreOutput = false;  // prometheus is ours
  // `node NODE` takes a node name; the other positional commands take files.
  flags.positionals = !positional                    ? core::Positionals::none
                      : invocation.command == "node" ? core::Positionals::nodes
                                                     : core::Positionals::files;
  if (std::optional<int> done = command.parse(flags)) {
    return *done;
  }
  CommonOptions common;
  common.failOn = command.fail_on();
  core::Result<Output> output = parse_output(command.output_text());
  if (!output) {
    return command.fail(output.error().message);
  }
  common.output = *output;
  core::Result<std::int64_t> within =
      parse_warn_within(command.flags()["warn-within"].as<std::string>());
  if (!within) {
    return command.fail(within.error().message);
  }
  common.warnWithinSeconds = *within;
  return ParsedCommand{command.usage(), command.release_flags(), common, command.kube()};
}

int file_command(const core::Invocation& invocation) {
  cxxopts::Options cli = core::command_options(
      invocation, ": PEM or DER files, bundles included; one check per certificate.",
      "PATH... [flags]");
  core::Result<ParsedCommand, int> command = parse_command(invocation, cli, true);
  if (!command) {
    return command.error();
  }
  FileOptions options;
  options.common = command->common;
  options.paths = command->parsed.unmatched();
  if (options.paths.empty()) {
    return core::print_error(invocation.err, invocation.tool,
                             "give at least one file: " + command->usage + " PATH...");
  }
  for (const std::string& path : options.paths) {
    if (path.starts_with("-") && path != "-") {
      return core::print_error(invocation.err, invocation.tool, "unknown flag \"" + path + "\"");
    }
  }
  return run_file(options, invocation.out, invocation.err);
}

}  // namespace kp::certs
