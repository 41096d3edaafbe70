// Binary operators and ordering with Python semantics (floor division, modulo sign, str * int).
#include <cmath>

#include "tokenizer/jinja/interpreter.h"
#include "util/str.h"

namespace llm::jinja {
namespace {

const char* kind_label(const Value& v) { return value_kind_name(v.kind()); }

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Result<int> Interpreter::compare(const Expr& expr, const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == ValueKind::kFloat || b.kind() == ValueKind::kFloat) {
      double x = a.as_float();
      double y = b.as_float();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());  // UTF-8 byte order == code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return error(expr, str("cannot order ", kind_label(a), " and ", kind_label(b)));
}

Result<Value> Interpreter::eval_binary(const Expr& expr, const Value& left, const Value& right) {
  const std::string& op = expr.name;
  if (op == "==") return Value::boolean(values_equal(left, right));
  if (op == "!=") return Value::boolean(!values_equal(left, right));
  if (op == "<" || op == "<=" || op == ">" || op == ">=") {
    Result<int> c = compare(expr, left, right);
    if (!c.ok()) return c.error();
    bool result = op == "<" ? *c < 0 : op == "<=" ? *c <= 0 : op == ">" ? *c > 0 : *c >= 0;
    return Value::boolean(result);
  }
  if (op == "in" || op == "not in") {
    bool found = false;
    if (right.is_string()) {
      if (!left.is_string()) return error(expr, str("'in <string>' requires a string as left operand, not ", kind_label(left)));
      found = right.as_string().find(left.as_string()) != std::string::npos;
      if (Status s = step(static_cast<int64_t>(right.as_string().size() / 256)); !s) return s.error();
    } else if (right.is_list()) {
      for (const Value& item : right.as_list()) {
        if (Status s = step(); !s) return s.error();
        if (values_equal(item, left)) {
          found = true;
          break;
        }
      }
    } else if (right.is_mapping()) {
      found = left.is_string() && right.as_dict().find(left.as_string()) != nullptr;
    } else if (right.is_undefined()) {
      return error(expr, "'in' on an undefined value");
    } else {
      return error(expr, str("argument of type '", kind_label(right), "' is not iterable"));
    }
    return Value::boolean(op == "in" ? found : !found);
  }
  if (op == "~") {
    Result<std::string> a = display(left);
    if (!a.ok()) return a.error();
    Result<std::string> b = display(right);
    if (!b.ok()) return b.error();
    if (Status s = check_string(expr, a->size() + b->size()); !s) return s.error();
    return Value::string(*a + *b);
  }
  if (left.is_undefined() || right.is_undefined()) {
    return error(expr, str("operand of '", op, "' is undefined"));
  }
  if (op == "+") {
    if (left.is_string() && right.is_string()) {
      if (Status s = check_string(expr, left.as_string().size() + right.as_string().size()); !s) return s.error();
      return Value::string(left.as_string() + right.as_string());
    }
    if (left.is_list() && right.is_list()) {
      if (Status s = check_collection(expr, left.as_list().size() + right.as_list().size()); !s) return s.error();
      List items = left.as_list();
      items.insert(items.end(), right.as_list().begin(), right.as_list().end());
      return Value::list(std::move(items));
    }
  }
  if (op == "*") {  // sequence repetition
    const Value* sequence = left.is_string() || left.is_list() ? &left : (right.is_string() || right.is_list() ? &right : nullptr);
    const Value* count = sequence == &left ? &right : &left;
    if (sequence != nullptr) {
      if (count->kind() != ValueKind::kInt && count->kind() != ValueKind::kBool) {
        return error(expr, str("can't multiply sequence by non-int of type '", kind_label(*count), "'"));
      }
      int64_t n = std::max<int64_t>(0, count->as_int());
      if (sequence->is_string()) {
        size_t unit = sequence->as_string().size();
        if (unit != 0 && static_cast<uint64_t>(n) > limits_.max_string_bytes / unit) {
          return error(expr, str("string repetition of ", unit, " bytes x ", n, " exceeds max_string_bytes = ", limits_.max_string_bytes));
        }
        if (Status s = check_string(expr, unit * static_cast<size_t>(n)); !s) return s.error();
        std::string out;
        out.reserve(unit * static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) out += sequence->as_string();
        return Value::string(std::move(out));
      }
      size_t unit = sequence->as_list().size();
      if (unit != 0 && static_cast<uint64_t>(n) > limits_.max_collection_size / unit) {
        return error(expr, str("list repetition of ", unit, " items x ", n, " exceeds max_collection_size = ", limits_.max_collection_size));
      }
      if (Status s = check_collection(expr, unit * static_cast<size_t>(n)); !s) return s.error();
      List items;
      for (int64_t i = 0; i < n; ++i) items.insert(items.end(), sequence->as_list().begin(), sequence->as_list().end());
      return Value::list(std::move(items));
    }
  }
  if (!left.is_number() || !right.is_number()) {
    return error(expr, str("unsupported operand types for ", op, ": '", kind_label(left), "' and '", kind_label(right), "'"));
  }
  bool as_float = left.kind() == ValueKind::kFloat || right.kind() == ValueKind::kFloat;
  if (op == "/") {
    if (right.as_float() == 0) return error(expr, "division by zero");
    return Value::number(left.as_float() / right.as_float());
  }
  if (as_float) {
    double a = left.as_float();
    double b = right.as_float();
    if (op == "+") return Value::number(a + b);
    if (op == "-") return Value::number(a - b);
    if (op == "*") return Value::number(a * b);
    if (op == "**") return Value::number(std::pow(a, b));
    if (b == 0) return error(expr, str("float division by zero in '", op, "'"));
    if (op == "//") return Value::number(std::floor(a / b));
    if (op == "%") {
      double m = std::fmod(a, b);
      if (m != 0 && ((m < 0) != (b < 0))) m += b;
      return Value::number(m);
    }
  } else {
    int64_t a = left.as_int();
    int64_t b = right.as_int();
    int64_t r = 0;
    if (op == "+") {
      if (__builtin_add_overflow(a, b, &r)) return error(expr, "integer overflow in '+'");
      return Value::integer(r);
    }
    if (op == "-") {
      if (__builtin_sub_overflow(a, b, &r)) return error(expr, "integer overflow in '-'");
      return Value::integer(r);
    }
    if (op == "*") {
      if (__builtin_mul_overflow(a, b, &r)) return error(expr, "integer overflow in '*'");
      return Value::integer(r);
    }
    if (op == "**") {
      if (b < 0) return Value::number(std::pow(static_cast<double>(a), static_cast<double>(b)));
      int64_t result = 1;
      for (int64_t i = 0; i < b; ++i) {
        if (__builtin_mul_overflow(result, a, &result)) return error(expr, "integer overflow in '**'");
        if (result == 0 || result == 1) break;  // 0**n, 1**n: no need to keep multiplying
        if (Status s = step(); !s) return s.error();
      }
      if (a == -1) result = (b % 2 == 0) ? 1 : -1;
      return Value::integer(result);
    }
    if (b == 0) return error(expr, str("integer division or modulo by zero in '", op, "'"));
    if (a == INT64_MIN && b == -1) return error(expr, str("integer overflow in '", op, "'"));
    if (op == "//") return Value::integer(floor_div(a, b));
    if (op == "%") return Value::integer(a - floor_div(a, b) * b);
  }
  return error(expr, str("unknown operator '", op, "'"));
}

}  // namespace llm::jinja
