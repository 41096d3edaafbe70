// Shared by the chat tests: fixture loading and JSON -> ChatMessage.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/chat/chat.h"

namespace llm::chat::testing {

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline std::vector<ChatMessage> messages_from_json(const OrderedJson& messages) {
  std::vector<ChatMessage> out;
  for (const OrderedJson& m : messages) {
    ChatMessage message;
    message.role = m["role"].get<std::string>();
    message.content = m.value("content", std::string());
    message.tool_call_id = m.value("tool_call_id", std::string());
    if (m.contains("tool_calls")) {
      for (const OrderedJson& call : m["tool_calls"]) {
        message.tool_calls.push_back(ToolCall{call.value("id", std::string()), call["function"]["name"].get<std::string>(),
                                              call["function"]["arguments"]});
      }
    }
    out.push_back(std::move(message));
  }
  return out;
}

inline ChatRenderOptions options_from_case(const OrderedJson& c) {
  ChatRenderOptions options;
  options.add_generation_prompt = c.value("add_generation_prompt", false);
  if (c.contains("tools")) options.tools = c["tools"];
  options.bos_token = c.value("bos_token", std::string("<|begin_of_text|>"));
  options.eos_token = c.value("eos_token", std::string("<|eot_id|>"));
  options.date_string = c.value("date_string", std::string());
  if (c.contains("extra_context")) options.extra_context = c["extra_context"];
  return options;
}

}  // namespace llm::chat::testing
