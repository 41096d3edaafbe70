#include "tokenizer/chat/chat.h"

#include "util/str.h"

namespace llm::chat {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Python str.strip() / Jinja |trim for ASCII whitespace.
std::string trim(const std::string& text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

std::string header(const std::string& role) { return "<|start_header_id|>" + role + "<|end_header_id|>\n\n"; }

Result<std::string> dump_json(const OrderedJson& json, int indent) {
  jinja::WalkBudget budget{1 << 24, 64 << 20};
  return jinja::to_json(jinja::from_json(json), indent, budget);
}

Error invalid(const std::string& what) { return make_error(ErrorCode::kInvalidArgument, str("chat: ", what)); }

}  // namespace

OrderedJson messages_to_json(std::span<const ChatMessage> messages) {
  OrderedJson out = OrderedJson::array();
  for (const ChatMessage& m : messages) {
    OrderedJson message = OrderedJson::object();
    message["role"] = m.role;
    message["content"] = m.content;
    if (!m.tool_calls.empty()) {
      OrderedJson calls = OrderedJson::array();
      for (const ToolCall& call : m.tool_calls) {
        OrderedJson c = OrderedJson::object();
        if (!call.id.empty()) c["id"] = call.id;
        c["type"] = "function";
        c["function"] = OrderedJson{{"name", call.name}, {"arguments", call.arguments}};
        calls.push_back(std::move(c));
      }
      message["tool_calls"] = std::move(calls);
    }
    if (!m.tool_call_id.empty()) message["tool_call_id"] = m.tool_call_id;
    out.push_back(std::move(message));
  }
  return out;
}

Result<std::string> render_chat(std::string_view template_source, std::span<const ChatMessage> messages,
                                const ChatRenderOptions& options) {
  Result<jinja::Template> compiled = jinja::Template::parse(template_source, options.limits);
  if (!compiled.ok()) return compiled.error();
  OrderedJson context = OrderedJson::object();
  if (!options.extra_context.is_null()) {
    if (!options.extra_context.is_object()) return invalid(str("extra_context must be an object, got ", options.extra_context.type_name()));
    context = options.extra_context;
  }
  context["messages"] = messages_to_json(messages);
  // transformers passes tools only when given; templates test `tools is defined` / `is not none`.
  if (!options.tools.is_null()) context["tools"] = options.tools;
  context["add_generation_prompt"] = options.add_generation_prompt;
  context["bos_token"] = options.bos_token;
  context["eos_token"] = options.eos_token;
  if (!options.date_string.empty()) context["date_string"] = options.date_string;
  return compiled->render(context, jinja::RenderOptions{.now = options.now});
}

Result<std::string> render_llama3(std::span<const ChatMessage> messages, const ChatRenderOptions& options) {
  const OrderedJson& extra = options.extra_context;
  std::vector<std::string> builtin_tools;
  bool has_builtin = extra.is_object() && extra.contains("builtin_tools");
  if (has_builtin) {
    if (!extra["builtin_tools"].is_array()) return invalid("builtin_tools must be a list of tool names");
    for (const OrderedJson& name : extra["builtin_tools"]) {
      if (!name.is_string()) return invalid("builtin_tools must be a list of tool names");
      builtin_tools.push_back(name.get<std::string>());
    }
  }
  bool tools_in_user_message = !(extra.is_object() && extra.contains("tools_in_user_message") &&
                                 extra["tools_in_user_message"].is_boolean() && !extra["tools_in_user_message"].get<bool>());
  bool has_tools = !options.tools.is_null();
  if (has_tools && !options.tools.is_array()) return invalid(str("tools must be a list, got ", options.tools.type_name()));

  std::string tool_block;
  if (has_tools) {
    tool_block = "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}."
                 "Do not use variables.\n\n";
    for (const OrderedJson& tool : options.tools) {
      Result<std::string> json = dump_json(tool, 4);
      if (!json.ok()) return json.error();
      tool_block += *json + "\n\n";
    }
  }

  size_t first = 0;
  std::string system_message;
  if (!messages.empty() && messages[0].role == "system") {
    system_message = trim(messages[0].content);
    first = 1;
  }
  std::string out = options.bos_token + header("system");
  if (has_builtin || has_tools) out += "Environment: ipython\n";
  if (has_builtin) {
    std::string names;
    for (const std::string& name : builtin_tools) {
      if (name == "code_interpreter") continue;  // enabled by "Environment: ipython" alone
      names += (names.empty() ? "" : ", ") + name;
    }
    out += "Tools: " + names + "\n\n";
  }
  out += "Cutting Knowledge Date: December 2023\n";
  out += "Today Date: " + (options.date_string.empty() ? std::string("26 Jul 2024") : options.date_string) + "\n\n";
  if (has_tools && !tools_in_user_message) {
    out += "You have access to the following functions. To call a function, please respond with JSON for a function call." + tool_block;
  }
  out += system_message + "<|eot_id|>";

  if (has_tools && tools_in_user_message) {
    if (first >= messages.size()) return invalid("tools go in the first user message, but there is no user message");
    out += header("user");
    out += "Given the following functions, please respond with a JSON for a function call "
           "with its proper arguments that best answers the given prompt.\n\n";
    out += tool_block + trim(messages[first].content) + "<|eot_id|>";
    ++first;
  }

  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (!m.tool_calls.empty()) {
      if (m.tool_calls.size() != 1) return invalid(str("message ", i, ": Llama 3.1 takes one tool call per message, got ", m.tool_calls.size()));
      const ToolCall& call = m.tool_calls[0];
      out += header("assistant");
      bool builtin_call = false;
      for (const std::string& name : builtin_tools) builtin_call = builtin_call || name == call.name;
      if (builtin_call) {
        // llama-models: builtin calls are "<|python_tag|>name.call(arg="value", ...)".
        out += "<|python_tag|>" + call.name + ".call(";
        if (!call.arguments.is_object()) return invalid(str("message ", i, ": tool call arguments must be an object"));
        bool first_arg = true;
        for (auto it = call.arguments.begin(); it != call.arguments.end(); ++it) {
          if (!it.value().is_string()) return invalid(str("message ", i, ": builtin tool argument '", it.key(), "' must be a string"));
          out += (first_arg ? "" : ", ") + it.key() + "=\"" + it.value().get<std::string>() + "\"";
          first_arg = false;
        }
        out += ")";
      } else {
        Result<std::string> arguments = dump_json(call.arguments, 0);
        if (!arguments.ok()) return arguments.error();
        out += "{\"name\": \"" + call.name + "\", \"parameters\": " + *arguments + "}";
      }
      bool end_of_message = has_builtin || m.stop_reason == StopReason::kEndOfMessage;
      out += end_of_message ? "<|eom_id|>" : "<|eot_id|>";
    } else if (m.role == "tool" || m.role == "ipython") {
      // The 3.1 template prints a string result through tojson (a string is "iterable").
      Result<std::string> content = dump_json(OrderedJson(m.content), 0);
      if (!content.ok()) return content.error();
      out += header("ipython") + *content + "<|eot_id|>";
    } else {
      out += header(m.role) + trim(m.content);
      out += (m.role == "assistant" && m.stop_reason == StopReason::kEndOfMessage) ? "<|eom_id|>" : "<|eot_id|>";
    }
  }
  if (options.add_generation_prompt) out += header("assistant");
  return out;
}

Result<std::string> render_llama2(std::span<const ChatMessage> messages, const ChatRenderOptions& options) {
  size_t first = 0;
  std::optional<std::string> system_message;
  if (!messages.empty() && messages[0].role == "system") {
    system_message = messages[0].content;
    first = 1;
  }
  std::string out;
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    bool expect_user = (i - first) % 2 == 0;
    if ((m.role == "user") != expect_user) {
      return invalid(str("message ", i, ": Llama 2 roles must alternate user/assistant, got '", m.role, "'"));
    }
    std::string content = m.content;
    if (i == first && system_message) content = "<<SYS>>\n" + *system_message + "\n<</SYS>>\n\n" + content;
    if (m.role == "user") out += options.bos_token + "[INST] " + trim(content) + " [/INST]";
    else if (m.role == "assistant") out += " " + trim(content) + " " + options.eos_token;
  }
  return out;
}

}  // namespace llm::chat
