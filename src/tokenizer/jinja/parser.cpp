#include "tokenizer/jinja/parser.h"

#include <initializer_list>
#include <string_view>

#include "util/str.h"

namespace llm::jinja {
namespace {

using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const ParseOptions& options) : tokens_(tokens), options_(options) {}

  Result<StmtList> parse_template() {
    std::string found;
    Result<StmtList> body = parse_until({}, &found);
    if (!body.ok()) return body.error();
    if (peek().kind != TokenKind::kEnd) return error("unexpected content after the template body");
    return body;
  }

 private:
  const Token& peek(size_t ahead = 0) const {
    size_t i = pos_ + ahead;
    return i < tokens_.size() ? tokens_[i] : tokens_.back();
  }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool at_name(std::string_view name, size_t ahead = 0) const {
    return peek(ahead).kind == TokenKind::kName && peek(ahead).text == name;
  }
  bool at_op(std::string_view op) const { return peek().kind == TokenKind::kOperator && peek().text == op; }
  bool accept_op(std::string_view op) {
    if (!at_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(std::string_view name) {
    if (!at_name(name)) return false;
    next();
    return true;
  }

  std::string describe(const Token& t) const {
    switch (t.kind) {
      case TokenKind::kText: return "template text";
      case TokenKind::kVariableBegin: return "'{{'";
      case TokenKind::kVariableEnd: return "'}}'";
      case TokenKind::kBlockBegin: return "'{%'";
      case TokenKind::kBlockEnd: return "'%}'";
      case TokenKind::kName: return str("'", t.text, "'");
      case TokenKind::kString: return "a string";
      case TokenKind::kInteger: return "an integer";
      case TokenKind::kFloat: return "a float";
      case TokenKind::kOperator: return str("'", t.text, "'");
      case TokenKind::kEnd: return "the end of the template";
    }
    return "?";
  }

  Error error(const std::string& what) const {
    return make_error(ErrorCode::kInvalidArgument, str("jinja: line ", peek().line, ": ", what));
  }
  Error expected(const std::string& what) const { return error(str("expected ", what, ", got ", describe(peek()))); }

  Status expect_op(std::string_view op) {
    if (!accept_op(op)) return expected(str("'", op, "'"));
    return {};
  }
  Status expect_block_end() {
    if (peek().kind != TokenKind::kBlockEnd) return expected("'%}'");
    next();
    return {};
  }
  Result<std::string> expect_name() {
    if (peek().kind != TokenKind::kName) return expected("a name");
    return next().text;
  }

  // Guards parser recursion against "((((((..." and deeply nested blocks.
  struct DepthGuard {
    explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
    ~DepthGuard() { --depth_; }
    int& depth_;
  };
  Status check_depth() const {
    if (depth_ > options_.max_nesting_depth) {
      return error(str("nesting deeper than ", options_.max_nesting_depth, " (limit max_nesting_depth)"));
    }
    return {};
  }

  ExprPtr make(ExprKind kind, std::string name = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = peek().line;
    e->name = std::move(name);
    return e;
  }

  // ---- statements ----

  Result<StmtList> parse_until(std::initializer_list<std::string_view> enders, std::string* found) {
    StmtList out;
    while (true) {
      const Token& t = peek();
      switch (t.kind) {
        case TokenKind::kEnd:
          if (enders.size() != 0) {
            return error(str("unexpected end of template: expected '{% ", *(enders.end() - 1), " %}'"));
          }
          return out;
        case TokenKind::kText: {
          auto s = std::make_unique<Stmt>();
          s->kind = StmtKind::kText;
          s->line = t.line;
          s->text = next().text;
          out.push_back(std::move(s));
          break;
        }
        case TokenKind::kVariableBegin: {
          next();
          auto s = std::make_unique<Stmt>();
          s->kind = StmtKind::kOutput;
          s->line = t.line;
          Result<ExprPtr> e = parse_expression();
          if (!e.ok()) return e.error();
          s->expr = std::move(*e);
          if (peek().kind != TokenKind::kVariableEnd) return expected("'}}'");
          next();
          out.push_back(std::move(s));
          break;
        }
        case TokenKind::kBlockBegin: {
          if (peek(1).kind == TokenKind::kName) {
            for (std::string_view ender : enders) {
              if (peek(1).text == ender) {
                next();
                *found = next().text;
                return out;
              }
            }
          }
          next();
          Result<StmtPtr> s = parse_statement();
          if (!s.ok()) return s.error();
          if (*s) out.push_back(std::move(*s));
          break;
        }
        case TokenKind::kVariableEnd:
        case TokenKind::kBlockEnd:
        case TokenKind::kName:
        case TokenKind::kString:
        case TokenKind::kInteger:
        case TokenKind::kFloat:
        case TokenKind::kOperator: return error(str("unexpected ", describe(t)));
      }
    }
  }

  Result<StmtPtr> parse_statement() {
    DepthGuard guard(depth_);
    if (Status s = check_depth(); !s) return s.error();
    Result<std::string> keyword = expect_name();
    if (!keyword.ok()) return keyword.error();
    const std::string& k = *keyword;
    if (k == "if") return parse_if();
    if (k == "for") return parse_for();
    if (k == "set") return parse_set();
    if (k == "macro") return parse_macro();
    if (k == "break" || k == "continue") {
      auto s = std::make_unique<Stmt>();
      s->kind = k == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      if (Status st = expect_block_end(); !st) return st.error();
      return s;
    }
    if (k == "generation" || k == "raw") {  // transformers' AssistantTracker tag marks, renders its body
      if (Status st = expect_block_end(); !st) return st.error();
      if (k == "raw") return StmtPtr();  // the lexer already turned the raw body into text
      auto s = std::make_unique<Stmt>();
      s->kind = StmtKind::kBlock;
      std::string found;
      Result<StmtList> body = parse_until({"endgeneration"}, &found);
      if (!body.ok()) return body.error();
      s->body = std::move(*body);
      if (Status st = expect_block_end(); !st) return st.error();
      return s;
    }
    if (k == "endraw") return error("'{% endraw %}' without '{% raw %}'");
    if (k == "include" || k == "import" || k == "from" || k == "extends" || k == "block") {
      return make_error(ErrorCode::kUnsupported,
                        str("jinja: '{% ", k, " %}' is not supported: templates cannot load other templates"));
    }
    return error(str("unknown or unexpected tag '", k, "'"));
  }

  Result<StmtPtr> parse_if() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::kIf;
    s->line = peek().line;
    Result<ExprPtr> cond = parse_expression();
    if (!cond.ok()) return cond.error();
    s->expr = std::move(*cond);
    if (Status st = expect_block_end(); !st) return st.error();
    std::string found;
    Result<StmtList> body = parse_until({"elif", "else", "endif"}, &found);
    if (!body.ok()) return body.error();
    s->body = std::move(*body);
    if (found == "elif") {
      DepthGuard guard(depth_);
      if (Status st = check_depth(); !st) return st.error();
      Result<StmtPtr> nested = parse_if();  // consumes through the shared endif
      if (!nested.ok()) return nested.error();
      s->else_body.push_back(std::move(*nested));
      return s;
    }
    if (found == "else") {
      if (Status st = expect_block_end(); !st) return st.error();
      Result<StmtList> else_body = parse_until({"endif"}, &found);
      if (!else_body.ok()) return else_body.error();
      s->else_body = std::move(*else_body);
    }
    if (Status st = expect_block_end(); !st) return st.error();
    return s;
  }

  Result<std::vector<std::string>> parse_targets() {
    std::vector<std::string> names;
    bool parenthesized = accept_op("(");
    do {
      Result<std::string> name = expect_name();
      if (!name.ok()) return name.error();
      names.push_back(*name);
    } while (accept_op(","));
    if (parenthesized) {
      if (Status st = expect_op(")"); !st) return st.error();
    }
    return names;
  }

  Result<StmtPtr> parse_for() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::kFor;
    s->line = peek().line;
    Result<std::vector<std::string>> targets = parse_targets();
    if (!targets.ok()) return targets.error();
    s->targets = std::move(*targets);
    if (!accept_name("in")) return expected("'in'");
    // The iterable stops before an inline "if" (no conditional expression here, as in Jinja).
    Result<ExprPtr> iterable = parse_or();
    if (!iterable.ok()) return iterable.error();
    s->expr = std::move(*iterable);
    if (accept_name("if")) {
      Result<ExprPtr> filter = parse_expression();
      if (!filter.ok()) return filter.error();
      s->filter = std::move(*filter);
    }
    if (at_name("recursive")) return make_error(ErrorCode::kUnsupported, "jinja: recursive for loops are not supported");
    if (Status st = expect_block_end(); !st) return st.error();
    std::string found;
    Result<StmtList> body = parse_until({"else", "endfor"}, &found);
    if (!body.ok()) return body.error();
    s->body = std::move(*body);
    if (found == "else") {
      if (Status st = expect_block_end(); !st) return st.error();
      Result<StmtList> else_body = parse_until({"endfor"}, &found);
      if (!else_body.ok()) return else_body.error();
      s->else_body = std::move(*else_body);
    }
    if (Status st = expect_block_end(); !st) return st.error();
    return s;
  }

  Result<StmtPtr> parse_set() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::kSet;
    s->line = peek().line;
    if (peek().kind == TokenKind::kName && peek(1).kind == TokenKind::kOperator && peek(1).text == ".") {
      s->targets.push_back(next().text);
      next();
      Result<std::string> attribute = expect_name();
      if (!attribute.ok()) return attribute.error();
      s->attribute = *attribute;
    } else {
      Result<std::vector<std::string>> targets = parse_targets();
      if (!targets.ok()) return targets.error();
      s->targets = std::move(*targets);
    }
    if (peek().kind == TokenKind::kBlockEnd && s->attribute.empty() && s->targets.size() == 1) {
      next();
      s->kind = StmtKind::kSetBlock;
      std::string found;
      Result<StmtList> body = parse_until({"endset"}, &found);
      if (!body.ok()) return body.error();
      s->body = std::move(*body);
      if (Status st = expect_block_end(); !st) return st.error();
      return s;
    }
    if (Status st = expect_op("="); !st) return st.error();
    Result<ExprPtr> value = parse_tuple_or_expression();
    if (!value.ok()) return value.error();
    s->expr = std::move(*value);
    if (Status st = expect_block_end(); !st) return st.error();
    return s;
  }

  Result<StmtPtr> parse_macro() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::kMacro;
    s->line = peek().line;
    Result<std::string> name = expect_name();
    if (!name.ok()) return name.error();
    s->text = *name;
    if (Status st = expect_op("("); !st) return st.error();
    while (!at_op(")")) {
      Result<std::string> param = expect_name();
      if (!param.ok()) return param.error();
      s->targets.push_back(*param);
      ExprPtr default_value;
      if (accept_op("=")) {
        Result<ExprPtr> e = parse_expression();
        if (!e.ok()) return e.error();
        default_value = std::move(*e);
      }
      s->defaults.push_back(std::move(default_value));
      if (!accept_op(",")) break;
    }
    if (Status st = expect_op(")"); !st) return st.error();
    if (Status st = expect_block_end(); !st) return st.error();
    std::string found;
    Result<StmtList> body = parse_until({"endmacro"}, &found);
    if (!body.ok()) return body.error();
    s->body = std::move(*body);
    if (peek().kind == TokenKind::kName) next();  // {% endmacro name %}
    if (Status st = expect_block_end(); !st) return st.error();
    return s;
  }

  // ---- expressions ----

  // "a, b" without brackets is a tuple (in set statements).
  Result<ExprPtr> parse_tuple_or_expression() {
    Result<ExprPtr> first = parse_expression();
    if (!first.ok() || !at_op(",")) return first;
    ExprPtr tuple = make(ExprKind::kTuple);
    tuple->children.push_back(std::move(*first));
    while (accept_op(",")) {
      Result<ExprPtr> item = parse_expression();
      if (!item.ok()) return item.error();
      tuple->children.push_back(std::move(*item));
    }
    return tuple;
  }

  Result<ExprPtr> parse_expression() {
    DepthGuard guard(depth_);
    if (Status s = check_depth(); !s) return s.error();
    Result<ExprPtr> value = parse_or();
    if (!value.ok()) return value;
    while (at_name("if")) {
      next();
      ExprPtr cond = make(ExprKind::kConditional);
      Result<ExprPtr> test = parse_or();
      if (!test.ok()) return test.error();
      ExprPtr otherwise;
      if (accept_name("else")) {
        Result<ExprPtr> e = parse_expression();
        if (!e.ok()) return e.error();
        otherwise = std::move(*e);
      }
      cond->children.push_back(std::move(*value));
      cond->children.push_back(std::move(*test));
      cond->children.push_back(std::move(otherwise));
      value = std::move(cond);
    }
    return value;
  }

  Result<ExprPtr> parse_or() {
    Result<ExprPtr> left = parse_and();
    while (left.ok() && at_name("or")) {
      next();
      Result<ExprPtr> right = parse_and();
      if (!right.ok()) return right.error();
      ExprPtr node = make(ExprKind::kOr);
      node->children.push_back(std::move(*left));
      node->children.push_back(std::move(*right));
      left = std::move(node);
    }
    return left;
  }

  Result<ExprPtr> parse_and() {
    Result<ExprPtr> left = parse_not();
    while (left.ok() && at_name("and")) {
      next();
      Result<ExprPtr> right = parse_not();
      if (!right.ok()) return right.error();
      ExprPtr node = make(ExprKind::kAnd);
      node->children.push_back(std::move(*left));
      node->children.push_back(std::move(*right));
      left = std::move(node);
    }
    return left;
  }

  Result<ExprPtr> parse_not() {
    if (!at_name("not")) return parse_compare();
    next();
    DepthGuard guard(depth_);
    if (Status s = check_depth(); !s) return s.error();
    Result<ExprPtr> operand = parse_not();
    if (!operand.ok()) return operand;
    ExprPtr node = make(ExprKind::kNot);
    node->children.push_back(std::move(*operand));
    return node;
  }

  ExprPtr binary(std::string op, ExprPtr left, ExprPtr right) {
    ExprPtr node = make(ExprKind::kBinary, std::move(op));
    node->children.push_back(std::move(left));
    node->children.push_back(std::move(right));
    return node;
  }

  Result<ExprPtr> parse_compare() {
    Result<ExprPtr> left = parse_math1();
    while (left.ok()) {
      std::string op;
      if (peek().kind == TokenKind::kOperator &&
          (at_op("==") || at_op("!=") || at_op("<") || at_op("<=") || at_op(">") || at_op(">="))) {
        op = next().text;
      } else if (at_name("in")) {
        next();
        op = "in";
      } else if (at_name("not") && at_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      Result<ExprPtr> right = parse_math1();
      if (!right.ok()) return right.error();
      left = binary(op, std::move(*left), std::move(*right));
    }
    return left;
  }

  Result<ExprPtr> parse_math1() {
    Result<ExprPtr> left = parse_concat();
    while (left.ok() && (at_op("+") || at_op("-"))) {
      std::string op = next().text;
      Result<ExprPtr> right = parse_concat();
      if (!right.ok()) return right.error();
      left = binary(op, std::move(*left), std::move(*right));
    }
    return left;
  }

  Result<ExprPtr> parse_concat() {
    Result<ExprPtr> left = parse_math2();
    while (left.ok() && at_op("~")) {
      next();
      Result<ExprPtr> right = parse_math2();
      if (!right.ok()) return right.error();
      left = binary("~", std::move(*left), std::move(*right));
    }
    return left;
  }

  Result<ExprPtr> parse_math2() {
    Result<ExprPtr> left = parse_pow();
    while (left.ok() && (at_op("*") || at_op("/") || at_op("//") || at_op("%"))) {
      std::string op = next().text;
      Result<ExprPtr> right = parse_pow();
      if (!right.ok()) return right.error();
      left = binary(op, std::move(*left), std::move(*right));
    }
    return left;
  }

  Result<ExprPtr> parse_pow() {
    Result<ExprPtr> left = parse_unary(true);
    while (left.ok() && at_op("**")) {
      next();
      Result<ExprPtr> right = parse_unary(true);
      if (!right.ok()) return right.error();
      left = binary("**", std::move(*left), std::move(*right));
    }
    return left;
  }

  Result<ExprPtr> parse_unary(bool with_filter) {
    DepthGuard guard(depth_);
    if (Status s = check_depth(); !s) return s.error();
    Result<ExprPtr> node = make(ExprKind::kLiteral);
    if (at_op("-") || at_op("+")) {
      ExprPtr unary = make(ExprKind::kUnary, next().text);
      Result<ExprPtr> operand = parse_unary(false);
      if (!operand.ok()) return operand;
      unary->children.push_back(std::move(*operand));
      node = std::move(unary);
    } else {
      node = parse_primary();
      if (!node.ok()) return node;
    }
    node = parse_postfix(std::move(*node));
    if (node.ok() && with_filter) node = parse_filters_and_tests(std::move(*node));
    return node;
  }

  Result<ExprPtr> parse_primary() {
    const Token& t = peek();
    switch (t.kind) {
      case TokenKind::kName: {
        next();
        ExprPtr e = make(ExprKind::kLiteral);
        if (t.text == "true" || t.text == "True") e->literal = Value::boolean(true);
        else if (t.text == "false" || t.text == "False") e->literal = Value::boolean(false);
        else if (t.text == "none" || t.text == "None") e->literal = Value::none();
        else {
          e->kind = ExprKind::kName;
          e->name = t.text;
        }
        return e;
      }
      case TokenKind::kString: {
        std::string text = next().text;
        while (peek().kind == TokenKind::kString) text += next().text;  // adjacent literals join
        ExprPtr e = make(ExprKind::kLiteral);
        e->literal = Value::string(std::move(text));
        return e;
      }
      case TokenKind::kInteger: {
        ExprPtr e = make(ExprKind::kLiteral);
        e->literal = Value::integer(next().integer);
        return e;
      }
      case TokenKind::kFloat: {
        ExprPtr e = make(ExprKind::kLiteral);
        e->literal = Value::number(next().number);
        return e;
      }
      case TokenKind::kOperator:
        if (t.text == "(") {
          next();
          if (accept_op(")")) return make(ExprKind::kTuple);
          Result<ExprPtr> inner = parse_expression();
          if (!inner.ok()) return inner;
          if (at_op(",")) {
            ExprPtr tuple = make(ExprKind::kTuple);
            tuple->children.push_back(std::move(*inner));
            while (accept_op(",") && !at_op(")")) {
              Result<ExprPtr> item = parse_expression();
              if (!item.ok()) return item;
              tuple->children.push_back(std::move(*item));
            }
            inner = std::move(tuple);
          }
          if (Status st = expect_op(")"); !st) return st.error();
          return inner;
        }
        if (t.text == "[") {
          next();
          ExprPtr list = make(ExprKind::kList);
          while (!at_op("]")) {
            Result<ExprPtr> item = parse_expression();
            if (!item.ok()) return item;
            list->children.push_back(std::move(*item));
            if (!accept_op(",")) break;
          }
          if (Status st = expect_op("]"); !st) return st.error();
          return list;
        }
        if (t.text == "{") {
          next();
          ExprPtr dict = make(ExprKind::kDict);
          while (!at_op("}")) {
            Result<ExprPtr> key = parse_expression();
            if (!key.ok()) return key;
            if (Status st = expect_op(":"); !st) return st.error();
            Result<ExprPtr> value = parse_expression();
            if (!value.ok()) return value;
            dict->children.push_back(std::move(*key));
            dict->children.push_back(std::move(*value));
            if (!accept_op(",")) break;
          }
          if (Status st = expect_op("}"); !st) return st.error();
          return dict;
        }
        return expected("an expression");
      case TokenKind::kText:
      case TokenKind::kVariableBegin:
      case TokenKind::kVariableEnd:
      case TokenKind::kBlockBegin:
      case TokenKind::kBlockEnd:
      case TokenKind::kEnd: return expected("an expression");
    }
    return expected("an expression");
  }

  Status parse_call_args(Expr& call) {
    // "(" already consumed
    while (!at_op(")")) {
      std::string keyword;
      if (peek().kind == TokenKind::kName && peek(1).kind == TokenKind::kOperator && peek(1).text == "=") {
        keyword = next().text;
        next();
      }
      Result<ExprPtr> arg = parse_expression();
      if (!arg.ok()) return arg.error();
      call.children.push_back(std::move(*arg));
      call.arg_names.push_back(keyword);
      if (!accept_op(",")) break;
    }
    return expect_op(")");
  }

  Result<ExprPtr> parse_postfix(ExprPtr node) {
    while (true) {
      if (accept_op(".")) {
        if (peek().kind == TokenKind::kInteger) {  // foo.0 is foo[0]
          ExprPtr sub = make(ExprKind::kSubscript);
          ExprPtr index = make(ExprKind::kLiteral);
          index->literal = Value::integer(next().integer);
          sub->children.push_back(std::move(node));
          sub->children.push_back(std::move(index));
          node = std::move(sub);
          continue;
        }
        Result<std::string> name = expect_name();
        if (!name.ok()) return name.error();
        ExprPtr attr = make(ExprKind::kAttribute, *name);
        attr->children.push_back(std::move(node));
        node = std::move(attr);
      } else if (accept_op("[")) {
        Result<ExprPtr> sub = parse_subscript(std::move(node));
        if (!sub.ok()) return sub;
        node = std::move(*sub);
      } else if (accept_op("(")) {
        ExprPtr call = make(ExprKind::kCall);
        call->children.push_back(std::move(node));
        if (Status st = parse_call_args(*call); !st) return st.error();
        node = std::move(call);
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> parse_subscript(ExprPtr object) {
    // "[" already consumed; either an index or a slice start:stop:step.
    ExprPtr parts[3];
    int colons = 0;
    while (true) {
      if (at_op(":")) {
        next();
        if (++colons > 2) return error("a slice has at most two ':'");
        continue;
      }
      if (at_op("]")) break;
      if (parts[colons]) return expected("':' or ']'");
      Result<ExprPtr> e = parse_expression();
      if (!e.ok()) return e;
      parts[colons] = std::move(*e);
    }
    next();  // "]"
    if (colons == 0) {
      if (!parts[0]) return error("empty subscript '[]'");
      ExprPtr sub = make(ExprKind::kSubscript);
      sub->children.push_back(std::move(object));
      sub->children.push_back(std::move(parts[0]));
      return sub;
    }
    ExprPtr slice = make(ExprKind::kSlice);
    slice->children.push_back(std::move(object));
    for (ExprPtr& part : parts) slice->children.push_back(std::move(part));
    return slice;
  }

  Result<ExprPtr> parse_filters_and_tests(ExprPtr node) {
    while (true) {
      if (accept_op("|")) {
        Result<std::string> name = expect_name();
        if (!name.ok()) return name.error();
        ExprPtr filter = make(ExprKind::kFilter, *name);
        filter->children.push_back(std::move(node));
        if (accept_op("(")) {
          if (Status st = parse_call_args(*filter); !st) return st.error();
        }
        node = std::move(filter);
      } else if (at_name("is")) {
        next();
        bool negated = accept_name("not");
        Result<std::string> name = expect_name();
        if (!name.ok()) return name.error();
        ExprPtr test = make(ExprKind::kTest, *name);
        test->negated = negated;
        test->children.push_back(std::move(node));
        if (accept_op("(")) {
          if (Status st = parse_call_args(*test); !st) return st.error();
        } else if ((peek().kind == TokenKind::kName || peek().kind == TokenKind::kString ||
                    peek().kind == TokenKind::kInteger || peek().kind == TokenKind::kFloat || at_op("[") || at_op("{")) &&
                   !at_name("else") && !at_name("or") && !at_name("and") && !at_name("if") && !at_name("is") &&
                   !at_name("in") && !at_name("not")) {
          // "x is divisibleby 3", "x is sameas none": one argument without parentheses.
          Result<ExprPtr> arg = parse_primary();
          if (!arg.ok()) return arg;
          Result<ExprPtr> arg_full = parse_postfix(std::move(*arg));
          if (!arg_full.ok()) return arg_full;
          test->children.push_back(std::move(*arg_full));
          test->arg_names.push_back("");
        }
        node = std::move(test);
      } else {
        return node;
      }
    }
  }

  const std::vector<Token>& tokens_;
  const ParseOptions& options_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<std::vector<std::unique_ptr<Stmt>>> parse_tokens(const std::vector<Token>& tokens, const ParseOptions& options) {
  if (tokens.empty()) return StmtList{};
  return Parser(tokens, options).parse_template();
}

}  // namespace llm::jinja
