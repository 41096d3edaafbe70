// Incremental detokenization for streaming: feed ids one at a time, get text that is always
// complete UTF-8. A token that ends inside a multi-byte character (byte-level BPE splits emoji and
// CJK across tokens) is held back until the character completes; bytes that can never complete
// become U+FFFD, and finish() flushes what is left.
#pragma once

#include <string>

#include "tokenizer/tokenizer.h"

namespace llm {

class StreamingDetokenizer {
 public:
  // The tokenizer must outlive the detokenizer.
  StreamingDetokenizer(const Tokenizer& tokenizer, const DecodeOptions& options);

  // Text that became complete with this token (possibly empty).
  Result<std::string> push(int32_t id);
  // The held-back remainder, invalid sequences as U+FFFD; the stream may continue afterwards.
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  std::string pending_;  // bytes of an incomplete trailing UTF-8 sequence (at most 3)
  bool at_start_ = true;
};

}  // namespace llm
