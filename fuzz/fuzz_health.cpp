// libFuzzer target: the `/readyz?verbose` / `/livez?verbose` text parser (core::parse_health).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/kube/kube.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = kp::fuzz::as_text(data, size);
  const kp::core::Result<kp::core::HealthReport> report = kp::core::parse_health(body);
  if (report) {
    for (const kp::core::HealthLine& line : report->checks) {
      // Every line the parser keeps came from the body.
      KP_FUZZ_ASSERT(body.find(line.name) != std::string_view::npos);
    }
  }
  return 0;
}
