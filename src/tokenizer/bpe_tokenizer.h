// Byte-level BPE by rank, shared by Meta's tiktoken tokenizer.model, Hugging Face tokenizer.json
// (ByteLevel) and GGUF gpt2 vocabularies. Internally every token is its raw bytes (HF's
// byte-to-unicode characters are decoded at load), and a merge is a pair of token ids with a rank.
// Encode: added tokens -> pre-tokenizer regex -> per piece, whole-piece lookup (ignore_merges)
// or lowest-rank-first merging.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/flat_tables.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"

namespace llm {

// Caps on vocabularies read from files: far above any real model (Llama 3: 128,256 tokens,
// 280,147 merges), low enough that a hostile header cannot make us allocate without bound.
inline constexpr size_t kTokenizerMaxVocab = size_t{1} << 22;
inline constexpr size_t kTokenizerMaxMerges = size_t{1} << 23;
inline constexpr size_t kTokenizerMaxTokenBytes = size_t{1} << 16;

// Everything a loader extracts from its file format.
struct BpeSpec {
  TokenizerKind kind = TokenizerKind::kHuggingFaceBpe;
  std::vector<std::string> tokens;   // id -> raw bytes of a model token
  std::vector<uint8_t> present;      // id -> 1 if tokens[id] is defined (ids may have holes)
  // Merges in priority order (rank = index), as (left id, right id). Leave empty and set
  // merges_from_ranks for tiktoken, where any two tokens whose concatenation is a token merge
  // with that token's id as the rank.
  std::vector<std::pair<int32_t, int32_t>> merges;
  bool merges_from_ranks = false;
  // A piece that is a whole token becomes that token without merging (tiktoken; HF ignore_merges).
  bool ignore_merges = true;
  std::string pattern;  // pre-tokenizer regex
  std::vector<AddedToken> added_tokens;  // ids may extend past tokens.size()
  SpecialTokenIds special_ids;
  std::string chat_template;
};

class BpeTokenizer final : public Tokenizer {
 public:
  // Validates the spec (ids in range, merge results exist) and builds the lookup tables.
  static Result<std::unique_ptr<BpeTokenizer>> create(BpeSpec spec);

  TokenizerKind kind() const override { return kind_; }
  Result<std::vector<int32_t>> encode(std::string_view text, const EncodeOptions& options) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(tokens_.size()); }
  Result<std::string> token_to_bytes(int32_t id) const override;
  bool is_special(int32_t id) const override;
  bool strips_leading_space() const override { return false; }
  std::optional<int32_t> token_id(std::string_view text) const override;

  // One pre-tokenized piece -> ids (appended). The fast path (heap merge, whole-piece lookup)
  // and its slow twin (quadratic lowest-rank scan, never skips merging) must agree on every
  // real vocabulary; tests compare them.
  Status encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  Status encode_piece_reference(std::string_view piece, std::vector<int32_t>& out) const;

 private:
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (uint64_t{static_cast<uint32_t>(left)} << 32) | static_cast<uint32_t>(right);
  }
  // The merge of (left, right): first = rank, second = resulting id; nullptr if none.
  const FlatPairTable::Entry* find_merge(int32_t left, int32_t right) const {
    return merges_.find(pair_key(left, right));
  }
  Status bytes_to_symbols(std::string_view piece, std::vector<int32_t>& symbols) const;
  Status encode_text(std::string_view text, std::vector<int32_t>& out) const;

  TokenizerKind kind_ = TokenizerKind::kHuggingFaceBpe;
  std::vector<std::string> tokens_;  // id -> bytes (model and added tokens)
  std::vector<uint8_t> flags_;       // id -> kPresent | kSpecial | kAdded
  FlatStringIndex model_token_ids_;  // model (non-added) token bytes -> id; reads tokens_
  std::unordered_map<std::string_view, int32_t> added_token_ids_;  // views into tokens_
  FlatPairTable merges_;
  std::array<int32_t, 256> byte_tokens_{};  // byte -> id of its single-byte token, or -1
  bool ignore_merges_ = true;
  PreTokenizerRegex regex_;
  AddedTokenMatcher added_;
};

}  // namespace llm
