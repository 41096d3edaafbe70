#include "tokenizer/jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "util/str.h"

namespace llm::jinja {

const char* value_kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::kUndefined: return "undefined";
    case ValueKind::kNone: return "none";
    case ValueKind::kBool: return "bool";
    case ValueKind::kInt: return "int";
    case ValueKind::kFloat: return "float";
    case ValueKind::kString: return "string";
    case ValueKind::kList: return "list";
    case ValueKind::kDict: return "dict";
    case ValueKind::kNamespace: return "namespace";
    case ValueKind::kCallable: return "callable";
  }
  return "?";
}

const Value* Dict::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Dict::set(std::string key, Value value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

Value Value::none() {
  Value v;
  v.kind_ = ValueKind::kNone;
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.kind_ = ValueKind::kBool;
  v.b_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = ValueKind::kInt;
  v.i_ = i;
  return v;
}
Value Value::number(double f) {
  Value v;
  v.kind_ = ValueKind::kFloat;
  v.f_ = f;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.kind_ = ValueKind::kString;
  v.s_ = std::make_shared<const std::string>(std::move(s));
  return v;
}
Value Value::list(List items) {
  Value v;
  v.kind_ = ValueKind::kList;
  v.list_ = std::make_shared<const List>(std::move(items));
  return v;
}
Value Value::tuple(List items) {
  Value v = list(std::move(items));
  v.b_ = true;
  return v;
}
Value Value::dict(Dict entries) {
  Value v;
  v.kind_ = ValueKind::kDict;
  v.dict_ = std::make_shared<Dict>(std::move(entries));
  return v;
}
Value Value::namespace_object(Dict entries) {
  Value v = dict(std::move(entries));
  v.kind_ = ValueKind::kNamespace;
  return v;
}
Value Value::callable(Callable fn) {
  Value v;
  v.kind_ = ValueKind::kCallable;
  v.fn_ = std::make_shared<const Callable>(std::move(fn));
  return v;
}

bool Value::truthy() const {
  switch (kind_) {
    case ValueKind::kUndefined:
    case ValueKind::kNone: return false;
    case ValueKind::kBool: return b_;
    case ValueKind::kInt: return i_ != 0;
    case ValueKind::kFloat: return f_ != 0;
    case ValueKind::kString: return !s_->empty();
    case ValueKind::kList: return !list_->empty();
    case ValueKind::kDict:
    case ValueKind::kNamespace: return dict_->size() != 0;
    case ValueKind::kCallable: return true;
  }
  return false;
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == ValueKind::kFloat || b.kind() == ValueKind::kFloat) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone: return true;
    case ValueKind::kBool:
    case ValueKind::kInt:
    case ValueKind::kFloat: return false;  // handled above
    case ValueKind::kString: return a.as_string() == b.as_string();
    case ValueKind::kList: {
      const List& x = a.as_list();
      const List& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!values_equal(x[i], y[i])) return false;
      }
      return true;
    }
    case ValueKind::kDict:
    case ValueKind::kNamespace: {
      const Dict& x = a.as_dict();
      const Dict& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [key, value] : x.entries()) {
        const Value* other = y.find(key);
        if (other == nullptr || !values_equal(value, *other)) return false;
      }
      return true;
    }
    case ValueKind::kCallable: return &a.as_callable() == &b.as_callable();
  }
  return false;
}

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
  // Shortest round-trip digits in scientific form, then laid out by Python's repr rule:
  // fixed notation when -4 <= exponent < 16, scientific otherwise.
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string sci(buffer, end);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  if (exponent >= -4 && exponent < 16) {
    std::string out;
    if (exponent >= 0) {
      if (digits.size() <= static_cast<size_t>(exponent) + 1) {
        out = digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
      } else {
        out = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
      }
    } else {
      out = "0." + std::string(-exponent - 1, '0') + digits;
    }
    return sign + out;
  }
  std::string out = digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exp_text[16];
  std::snprintf(exp_text, sizeof(exp_text), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return sign + out + exp_text;
}

size_t utf8_length(std::string_view text) {
  size_t count = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++count;
  }
  return count;
}

namespace {

Status spend(WalkBudget& budget, const std::string& out) {
  if (--budget.steps_left < 0) {
    return make_error(ErrorCode::kInvalidArgument, "jinja: step limit exceeded while serializing a value");
  }
  if (out.size() > budget.max_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("jinja: string size limit exceeded while serializing a value (limit ", budget.max_bytes,
                          " bytes)"));
  }
  return {};
}

// Python repr(str): single quotes unless the text holds ' and no ".
void append_python_repr(std::string& out, const std::string& text) {
  char quote = (text.find('\'') != std::string::npos && text.find('"') == std::string::npos) ? '"' : '\'';
  out += quote;
  for (unsigned char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c == static_cast<unsigned char>(quote)) {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
          char hex[8];
          std::snprintf(hex, sizeof(hex), "\\x%02x", c);
          out += hex;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += quote;
}

Status append_repr(std::string& out, const Value& value, WalkBudget& budget) {
  if (Status s = spend(budget, out); !s) return s;
  switch (value.kind()) {
    case ValueKind::kUndefined: return {};  // str(Undefined) is ""
    case ValueKind::kNone: out += "None"; return {};
    case ValueKind::kBool: out += value.as_bool() ? "True" : "False"; return {};
    case ValueKind::kInt: out += std::to_string(value.as_int()); return {};
    case ValueKind::kFloat: out += python_float_repr(value.as_float()); return {};
    case ValueKind::kString: append_python_repr(out, value.as_string()); return {};
    case ValueKind::kList: {
      out += value.is_tuple() ? '(' : '[';
      bool first = true;
      for (const Value& item : value.as_list()) {
        if (!first) out += ", ";
        first = false;
        if (Status s = append_repr(out, item, budget); !s) return s;
      }
      if (value.is_tuple() && value.as_list().size() == 1) out += ',';
      out += value.is_tuple() ? ')' : ']';
      return {};
    }
    case ValueKind::kDict:
    case ValueKind::kNamespace: {
      out += value.kind() == ValueKind::kNamespace ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [key, item] : value.as_dict().entries()) {
        if (!first) out += ", ";
        first = false;
        append_python_repr(out, key);
        out += ": ";
        if (Status s = append_repr(out, item, budget); !s) return s;
      }
      out += value.kind() == ValueKind::kNamespace ? "}>" : "}";
      return {};
    }
    case ValueKind::kCallable: out += str("<function ", value.as_callable().name, ">"); return {};
  }
  return {};
}

void append_json_string(std::string& out, const std::string& text) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char hex[8];
          std::snprintf(hex, sizeof(hex), "\\u%04x", c);
          out += hex;
        } else {
          out += static_cast<char>(c);  // ensure_ascii=False: UTF-8 passes through
        }
    }
  }
  out += '"';
}

Status append_json(std::string& out, const Value& value, int indent, int level, WalkBudget& budget) {
  if (Status s = spend(budget, out); !s) return s;
  auto newline = [&](int depth) {
    out += '\n';
    out.append(static_cast<size_t>(indent) * depth, ' ');
  };
  const char* item_separator = indent > 0 ? "," : ", ";
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return make_error(ErrorCode::kInvalidArgument, "jinja: tojson: an undefined value is not JSON serializable");
    case ValueKind::kCallable:
      return make_error(ErrorCode::kInvalidArgument, "jinja: tojson: a callable is not JSON serializable");
    case ValueKind::kNone: out += "null"; return {};
    case ValueKind::kBool: out += value.as_bool() ? "true" : "false"; return {};
    case ValueKind::kInt: out += std::to_string(value.as_int()); return {};
    case ValueKind::kFloat: {
      double f = value.as_float();
      if (std::isnan(f)) out += "NaN";
      else if (std::isinf(f)) out += f < 0 ? "-Infinity" : "Infinity";
      else out += python_float_repr(f);
      return {};
    }
    case ValueKind::kString: append_json_string(out, value.as_string()); return {};
    case ValueKind::kList: {
      const List& items = value.as_list();
      if (items.empty()) {
        out += "[]";
        return {};
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += item_separator;
        if (indent > 0) newline(level + 1);
        if (Status s = append_json(out, items[i], indent, level + 1, budget); !s) return s;
      }
      if (indent > 0) newline(level);
      out += ']';
      return {};
    }
    case ValueKind::kDict:
    case ValueKind::kNamespace: {
      const auto& entries = value.as_dict().entries();
      if (entries.empty()) {
        out += "{}";
        return {};
      }
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += item_separator;
        if (indent > 0) newline(level + 1);
        append_json_string(out, entries[i].first);
        out += ": ";
        if (Status s = append_json(out, entries[i].second, indent, level + 1, budget); !s) return s;
      }
      if (indent > 0) newline(level);
      out += '}';
      return {};
    }
  }
  return {};
}

}  // namespace

Result<std::string> to_display_string(const Value& value, WalkBudget& budget) {
  if (value.is_string()) return value.as_string();
  std::string out;
  if (Status s = append_repr(out, value, budget); !s) return s.error();
  return out;
}

Result<std::string> to_json(const Value& value, int indent, WalkBudget& budget) {
  std::string out;
  if (Status s = append_json(out, value, indent, 0, budget); !s) return s.error();
  return out;
}

namespace {
template <class JsonT>
Value from_json_any(const JsonT& json) {
  switch (json.type()) {
    case JsonT::value_t::null: return Value::none();
    case JsonT::value_t::boolean: return Value::boolean(json.template get<bool>());
    case JsonT::value_t::number_integer: return Value::integer(json.template get<int64_t>());
    case JsonT::value_t::number_unsigned: {
      uint64_t u = json.template get<uint64_t>();
      return u > static_cast<uint64_t>(INT64_MAX) ? Value::number(static_cast<double>(u))
                                                  : Value::integer(static_cast<int64_t>(u));
    }
    case JsonT::value_t::number_float: return Value::number(json.template get<double>());
    case JsonT::value_t::string: return Value::string(json.template get<std::string>());
    case JsonT::value_t::array: {
      List items;
      items.reserve(json.size());
      for (const JsonT& item : json) items.push_back(from_json_any(item));
      return Value::list(std::move(items));
    }
    case JsonT::value_t::object: {
      Dict entries;
      for (auto it = json.begin(); it != json.end(); ++it) entries.set(it.key(), from_json_any(it.value()));
      return Value::dict(std::move(entries));
    }
    case JsonT::value_t::binary:
    case JsonT::value_t::discarded: return Value();
  }
  return Value();
}
}  // namespace

Value from_json(const OrderedJson& json) { return from_json_any(json); }
Value from_json(const Json& json) { return from_json_any(json); }

}  // namespace llm::jinja
