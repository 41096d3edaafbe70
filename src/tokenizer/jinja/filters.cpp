// Filters and tests ({{ x | name(args) }}, {% if x is name %}) with jinja2 semantics.
#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/interpreter.h"
#include "util/str.h"

namespace llm::jinja {
namespace {

bool is_py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_lower_ascii(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper_ascii(char c) { return c >= 'A' && c <= 'Z'; }

std::string replace_all(const std::string& text, const std::string& from, const std::string& to, int64_t max_count) {
  if (from.empty()) return text;  // Python inserts between characters; no template relies on it
  std::string out;
  size_t start = 0;
  int64_t done = 0;
  while (max_count < 0 || done < max_count) {
    size_t hit = text.find(from, start);
    if (hit == std::string::npos) break;
    out.append(text, start, hit - start);
    out += to;
    start = hit + from.size();
    ++done;
  }
  out.append(text, start, std::string::npos);
  return out;
}

}  // namespace

Result<Value> Interpreter::attribute_path(const Expr& expr, const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    Result<Value> next = numeric ? get_item(expr, current, Value::integer(std::stoll(part))) : get_attribute(expr, current, part);
    if (!next.ok()) return next;
    current = std::move(*next);
    if (dot == std::string::npos) break;
    if (current.is_undefined()) return current;
    start = dot + 1;
  }
  return current;
}

Result<Value> Interpreter::select_items(const Expr& expr, const std::string& filter, const Value& subject, const CallArgs& args) {
  bool by_attribute = filter == "selectattr" || filter == "rejectattr";
  bool keep_matches = filter == "selectattr" || filter == "select";
  Result<std::vector<Value>> items = iterate(expr, subject);
  if (!items.ok()) return items.error();
  size_t next_arg = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty() || !args.positional[0].is_string()) return error(expr, str(filter, "() needs an attribute name"));
    attribute = args.positional[0].as_string();
    next_arg = 1;
  }
  std::string test_name;
  if (next_arg < args.positional.size()) {
    if (!args.positional[next_arg].is_string()) return error(expr, str(filter, "() test name must be a string"));
    test_name = args.positional[next_arg].as_string();
  }
  CallArgs test_args;
  for (size_t i = next_arg + 1; i < args.positional.size(); ++i) test_args.positional.push_back(args.positional[i]);
  List out;
  for (const Value& item : *items) {
    if (Status s = step(); !s) return s.error();
    Value probe = item;
    if (by_attribute) {
      Result<Value> v = attribute_path(expr, item, attribute);
      if (!v.ok()) return v.error();
      probe = std::move(*v);
    }
    bool pass = probe.truthy();
    if (!test_name.empty()) {
      Result<bool> r = call_test(expr, test_name, probe, test_args);
      if (!r.ok()) return r.error();
      pass = *r;
    }
    if (pass == keep_matches) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Result<Value> Interpreter::map_items(const Expr& expr, const Value& subject, const CallArgs& args) {
  Result<std::vector<Value>> items = iterate(expr, subject);
  if (!items.ok()) return items.error();
  const Value* attribute = args.get(SIZE_MAX, "attribute");
  const Value* fallback = args.get(SIZE_MAX, "default");
  List out;
  for (const Value& item : *items) {
    if (Status s = step(); !s) return s.error();
    if (attribute != nullptr) {
      if (!attribute->is_string()) return error(expr, "map(attribute=...) needs a string");
      Result<Value> v = attribute_path(expr, item, attribute->as_string());
      if (!v.ok()) return v.error();
      out.push_back(v->is_undefined() && fallback != nullptr ? *fallback : *v);
      continue;
    }
    if (args.positional.empty() || !args.positional[0].is_string()) return error(expr, "map() needs a filter name or attribute=");
    CallArgs filter_args;
    filter_args.positional.assign(args.positional.begin() + 1, args.positional.end());
    filter_args.keyword = args.keyword;
    Result<Value> v = call_filter(expr, args.positional[0].as_string(), item, filter_args);
    if (!v.ok()) return v.error();
    out.push_back(std::move(*v));
  }
  return Value::list(std::move(out));
}

Result<Value> Interpreter::call_filter(const Expr& expr, const std::string& name, const Value& subject, const CallArgs& args) {
  if (Status s = step(); !s) return s.error();
  auto need_string = [&]() -> Status {
    if (!subject.is_string()) return error(expr, str("filter '", name, "' expects a string, got ", value_kind_name(subject.kind())));
    return {};
  };
  if (name == "default" || name == "d") {
    const Value* fallback = args.get(0, "default_value");
    const Value* boolean = args.get(1, "boolean");
    bool use_fallback = subject.is_undefined() || (boolean != nullptr && boolean->truthy() && !subject.truthy());
    if (!use_fallback) return subject;
    return fallback != nullptr ? *fallback : Value::string("");
  }
  if (name == "tojson") {
    const Value* indent = args.get(0, "indent");
    int width = 0;
    if (indent != nullptr && !indent->is_none()) {
      if (indent->kind() != ValueKind::kInt || indent->as_int() < 0 || indent->as_int() > 16) {
        return error(expr, "tojson(indent=...) takes an integer 0..16");
      }
      width = static_cast<int>(indent->as_int());
      if (width == 0) return error(expr, "tojson(indent=0) is not supported");
    }
    WalkBudget budget{limits_.max_steps - steps_, limits_.max_string_bytes};
    int64_t before = budget.steps_left;
    Result<std::string> json = to_json(subject, width, budget);
    steps_ += before - budget.steps_left;
    if (!json.ok()) return error(expr, json.error().message);
    return Value::string(std::move(*json));
  }
  if (name == "string") {
    Result<std::string> text = display(subject);
    if (!text.ok()) return text.error();
    return Value::string(std::move(*text));
  }
  if (name == "length" || name == "count") {
    switch (subject.kind()) {
      case ValueKind::kString: return Value::integer(static_cast<int64_t>(utf8_length(subject.as_string())));
      case ValueKind::kList: return Value::integer(static_cast<int64_t>(subject.as_list().size()));
      case ValueKind::kDict:
      case ValueKind::kNamespace: return Value::integer(static_cast<int64_t>(subject.as_dict().size()));
      case ValueKind::kUndefined: return Value::integer(0);
      case ValueKind::kNone:
      case ValueKind::kBool:
      case ValueKind::kInt:
      case ValueKind::kFloat:
      case ValueKind::kCallable: return error(expr, str("object of type '", value_kind_name(subject.kind()), "' has no len()"));
    }
  }
  if (name == "safe" || (name == "list" && subject.is_list() && !subject.is_tuple())) return subject;
  if (name == "list") {
    Result<std::vector<Value>> items = iterate(expr, subject);
    if (!items.ok()) return items.error();
    return Value::list(std::move(*items));
  }
  if (name == "items") {
    if (subject.is_undefined()) return Value::list({});
    if (!subject.is_mapping()) return error(expr, "filter 'items' expects a mapping");
    return call_method(expr, subject, "items", args);
  }
  if (name == "trim") {
    if (Status s = need_string(); !s) return s.error();
    return call_method(expr, subject, "strip", args);
  }
  if (name == "upper" || name == "lower") {
    Result<std::string> text = display(subject);
    if (!text.ok()) return text.error();
    return call_method(expr, Value::string(*text), name, args);
  }
  if (name == "capitalize" || name == "title") {
    if (Status s = need_string(); !s) return s.error();
    std::string text = subject.as_string();
    bool word_start = true;
    for (size_t i = 0; i < text.size(); ++i) {
      char& c = text[i];
      bool upper_here = name == "capitalize" ? i == 0 : word_start;
      if (upper_here && is_lower_ascii(c)) c = static_cast<char>(c - 32);
      else if (!upper_here && is_upper_ascii(c)) c = static_cast<char>(c + 32);
      word_start = !((c | 32) >= 'a' && (c | 32) <= 'z') && !(c >= '0' && c <= '9') && !(static_cast<unsigned char>(c) & 0x80);
    }
    return Value::string(std::move(text));
  }
  if (name == "replace") {
    if (Status s = need_string(); !s) return s.error();
    const Value* from = args.get(0, "old");
    const Value* to = args.get(1, "new");
    const Value* count = args.get(2, "count");
    if (from == nullptr || to == nullptr || !from->is_string() || !to->is_string()) return error(expr, "replace() takes two strings");
    int64_t max_count = count != nullptr && count->kind() == ValueKind::kInt ? count->as_int() : -1;
    const std::string& text = subject.as_string();
    // Bound the result before building it: each replacement may grow the string.
    size_t hits = 0;
    for (size_t at = from->as_string().empty() ? std::string::npos : text.find(from->as_string()); at != std::string::npos;
         at = text.find(from->as_string(), at + from->as_string().size())) ++hits;
    size_t bound = text.size() + hits * to->as_string().size();
    if (Status s = check_string(expr, bound); !s) return s.error();
    return Value::string(replace_all(text, from->as_string(), to->as_string(), max_count));
  }
  if (name == "join") {
    Result<std::vector<Value>> items = iterate(expr, subject);
    if (!items.ok()) return items.error();
    const Value* separator = args.get(0, "d");
    const Value* attribute = args.get(1, "attribute");
    std::string sep;
    if (separator != nullptr) {
      Result<std::string> s = display(*separator);
      if (!s.ok()) return s.error();
      sep = *s;
    }
    std::string out;
    for (size_t i = 0; i < items->size(); ++i) {
      Value item = (*items)[i];
      if (attribute != nullptr && attribute->is_string()) {
        Result<Value> v = attribute_path(expr, item, attribute->as_string());
        if (!v.ok()) return v.error();
        item = std::move(*v);
      }
      Result<std::string> text = display(item);
      if (!text.ok()) return text.error();
      if (i > 0) out += sep;
      out += *text;
      if (Status s = check_string(expr, out.size()); !s) return s.error();
    }
    return Value::string(std::move(out));
  }
  if (name == "first" || name == "last") {
    Result<std::vector<Value>> items = iterate(expr, subject);
    if (!items.ok()) return items.error();
    if (items->empty()) return Value();
    return name == "first" ? items->front() : items->back();
  }
  if (name == "reverse") {
    Result<std::vector<Value>> items = iterate(expr, subject);
    if (!items.ok()) return items.error();
    std::reverse(items->begin(), items->end());
    if (!subject.is_string()) return Value::list(std::move(*items));
    std::string text;
    for (const Value& v : *items) text += v.as_string();
    return Value::string(std::move(text));
  }
  if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
    return select_items(expr, name, subject, args);
  }
  if (name == "map") return map_items(expr, subject, args);
  if (name == "unique") {
    Result<std::vector<Value>> items = iterate(expr, subject);
    if (!items.ok()) return items.error();
    List out;
    for (const Value& v : *items) {
      if (Status s = step(static_cast<int64_t>(out.size() / 16 + 1)); !s) return s.error();
      if (std::none_of(out.begin(), out.end(), [&](const Value& seen) { return values_equal(seen, v); })) out.push_back(v);
    }
    return Value::list(std::move(out));
  }
  if (name == "int") {
    if (subject.kind() == ValueKind::kFloat) return Value::integer(static_cast<int64_t>(std::trunc(subject.as_float())));
    if (subject.is_number()) return Value::integer(subject.as_int());
    if (subject.is_string()) {
      char* end = nullptr;
      long long v = std::strtoll(subject.as_string().c_str(), &end, 10);
      if (end != subject.as_string().c_str() && *end == '\0') return Value::integer(v);
    }
    const Value* fallback = args.get(0, "default");
    return fallback != nullptr ? *fallback : Value::integer(0);
  }
  if (name == "float") {
    if (subject.is_number()) return Value::number(subject.as_float());
    if (subject.is_string()) {
      char* end = nullptr;
      double v = std::strtod(subject.as_string().c_str(), &end);
      if (end != subject.as_string().c_str() && *end == '\0') return Value::number(v);
    }
    const Value* fallback = args.get(0, "default");
    return fallback != nullptr ? *fallback : Value::number(0.0);
  }
  if (name == "abs") {
    if (subject.kind() == ValueKind::kFloat) return Value::number(std::fabs(subject.as_float()));
    if (subject.is_number() && subject.as_int() != INT64_MIN) return Value::integer(std::llabs(subject.as_int()));
    return error(expr, "abs() needs a number");
  }
  if (name == "indent") {
    if (Status s = need_string(); !s) return s.error();
    const Value* width = args.get(0, "width");
    const Value* first = args.get(1, "first");
    const Value* blank = args.get(2, "blank");
    std::string pad = width != nullptr && width->is_string() ? width->as_string()
                                                             : std::string(width != nullptr && width->kind() == ValueKind::kInt ? std::clamp<int64_t>(width->as_int(), 0, 64) : 4, ' ');
    const std::string& text = subject.as_string();
    std::string out;
    size_t start = 0;
    bool first_line = true;
    while (start <= text.size()) {
      size_t nl = text.find('\n', start);
      std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      bool is_blank = std::all_of(line.begin(), line.end(), is_py_space);
      bool indent_line = first_line ? (first != nullptr && first->truthy()) : (!is_blank || (blank != nullptr && blank->truthy()));
      if (indent_line && !(first_line && line.empty() && nl == std::string::npos)) out += pad;
      out += line;
      if (nl == std::string::npos) break;
      out += '\n';
      start = nl + 1;
      first_line = false;
      if (Status s = check_string(expr, out.size()); !s) return s.error();
    }
    return Value::string(std::move(out));
  }
  if (name == "escape" || name == "e") {
    Result<std::string> text = display(subject);
    if (!text.ok()) return text.error();
    std::string out;
    for (char c : *text) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
      }
    }
    if (Status s = check_string(expr, out.size()); !s) return s.error();
    return Value::string(std::move(out));
  }
  if (name == "min" || name == "max") {
    Result<std::vector<Value>> items = iterate(expr, subject);
    if (!items.ok()) return items.error();
    if (items->empty()) return Value();
    Value best = items->front();
    for (const Value& v : *items) {
      Result<int> c = compare(expr, v, best);
      if (!c.ok()) return c.error();
      if ((name == "min" && *c < 0) || (name == "max" && *c > 0)) best = v;
    }
    return best;
  }
  return error(expr, str("unknown filter '", name, "'"));
}

Result<bool> Interpreter::call_test(const Expr& expr, const std::string& name, const Value& subject, const CallArgs& args) {
  if (Status s = step(); !s) return s.error();
  const Value* arg = args.get(0, "other");
  auto need_arg = [&]() -> Status {
    if (arg == nullptr) return error(expr, str("test '", name, "' needs an argument"));
    return {};
  };
  ValueKind kind = subject.kind();
  if (name == "defined") return !subject.is_undefined();
  if (name == "undefined") return subject.is_undefined();
  if (name == "none") return kind == ValueKind::kNone;
  if (name == "boolean") return kind == ValueKind::kBool;
  if (name == "true") return kind == ValueKind::kBool && subject.as_bool();
  if (name == "false") return kind == ValueKind::kBool && !subject.as_bool();
  if (name == "integer") return kind == ValueKind::kInt;
  if (name == "float") return kind == ValueKind::kFloat;
  if (name == "number") return kind == ValueKind::kInt || kind == ValueKind::kFloat || kind == ValueKind::kBool;
  if (name == "string") return kind == ValueKind::kString;
  if (name == "mapping") return subject.is_mapping();
  if (name == "iterable") return kind == ValueKind::kString || kind == ValueKind::kList || subject.is_mapping();
  if (name == "sequence") return kind == ValueKind::kString || kind == ValueKind::kList || subject.is_mapping();
  if (name == "callable") return kind == ValueKind::kCallable;
  if (name == "lower" || name == "upper") {
    if (!subject.is_string()) return false;
    bool any_cased = false;
    for (char c : subject.as_string()) {
      if (name == "lower" ? is_upper_ascii(c) : is_lower_ascii(c)) return false;
      any_cased = any_cased || is_upper_ascii(c) || is_lower_ascii(c);
    }
    return any_cased;
  }
  if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") {
    if (Status s = need_arg(); !s) return s.error();
    return values_equal(subject, *arg);
  }
  if (name == "ne" || name == "!=") {
    if (Status s = need_arg(); !s) return s.error();
    return !values_equal(subject, *arg);
  }
  if (name == "lt" || name == "le" || name == "gt" || name == "ge" || name == "lessthan" || name == "greaterthan") {
    if (Status s = need_arg(); !s) return s.error();
    Result<int> c = compare(expr, subject, *arg);
    if (!c.ok()) return c.error();
    if (name == "lt" || name == "lessthan") return *c < 0;
    if (name == "le") return *c <= 0;
    if (name == "gt" || name == "greaterthan") return *c > 0;
    return *c >= 0;
  }
  if (name == "in") {
    if (Status s = need_arg(); !s) return s.error();
    Expr probe;
    probe.line = expr.line;
    probe.name = "in";
    Result<Value> r = eval_binary(probe, subject, *arg);
    if (!r.ok()) return r.error();
    return r->truthy();
  }
  if (name == "even" || name == "odd" || name == "divisibleby") {
    if (kind != ValueKind::kInt && kind != ValueKind::kBool) return error(expr, str("test '", name, "' needs an integer"));
    int64_t v = subject.as_int();
    if (name == "even") return v % 2 == 0;
    if (name == "odd") return v % 2 != 0;
    if (Status s = need_arg(); !s) return s.error();
    if (!arg->is_number() || arg->as_int() == 0) return error(expr, "divisibleby needs a non-zero integer");
    return v % arg->as_int() == 0;
  }
  return error(expr, str("unknown test '", name, "'"));
}

}  // namespace llm::jinja
