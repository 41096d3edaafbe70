// Jinja parser: tokens -> statement list, following the precedence of jinja2/parser.py
// (or < and < not < compare < + - < ~ < * / // % < ** < unary < postfix/filters).
#pragma once

#include <memory>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"
#include "util/result.h"

namespace llm::jinja {

struct ParseOptions {
  int max_nesting_depth = 128;  // nested blocks plus nested expressions; bounds parser recursion
};

Result<std::vector<std::unique_ptr<Stmt>>> parse_tokens(const std::vector<Token>& tokens, const ParseOptions& options);

}  // namespace llm::jinja
