#include "core/net/dns_wire.h"

#include <utility>

#include "core/net/net_detail.h"
#include "core/net/socket.h"
#include "core/util/text.h"

namespace kp::core::detail {
namespace {

constexpr std::size_t kHeaderBytes = 12;
// Bounds that make a hostile answer terminate: a real name never needs more than a handful of
// pointers, and 255 bytes is the RFC 1035 limit for a whole name.
constexpr int kMaxPointerJumps = 32;
constexpr std::size_t kMaxNameBytes = 255;

std::uint16_t read16(const Bytes& msg, std::size_t at) {
  return static_cast<std::uint16_t>((msg[at] << 8) | msg[at + 1]);
}

// Reads a (possibly compressed) name at `pos` as lower-case dotted text and moves `pos` past
// it; the error says what is wrong.
Result<std::string> read_name(const Bytes& msg, std::size_t& pos) {
  std::size_t p = pos;
  bool jumped = false;
  int jumps = 0;
  std::size_t wireBytes = 1;
  std::string out;
  for (;;) {
    if (p >= msg.size()) {
      return Error{"name runs past the end of the message"};
    }
    const std::uint8_t length = msg[p];
    if ((length & 0xC0) == 0xC0) {
      if (p + 1 >= msg.size()) {
        return Error{"name runs past the end of the message"};
      }
      const std::size_t target = static_cast<std::size_t>(((length & 0x3F) << 8) | msg[p + 1]);
      if (!jumped) {
        pos = p + 2;
        jumped = true;
      }
      if (++jumps > kMaxPointerJumps) {
        return Error{"compression pointer loop"};
      }
      if (target >= msg.size()) {
        return Error{"compression pointer out of range"};
      }
      p = target;
      continue;
    }
    if ((length & 0xC0) != 0) {
      return Error{"unsupported label type"};
    }
    if (length == 0) {
      if (!jumped) {
        pos = p + 1;
      }
      break;
    }
    if (p + 1 + length > msg.size()) {
      return Error{"name runs past the end of the message"};
    }
    wireBytes += length + 1u;
    if (wireBytes > kMaxNameBytes) {
      return Error{"name longer than 255 bytes"};
    }
    if (!out.empty()) {
      out += '.';
    }
    out += ascii_lower(std::string_view(reinterpret_cast<const char*>(&msg[p + 1]), length));
    p += 1u + length;
  }
  return out;
}

}  // namespace

void put16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xff));
}

std::optional<Bytes> encode_name(std::string_view name) {
  if (name.ends_with('.')) {
    name.remove_suffix(1);
  }
  if (name.empty()) {
    return std::nullopt;
  }
  Bytes out;
  for (;;) {
    const auto dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63) {
      return std::nullopt;
    }
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) {
      break;
    }
    name.remove_prefix(dot + 1);
  }
  out.push_back(0);
  if (out.size() > kMaxNameBytes) {
    return std::nullopt;
  }
  return out;
}

Bytes build_query(std::uint16_t id, const Bytes& qname, std::uint16_t qtype) {
  Bytes out;
  put16(out, id);
  put16(out, 0x0100);  // standard query, recursion desired: we ask a resolver, not an authority
  put16(out, 1);       // one question
  put16(out, 0);
  put16(out, 0);
  put16(out, 0);
  out.insert(out.end(), qname.begin(), qname.end());
  put16(out, qtype);
  put16(out, kClassIn);
  return out;
}

std::optional<DnsMessage> parse_header(const Bytes& msg) {
  if (msg.size() < kHeaderBytes) {
    return std::nullopt;
  }
  DnsMessage out;
  out.id = read16(msg, 0);
  const std::uint16_t flags = read16(msg, 2);
  out.response = (flags & 0x8000) != 0;
  out.truncated = (flags & 0x0200) != 0;
  out.rcode = flags & 0x000F;
  out.questions = read16(msg, 4);
  return out;
}

Status parse_question(const Bytes& msg, DnsMessage& out, std::size_t& pos) {
  pos = kHeaderBytes;
  if (out.questions == 0) {
    return {};
  }
  if (out.questions != 1) {
    return Error{"answer has " + std::to_string(out.questions) + " questions"};
  }
  auto name = read_name(msg, pos);
  if (!name) {
    return name.error();
  }
  if (pos + 4 > msg.size()) {
    return Error{"question runs past the end of the message"};
  }
  out.qname = *name;
  out.qtype = read16(msg, pos);
  out.qclass = read16(msg, pos + 2);
  pos += 4;
  return {};
}

Status parse_answers(const Bytes& msg, DnsMessage& out, std::size_t pos) {
  const std::uint16_t count = read16(msg, 6);
  for (std::uint16_t i = 0; i < count; ++i) {
    auto owner = read_name(msg, pos);
    if (!owner) {
      return owner.error();
    }
    if (pos + 10 > msg.size()) {
      return Error{"record runs past the end of the message"};
    }
    ResourceRecord rr;
    rr.owner = *owner;
    rr.type = read16(msg, pos);
    rr.cls = read16(msg, pos + 2);
    const std::size_t length = read16(msg, pos + 8);
    pos += 10;
    if (pos + length > msg.size()) {
      return Error{"record data runs past the end of the message"};
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (rr.type == kTypeA) {
      if (length != 4) {
        return Error{"A record with " + std::to_string(length) + " bytes"};
      }
      inet_ntop(AF_INET, &msg[pos], text, sizeof text);
      rr.data = text;
    } else if (rr.type == kTypeAaaa) {
      if (length != 16) {
        return Error{"AAAA record with " + std::to_string(length) + " bytes"};
      }
      inet_ntop(AF_INET6, &msg[pos], text, sizeof text);
      rr.data = text;
    } else if (rr.type == kTypeCname) {
      std::size_t at = pos;
      auto target = read_name(msg, at);
      if (!target) {
        return target.error();
      }
      if (at > pos + length) {
        return Error{"CNAME target runs past its record"};
      }
      rr.data = *target;
    }
    pos += length;
    out.answers.push_back(std::move(rr));
  }
  return {};
}

std::string_view rcode_name(int rcode) {
  static constexpr std::pair<int, std::string_view> kNames[] = {
      {1, "FORMERR"}, {2, "SERVFAIL"}, {3, "NXDOMAIN"}, {4, "NOTIMP"}, {5, "REFUSED"}};
  return mapped(kNames, rcode, std::string_view());
}

}  // namespace kp::core::detail
