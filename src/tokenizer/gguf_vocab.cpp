// The vocabulary embedded in GGUF metadata (llama.cpp's tokenizer.ggml.* keys), so that a GGUF
// or an Ollama blob needs no other file.
#include <unordered_map>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/loaders.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/str.h"

namespace llm {

namespace {

// An optional token id key; absent or out of range -> fallback (some files carry stale ids, e.g.
// a padding id past the vocabulary, and llama.cpp ignores those too).
int32_t optional_id(const GgufMetadata& metadata, std::string_view key, int32_t fallback, size_t vocab_size) {
  if (!metadata.has(key)) return fallback;
  const auto id = metadata.get_i64(key);
  if (!id || *id < 0 || static_cast<uint64_t>(*id) >= vocab_size) return -1;
  return static_cast<int32_t>(*id);
}

bool optional_bool(const GgufMetadata& metadata, std::string_view key, bool fallback) {
  const auto value = metadata.get_bool(key);
  return value ? *value : fallback;
}

// Token types (same numbering as SpmPieceType); absent -> all normal. Unknown values (0 is
// "undefined" in llama.cpp) count as normal.
Result<std::vector<SpmPieceType>> read_token_types(const GgufMetadata& metadata, size_t n, const std::string& subject) {
  std::vector<SpmPieceType> types(n, SpmPieceType::kNormal);
  if (!metadata.has("tokenizer.ggml.token_type")) return types;
  auto raw = metadata.get_array_ints("tokenizer.ggml.token_type");
  if (!raw) return raw.error();
  if (raw->size() != n) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": tokenizer.ggml.token_type has ", raw->size(),
                                                     " entries, expected one per token (", n, ")"));
  }
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = (*raw)[i];
    if (t >= 1 && t <= 6) types[i] = static_cast<SpmPieceType>(t);
  }
  return types;
}

Result<std::unique_ptr<Tokenizer>> load_gguf_spm(const GgufMetadata& metadata, std::vector<std::string> tokens,
                                                 const std::string& subject) {
  const size_t n = tokens.size();
  SpmSpec spec;
  spec.kind = TokenizerKind::kGgufSpm;
  if (metadata.has("tokenizer.ggml.scores")) {
    auto scores = metadata.get_array_floats("tokenizer.ggml.scores");
    if (!scores) return scores.error();
    if (scores->size() != n) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": tokenizer.ggml.scores has ", scores->size(),
                                                       " entries, expected one per token (", n, ")"));
    }
    spec.scores = std::move(*scores);
  } else {
    spec.scores.assign(n, 0.0f);
  }
  auto types = read_token_types(metadata, n, subject);
  if (!types) return types.error();
  spec.types = std::move(*types);
  spec.pieces = std::move(tokens);
  // llama.cpp's defaults for SentencePiece vocabularies.
  spec.special_ids.bos = optional_id(metadata, "tokenizer.ggml.bos_token_id", 1 < n ? 1 : -1, n);
  spec.special_ids.eos = optional_id(metadata, "tokenizer.ggml.eos_token_id", 2 < n ? 2 : -1, n);
  spec.special_ids.unk = optional_id(metadata, "tokenizer.ggml.unknown_token_id", 0, n);
  spec.special_ids.pad = optional_id(metadata, "tokenizer.ggml.padding_token_id", -1, n);
  spec.special_ids.eot = optional_id(metadata, "tokenizer.ggml.eot_token_id", -1, n);
  spec.special_ids.eom = optional_id(metadata, "tokenizer.ggml.eom_token_id", -1, n);
  spec.special_ids.add_bos = optional_bool(metadata, "tokenizer.ggml.add_bos_token", true);
  spec.special_ids.add_eos = optional_bool(metadata, "tokenizer.ggml.add_eos_token", false);
  spec.add_space_prefix = optional_bool(metadata, "tokenizer.ggml.add_space_prefix", true);
  if (auto chat_template = metadata.get_string("tokenizer.chat_template")) spec.chat_template = std::move(*chat_template);
  auto tok = SpmTokenizer::create(std::move(spec));
  if (!tok) return tok.error();
  return std::unique_ptr<Tokenizer>(std::move(*tok));
}

Result<std::unique_ptr<Tokenizer>> load_gguf_bpe(const GgufMetadata& metadata, std::vector<std::string> tokens,
                                                 const std::string& subject) {
  const size_t n = tokens.size();
  BpeSpec spec;
  spec.kind = TokenizerKind::kGgufBpe;
  // tokenizer.ggml.pre names the pre-tokenizer; the regex comes from llama.cpp's table for it.
  std::string pre = "default";
  if (metadata.has("tokenizer.ggml.pre")) {
    auto value = metadata.get_string("tokenizer.ggml.pre");
    if (!value) return value.error();
    pre = *value;
  }
  bool llama3 = false;
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" || pre == "smaug-bpe") {
    spec.pattern = std::string(kLlama3Pattern);
    spec.ignore_merges = pre != "smaug-bpe";
    llama3 = true;
  } else if (pre == "default" || pre == "gpt2" || pre == "gpt-2") {
    spec.pattern = std::string(kGpt2Pattern);
    spec.ignore_merges = false;
  } else {
    return make_error(ErrorCode::kUnsupported, str(subject, ": tokenizer.ggml.pre '", pre,
                                                   "', expected llama-bpe, llama3, smaug-bpe or default"));
  }
  auto types = read_token_types(metadata, n, subject);
  if (!types) return types.error();

  const ByteUnicodeMap byte_map;
  std::unordered_map<std::string_view, int32_t> ids;  // ByteLevel text -> id, for the merges
  ids.reserve(n);
  spec.tokens.resize(n);
  spec.present.assign(n, 1);
  std::string bytes;
  for (size_t id = 0; id < n; ++id) {
    const std::string& text = tokens[id];
    switch ((*types)[id]) {
      case SpmPieceType::kControl:
      case SpmPieceType::kUnknown:
        spec.added_tokens.push_back({text, static_cast<int32_t>(id), /*special=*/true});
        break;
      case SpmPieceType::kUserDefined:
        spec.added_tokens.push_back({text, static_cast<int32_t>(id), /*special=*/false});
        break;
      case SpmPieceType::kNormal:
      case SpmPieceType::kUnused:
      case SpmPieceType::kByte:
        break;
    }
    spec.tokens[id] = byte_map.decode(text, bytes) ? bytes : text;
    ids.emplace(text, static_cast<int32_t>(id));
  }
  if (metadata.has("tokenizer.ggml.merges")) {
    auto merges = metadata.get_array_strings("tokenizer.ggml.merges");
    if (!merges) return merges.error();
    if (merges->size() > kTokenizerMaxMerges) {
      return make_error(ErrorCode::kInvalidFormat,
                        str(subject, ": ", merges->size(), " merges, expected at most ", kTokenizerMaxMerges));
    }
    spec.merges.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const std::string_view merge = (*merges)[i];
      const size_t space = merge.find(' ', 1);
      const auto l = space == std::string_view::npos ? ids.end() : ids.find(merge.substr(0, space));
      const auto r = space == std::string_view::npos ? ids.end() : ids.find(merge.substr(space + 1));
      if (l == ids.end() || r == ids.end()) {
        return make_error(ErrorCode::kInvalidFormat, str(subject, ": tokenizer.ggml.merges[", i, "] '",
                                                         utf8_sanitize(merge), "' is not two tokens of the vocabulary"));
      }
      spec.merges.emplace_back(l->second, r->second);
    }
  }
  spec.special_ids.bos = optional_id(metadata, "tokenizer.ggml.bos_token_id", -1, n);
  spec.special_ids.eos = optional_id(metadata, "tokenizer.ggml.eos_token_id", -1, n);
  spec.special_ids.unk = optional_id(metadata, "tokenizer.ggml.unknown_token_id", -1, n);
  spec.special_ids.pad = optional_id(metadata, "tokenizer.ggml.padding_token_id", -1, n);
  spec.special_ids.eot = optional_id(metadata, "tokenizer.ggml.eot_token_id", -1, n);
  spec.special_ids.eom = optional_id(metadata, "tokenizer.ggml.eom_token_id", -1, n);
  const auto find = [&](std::string_view text) {
    const auto it = ids.find(text);
    return it == ids.end() ? -1 : it->second;
  };
  if (spec.special_ids.eot < 0) spec.special_ids.eot = find("<|eot_id|>");
  if (spec.special_ids.eom < 0) spec.special_ids.eom = find("<|eom_id|>");
  spec.special_ids.add_bos = optional_bool(metadata, "tokenizer.ggml.add_bos_token", llama3);
  spec.special_ids.add_eos = optional_bool(metadata, "tokenizer.ggml.add_eos_token", false);
  if (auto chat_template = metadata.get_string("tokenizer.chat_template")) spec.chat_template = std::move(*chat_template);
  auto tok = BpeTokenizer::create(std::move(spec));
  if (!tok) return tok.error();
  return std::unique_ptr<Tokenizer>(std::move(*tok));
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> load_gguf_tokenizer(const GgufMetadata& metadata, const std::string& subject) {
  auto model = metadata.get_string("tokenizer.ggml.model");
  if (!model) {
    return make_error(model.error().code, str(subject, ": no embedded vocabulary: ", model.error().message));
  }
  auto tokens = metadata.get_array_strings("tokenizer.ggml.tokens");
  if (!tokens) return tokens.error();
  if (tokens->empty() || tokens->size() > kTokenizerMaxVocab) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": tokenizer.ggml.tokens has ", tokens->size(),
                                                     " entries, expected 1..", kTokenizerMaxVocab));
  }
  if (*model == "llama") return load_gguf_spm(metadata, std::move(*tokens), subject);
  if (*model == "gpt2") return load_gguf_bpe(metadata, std::move(*tokens), subject);
  return make_error(ErrorCode::kUnsupported,
                    str(subject, ": tokenizer.ggml.model '", *model, "', expected llama or gpt2"));
}

}  // namespace llm
