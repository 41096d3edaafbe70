// Pre-tokenizer regex (PCRE2, UTF + Unicode properties, JIT-compiled): splits text into the
// pieces that BPE merges within. Patterns may come from hostile files, so compile errors are
// values and every match runs under a match limit.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace llm {

// Meta's Llama 3 pattern (tiktoken pat_str; the same string is the Split regex of the Hugging
// Face tokenizer.json and llama.cpp's "llama-bpe" pre-tokenizer).
inline constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-2's pattern (llama.cpp "gpt-2"/"default").
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class PreTokenizerRegex {
 public:
  // `subject` names the pattern's origin in errors ("tokenizer.json pre_tokenizer").
  static Result<PreTokenizerRegex> compile(std::string_view pattern, const std::string& subject);
  // A pattern that matches `literal` exactly (HF Split {"String": ...}).
  static Result<PreTokenizerRegex> compile_literal(std::string_view literal, const std::string& subject);

  // Appends (offset, length) pieces covering all of `text` (which must be valid UTF-8): each match
  // and each gap between matches (HF Split behavior "Isolated").
  Status split(std::string_view text, std::vector<std::pair<size_t, size_t>>& pieces) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  std::shared_ptr<const Compiled> compiled_;  // immutable after compile; shared by copies
  std::string pattern_;
};

}  // namespace llm
