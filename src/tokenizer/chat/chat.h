// Chat prompt rendering: a model's own Jinja chat_template (tokenizer_config.json or GGUF
// tokenizer.chat_template) through the sandboxed interpreter, or a built-in format when the model
// ships none: Llama 3.x (header ids, eot/eom, ipython role, tools, python_tag) and Llama 2 [INST].
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/jinja.h"
#include "util/result.h"

namespace llm::chat {

using OrderedJson = jinja::OrderedJson;

struct ToolCall {
  std::string id;         // "call_id" in Llama Stack, "id" in OpenAI
  std::string name;
  OrderedJson arguments;  // a JSON object, in the caller's key order
};

enum class StopReason {
  kEndOfTurn,     // <|eot_id|>: the turn is over
  kEndOfMessage,  // <|eom_id|>: the model waits for a tool result (Llama 3.1 ipython)
};

struct ChatMessage {
  std::string role;  // system | user | assistant | tool | ipython
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant only
  std::string tool_call_id;          // tool results
  StopReason stop_reason = StopReason::kEndOfTurn;
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  OrderedJson tools;       // null or a list of {"type": "function", "function": {...}} definitions
  std::string bos_token = "<|begin_of_text|>";
  std::string eos_token = "<|eot_id|>";
  std::string date_string;  // "26 Jul 2024"; empty: the template's own default
  std::optional<jinja::DateTime> now;  // enables strftime_now() for templates that want the date
  OrderedJson extra_context;            // more template variables (an object), e.g. builtin_tools
  jinja::Limits limits;
};

// Messages as the template sees them (transformers / OpenAI shape): {"role", "content",
// "tool_calls": [{"id"?, "type": "function", "function": {"name", "arguments"}}], "tool_call_id"}.
OrderedJson messages_to_json(std::span<const ChatMessage> messages);

// Renders `template_source` with messages, tools, bos/eos tokens, add_generation_prompt and
// date_string as transformers' apply_chat_template does.
Result<std::string> render_chat(std::string_view template_source, std::span<const ChatMessage> messages,
                                const ChatRenderOptions& options);

// Llama 3.1 format, natively. Matches the Llama 3.1 Instruct chat_template for its inputs (tools in
// the first user message, JSON tool calls), and adds what llama-models' chat_format does beyond it:
// <|eom_id|> for stop_reason end_of_message, and <|python_tag|> for builtin tool calls.
Result<std::string> render_llama3(std::span<const ChatMessage> messages, const ChatRenderOptions& options);

// Llama 2 chat: "<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>".
// Roles must alternate user/assistant after an optional system message.
Result<std::string> render_llama2(std::span<const ChatMessage> messages, const ChatRenderOptions& options);

}  // namespace llm::chat
