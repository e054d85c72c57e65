// A TLS handshake that stalls is tried once more with small TCP segments: if that completes,
// the path drops full-size packets (a path-MTU blackhole), not the server.
#include <string>

#include <catch2/catch.hpp>

#include "support_apicheck.h"

using kp::core::CheckStatus;
using kp::core::Layer;
using World = kp::testsupport::ApicheckWorld;

namespace {

// Remembers the segment size each connection asked for.
struct ClampNetwork : kp::testsupport::FakeNetwork {
  std::vector<int> clamps;
  kp::core::Result<kp::core::Connection, kp::core::ConnectError> connect_clamped(
      std::string_view ip, int port, std::chrono::milliseconds timeout, int mss) override {
    clamps.push_back(mss);
    return connect(ip, port, timeout);
  }
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("apicheck tells a path-MTU blackhole from a stalled server", "[apicheck][mtu]") {
  World w;
  auto net = std::make_shared<ClampNetwork>();
  net->names = w.net->names;
  w.options.deps.net = net;
  const kp::core::TlsError stall{kp::core::TlsFailure::timeout,
                                 "the server accepted the connection but sent nothing within 1s",
                                 1000};
  // The path carries segments of up to `carries` bytes; a handshake on a connection that
  // asked for more (or on the first, unclamped one) stalls.
  int handshakes = 0;
  int carries = 560;
  w.options.deps.tls = [&](int, const kp::core::TlsProbeOptions& o)
      -> kp::core::Result<kp::core::TlsProbe, kp::core::TlsError> {
    ++handshakes;
    CHECK(o.timeout <= std::chrono::milliseconds(1000));  // --timeout, and the retries' own
    if (handshakes == 1 || net->clamps.empty() || net->clamps.back() > carries) {
      return stall;
    }
    return w.tls;
  };

  SECTION("the clamped try completes: tcp.path-mtu fails with the size and the fixes") {
    const kp::core::Report report = w.options.check();
    // 536 completes; then halfway to 1460 (998) stalls, halfway again (767) stalls.
    REQUIRE(net->clamps == std::vector<int>{536, 998, 767});
    CHECK(handshakes == 4);
    const kp::core::Check* mtu = w.find(report, "tcp.path-mtu");
    REQUIRE(mtu != nullptr);
    CHECK(mtu->status == CheckStatus::fail);
    CHECK(has(mtu->message, "completed"));
    CHECK(has(mtu->message, "it carries packets of 576 bytes, not of 807"));
    CHECK(has(mtu->hint, "ip link set dev IFACE mtu 576"));
    CHECK(has(mtu->hint, "TCPMSS --clamp-mss-to-pmtu"));
    CHECK(has(mtu->hint, "ICMP type 3 code 4"));
    CHECK(kp::core::failed_layer(report) == Layer::tcp);
    const kp::core::Check* hs = w.find(report, "tls.handshake");
    CHECK(hs->status == CheckStatus::fail);
    CHECK(has(hs->hint, "see tcp.path-mtu"));
    CHECK_FALSE(has(hs->hint, "stalled server"));
    CHECK_FALSE(kp::testsupport::sent_credentials(w.http.sent));
    // The run still stops at the broken path: nothing but the early health requests.
    CHECK(kp::testsupport::paths_besides_early_health(w.http.sent, w.options.client).empty());
    CHECK(w.find(report, "health.livez") == nullptr);
    REQUIRE(w.find(report, "health.readyz") != nullptr);
    CHECK(w.find(report, "health.readyz")->status == CheckStatus::skip);
  }
  SECTION("a path that carries more is bounded from below") {
    carries = 1400;
    const kp::core::Report report = w.options.check();
    REQUIRE(net->clamps == std::vector<int>{536, 998, 1229});
    const kp::core::Check* mtu = w.find(report, "tcp.path-mtu");
    REQUIRE(mtu != nullptr);
    CHECK(has(mtu->message, "it carries packets of at least 1269 bytes"));
  }
  SECTION("it stalls with small segments too: a stalled server or middlebox, not the MTU") {
    carries = 0;
    const kp::core::Report report = w.options.check();
    CHECK(handshakes == 2);
    CHECK(w.find(report, "tcp.path-mtu") == nullptr);
    const kp::core::Check* hs = w.find(report, "tls.handshake");
    CHECK(has(hs->hint, "a stalled server or a middlebox"));
    CHECK(has(hs->hint, "not the path MTU: it stalled with 536-byte segments too"));
    CHECK(kp::core::failed_layer(report) == Layer::tls);
  }
}
