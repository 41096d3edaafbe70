// SentencePiece BPE (Llama 2). Two encoders behind one vocabulary:
// - a SentencePiece tokenizer.model protobuf is encoded by libsentencepiece itself;
// - a GGUF llama vocabulary (tokenizer.ggml.tokens/scores/token_type, no protobuf) is encoded by
//   SentencePiece's BPE-by-score merge as llama.cpp implements it (llm_tokenizer_spm): symbols are
//   UTF-8 characters, the adjacent pair whose concatenation is the highest-scoring token merges
//   first (ties: leftmost), characters without a token fall back to <0xXX> byte tokens.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace llm {

// SentencePiece piece types (sentencepiece_model.proto; GGUF token_type uses the same numbers).
enum class SpmPieceType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct SpmSpec {
  TokenizerKind kind = TokenizerKind::kGgufSpm;
  std::vector<std::string> pieces;  // id -> piece text ("▁" marks a space)
  std::vector<float> scores;
  std::vector<SpmPieceType> types;
  bool add_space_prefix = true;  // SentencePiece's add_dummy_prefix
  SpecialTokenIds special_ids;
  std::string chat_template;
};

class SpmTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<SpmTokenizer>> create(SpmSpec spec);
  // Loads a serialized SentencePiece ModelProto (a Llama 2 tokenizer.model).
  static Result<std::unique_ptr<SpmTokenizer>> from_protobuf(std::string_view serialized, const std::string& subject);
  ~SpmTokenizer() override;

  TokenizerKind kind() const override { return kind_; }
  Result<std::vector<int32_t>> encode(std::string_view text, const EncodeOptions& options) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  Result<std::string> token_to_bytes(int32_t id) const override;
  bool is_special(int32_t id) const override;
  bool strips_leading_space() const override { return add_space_prefix_; }
  std::optional<int32_t> token_id(std::string_view text) const override;

 private:
  SpmTokenizer();
  // Merges one fragment (already prefixed and with spaces escaped to U+2581).
  Status merge_fragment(std::string_view text, std::vector<int32_t>& out) const;

  TokenizerKind kind_ = TokenizerKind::kGgufSpm;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<SpmPieceType> types_;
  std::unordered_map<std::string_view, int32_t> piece_ids_;  // views into pieces_
  std::array<int32_t, 256> byte_tokens_{};                   // <0xXX> tokens, or -1
  bool add_space_prefix_ = true;
  AddedTokenMatcher added_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;  // protobuf models only
};

}  // namespace llm
