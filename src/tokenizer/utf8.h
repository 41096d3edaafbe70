// UTF-8 helpers for the tokenizers: validation, code point iteration, and GPT-2's byte <-> unicode
// mapping (Hugging Face ByteLevel stores every token byte as one printable code point).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace llm {

// Length of the UTF-8 sequence that starts with `lead` (1..4), or 0 if `lead` cannot start one.
size_t utf8_sequence_length(unsigned char lead);

// Length of the valid UTF-8 sequence at text[offset] (1..4, RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 if the bytes there are not one.
size_t utf8_valid_sequence_at(std::string_view text, size_t offset);

// Offset of the first byte that is not part of valid UTF-8, or text.size() if all is valid.
size_t utf8_first_invalid(std::string_view text);

// Decodes the valid sequence at text[offset] of length n (from utf8_valid_sequence_at).
uint32_t utf8_decode(std::string_view text, size_t offset, size_t n);
void utf8_append(std::string& out, uint32_t code_point);

// Replaces every maximal invalid subpart with U+FFFD (the WHATWG/Unicode "best practice").
std::string utf8_sanitize(std::string_view bytes);

// GPT-2 bytes_to_unicode(): printable bytes map to themselves, the others to U+0100 upwards.
class ByteUnicodeMap {
 public:
  ByteUnicodeMap();
  uint32_t code_point(uint8_t byte) const { return byte_to_code_point_[byte]; }
  // Maps a ByteLevel string (e.g. "Ġhello") back to raw bytes; false if a character is not one of
  // the 256 byte characters.
  bool decode(std::string_view text, std::string& bytes) const;
  std::string encode(std::string_view bytes) const;

 private:
  std::array<uint32_t, 256> byte_to_code_point_{};
  // Inverse: the 256 code points lie in [0x21, 0x143]; -1 marks the others.
  std::array<int16_t, 0x144> code_point_to_byte_{};
};

}  // namespace llm
