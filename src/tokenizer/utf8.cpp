#include "tokenizer/utf8.h"

namespace llm {

size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

size_t utf8_valid_sequence_at(std::string_view text, size_t offset) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[offset + i]); };
  const unsigned char lead = byte(0);
  const size_t n = utf8_sequence_length(lead);
  if (n == 0 || offset + n > text.size()) return 0;
  if (n == 1) return 1;
  // The second byte's range depends on the lead (Unicode Table 3-7), which rules out overlongs,
  // surrogates and code points above U+10FFFF.
  unsigned char low = 0x80, high = 0xBF;
  if (lead == 0xE0) low = 0xA0;
  if (lead == 0xED) high = 0x9F;
  if (lead == 0xF0) low = 0x90;
  if (lead == 0xF4) high = 0x8F;
  if (byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return n;
}

size_t utf8_first_invalid(std::string_view text) {
  size_t offset = 0;
  while (offset < text.size()) {
    // ASCII fast path: 8 bytes at a time.
    while (offset + 8 <= text.size()) {
      uint64_t word = 0;
      for (size_t i = 0; i < 8; ++i) word |= uint64_t{static_cast<unsigned char>(text[offset + i])} << (8 * i);
      if (word & 0x8080808080808080ull) break;
      offset += 8;
    }
    if (offset >= text.size()) break;
    const size_t n = utf8_valid_sequence_at(text, offset);
    if (n == 0) return offset;
    offset += n;
  }
  return text.size();
}

uint32_t utf8_decode(std::string_view text, size_t offset, size_t n) {
  const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(text[offset + i])); };
  switch (n) {
    case 1: return b(0);
    case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    case 4: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    default: return 0xFFFD;
  }
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the longest prefix of text[offset..] that could begin a valid sequence (a maximal
// subpart, Unicode 3.9 D93b); at least 1. Used so one broken sequence becomes one U+FFFD.
static size_t utf8_maximal_subpart(std::string_view text, size_t offset) {
  const auto lead = static_cast<unsigned char>(text[offset]);
  const size_t n = utf8_sequence_length(lead);
  if (n <= 1) return 1;
  unsigned char low = 0x80, high = 0xBF;
  if (lead == 0xE0) low = 0xA0;
  if (lead == 0xED) high = 0x9F;
  if (lead == 0xF0) low = 0x90;
  if (lead == 0xF4) high = 0x8F;
  size_t i = 1;
  for (; i < n && offset + i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[offset + i]);
    const unsigned char lo = i == 1 ? low : 0x80, hi = i == 1 ? high : 0xBF;
    if (c < lo || c > hi) break;
  }
  return i;
}

std::string utf8_sanitize(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t offset = 0;
  while (offset < bytes.size()) {
    const size_t n = utf8_valid_sequence_at(bytes, offset);
    if (n > 0) {
      out.append(bytes.substr(offset, n));
      offset += n;
    } else {
      out += "\xEF\xBF\xBD";
      offset += utf8_maximal_subpart(bytes, offset);
    }
  }
  return out;
}

ByteUnicodeMap::ByteUnicodeMap() {
  code_point_to_byte_.fill(-1);
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    byte_to_code_point_[b] = printable ? b : next++;
    code_point_to_byte_[byte_to_code_point_[b]] = static_cast<int16_t>(b);
  }
}

bool ByteUnicodeMap::decode(std::string_view text, std::string& bytes) const {
  bytes.clear();
  size_t offset = 0;
  while (offset < text.size()) {
    const size_t n = utf8_valid_sequence_at(text, offset);
    if (n == 0) return false;
    const uint32_t cp = utf8_decode(text, offset, n);
    offset += n;
    if (cp >= code_point_to_byte_.size() || code_point_to_byte_[cp] < 0) return false;
    bytes += static_cast<char>(code_point_to_byte_[cp]);
  }
  return true;
}

std::string ByteUnicodeMap::encode(std::string_view bytes) const {
  std::string out;
  for (char c : bytes) utf8_append(out, byte_to_code_point_[static_cast<unsigned char>(c)]);
  return out;
}

}  // namespace llm
