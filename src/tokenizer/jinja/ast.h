// Jinja AST: expressions and statements, owned by the parsed Template.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace llm::jinja {

enum class ExprKind {
  kLiteral,      // literal
  kName,         // name
  kList,         // children = items
  kTuple,        // children = items (evaluates to a list)
  kDict,         // children = key0, value0, key1, value1, ...
  kAttribute,    // children[0] . name
  kSubscript,    // children[0] [ children[1] ]
  kSlice,        // children[0] [ children[1] : children[2] : children[3] ] (absent parts are null)
  kCall,         // children[0] ( children[1..] ), arg_names parallel to children[1..]
  kFilter,       // children[0] | name ( children[1..] )
  kTest,         // children[0] is [not] name ( children[1..] ); negated for "is not"
  kUnary,        // name ("-" / "+") children[0]
  kNot,          // not children[0]
  kBinary,       // children[0] name children[1]; name in + - * / // % ** ~ == != < <= > >= in "not in"
  kAnd,          // short-circuit
  kOr,           // short-circuit
  kConditional,  // children[0] if children[1] else children[2] (children[2] may be null)
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  std::string name;
  Value literal;
  bool negated = false;
  std::vector<std::unique_ptr<Expr>> children;
  std::vector<std::string> arg_names;  // call/filter/test keyword names; "" for positional
};

enum class StmtKind {
  kText,      // text
  kOutput,    // {{ expr }}
  kIf,        // if expr: body else else_body (elif is a nested kIf in else_body)
  kFor,       // for targets in expr [if filter]: body else else_body
  kSet,       // set targets = expr, or set targets[0].attribute = expr
  kSetBlock,  // set targets[0] %} body {% endset
  kMacro,     // macro name(targets = defaults) body
  kBreak,
  kContinue,
  kBlock,     // a group of statements with no scope of its own ({% generation %})
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  int line = 0;
  std::string text;       // kText: the text; kMacro: the macro's name
  std::string attribute;  // kSet on a namespace: the key
  std::unique_ptr<Expr> expr;
  std::unique_ptr<Expr> filter;  // kFor: the inline "if" condition
  std::vector<std::string> targets;
  std::vector<std::unique_ptr<Expr>> defaults;  // kMacro: parallel to targets; null = required
  std::vector<std::unique_ptr<Stmt>> body;
  std::vector<std::unique_ptr<Stmt>> else_body;
};

}  // namespace llm::jinja
