// Filters, tests, methods of str/dict/list, and global functions: the subset real chat templates
// use, with jinja2 / Python semantics. Everything not listed is an error, never a host lookup.
#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/interpreter.h"
#include "util/str.h"

namespace llm::jinja {
namespace {

bool is_py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string strip(const std::string& text, const Value* chars, bool left, bool right) {
  auto strip_char = [&](char c) {
    if (chars == nullptr || chars->is_none()) return is_py_space(c);
    return chars->is_string() && chars->as_string().find(c) != std::string::npos;
  };
  size_t begin = 0;
  size_t end = text.size();
  if (left) {
    while (begin < end && strip_char(text[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strip_char(text[end - 1])) --end;
  }
  return text.substr(begin, end - begin);
}

std::string ascii_upper(std::string s) {
  for (char& c : s) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  return s;
}
std::string ascii_lower(std::string s) {
  for (char& c : s) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return s;
}

bool int_like(const Value& v) { return v.kind() == ValueKind::kInt || v.kind() == ValueKind::kBool; }

}  // namespace

Result<Value> Interpreter::call_global(const Expr& expr, const std::string& name, const CallArgs& args) {
  if (name == "raise_exception") {
    std::string message = "(no message)";
    if (const Value* m = args.get(0, "message"); m != nullptr) {
      Result<std::string> text = display(*m);
      if (!text.ok()) return text.error();
      message = *text;
    }
    return error(expr, str("template raised an exception: ", message));
  }
  if (name == "range") {
    int64_t start = 0;
    int64_t stop = 0;
    int64_t stride = 1;
    for (const Value& v : args.positional) {
      if (!int_like(v)) return error(expr, str("range() takes integers, got ", value_kind_name(v.kind())));
    }
    if (args.positional.size() == 1) {
      stop = args.positional[0].as_int();
    } else if (args.positional.size() == 2 || args.positional.size() == 3) {
      start = args.positional[0].as_int();
      stop = args.positional[1].as_int();
      if (args.positional.size() == 3) stride = args.positional[2].as_int();
    } else {
      return error(expr, str("range() takes 1 to 3 arguments, got ", args.positional.size()));
    }
    if (stride == 0) return error(expr, "range() step must not be zero");
    // Count without overflow: (stop - start) can exceed int64 for hostile bounds.
    long double span = stride > 0 ? static_cast<long double>(stop) - start : static_cast<long double>(start) - stop;
    long double count = span <= 0 ? 0 : std::ceil(span / std::abs(static_cast<long double>(stride)));
    if (count > static_cast<long double>(limits_.max_collection_size)) {
      return error(expr, str("range() of ", static_cast<double>(count), " items exceeds max_collection_size = ",
                             limits_.max_collection_size));
    }
    if (Status s = check_collection(expr, static_cast<size_t>(count)); !s) return s.error();
    List items;
    for (int64_t i = 0, v = start; i < static_cast<int64_t>(count); ++i, v += stride) items.push_back(Value::integer(v));
    return Value::list(std::move(items));
  }
  if (name == "namespace" || name == "dict") {
    Dict entries;
    for (const Value& v : args.positional) {
      if (!v.is_mapping()) return error(expr, str(name, "() positional arguments must be dicts"));
      for (const auto& [k, item] : v.as_dict().entries()) entries.set(k, item);
    }
    for (const auto& [k, item] : args.keyword) entries.set(k, item);
    return name == "namespace" ? Value::namespace_object(std::move(entries)) : Value::dict(std::move(entries));
  }
  if (name == "strftime_now" && options_.now) {
    const Value* format = args.get(0, "format");
    if (format == nullptr || !format->is_string()) return error(expr, "strftime_now() takes a format string");
    return Value::string(format_date(*options_.now, format->as_string()));
  }
  return error(expr, str("unknown function '", name, "'"));
}

Result<Value> Interpreter::call_method(const Expr& expr, const Value& object, const std::string& name, const CallArgs& args) {
  if (object.is_undefined()) return error(expr, str("cannot call method '", name, "' of an undefined value"));
  if (object.is_string()) {
    const std::string& text = object.as_string();
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      return Value::string(strip(text, args.get(0, "chars"), name != "rstrip", name != "lstrip"));
    }
    if (name == "upper") return Value::string(ascii_upper(text));
    if (name == "lower") return Value::string(ascii_lower(text));
    if (name == "title" || name == "capitalize") return call_filter(expr, name, object, args);
    if (name == "startswith" || name == "endswith") {
      const Value* arg = args.get(0, "prefix");
      if (arg == nullptr) return error(expr, str(name, "() takes a string or a tuple of strings"));
      std::vector<Value> candidates = arg->is_list() ? arg->as_list() : std::vector<Value>{*arg};
      for (const Value& c : candidates) {
        if (!c.is_string()) return error(expr, str(name, "() arguments must be strings"));
        const std::string& s = c.as_string();
        bool hit = s.size() <= text.size() &&
                   (name == "startswith" ? text.compare(0, s.size(), s) == 0 : text.compare(text.size() - s.size(), s.size(), s) == 0);
        if (hit) return Value::boolean(true);
      }
      return Value::boolean(false);
    }
    if (name == "split" || name == "rsplit") {
      const Value* sep = args.get(0, "sep");
      const Value* max_split = args.get(1, "maxsplit");
      int64_t limit = max_split != nullptr && int_like(*max_split) ? max_split->as_int() : -1;
      List parts;
      if (sep == nullptr || sep->is_none()) {  // whitespace runs, no empty parts
        size_t i = 0;
        while (i < text.size()) {
          while (i < text.size() && is_py_space(text[i])) ++i;
          if (i >= text.size()) break;
          if (limit >= 0 && static_cast<int64_t>(parts.size()) == limit) {
            parts.push_back(Value::string(strip(text.substr(i), nullptr, false, true)));
            break;
          }
          size_t j = i;
          while (j < text.size() && !is_py_space(text[j])) ++j;
          parts.push_back(Value::string(text.substr(i, j - i)));
          i = j;
        }
      } else {
        if (!sep->is_string() || sep->as_string().empty()) return error(expr, "split() separator must be a non-empty string");
        const std::string& s = sep->as_string();
        size_t start = 0;
        while (true) {
          size_t hit = text.find(s, start);
          if (hit == std::string::npos || (limit >= 0 && static_cast<int64_t>(parts.size()) == limit)) break;
          parts.push_back(Value::string(text.substr(start, hit - start)));
          start = hit + s.size();
        }
        parts.push_back(Value::string(text.substr(start)));
      }
      if (Status s = check_collection(expr, parts.size()); !s) return s.error();
      return Value::list(std::move(parts));
    }
    if (name == "replace") return call_filter(expr, "replace", object, args);
    if (name == "find" || name == "count") {
      const Value* needle = args.get(0, "sub");
      if (needle == nullptr || !needle->is_string()) return error(expr, str(name, "() takes a string"));
      if (name == "find") {
        size_t at = text.find(needle->as_string());
        return Value::integer(at == std::string::npos ? -1 : static_cast<int64_t>(utf8_length(text.substr(0, at))));
      }
      if (needle->as_string().empty()) return Value::integer(static_cast<int64_t>(utf8_length(text)) + 1);
      int64_t n = 0;
      for (size_t at = text.find(needle->as_string()); at != std::string::npos; at = text.find(needle->as_string(), at + needle->as_string().size())) ++n;
      return Value::integer(n);
    }
    if (name == "join") {
      const Value* items = args.get(0, "iterable");
      if (items == nullptr) return error(expr, "join() takes an iterable");
      CallArgs filter_args;
      filter_args.positional.push_back(object);
      return call_filter(expr, "join", *items, filter_args);
    }
    if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum") {
      if (text.empty()) return Value::boolean(false);
      for (char c : text) {
        bool ok = name == "isdigit" ? (c >= '0' && c <= '9')
                  : name == "isspace" ? is_py_space(c)
                  : name == "isalpha" ? ((c | 32) >= 'a' && (c | 32) <= 'z')
                                      : ((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9');
        if (!ok) return Value::boolean(false);
      }
      return Value::boolean(true);
    }
  }
  if (object.is_mapping()) {
    const Dict& dict = object.as_dict();
    if (name == "items" || name == "keys" || name == "values") {
      List out;
      for (const auto& [key, value] : dict.entries()) {
        if (name == "items") out.push_back(Value::tuple({Value::string(key), value}));
        else if (name == "keys") out.push_back(Value::string(key));
        else out.push_back(value);
      }
      if (Status s = step(static_cast<int64_t>(out.size() / 16)); !s) return s.error();
      return Value::list(std::move(out));
    }
    if (name == "get") {
      const Value* key = args.get(0, "key");
      if (key == nullptr) return error(expr, "get() takes a key");
      const Value* found = key->is_string() ? dict.find(key->as_string()) : nullptr;
      if (found != nullptr) return *found;
      const Value* fallback = args.get(1, "default");
      return fallback != nullptr ? *fallback : Value::none();
    }
  }
  if (object.is_list()) {
    if (name == "index" || name == "count") {
      const Value* needle = args.get(0, "value");
      if (needle == nullptr) return error(expr, str(name, "() takes a value"));
      int64_t count = 0;
      for (size_t i = 0; i < object.as_list().size(); ++i) {
        if (!values_equal(object.as_list()[i], *needle)) continue;
        if (name == "index") return Value::integer(static_cast<int64_t>(i));
        ++count;
      }
      if (name == "index") return error(expr, "list.index(x): x not in list");
      return Value::integer(count);
    }
    if (name == "append" || name == "pop" || name == "extend" || name == "insert" || name == "remove" ||
        name == "clear" || name == "sort" || name == "reverse") {
      // transformers renders with ImmutableSandboxedEnvironment, which refuses these too.
      return error(expr, str("list.", name, "() is not allowed: lists are immutable in the sandbox"));
    }
  }
  if (object.is_mapping() && (name == "update" || name == "pop" || name == "setdefault" || name == "clear")) {
    return error(expr, str("dict.", name, "() is not allowed: dicts are immutable in the sandbox"));
  }
  return error(expr, str("'", value_kind_name(object.kind()), "' has no method '", name, "'"));
}

}  // namespace llm::jinja
