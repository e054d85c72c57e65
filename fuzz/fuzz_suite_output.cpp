// libFuzzer target: what the in-pod suite (plugins/netdebug/suite.sh) printed, one JSON object
// per line, as netdebug run reads it (kp::netdebug::parse_suite_output), then rendered the ways
// netdebug prints it: the node matrix and the text, JSON and YAML reports.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "core/report/report.h"
#include "fuzz/fuzz_util.h"
#include "netdebug/run.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace core = kp::core;
  const std::string_view text = kp::fuzz::as_text(data, size);
  core::Report report;
  report.tool = "netdebug";
  report.checks = kp::netdebug::parse_suite_output(text, "kwok-node-0");
  KP_FUZZ_ASSERT(!report.checks.empty());
  for (const core::Check& check : report.checks) {
    KP_FUZZ_ASSERT(check.id.starts_with("incluster."));
  }
  std::ostringstream out;
  kp::netdebug::render_matrix(out, report, {"kwok-node-0", "kwok-node-1"});
  for (const core::OutputFormat format :
       {core::OutputFormat::text, core::OutputFormat::json, core::OutputFormat::yaml}) {
    core::render(out, report, format, format == core::OutputFormat::text);
  }
  (void)core::exit_code(report, core::FailOn::warn);
  return 0;
}
