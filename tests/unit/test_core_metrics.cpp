#include <cmath>
#include <string>

#include <catch2/catch.hpp>

#include "core/kube/metrics.h"

using namespace kp::core;

namespace {

// Cut from a kube-apiserver 1.37 /metrics, with the families summarize_apiserver_metrics reads.
constexpr std::string_view kApiserverMetrics =
    R"(# HELP apiserver_flowcontrol_rejected_requests_total [BETA] Number of requests rejected by API Priority and Fairness subsystem
# TYPE apiserver_flowcontrol_rejected_requests_total counter
apiserver_flowcontrol_rejected_requests_total{flow_schema="global-default",priority_level="global-default",reason="queue-full"} 7
apiserver_flowcontrol_rejected_requests_total{flow_schema="service-accounts",priority_level="workload-low",reason="time-out"} 2
apiserver_flowcontrol_rejected_requests_total{flow_schema="global-default",priority_level="global-default",reason="concurrency-limit"} 1
# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.
# TYPE apiserver_request_duration_seconds histogram
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="0.005"} 0
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="0.025"} 50
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="0.1"} 90
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="1"} 100
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="+Inf"} 100
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 3.2
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 100
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="GET",version="v1",le="0.005"} 100
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="GET",version="v1",le="0.025"} 100
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="GET",version="v1",le="0.1"} 100
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="GET",version="v1",le="1"} 100
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="GET",version="v1",le="+Inf"} 100
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1",le="0.005"} 0
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1",le="1"} 0
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1",le="+Inf"} 5000
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="exec",verb="CONNECT",version="v1",le="+Inf"} 40
# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 100
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="GET",version="v1"} 880
apiserver_request_total{code="404",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="GET",version="v1"} 10
apiserver_request_total{code="500",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="GET",version="v1"} 6
apiserver_request_total{code="503",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="GET",version="v1"} 4
# HELP process_start_time_seconds [ALPHA] Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.78e+09
)";

}  // namespace

TEST_CASE("core::summarize_apiserver_metrics reads a kube-apiserver scrape", "[metrics]") {
  const auto metrics = summarize_apiserver_metrics(kApiserverMetrics);
  REQUIRE(metrics);
  CHECK(metrics->requestsTotal == 1000);
  CHECK(metrics->requests5xx == 10);
  REQUIRE(metrics->ratio5xx);
  CHECK(*metrics->ratio5xx == Approx(0.01));
  // LIST + GET, WATCH and CONNECT left out: 200 observations, rank 198 lies in (0.1, 1]
  // holding 10 (190 -> 200): 0.1 + 0.9 * 8/10.
  REQUIRE(metrics->p99Seconds);
  CHECK(*metrics->p99Seconds == Approx(0.82));
  CHECK(metrics->apfRejected == 10);
  CHECK(metrics->apfRejectedByReason == std::map<std::string, double>{{"queue-full", 7},
                                                                      {"time-out", 2},
                                                                      {"concurrency-limit", 1}});
  CHECK(metrics->samples == 25);
}

TEST_CASE("core::summarize_apiserver_metrics without the families", "[metrics]") {
  const auto metrics = summarize_apiserver_metrics("# nothing here\nup 1\n");
  REQUIRE(metrics);
  CHECK(metrics->requestsTotal == 0);
  CHECK_FALSE(metrics->ratio5xx);
  CHECK_FALSE(metrics->p99Seconds);
  CHECK(metrics->apfRejectedByReason.empty());
  CHECK(metrics->samples == 1);
  CHECK(summarize_apiserver_metrics("")->samples == 0);
}

TEST_CASE("core::summarize_apiserver_metrics errors name the line", "[metrics]") {
  CHECK(summarize_apiserver_metrics("# HELP x\nup 1\napiserver_request_total{code=\"200\" 5\n")
            .error()
            .message == "line 3: expected ',' or '}' after a label, found \"5\"");
  CHECK(summarize_apiserver_metrics("<html>\n").error().message ==
        "line 1: expected a metric name, found \"<html>\"");
  CHECK(summarize_apiserver_metrics("up\n").error().message == "line 1: expected a value after up");
  CHECK(summarize_apiserver_metrics("up one\n").error().message == "line 1: invalid value \"one\"");
  CHECK(summarize_apiserver_metrics("up{a=\"b} 1\n").error().message ==
        "line 1: unterminated quoted string in the label a");
  CHECK(summarize_apiserver_metrics("up{a=b} 1\n").error().message ==
        "line 1: expected a quoted value for the label a");
  CHECK(summarize_apiserver_metrics("up 1 2 3\n").error().message ==
        "line 1: unexpected text after the value: \"3\"");
  CHECK(summarize_apiserver_metrics("up 1 later\n").error().message ==
        "line 1: invalid timestamp \"later\"");
  // Truncated mid-line, as a cut connection leaves it.
  CHECK(summarize_apiserver_metrics("up 1\napiserver_request_total{code=\"2").error().message ==
        "line 2: unterminated quoted string in the label code");
}

TEST_CASE("core::parse_prometheus_text reads labels, escapes, special values", "[metrics]") {
  const auto samples = parse_prometheus_text(
      "# TYPE a gauge\n"
      "a{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\",} NaN\n"
      "b +Inf 1712345678000\n"
      "c{} -Inf\n"
      "  d\t{ x = \"1\" , y=\"2\" }  -1.5e-3  \r\n"
      "e_total 3 # {trace_id=\"abc\"} 1.0 1712345678.1\n"
      "{\"http.server.duration\",le=\"+Inf\"} 4\n"
      "# EOF\n");
  REQUIRE(samples);
  REQUIRE(samples->size() == 6);
  const MetricSample& a = (*samples)[0];
  CHECK(a.name == "a");
  CHECK(a.label("path") == "C:\\dir");
  CHECK(a.label("msg") == "say \"hi\"\nbye");
  CHECK(std::isnan(a.value));
  CHECK(std::isinf((*samples)[1].value));
  CHECK((*samples)[1].value > 0);
  CHECK((*samples)[2].value < 0);
  CHECK((*samples)[3].name == "d");
  CHECK((*samples)[3].labels ==
        std::vector<std::pair<std::string, std::string>>{{"x", "1"}, {"y", "2"}});
  CHECK((*samples)[3].value == Approx(-0.0015));
  CHECK((*samples)[4].value == 3);
  CHECK((*samples)[5].name == "http.server.duration");
  CHECK((*samples)[5].label("le") == "+Inf");
  CHECK((*samples)[5].label("missing").empty());
}

TEST_CASE("core::histogram_quantile matches PromQL", "[metrics]") {
  const double inf = std::numeric_limits<double>::infinity();
  // No +Inf bucket, no observations, a single bucket: NaN in PromQL.
  CHECK_FALSE(histogram_quantile(0.99, {{0.1, 1}, {1, 2}}));
  CHECK_FALSE(histogram_quantile(0.99, {{0.1, 0}, {inf, 0}}));
  CHECK_FALSE(histogram_quantile(0.99, {{inf, 5}}));
  CHECK_FALSE(histogram_quantile(0.99, {}));
  // Inside the first bucket the start is 0.
  CHECK(*histogram_quantile(0.5, {{1, 10}, {2, 10}, {inf, 10}}) == Approx(0.5));
  // In +Inf: the highest finite bound.
  CHECK(*histogram_quantile(0.99, {{1, 10}, {2, 50}, {inf, 100}}) == 2);
  // Unsorted input, duplicate bounds merged, non-monotonic counts clamped.
  CHECK(*histogram_quantile(0.5, {{inf, 20}, {2, 12}, {1, 5}, {1, 5}, {3, 11}}) == Approx(1.0));
  CHECK(*histogram_quantile(0, {{1, 10}, {inf, 10}}) == 0);
  CHECK(*histogram_quantile(-1, {{1, 10}, {inf, 10}}) == -inf);
  CHECK(*histogram_quantile(2, {{1, 10}, {inf, 10}}) == inf);
  // A first bucket with a non-positive bound answers its bound.
  CHECK(*histogram_quantile(0.1, {{-1, 5}, {1, 10}, {inf, 10}}) == -1);
}

TEST_CASE("core::summarize_apiserver_metrics handles a huge scrape", "[metrics]") {
  std::string text;
  for (int i = 0; i < 100000; ++i) {
    text += "apiserver_request_total{code=\"" + std::string(i % 100 == 0 ? "500" : "200") +
            "\",resource=\"r" + std::to_string(i) + "\"} 1\n";
  }
  const auto metrics = summarize_apiserver_metrics(text);
  REQUIRE(metrics);
  CHECK(metrics->requestsTotal == 100000);
  CHECK(metrics->requests5xx == 1000);
  CHECK(metrics->samples == 100000);
  std::string junk(4 * 1024 * 1024, '\x01');
  CHECK(summarize_apiserver_metrics(junk).error().message.rfind("line 1: ", 0) == 0);
}
