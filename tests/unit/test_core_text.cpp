#include <cstdint>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "core/report/report.h"
#include "core/util/text.h"
#include "core/util/time.h"

using namespace kp::core;

TEST_CASE("core::quote_bytes shows outside text escaped, bounded and marked when cut",
          "[util][text]") {
  CHECK(quote_bytes("ok", 80) == "\"ok\"");
  CHECK(quote_bytes("a\"b\\c\td", 80) == "\"a\\\"b\\\\c\\td\"");
  CHECK(quote_bytes(std::string("\x01\x7f\xff", 3), 80) == "\"\\x01\\x7f\\xff\"");
  // Lines::first stops at the line break: not a cut, so no mark.
  CHECK(quote_bytes("first\nsecond", 80) == "\"first\"");
  CHECK(quote_bytes("first\r\nsecond", 5) == "\"first\"");
  // A cut at maxBytes is marked after the quote.
  CHECK(quote_bytes("abcdefgh", 4) == "\"abcd\"...");
  CHECK(quote_bytes("abcd", 4) == "\"abcd\"");
  // Lines::all keeps every line, escaped.
  CHECK(quote_bytes("HTTP/1.1 200\r\nX: y\r\n", 80, Lines::all) ==
        "\"HTTP/1.1 200\\r\\nX: y\\r\\n\"");
  CHECK(quote_bytes("a\nbcdef", 3, Lines::all) == "\"a\\nb\"...");
}

TEST_CASE("core::split keeps empty pieces", "[util][text]") {
  CHECK(split("a::b", ':') == std::vector<std::string>{"a", "", "b"});
  CHECK(split("", ':') == std::vector<std::string>{""});
  CHECK(split("a;b", ':') == std::vector<std::string>{"a;b"});
}

TEST_CASE("core::escape_bytes is quote_bytes without the quotes", "[util][text]") {
  CHECK(escape_bytes("{\"kind\":\"Status\"}", 160) == "{\"kind\":\"Status\"}");
  CHECK(escape_bytes("etcd failed\nmore", 160) == "etcd failed");
  CHECK(escape_bytes(std::string("\x1b[31mred", 8), 160) == "\\x1b[31mred");
  CHECK(escape_bytes("abcdef", 3) == "abc...");
}

TEST_CASE("core::quote puts a name in double quotes as client-go does", "[util][text]") {
  CHECK(quote("lab") == "\"lab\"");
  CHECK(quote("") == "\"\"");
}

TEST_CASE("core::mapped reads a switch written as a table", "[util][text]") {
  static constexpr std::pair<int, char> kTable[] = {{1, 'a'}, {2, 'b'}, {2, 'c'}};
  CHECK(mapped(kTable, 1, '?') == 'a');
  CHECK(mapped(kTable, 2, '?') == 'b');  // the first row wins
  CHECK(mapped(kTable, 3, '?') == '?');
}

TEST_CASE("core::make_check fills the fields it is given and skips by default", "[report]") {
  const Check bare = make_check("node.mtu", Layer::node);
  CHECK(bare.id == "node.mtu");
  CHECK(bare.layer == Layer::node);
  CHECK(bare.status == CheckStatus::skip);
  CHECK(bare.message.empty());
  const Check full =
      make_check("tls.verify", Layer::tls, CheckStatus::fail, "expired", "renew", "a:6443");
  CHECK(full.status == CheckStatus::fail);
  CHECK(full.message == "expired");
  CHECK(full.hint == "renew");
  CHECK(full.endpoint == "a:6443");
}

TEST_CASE("core::utc_time covers every year a certificate can name", "[util][time]") {
  const auto fields = [](const std::tm& tm) {
    return std::vector<int>{tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour,
                            tm.tm_min,  tm.tm_sec, tm.tm_wday, tm.tm_yday};
  };
  // 9999-12-31T23:59:59Z, RFC 5280's "no expiry": a Friday, day 364 of a common year.
  CHECK(fields(kp::core::utc_time(253402300799)) ==
        std::vector<int>{8099, 11, 31, 23, 59, 59, 5, 364});
  // 1950-01-01, X.509's earliest UTCTime: a Sunday.
  CHECK(fields(kp::core::utc_time(-631152000)) == std::vector<int>{50, 0, 1, 0, 0, 0, 0, 0});
  // 2000-02-29T12:00:00Z: a leap day, a Tuesday.
  CHECK(fields(kp::core::utc_time(951825600)) == std::vector<int>{100, 1, 29, 12, 0, 0, 2, 59});
#ifndef _WIN32
  // The C library's answer wherever it has one, across four centuries and both signs.
  for (std::int64_t t = -2208988800; t < 32503680000; t += 86400 * 37 + 3601) {
    std::tm expected{};
    const auto value = static_cast<std::time_t>(t);
    ::gmtime_r(&value, &expected);
    INFO(t);
    REQUIRE(fields(kp::core::utc_time(value)) == fields(expected));
  }
#endif
}
