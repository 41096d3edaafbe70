#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include <algorithm>

#include "util/str.h"

namespace llm {

struct PreTokenizerRegex::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() { pcre2_code_free(code); }
};

static std::string pcre2_message(int error_code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(error_code, buffer, sizeof(buffer));
  return n < 0 ? str("PCRE2 error ", error_code) : std::string(reinterpret_cast<const char*>(buffer));
}

Result<PreTokenizerRegex> PreTokenizerRegex::compile(std::string_view pattern, const std::string& subject) {
  constexpr size_t kMaxPatternBytes = 64 << 10;
  if (pattern.size() > kMaxPatternBytes) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": regex of ", pattern.size(), " bytes, expected at most ", kMaxPatternBytes));
  }
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // UCP: \s, \d, \w and POSIX classes follow Unicode properties, like the Rust and JS engines.
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C, &error_code, &error_offset,
                                   nullptr);
  if (code == nullptr) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": regex does not compile at offset ", error_offset,
                                                     ": ", pcre2_message(error_code)));
  }
  auto compiled = std::make_shared<Compiled>();
  compiled->code = code;
  // JIT is an optimization; the interpreter gives the same matches where JIT is unavailable.
  compiled->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  PreTokenizerRegex regex;
  regex.compiled_ = std::move(compiled);
  regex.pattern_ = std::string(pattern);
  return regex;
}

Result<PreTokenizerRegex> PreTokenizerRegex::compile_literal(std::string_view literal, const std::string& subject) {
  std::string pattern;
  for (const char c : literal) {
    const auto byte = static_cast<unsigned char>(c);
    const bool plain = byte >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!plain) pattern += '\\';
    pattern += c;
  }
  if (literal.empty()) return make_error(ErrorCode::kInvalidFormat, str(subject, ": empty literal split pattern"));
  return compile(pattern, subject);
}

Status PreTokenizerRegex::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& pieces) const {
  if (text.empty()) return {};
  const Compiled& compiled = *compiled_;
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match_data(
      pcre2_match_data_create_from_pattern(compiled.code, nullptr), &pcre2_match_data_free);
  std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> context(pcre2_match_context_create(nullptr),
                                                                                    &pcre2_match_context_free);
  std::unique_ptr<pcre2_jit_stack, decltype(&pcre2_jit_stack_free)> jit_stack(nullptr, &pcre2_jit_stack_free);
  if (!match_data || !context) return make_error(ErrorCode::kOutOfMemory, "pre-tokenizer: PCRE2 match data");
  // Bounded time on hostile patterns: the limit grows with the text so that linear backtracking
  // over a long whitespace run (the Llama 3 pattern's \s*[\r\n]+) still succeeds.
  const uint64_t limit = std::min<uint64_t>(uint64_t{10'000'000} + 64 * uint64_t{text.size()}, 0xFFFFFFFFu);
  pcre2_set_match_limit(context.get(), static_cast<uint32_t>(limit));
  pcre2_set_depth_limit(context.get(), 10'000'000);

  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  size_t gap_start = 0;
  while (offset < text.size()) {
    int rc = pcre2_match(compiled.code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, match_data.get(),
                         context.get());
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !jit_stack) {
      // The default 32 KiB JIT stack can run out on long matches; retry once with up to 64 MiB.
      jit_stack.reset(pcre2_jit_stack_create(32 << 10, 64 << 20, nullptr));
      if (!jit_stack) return make_error(ErrorCode::kOutOfMemory, "pre-tokenizer: PCRE2 JIT stack");
      pcre2_jit_stack_assign(context.get(), nullptr, jit_stack.get());
      rc = pcre2_match(compiled.code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, match_data.get(),
                       context.get());
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      return make_error(ErrorCode::kInvalidArgument, str("pre-tokenizer regex failed at byte ", offset, " of ",
                                                         text.size(), ": ", pcre2_message(rc)));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data.get());
    const size_t start = ovector[0], end = ovector[1];
    if (end <= start) {
      // An empty match (possible with file-supplied patterns): step over one character.
      size_t step = 1;
      while (offset + step < text.size() && (static_cast<unsigned char>(text[offset + step]) & 0xC0) == 0x80) ++step;
      offset = std::max(offset, start) + step;
      continue;
    }
    if (start > gap_start) pieces.emplace_back(gap_start, start - gap_start);
    pieces.emplace_back(start, end - start);
    offset = end;
    gap_start = end;
  }
  if (text.size() > gap_start) pieces.emplace_back(gap_start, text.size() - gap_start);
  return {};
}

}  // namespace llm
