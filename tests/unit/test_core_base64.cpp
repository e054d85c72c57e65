#include <catch2/catch.hpp>

#include "core/util/base64.h"

using kp::core::decode_base64;
using kp::core::encode_base64;

TEST_CASE("core::decode_base64", "[base64]") {
  SECTION("decodes padded input") {
    CHECK(decode_base64("").value() == "");
    CHECK(decode_base64("QQ==").value() == "A");
    CHECK(decode_base64("QUI=").value() == "AB");
    CHECK(decode_base64("QUJD").value() == "ABC");
    CHECK(decode_base64("aGVsbG8gd29ybGQ=").value() == "hello world");
  }
  SECTION("ignores CR and LF like Go's StdEncoding") {
    CHECK(decode_base64("aGVs\r\nbG8g\nd29y\nbGQ=\n").value() == "hello world");
  }
  SECTION("names the first illegal byte") {
    CHECK(decode_base64("QU*D").error().message == "illegal base64 data at input byte 2");
    CHECK(decode_base64("QUJD QUJD").error().message == "illegal base64 data at input byte 4");
    CHECK(decode_base64("QUJD-_").error().message == "illegal base64 data at input byte 4");
  }
  SECTION("requires padding") {
    CHECK(decode_base64("QUI").error().message == "illegal base64 data at input byte 3");
    CHECK(decode_base64("QQ=").error().message == "illegal base64 data at input byte 3");
  }
  SECTION("rejects misplaced padding") {
    CHECK(decode_base64("Q===").error().message == "illegal base64 data at input byte 1");
    CHECK(decode_base64("QQ==QUJD").error().message == "illegal base64 data at input byte 4");
    CHECK(decode_base64("QQ===").error().message == "illegal base64 data at input byte 4");
  }
}

TEST_CASE("core::encode_base64", "[base64]") {
  CHECK(encode_base64("") == "");
  CHECK(encode_base64("A") == "QQ==");
  CHECK(encode_base64("AB") == "QUI=");
  CHECK(encode_base64("ABC") == "QUJD");
  const std::string binary("\x00\xff\x10\x80 z", 6);
  CHECK(decode_base64(encode_base64(binary)).value() == binary);
}
