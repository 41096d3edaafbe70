// Value: the only data a template can touch. Plain data (Python's None/bool/int/float/str/list/
// dict) plus namespaces and callables that the interpreter itself made; no host objects, so there
// is nothing to walk from a value to the process (the Jinja SSTI class, CVE-2024-34359).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/json.h"
#include "util/result.h"

namespace llm::jinja {

enum class ValueKind {
  kUndefined,  // a missing variable or key; prints as "", is falsy, fails on most operations
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,
  kDict,
  kNamespace,  // namespace(): a dict whose keys `{% set ns.key = ... %}` may assign
  kCallable,   // a macro or a built-in global function
};

const char* value_kind_name(ValueKind kind);

class Value;
using List = std::vector<Value>;

class Dict;

// What a callable value is; its body lives with the interpreter (MacroNode) or is built in.
struct Callable {
  std::string name;
  const void* macro = nullptr;  // ast MacroNode* for macros, nullptr for built-ins
};

class Value {
 public:
  Value() = default;  // undefined
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  static Value list(List items);
  static Value tuple(List items);  // a list that prints as (a, b) like a Python tuple
  static Value dict(Dict entries);
  static Value namespace_object(Dict entries);
  static Value callable(Callable fn);

  ValueKind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == ValueKind::kUndefined; }
  bool is_none() const { return kind_ == ValueKind::kNone; }
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_number() const { return kind_ == ValueKind::kInt || kind_ == ValueKind::kFloat || kind_ == ValueKind::kBool; }
  bool is_list() const { return kind_ == ValueKind::kList; }
  bool is_tuple() const { return kind_ == ValueKind::kList && b_; }
  bool is_mapping() const { return kind_ == ValueKind::kDict || kind_ == ValueKind::kNamespace; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == ValueKind::kBool ? (b_ ? 1 : 0) : i_; }
  double as_float() const { return kind_ == ValueKind::kFloat ? f_ : static_cast<double>(as_int()); }
  const std::string& as_string() const { return *s_; }
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }
  Dict& mutable_dict() const { return *dict_; }  // namespaces only: `{% set ns.x = ... %}`
  const Callable& as_callable() const { return *fn_; }

  // Python truthiness: empty string/list/dict, 0, None and undefined are false.
  bool truthy() const;

 private:
  ValueKind kind_ = ValueKind::kUndefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  // Shared and immutable (except namespaces), so copying a value is O(1) whatever its size.
  std::shared_ptr<const std::string> s_;
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Callable> fn_;
};

// Insertion-ordered string-keyed map (Python dicts keep order; tojson must too).
class Dict {
 public:
  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);
  size_t size() const { return entries_.size(); }
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Python's ==: 1 == 1.0 == True; lists and dicts compare element-wise.
bool values_equal(const Value& a, const Value& b);

// Python's repr(float): shortest round-trip digits, "1.0", "1e-05", "1e+20", "inf", "nan".
std::string python_float_repr(double value);

// Bounds the work of serializing shared (possibly exponentially aliased) structures: each
// visited element costs one step; running out is an error.
struct WalkBudget {
  int64_t steps_left = 0;
  size_t max_bytes = 0;
};

// Python str(value) as `{{ value }}` prints it: strings raw, None -> "None", lists/dicts repr.
Result<std::string> to_display_string(const Value& value, WalkBudget& budget);

// json.dumps(value, ensure_ascii=False, indent=indent) as transformers' tojson filter produces it:
// separators ", " / ": " without indent, "," / ": " with indent; keys in insertion order.
Result<std::string> to_json(const Value& value, int indent, WalkBudget& budget);

// The render context is an ordered_json: nlohmann::json sorts object keys, but tojson must
// print tool schemas in the caller's key order, as Python dicts do.
using OrderedJson = nlohmann::ordered_json;

// JSON -> Value. Depth is bounded by the caller's JSON parser.
Value from_json(const OrderedJson& json);
Value from_json(const Json& json);  // keys come out sorted (nlohmann::json's order)

// Number of Unicode code points in UTF-8 text (Python len(str)).
size_t utf8_length(std::string_view text);

}  // namespace llm::jinja
