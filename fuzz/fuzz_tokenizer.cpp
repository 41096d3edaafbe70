// Fuzzes the tokenizer readers and the encoder: the first input byte picks the target, the rest is
// a hostile tokenizer file (tiktoken, tokenizer.json, SentencePiece protobuf, GGUF) or text to encode.
// Any crash, sanitizer report, leak or unbounded time is a finding; errors are fine.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "formats/gguf/gguf.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/loaders.h"
#include "tokenizer/spm_tokenizer.h"

namespace {

// A fixed small byte-level vocabulary for the encode/decode targets: all 256 bytes plus a few
// merges and added tokens.
const llm::Tokenizer& small_tokenizer() {
  static const std::unique_ptr<llm::Tokenizer> tokenizer = [] {
    std::string model;
    const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int b = 0; b < 256; ++b) {
      // base64 of one byte: two characters + "==".
      model += b64[b >> 2];
      model += b64[(b & 3) << 4];
      model += "== " + std::to_string(b) + "\n";
    }
    model += "YWI= 256\nYWJj 257\nIGE= 258\n";  // "ab", "abc", " a"
    auto loaded = llm::load_tiktoken(model, "fuzz vocabulary");
    return loaded.ok() ? std::move(*loaded) : nullptr;
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0: (void)llm::load_tiktoken(input, "fuzz"); break;
    case 1: (void)llm::load_hf_tokenizer(input, "", "fuzz"); break;
    case 2: (void)llm::SpmTokenizer::from_protobuf(input, "fuzz"); break;
    case 3: {
      const auto& tokenizer = small_tokenizer();
      auto ids = tokenizer.encode(input, llm::EncodeOptions{.add_bos = true, .parse_special = (size & 1) != 0});
      if (ids.ok()) (void)tokenizer.decode(*ids, llm::DecodeOptions{});
      break;
    }
    case 4: {
      // Arbitrary ids through the streaming detokenizer.
      const auto& tokenizer = small_tokenizer();
      llm::StreamingDetokenizer stream(tokenizer, llm::DecodeOptions{});
      for (size_t i = 0; i + 1 < input.size(); i += 2) {
        (void)stream.push(static_cast<int32_t>(static_cast<uint8_t>(input[i]) | (static_cast<uint8_t>(input[i + 1]) << 8)) % 300);
      }
      (void)stream.finish();
      break;
    }
    case 5: {
      // A hostile GGUF: its embedded vocabulary, then a fixed text through it.
      auto gguf = llm::parse_gguf(std::span(reinterpret_cast<const std::byte*>(input.data()), input.size()), "fuzz");
      if (!gguf.ok()) break;
      auto tokenizer = llm::load_gguf_tokenizer(gguf->metadata, "fuzz");
      if (tokenizer.ok()) {
        auto ids = (*tokenizer)->encode("Hello <s> w\xC3\xB6rld \xF0\x9F\xA6\x99 123", llm::EncodeOptions{.parse_special = true});
        if (ids.ok()) (void)(*tokenizer)->decode(*ids, llm::DecodeOptions{});
      }
      break;
    }
  }
  return 0;
}
