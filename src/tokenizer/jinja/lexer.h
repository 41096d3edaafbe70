// Jinja lexer: template text -> tokens, applying whitespace control the way transformers'
// environment does (trim_blocks=True, lstrip_blocks=True, plus the explicit {%- -%} / {%+ markers).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace llm::jinja {

enum class TokenKind {
  kText,           // literal template text, whitespace control already applied
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,           // identifiers and keywords (if, for, in, not, true, none, ...)
  kString,         // string literal, escapes decoded
  kInteger,
  kFloat,
  kOperator,       // + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
  kEnd,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;  // text, name, decoded string or operator spelling
  int64_t integer = 0;
  double number = 0;
  int line = 1;
};

struct LexOptions {
  bool trim_blocks = true;   // drop the first newline after a block or comment tag
  bool lstrip_blocks = true; // drop spaces/tabs before a block or comment tag at the start of a line
  size_t max_tokens = 1 << 20;
};

Result<std::vector<Token>> lex_template(std::string_view source, const LexOptions& options);

}  // namespace llm::jinja
