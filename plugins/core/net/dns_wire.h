// The DNS wire format (RFC 1035), just enough for A/AAAA/CNAME answers: encoding a query and
// decoding an answer, bounded against hostile messages. No I/O; dns.cpp is the client that uses
// it. Not a public header: only dns.cpp and dns_wire.cpp include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/result.h"

namespace kp::core::detail {

constexpr std::uint16_t kTypeA = 1;
constexpr std::uint16_t kTypeCname = 5;
constexpr std::uint16_t kTypeAaaa = 28;
constexpr std::uint16_t kClassIn = 1;

using Bytes = std::vector<std::uint8_t>;

void put16(Bytes& out, std::uint16_t value);

// The wire labels of `name` (one trailing dot allowed); nullopt for an empty label, a label
// over 63 bytes or a name over 255 bytes.
std::optional<Bytes> encode_name(std::string_view name);

Bytes build_query(std::uint16_t id, const Bytes& qname, std::uint16_t qtype);

struct ResourceRecord {
  std::string owner;
  std::uint16_t type = 0;
  std::uint16_t cls = 0;
  std::string data;  // the address text for A/AAAA, the target name for CNAME
};

struct DnsMessage {
  std::uint16_t id = 0;
  bool response = false;
  bool truncated = false;
  int rcode = 0;
  std::uint16_t questions = 0;
  std::string qname;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  std::vector<ResourceRecord> answers;
};

// Header only, so an answer that is not ours is dropped before we trust anything else in it.
std::optional<DnsMessage> parse_header(const Bytes& msg);
// The question section (at most one question); leaves `pos` after it.
Status parse_question(const Bytes& msg, DnsMessage& out, std::size_t& pos);
// The answer section from `pos`: A and AAAA as address text, CNAME as the target name.
Status parse_answers(const Bytes& msg, DnsMessage& out, std::size_t pos);

// "NXDOMAIN" for 3 and the other common RCODEs; "" for the rest.
std::string_view rcode_name(int rcode);

}  // namespace kp::core::detail
