// Tree-walking evaluator (internal to llm_jinja). interpreter.cpp runs statements and expressions;
// builtins.cpp holds filters, tests, methods and global functions.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/jinja.h"

namespace llm::jinja {

// A variable scope. Loop iterations and macro calls get their own; `if` does not (as in Jinja).
struct Frame {
  std::unordered_map<std::string, Value> vars;
  Frame* parent = nullptr;
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // Positional index `index`, else keyword `name`, else nullptr.
  const Value* get(size_t index, std::string_view name) const;
};

class Interpreter {
 public:
  Interpreter(const Limits& limits, const RenderOptions& options) : limits_(limits), options_(options) {}

  Result<std::string> run(const std::vector<std::unique_ptr<Stmt>>& body, const OrderedJson& context);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  struct DepthGuard {
    explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
    ~DepthGuard() { --depth_; }
    int& depth_;
  };

  // ---- interpreter.cpp ----
  Result<Flow> exec_list(const std::vector<std::unique_ptr<Stmt>>& body, Frame& frame);
  Result<Flow> exec(const Stmt& stmt, Frame& frame);
  Result<Flow> exec_for(const Stmt& stmt, Frame& frame);
  Status exec_set(const Stmt& stmt, Frame& frame);
  Result<Value> eval(const Expr& expr, Frame& frame);
  Result<Value> eval_binary(const Expr& expr, const Value& left, const Value& right);
  Result<Value> eval_call(const Expr& expr, Frame& frame);
  Result<CallArgs> eval_args(const Expr& expr, size_t first, Frame& frame);
  Result<Value> get_attribute(const Expr& expr, const Value& object, const std::string& name);
  Result<Value> get_item(const Expr& expr, const Value& object, const Value& key);
  Result<Value> slice(const Expr& expr, const Value& object, const Value* start, const Value* stop, const Value* step);
  Result<Value> call_macro(const Expr& expr, const Stmt& macro, const CallArgs& args);
  Result<std::vector<Value>> iterate(const Expr& expr, const Value& value);
  Result<std::string> display(const Value& value);
  Status emit(std::string_view text);
  Status step(int64_t cost = 1);
  Status check_string(const Expr& expr, size_t bytes);
  Status check_collection(const Expr& expr, size_t items);
  Error error(const Expr& expr, const std::string& what) const;
  Frame* lookup_frame(Frame& frame, const std::string& name);

  // ---- builtins.cpp ----
  Result<Value> call_filter(const Expr& expr, const std::string& name, const Value& subject, const CallArgs& args);
  Result<bool> call_test(const Expr& expr, const std::string& name, const Value& subject, const CallArgs& args);
  Result<Value> call_method(const Expr& expr, const Value& object, const std::string& name, const CallArgs& args);
  Result<Value> call_global(const Expr& expr, const std::string& name, const CallArgs& args);
  Result<Value> select_items(const Expr& expr, const std::string& filter, const Value& subject, const CallArgs& args);
  Result<Value> map_items(const Expr& expr, const Value& subject, const CallArgs& args);
  Result<Value> attribute_path(const Expr& expr, const Value& item, const std::string& path);
  Result<int> compare(const Expr& expr, const Value& a, const Value& b);

  const Limits& limits_;
  const RenderOptions& options_;
  int64_t steps_ = 0;
  int depth_ = 0;
  std::string* out_ = nullptr;  // where {{ }} and text go; swapped while capturing set-blocks/macros
  Frame* root_ = nullptr;       // globals + context + top-level sets; macros run on top of it
};

}  // namespace llm::jinja
