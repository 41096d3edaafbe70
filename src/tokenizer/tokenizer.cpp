#include "tokenizer/tokenizer.h"

#include "tokenizer/utf8.h"

namespace llm {

const char* tokenizer_kind_name(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::kTiktoken: return "tiktoken tokenizer.model";
    case TokenizerKind::kHuggingFaceBpe: return "tokenizer.json";
    case TokenizerKind::kGgufBpe: return "GGUF gpt2 vocabulary";
    case TokenizerKind::kSentencePiece: return "SentencePiece tokenizer.model";
    case TokenizerKind::kGgufSpm: return "GGUF llama vocabulary";
  }
  return "tokenizer";
}

Result<std::string> Tokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& options) const {
  std::string bytes;
  bool at_start = true;  // no text emitted yet (SentencePiece drops the dummy-prefix space)
  for (const int32_t id : ids) {
    auto piece = token_to_bytes(id);
    if (!piece) return piece.error();
    const bool special = is_special(id);
    if (special && options.skip_special) continue;
    std::string_view view = *piece;
    if (!special && at_start && strips_leading_space() && !view.empty() && view[0] == ' ') view.remove_prefix(1);
    if (!special) at_start = false;
    bytes.append(view);
  }
  return utf8_sanitize(bytes);
}

}  // namespace llm
