// libFuzzer target: what node_pki.sh printed in a `certs node` debug pod ("file|error PATH
// BASE64" lines and "done"), parsed by kp::certs::parse_node_output and then inspected as a
// kubeadm PKI directory (check_pki over those files, certificates and keys included).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string_view>

#include "certs/node.h"
#include "certs/pki.h"
#include "core/report/report.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace core = kp::core;
  const auto files = kp::certs::parse_node_output(kp::fuzz::as_text(data, size));
  if (!files) {
    KP_FUZZ_ASSERT(!files.error().message.empty());
    return 0;
  }
  kp::certs::PkiOptions options;
  options.common.now = [] { return std::int64_t{1795000000}; };
  options.files = kp::certs::node_pki_files(*files);
  const core::Report report = kp::certs::check_pki(options);
  std::ostringstream out;
  core::render(out, report, core::OutputFormat::json, false);
  return 0;
}
