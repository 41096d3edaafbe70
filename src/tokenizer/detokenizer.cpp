#include "tokenizer/detokenizer.h"

#include "tokenizer/utf8.h"

namespace llm {

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, const DecodeOptions& options)
    : tokenizer_(tokenizer), options_(options) {}

// Length of the suffix of `bytes` that is a proper prefix of some valid UTF-8 sequence (so it may
// still complete), 0..3.
static size_t incomplete_suffix(std::string_view bytes) {
  const size_t max_back = std::min<size_t>(3, bytes.size());
  for (size_t back = 1; back <= max_back; ++back) {
    const size_t start = bytes.size() - back;
    const auto lead = static_cast<unsigned char>(bytes[start]);
    if ((lead & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t need = utf8_sequence_length(lead);
    if (need <= back) return 0;  // complete (or invalid): nothing to hold
    // Check the bytes present could start a valid sequence: pad with the smallest continuation
    // bytes the lead allows and validate.
    std::string probe(bytes.substr(start));
    while (probe.size() < need) {
      const auto first = static_cast<unsigned char>(probe[0]);
      char filler = '\x80';
      if (probe.size() == 1 && first == 0xE0) filler = '\xA0';
      if (probe.size() == 1 && first == 0xF0) filler = '\x90';
      probe += filler;
    }
    return utf8_valid_sequence_at(probe, 0) == need ? back : 0;
  }
  return 0;
}

Result<std::string> StreamingDetokenizer::push(int32_t id) {
  auto piece = tokenizer_.token_to_bytes(id);
  if (!piece) return piece.error();
  const bool special = tokenizer_.is_special(id);
  if (special && options_.skip_special) return std::string();
  std::string_view view = *piece;
  if (!special && at_start_ && tokenizer_.strips_leading_space() && !view.empty() && view[0] == ' ') {
    view.remove_prefix(1);
  }
  if (!special) at_start_ = false;
  pending_.append(view);
  const size_t hold = incomplete_suffix(pending_);
  std::string out = utf8_sanitize(std::string_view(pending_).substr(0, pending_.size() - hold));
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StreamingDetokenizer::finish() {
  std::string out = utf8_sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace llm
