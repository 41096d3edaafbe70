#include "tokenizer/jinja/interpreter.h"

#include <cmath>

#include "util/str.h"

namespace llm::jinja {

const Value* CallArgs::get(size_t index, std::string_view name) const {
  if (index < positional.size()) return &positional[index];
  for (const auto& [key, value] : keyword) {
    if (key == name) return &value;
  }
  return nullptr;
}

namespace {

const char* type_name(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined: return "Undefined";
    case ValueKind::kNone: return "NoneType";
    case ValueKind::kBool: return "bool";
    case ValueKind::kInt: return "int";
    case ValueKind::kFloat: return "float";
    case ValueKind::kString: return "str";
    case ValueKind::kList: return "list";
    case ValueKind::kDict: return "dict";
    case ValueKind::kNamespace: return "Namespace";
    case ValueKind::kCallable: return "function";
  }
  return "?";
}

// Byte offsets of each code point start in UTF-8 text, plus the end.
std::vector<size_t> code_point_offsets(const std::string& text) {
  std::vector<size_t> offsets;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) offsets.push_back(i);
  }
  offsets.push_back(text.size());
  return offsets;
}

}  // namespace

Error Interpreter::error(const Expr& expr, const std::string& what) const {
  return make_error(ErrorCode::kInvalidArgument, str("jinja: line ", expr.line, ": ", what));
}

Status Interpreter::step(int64_t cost) {
  steps_ += cost;
  if (steps_ > limits_.max_steps) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("jinja: step limit exceeded (max_steps = ", limits_.max_steps, "): the template runs too long"));
  }
  return {};
}

Status Interpreter::check_string(const Expr& expr, size_t bytes) {
  if (bytes > limits_.max_string_bytes) {
    return error(expr, str("string of ", bytes, " bytes exceeds max_string_bytes = ", limits_.max_string_bytes));
  }
  return step(static_cast<int64_t>(bytes / 256));
}

Status Interpreter::check_collection(const Expr& expr, size_t items) {
  if (items > limits_.max_collection_size) {
    return error(expr, str("collection of ", items, " items exceeds max_collection_size = ", limits_.max_collection_size));
  }
  return step(static_cast<int64_t>(items / 16));
}

Status Interpreter::emit(std::string_view text) {
  if (out_->size() + text.size() > limits_.max_output_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("jinja: output exceeds max_output_bytes = ", limits_.max_output_bytes));
  }
  out_->append(text);
  return step(static_cast<int64_t>(text.size() / 256));
}

Result<std::string> Interpreter::display(const Value& value) {
  WalkBudget budget{limits_.max_steps - steps_, limits_.max_string_bytes};
  int64_t before = budget.steps_left;
  Result<std::string> text = to_display_string(value, budget);
  steps_ += before - budget.steps_left;
  return text;
}

Frame* Interpreter::lookup_frame(Frame& frame, const std::string& name) {
  for (Frame* f = &frame; f != nullptr; f = f->parent) {
    if (f->vars.count(name) != 0) return f;
  }
  return nullptr;
}

Result<std::string> Interpreter::run(const std::vector<std::unique_ptr<Stmt>>& body, const OrderedJson& context) {
  if (!context.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, str("jinja: render context must be a JSON object, got ", context.type_name()));
  }
  Frame root;
  for (const char* name : {"range", "namespace", "raise_exception", "dict"}) {
    root.vars[name] = Value::callable(Callable{name, nullptr});
  }
  if (options_.now) root.vars["strftime_now"] = Value::callable(Callable{"strftime_now", nullptr});
  for (auto it = context.begin(); it != context.end(); ++it) root.vars[it.key()] = from_json(it.value());
  root_ = &root;
  std::string output;
  out_ = &output;
  Result<Flow> flow = exec_list(body, root);
  if (!flow.ok()) return flow.error();
  return output;
}

Result<Interpreter::Flow> Interpreter::exec_list(const std::vector<std::unique_ptr<Stmt>>& body, Frame& frame) {
  for (const auto& stmt : body) {
    Result<Flow> flow = exec(*stmt, frame);
    if (!flow.ok() || *flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Result<Interpreter::Flow> Interpreter::exec(const Stmt& stmt, Frame& frame) {
  DepthGuard guard(depth_);
  if (depth_ > limits_.max_render_depth) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("jinja: line ", stmt.line, ": nesting exceeds max_render_depth = ", limits_.max_render_depth));
  }
  if (Status s = step(); !s) return s.error();
  switch (stmt.kind) {
    case StmtKind::kText:
      if (Status s = emit(stmt.text); !s) return s.error();
      return Flow::kNormal;
    case StmtKind::kOutput: {
      Result<Value> value = eval(*stmt.expr, frame);
      if (!value.ok()) return value.error();
      Result<std::string> text = display(*value);
      if (!text.ok()) return text.error();
      if (Status s = emit(*text); !s) return s.error();
      return Flow::kNormal;
    }
    case StmtKind::kIf: {
      Result<Value> cond = eval(*stmt.expr, frame);
      if (!cond.ok()) return cond.error();
      return exec_list(cond->truthy() ? stmt.body : stmt.else_body, frame);
    }
    case StmtKind::kFor: return exec_for(stmt, frame);
    case StmtKind::kSet: {
      if (Status s = exec_set(stmt, frame); !s) return s.error();
      return Flow::kNormal;
    }
    case StmtKind::kSetBlock: {
      std::string captured;
      std::string* saved = out_;
      out_ = &captured;
      Result<Flow> flow = exec_list(stmt.body, frame);
      out_ = saved;
      if (!flow.ok()) return flow;
      frame.vars[stmt.targets[0]] = Value::string(std::move(captured));
      return Flow::kNormal;
    }
    case StmtKind::kMacro:
      frame.vars[stmt.text] = Value::callable(Callable{stmt.text, &stmt});
      return Flow::kNormal;
    case StmtKind::kBreak: return Flow::kBreak;
    case StmtKind::kContinue: return Flow::kContinue;
    case StmtKind::kBlock: return exec_list(stmt.body, frame);
  }
  return Flow::kNormal;
}

Status Interpreter::exec_set(const Stmt& stmt, Frame& frame) {
  Result<Value> value = eval(*stmt.expr, frame);
  if (!value.ok()) return value.error();
  if (!stmt.attribute.empty()) {
    Frame* owner = lookup_frame(frame, stmt.targets[0]);
    if (owner == nullptr || owner->vars[stmt.targets[0]].kind() != ValueKind::kNamespace) {
      return error(*stmt.expr, str("cannot set attribute '", stmt.attribute, "' on '", stmt.targets[0],
                                   "': only namespace() objects accept attribute assignment"));
    }
    Dict& dict = owner->vars[stmt.targets[0]].mutable_dict();
    if (Status s = check_collection(*stmt.expr, dict.size() + 1); !s) return s;
    dict.set(stmt.attribute, std::move(*value));
    return {};
  }
  if (stmt.targets.size() == 1) {
    frame.vars[stmt.targets[0]] = std::move(*value);
    return {};
  }
  Result<std::vector<Value>> items = iterate(*stmt.expr, *value);
  if (!items.ok()) return items.error();
  if (items->size() != stmt.targets.size()) {
    return error(*stmt.expr, str("cannot unpack ", items->size(), " values into ", stmt.targets.size(), " names"));
  }
  for (size_t i = 0; i < items->size(); ++i) frame.vars[stmt.targets[i]] = (*items)[i];
  return {};
}

Result<std::vector<Value>> Interpreter::iterate(const Expr& expr, const Value& value) {
  std::vector<Value> items;
  switch (value.kind()) {
    case ValueKind::kUndefined: return items;  // Jinja iterates Undefined as empty
    case ValueKind::kList: items = value.as_list(); break;
    case ValueKind::kDict:
    case ValueKind::kNamespace:
      for (const auto& entry : value.as_dict().entries()) items.push_back(Value::string(entry.first));
      break;
    case ValueKind::kString: {
      const std::string& text = value.as_string();
      std::vector<size_t> offsets = code_point_offsets(text);
      for (size_t i = 0; i + 1 < offsets.size(); ++i) {
        items.push_back(Value::string(text.substr(offsets[i], offsets[i + 1] - offsets[i])));
      }
      break;
    }
    case ValueKind::kNone:
    case ValueKind::kBool:
    case ValueKind::kInt:
    case ValueKind::kFloat:
    case ValueKind::kCallable: return error(expr, str("'", type_name(value), "' object is not iterable"));
  }
  if (Status s = step(static_cast<int64_t>(items.size() / 16)); !s) return s.error();
  return items;
}

Result<Interpreter::Flow> Interpreter::exec_for(const Stmt& stmt, Frame& frame) {
  Result<Value> iterable = eval(*stmt.expr, frame);
  if (!iterable.ok()) return iterable.error();
  Result<std::vector<Value>> all = iterate(*stmt.expr, *iterable);
  if (!all.ok()) return all.error();

  auto bind = [&](Frame& scope, const Value& item) -> Status {
    if (stmt.targets.size() == 1) {
      scope.vars[stmt.targets[0]] = item;
      return {};
    }
    Result<std::vector<Value>> parts = iterate(*stmt.expr, item);
    if (!parts.ok()) return parts.error();
    if (parts->size() != stmt.targets.size()) {
      return error(*stmt.expr, str("cannot unpack ", parts->size(), " values into ", stmt.targets.size(), " loop names"));
    }
    for (size_t i = 0; i < parts->size(); ++i) scope.vars[stmt.targets[i]] = (*parts)[i];
    return {};
  };

  std::vector<Value> items;
  if (stmt.filter) {  // "for x in xs if cond": filtered before the loop, so loop.* counts kept items
    for (const Value& item : *all) {
      if (Status s = step(); !s) return s.error();
      Frame scope{{}, &frame};
      if (Status s = bind(scope, item); !s) return s.error();
      Result<Value> keep = eval(*stmt.filter, scope);
      if (!keep.ok()) return keep.error();
      if (keep->truthy()) items.push_back(item);
    }
  } else {
    items = std::move(*all);
  }
  if (items.empty()) return exec_list(stmt.else_body, frame);

  const int64_t length = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < length; ++i) {
    if (Status s = step(); !s) return s.error();
    Frame scope{{}, &frame};
    if (Status s = bind(scope, items[i]); !s) return s.error();
    Dict loop;
    loop.set("index", Value::integer(i + 1));
    loop.set("index0", Value::integer(i));
    loop.set("revindex", Value::integer(length - i));
    loop.set("revindex0", Value::integer(length - i - 1));
    loop.set("first", Value::boolean(i == 0));
    loop.set("last", Value::boolean(i == length - 1));
    loop.set("length", Value::integer(length));
    if (i > 0) loop.set("previtem", items[i - 1]);
    if (i + 1 < length) loop.set("nextitem", items[i + 1]);
    scope.vars["loop"] = Value::dict(std::move(loop));
    Result<Flow> flow = exec_list(stmt.body, scope);
    if (!flow.ok()) return flow;
    if (*flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Result<Value> Interpreter::eval(const Expr& expr, Frame& frame) {
  DepthGuard guard(depth_);
  if (depth_ > limits_.max_render_depth) {
    return error(expr, str("nesting exceeds max_render_depth = ", limits_.max_render_depth));
  }
  if (Status s = step(); !s) return s.error();
  switch (expr.kind) {
    case ExprKind::kLiteral: return expr.literal;
    case ExprKind::kName: {
      Frame* owner = lookup_frame(frame, expr.name);
      return owner == nullptr ? Value() : owner->vars[expr.name];
    }
    case ExprKind::kList:
    case ExprKind::kTuple: {
      List items;
      for (const auto& child : expr.children) {
        Result<Value> item = eval(*child, frame);
        if (!item.ok()) return item;
        items.push_back(std::move(*item));
      }
      return expr.kind == ExprKind::kTuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    case ExprKind::kDict: {
      Dict entries;
      for (size_t i = 0; i + 1 < expr.children.size(); i += 2) {
        Result<Value> key = eval(*expr.children[i], frame);
        if (!key.ok()) return key;
        if (!key->is_string()) return error(expr, str("dict keys must be strings, got ", type_name(*key)));
        Result<Value> value = eval(*expr.children[i + 1], frame);
        if (!value.ok()) return value;
        entries.set(key->as_string(), std::move(*value));
      }
      return Value::dict(std::move(entries));
    }
    case ExprKind::kAttribute: {
      Result<Value> object = eval(*expr.children[0], frame);
      if (!object.ok()) return object;
      return get_attribute(expr, *object, expr.name);
    }
    case ExprKind::kSubscript: {
      Result<Value> object = eval(*expr.children[0], frame);
      if (!object.ok()) return object;
      Result<Value> key = eval(*expr.children[1], frame);
      if (!key.ok()) return key;
      return get_item(expr, *object, *key);
    }
    case ExprKind::kSlice: {
      Result<Value> object = eval(*expr.children[0], frame);
      if (!object.ok()) return object;
      Value parts[3];
      for (int i = 0; i < 3; ++i) {
        if (!expr.children[i + 1]) continue;
        Result<Value> part = eval(*expr.children[i + 1], frame);
        if (!part.ok()) return part;
        parts[i] = std::move(*part);
      }
      auto given = [&](int i) -> const Value* {
        return (expr.children[i + 1] && !parts[i].is_none()) ? &parts[i] : nullptr;
      };
      return slice(expr, *object, given(0), given(1), given(2));
    }
    case ExprKind::kCall: return eval_call(expr, frame);
    case ExprKind::kFilter: {
      Result<Value> subject = eval(*expr.children[0], frame);
      if (!subject.ok()) return subject;
      Result<CallArgs> args = eval_args(expr, 1, frame);
      if (!args.ok()) return args.error();
      return call_filter(expr, expr.name, *subject, *args);
    }
    case ExprKind::kTest: {
      Result<Value> subject = eval(*expr.children[0], frame);
      if (!subject.ok()) return subject;
      Result<CallArgs> args = eval_args(expr, 1, frame);
      if (!args.ok()) return args.error();
      Result<bool> result = call_test(expr, expr.name, *subject, *args);
      if (!result.ok()) return result.error();
      return Value::boolean(*result != expr.negated);
    }
    case ExprKind::kUnary: {
      Result<Value> operand = eval(*expr.children[0], frame);
      if (!operand.ok()) return operand;
      if (!operand->is_number()) return error(expr, str("bad operand type for unary ", expr.name, ": '", type_name(*operand), "'"));
      if (expr.name == "+") return *operand;
      if (operand->kind() == ValueKind::kFloat) return Value::number(-operand->as_float());
      if (operand->as_int() == INT64_MIN) return error(expr, "integer overflow in unary '-'");
      return Value::integer(-operand->as_int());
    }
    case ExprKind::kNot: {
      Result<Value> operand = eval(*expr.children[0], frame);
      if (!operand.ok()) return operand;
      return Value::boolean(!operand->truthy());
    }
    case ExprKind::kAnd:
    case ExprKind::kOr: {  // Python semantics: returns an operand, not a bool
      Result<Value> left = eval(*expr.children[0], frame);
      if (!left.ok()) return left;
      bool short_circuit = expr.kind == ExprKind::kAnd ? !left->truthy() : left->truthy();
      if (short_circuit) return left;
      return eval(*expr.children[1], frame);
    }
    case ExprKind::kConditional: {
      Result<Value> cond = eval(*expr.children[1], frame);
      if (!cond.ok()) return cond;
      if (cond->truthy()) return eval(*expr.children[0], frame);
      if (!expr.children[2]) return Value();
      return eval(*expr.children[2], frame);
    }
    case ExprKind::kBinary: {
      Result<Value> left = eval(*expr.children[0], frame);
      if (!left.ok()) return left;
      Result<Value> right = eval(*expr.children[1], frame);
      if (!right.ok()) return right;
      return eval_binary(expr, *left, *right);
    }
  }
  return Value();
}

Result<CallArgs> Interpreter::eval_args(const Expr& expr, size_t first, Frame& frame) {
  CallArgs args;
  for (size_t i = first; i < expr.children.size(); ++i) {
    Result<Value> value = eval(*expr.children[i], frame);
    if (!value.ok()) return value.error();
    const std::string& name = expr.arg_names[i - 1];
    if (name.empty()) args.positional.push_back(std::move(*value));
    else args.keyword.emplace_back(name, std::move(*value));
  }
  return args;
}

Result<Value> Interpreter::eval_call(const Expr& expr, Frame& frame) {
  const Expr& callee = *expr.children[0];
  Result<CallArgs> args = eval_args(expr, 1, frame);
  if (!args.ok()) return args.error();
  if (callee.kind == ExprKind::kAttribute) {  // obj.method(...)
    Result<Value> object = eval(*callee.children[0], frame);
    if (!object.ok()) return object;
    if (object->is_mapping()) {
      const Value* member = object->as_dict().find(callee.name);
      if (member != nullptr && member->kind() == ValueKind::kCallable) {
        const Callable& fn = member->as_callable();
        if (fn.macro != nullptr) return call_macro(expr, *static_cast<const Stmt*>(fn.macro), *args);
        return call_global(expr, fn.name, *args);
      }
    }
    return call_method(expr, *object, callee.name, *args);
  }
  Result<Value> fn = eval(callee, frame);
  if (!fn.ok()) return fn;
  if (fn->kind() != ValueKind::kCallable) {
    std::string what = callee.kind == ExprKind::kName ? str("'", callee.name, "'") : std::string("expression");
    return error(expr, str(what, " is not callable (it is ", type_name(*fn), ")"));
  }
  const Callable& callable = fn->as_callable();
  if (callable.macro != nullptr) return call_macro(expr, *static_cast<const Stmt*>(callable.macro), *args);
  return call_global(expr, callable.name, *args);
}

Result<Value> Interpreter::call_macro(const Expr& expr, const Stmt& macro, const CallArgs& args) {
  if (args.positional.size() > macro.targets.size()) {
    return error(expr, str("macro '", macro.text, "' takes ", macro.targets.size(), " arguments, got ", args.positional.size()));
  }
  Frame scope{{}, root_};
  for (size_t i = 0; i < macro.targets.size(); ++i) {
    const Value* given = args.get(i, macro.targets[i]);
    if (given != nullptr) {
      scope.vars[macro.targets[i]] = *given;
    } else if (macro.defaults[i]) {
      Result<Value> value = eval(*macro.defaults[i], scope);
      if (!value.ok()) return value;
      scope.vars[macro.targets[i]] = std::move(*value);
    } else {
      scope.vars[macro.targets[i]] = Value();
    }
  }
  for (const auto& [name, value] : args.keyword) {
    bool known = false;
    for (const std::string& param : macro.targets) known = known || param == name;
    if (!known) return error(expr, str("macro '", macro.text, "' has no parameter '", name, "'"));
  }
  std::string captured;
  std::string* saved = out_;
  out_ = &captured;
  Result<Flow> flow = exec_list(macro.body, scope);
  out_ = saved;
  if (!flow.ok()) return flow.error();
  return Value::string(std::move(captured));
}

Result<Value> Interpreter::get_attribute(const Expr& expr, const Value& object, const std::string& name) {
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') {
    return error(expr, str("access to attribute '", name, "' is not allowed (sandbox)"));
  }
  if (object.is_undefined()) return error(expr, str("cannot read attribute '", name, "' of an undefined value"));
  if (object.is_mapping()) {
    const Value* member = object.as_dict().find(name);
    if (member != nullptr) return *member;
  }
  return Value();  // like Jinja: a missing attribute is undefined
}

Result<Value> Interpreter::get_item(const Expr& expr, const Value& object, const Value& key) {
  if (object.is_undefined()) return error(expr, "cannot subscript an undefined value");
  if (object.is_mapping()) {
    if (!key.is_string()) return Value();
    if (key.as_string().rfind("__", 0) == 0) return error(expr, str("access to key '", key.as_string(), "' is not allowed (sandbox)"));
    const Value* member = object.as_dict().find(key.as_string());
    return member == nullptr ? Value() : *member;
  }
  if (object.is_list() || object.is_string()) {
    if (key.kind() != ValueKind::kInt && key.kind() != ValueKind::kBool) return Value();
    int64_t index = key.as_int();
    if (object.is_list()) {
      int64_t size = static_cast<int64_t>(object.as_list().size());
      if (index < 0) index += size;
      if (index < 0 || index >= size) return Value();
      return object.as_list()[static_cast<size_t>(index)];
    }
    std::vector<size_t> offsets = code_point_offsets(object.as_string());
    int64_t size = static_cast<int64_t>(offsets.size()) - 1;
    if (index < 0) index += size;
    if (index < 0 || index >= size) return Value();
    size_t i = static_cast<size_t>(index);
    return Value::string(object.as_string().substr(offsets[i], offsets[i + 1] - offsets[i]));
  }
  return Value();
}

Result<Value> Interpreter::slice(const Expr& expr, const Value& object, const Value* start, const Value* stop,
                                 const Value* step_value) {
  for (const Value* part : {start, stop, step_value}) {
    if (part != nullptr && part->kind() != ValueKind::kInt && part->kind() != ValueKind::kBool) {
      return error(expr, str("slice indices must be integers or none, got ", type_name(*part)));
    }
  }
  int64_t stride = step_value ? step_value->as_int() : 1;
  if (stride == 0) return error(expr, "slice step cannot be zero");
  std::vector<size_t> offsets;
  int64_t size = 0;
  if (object.is_list()) {
    size = static_cast<int64_t>(object.as_list().size());
  } else if (object.is_string()) {
    offsets = code_point_offsets(object.as_string());
    size = static_cast<int64_t>(offsets.size()) - 1;
  } else {
    return error(expr, str("'", type_name(object), "' object is not subscriptable"));
  }
  // Python's slice.indices().
  auto clamp = [&](const Value* v, int64_t fallback) {
    if (v == nullptr) return fallback;
    int64_t i = v->as_int();
    if (i < 0) i = std::max<int64_t>(i + size, stride < 0 ? -1 : 0);
    else i = std::min<int64_t>(i, stride < 0 ? size - 1 : size);
    return i;
  };
  int64_t begin = clamp(start, stride < 0 ? size - 1 : 0);
  int64_t end = clamp(stop, stride < 0 ? -1 : size);
  std::vector<int64_t> picks;
  for (int64_t i = begin; stride > 0 ? i < end : i > end; i += stride) picks.push_back(i);
  if (Status s = step(static_cast<int64_t>(picks.size() / 16)); !s) return s.error();
  if (object.is_list()) {
    List items;
    for (int64_t i : picks) items.push_back(object.as_list()[static_cast<size_t>(i)]);
    return Value::list(std::move(items));
  }
  std::string text;
  for (int64_t i : picks) {
    size_t k = static_cast<size_t>(i);
    text += object.as_string().substr(offsets[k], offsets[k + 1] - offsets[k]);
  }
  return Value::string(std::move(text));
}

}  // namespace llm::jinja
