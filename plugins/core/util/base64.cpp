#include "core/util/base64.h"

#include <array>
#include <cstdint>

namespace kp::core {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr int kInvalid = -1;

constexpr std::array<int, 256> make_decode_table() {
  std::array<int, 256> table{};
  table.fill(kInvalid);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  }
  return table;
}

constexpr std::array<int, 256> kDecodeTable = make_decode_table();

bool is_line_break(char c) {
  return c == '\r' || c == '\n';
}

Error illegal_at(std::size_t offset) {
  return Error{"illegal base64 data at input byte " + std::to_string(offset)};
}

}  // namespace

Result<std::string> decode_base64(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t quantum = 0;
  int filled = 0;   // sextets in the current quantum
  int padding = 0;  // '=' seen; once non-zero only more '=' (to close the quantum) may follow
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_line_break(c)) {
      continue;
    }
    if (c == '=') {
      // Padding may only complete a quantum that holds two or three sextets, and only once.
      if (filled == 4 || filled + padding < 2) {
        return illegal_at(i);
      }
      ++padding;
      if (filled + padding == 4) {
        filled = 4;  // closed; anything but line breaks after this is an error
      }
      continue;
    }
    if (padding > 0 || filled == 4) {
      return illegal_at(i);
    }
    const int sextet = kDecodeTable[static_cast<unsigned char>(c)];
    if (sextet == kInvalid) {
      return illegal_at(i);
    }
    quantum = (quantum << 6) | static_cast<std::uint32_t>(sextet);
    if (++filled == 4) {
      out.push_back(static_cast<char>((quantum >> 16) & 0xff));
      out.push_back(static_cast<char>((quantum >> 8) & 0xff));
      out.push_back(static_cast<char>(quantum & 0xff));
      quantum = 0;
      filled = 0;
    }
  }
  if (padding > 0 && filled != 4) {
    return illegal_at(text.size());  // padding started but the quantum was never closed
  }
  if (padding == 0 && filled != 0) {
    return illegal_at(text.size());  // unpadded tail: StdEncoding requires padding
  }
  // A padded quantum holds 2 (one output byte) or 3 (two output bytes) sextets.
  if (padding == 2) {
    out.push_back(static_cast<char>((quantum >> 4) & 0xff));
  }
  if (padding == 1) {
    out.push_back(static_cast<char>((quantum >> 10) & 0xff));
    out.push_back(static_cast<char>((quantum >> 2) & 0xff));
  }
  return out;
}

std::string encode_base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) {
    return out;
  }
  std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
  if (rest == 2) {
    n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
  }
  out.push_back(kAlphabet[(n >> 18) & 63]);
  out.push_back(kAlphabet[(n >> 12) & 63]);
  out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
  out.push_back('=');
  return out;
}

}  // namespace kp::core
