// Format readers: each turns one file format into a BpeSpec or SpmSpec and builds the tokenizer.
// Inputs are whole files already in memory; `subject` names the file in errors.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "formats/gguf/gguf_metadata.h"
#include "tokenizer/tokenizer.h"

namespace llm {

// Meta's Llama 3 tokenizer.model: "base64(token bytes) rank" per line, plus the 256 special
// tokens that Meta's tokenizer.py appends after the last rank.
Result<std::unique_ptr<Tokenizer>> load_tiktoken(std::string_view text, const std::string& subject);

// A Hugging Face tokenizer.json (model.type BPE with ByteLevel), with tokenizer_config.json's
// text if there is one (empty otherwise) for bos/eos, add_bos_token and chat_template.
Result<std::unique_ptr<Tokenizer>> load_hf_tokenizer(std::string_view tokenizer_json, std::string_view config_json,
                                                     const std::string& subject);

// The vocabulary embedded in GGUF metadata: tokenizer.ggml.model "gpt2" (with tokenizer.ggml.pre)
// or "llama".
Result<std::unique_ptr<Tokenizer>> load_gguf_tokenizer(const GgufMetadata& metadata, const std::string& subject);

}  // namespace llm
