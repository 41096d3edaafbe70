#include "stack/tool_calls.h"

#include <cctype>

#include "util/str.h"

namespace llm::stack {
namespace {

using chat::OrderedJson;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<OrderedJson> parse_ordered(std::string_view text) {
  OrderedJson value = OrderedJson::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

// {"name": ..., "parameters"|"arguments": {...}} (optionally {"type": "function", "function": {...}}).
std::optional<chat::ToolCall> call_from_json(const OrderedJson& value) {
  if (!value.is_object()) return std::nullopt;
  const OrderedJson* object = &value;
  if (value.contains("function") && value["function"].is_object()) object = &value["function"];
  if (!object->contains("name") || !(*object)["name"].is_string()) return std::nullopt;
  chat::ToolCall call;
  call.name = (*object)["name"].get<std::string>();
  for (const char* key : {"parameters", "arguments"}) {
    if (!object->contains(key)) continue;
    const OrderedJson& args = (*object)[key];
    if (args.is_object()) {
      call.arguments = args;
    } else if (args.is_string()) {  // OpenAI style: arguments as a JSON string
      std::optional<OrderedJson> parsed = parse_ordered(args.get<std::string>());
      if (!parsed || !parsed->is_object()) return std::nullopt;
      call.arguments = *parsed;
    } else {
      return std::nullopt;
    }
  }
  if (call.arguments.is_null()) call.arguments = OrderedJson::object();
  return call;
}

// Splits "a; b" / "a\nb" at top-level separators (outside strings and brackets).
std::vector<std::string_view> split_top_level(std::string_view text) {
  std::vector<std::string_view> parts;
  int depth = 0;
  bool in_string = false, escaped = false;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[' || c == '(') ++depth;
    else if (c == '}' || c == ']' || c == ')') --depth;
    else if (depth == 0 && (c == ';' || c == '\n')) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

// A Python literal argument value: "str", 'str', numbers, True/False/None, or JSON-ish lists/dicts.
std::optional<OrderedJson> python_value(std::string_view v) {
  v = trim(v);
  if (v.empty()) return std::nullopt;
  if (v == "True") return OrderedJson(true);
  if (v == "False") return OrderedJson(false);
  if (v == "None") return OrderedJson(nullptr);
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
    std::string s(v.substr(1, v.size() - 2));
    return OrderedJson(s);
  }
  return parse_ordered(v);  // "str", numbers, [..], {..}
}

// name(a="x", b=2)
std::optional<chat::ToolCall> call_from_python(std::string_view text) {
  text = trim(text);
  size_t open = text.find('(');
  if (open == std::string_view::npos || text.back() != ')') return std::nullopt;
  std::string_view name = trim(text.substr(0, open));
  if (name.empty()) return std::nullopt;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return std::nullopt;
  }
  chat::ToolCall call;
  call.name = std::string(name);
  call.arguments = OrderedJson::object();
  std::string_view inner = text.substr(open + 1, text.size() - open - 2);
  if (trim(inner).empty()) return call;
  // Split at top-level commas.
  int depth = 0;
  bool in_string = false, escaped = false;
  char quote = 0;
  size_t start = 0;
  std::vector<std::string_view> args;
  for (size_t i = 0; i <= inner.size(); ++i) {
    if (i == inner.size()) {
      args.push_back(inner.substr(start));
      break;
    }
    char c = inner[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == quote) in_string = false;
      continue;
    }
    if (c == '"' || c == '\'') {
      in_string = true;
      quote = c;
    } else if (c == '{' || c == '[' || c == '(') {
      ++depth;
    } else if (c == '}' || c == ']' || c == ')') {
      --depth;
    } else if (c == ',' && depth == 0) {
      args.push_back(inner.substr(start, i - start));
      start = i + 1;
    }
  }
  for (std::string_view arg : args) {
    size_t eq = arg.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string key(trim(arg.substr(0, eq)));
    std::optional<OrderedJson> value = python_value(arg.substr(eq + 1));
    if (key.empty() || !value) return std::nullopt;
    call.arguments[key] = *value;
  }
  return call;
}

}  // namespace

bool looks_like_tool_call(std::string_view text_start) {
  text_start = trim(text_start);
  if (text_start.empty()) return false;
  char c = text_start.front();
  return c == '{' || c == '[' || (c == '<' && std::string_view("<function=").starts_with(
                                                 text_start.substr(0, std::min<size_t>(text_start.size(), 10))));
}

std::optional<std::vector<chat::ToolCall>> parse_llama3_tool_calls(std::string_view text) {
  text = trim(text);
  std::vector<chat::ToolCall> calls;
  if (text.starts_with("<function=")) {
    while (!text.empty()) {
      if (!text.starts_with("<function=")) return std::nullopt;
      size_t name_end = text.find('>');
      size_t close = text.find("</function>");
      if (name_end == std::string_view::npos || close == std::string_view::npos || close < name_end) return std::nullopt;
      std::optional<OrderedJson> args = parse_ordered(text.substr(name_end + 1, close - name_end - 1));
      if (!args || !args->is_object()) return std::nullopt;
      calls.push_back(chat::ToolCall{.name = std::string(text.substr(10, name_end - 10)), .arguments = *args});
      text = trim(text.substr(close + 11));
    }
  } else if (text.starts_with("[")) {
    if (!text.ends_with("]")) return std::nullopt;
    std::string_view inner = text.substr(1, text.size() - 2);
    // Top-level comma split of the calls.
    int depth = 0;
    bool in_string = false, escaped = false;
    char quote = 0;
    size_t start = 0;
    for (size_t i = 0; i <= inner.size(); ++i) {
      bool at_end = i == inner.size();
      char c = at_end ? ',' : inner[i];
      if (!at_end && in_string) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == quote) in_string = false;
        continue;
      }
      if (c == '"' || c == '\'') {
        in_string = true;
        quote = c;
      } else if (c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if (c == ')' || c == ']' || c == '}') {
        --depth;
      } else if (c == ',' && depth == 0) {
        std::optional<chat::ToolCall> call = call_from_python(inner.substr(start, i - start));
        if (!call) return std::nullopt;
        calls.push_back(std::move(*call));
        start = i + 1;
      }
    }
  } else {
    for (std::string_view part : split_top_level(text)) {
      part = trim(part);
      if (part.empty()) continue;
      std::optional<OrderedJson> value = parse_ordered(part);
      if (!value) return std::nullopt;
      std::optional<chat::ToolCall> call = call_from_json(*value);
      if (!call) return std::nullopt;
      calls.push_back(std::move(*call));
    }
  }
  if (calls.empty()) return std::nullopt;
  for (size_t i = 0; i < calls.size(); ++i) calls[i].id = str("call_", i);
  return calls;
}

}  // namespace llm::stack
