// The Tokenizer interface: text <-> token ids for every vocabulary we load (tiktoken
// tokenizer.model, Hugging Face tokenizer.json, SentencePiece tokenizer.model, GGUF-embedded).
// Implementations: BpeTokenizer (byte-level BPE by rank), SpmTokenizer (SentencePiece BPE by score).
// A loaded tokenizer is immutable, so one instance may encode from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace llm {

// Texts above this are refused before any work (ids and offsets stay within int32 and memory
// stays proportional to a sane input).
inline constexpr size_t kTokenizerMaxTextBytes = size_t{1} << 30;

struct EncodeOptions {
  // Add BOS (and EOS) where the model's policy does (SpecialTokenIds::add_bos / add_eos).
  bool add_bos = true;
  // Match special-token strings such as "<|eot_id|>" in the text. Off by default: user text that
  // contains them must not be able to forge turns. Non-special added tokens always match.
  bool parse_special = false;
};

struct DecodeOptions {
  bool skip_special = false;  // drop BOS/EOS/control tokens instead of rendering their text
};

// Ids of the tokens the engine and chat templates need; -1 where the vocabulary has none.
struct SpecialTokenIds {
  int32_t bos = -1;
  int32_t eos = -1;  // end of text (the tokenizer's eos_token)
  int32_t eot = -1;  // end of turn (<|eot_id|> on Llama 3)
  int32_t eom = -1;  // end of message (<|eom_id|>, tool calls on Llama 3.1)
  int32_t unk = -1;
  int32_t pad = -1;
  bool add_bos = false;  // the model's BOS policy
  bool add_eos = false;
};

enum class TokenizerKind {
  kTiktoken,         // Meta's Llama 3 tokenizer.model (base64 token + rank)
  kHuggingFaceBpe,   // tokenizer.json, model.type BPE with ByteLevel
  kGgufBpe,          // GGUF tokenizer.ggml.model = gpt2
  kSentencePiece,    // SentencePiece tokenizer.model protobuf (libsentencepiece)
  kGgufSpm,          // GGUF tokenizer.ggml.model = llama
};
const char* tokenizer_kind_name(TokenizerKind kind);

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual TokenizerKind kind() const = 0;
  virtual Result<std::vector<int32_t>> encode(std::string_view text, const EncodeOptions& options) const = 0;
  // Number of ids (the largest id + 1).
  virtual int32_t vocab_size() const = 0;
  // The bytes this token contributes to decoded text (possibly part of a UTF-8 sequence); for
  // special tokens their text. kInvalidArgument for an id outside [0, vocab_size) or a hole.
  virtual Result<std::string> token_to_bytes(int32_t id) const = 0;
  // Control/special tokens (BOS, EOS, <|eot_id|>, reserved ...), which skip_special drops.
  virtual bool is_special(int32_t id) const = 0;
  // SentencePiece adds a space before the text, so decoding drops one space before the first
  // piece of text.
  virtual bool strips_leading_space() const = 0;
  // The id of a token given by its exact text ("<|eot_id|>"), if the vocabulary has one.
  virtual std::optional<int32_t> token_id(std::string_view text) const = 0;

  const SpecialTokenIds& special_ids() const { return special_ids_; }
  // The chat template from tokenizer_config.json or tokenizer.chat_template, if any.
  const std::string& chat_template() const { return chat_template_; }

  // Whole-sequence decode; invalid UTF-8 in the result becomes U+FFFD.
  Result<std::string> decode(std::span<const int32_t> ids, const DecodeOptions& options) const;

 protected:
  SpecialTokenIds special_ids_;
  std::string chat_template_;
};

// Loads a tokenizer file (tokenizer.model of either kind, tokenizer.json, a GGUF file) or a model
// directory (tokenizer.json + tokenizer_config.json, tokenizer.model, original/tokenizer.model,
// or a single *.gguf).
Result<std::unique_ptr<Tokenizer>> load_tokenizer(const std::string& path_or_model_dir);

}  // namespace llm
